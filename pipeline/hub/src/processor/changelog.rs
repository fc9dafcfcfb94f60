//! The durable copy of the join state: a compacted topic keyed by GTIN, with one partition
//! per input partition (the same number), so a processor that is assigned input partition
//! `p` restores exactly changelog partition `p`.

use std::collections::HashMap;
use std::time::Duration;

use hub_core::state::ReferenceState;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::kafka;

const RESTORE_POLL: Duration = Duration::from_secs(10);

/// The changelog topic of a deployment: internal to the processor, not a contract.
pub fn topic_name(topic_prefix: &str) -> String {
    format!("{topic_prefix}.state.references")
}

#[derive(Debug, thiserror::Error)]
pub enum ChangelogError {
    #[error(
        "changelog {topic}/{partition}: {source}; the broker may be unavailable, restart the processor once it answers"
    )]
    Kafka {
        topic: String,
        partition: i32,
        source: KafkaError,
    },
    #[error(
        "changelog {topic}/{partition}@{offset} (key {key:?}) is not a valid reference state: {source}; the topic was written by an incompatible processor version"
    )]
    Corrupt {
        topic: String,
        partition: i32,
        offset: i64,
        key: String,
        source: serde_json::Error,
    },
    #[error(
        "changelog {topic}/{partition}: no record arrived within {RESTORE_POLL:?} while {remaining} remained before the high watermark"
    )]
    Stalled {
        topic: String,
        partition: i32,
        remaining: i64,
    },
}

/// The state's wire form: JSON, because it is internal, small per reference, and easy to
/// inspect with any Kafka tool while debugging a restore.
pub fn encode(state: &ReferenceState) -> Vec<u8> {
    serde_json::to_vec(state).expect("reference state always serialises")
}

/// Reads changelog partition `partition` from the start to its high watermark: the state of
/// every reference of that partition as of the last acknowledged batch.
pub fn restore(
    config: &KafkaConfig,
    topic: &str,
    partition: i32,
) -> Result<HashMap<String, ReferenceState>, ChangelogError> {
    let kafka_error = |source| ChangelogError::Kafka {
        topic: topic.to_owned(),
        partition,
        source,
    };
    let consumer: BaseConsumer = kafka::base_client_config(config)
        .set("group.id", format!("{}.restore", config.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .map_err(kafka_error)?;
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, RESTORE_POLL)
        .map_err(kafka_error)?;
    let mut states = HashMap::new();
    if high <= low {
        return Ok(states);
    }
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, partition, Offset::Beginning)
        .map_err(kafka_error)?;
    consumer.assign(&assignment).map_err(kafka_error)?;
    let mut next = low;
    while next < high {
        let message = consumer
            .poll(RESTORE_POLL)
            .ok_or(ChangelogError::Stalled {
                topic: topic.to_owned(),
                partition,
                remaining: high - next,
            })?
            .map_err(kafka_error)?;
        next = message.offset() + 1;
        let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
        match message.payload() {
            Some(payload) => {
                let state =
                    serde_json::from_slice(payload).map_err(|source| ChangelogError::Corrupt {
                        topic: topic.to_owned(),
                        partition,
                        offset: message.offset(),
                        key: key.clone(),
                        source,
                    })?;
                states.insert(key, state);
            }
            // A tombstone: the reference was removed.
            None => {
                states.remove(&key);
            }
        }
    }
    Ok(states)
}
