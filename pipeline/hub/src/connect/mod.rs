//! `hub connect`: runs connectors continuously and publishes what they yield. Each
//! connector polls its source (see `hub_connectors::connector` for the contract); every
//! element passes the quality gate and is published to its signal topic or to quarantine
//! ([`publish`]); cursors live in a compacted topic ([`cursors`]); health reports in
//! another ([`health`]), which `hub connectors status` reads.
//!
//! Shutdown: on the stop signal a connector finishes the poll in flight (a poll is never
//! cancelled: its page is acknowledged and its cursor saved, or neither), publishes a last
//! health report, and the producer is flushed.

pub mod cursors;
pub mod health;
pub mod publish;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use futures::future::join_all;
use hub_connectors::connector::Connector;
use hub_connectors::machinery::{BreakerState, ConnectorError, Disposition};
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;
use tokio::sync::watch;

use crate::config::{Config, ConnectConfig, KafkaConfig};
use crate::kafka::{self, KafkaAdapterError, TopicPolicy};
use crate::wiring::{self, WiringError};
use cursors::KafkaCursorStore;
use health::{ConnectorHealth, HealthPublisher};
use publish::{KafkaRecordSink, wall_clock_millis};

/// `<prefix>.connectors.cursors`: compacted, one record per connector and operation.
pub fn cursors_topic(prefix: &str) -> String {
    format!("{prefix}.connectors.cursors")
}

/// `<prefix>.connectors.health`: compacted, one record per connector.
pub fn health_topic(prefix: &str) -> String {
    format!("{prefix}.connectors.health")
}

/// The connectors' own topics, both compacted, for `hub topics ensure` and `hub connect`.
pub fn topic_names(prefix: &str) -> [String; 2] {
    [cursors_topic(prefix), health_topic(prefix)]
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Wiring(#[from] WiringError),
    #[error(transparent)]
    Topics(#[from] KafkaAdapterError),
    #[error("Kafka producer: {0}; check kafka.bootstrap_servers and kafka.client_properties")]
    Producer(KafkaError),
    #[error("reading {topic}: {detail}")]
    Read { topic: String, detail: String },
    #[error(
        "record {key} of {topic} is unreadable: {detail}; it was not written by this version of the hub, delete it or fix its writer"
    )]
    Unreadable {
        topic: String,
        key: String,
        detail: String,
    },
    #[error("connector stopped: {0}; fix the cause (credentials, configuration) and restart")]
    Stopped(Box<ConnectorError>),
    #[error(
        "flushing the producer at shutdown: {0}; records not acknowledged will be read again from the saved cursors"
    )]
    Flush(KafkaError),
}

/// Complete sweeps per connector name. A sweep is a connector's polls from its start, or
/// from the poll after its previous sweep, up to one that reports the source caught up:
/// everything the source held when the sweep began has been read and acknowledged.
pub type Sweeps = BTreeMap<String, u64>;

