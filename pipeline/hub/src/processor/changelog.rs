//! The durable copy of the join state: a compacted topic keyed by GTIN, with one partition
//! per input partition (the same number), so a processor that is assigned input partition
//! `p` restores exactly changelog partition `p`.

use std::collections::HashMap;

use hub_core::state::ReferenceState;

use crate::config::KafkaConfig;
use crate::kafka::{self, PartitionReadError};

/// The changelog topic of a deployment: internal to the processor, not a contract.
pub fn topic_name(topic_prefix: &str) -> String {
    format!("{topic_prefix}.state.references")
}

#[derive(Debug, thiserror::Error)]
pub enum ChangelogError {
    #[error("changelog: {0}")]
    Read(#[from] PartitionReadError<CorruptState>),
}

#[derive(Debug, thiserror::Error)]
#[error(
    "changelog offset {offset} (key {key:?}) is not a valid reference state: {source}; the topic was written by an incompatible processor version"
)]
pub struct CorruptState {
    offset: i64,
    key: String,
    source: serde_json::Error,
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
    let mut states = HashMap::new();
    kafka::read_partition_to_end(config, topic, partition, |offset, key, payload| {
        let key = String::from_utf8_lossy(key).into_owned();
        match payload {
            Some(payload) => {
                let state = serde_json::from_slice(payload).map_err(|source| CorruptState {
                    offset,
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
        Ok(())
    })?;
    Ok(states)
}
