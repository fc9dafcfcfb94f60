//! Requesting a re-score: publish the next scoring revision on the control topic, then
//! follow the processors' progress until every input partition is re-scored.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hub_core::profile::bundle::override_files;
use hub_schemas::Topic;
use rdkafka::Message;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::config::Config;
use crate::control::{self, ActiveScoring, ControlRecordError, RescoreProgress, ScoringRevision};
use crate::kafka::{self, KafkaAdapterError, PartitionReadError, TopicPolicy};
use crate::wiring::{self, WiringError};

#[derive(Debug, thiserror::Error)]
pub enum RescoreError {
    #[error(transparent)]
    Wiring(#[from] WiringError),
    #[error(transparent)]
    Topics(#[from] KafkaAdapterError),
    #[error("control topic: {0}")]
    Control(#[from] PartitionReadError<ControlRecordError>),
    #[error(
        "the scoring configuration to publish is invalid: {0}; fix scoring.config_dir or the profile names, nothing was published"
    )]
    Invalid(String),
    #[error("Kafka: {0}; the broker may be unavailable, retry once it answers")]
    Kafka(#[from] KafkaError),
    #[error(
        "revision {revision} published, but partitions {waiting:?} did not finish re-scoring within {waited:?}: is `hub process` running? Processors apply the revision when they start"
    )]
    Timeout {
        revision: u32,
        waiting: Vec<i32>,
        waited: Duration,
    },
}

/// What to publish: the profiles by name (the configured ones when `None`), and why.
#[derive(Debug, Clone, Default)]
pub struct RescoreRequest {
    pub weights_profile: Option<String>,
    pub seller_profile: Option<String>,
    pub reason: String,
}

/// Publishes the scoring configuration of `config` (its `scoring.config_dir` files, exchange
/// rates and profiles, as overridden by `request`) as the next revision, after checking it
/// loads and names existing profiles.
pub async fn publish(
    config: &Config,
    request: &RescoreRequest,
) -> Result<ScoringRevision, RescoreError> {
    let scoring = &config.scoring;
    let files = if scoring.config_dir.is_empty() {
        BTreeMap::new()
    } else {
        override_files(std::path::Path::new(&scoring.config_dir))
            .map_err(|error| RescoreError::Invalid(error.to_string()))?
    };
    let topics = wiring::topic_names(config).map_err(WiringError::from)?;
    let topic = control::topic_name(topics.prefix());
    kafka::ensure_topics(
        &config.kafka,
        [TopicPolicy {
            name: &topic,
            compacted: true,
        }],
    )
    .await?;
    let (current, _) = control::read(&config.kafka, &topic)?;
    let revision = ScoringRevision {
        revision: current.revision.map_or(0, |revision| revision.revision) + 1,
        weights_profile: request
            .weights_profile
            .clone()
            .unwrap_or_else(|| scoring.weights_profile.clone()),
        seller_profile: request
            .seller_profile
            .clone()
            .unwrap_or_else(|| scoring.seller_profile.clone()),
        fx: scoring.fx.clone(),
        files,
        reason: request.reason.clone(),
        published_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as i64),
    };
    ActiveScoring::from_revision(&revision).map_err(RescoreError::Invalid)?;
    let payload = serde_json::to_vec(&revision).expect("a revision always serialises");
    let producer: FutureProducer = kafka::producer_config(&config.kafka).create()?;
    producer
        .send(
            FutureRecord::to(&topic)
                .partition(control::CONTROL_PARTITION)
                .key(control::REVISION_KEY)
                .payload(&payload),
            Duration::from_secs(30),
        )
        .await
        .map_err(|(error, _)| error)?;
    Ok(revision)
}

/// Follows the processors' progress on `revision` until every partition of the input
/// topics reports it re-scored, calling `on_progress` whenever the progress changed. The
/// control topic is read once, then followed from where that read stopped.
pub async fn wait(
    config: &Config,
    revision: u32,
    timeout: Duration,
    mut on_progress: impl FnMut(&BTreeMap<i32, RescoreProgress>),
) -> Result<(), RescoreError> {
    let topics = wiring::topic_names(config).map_err(WiringError::from)?;
    let topic = control::topic_name(topics.prefix());
    // Every input topic shares the product reference topic's partitioning.
    let partitions =
        kafka::partition_count(&config.kafka, topics.name(Topic::ReferenceProducts))?.unwrap_or(0);
    let deadline = Instant::now() + timeout;
    let (mut control, next) = control::read(&config.kafka, &topic)?;
    let follower = control::follower(
        &config.kafka,
        &format!("{}.rescore", config.kafka.group_id),
        &topic,
        next,
    )?;
    let mut shown = BTreeMap::new();
    loop {
        let progress: BTreeMap<i32, RescoreProgress> = control
            .progress
            .iter()
            .filter(|(_, progress)| progress.revision >= revision)
            .map(|(partition, progress)| (*partition, *progress))
            .collect();
        if progress != shown {
            on_progress(&progress);
            shown = progress;
        }
        let waiting: Vec<i32> = (0..partitions)
            .filter(|partition| !shown.get(partition).is_some_and(RescoreProgress::is_done))
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        let Ok(message) = tokio::time::timeout_at(deadline.into(), follower.recv()).await else {
            return Err(RescoreError::Timeout {
                revision,
                waiting,
                waited: timeout,
            });
        };
        let message = message?;
        control
            .apply(message.key().unwrap_or_default(), message.payload())
            .map_err(|error| RescoreError::Control(PartitionReadError::Record(error)))?;
    }
}
