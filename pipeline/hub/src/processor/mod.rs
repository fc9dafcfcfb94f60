//! `hub process`: the stateful stream processor. It consumes the product reference and
//! signal topics as one consumer group, passes every record through the quality gate,
//! joins it into the state of its reference, re-scores exactly the reference x channels it
//! affects, and writes scores, quarantined records and the state changelog.
//!
//! Delivery: at least once, with deterministic outputs. A batch of input records is
//! handled; its outputs (scores, quarantined records) are awaited, then the changelog of
//! the references it changed, and only then are the input offsets committed. A crash
//! replays at most the uncommitted batch. Inputs the restored state already reflects are
//! skipped (their outputs were acknowledged before that changelog was written); the others
//! are applied again and yield byte-identical scores with the same versions, so consumers
//! keyed on (gtin, channel, version) see each score once.

mod changelog;
mod context;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::try_join_all;
use hub_core::channel::Channel;
use hub_core::gate::Candidate;
use hub_core::reason::{Provenance, Quarantine, ReasonCode, RecordType};
use hub_core::state::{ApplyOutcome, InputPosition, ReferenceState};
use hub_schemas::{AvroRecord, DecodeError, Decoder, Encoder, Topic, TopicNames};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tracing::Instrument;

use crate::config::{Config, KafkaConfig};
use crate::control::{self, ActiveScoring, ControlRecordError, ControlState, RescoreProgress};
use crate::kafka::{self, KafkaAdapterError, PartitionReadError, RecordProvenance, TopicPolicy};
use crate::telemetry::{self, names};
use crate::wiring::{self, WiringError};
use context::ProcessorContext;

pub use changelog::ChangelogError;

const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);

/// The inputs, in the order their records are joined.
const INPUT_TOPICS: [Topic; 4] = [
    Topic::ReferenceProducts,
    Topic::SignalsOffers,
    Topic::SignalsStock,
    Topic::SignalsCosts,
];

#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    #[error(transparent)]
    Wiring(#[from] WiringError),
    #[error(transparent)]
    Topics(#[from] KafkaAdapterError),
    #[error("scoring configuration: {0}")]
    Scoring(String),
    #[error(
        "Kafka consumer: {0}; the broker may be unavailable, the processor stops so that an orchestrator restarts it"
    )]
    Consumer(KafkaError),
    #[error(
        "an output was not acknowledged by the broker: {0}; input offsets were not committed, so a restart replays the batch"
    )]
    Delivery(KafkaError),
    #[error(transparent)]
    Changelog(#[from] ChangelogError),
    #[error("control topic: {0}")]
    Control(#[from] PartitionReadError<ControlRecordError>),
    #[error(
        "encoding an output: {0}; this is a bug in the processor (a score outside its contract)"
    )]
    Encode(#[from] hub_schemas::EncodeError),
}

