//! The processor's durability, with `hub process` as real child processes on the real
//! broker: killed with SIGKILL at several points it ends with exactly the scores of an
//! uninterrupted run (the core's replay), and ClickHouse, fed by the sink meanwhile, holds
//! every score version of the history topic once; and two processors in one group split
//! the partitions, and when one stops the other takes its partitions over with their state.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, ensure};
use hub::config::Config;
use hub_integration_tests::market::{
    expected_scores, publish, read_all, simulate, use_catalogue_fx_rates, wait_for_scores,
};
use hub_integration_tests::processes::{assigned_partitions, restored_partitions, spawn_processor};
use hub_integration_tests::{clickhouse_url, local_broker_config, unique_name};
use hub_schemas::records::ReferenceScore;
use hub_schemas::{Decoder, Framing, Topic, TopicNames};

const REFERENCES: usize = 60;
const EVENTS: usize = 4_000;
const WAIT: Duration = Duration::from_secs(240);

fn test_config(name: &str) -> Config {
    let mut config = local_broker_config(name, 4);
    // Small batches: many commits, so a kill lands between commits as well as inside one.
    config.processor.max_batch_records = 64;
    config.processor.linger_ms = 5;
    config
}

fn log_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{}.log", unique_name(name)))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_processor_killed_at_several_points_ends_with_the_uninterrupted_scores() -> Result<()> {
    let mut config = test_config("crash");
    let (events, simulation) = simulate(REFERENCES, EVENTS, 0.01)?;
    use_catalogue_fx_rates(&mut config, &simulation);
    publish(&config, &events).await?;
    let expected = expected_scores(&events, &config.scoring)?;
    ensure!(!expected.is_empty(), "the simulation must produce scores");
    let decoder = Decoder::new(
        &Framing::SingleObject,
        TopicNames::new(&config.kafka.topic_prefix)?,
    );

    config.clickhouse.url = clickhouse_url();
    config.clickhouse.database = unique_name("hub_crash");
    let clickhouse = hub::wiring::clickhouse(&config).client();
    hub_sink_clickhouse::migrate(&clickhouse, &config.clickhouse.database).await?;
    let (stop_sink, sink_stopped) = tokio::sync::oneshot::channel::<()>();
    let sink_config = config.clone();
    let sink = tokio::spawn(async move {
        hub::sink::run(&sink_config, async {
            sink_stopped.await.ok();
        })
        .await
    });

    // Each run resumes from the last commit and is killed after completing a share of the
    // input, at a different point of its batches every time.
    for kill_after in [700, 900, 1_100] {
        let processor = spawn_processor(&config, &log_path("crash"))?;
        processor.wait_for_progress(kill_after, WAIT).await?;
        processor.kill()?;
    }
    let processor = spawn_processor(&config, &log_path("crash-final"))?;
    wait_for_scores(&config, &decoder, &expected, WAIT).await?;
    processor.stop_gracefully()?;

    // A version emitted twice (a replayed batch) is the same score both times, so keeping
    // one per version loses nothing.
    let history: Vec<ReferenceScore> =
        read_all(&config, &decoder, Topic::ScoresHistory, WAIT).await?;
    let mut versions: BTreeMap<(String, String, i64), &ReferenceScore> = BTreeMap::new();
    for score in &history {
        let key = (score.gtin.clone(), score.channel.to_string(), score.version);
        if let Some(earlier) = versions.insert(key.clone(), score) {
            ensure!(
                earlier == score,
                "{key:?} was emitted twice with different contents"
            );
        }
    }
    let stored_versions = "SELECT gtin, channel, version FROM score_versions FINAL \
                           ORDER BY gtin, channel, version";
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let stored: Vec<(String, String, i64)> =
            clickhouse.query(stored_versions).fetch_all().await?;
        if stored.iter().eq(versions.keys()) {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "ClickHouse holds {} score versions, the history topic {} ({} records)",
            stored.len(),
            versions.len(),
            history.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Merged, the version table has one row per version: no duplicate survives.
    clickhouse
        .query("OPTIMIZE TABLE score_versions FINAL")
        .execute()
        .await?;
    let (rows, distinct): (u64, u64) = clickhouse
        .query("SELECT count(), uniqExact(gtin, channel, version) FROM score_versions")
        .fetch_one()
        .await?;
    ensure!(
        rows == distinct && distinct == versions.len() as u64,
        "score_versions: {rows} rows for {distinct} versions, {} on the topic",
        versions.len()
    );
    let current: Vec<(String, String, i64)> = clickhouse
        .query("SELECT gtin, channel, version FROM scores_current FINAL ORDER BY gtin, channel")
        .fetch_all()
        .await?;
    let expected_current: Vec<(String, String, i64)> = expected
        .iter()
        .map(|((gtin, channel), score)| (gtin.clone(), channel.clone(), score.version))
        .collect();
    ensure!(
        current == expected_current,
        "scores_current in ClickHouse differs from the uninterrupted run's final versions"
    );
    stop_sink.send(()).ok();
    sink.await??;
    clickhouse
        .query(&format!(
            "DROP DATABASE IF EXISTS {}",
            config.clickhouse.database
        ))
        .execute()
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_processor_takes_over_the_partitions_and_state_of_one_that_stops() -> Result<()> {
    let mut config = test_config("pair");
    let (events, simulation) = simulate(REFERENCES, EVENTS, 0.01)?;
    use_catalogue_fx_rates(&mut config, &simulation);
    let (first_half, second_half) = events.split_at(events.len() / 2);
    // The topics must exist before the processors subscribe to them.
    publish(&config, &[]).await?;
    let decoder = Decoder::new(
        &Framing::SingleObject,
        TopicNames::new(&config.kafka.topic_prefix)?,
    );

    let (first_log, second_log) = (log_path("pair-a"), log_path("pair-b"));
    let first = spawn_processor(&config, &first_log)?;
    let second = spawn_processor(&config, &second_log)?;
    // Publish once the group has settled with both members, so both get partitions.
    let deadline = tokio::time::Instant::now() + WAIT;
    while assigned_partitions(&first_log)?.is_empty()
        || assigned_partitions(&second_log)?.is_empty()
    {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the two processors were not both assigned partitions within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    publish(&config, first_half).await?;
    wait_for_scores(
        &config,
        &decoder,
        &expected_scores(first_half, &config.scoring)?,
        WAIT,
    )
    .await?;
    let (first_partitions, second_partitions) = (
        restored_partitions(&first_log)?,
        restored_partitions(&second_log)?,
    );
    ensure!(
        !first_partitions.is_empty() && !second_partitions.is_empty(),
        "both processors must own partitions: {first_partitions:?} / {second_partitions:?}"
    );
    first.stop_gracefully()?;

    publish(&config, second_half).await?;
    wait_for_scores(
        &config,
        &decoder,
        &expected_scores(&events, &config.scoring)?,
        WAIT,
    )
    .await?;
    let taken_over = restored_partitions(&second_log)?;
    for partition in 0..config.kafka.partitions as i64 {
        ensure!(
            taken_over.contains(&partition),
            "after the first processor stopped, the second must own partition {partition}: {taken_over:?}"
        );
    }
    second.stop_gracefully()
}
