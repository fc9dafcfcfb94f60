//! The sink's loop: consume, decode, batch per table, insert, commit what is stored.
//!
//! Delivery: every record ends in ClickHouse exactly once.
//! - An offset is committed only once every earlier record of its partition is stored
//!   (see [`super::progress`]).
//! - A batch that fails is retried under the same deduplication token until ClickHouse takes
//!   it. Meanwhile the assigned partitions are paused (librdkafka drops what it prefetched
//!   and resumes from the last record handed out), so at most one full batch per table is
//!   held in memory, and the consumer keeps polling so it stays in its group.
//! - Records written by a run that stopped before committing are consumed again; before
//!   handling a partition the sink asks ClickHouse which of its offsets it already holds and
//!   skips those, so a batch cut differently on replay (another token) stores nothing twice.
//! - A revoked partition's rows not yet sent to ClickHouse, and its records not yet handled,
//!   are dropped: its next owner reads them again. Only a batch already sent (ClickHouse may
//!   hold it) is still stored as it is; rows of it that the next owner asks ClickHouse about
//!   before it lands can then be stored twice, which takes a ClickHouse failure during the
//!   rebalance.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::sync::Arc;

use clickhouse::Client;
use hub_schemas::{Decoder, TopicNames};
use hub_sink_clickhouse::error::classify;
use hub_sink_clickhouse::{BatchReceipt, KafkaPosition, Retry, WriteError};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use tokio::time::Instant;

use super::context::SinkContext;
use super::error::SinkError;
use super::progress::{Admission, Progress};
use super::route::{self, Consumed, Input, Rejection, Row, Table, Writers};
use crate::config::Config;
use crate::telemetry::names;
use crate::{kafka, wiring};

type SinkConsumer = StreamConsumer<SinkContext>;

/// Runs the sink until `shutdown` resolves, then stores every batch and commits.
///
/// Returns an error, without committing what is not stored, when ClickHouse refuses a batch
/// for good (a schema mismatch: run `hub migrate`), or when batches are still not stored at
/// shut down (they are consumed again by the next run).
pub async fn run(config: &Config, shutdown: impl Future<Output = ()>) -> Result<(), SinkError> {
    let writer_config = config.sink.writer_config()?;
    let group = config.sink.group_id(&config.kafka.group_id);
    let topics = wiring::topic_names(config)?;
    kafka::ensure_topics(&config.kafka, &topics.specs()).await?;
    let decoder = Decoder::new(&wiring::framing(config)?, topics.clone());
    let client = wiring::clickhouse(config).client();

    let context = SinkContext::default();
    let consumer: Arc<SinkConsumer> = Arc::new(
        kafka::consumer_config(&config.kafka, &group)
            .set(
                "statistics.interval.ms",
                config.sink.statistics_interval_ms.to_string(),
            )
            .create_with_context(context.clone())
            .map_err(|source| SinkError::Consumer {
                group: group.clone(),
                source: Box::new(source),
            })?,
    );
    let subscribed: Vec<&str> = Input::ALL
        .iter()
        .map(|input| topics.name(input.topic()))
        .collect();
    consumer
        .subscribe(&subscribed)
        .map_err(|source| SinkError::Subscribe {
            group: group.clone(),
            topics: subscribed.iter().map(|name| (*name).to_owned()).collect(),
            source: Box::new(source),
        })?;
    tracing::info!(%group, topics = ?subscribed, database = %config.clickhouse.database, "sink consuming");

    let mut sink = Sink {
        writers: Writers::new(&client, &writer_config),
        retry: writer_config.retry,
        topics,
        decoder,
        client,
        progress: Progress::default(),
    };
    consume(&consumer, &context, &mut sink, shutdown).await?;
    sink.shut_down(&consumer).await
}

/// What the loop must finish before it takes the next record.
struct Work {
    kind: WorkKind,
    /// Failed attempts so far; from the first one, consumption is paused.
    failures: u32,
}

enum WorkKind {
    Record(OwnedMessage),
    /// Send the batches whose oldest row waited long enough.
    DueBatches,
    /// A batch of this table could not be stored: nothing more is consumed until it is.
    Batch(Table),
}

impl Work {
    fn new(kind: WorkKind) -> Self {
        Work { kind, failures: 0 }
    }
}

/// Why a step did not complete.
enum Stall {
    /// Retry the same step later (ClickHouse or the schema registry unreachable).
    Retry(SinkError),
    /// The record was handled but its table's batch could not be stored: store it first.
    Batch(Table, WriteError),
    Stop(SinkError),
}

