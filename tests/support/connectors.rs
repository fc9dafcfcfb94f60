//! The connectors against the in-process simulator over real HTTP, publishing to the real
//! broker: start a simulator on an ephemeral loopback port, run connectors as `hub connect`
//! does, read what reached the topics, and read the simulator's own request counters.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use hub::config::Config;
use hub::connect;
use hub::connect::health::ConnectorHealth;
pub use hub::demo::RunningConnectors;
use hub::kafka;
use hub_connectors::connector::Connector;
use hub_market_sim::CatalogueParams;
use hub_market_sim::http::{
    FaultConfig, MarketClock, RunningSimulator, SimServerConfig, SimStats, Simulator,
};

use crate::{kafka_bootstrap_servers, require_tcp, unique_name};

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// A configuration on the local broker with topics and groups of its own, connectors that
/// report their health often and, once caught up, wait `poll_interval` before a new sweep.
pub fn broker_config(base: &str, poll_interval: Duration) -> Config {
    let bootstrap = kafka_bootstrap_servers();
    require_tcp(&bootstrap, "the Kafka broker");
    let mut config = Config::default();
    config.kafka.bootstrap_servers = bootstrap;
    config.kafka.topic_prefix = unique_name(base);
    config.kafka.group_id = unique_name(base);
    config.kafka.partitions = 3;
    config.processor.linger_ms = 10;
    config.connect.poll_interval_ms = poll_interval.as_millis() as u64;
    config.connect.health_interval_ms = 200;
    config
}

/// A simulator of `references` over today's market (so price lists are valid now), still
/// unless asked to move, serving on a free loopback port.
pub async fn start_simulator(references: usize, faults: FaultConfig) -> Result<RunningSimulator> {
    let simulator = Simulator::new(SimServerConfig {
        catalogue: CatalogueParams {
            references,
            as_of: now_millis(),
            ..CatalogueParams::default()
        },
        faults,
        ..SimServerConfig::default()
    })?;
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("a socket address");
    Ok(simulator.start(loopback, MarketClock::OnRequest).await?)
}

/// The simulator's counters, read over HTTP as any client would.
pub async fn simulator_stats(simulator: &RunningSimulator) -> Result<SimStats> {
    let url = format!("{}/_sim/stats", simulator.base_url());
    let stats = reqwest::get(&url)
        .await
        .with_context(|| format!("GET {url}"))?
        .error_for_status()?
        .json()
        .await?;
    Ok(stats)
}

/// Connectors running as `hub connect` runs them, until [`RunningConnectors::stop`].
pub fn run_connectors(config: &Config, connectors: Vec<Box<dyn Connector>>) -> RunningConnectors {
    RunningConnectors::start(config, connectors)
}

/// Creates the connectors' topics, as `hub topics ensure` does, so they can be read before
/// the connectors have started.
pub async fn ensure_connector_topics(config: &Config) -> Result<()> {
    let names = connect::topic_names(&config.kafka.topic_prefix);
    kafka::ensure_topics(
        &config.kafka,
        names.iter().map(|name| kafka::TopicPolicy {
            name,
            compacted: true,
        }),
    )
    .await?;
    Ok(())
}

/// The latest health report of every connector.
pub async fn health(config: &Config) -> Result<BTreeMap<String, ConnectorHealth>> {
    ensure_connector_topics(config).await?;
    let topic = connect::health_topic(&config.kafka.topic_prefix);
    Ok(connect::health::read_all(&config.kafka, &topic)
        .await?
        .into_iter()
        .map(|report| (report.connector.clone(), report))
        .collect())
}

/// Every saved cursor, `<connector>.<operation>` to its value.
pub async fn cursors(config: &Config) -> Result<BTreeMap<String, String>> {
    ensure_connector_topics(config).await?;
    let topic = connect::cursors_topic(&config.kafka.topic_prefix);
    Ok(connect::cursors::read_all(&config.kafka, &topic)
        .await?
        .into_iter()
        .map(|cursor| {
            (
                format!("{}.{}", cursor.connector, cursor.operation),
                cursor.value,
            )
        })
        .collect())
}

/// Polls `condition` every 100 ms until it holds or `wait` passes, then fails with
/// `explain` of the last value seen.
pub async fn eventually<T>(
    wait: Duration,
    mut probe: impl AsyncFnMut() -> Result<T>,
    condition: impl Fn(&T) -> bool,
    explain: impl Fn(&T) -> String,
) -> Result<T> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let value = probe().await?;
        if condition(&value) {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("waited {wait:?}: {}", explain(&value));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
