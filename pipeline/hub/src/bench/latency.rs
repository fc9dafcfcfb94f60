//! Latency at a fixed rate: after a warm-up, market changes are published at `rate`
//! records/s while the processor runs, and every score they lead to is read back as it is
//! written and matched with its input through the correlation id the processor copies
//! from input to output.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use hub_market_sim::Phase;
use hub_schemas::Topic;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::stats::{Percentiles, rate as per_second};
use super::{
    BenchError, LatencyReport, PROGRESS_EVERY, Progress, Publisher, RunContext, RunningProcessor,
    STALL_TIMEOUT,
};
use crate::config::KafkaConfig;
use crate::demo::{Positions, Span, wall_clock_millis};
use crate::kafka::{self, RecordProvenance};
use crate::market_feed::sequence_of;

pub(super) async fn run(
    run: &RunContext<'_>,
    publisher: &mut Publisher,
    rate: u64,
    duration: Duration,
    processor: &mut RunningProcessor,
    on_progress: &mut impl FnMut(Progress),
) -> Result<LatencyReport, BenchError> {
    processor.start(run.config);
    // Warm-up: the catalogue and its initial sync, so that the timed market changes update
    // references the processor already holds, as in steady operation. It also lets the
    // processor's consumer group form before anything is timed.
    let mut last_report = Instant::now();
    while publisher.phase() != Phase::Changes {
        let event = publisher.next_event();
        publisher.publish(&event).await?;
        if last_report.elapsed() >= PROGRESS_EVERY {
            processor.check()?;
            on_progress(Progress::Publishing {
                stage: "warm-up (catalogue and initial sync)",
                published: publisher.published(),
                total: None,
            });
            last_report = Instant::now();
        }
    }
    publisher.feed.flush().await?;
    let warm_up = Span {
        start: Positions::default(),
        end: run.committed.end_offsets(&run.input_names()).await?,
    };
    run.wait_processed(&warm_up, processor, on_progress).await?;
    let outputs_before = run.committed.end_offsets(&run.output_names()).await?;
    let history = run.topics.name(Topic::ScoresHistory).to_owned();
    let reader = ScoreReader::start(
        &run.config.kafka,
        &format!("{}-bench-reader", run.config.kafka.group_id),
        &outputs_before.of(std::slice::from_ref(&history)),
    )?;

    // Record i is due `i / rate` seconds after the start; the publisher sleeps until the
    // next one is due and catches up at once when it is late.
    let first_sequence = publisher.published();
    let total = rate * duration.as_secs();
    let mut sent: Vec<(Instant, i64)> = Vec::with_capacity(total as usize);
    let started = Instant::now();
    let mut last_report = started;
    while (sent.len() as u64) < total {
        let due = started + Duration::from_secs_f64(sent.len() as f64 / rate as f64);
        if Instant::now() < due {
            tokio::time::sleep_until(due.into()).await;
        }
        let event = publisher.next_event();
        sent.push((Instant::now(), wall_clock_millis()));
        publisher.publish(&event).await?;
        if last_report.elapsed() >= PROGRESS_EVERY {
            processor.check()?;
            on_progress(Progress::Publishing {
                stage: "fixed rate",
                published: sent.len() as u64,
                total: Some(total),
            });
            last_report = Instant::now();
        }
    }
    publisher.feed.flush().await?;
    let publish_span = match (sent.first(), sent.last()) {
        (Some((first, _)), Some((last, _))) => *last - *first,
        _ => Duration::ZERO,
    };

    let timed = Span {
        start: warm_up.end.clone(),
        end: run.committed.end_offsets(&run.input_names()).await?,
    };
    run.wait_processed(&timed, processor, on_progress).await?;
    let outputs = Span {
        start: outputs_before,
        end: run.committed.end_offsets(&run.output_names()).await?,
    };
    let scores = reader
        .finish(outputs.end.of(std::slice::from_ref(&history)))
        .await?;

    let mut to_written = Vec::with_capacity(scores.len());
    let mut to_read = Vec::with_capacity(scores.len());
    let mut scored_inputs = HashSet::new();
    for score in &scores {
        let index = score
            .sequence
            .checked_sub(first_sequence)
            .and_then(|index| usize::try_from(index).ok())
            .filter(|index| *index < sent.len())
            .ok_or_else(|| score.unmatched(&history, "its input is not one of the timed phase"))?;
        let (sent_at, sent_at_millis) = sent[index];
        to_read.push(score.read_at.saturating_duration_since(sent_at));
        // Both clocks are this machine's wall clock, in milliseconds.
        to_written.push(Duration::from_millis(
            u64::try_from(score.written_at_millis - sent_at_millis).unwrap_or(0),
        ));
        scored_inputs.insert(index);
    }
    Ok(LatencyReport {
        warm_up_records: warm_up.total(),
        target_rate: rate,
        duration,
        published: sent.len() as u64,
        achieved_rate: per_second(sent.len().saturating_sub(1) as u64, publish_span),
        processed: timed.total(),
        skipped_products: publisher.skipped_products,
        scores: outputs.records(&history),
        scored_inputs: scored_inputs.len() as u64,
        quarantined: outputs.records(run.topics.name(Topic::Quarantine)),
        to_score_written: Percentiles::of(to_written),
        to_score_read: Percentiles::of(to_read),
        scores_read: scores.len() as u64,
    })
}