async fn consume(
    consumer: &SinkConsumer,
    context: &SinkContext,
    sink: &mut Sink,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SinkError> {
    tokio::pin!(shutdown);
    let mut work: Option<Work> = None;
    // Records delivered while paused (prefetched before the pause took effect, or from a
    // partition assigned since): at most a few, handled in order once unblocked.
    let mut held: VecDeque<OwnedMessage> = VecDeque::new();
    let mut paused = false;
    loop {
        forget_revoked(consumer, context, sink, &mut held, &mut work, &mut paused);
        let due = sink.writers.next_due();
        tokio::select! {
            biased;
            () = &mut shutdown => return Ok(()),
            outcome = sink.attempt(work.as_ref()), if work.is_some() => {
                let mut done = work.take().expect("the branch runs only with work");
                match outcome {
                    Ok(()) => work = held.pop_front().map(|message| Work::new(WorkKind::Record(message))),
                    Err(Stall::Retry(error)) => {
                        done.failures += 1;
                        tracing::warn!(%error, failures = done.failures, "consumption paused until this succeeds");
                        work = Some(done);
                    }
                    Err(Stall::Batch(table, error)) => {
                        tracing::warn!(%error, table = table.name(), "consumption paused until this batch is stored");
                        work = Some(Work { kind: WorkKind::Batch(table), failures: 1 });
                    }
                    Err(Stall::Stop(error)) => return Err(error),
                }
                commit(consumer, &mut sink.progress);
                let stalled = work.as_ref().is_some_and(|work| work.failures > 0);
                if stalled && !paused {
                    pause(consumer);
                    paused = true;
                } else if work.is_none() && paused {
                    resume(consumer);
                    paused = false;
                }
            }
            message = consumer.recv(), if work.is_none() || paused => match message {
                Ok(message) => {
                    // A revocation served by this very poll concerns only what was received
                    // before it (and may end the pause).
                    forget_revoked(consumer, context, sink, &mut held, &mut work, &mut paused);
                    if paused {
                        held.push_back(message.detach());
                        // A partition assigned during the pause is not paused yet.
                        pause(consumer);
                    } else {
                        work = Some(Work::new(WorkKind::Record(message.detach())));
                    }
                }
                Err(error) => {
                    // librdkafka reconnects and rejoins by itself; the error is only reported.
                    tracing::warn!(%error, "Kafka consumer error");
                    metrics::counter!(
                        names::ERRORS,
                        "component_kind" => "source",
                        "component_id" => "kafka",
                        "error_type" => "reader_failed",
                        "stage" => "receiving"
                    )
                    .increment(1);
                }
            },
            () = tokio::time::sleep(due.unwrap_or_default()), if work.is_none() && due.is_some() => {
                work = Some(Work::new(WorkKind::DueBatches));
            }
        }
    }
}

/// Forgets what this member received of the partitions revoked since the last call and has
/// not sent to ClickHouse: rows in batches not sent yet, records held or not yet handled.
/// The partitions may already be another member's, which reads them again from the last
/// commit; storing them here too would store them twice.
fn forget_revoked(
    consumer: &SinkConsumer,
    context: &SinkContext,
    sink: &mut Sink,
    held: &mut VecDeque<OwnedMessage>,
    work: &mut Option<Work>,
    paused: &mut bool,
) {
    let revoked = context.take_revoked();
    if revoked.is_empty() {
        return;
    }
    for (topic, partition) in &revoked {
        for table in sink.writers.drop_partition(topic, *partition) {
            sink.progress.forget_pending(topic, *partition, table);
        }
        sink.progress.revoke(topic, *partition);
    }
    let revoked_record = |message: &OwnedMessage| {
        revoked
            .iter()
            .any(|(topic, partition)| message.partition() == *partition && message.topic() == topic)
    };
    held.retain(|message| !revoked_record(message));
    if let Some(Work {
        kind: WorkKind::Record(message),
        ..
    }) = work
        && revoked_record(message)
    {
        *work = held
            .pop_front()
            .map(|message| Work::new(WorkKind::Record(message)));
        if work.is_none() && *paused {
            resume(consumer);
            *paused = false;
        }
    }
}

fn pause(consumer: &SinkConsumer) {
    if let Err(error) = consumer
        .assignment()
        .and_then(|assignment| consumer.pause(&assignment))
    {
        tracing::warn!(%error, "pausing the assigned partitions failed: records delivered meanwhile are held in memory");
    }
}

fn resume(consumer: &SinkConsumer) {
    if let Err(error) = consumer
        .assignment()
        .and_then(|assignment| consumer.resume(&assignment))
    {
        tracing::error!(%error, "resuming the assigned partitions failed: restart the sink if its consumer lag keeps growing");
    }
}

fn commit_list(offsets: &[(String, i32, i64)]) -> TopicPartitionList {
    let mut list = TopicPartitionList::new();
    for (topic, partition, offset) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .expect("an explicit offset is always valid in a partition list");
    }
    list
}