/// Runs the processor until `shutdown` resolves, then finishes the current batch, commits
/// it and returns.
pub async fn run(
    config: &Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProcessorError> {
    let topics = wiring::topic_names(config).map_err(WiringError::from)?;
    let changelog_topic = changelog::topic_name(topics.prefix());
    let specs = topics.specs();
    let control_topic = control::topic_name(topics.prefix());
    let internal = [&changelog_topic, &control_topic].map(|name| TopicPolicy {
        name,
        compacted: true,
    });
    kafka::ensure_topics(
        &config.kafka,
        specs.iter().map(TopicPolicy::from).chain(internal),
    )
    .await?;
    let (control_state, control_next) = control::read(&config.kafka, &control_topic)?;
    let scoring = match &control_state.revision {
        Some(revision) => {
            tracing::info!(
                revision = revision.revision,
                reason = %revision.reason,
                "scoring under the revision published on the control topic"
            );
            ActiveScoring::from_revision(revision)
        }
        None => ActiveScoring::local(&config.scoring),
    }
    .map_err(ProcessorError::Scoring)?;
    let control_follower = control::follower(
        &config.kafka,
        &format!("{}.control", consumer_group(&config.kafka)),
        &control_topic,
        control_next,
    )
    .map_err(ProcessorError::Consumer)?;
    let (encoder, decoder) = wiring::codec(config).await?;
    let producer: FutureProducer = kafka::producer_config(&config.kafka)
        .create()
        .map_err(ProcessorError::Delivery)?;
    let context = ProcessorContext::default();
    let consumer: StreamConsumer<ProcessorContext> =
        kafka::consumer_config(&config.kafka, &consumer_group(&config.kafka))
            // Range assignment gives one consumer the same partition number of every
            // input topic: the co-partitioning the join relies on.
            .set("partition.assignment.strategy", "range")
            .set(
                "max.poll.interval.ms",
                config.processor.max_poll_interval_ms.to_string(),
            )
            .set("statistics.interval.ms", "5000")
            .create_with_context(context.clone())
            .map_err(ProcessorError::Consumer)?;
    let input_names: Vec<&str> = INPUT_TOPICS
        .iter()
        .map(|topic| topics.name(*topic))
        .collect();
    consumer
        .subscribe(&input_names)
        .map_err(ProcessorError::Consumer)?;
    for channel in Channel::ALL {
        metrics::counter!(names::SCORES_EMITTED, "channel" => channel.key()).absolute(0);
    }
    tracing::info!(inputs = ?input_names, changelog = %changelog_topic, "processor started");

    let mut processor = Processor {
        config,
        topics,
        changelog_topic,
        encoder,
        decoder,
        producer,
        control_topic,
        scoring,
        partitions: HashMap::new(),
        batch: Batch::default(),
    };
    let linger = Duration::from_millis(config.processor.linger_ms);
    // Wakes the loop while no record arrives, so that partitions assigned meanwhile are
    // restored (and re-scored under a newer revision) without waiting for input.
    let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    tokio::pin!(shutdown);
    loop {
        let step = tokio::select! {
            message = consumer.recv(), if processor.batch.is_empty() => Step::Input(Some(message)),
            _ = housekeeping.tick() => Step::Input(None),
            message = tokio::time::timeout(linger, consumer.recv()), if !processor.batch.is_empty() => {
                Step::Input(message.ok())
            }
            control = control_follower.recv() => Step::Control(control.map_err(ProcessorError::Consumer)?),
            () = &mut shutdown => break,
        };
        let revoked = context.take_revoked();
        if !revoked.is_empty() {
            // librdkafka hands the revoked partitions back to the group as soon as the
            // callback returns, so their next owner may already be restoring them: this
            // member writes none of their changes to the changelog and commits none of their
            // offsets, or its late write could overwrite the new owner's newer state. Their
            // next owner replays those records from the last commit. The other partitions'
            // changes complete as usual.
            processor.batch.forget_partitions(&revoked);
            processor
                .complete_batch(&consumer, CommitMode::Sync)
                .await?;
            for partition in revoked {
                processor.partitions.remove(&partition);
            }
        }
        for partition in context.take_assigned() {
            processor.restore(&consumer, partition, false).await?;
        }
        match step {
            Step::Input(Some(message)) => {
                let message = message.map_err(ProcessorError::Consumer)?;
                // Every log line about this record carries its correlation id.
                let provenance = RecordProvenance::from_message(&message);
                let span = telemetry::record_span(&provenance.correlation_id);
                processor
                    .handle(&consumer, &message, provenance)
                    .instrument(span)
                    .await?;
                if processor.batch.records >= config.processor.max_batch_records {
                    processor
                        .complete_batch(&consumer, CommitMode::Async)
                        .await?;
                }
            }
            Step::Input(None) => {
                processor
                    .complete_batch(&consumer, CommitMode::Async)
                    .await?
            }
            Step::Control(message) => {
                processor
                    .follow_control(&consumer, message.key(), message.payload())
                    .await?
            }
        }
    }
    processor
        .complete_batch(&consumer, CommitMode::Sync)
        .await?;
    tracing::info!("processor stopped: last batch acknowledged and committed");
    Ok(())
}

/// The processor's consumer group: `<kafka.group_id>-process`.
pub fn consumer_group(kafka: &KafkaConfig) -> String {
    format!("{}-process", kafka.group_id)
}

/// What the processor's loop woke up for.
enum Step<'a> {
    /// An input record, or `None` when nothing new arrived in time (the batch's linger or
    /// the housekeeping interval).
    Input(Option<KafkaResult<BorrowedMessage<'a>>>),
    Control(BorrowedMessage<'a>),
}

struct Processor<'c> {
    config: &'c Config,
    topics: TopicNames,
    changelog_topic: String,
    encoder: Encoder,
    decoder: Decoder,
    producer: FutureProducer,
    control_topic: String,
    scoring: ActiveScoring,
    /// Join state of the input partitions this processor owns, by partition number.
    partitions: HashMap<i32, HashMap<String, ReferenceState>>,
    batch: Batch,
}

/// What the current batch has produced and consumed, until it is acknowledged.
#[derive(Default)]
struct Batch {
    records: usize,
    deliveries: Vec<DeliveryFuture>,
    next_offsets: BTreeMap<(String, i32), i64>,
    changed_references: BTreeSet<(i32, String)>,
    /// When each scored input entered Kafka, for the signal-to-score latency.
    scored_input_timestamps: Vec<i64>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.records == 0 && self.deliveries.is_empty() && self.changed_references.is_empty()
    }

    /// Leaves out of the changelog and the commit whatever the batch changed in `partitions`.
    /// Outputs already sent stay: the next owner's replay sends them again under the same
    /// versions.
    fn forget_partitions(&mut self, partitions: &[i32]) {
        self.changed_references
            .retain(|(partition, _)| !partitions.contains(partition));
        self.next_offsets
            .retain(|(_, partition), _| !partitions.contains(partition));
    }
}

