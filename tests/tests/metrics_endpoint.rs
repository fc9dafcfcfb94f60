//! `hub process` serves its metrics on `/metrics` in the Prometheus text format, named after
//! Vector's conventions: every family is one of `hub::telemetry::names`, counters and only
//! counters end in `_total`, durations are histograms in `_seconds`, and no label carries a
//! GTIN (labels stay bounded). The local Prometheus scrapes it where its configuration says.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use hub::telemetry::names;
use hub_integration_tests::local_broker_config;
use hub_integration_tests::market::{publish, simulate, use_catalogue_fx_rates};
use hub_integration_tests::processes::{spawn_processor, spawn_processor_serving_metrics_on};

const WAIT: Duration = Duration::from_secs(120);

/// Labels of one sample line: `name{a="x",b="y"} value`.
fn label_names(sample: &str) -> Vec<String> {
    let Some((_, labels)) = sample.split_once('{') else {
        return Vec::new();
    };
    let labels = labels.rsplit_once('}').map_or(labels, |(inside, _)| inside);
    labels
        .split("\",")
        .filter_map(|pair| pair.split_once('=').map(|(name, _)| name.trim().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_processor_metrics_follow_vector_naming_conventions() -> Result<()> {
    let mut config = local_broker_config("metrics", 2);
    let (events, simulation) = simulate(20, 400, 0.05)?;
    use_catalogue_fx_rates(&mut config, &simulation);
    publish(&config, &events).await?;
    let log = tempfile::NamedTempFile::new()?;
    let processor = spawn_processor(&config, log.path())?;
    processor
        .wait_for_progress(events.len() as u64, WAIT)
        .await?;
    let text = reqwest::get(processor.metrics_url())
        .await?
        .error_for_status()?
        .text()
        .await?;
    processor.stop_gracefully()?;

    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut labels: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(declaration) = line.strip_prefix("# TYPE ") {
            let (name, kind) = declaration
                .split_once(' ')
                .with_context(|| format!("a TYPE line without a type: {line}"))?;
            types.insert(name.to_owned(), kind.to_owned());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    name.strip_suffix(suffix)
                        .filter(|base| types.get(*base).is_some_and(|kind| kind == "histogram"))
                })
                .unwrap_or(name);
            labels
                .entry(family.to_owned())
                .or_default()
                .extend(label_names(line).into_iter().filter(|label| label != "le"));
        }
    }

    let known: BTreeSet<&str> = names::ALL.into_iter().collect();
    let mut problems = Vec::new();
    for (name, kind) in &types {
        if !known.contains(name.as_str()) {
            problems.push(format!("{name} is not in hub::telemetry::names"));
        }
        if (kind == "counter") != name.ends_with("_total") {
            problems.push(format!("{name} is a {kind}: only counters end in _total"));
        }
        if name.ends_with("_seconds") && kind != "histogram" && kind != "gauge" {
            problems.push(format!("{name} is a duration but a {kind}"));
        }
    }
    for (family, family_labels) in &labels {
        if family_labels.iter().any(|label| label.contains("gtin")) {
            problems.push(format!("{family} has a GTIN label: {family_labels:?}"));
        }
    }
    for expected in [
        names::RECEIVED_EVENTS,
        names::SENT_EVENTS,
        names::QUARANTINED_RECORDS,
        names::SCORES_EMITTED,
        names::STATE_REFERENCES,
        names::SIGNAL_TO_SCORE_LATENCY,
    ] {
        if !types.contains_key(expected) {
            problems.push(format!(
                "{expected} is not exposed after {} records",
                events.len()
            ));
        }
    }
    if types
        .get(names::SIGNAL_TO_SCORE_LATENCY)
        .map(String::as_str)
        != Some("histogram")
    {
        problems.push(format!(
            "{} must be a histogram",
            names::SIGNAL_TO_SCORE_LATENCY
        ));
    }
    ensure!(problems.is_empty(), "{problems:#?}\n/metrics:\n{text}");
    ensure!(
        labels[names::QUARANTINED_RECORDS] == BTreeSet::from(["reason".into(), "source".into()]),
        "quarantine labels: {:?}",
        labels[names::QUARANTINED_RECORDS]
    );
    Ok(())
}

/// The local Prometheus (`scripts/services`, docker/prometheus/prometheus.local.yml) scrapes
/// the hub where its configuration says: a processor serving metrics there is seen `up`, and
/// its records counted, through Prometheus' own query API.
#[tokio::test(flavor = "multi_thread")]
async fn the_local_prometheus_scrapes_the_hub() -> Result<()> {
    let prometheus =
        std::env::var("HUB_PROMETHEUS_URL").unwrap_or_else(|_| "http://127.0.0.1:9090".to_owned());
    let http = reqwest::Client::new();
    let targets: serde_json::Value = http
        .get(format!("{prometheus}/api/v1/targets?state=active"))
        .send()
        .await
        .with_context(|| {
            format!("Prometheus does not answer on {prometheus}: run `scripts/services up`")
        })?
        .json()
        .await?;
    let hub_target = targets["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|target| target["labels"]["job"] == "hub")
        .with_context(|| format!("Prometheus has no hub job: {targets}"))?;
    let listen = hub_target["labels"]["instance"]
        .as_str()
        .context("the hub target has no instance")?
        .to_owned();

    let mut config = local_broker_config("scraped", 1);
    let (events, simulation) = simulate(5, 100, 0.0)?;
    use_catalogue_fx_rates(&mut config, &simulation);
    publish(&config, &events).await?;
    let log = tempfile::NamedTempFile::new()?;
    let processor = spawn_processor_serving_metrics_on(&config, log.path(), &listen)?;
    let received = format!(
        "sum(hub_component_received_events_total{{job=\"hub\",instance=\"{listen}\"}}) \
         and on() up{{job=\"hub\",instance=\"{listen}\"}} == 1"
    );
    // Prometheus scrapes every 15 s: three intervals at most.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(50);
    let seen = loop {
        let answer: serde_json::Value = http
            .get(format!("{prometheus}/api/v1/query"))
            .query(&[("query", received.as_str())])
            .send()
            .await?
            .json()
            .await?;
        let value = answer["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|value| value.parse::<f64>().ok());
        if value.is_some_and(|value| value >= events.len() as f64) {
            break value;
        }
        if tokio::time::Instant::now() > deadline {
            break value;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    processor.stop_gracefully()?;
    ensure!(
        seen.is_some_and(|value| value >= events.len() as f64),
        "Prometheus did not see the hub on {listen} count its {} records (last answer: {seen:?}); \
         processor log: {}",
        events.len(),
        std::fs::read_to_string(log.path()).unwrap_or_default()
    );
    Ok(())
}