/// Commits, without waiting, the offsets that moved; failures are reported by the context.
fn commit(consumer: &SinkConsumer, progress: &mut Progress) {
    let offsets = progress.offsets_to_commit(false);
    if offsets.is_empty() {
        return;
    }
    if let Err(error) = consumer.commit(&commit_list(&offsets), CommitMode::Async) {
        tracing::warn!(%error, ?offsets, "queueing the offset commit failed, retried with the next batch");
    }
}

struct Sink {
    topics: TopicNames,
    decoder: Decoder,
    client: Client,
    writers: Writers,
    progress: Progress,
    retry: hub_sink_clickhouse::RetryPolicy,
}

impl Sink {
    async fn attempt(&mut self, work: Option<&Work>) -> Result<(), Stall> {
        let Some(work) = work else { return Ok(()) };
        if work.failures > 0 {
            tokio::time::sleep(self.retry.backoff(work.failures)).await;
        }
        match &work.kind {
            WorkKind::Record(message) => self.handle(message).await,
            WorkKind::DueBatches => self.flush_due().await,
            WorkKind::Batch(table) => self.flush(*table).await,
        }
    }

    async fn handle(&mut self, message: &OwnedMessage) -> Result<(), Stall> {
        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
        let Some(input) = Input::of(&self.topics, topic) else {
            return Err(Stall::Stop(SinkError::UnexpectedTopic {
                topic: topic.to_owned(),
            }));
        };
        loop {
            match self.progress.admit(topic, partition, offset) {
                Admission::Store => break,
                Admission::Redelivered => return Ok(()),
                Admission::AlreadyStored => {
                    tracing::debug!(topic, partition, offset, "already in ClickHouse, skipped");
                    self.progress.passed(topic, partition, offset);
                    return Ok(());
                }
                Admission::Unknown => {
                    // Rows of this partition still batched from before a revocation must be
                    // in ClickHouse before it is asked what it holds.
                    // The record itself is not handled yet: a failure retries it.
                    if self.progress.has_pending(topic, partition) {
                        for table in Table::ALL {
                            self.flush(table).await.map_err(|stall| match stall {
                                Stall::Batch(table, source) => {
                                    Stall::Retry(SinkError::RestartPartition {
                                        topic: topic.to_owned(),
                                        partition,
                                        table: table.name(),
                                        source: Box::new(source),
                                    })
                                }
                                other => other,
                            })?;
                        }
                    }
                    let stored = self.stored_offsets(input, topic, partition, offset).await?;
                    tracing::info!(
                        topic,
                        partition,
                        offset,
                        already_stored = stored.len(),
                        "partition started"
                    );
                    self.progress.start(topic, partition, offset, stored);
                }
            }
        }
        let source = input.topic().suffix();
        metrics::counter!(names::RECEIVED_EVENTS, "component_kind" => "source", "component_id" => source)
            .increment(1);
        let record = Consumed {
            input,
            position: KafkaPosition {
                topic: topic.to_owned(),
                partition,
                offset,
            },
            key: message.key(),
            payload: message.payload().unwrap_or_default(),
        };
        let row = match route::to_row(&self.decoder, &record).await {
            Ok(row) => row,
            Err(Rejection::RegistryUnavailable(source)) => {
                return Err(Stall::Retry(SinkError::RegistryUnavailable {
                    topic: topic.to_owned(),
                    partition,
                    offset,
                    source: Box::new(source),
                }));
            }
            Err(rejection) => {
                tracing::warn!(topic, partition, offset, error = %rejection, "record cannot be stored in its table: quarantined as UNDECODABLE");
                metrics::counter!(names::ERRORS, "component_kind" => "source", "component_id" => source, "error_type" => "decode", "stage" => "receiving")
                    .increment(1);
                metrics::counter!(names::QUARANTINED_RECORDS, "reason" => "UNDECODABLE", "source" => source)
                    .increment(1);
                Row::Quarantine(route::quarantine_row(&record, &rejection))
            }
        };
        let table = row.table();
        metrics::counter!(names::RECEIVED_EVENTS, "component_kind" => "sink", "component_id" => table.component_id())
            .increment(1);
        self.progress.handed_to(topic, partition, offset, table);
        let started = Instant::now();
        let written = self.writers.write(row).await;
        self.stored(table, started, written)
    }

    async fn flush(&mut self, table: Table) -> Result<(), Stall> {
        let started = Instant::now();
        let flushed = self.writers.flush(table).await;
        self.stored(table, started, flushed)
    }

    async fn flush_due(&mut self) -> Result<(), Stall> {
        for table in Table::ALL {
            let started = Instant::now();
            let flushed = self.writers.flush_if_due(table).await;
            self.stored(table, started, flushed)?;
        }
        Ok(())
    }

