//! Which offset of each partition is safe to commit.
//!
//! A partition's records go to up to two writers (the table of its contract, and
//! `quarantine` for the ones that cannot be stored there) whose batches are acknowledged
//! independently. An offset is safe once every record before it is in ClickHouse: the lowest
//! offset still waiting in a writer, or the next offset to consume when none waits.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hub_sink_clickhouse::BatchReceipt;

use super::route::Table;

type PartitionKey = (String, i32);

#[derive(Debug, Default)]
struct PartitionProgress {
    /// False once the partition was revoked: its next records must not be handled before
    /// ClickHouse is asked again what it already holds (another member may have written them).
    live: bool,
    /// The offset after the last record handled.
    next: i64,
    /// Records handed to a writer and not acknowledged yet, with their table.
    pending: BTreeMap<i64, Table>,
    /// Offsets at or after `next` that ClickHouse already holds (written by an earlier run
    /// that stopped before committing them): they are skipped, not stored twice.
    stored: BTreeSet<i64>,
    /// The last offset committed (or being committed) for this partition.
    committed: Option<i64>,
}

impl PartitionProgress {
    fn safe_offset(&self) -> i64 {
        self.pending.keys().next().copied().unwrap_or(self.next)
    }
}

/// What to do with a consumed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Decode it and hand it to a writer.
    Store,
    /// ClickHouse already holds it: only move past it.
    AlreadyStored,
    /// It was handled earlier in this assignment (a redelivery): ignore it.
    Redelivered,
    /// The partition is new or was revoked: ask ClickHouse which offsets it holds first.
    Unknown,
}

#[derive(Debug, Default)]
pub struct Progress {
    partitions: HashMap<PartitionKey, PartitionProgress>,
}

impl Progress {
    /// What to do with the record at `offset`. Changes nothing: the record counts as handled
    /// only once [`Progress::handed_to`] or [`Progress::passed`] says so, so a record whose
    /// handling is interrupted (shut down, ClickHouse unreachable) is never committed.
    pub fn admit(&self, topic: &str, partition: i32, offset: i64) -> Admission {
        let Some(state) = self
            .partitions
            .get(&(topic.to_owned(), partition))
            .filter(|state| state.live)
        else {
            return Admission::Unknown;
        };
        if offset < state.next {
            Admission::Redelivered
        } else if state.stored.contains(&offset) {
            Admission::AlreadyStored
        } else {
            Admission::Store
        }
    }

    /// Whether records of this partition still wait in a writer (from before a revocation).
    pub fn has_pending(&self, topic: &str, partition: i32) -> bool {
        self.partitions
            .get(&(topic.to_owned(), partition))
            .is_some_and(|state| !state.pending.is_empty())
    }

    /// Starts tracking a partition whose next record is at `first_offset`, knowing which
    /// offsets from there ClickHouse already holds.
    pub fn start(&mut self, topic: &str, partition: i32, first_offset: i64, stored: BTreeSet<i64>) {
        let state = self
            .partitions
            .entry((topic.to_owned(), partition))
            .or_default();
        state.live = true;
        state.next = first_offset;
        state.stored = stored;
    }

    /// Records that the record at `offset` now waits in `table`'s writer. Called before the
    /// row is written, so a row in a writer is always one the commit waits for.
    pub fn handed_to(&mut self, topic: &str, partition: i32, offset: i64, table: Table) {
        if let Some(state) = self.partitions.get_mut(&(topic.to_owned(), partition)) {
            state.pending.insert(offset, table);
            state.next = offset + 1;
        }
    }

    /// Moves past a record ClickHouse already holds.
    pub fn passed(&mut self, topic: &str, partition: i32, offset: i64) {
        if let Some(state) = self.partitions.get_mut(&(topic.to_owned(), partition)) {
            state.next = offset + 1;
            state.stored = state.stored.split_off(&state.next);
        }
    }

    /// Marks the rows of an acknowledged batch as stored. A writer sends everything it
    /// holds, in order, so every record of a partition handed to `table` up to the batch's
    /// last offset is stored.
    pub fn acknowledge(&mut self, table: Table, receipt: &BatchReceipt) {
        for range in &receipt.ranges {
            if let Some(state) = self
                .partitions
                .get_mut(&(range.topic.clone(), range.partition))
            {
                state.pending.retain(|&offset, &mut waiting_in| {
                    waiting_in != table || offset > range.last_offset
                });
            }
        }
    }

    /// Forgets the partition's records waiting in `table`'s writer, which dropped them.
    pub fn forget_pending(&mut self, topic: &str, partition: i32, table: Table) {
        if let Some(state) = self.partitions.get_mut(&(topic.to_owned(), partition)) {
            state
                .pending
                .retain(|_, &mut waiting_in| waiting_in != table);
        }
    }

    pub fn revoke(&mut self, topic: &str, partition: i32) {
        if let Some(state) = self.partitions.get_mut(&(topic.to_owned(), partition)) {
            state.live = false;
            state.stored.clear();
            state.committed = None;
        }
    }

    /// The offsets to commit: for each live partition, the safe offset when it moved past
    /// the last one committed. With `all`, every live partition's safe offset.
    pub fn offsets_to_commit(&mut self, all: bool) -> Vec<(String, i32, i64)> {
        let mut offsets = Vec::new();
        for ((topic, partition), state) in &mut self.partitions {
            let safe = state.safe_offset();
            if state.live && (all || state.committed.is_none_or(|done| safe > done)) {
                state.committed = Some(safe);
                offsets.push((topic.clone(), *partition, safe));
            }
        }
        offsets.sort();
        offsets
    }
}