impl Processor<'_> {
    async fn handle(
        &mut self,
        consumer: &StreamConsumer<ProcessorContext>,
        message: &BorrowedMessage<'_>,
        provenance: RecordProvenance,
    ) -> Result<(), ProcessorError> {
        let partition = message.partition();
        let offset = message.offset();
        // Before this record joins the batch: a restore may complete the batch (re-scoring
        // stale references), and that commit must not cover a record not yet handled.
        if !self.partitions.contains_key(&partition) {
            self.restore(consumer, partition, false).await?;
        }
        self.batch.records += 1;
        self.batch
            .next_offsets
            .insert((message.topic().to_owned(), partition), offset + 1);
        let Some(topic) = self.topics.topic(message.topic()) else {
            return Ok(());
        };
        let source = topic.suffix();
        metrics::counter!(names::RECEIVED_EVENTS, "component_kind" => "source", "component_id" => source)
            .increment(1);
        // The record's Kafka timestamp is when it was published: the gate's notion of
        // "now", so that a replay judges freshness exactly as the first run did.
        let published_at = message
            .timestamp()
            .to_millis()
            .unwrap_or_else(wall_clock_millis);
        let payload = message.payload().unwrap_or_default();
        let states = self.partitions.get_mut(&partition).expect("restored above");
        let position = InputPosition {
            topic: message.topic(),
            offset,
        };
        let verdict = match decode_input(&self.decoder, topic, payload).await {
            Ok(candidate) => {
                let state = candidate.state_key().and_then(|key| states.get(&key));
                // A redelivery of a record the restored state already reflects: its
                // outputs were acknowledged before that changelog was written, and gating
                // it again against the newer state could judge it differently.
                if state.is_some_and(|state| state.has_applied(&position)) {
                    metrics::counter!(names::DISCARDED_EVENTS, "component_kind" => "transform", "component_id" => "processor", "intentional" => "true", "reason" => "already_applied")
                        .increment(1);
                    return Ok(());
                }
                candidate.check(state, published_at, &self.config.gate)
            }
            Err(quarantine) => Err(quarantine),
        };
        let signal = match verdict {
            Ok(signal) => signal,
            Err(quarantine) => {
                metrics::counter!(names::QUARANTINED_RECORDS, "reason" => quarantine.reason.as_str(), "source" => source)
                    .increment(1);
                let record = quarantine.into_record(
                    payload.to_vec(),
                    message
                        .key()
                        .map(|key| String::from_utf8_lossy(key).into_owned()),
                    Provenance::from_topic(
                        message.topic(),
                        record_type(topic),
                        partition,
                        offset,
                        message.key().map(<[u8]>::to_vec),
                    ),
                    published_at,
                );
                return self.send(Topic::Quarantine, &record, provenance);
            }
        };
        let gtin = signal.gtin().to_owned();
        // A reference first seen now is scored under the active revision, as a restore would
        // have re-scored it: its versions carry that revision from the start.
        let revision = self.scoring.revision;
        let state = states
            .entry(gtin.clone())
            .or_insert_with(|| ReferenceState {
                scoring_revision: revision,
                ..ReferenceState::default()
            });
        let outcome = state.apply(signal, position);
        let channels = match outcome {
            ApplyOutcome::Applied(affected) => {
                self.batch
                    .changed_references
                    .insert((partition, gtin.clone()));
                state.channels_to_rescore(affected)
            }
            ApplyOutcome::AlreadyApplied | ApplyOutcome::Superseded => Vec::new(),
        };
        if channels.is_empty() {
            return Ok(());
        }
        self.emit_scores(partition, &gtin, &channels, &provenance)?;
        self.batch.scored_input_timestamps.push(published_at);
        Ok(())
    }

    /// Scores `channels` of one reference and sends them to the current and history
    /// topics. A reference without its product record yet is not scored: it will be, on
    /// every channel, when the product arrives.
    fn emit_scores(
        &mut self,
        partition: i32,
        gtin: &str,
        channels: &[Channel],
        provenance: &RecordProvenance,
    ) -> Result<(), ProcessorError> {
        let state = &self.partitions[&partition][gtin];
        let scores: Vec<_> = channels
            .iter()
            .filter_map(|channel| {
                self.scoring.score(state, *channel)?
                    .inspect_err(|error| {
                        metrics::counter!(names::ERRORS, "component_kind" => "transform", "component_id" => "scoring", "error_type" => "scoring_input")
                            .increment(1);
                        tracing::warn!(gtin, channel = %channel, %error, "reference not scored on this channel until its inputs are fixed");
                    })
                    .ok()
            })
            .collect();
        for score in scores {
            self.send(Topic::ScoresCurrent, &score, provenance.clone())?;
            self.send(Topic::ScoresHistory, &score, provenance.clone())?;
            metrics::counter!(names::SCORES_EMITTED, "channel" => score.channel.clone())
                .increment(1);
        }
        Ok(())
    }

    /// Restores `partition` from the changelog, then re-scores its references scored under
    /// another revision than the active one (a revision published while they were not
    /// owned, or a re-score interrupted by a crash). `report`: publish the partition's
    /// progress even when nothing was stale, as a re-score request waits for every one.
    async fn restore(
        &mut self,
        consumer: &StreamConsumer<ProcessorContext>,
        partition: i32,
        report: bool,
    ) -> Result<(), ProcessorError> {
        if !self.partitions.contains_key(&partition) {
            let restored =
                changelog::restore(&self.config.kafka, &self.changelog_topic, partition)?;
            tracing::info!(
                partition,
                references = restored.len(),
                "partition state restored from the changelog"
            );
            self.partitions.insert(partition, restored);
        }
        let revision = self.scoring.revision;
        let states = &self.partitions[&partition];
        let mut stale: Vec<String> = states
            .iter()
            .filter(|(_, state)| state.scoring_revision != revision)
            .map(|(gtin, _)| gtin.clone())
            .collect();
        // An empty partition reports too, or a re-score request would wait for it forever.
        let empty_under_a_revision = revision > 0 && states.is_empty();
        if stale.is_empty() && !report && !empty_under_a_revision {
            return Ok(());
        }
        // Sorted, so that progress means the same thing after a crash and a restart.
        stale.sort_unstable();
        let total = stale.len() as u64;
        tracing::info!(
            partition,
            revision,
            references = total,
            "re-scoring the partition under the active scoring revision"
        );
        for (index, gtin) in stale.iter().enumerate() {
            let state = self
                .partitions
                .get_mut(&partition)
                .and_then(|states| states.get_mut(gtin))
                .expect("listed above");
            state.scoring_revision = revision;
            let channels: Vec<Channel> = state.offered_channels().collect();
            self.batch
                .changed_references
                .insert((partition, gtin.clone()));
            let provenance = RecordProvenance {
                correlation_id: format!("rescore-{revision}-{gtin}"),
                source: Some("processor".into()),
                request_id: None,
            };
            self.emit_scores(partition, gtin, &channels, &provenance)?;
            let rescored = index as u64 + 1;
            if rescored.is_multiple_of(self.config.processor.max_batch_records as u64) {
                self.report_progress(partition, rescored, total)?;
                self.complete_batch(consumer, CommitMode::Async).await?;
                if consumer.assignment_lost() {
                    // Evicted meanwhile: the partition's next owner re-scores it.
                    return Ok(());
                }
            }
        }
        self.report_progress(partition, total, total)?;
        self.complete_batch(consumer, CommitMode::Async).await
    }

    fn report_progress(
        &mut self,
        partition: i32,
        rescored: u64,
        total: u64,
    ) -> Result<(), ProcessorError> {
        let progress = RescoreProgress {
            revision: self.scoring.revision,
            partition,
            rescored,
            total,
        };
        tracing::info!(
            partition,
            revision = progress.revision,
            rescored,
            total,
            "re-score progress"
        );
        let payload = serde_json::to_vec(&progress).expect("progress always serialises");
        let provenance = RecordProvenance {
            correlation_id: format!("rescore-{}-progress-{partition}", progress.revision),
            source: Some("processor".into()),
            request_id: None,
        };
        let topic = self.control_topic.clone();
        self.enqueue(
            &topic,
            Some(control::CONTROL_PARTITION),
            Some(&control::progress_key(partition)),
            Some(&payload),
            provenance,
        )
    }

    /// A record on the control topic: a newer scoring revision is adopted, and every
    /// reference of every assigned partition re-scored under it. Progress records (this
    /// processor's and others') need nothing.
    async fn follow_control(
        &mut self,
        consumer: &StreamConsumer<ProcessorContext>,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
    ) -> Result<(), ProcessorError> {
        let mut control = ControlState::default();
        if let Err(error) = control.apply(key.unwrap_or_default(), payload) {
            tracing::warn!(%error, "control record ignored");
            return Ok(());
        }
        let Some(revision) = control.revision else {
            return Ok(());
        };
        if revision.revision <= self.scoring.revision {
            return Ok(());
        }
        let scoring = match ActiveScoring::from_revision(&revision) {
            Ok(scoring) => scoring,
            Err(error) => {
                tracing::error!(revision = revision.revision, %error, "scoring revision refused: scores stay under the active one; publish a corrected revision with `hub rescore`");
                return Ok(());
            }
        };
        tracing::info!(revision = revision.revision, reason = %revision.reason, "new scoring revision: re-scoring every assigned partition");
        self.complete_batch(consumer, CommitMode::Sync).await?;
        self.scoring = scoring;
        let assigned: BTreeSet<i32> = consumer
            .assignment()
            .map_err(ProcessorError::Consumer)?
            .elements()
            .iter()
            .map(|element| element.partition())
            .collect();
        for partition in assigned {
            if consumer.assignment_lost() {
                // Evicted meanwhile: the partitions' next owners re-score them.
                break;
            }
            self.restore(consumer, partition, true).await?;
        }
        Ok(())
    }

    fn send<R: AvroRecord>(
        &mut self,
        topic: Topic,
        record: &R,
        provenance: RecordProvenance,
    ) -> Result<(), ProcessorError> {
        let payload = self.encoder.encode(topic, record)?;
        let key = record.key();
        let name = self.topics.name(topic).to_owned();
        self.enqueue(&name, None, key.as_deref(), Some(&payload), provenance)
    }

    fn enqueue(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&str>,
        payload: Option<&[u8]>,
        provenance: RecordProvenance,
    ) -> Result<(), ProcessorError> {
        let mut record = FutureRecord::<str, [u8]>::to(topic).headers(provenance.to_headers());
        if let Some(partition) = partition {
            record = record.partition(partition);
        }
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(payload) = payload {
            record = record.payload(payload);
        }
        let mut record = record;
        loop {
            match self.producer.send_result(record) {
                Ok(delivery) => {
                    self.batch.deliveries.push(delivery);
                    return Ok(());
                }
                // The producer's queue is bounded: wait for it to drain instead of growing.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    self.producer.poll(Duration::from_millis(100));
                }
                Err((error, _)) => return Err(ProcessorError::Delivery(error)),
            }
        }
    }

    /// Writes the changelog of the references the batch changed, waits until the broker
    /// has acknowledged every output, then commits the batch's input offsets.
    async fn complete_batch(
        &mut self,
        consumer: &StreamConsumer<ProcessorContext>,
        mode: CommitMode,
    ) -> Result<(), ProcessorError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        // Outputs first, changelog second: a changelog record that reflects an input
        // position is only ever written once every output of that input was acknowledged,
        // which is what lets a restored processor skip such an input on redelivery.
        let outputs = std::mem::take(&mut self.batch.deliveries);
        await_acknowledgements(outputs).await?;
        if consumer.assignment_lost() {
            // Evicted from the group (a restore or re-score outlasted max.poll.interval.ms):
            // the partitions are already others', so nothing of this batch goes to their
            // changelog or commit; the next poll delivers the revocation and rejoins.
            tracing::warn!(
                references = self.batch.changed_references.len(),
                "the group evicted this processor: the batch is left to the partitions' owners; raise processor.max_poll_interval_ms if restores or re-scores take longer"
            );
            self.batch = Batch::default();
            return Ok(());
        }
        let changed = std::mem::take(&mut self.batch.changed_references);
        let changelog_topic = self.changelog_topic.clone();
        for (partition, gtin) in &changed {
            let Some(state) = self
                .partitions
                .get(partition)
                .and_then(|states| states.get(gtin))
            else {
                continue;
            };
            let payload = changelog::encode(state);
            let provenance = RecordProvenance {
                correlation_id: format!("changelog-{gtin}"),
                source: Some("processor".into()),
                request_id: None,
            };
            self.enqueue(
                &changelog_topic,
                Some(*partition),
                Some(gtin),
                Some(&payload),
                provenance,
            )?;
        }
        let batch = std::mem::take(&mut self.batch);
        await_acknowledgements(batch.deliveries).await?;
        let acknowledged_at = wall_clock_millis();
        for published_at in batch.scored_input_timestamps {
            metrics::histogram!(names::SIGNAL_TO_SCORE_LATENCY)
                .record((acknowledged_at - published_at).max(0) as f64 / 1_000.0);
        }
        // A re-score's batch has outputs but no input offsets to commit.
        if !batch.next_offsets.is_empty() {
            let mut offsets = TopicPartitionList::new();
            for ((topic, partition), next) in &batch.next_offsets {
                offsets
                    .add_partition_offset(topic, *partition, Offset::Offset(*next))
                    .map_err(ProcessorError::Consumer)?;
            }
            // A commit refused because a rebalance took a partition away is harmless: its
            // new owner replays from the last commit and recognises what this batch applied.
            if let Err(error) = consumer.commit(&offsets, mode) {
                tracing::warn!(%error, "input offsets not committed; the batch will be replayed by the partitions' owner");
            }
        }
        metrics::counter!(names::SENT_EVENTS, "component_kind" => "transform", "component_id" => "processor")
            .increment(batch.records as u64);
        let references: usize = self.partitions.values().map(HashMap::len).sum();
        metrics::gauge!(names::STATE_REFERENCES).set(references as f64);
        Ok(())
    }
}

