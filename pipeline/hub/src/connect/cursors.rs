//! Connector cursors in the compacted topic `<prefix>.connectors.cursors`, keyed
//! `<connector>.<operation>` ([`CursorKey`]'s display form). The topic is read to its end
//! when `hub connect` starts; a cursor is saved after the page it follows was acknowledged
//! (see `hub_connectors::connector::hand_over`), and `save` returns once the broker holds
//! it, so a restart resumes exactly after the last accepted page.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hub_connectors::machinery::{Cursor, CursorAction, CursorKey, CursorStore, CursorStoreError};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};

use super::{ConnectError, read_compacted};
use crate::config::KafkaConfig;
use crate::kafka::RecordProvenance;

/// A cursor as stored: its key's parts spelled out, so readers need not parse the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCursor {
    pub connector: String,
    pub operation: String,
    pub value: String,
    pub advanced_at: i64,
}

/// Every cursor of the topic, latest value per key.
pub async fn read_all(kafka: &KafkaConfig, topic: &str) -> Result<Vec<StoredCursor>, ConnectError> {
    read_compacted(kafka, topic)
        .await?
        .into_iter()
        .map(|(key, value)| {
            serde_json::from_slice::<StoredCursor>(&value).map_err(|error| {
                ConnectError::Unreadable {
                    topic: topic.to_owned(),
                    key: String::from_utf8_lossy(&key).into_owned(),
                    detail: error.to_string(),
                }
            })
        })
        .collect()
}

/// The [`CursorStore`] of `hub connect`. Clones share the cursors and the producer, one per
/// connector task.
#[derive(Clone)]
pub struct KafkaCursorStore {
    producer: FutureProducer,
    topic: String,
    cursors: Arc<Mutex<HashMap<CursorKey, Cursor>>>,
}

impl KafkaCursorStore {
    /// Reads every cursor of `topic` (to its end) and keeps them for [`CursorStore::load`].
    pub async fn open(
        kafka: &KafkaConfig,
        topic: &str,
        producer: FutureProducer,
    ) -> Result<KafkaCursorStore, ConnectError> {
        let cursors = read_all(kafka, topic)
            .await?
            .into_iter()
            .map(|stored| {
                (
                    CursorKey::new(stored.connector, stored.operation),
                    Cursor {
                        value: stored.value,
                        advanced_at: stored.advanced_at,
                    },
                )
            })
            .collect();
        Ok(KafkaCursorStore {
            producer,
            topic: topic.to_owned(),
            cursors: Arc::new(Mutex::new(cursors)),
        })
    }

    fn cursors(&self) -> std::sync::MutexGuard<'_, HashMap<CursorKey, Cursor>> {
        self.cursors.lock().expect("cursor map lock poisoned")
    }
}

fn store_error(
    action: CursorAction,
    key: &CursorKey,
    source: impl std::error::Error + Send + Sync + 'static,
) -> CursorStoreError {
    CursorStoreError {
        action,
        key: key.clone(),
        source: Box::new(source),
    }
}

#[async_trait]
impl CursorStore for KafkaCursorStore {
    async fn load(&mut self, key: &CursorKey) -> Result<Option<Cursor>, CursorStoreError> {
        Ok(self.cursors().get(key).cloned())
    }

    async fn save(&mut self, key: &CursorKey, cursor: &Cursor) -> Result<(), CursorStoreError> {
        let stored = StoredCursor {
            connector: key.connector.clone(),
            operation: key.operation.clone(),
            value: cursor.value.clone(),
            advanced_at: cursor.advanced_at,
        };
        let payload = serde_json::to_vec(&stored)
            .map_err(|error| store_error(CursorAction::Save, key, error))?;
        let record_key = key.to_string();
        let provenance = RecordProvenance {
            correlation_id: format!("cursor-{record_key}-{}", cursor.advanced_at),
            source: Some(record_key.clone()),
            request_id: None,
        };
        let delivery = self
            .producer
            .send_result(
                FutureRecord::<str, [u8]>::to(&self.topic)
                    .key(&record_key)
                    .payload(&payload)
                    .headers(provenance.to_headers()),
            )
            .map_err(|(error, _)| store_error(CursorAction::Save, key, error))?;
        delivery
            .await
            .map_err(|canceled| store_error(CursorAction::Save, key, canceled))?
            .map_err(|(error, _)| store_error(CursorAction::Save, key, error))?;
        self.cursors().insert(key.clone(), cursor.clone());
        Ok(())
    }
}