/// Runs `connectors` until `shutdown` resolves. Returns the first connector that had to stop
/// (credentials refused, invalid configuration), after stopping the others cleanly.
pub async fn run(
    config: &Config,
    connectors: Vec<Box<dyn Connector>>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ConnectError> {
    run_observed(
        config,
        connectors,
        shutdown,
        watch::channel(Sweeps::new()).0,
    )
    .await
}

/// [`run`], counting every connector's complete sweeps in `sweeps`, so a caller can tell
/// when the sources have been read to their end.
pub async fn run_observed(
    config: &Config,
    connectors: Vec<Box<dyn Connector>>,
    shutdown: impl Future<Output = ()>,
    sweeps: watch::Sender<Sweeps>,
) -> Result<(), ConnectError> {
    let topics = wiring::topic_names(config).map_err(WiringError::from)?;
    let own_topics = topic_names(topics.prefix());
    let specs = topics.specs();
    kafka::ensure_topics(
        &config.kafka,
        specs
            .iter()
            .map(TopicPolicy::from)
            .chain(own_topics.iter().map(|name| TopicPolicy {
                name,
                compacted: true,
            })),
    )
    .await?;
    let (encoder, _) = wiring::codec(config).await?;
    let producer: FutureProducer = kafka::producer_config(&config.kafka)
        .create()
        .map_err(ConnectError::Producer)?;
    let cursors = KafkaCursorStore::open(&config.kafka, &own_topics[0], producer.clone()).await?;
    let health = HealthPublisher::new(producer.clone(), &own_topics[1]);
    let (stop, stopping) = watch::channel(false);
    let names: Vec<String> = connectors.iter().map(|c| c.name().to_owned()).collect();
    tracing::info!(connectors = ?names, cursors = %own_topics[0], "connectors started");
    let runs = connectors.into_iter().map(|connector| {
        let sink = KafkaRecordSink::new(
            connector.name(),
            producer.clone(),
            encoder.clone(),
            topics.clone(),
            config.gate.clone(),
        );
        let runner = Runner {
            connector,
            cursors: cursors.clone(),
            sink,
            health: health.clone(),
            settings: config.connect.clone(),
            stopping: stopping.clone(),
            sweeps: sweeps.clone(),
        };
        let stop = stop.clone();
        async move {
            let result = runner.run().await;
            if result.is_err() {
                // One connector that cannot go on stops the command: an operator must act.
                let _ = stop.send(true);
            }
            result
        }
    });
    let all = join_all(runs);
    tokio::pin!(all);
    tokio::pin!(shutdown);
    let results = tokio::select! {
        results = &mut all => results,
        () = &mut shutdown => {
            let _ = stop.send(true);
            all.await
        }
    };
    // Pages were acknowledged before their cursors moved; what may remain is the last
    // health reports.
    tokio::task::spawn_blocking(move || {
        rdkafka::producer::Producer::flush(&producer, Duration::from_secs(30))
    })
    .await
    .map_err(|_| ConnectError::Flush(KafkaError::Canceled))?
    .map_err(ConnectError::Flush)?;
    tracing::info!("connectors stopped: pages acknowledged, cursors saved");
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(())
}

struct Runner {
    connector: Box<dyn Connector>,
    cursors: KafkaCursorStore,
    sink: KafkaRecordSink,
    health: HealthPublisher,
    settings: ConnectConfig,
    stopping: watch::Receiver<bool>,
    sweeps: watch::Sender<Sweeps>,
}

impl Runner {
    async fn run(mut self) -> Result<(), ConnectError> {
        let name = self.connector.name().to_owned();
        let poll_interval = Duration::from_millis(self.settings.poll_interval_ms);
        let health_interval = Duration::from_millis(self.settings.health_interval_ms);
        let mut report = ConnectorHealth {
            connector: name.clone(),
            breaker: self.connector.circuit().as_str().to_owned(),
            running: true,
            updated_at: wall_clock_millis(),
            last_success_at: None,
            last_error: None,
            last_error_at: None,
            signals: 0,
            rejected: 0,
        };
        self.health.publish(&report).await;
        let mut reported_at = tokio::time::Instant::now();
        let mut reported_breaker = self.connector.circuit();
        let mut failures_in_a_row: u32 = 0;
        let outcome = loop {
            if *self.stopping.borrow() {
                break Ok(());
            }
            let polled = self.connector.poll(&mut self.cursors, &mut self.sink).await;
            let wait = match polled {
                Ok(page) => {
                    failures_in_a_row = 0;
                    if page.caught_up {
                        self.sweeps.send_modify(|sweeps| {
                            *sweeps.entry(name.clone()).or_default() += 1;
                        });
                    }
                    report.last_success_at = Some(wall_clock_millis());
                    report.signals += page.signals as u64;
                    report.rejected += page.rejected as u64;
                    page.caught_up.then_some(poll_interval)
                }
                Err(error) => {
                    failures_in_a_row += 1;
                    report.last_error = Some(error.to_string());
                    report.last_error_at = Some(wall_clock_millis());
                    match error.disposition() {
                        Disposition::Stop => {
                            tracing::error!(connector = %name, %error, "connector stopped");
                            break Err(ConnectError::Stopped(Box::new(error)));
                        }
                        Disposition::RetryLater { after } => {
                            tracing::warn!(connector = %name, %error, "poll failed; polling again later");
                            Some(
                                after.unwrap_or_else(|| {
                                    retry_delay(failures_in_a_row, poll_interval)
                                }),
                            )
                        }
                        Disposition::Quarantine => {
                            // The contract hands unreadable elements over as rejected; an
                            // error that asks for quarantine has no page to quarantine.
                            tracing::error!(connector = %name, %error, "poll refused an element without handing it over; polling again after the poll interval");
                            Some(poll_interval)
                        }
                    }
                }
            };
            let breaker = self.connector.circuit();
            // Also before every wait: the report then says where the connector rests.
            if breaker != reported_breaker
                || reported_at.elapsed() >= health_interval
                || wait.is_some()
            {
                publish_health(&self.health, &mut report, breaker).await;
                reported_breaker = breaker;
                reported_at = tokio::time::Instant::now();
            }
            if let Some(wait) = wait
                && !self.pause(wait).await
            {
                break Ok(());
            }
        };
        report.running = false;
        let breaker = self.connector.circuit();
        publish_health(&self.health, &mut report, breaker).await;
        outcome
    }

    /// Waits `duration`; false when the stop signal came first.
    async fn pause(&mut self, duration: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            _ = self.stopping.wait_for(|stop| *stop) => false,
        }
    }
}