/// Waits until the broker acknowledged every delivery; the first refusal fails the batch.
async fn await_acknowledgements(deliveries: Vec<DeliveryFuture>) -> Result<(), ProcessorError> {
    let acknowledged = try_join_all(deliveries)
        .await
        .map_err(|_| ProcessorError::Delivery(KafkaError::Canceled))?;
    for result in acknowledged {
        result.map_err(|(error, _)| ProcessorError::Delivery(error))?;
    }
    Ok(())
}

/// Decodes one input record into the contract of its topic.
async fn decode_input(
    decoder: &Decoder,
    topic: Topic,
    payload: &[u8],
) -> Result<Candidate, Quarantine> {
    Ok(match topic {
        Topic::ReferenceProducts => Candidate::Product(decode(decoder, topic, payload).await?),
        Topic::SignalsOffers => Candidate::Offer(decode(decoder, topic, payload).await?),
        Topic::SignalsStock => Candidate::Stock(decode(decoder, topic, payload).await?),
        Topic::SignalsCosts => Candidate::Cost(decode(decoder, topic, payload).await?),
        Topic::ScoresCurrent | Topic::ScoresHistory | Topic::Quarantine => {
            return Err(Quarantine::new(
                ReasonCode::UnknownSchema,
                format!("topic {} is not an input of the processor", topic.suffix()),
            ));
        }
    })
}

