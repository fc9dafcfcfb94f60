//! The consumer's callbacks: partition revocations, which the processing loop turns into
//! dropped state, and librdkafka statistics, which become the consumer lag gauge.

use std::sync::{Arc, Mutex};

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::{ClientContext, Statistics};

use crate::telemetry::names;

#[derive(Clone, Default)]
pub struct ProcessorContext {
    revoked: Arc<Mutex<Vec<i32>>>,
}

impl ProcessorContext {
    /// Partitions revoked since the last call. Revocation happens inside the consumer's
    /// poll, so the loop sees it before any record polled after it.
    pub fn take_revoked(&self) -> Vec<i32> {
        std::mem::take(&mut *self.revoked.lock().expect("revocation list lock"))
    }
}

impl ClientContext for ProcessorContext {
    fn stats(&self, statistics: Statistics) {
        for (topic, topic_statistics) in &statistics.topics {
            for (partition, partition_statistics) in &topic_statistics.partitions {
                // -1 is librdkafka's internal "unassigned" partition; a negative lag means
                // "not known yet".
                if *partition < 0 || partition_statistics.consumer_lag < 0 {
                    continue;
                }
                metrics::gauge!(
                    names::CONSUMER_LAG,
                    "topic" => topic.clone(),
                    "partition" => partition.to_string()
                )
                .set(partition_statistics.consumer_lag as f64);
            }
        }
    }
}

impl ConsumerContext for ProcessorContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            let mut revoked = self.revoked.lock().expect("revocation list lock");
            revoked.extend(
                partitions
                    .elements()
                    .iter()
                    .map(|element| element.partition()),
            );
            tracing::info!(partitions = ?revoked, "partitions revoked: their state will be restored from the changelog by their next owner");
        }
    }
}