/// How long to wait after the `failures`-th failed poll in a row when the source named no
/// time: 1 s, doubling, at most the poll interval. The client already retried within the
/// poll, and the breaker keeps a failing API from being hammered.
fn retry_delay(failures: u32, poll_interval: Duration) -> Duration {
    let doubled = Duration::from_secs(1).saturating_mul(1 << failures.saturating_sub(1).min(16));
    doubled.min(poll_interval)
}

/// Publishes `report` with the breaker's current state. A free function: the runner holds
/// a connector, which is `Send` but not `Sync`, so no `&Runner` may live across an await.
async fn publish_health(
    health: &HealthPublisher,
    report: &mut ConnectorHealth,
    breaker: BreakerState,
) {
    report.breaker = breaker.as_str().to_owned();
    report.updated_at = wall_clock_millis();
    health.publish(report).await;
}

/// Reads a compacted topic to its end: the latest value of every key (tombstones remove
/// it), every partition from its start to the high watermark seen when called. The topic
/// must exist. No consumer group offsets are used or committed.
pub(crate) async fn read_compacted(
    kafka_config: &KafkaConfig,
    topic: &str,
) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, ConnectError> {
    let kafka_config = kafka_config.clone();
    let topic = topic.to_owned();
    let failed_topic = topic.clone();
    tokio::task::spawn_blocking(move || read_compacted_blocking(&kafka_config, &topic))
        .await
        .map_err(|join| ConnectError::Read {
            topic: failed_topic,
            detail: format!("the reading task failed: {join}"),
        })?
}

fn read_compacted_blocking(
    kafka_config: &KafkaConfig,
    topic: &str,
) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, ConnectError> {
    let read_error = |detail: String| ConnectError::Read {
        topic: topic.to_owned(),
        detail,
    };
    let partitions = kafka::partition_count(kafka_config, topic)
        .map_err(|error| {
            read_error(format!(
                "{error}; the broker may be unavailable, retry once it answers"
            ))
        })?
        .ok_or_else(|| {
            read_error("the topic does not exist; run `hub topics ensure`".to_owned())
        })?;
    let mut latest = BTreeMap::new();
    for partition in 0..partitions {
        kafka::read_partition_to_end(kafka_config, topic, partition, |_, key, payload| {
            match payload {
                Some(value) => latest.insert(key.to_vec(), value.to_vec()),
                None => latest.remove(key),
            };
            Ok::<_, Infallible>(())
        })
        .map_err(|error| read_error(error.to_string()))?;
    }
    Ok(latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_up_to_the_poll_interval() {
        let interval = Duration::from_secs(30);
        let delays: Vec<u64> = (1..=7)
            .map(|failures| retry_delay(failures, interval).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(retry_delay(1_000, interval), interval);
        assert_eq!(
            retry_delay(3, Duration::from_millis(1_500)),
            Duration::from_millis(1_500)
        );
    }
}
