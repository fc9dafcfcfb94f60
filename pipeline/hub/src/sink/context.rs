//! The consumer's callbacks: revocations, which the loop turns into "ask ClickHouse again"
//! before handling more of those partitions; commit results; and librdkafka statistics,
//! which become the consumer lag gauge.

use std::sync::{Arc, Mutex, PoisonError};

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::{ClientContext, Statistics, TopicPartitionList};

use crate::telemetry::{self, names};

#[derive(Clone, Default)]
pub struct SinkContext {
    revoked: Arc<Mutex<Vec<(String, i32)>>>,
}

impl SinkContext {
    /// Partitions revoked since the last call. Revocation runs inside the consumer's poll,
    /// so the loop sees it before any record polled after it.
    pub fn take_revoked(&self) -> Vec<(String, i32)> {
        std::mem::take(&mut *self.revoked.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl ClientContext for SinkContext {
    fn stats(&self, statistics: Statistics) {
        telemetry::record_consumer_lag(&statistics);
    }
}

impl ConsumerContext for SinkContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            let revoked: Vec<(String, i32)> = partitions
                .elements()
                .iter()
                .map(|element| (element.topic().to_owned(), element.partition()))
                .collect();
            tracing::info!(
                partitions = ?revoked,
                "partitions revoked: rows of theirs not yet sent to ClickHouse are dropped, \
                 their next owner reads them again from the last commit"
            );
            self.revoked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(revoked);
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(error) = result {
            // The next commit carries offsets at least as high, and a restart skips what
            // ClickHouse holds: a failed commit delays, it does not duplicate.
            tracing::warn!(%error, offsets = ?offsets.to_topic_map(), "committing the sink's offsets failed, retried with the next batch");
            metrics::counter!(
                names::ERRORS,
                "component_kind" => "source",
                "component_id" => "kafka",
                "error_type" => "acknowledgment_failed",
                "stage" => "receiving"
            )
            .increment(1);
        }
    }
}
