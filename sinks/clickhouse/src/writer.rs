//! The batching writer: rows in, one deduplicated INSERT per batch out.
//!
//! Batches are bounded by a row count and by the age of their oldest row. Each batch is sent
//! as one INSERT carrying an `insert_deduplication_token` derived from the Kafka positions
//! of its rows, so sending the same batch twice (a retry after a timeout whose INSERT did in
//! fact land, or a replay of the same messages) stores its rows once.
//!
//! The batch is kept in memory until ClickHouse acknowledges it, because a retry must resend
//! exactly the same rows under the same token. That is why this writer owns the buffering
//! instead of streaming rows through `clickhouse::inserter::Inserter`: the inserter sends
//! rows as they are written and forgets them, and its INSERT starts (with its settings)
//! before the batch, and so its token, is known.

use crate::error::{Retry, classify};
use crate::rows::{KafkaPosition, SinkRow};
use clickhouse::Client;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;
use tokio::time::Instant;

/// How failed inserts of a batch are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait before the second attempt; doubled after each failure.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Attempts per flush, the first included; at least 1.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2_u32
            .checked_pow(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// When a batch is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterConfig {
    /// A batch is sent as soon as it holds this many rows.
    pub max_rows: usize,
    /// A batch is due once its oldest row has waited this long (see [`BatchWriter::time_left`]).
    pub max_delay: Duration,
    pub retry: RetryPolicy,
}

impl Default for WriterConfig {
    fn default() -> Self {
        // Large, infrequent inserts: each INSERT makes a part that ClickHouse must merge.
        Self {
            max_rows: 50_000,
            max_delay: Duration::from_secs(2),
            retry: RetryPolicy::default(),
        }
    }
}

/// The offsets of one topic partition that a batch covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartitionRange {
    pub topic: String,
    pub partition: i32,
    pub first_offset: i64,
    pub last_offset: i64,
}

/// A batch ClickHouse acknowledged: the caller may now commit these offsets to Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchReceipt {
    pub table: &'static str,
    pub rows: usize,
    pub attempts: u32,
    pub dedup_token: String,
    pub ranges: Vec<PartitionRange>,
}

/// A batch that was not stored. The batch stays in the writer either way.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(
        "INSERT of {rows} rows into {database}.{table} (dedup token {token}) was refused and \
         is not retryable, the rows or the schema must be fixed: {source}"
    )]
    Fatal {
        database: String,
        table: &'static str,
        rows: usize,
        token: String,
        #[source]
        source: clickhouse::error::Error,
    },
    #[error(
        "INSERT of {rows} rows into {database}.{table} (dedup token {token}) still failed after \
         {attempts} attempts; retryable: flushing again resends the same batch under the same \
         token. Last error: {source}"
    )]
    RetriesExhausted {
        database: String,
        table: &'static str,
        rows: usize,
        token: String,
        attempts: u32,
        #[source]
        source: clickhouse::error::Error,
    },
}

impl WriteError {
    pub fn retry(&self) -> Retry {
        match self {
            Self::Fatal { .. } => Retry::Fatal,
            Self::RetriesExhausted { .. } => Retry::Retryable,
        }
    }
}

/// Buffers rows of one table and inserts them in deduplicated batches.
///
/// Nothing runs in the background: call [`BatchWriter::flush_if_due`] when
/// [`BatchWriter::time_left`] elapses (e.g. in the `select!` that polls the consumer) and
/// [`BatchWriter::flush`] before committing offsets or shutting down.
pub struct BatchWriter<R: SinkRow> {
    client: Client,
    config: WriterConfig,
    pending: Vec<R>,
    oldest: Option<Instant>,
    /// Whether the pending batch was sent at least once: ClickHouse may hold it, so it is
    /// only ever sent again as it is, under the same token.
    sent: bool,
}

impl<R: SinkRow> BatchWriter<R> {
    /// `client` must have its database set (see [`crate::ConnectionConfig::client`]).
    pub fn new(client: Client, config: WriterConfig) -> Self {
        Self {
            client,
            config,
            pending: Vec::new(),
            oldest: None,
            sent: false,
        }
    }

    /// Rows buffered and not yet acknowledged by ClickHouse.
    pub fn pending_rows(&self) -> usize {
        self.pending.len()
    }

    /// Time until the current batch is due; `None` when nothing is buffered.
    pub fn time_left(&self) -> Option<Duration> {
        self.oldest
            .map(|oldest| self.config.max_delay.saturating_sub(oldest.elapsed()))
    }

    /// Drops the buffered rows consumed from `topic`'s `partition` (revoked from this
    /// consumer: their next owner reads them again from the last commit), unless the batch
    /// was already sent: ClickHouse may hold it under its token, and only the same rows may
    /// be sent again. Returns whether the batch is now free of the partition's rows.
    pub fn drop_partition(&mut self, topic: &str, partition: i32) -> bool {
        if self.sent {
            return false;
        }
        self.pending.retain(|row| {
            let position = row.position();
            position.partition != partition || position.topic != topic
        });
        if self.pending.is_empty() {
            self.oldest = None;
        }
        true
    }

    /// Buffers a row, and sends the batch if it reached `max_rows`.
    pub async fn write(&mut self, row: R) -> Result<Option<BatchReceipt>, WriteError> {
        self.oldest.get_or_insert_with(Instant::now);
        self.pending.push(row);
        if self.pending.len() >= self.config.max_rows {
            return self.flush().await;
        }
        Ok(None)
    }

