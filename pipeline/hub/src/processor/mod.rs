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
use hub_core::profile::EconomicsConfig;
use hub_core::reason::{Provenance, Quarantine, ReasonCode, RecordType};
use hub_core::score::{ScoringInput, score_reference};
use hub_core::state::{ApplyOutcome, InputPosition, ReferenceState};
use hub_schemas::{AvroRecord, DecodeError, Decoder, Encoder, Topic, TopicNames};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tracing::Instrument;

use crate::config::{Config, KafkaConfig};
use crate::kafka::{self, KafkaAdapterError, RecordProvenance, TopicPolicy};
use crate::telemetry::names;
use crate::wiring::{self, WiringError};
use context::ProcessorContext;

pub use changelog::ChangelogError;

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
    let changelog = TopicPolicy {
        name: &changelog_topic,
        compacted: true,
    };
    kafka::ensure_topics(
        &config.kafka,
        specs.iter().map(TopicPolicy::from).chain([changelog]),
    )
    .await?;
    let economics = wiring::economics(config).map_err(ProcessorError::Scoring)?;
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
        economics,
        partitions: HashMap::new(),
        batch: Batch::default(),
    };
    let linger = Duration::from_millis(config.processor.linger_ms);
    tokio::pin!(shutdown);
    loop {
        let next = if processor.batch.is_empty() {
            tokio::select! {
                message = consumer.recv() => Some(message),
                () = &mut shutdown => break,
            }
        } else {
            tokio::select! {
                message = tokio::time::timeout(linger, consumer.recv()) => message.ok(),
                () = &mut shutdown => break,
            }
        };
        let revoked = context.take_revoked();
        if !revoked.is_empty() {
            // The batch in progress may hold changes of the revoked partitions' references:
            // their changelog must be written before their state is dropped, or a commit
            // accepted by the new generation would skip records the changelog lacks.
            processor
                .complete_batch(&consumer, CommitMode::Sync)
                .await?;
            for partition in revoked {
                processor.partitions.remove(&partition);
            }
        }
        match next {
            Some(message) => {
                let message = message.map_err(ProcessorError::Consumer)?;
                // Every log line about this record carries its correlation id.
                let provenance = RecordProvenance::from_message(&message);
                let span = tracing::info_span!(
                    "record",
                    correlation_id = %provenance.correlation_id
                );
                processor
                    .handle(&message, provenance)
                    .instrument(span)
                    .await?;
                if processor.batch.records >= config.processor.max_batch_records {
                    processor
                        .complete_batch(&consumer, CommitMode::Async)
                        .await?;
                }
            }
            None => {
                processor
                    .complete_batch(&consumer, CommitMode::Async)
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

struct Processor<'c> {
    config: &'c Config,
    topics: TopicNames,
    changelog_topic: String,
    encoder: Encoder,
    decoder: Decoder,
    producer: FutureProducer,
    economics: EconomicsConfig,
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
        self.records == 0
    }
}

impl Processor<'_> {
    async fn handle(
        &mut self,
        message: &BorrowedMessage<'_>,
        provenance: RecordProvenance,
    ) -> Result<(), ProcessorError> {
        let partition = message.partition();
        let offset = message.offset();
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
        let state = states.entry(gtin.clone()).or_default();
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
        let scores = self.score(partition, &gtin, &channels);
        for score in scores {
            self.send(Topic::ScoresCurrent, &score, provenance.clone())?;
            self.send(Topic::ScoresHistory, &score, provenance.clone())?;
            metrics::counter!(names::SCORES_EMITTED, "channel" => score.channel.clone())
                .increment(1);
        }
        self.batch.scored_input_timestamps.push(published_at);
        Ok(())
    }

    /// Scores `channels` of one reference. A reference without its product record yet is
    /// not scored: it will be, on every channel, when the product arrives.
    fn score(
        &self,
        partition: i32,
        gtin: &str,
        channels: &[Channel],
    ) -> Vec<hub_schemas::records::ReferenceScore> {
        let state = &self.partitions[&partition][gtin];
        let Some(reference) = &state.product else {
            return Vec::new();
        };
        let scoring = &self.config.scoring;
        let weights = self
            .economics
            .weights(&scoring.weights_profile)
            .expect("checked at start-up");
        let seller = self
            .economics
            .seller(&scoring.seller_profile)
            .expect("checked at start-up");
        channels
            .iter()
            .filter_map(|channel| {
                let input = ScoringInput {
                    reference,
                    channel: *channel,
                    offer: state.offer(*channel),
                    stock: &state.stock,
                    costs: &state.costs,
                    config: &self.economics,
                    weights,
                    seller,
                    fx: &scoring.fx,
                    version: state.score_version(*channel),
                    now: None,
                };
                score_reference(&input)
                    .inspect_err(|error| {
                        metrics::counter!(names::ERRORS, "component_kind" => "transform", "component_id" => "scoring", "error_type" => "scoring_input")
                            .increment(1);
                        tracing::warn!(gtin, channel = %channel, %error, "reference not scored on this channel until its inputs are fixed");
                    })
                    .ok()
            })
            .collect()
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
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), next) in &batch.next_offsets {
            offsets
                .add_partition_offset(topic, *partition, Offset::Offset(*next))
                .map_err(ProcessorError::Consumer)?;
        }
        // A commit refused because a rebalance took a partition away is harmless: its new
        // owner replays from the last commit and recognises what this batch applied.
        if let Err(error) = consumer.commit(&offsets, mode) {
            tracing::warn!(%error, "input offsets not committed; the batch will be replayed by the partitions' owner");
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
