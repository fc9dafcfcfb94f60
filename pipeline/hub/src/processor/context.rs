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
    /// Partitions assigned since the last call and not revoked since, restored by the loop
    /// before it handles anything else: a partition whose state was scored under an older
    /// revision is re-scored then, even when no new input arrives on it.
    pub fn take_assigned(&self) -> Vec<i32> {
        std::mem::take(&mut *self.assigned.lock().expect("assignment list lock"))
    }

    /// Partitions revoked since the last call. Revocation happens inside the consumer's
    /// poll, so the loop sees it before any record polled after it.
    pub fn take_revoked(&self) -> Vec<i32> {
        std::mem::take(&mut *self.revoked.lock().expect("revocation list lock"))
    }

    fn assign(&self, partitions: impl IntoIterator<Item = i32>) {
        let mut assigned = self.assigned.lock().expect("assignment list lock");
        for partition in partitions {
            if !assigned.contains(&partition) {
                assigned.push(partition);
            }
        }
    }

    /// A partition assigned and revoked before the loop restored it is no longer to be
    /// restored: restoring it would hold a copy of state that its new owner goes on
    /// changing, and a later assignment would find the stale copy and keep it.
    fn revoke(&self, partitions: impl IntoIterator<Item = i32>) {
        let mut revoked = self.revoked.lock().expect("revocation list lock");
        let mut assigned = self.assigned.lock().expect("assignment list lock");
        for partition in partitions {
            assigned.retain(|pending| *pending != partition);
            if !revoked.contains(&partition) {
                revoked.push(partition);
            }
        }
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
            self.assign(assigned);
        }
    }

    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            let revoked: std::collections::BTreeSet<i32> = partitions
                .elements()
                .iter()
                .map(|element| element.partition())
                .collect();
            tracing::info!(partitions = ?revoked, "partitions revoked: their state will be restored from the changelog by their next owner");
            self.revoke(revoked);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_revoked_before_it_was_restored_is_not_restored() {
        let context = ProcessorContext::default();
        // A member joins with every partition, loses them all when a second member joins,
        // and gets half back, all before its loop runs again.
        context.assign([0, 1, 2, 3]);
        context.revoke([0, 1, 2, 3]);
        context.assign([0, 1]);
        assert_eq!(context.take_revoked(), vec![0, 1, 2, 3]);
        assert_eq!(context.take_assigned(), vec![0, 1]);
        assert!(context.take_assigned().is_empty() && context.take_revoked().is_empty());
    }

    #[test]
    fn a_partition_revoked_then_assigned_again_is_dropped_then_restored() {
        let context = ProcessorContext::default();
        context.assign([2]);
        assert_eq!(context.take_assigned(), vec![2]);
        context.revoke([2, 3]);
        context.assign([2, 3]);
        assert_eq!(context.take_revoked(), vec![2, 3]);
        assert_eq!(context.take_assigned(), vec![2, 3]);
    }
}