/// A score of the timed phase as a consumer read it.
struct ReadScore {
    /// The publishing sequence number of the input it came from.
    sequence: u64,
    /// When this process received it.
    read_at: Instant,
    /// Its Kafka timestamp: when the processor produced it (wall clock, milliseconds).
    written_at_millis: i64,
    partition: i32,
    offset: i64,
}

impl ReadScore {
    fn from_message(message: &BorrowedMessage<'_>, read_at: Instant) -> Result<Self, BenchError> {
        let unmatched = |problem: String| BenchError::UnmatchedScore {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            problem,
        };
        let correlation_id = RecordProvenance::from_message(message).correlation_id;
        let sequence = sequence_of(&correlation_id).ok_or_else(|| {
            unmatched(format!(
                "its correlation id {correlation_id} is not one the bench's market feed gives"
            ))
        })?;
        let written_at_millis = message
            .timestamp()
            .to_millis()
            .ok_or_else(|| unmatched("it has no Kafka timestamp".to_owned()))?;
        Ok(ReadScore {
            sequence,
            read_at,
            written_at_millis,
            partition: message.partition(),
            offset: message.offset(),
        })
    }

    fn unmatched(&self, topic: &str, problem: &str) -> BenchError {
        BenchError::UnmatchedScore {
            topic: topic.to_owned(),
            partition: self.partition,
            offset: self.offset,
            problem: problem.to_owned(),
        }
    }
}

/// Reads the scores topic from given offsets as records arrive, without joining a consumer
/// group (no rebalance delay), until it has read up to the offsets it is finally given.
struct ScoreReader {
    end: watch::Sender<Option<Positions>>,
    task: JoinHandle<Result<Vec<ReadScore>, BenchError>>,
}

impl ScoreReader {
    fn start(kafka: &KafkaConfig, group: &str, from: &Positions) -> Result<Self, BenchError> {
        let consumer: StreamConsumer = kafka::consumer_config(kafka, group)
            .create()
            .map_err(BenchError::ScoreReader)?;
        let mut assignment = TopicPartitionList::new();
        let mut next = BTreeMap::new();
        for (topic, partition, offset) in from.iter() {
            assignment
                .add_partition_offset(topic, partition, Offset::Offset(offset))
                .map_err(BenchError::ScoreReader)?;
            next.insert((topic.to_owned(), partition), offset);
        }
        consumer
            .assign(&assignment)
            .map_err(BenchError::ScoreReader)?;
        let (end, mut end_changed) = watch::channel(None::<Positions>);
        let task = tokio::spawn(async move {
            let mut scores = Vec::new();
            loop {
                let done = end_changed.borrow_and_update().as_ref().is_some_and(|end| {
                    end.iter().all(|(topic, partition, end)| {
                        next.get(&(topic.to_owned(), partition))
                            .is_some_and(|next| *next >= end)
                    })
                });
                if done {
                    return Ok(scores);
                }
                tokio::select! {
                    message = consumer.recv() => {
                        let read_at = Instant::now();
                        let message = message.map_err(BenchError::ScoreReader)?;
                        scores.push(ReadScore::from_message(&message, read_at)?);
                        next.insert((message.topic().to_owned(), message.partition()), message.offset() + 1);
                    }
                    changed = end_changed.changed() => {
                        // The run ended without asking for the scores: nothing waits for them.
                        if changed.is_err() {
                            return Ok(scores);
                        }
                    }
                }
            }
        });
        Ok(ScoreReader { end, task })
    }

    /// The scores read once the reader has reached `end` on every partition.
    async fn finish(self, end: Positions) -> Result<Vec<ReadScore>, BenchError> {
        // The task only stops by itself once it has read to `end`, or on an error.
        let _ = self.end.send(Some(end));
        match tokio::time::timeout(STALL_TIMEOUT, self.task).await {
            Ok(joined) => {
                joined.unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
            }
            Err(_) => Err(BenchError::ScoresUnread {
                seconds: STALL_TIMEOUT.as_secs(),
            }),
        }
    }
}