    /// Sends the batch if its oldest row waited `max_delay`.
    pub async fn flush_if_due(&mut self) -> Result<Option<BatchReceipt>, WriteError> {
        if self.time_left() == Some(Duration::ZERO) {
            return self.flush().await;
        }
        Ok(None)
    }

    /// Sends the buffered rows now, retrying retryable failures with exponential backoff.
    /// `Ok(None)` when nothing was buffered.
    pub async fn flush(&mut self) -> Result<Option<BatchReceipt>, WriteError> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let ranges = partition_ranges(self.pending.iter().map(SinkRow::position));
        let token = dedup_token(R::TABLE, self.pending.len(), &ranges);
        let database = self.client.database().unwrap_or("default").to_owned();
        let rows = self.pending.len();
        let mut attempt = 1;
        loop {
            self.sent = true;
            match self.insert_once(&token).await {
                Ok(()) => break,
                Err(source) if classify(&source) == Retry::Fatal => {
                    return Err(WriteError::Fatal {
                        database,
                        table: R::TABLE,
                        rows,
                        token,
                        source,
                    });
                }
                Err(source) if attempt >= self.config.retry.max_attempts => {
                    return Err(WriteError::RetriesExhausted {
                        database,
                        table: R::TABLE,
                        rows,
                        token,
                        attempts: attempt,
                        source,
                    });
                }
                Err(error) => {
                    let wait = self.config.retry.backoff(attempt);
                    tracing::warn!(
                        table = R::TABLE, rows, attempt, ?wait, %error,
                        "ClickHouse insert failed, retrying the same batch"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
        self.pending.clear();
        self.oldest = None;
        self.sent = false;
        tracing::debug!(
            table = R::TABLE,
            rows,
            attempts = attempt,
            "batch stored in ClickHouse"
        );
        Ok(Some(BatchReceipt {
            table: R::TABLE,
            rows,
            attempts: attempt,
            dedup_token: token,
            ranges,
        }))
    }

    async fn insert_once(&self, token: &str) -> Result<(), clickhouse::error::Error> {
        let mut insert = self
            .client
            .insert::<R>(R::TABLE)
            .await?
            .with_setting("insert_deduplication_token", token);
        for row in &self.pending {
            insert.write(row).await?;
        }
        insert.end().await
    }
}

/// The offset range each topic partition contributes, sorted by topic and partition.
pub fn partition_ranges(positions: impl IntoIterator<Item = KafkaPosition>) -> Vec<PartitionRange> {
    let mut ranges: BTreeMap<(String, i32), (i64, i64)> = BTreeMap::new();
    for KafkaPosition {
        topic,
        partition,
        offset,
    } in positions
    {
        let range = ranges.entry((topic, partition)).or_insert((offset, offset));
        range.0 = range.0.min(offset);
        range.1 = range.1.max(offset);
    }
    ranges
        .into_iter()
        .map(
            |((topic, partition), (first_offset, last_offset))| PartitionRange {
                topic,
                partition,
                first_offset,
                last_offset,
            },
        )
        .collect()
}

/// The insert deduplication token of a batch: its table, row count and Kafka ranges. The
/// same messages always give the same token; a batch that adds or drops a message does not.
pub fn dedup_token(table: &str, rows: usize, ranges: &[PartitionRange]) -> String {
    let mut token = format!("{table}:{rows}");
    for range in ranges {
        // Writing to a String cannot fail.
        let _ = write!(
            token,
            ":{}/{}/{}-{}",
            range.topic, range.partition, range.first_offset, range.last_offset
        );
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(topic: &str, partition: i32, offset: i64) -> KafkaPosition {
        KafkaPosition {
            topic: topic.into(),
            partition,
            offset,
        }
    }

    #[test]
    fn ranges_group_offsets_by_partition() {
        let ranges = partition_ranges([at("t", 1, 7), at("t", 0, 3), at("t", 1, 5), at("t", 0, 4)]);
        assert_eq!(
            ranges,
            vec![
                PartitionRange {
                    topic: "t".into(),
                    partition: 0,
                    first_offset: 3,
                    last_offset: 4
                },
                PartitionRange {
                    topic: "t".into(),
                    partition: 1,
                    first_offset: 5,
                    last_offset: 7
                },
            ]
        );
        assert_eq!(
            dedup_token("offer_signals", 4, &ranges),
            "offer_signals:4:t/0/3-4:t/1/5-7"
        );
    }

    #[test]
    fn same_messages_give_the_same_token_in_any_order() {
        let a = partition_ranges([at("t", 0, 1), at("t", 0, 2)]);
        let b = partition_ranges([at("t", 0, 2), at("t", 0, 1)]);
        assert_eq!(dedup_token("x", 2, &a), dedup_token("x", 2, &b));
        let longer = partition_ranges([at("t", 0, 1), at("t", 0, 2), at("t", 0, 3)]);
        assert_ne!(dedup_token("x", 2, &a), dedup_token("x", 3, &longer));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            max_attempts: 5,
        };
        let waits: Vec<_> = (1..=4).map(|attempt| policy.backoff(attempt)).collect();
        assert_eq!(
            waits,
            [100, 200, 350, 350].map(Duration::from_millis).to_vec(),
        );
        assert_eq!(policy.backoff(200), Duration::from_millis(350));
    }
}
