//! `hub demo` on a small catalogue against the real broker and ClickHouse stand-in, with its
//! own topic prefix, consumer group and database: the connectors read the simulated APIs,
//! the report it prints is checked against the simulator's own counts and against
//! ClickHouse, and a re-run supersedes every score.

use std::collections::BTreeMap;

use anyhow::{Context, Result, ensure};
use clickhouse::Row;
use hub::config::Config;
use hub::demo::{self, DemoParams, DemoReport};
use hub_integration_tests::{clickhouse_url, kafka_bootstrap_servers, require_tcp, unique_name};
use rust_decimal::Decimal;
use serde::Deserialize;

fn test_config() -> Config {
    let bootstrap = kafka_bootstrap_servers();
    require_tcp(&bootstrap, "the Kafka broker");
    let clickhouse = clickhouse_url();
    require_tcp(
        clickhouse.trim_start_matches("http://"),
        "the ClickHouse stand-in",
    );
    let mut config = Config::default();
    config.kafka.bootstrap_servers = bootstrap;
    config.kafka.topic_prefix = unique_name("demo");
    config.kafka.group_id = unique_name("demo_group");
    config.kafka.partitions = 3;
    config.clickhouse.url = clickhouse;
    config.clickhouse.database = unique_name("hub_demo");
    config.processor.linger_ms = 10;
    config.sink.batch_max_delay_ms = 300;
    config
}

fn params(malformed_rate: f64) -> DemoParams {
    DemoParams {
        references: 100,
        changes_per_reference: 2,
        malformed_rate,
        seed: 11,
        catalogue_seed: 42,
        top: 20,
    }
}

async fn run(config: &Config, params: &DemoParams) -> Result<DemoReport> {
    demo::run(config, params, std::future::pending(), |progress| {
        eprintln!("demo: {progress}");
    })
    .await
    .context("the demo run")
}

#[derive(Debug, Row, Deserialize)]
struct PairVersion {
    gtin: String,
    channel: String,
    version: i64,
}

/// The current score version of every (gtin, channel) in ClickHouse.
async fn current_versions(client: &clickhouse::Client) -> Result<BTreeMap<(String, String), i64>> {
    Ok(client
        .query("SELECT gtin, channel, version FROM scores_current FINAL")
        .fetch_all::<PairVersion>()
        .await?
        .into_iter()
        .map(|row| ((row.gtin, row.channel), row.version))
        .collect())
}

/// The report's claims, checked against the simulator's counts and against ClickHouse:
/// every source's connector refused exactly what the simulator corrupted through it, one
/// record each, and the quality gate refused nothing served sound.
async fn check(report: &DemoReport, client: &clickhouse::Client) -> Result<()> {
    let findings = &report.findings;
    let priorities = &findings.top_priorities;
    ensure!(!priorities.is_empty(), "no top priority in the report");
    ensure!(priorities.len() <= 20, "more priorities than asked for");
    for pair in priorities.windows(2) {
        ensure!(
            pair[0].score.score >= pair[1].score.score,
            "priorities not sorted by score: {} before {}",
            pair[0].score.score,
            pair[1].score.score
        );
    }
    for priority in priorities {
        let score = &priority.score;
        ensure!(
            ["source", "list", "reprice"].contains(&&*score.action),
            "a priority with action {}",
            score.action
        );
        ensure!(!score.action_rule.is_empty(), "a priority without its rule");
        ensure!(
            !priority.product.title.is_empty(),
            "priority {} without its product",
            score.gtin
        );
        let explained: Decimal = priority
            .explanation
            .iter()
            .map(|factor| factor.contribution)
            .sum();
        ensure!(
            !priority.explanation.is_empty() && explained == score.score,
            "the factors of {} on {} add up to {explained}, not its score {}",
            score.gtin,
            score.channel,
            score.score
        );
    }

    for source in &findings.quarantine_by_source {
        ensure!(
            source.matches() && source.refused_by_gate == 0,
            "{}: the simulator served {} malformed elements and {} placeholder offers, its connector refused {} records and the quality gate {}",
            source.api,
            source.malformed_served,
            source.placeholders_served,
            source.refused_by_connector,
            source.refused_by_gate
        );
    }
    let quarantined: u64 = findings
        .quarantine
        .iter()
        .map(|reason| reason.records)
        .sum();
    let by_source: u64 = findings
        .quarantine_by_source
        .iter()
        .map(|source| source.quarantined())
        .sum();
    ensure!(
        quarantined == by_source,
        "{quarantined} quarantined by reason, {by_source} by source"
    );

    let best = &findings.best_channels;
    let references_with_best: u64 = best.per_channel.iter().map(|(_, count)| count).sum();
    ensure!(
        references_with_best > 0 && !best.examples.is_empty(),
        "no best channel found"
    );
    let printed = report.to_string();
    for query in &findings.queries {
        ensure!(
            printed.contains(&query.sql),
            "query \"{}\" is not printed",
            query.title
        );
    }
    ensure!(
        printed.contains("ARRAY JOIN factors") && printed.contains("FROM scores_current FINAL"),
        "the printed SQL lacks the explanation or the current scores query"
    );
    let current = current_versions(client).await?;
    ensure!(findings.offer_pairs > 0, "the connectors read no offer");
    for (gtin, channel) in &findings.unscored_offer_pairs {
        ensure!(
            !current.contains_key(&(gtin.clone(), channel.clone())),
            "the report says {gtin} on {channel} is unscored, ClickHouse has its score"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_demo_reads_the_simulated_apis_and_a_rerun_supersedes_it() -> Result<()> {
    let config = test_config();
    let client = hub::wiring::clickhouse(&config).client();

    // Clean payloads: every offered (reference, channel) is scored, and nothing is
    // quarantined but the marketplaces' placeholder offers the simulator served.
    let first = run(&config, &params(0.0)).await?;
    check(&first, &client).await.context("first run")?;
    ensure!(
        first.findings.unscored_offer_pairs.is_empty(),
        "{} of {} offered pairs are unscored, e.g. {:?}",
        first.findings.unscored_offer_pairs.len(),
        first.findings.offer_pairs,
        first.findings.unscored_offer_pairs.first()
    );
    let after_first = current_versions(&client).await?;

    // Malformed payloads, quarantined; the re-run supersedes every score.
    let second = run(&config, &params(0.03)).await?;
    ensure!(
        second.market_started_at > first.market_ended_at,
        "the re-run's market starts at {}, before the first run ended at {}",
        second.market_started_at,
        first.market_ended_at
    );
    // Every malformed element and placeholder offer is quarantined, one for one.
    check(&second, &client).await.context("second run")?;
    let (corrupted, quarantined) = second.findings.quarantine_by_source.iter().fold(
        (0, 0),
        |(corrupted, quarantined), source| {
            (
                corrupted + source.corrupted(),
                quarantined + source.quarantined(),
            )
        },
    );
    ensure!(
        corrupted > 0 && quarantined > 0,
        "the simulator corrupted {corrupted} elements, {quarantined} records were quarantined"
    );
    let after_second = current_versions(&client).await?;
    for (pair, version) in &after_first {
        let Some(newer) = after_second.get(pair) else {
            anyhow::bail!("{pair:?} lost its current score");
        };
        ensure!(
            newer > version,
            "{pair:?} was not superseded by the re-run: version {version} then {newer}"
        );
    }

    client
        .clone()
        .with_database("default")
        .query(&format!(
            "DROP DATABASE IF EXISTS {}",
            config.clickhouse.database
        ))
        .execute()
        .await?;
    Ok(())
}