#[cfg(test)]
mod tests {
    use hub_sink_clickhouse::writer::PartitionRange;

    use super::*;

    fn receipt(table: Table, ranges: &[(i32, i64, i64)]) -> BatchReceipt {
        BatchReceipt {
            table: table.name(),
            rows: 0,
            attempts: 1,
            dedup_token: String::new(),
            ranges: ranges
                .iter()
                .map(|&(partition, first_offset, last_offset)| PartitionRange {
                    topic: "t".into(),
                    partition,
                    first_offset,
                    last_offset,
                })
                .collect(),
        }
    }

    fn handle(progress: &mut Progress, partition: i32, offset: i64, table: Table) {
        assert_eq!(progress.admit("t", partition, offset), Admission::Store);
        progress.handed_to("t", partition, offset, table);
    }

    #[test]
    fn a_partition_is_unknown_until_started() {
        let mut progress = Progress::default();
        assert_eq!(progress.admit("t", 0, 5), Admission::Unknown);
        progress.start("t", 0, 5, BTreeSet::new());
        assert_eq!(progress.admit("t", 0, 5), Admission::Store);
        assert_eq!(
            progress.admit("t", 0, 5),
            Admission::Store,
            "not handled yet"
        );
        progress.handed_to("t", 0, 5, Table::Products);
        assert_eq!(progress.admit("t", 0, 5), Admission::Redelivered);
    }

    #[test]
    fn commits_stop_at_the_first_record_still_waiting_in_any_writer() {
        let mut progress = Progress::default();
        progress.start("t", 0, 10, BTreeSet::new());
        handle(&mut progress, 0, 10, Table::OfferSignals);
        handle(&mut progress, 0, 11, Table::Quarantine);
        handle(&mut progress, 0, 12, Table::OfferSignals);
        assert_eq!(progress.offsets_to_commit(false), vec![("t".into(), 0, 10)]);

        // The offers batch covers 10..=12, but 11 waits in the quarantine writer.
        progress.acknowledge(
            Table::OfferSignals,
            &receipt(Table::OfferSignals, &[(0, 10, 12)]),
        );
        assert_eq!(progress.offsets_to_commit(false), vec![("t".into(), 0, 11)]);

        progress.acknowledge(
            Table::Quarantine,
            &receipt(Table::Quarantine, &[(0, 11, 11)]),
        );
        assert_eq!(progress.offsets_to_commit(false), vec![("t".into(), 0, 13)]);
        assert_eq!(
            progress.offsets_to_commit(false),
            vec![],
            "nothing new to commit"
        );
        assert_eq!(progress.offsets_to_commit(true), vec![("t".into(), 0, 13)]);
    }

    #[test]
    fn partitions_progress_independently() {
        let mut progress = Progress::default();
        progress.start("t", 0, 0, BTreeSet::new());
        progress.start("t", 1, 100, BTreeSet::new());
        handle(&mut progress, 0, 0, Table::Scores);
        handle(&mut progress, 1, 100, Table::Scores);
        handle(&mut progress, 1, 101, Table::Scores);
        progress.acknowledge(Table::Scores, &receipt(Table::Scores, &[(1, 100, 101)]));
        assert_eq!(
            progress.offsets_to_commit(false),
            vec![("t".into(), 0, 0), ("t".into(), 1, 102)]
        );
    }

    #[test]
    fn offsets_clickhouse_already_holds_are_skipped_and_committable() {
        let mut progress = Progress::default();
        progress.start("t", 0, 3, BTreeSet::from([3, 4, 6]));
        assert_eq!(progress.offsets_to_commit(false), vec![("t".into(), 0, 3)]);
        for offset in [3, 4] {
            assert_eq!(progress.admit("t", 0, offset), Admission::AlreadyStored);
            progress.passed("t", 0, offset);
        }
        assert_eq!(progress.offsets_to_commit(false), vec![("t".into(), 0, 5)]);
        handle(&mut progress, 0, 5, Table::Products);
        assert_eq!(progress.admit("t", 0, 6), Admission::AlreadyStored);
        progress.passed("t", 0, 6);
        assert_eq!(
            progress.offsets_to_commit(false),
            vec![],
            "5 still waits in a writer"
        );
        progress.acknowledge(Table::Products, &receipt(Table::Products, &[(0, 5, 5)]));
        assert_eq!(progress.offsets_to_commit(false), vec![("t".into(), 0, 7)]);
    }

    #[test]
    fn a_revoked_partition_is_neither_handled_nor_committed_until_started_again() {
        let mut progress = Progress::default();
        progress.start("t", 0, 0, BTreeSet::new());
        handle(&mut progress, 0, 0, Table::StockSignals);
        progress.revoke("t", 0);
        assert!(progress.has_pending("t", 0));
        assert_eq!(progress.admit("t", 0, 1), Admission::Unknown);
        assert_eq!(progress.offsets_to_commit(true), vec![]);

        progress.acknowledge(
            Table::StockSignals,
            &receipt(Table::StockSignals, &[(0, 0, 0)]),
        );
        assert!(!progress.has_pending("t", 0));
        progress.start("t", 0, 1, BTreeSet::new());
        assert_eq!(progress.offsets_to_commit(false), vec![("t".into(), 0, 1)]);
    }
}