async fn decode<R: AvroRecord>(
    decoder: &Decoder,
    topic: Topic,
    payload: &[u8],
) -> Result<R, Quarantine> {
    decoder.decode(topic, payload).await.map_err(|error| {
        let reason = match error {
            DecodeError::UnknownFingerprint { .. } | DecodeError::UnknownSchemaId { .. } => {
                ReasonCode::UnknownSchema
            }
            _ => ReasonCode::Undecodable,
        };
        Quarantine::new(reason, error.to_string())
    })
}

fn record_type(topic: Topic) -> RecordType {
    match topic {
        Topic::ReferenceProducts => RecordType::ProductReference,
        Topic::SignalsOffers => RecordType::OfferSignal,
        Topic::SignalsStock => RecordType::StockSignal,
        Topic::SignalsCosts => RecordType::CostSignal,
        Topic::ScoresCurrent | Topic::ScoresHistory | Topic::Quarantine => RecordType::Unknown,
    }
}

fn wall_clock_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoked_partitions_changes_leave_the_changelog_and_the_commit() {
        let mut batch = Batch::default();
        for partition in 0..3 {
            batch.records += 1;
            batch
                .next_offsets
                .insert(("hub.signals.offers".to_owned(), partition), 10);
            batch
                .next_offsets
                .insert(("hub.signals.stock".to_owned(), partition), 20);
            batch
                .changed_references
                .insert((partition, format!("400638133393{partition}")));
        }
        batch.forget_partitions(&[1]);
        assert_eq!(
            batch.changed_references,
            BTreeSet::from([
                (0, "4006381333930".to_owned()),
                (2, "4006381333932".to_owned())
            ])
        );
        assert!(
            batch
                .next_offsets
                .keys()
                .all(|(_, partition)| *partition != 1)
        );
        assert_eq!(batch.next_offsets.len(), 4);
    }
}
