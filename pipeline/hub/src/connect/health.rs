//! Connector health in the compacted topic `<prefix>.connectors.health`, keyed by
//! connector: each running connector publishes its breaker state, last success, last error
//! and counts every `connect.health_interval_ms`, on every change of breaker state, and a
//! last time (`running = false`) when it stops. `hub connectors status` reads it with the
//! cursors, so it works from any machine that reaches the broker, without asking the
//! running process.

use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};

use super::{ConnectError, read_compacted};
use crate::config::KafkaConfig;
use crate::kafka::RecordProvenance;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorHealth {
    pub connector: String,
    /// `closed` (healthy), `open` or `half_open`.
    pub breaker: String,
    /// Whether the connector was running when this was published.
    pub running: bool,
    /// When this was published, epoch milliseconds.
    pub updated_at: i64,
    /// When a poll last succeeded.
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    /// Since the connector started: signals and rejected elements handed over.
    pub signals: u64,
    pub rejected: u64,
}

/// Every connector's latest health report.
pub async fn read_all(
    kafka: &KafkaConfig,
    topic: &str,
) -> Result<Vec<ConnectorHealth>, ConnectError> {
    read_compacted(kafka, topic)
        .await?
        .into_iter()
        .map(|(key, value)| {
            serde_json::from_slice::<ConnectorHealth>(&value).map_err(|error| {
                ConnectError::Unreadable {
                    topic: topic.to_owned(),
                    key: String::from_utf8_lossy(&key).into_owned(),
                    detail: error.to_string(),
                }
            })
        })
        .collect()
}

/// Publishes one connector's health reports.
#[derive(Clone)]
pub struct HealthPublisher {
    producer: FutureProducer,
    topic: String,
}

impl HealthPublisher {
    pub fn new(producer: FutureProducer, topic: &str) -> Self {
        HealthPublisher {
            producer,
            topic: topic.to_owned(),
        }
    }

    /// Publishes `health` and waits for the broker. A failure is logged, never fatal: health
    /// is an observation, and the next report replaces it.
    pub async fn publish(&self, health: &ConnectorHealth) {
        let payload = serde_json::to_vec(health).expect("health reports serialise to JSON");
        let provenance = RecordProvenance {
            correlation_id: format!("health-{}-{}", health.connector, health.updated_at),
            source: Some(health.connector.clone()),
            request_id: None,
        };
        let sent = self.producer.send_result(
            FutureRecord::<str, [u8]>::to(&self.topic)
                .key(&health.connector)
                .payload(&payload)
                .headers(provenance.to_headers()),
        );
        let acknowledged = match sent {
            Ok(delivery) => match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((error, _))) => Err(error.to_string()),
                Err(canceled) => Err(canceled.to_string()),
            },
            Err((error, _)) => Err(error.to_string()),
        };
        if let Err(error) = acknowledged {
            tracing::warn!(connector = %health.connector, %error, "health report not published; the next one replaces it");
        }
    }
}
