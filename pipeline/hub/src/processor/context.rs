//! The consumer's callbacks: partition assignments and revocations, which the processing
//! loop turns into restored and dropped state, and librdkafka statistics, which become the
//! consumer lag gauge.

use std::sync::{Arc, Mutex};

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::{ClientContext, Statistics};

use crate::telemetry;

#[derive(Clone, Default)]
pub struct ProcessorContext {
    assigned: Arc<Mutex<Vec<i32>>>,
    revoked: Arc<Mutex<Vec<i32>>>,
}

impl ProcessorContext {
    /// Partitions assigned since the last call, restored by the loop before it handles
    /// anything else: a partition whose state was scored under an older revision is
    /// re-scored then, even when no new input arrives on it.
    pub fn take_assigned(&self) -> Vec<i32> {
        std::mem::take(&mut *self.assigned.lock().expect("assignment list lock"))
    }

    /// Partitions revoked since the last call. Revocation happens inside the consumer's
    /// poll, so the loop sees it before any record polled after it.
    pub fn take_revoked(&self) -> Vec<i32> {
        std::mem::take(&mut *self.revoked.lock().expect("revocation list lock"))
    }
}

impl ClientContext for ProcessorContext {
    fn stats(&self, statistics: Statistics) {
        telemetry::record_consumer_lag(&statistics);
    }
}

impl ConsumerContext for ProcessorContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            let assigned: std::collections::BTreeSet<i32> = partitions
                .elements()
                .iter()
                .map(|element| element.partition())
                .collect();
            tracing::info!(partitions = ?assigned, "partitions assigned: each is restored from the changelog before any record is handled");
            self.assigned
                .lock()
                .expect("assignment list lock")
                .extend(assigned);
        }
    }

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
