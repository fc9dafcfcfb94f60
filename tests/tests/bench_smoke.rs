//! `hub bench` on a tiny volume against the real broker: its reports must agree with what
//! was published and be internally consistent. No timing is asserted: figures are the
//! bench's output, not a test's verdict.

use std::future::pending;
use std::time::Duration;

use anyhow::{Result, bail, ensure};
use hub::bench::{self, BenchError, BenchParams, Cleanup, Measurement, Mode, Percentiles};
use hub::config::Config;
use hub_integration_tests::{local_broker_config, unique_name};
use rdkafka::consumer::{BaseConsumer, Consumer};

fn test_config() -> Config {
    local_broker_config("bench", 3)
}

fn params(mode: Mode) -> BenchParams {
    BenchParams {
        topic_prefix: unique_name("bench"),
        references: 30,
        seed: 5,
        // Above the default so that a tiny run still quarantines records.
        corrupt_rate: 0.03,
        keep_topics: false,
        mode,
    }
}

async fn run(config: &Config, params: &BenchParams) -> Result<bench::BenchReport, BenchError> {
    bench::run(config, params, pending(), |progress| {
        eprintln!("bench: {progress}");
    })
    .await
}

/// The topics on the broker whose name starts with `<prefix>.`.
fn topics_of(config: &Config, prefix: &str) -> Result<Vec<String>> {
    let client: BaseConsumer = hub::kafka::base_client_config(&config.kafka).create()?;
    let metadata = client.fetch_metadata(None, Duration::from_secs(10))?;
    Ok(metadata
        .topics()
        .iter()
        .map(|topic| topic.name().to_owned())
        .filter(|name| name.starts_with(&format!("{prefix}.")))
        .collect())
}

/// The contract topics of a run, the processor's changelog and its scoring control topic.
fn run_topic_count(params: &BenchParams) -> Result<usize> {
    Ok(hub_schemas::TopicNames::new(&params.topic_prefix)?
        .specs()
        .len()
        + 2)
}

fn check_rate(what: &str, rate: Option<f64>) -> Result<()> {
    match rate {
        Some(rate) if rate.is_finite() && rate > 0.0 => Ok(()),
        other => bail!("{what} is {other:?}: expected a finite positive rate"),
    }
}

fn check_percentiles(what: &str, percentiles: Option<Percentiles>, samples: u64) -> Result<()> {
    let Some(p) = percentiles else {
        bail!("{what}: no percentiles although {samples} scores were read");
    };
    ensure!(
        p.samples as u64 == samples,
        "{what}: {} samples for {samples} scores",
        p.samples
    );
    ensure!(
        p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.max,
        "{what}: percentiles out of order: {p:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_counts_every_published_record_and_removes_its_topics() -> Result<()> {
    let config = test_config();
    let params = params(Mode::Throughput { records: 600 });
    let report = run(&config, &params).await?;
    println!("{report}");
    let Measurement::Throughput(throughput) = &report.measurement else {
        bail!("a throughput run reported {:?}", report.measurement);
    };
    ensure!(
        throughput.published == 600,
        "published {}",
        throughput.published
    );
    ensure!(
        throughput.processed == throughput.published,
        "the processor committed {} records of {} published",
        throughput.processed,
        throughput.published
    );
    // 30 references: the catalogue and its initial sync fit in 600 records, and their
    // offers are scored.
    ensure!(throughput.scores > 0, "no score written");
    ensure!(
        throughput.quarantined > 0 && throughput.quarantined < throughput.published,
        "{} quarantined of {} published at a 3% corrupt rate",
        throughput.quarantined,
        throughput.published
    );
    check_rate("records/s", throughput.records_per_second())?;
    check_rate("scores/s", throughput.scores_per_second())?;
    ensure!(
        report.cleanup != Cleanup::Kept,
        "topics kept without --keep-topics"
    );
    if let Cleanup::Removed(removed) = report.cleanup {
        ensure!(
            removed == run_topic_count(&params)?,
            "{removed} topics removed"
        );
        let left = topics_of(&config, &params.topic_prefix)?;
        ensure!(left.is_empty(), "topics left after removal: {left:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_matches_every_score_of_the_timed_phase_with_its_input() -> Result<()> {
    let config = test_config();
    let params = params(Mode::Latency {
        rate: 200,
        duration: Duration::from_secs(2),
    });
    let report = run(&config, &params).await?;
    println!("{report}");
    let Measurement::Latency(latency) = &report.measurement else {
        bail!("a latency run reported {:?}", report.measurement);
    };
    ensure!(latency.warm_up_records > 0, "no warm-up");
    ensure!(latency.published == 400, "published {}", latency.published);
    ensure!(
        latency.processed == latency.published,
        "the processor committed {} records of {} published in the timed phase",
        latency.processed,
        latency.published
    );
    ensure!(latency.scores > 0, "no score in the timed phase");
    ensure!(
        latency.scores_read == latency.scores,
        "{} scores read of {} written",
        latency.scores_read,
        latency.scores
    );
    ensure!(
        latency.scored_inputs > 0
            && latency.scored_inputs <= latency.scores
            && latency.scored_inputs + latency.quarantined <= latency.published,
        "{} inputs scored, {} quarantined, of {} published, for {} scores",
        latency.scored_inputs,
        latency.quarantined,
        latency.published,
        latency.scores
    );
    check_rate("achieved rate", latency.achieved_rate)?;
    check_percentiles("to score written", latency.to_score_written, latency.scores)?;
    check_percentiles("to score read", latency.to_score_read, latency.scores)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_already_used_is_refused_and_its_topics_left_alone() -> Result<()> {
    let config = test_config();
    let mut params = params(Mode::Throughput { records: 100 });
    params.keep_topics = true;
    let first = run(&config, &params).await?;
    ensure!(
        first.cleanup == Cleanup::Kept,
        "cleanup {:?}",
        first.cleanup
    );
    let kept = topics_of(&config, &params.topic_prefix)?;
    ensure!(
        kept.len() == run_topic_count(&params)?,
        "topics kept: {kept:?}"
    );

    params.keep_topics = false;
    match run(&config, &params).await {
        Err(BenchError::TopicsExist { existing, .. }) => {
            ensure!(
                existing.len() == run_topic_count(&params)?,
                "reported as existing: {existing:?}"
            )
        }
        other => bail!("a second run on the same prefix gave {other:?}"),
    }
    let after = topics_of(&config, &params.topic_prefix)?;
    ensure!(
        after.len() == run_topic_count(&params)?,
        "the refused run touched the topics: {after:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_reported_with_the_command_that_starts_it() -> Result<()> {
    let mut config = Config::default();
    // Port 1 on loopback: nothing listens there.
    config.kafka.bootstrap_servers = "127.0.0.1:1".into();
    let error = match run(&config, &params(Mode::Throughput { records: 10 })).await {
        Err(error) => error,
        Ok(report) => bail!("a run without a broker reported {report:?}"),
    };
    ensure!(
        matches!(error, BenchError::BrokerUnreachable { .. }),
        "unexpected error: {error}"
    );
    ensure!(
        error.to_string().contains("scripts/services up"),
        "the error does not say how to start the broker: {error}"
    );
    Ok(())
}
