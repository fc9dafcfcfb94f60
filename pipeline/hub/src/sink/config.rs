//! What an operator sets for `hub sink` (the `[sink]` section), with the defaults that suit
//! one sink instance in front of one ClickHouse server.

use std::time::Duration;

use hub_sink_clickhouse::{RetryPolicy, WriterConfig};
use serde::{Deserialize, Serialize};

use super::error::SinkError;

/// The `[sink]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SinkConfig {
    /// Consumer group of the sink. Empty: `<kafka.group_id>-sink`, so the sink keeps its own
    /// offsets next to the processor's.
    pub group_id: String,
    /// A table's batch is inserted as soon as it holds this many rows. It also bounds memory:
    /// nothing more is consumed while a full batch cannot be stored.
    pub batch_max_rows: usize,
    /// A batch is inserted once its oldest row has waited this long.
    pub batch_max_delay_ms: u64,
    /// Wait before the second attempt of a failed insert; doubled after each failure.
    pub retry_initial_backoff_ms: u64,
    pub retry_max_backoff_ms: u64,
    /// Attempts per insert before the sink pauses consumption and keeps retrying the same
    /// batch (under the same deduplication token) until ClickHouse accepts it.
    pub retry_max_attempts: u32,
    /// How often librdkafka reports statistics, from which the consumer lag gauge is set.
    pub statistics_interval_ms: u64,
}

impl Default for SinkConfig {
    fn default() -> Self {
        let writer = WriterConfig::default();
        SinkConfig {
            group_id: String::new(),
            batch_max_rows: writer.max_rows,
            batch_max_delay_ms: duration_ms(writer.max_delay),
            retry_initial_backoff_ms: duration_ms(writer.retry.initial_backoff),
            retry_max_backoff_ms: duration_ms(writer.retry.max_backoff),
            retry_max_attempts: writer.retry.max_attempts,
            statistics_interval_ms: 10_000,
        }
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl SinkConfig {
    /// The consumer group, defaulting to the deployment's group with a `-sink` suffix.
    pub fn group_id(&self, kafka_group_id: &str) -> String {
        if self.group_id.is_empty() {
            format!("{kafka_group_id}-sink")
        } else {
            self.group_id.clone()
        }
    }

    /// The batching and retry settings of every table's writer, after checking they can work.
    pub fn writer_config(&self) -> Result<WriterConfig, SinkError> {
        let invalid = |key: &'static str, reason: &'static str| SinkError::Config { key, reason };
        if self.batch_max_rows == 0 {
            return Err(invalid("sink.batch_max_rows", "must be at least 1"));
        }
        if self.retry_max_attempts == 0 {
            return Err(invalid("sink.retry_max_attempts", "must be at least 1"));
        }
        if self.retry_initial_backoff_ms > self.retry_max_backoff_ms {
            return Err(invalid(
                "sink.retry_initial_backoff_ms",
                "must not exceed sink.retry_max_backoff_ms",
            ));
        }
        Ok(WriterConfig {
            max_rows: self.batch_max_rows,
            max_delay: Duration::from_millis(self.batch_max_delay_ms),
            retry: RetryPolicy {
                initial_backoff: Duration::from_millis(self.retry_initial_backoff_ms),
                max_backoff: Duration::from_millis(self.retry_max_backoff_ms),
                max_attempts: self.retry_max_attempts,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_writer_defaults() {
        assert_eq!(
            SinkConfig::default().writer_config().unwrap(),
            WriterConfig::default()
        );
    }

    #[test]
    fn group_defaults_to_the_deployment_group_with_a_suffix() {
        let mut config = SinkConfig::default();
        assert_eq!(config.group_id("sourcing-hub"), "sourcing-hub-sink");
        config.group_id = "archiver".into();
        assert_eq!(config.group_id("sourcing-hub"), "archiver");
    }

    #[test]
    fn settings_that_cannot_work_are_refused_by_key() {
        let zero_rows = SinkConfig {
            batch_max_rows: 0,
            ..SinkConfig::default()
        };
        let error = zero_rows.writer_config().unwrap_err();
        assert!(error.to_string().contains("sink.batch_max_rows"), "{error}");
        let inverted = SinkConfig {
            retry_initial_backoff_ms: 5_000,
            retry_max_backoff_ms: 1_000,
            ..SinkConfig::default()
        };
        let error = inverted.writer_config().unwrap_err();
        assert!(
            error.to_string().contains("sink.retry_initial_backoff_ms"),
            "{error}"
        );
    }
}