    /// Books the outcome of a write or flush of `table`'s writer.
    fn stored(
        &mut self,
        table: Table,
        started: Instant,
        outcome: Result<Option<BatchReceipt>, WriteError>,
    ) -> Result<(), Stall> {
        let component_id = table.component_id();
        match outcome {
            Ok(None) => Ok(()),
            Ok(Some(receipt)) => {
                metrics::histogram!(names::SINK_INSERT_DURATION, "component_kind" => "sink", "component_id" => component_id.clone())
                    .record(started.elapsed().as_secs_f64());
                metrics::histogram!(names::SINK_BATCH_SIZE, "component_kind" => "sink", "component_id" => component_id.clone())
                    .record(receipt.rows as f64);
                metrics::counter!(names::SENT_EVENTS, "component_kind" => "sink", "component_id" => component_id)
                    .increment(receipt.rows as u64);
                tracing::debug!(table = receipt.table, rows = receipt.rows, attempts = receipt.attempts, token = %receipt.dedup_token, "batch stored");
                self.progress.acknowledge(table, &receipt);
                Ok(())
            }
            Err(error) => {
                metrics::counter!(names::ERRORS, "component_kind" => "sink", "component_id" => component_id, "error_type" => "request_failed", "stage" => "sending")
                    .increment(1);
                match error.retry() {
                    Retry::Retryable => Err(Stall::Batch(table, error)),
                    Retry::Fatal => Err(Stall::Stop(SinkError::Insert(Box::new(error)))),
                }
            }
        }
    }

    /// The offsets from `from_offset` on that ClickHouse already holds for this partition.
    async fn stored_offsets(
        &self,
        input: Input,
        topic: &str,
        partition: i32,
        from_offset: i64,
    ) -> Result<BTreeSet<i64>, Stall> {
        let tables = input.tables();
        let sql = tables
            .iter()
            .map(|table| {
                format!(
                    "SELECT kafka_offset FROM {} WHERE kafka_topic = ? AND kafka_partition = ? AND kafka_offset >= ?",
                    table.name()
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut query = self.client.query(&sql);
        for _ in &tables {
            query = query.bind(topic).bind(partition).bind(from_offset);
        }
        match query.fetch_all::<i64>().await {
            Ok(offsets) => Ok(offsets.into_iter().collect()),
            Err(source) => {
                let retry = classify(&source);
                let error = SinkError::StoredOffsets {
                    topic: topic.to_owned(),
                    partition,
                    from_offset,
                    tables: tables
                        .iter()
                        .map(|table| table.name())
                        .collect::<Vec<_>>()
                        .join(", "),
                    retry,
                    source: Box::new(source),
                };
                Err(match retry {
                    Retry::Retryable => Stall::Retry(error),
                    Retry::Fatal => Stall::Stop(error),
                })
            }
        }
    }

    /// Stores every batch, then commits every partition's safe offset and waits for it.
    async fn shut_down(mut self, consumer: &Arc<SinkConsumer>) -> Result<(), SinkError> {
        let mut unstored: Option<(usize, WriteError)> = None;
        for table in Table::ALL {
            if let Some((rows, _)) = &mut unstored {
                // ClickHouse already failed: do not wait through every table's retries.
                *rows += self.writers.pending_rows(table);
                continue;
            }
            let started = Instant::now();
            let flushed = self.writers.flush(table).await;
            match self.stored(table, started, flushed) {
                Ok(()) => {}
                Err(Stall::Batch(table, error)) => {
                    unstored = Some((self.writers.pending_rows(table), error));
                }
                Err(Stall::Stop(error) | Stall::Retry(error)) => return Err(error),
            }
        }
        let offsets = self.progress.offsets_to_commit(true);
        if !offsets.is_empty() {
            let list = commit_list(&offsets);
            let committer = Arc::clone(consumer);
            let committed =
                tokio::task::spawn_blocking(move || committer.commit(&list, CommitMode::Sync))
                    .await
                    .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()));
            // Refused when a rebalance is under way (IllegalGeneration): the rows are stored,
            // and whoever consumes these partitions next finds them in ClickHouse and skips
            // them, so nothing is lost or stored twice.
            match committed {
                Ok(()) => tracing::info!(?offsets, "sink stopped, offsets committed"),
                Err(error) => tracing::warn!(
                    ?offsets,
                    %error,
                    "sink stopped; its final commit was refused, the next consumer of these \
                     partitions skips the rows ClickHouse already holds"
                ),
            }
        }
        match unstored {
            Some((rows, source)) => Err(SinkError::ShutdownFlush {
                rows,
                source: Box::new(source),
            }),
            None => Ok(()),
        }
    }
}
