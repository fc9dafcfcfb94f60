//! `hub demo` on a small catalogue against the real broker and ClickHouse stand-in, with its
//! own topic prefix, consumer group and database: the report it prints is checked against
//! the simulator's own counts and against ClickHouse, and a re-run continues the market.

use std::collections::BTreeSet;

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

fn params() -> DemoParams {
    DemoParams {
        references: 50,
        events: None,
        // Above the default so that a small run still corrupts records of many reasons.
        corrupt_rate: 0.03,
        seed: 11,
        catalogue_seed: 42,
        top: 20,
    }
}

async fn run(config: &Config) -> Result<DemoReport> {
    demo::run(config, &params(), std::future::pending(), |progress| {
        eprintln!("demo: {progress}");
    })
    .await
    .context("the demo run")
}

#[derive(Debug, Row, Deserialize)]
struct Pair {
    gtin: String,
    channel: String,
}

/// The report's claims, checked against the simulator's counts and against ClickHouse.
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
            ["source", "list", "reprice"].contains(&score.action.as_str()),
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

    let emitted = &report.emitted;
    ensure!(
        emitted.corrupt_total() > 0,
        "the simulation corrupted nothing"
    );
    for reason in &findings.quarantine {
        ensure!(
            reason.quarantined == emitted.corrupt_for(&reason.reason)
                && reason.corrupted == reason.quarantined,
            "{}: {} corrupted by the simulator, {} quarantined",
            reason.reason,
            emitted.corrupt_for(&reason.reason),
            reason.quarantined
        );
    }
    let reported: BTreeSet<&str> = findings
        .quarantine
        .iter()
        .map(|reason| reason.reason.as_str())
        .collect();
    let corrupted: BTreeSet<&str> = emitted.corrupt.keys().copied().collect();
    ensure!(
        reported == corrupted,
        "reasons reported {reported:?}, corrupted {corrupted:?}"
    );

    // Straight from ClickHouse rather than from the report: every (gtin, channel) that got
    // a good offer has score rows.
    let scored: BTreeSet<(String, String)> = client
        .query("SELECT DISTINCT gtin, channel FROM scores")
        .fetch_all::<Pair>()
        .await?
        .into_iter()
        .map(|pair| (pair.gtin, pair.channel))
        .collect();
    ensure!(!emitted.offer_pairs.is_empty(), "no offer was published");
    for (gtin, channel) in &emitted.offer_pairs {
        ensure!(
            scored.contains(&(gtin.clone(), channel.key().to_owned())),
            "no score row for {gtin} on {channel:?}"
        );
    }
    ensure!(
        findings.unscored_offer_pairs.is_empty()
            && findings.offer_pairs == emitted.offer_pairs.len(),
        "the report says {} of {} offered pairs are unscored",
        findings.unscored_offer_pairs.len(),
        findings.offer_pairs
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
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_demo_reports_what_it_published_and_a_rerun_continues_the_market() -> Result<()> {
    let config = test_config();
    let client = hub::wiring::clickhouse(&config).client();

    let first = run(&config).await?;
    check(&first, &client).await.context("first run")?;

    let second = run(&config).await?;
    ensure!(
        second.market_started_at > first.market_ended_at,
        "the re-run's market starts at {}, before the first run ended at {}",
        second.market_started_at,
        first.market_ended_at
    );
    check(&second, &client).await.context("second run")?;
    // The same catalogue updated: every priority of the re-run is a newer version than the
    // first run could have written for it.
    for priority in &second.findings.top_priorities {
        ensure!(
            priority.score.scored_at > first.market_ended_at,
            "{} on {} was not re-scored by the second run",
            priority.score.gtin,
            priority.score.channel
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
