//! Incremental cursors: where a connector operation stopped reading its source (an offset,
//! a `nextToken`, an `updatedAtMin` timestamp...), as an opaque string. A connector reads
//! its cursor at each poll and advances it only after the sink accepted the page read from
//! it (see [`crate::connector::hand_over`]), so a restart resumes from the persisted cursor
//! with no gap. The persistence is injected: `hub connect` keeps cursors in a compacted
//! Kafka topic keyed by [`CursorKey`].

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::client::epoch_millis;
use super::error::{ConnectorError, ErrorKind};

/// Whose cursor: one per connector and operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CursorKey {
    pub connector: String,
    pub operation: String,
}

impl CursorKey {
    pub fn new(connector: impl Into<String>, operation: impl Into<String>) -> Self {
        CursorKey {
            connector: connector.into(),
            operation: operation.into(),
        }
    }
}

/// `<connector>.<operation>`, the form used as a record key and in logs.
impl fmt::Display for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.connector, self.operation)
    }
}

/// A position in a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Meaningful only to the connector that wrote it.
    pub value: String,
    /// When the cursor was advanced to `value`, epoch milliseconds.
    pub advanced_at: i64,
}

impl Cursor {
    /// The cursor of `key` advanced now to `position`, written as JSON: the form of the
    /// connectors whose position has several parts (a sync window and page, a sweep's state,
    /// the files already read).
    pub fn of_json(key: &CursorKey, position: &impl Serialize) -> Result<Cursor, ConnectorError> {
        let value = serde_json::to_string(position).map_err(|error| {
            ConnectorError::new(
                &key.connector,
                &key.operation,
                ErrorKind::Config(format!("the cursor cannot be written as JSON: {error}")),
            )
        })?;
        Ok(Cursor {
            value,
            advanced_at: epoch_millis(SystemTime::now()),
        })
    }

    /// The position a cursor written by [`Cursor::of_json`] holds; none when there is no
    /// cursor, or when its value is not such a position. That is logged with `instead`, what
    /// the connector does then: it starts over rather than stops, because reading a source
    /// again is harmless and skipping part of it is not.
    pub fn json_position<T: DeserializeOwned>(
        key: &CursorKey,
        cursor: Option<&Cursor>,
        instead: &str,
    ) -> Option<T> {
        let cursor = cursor?;
        serde_json::from_str(&cursor.value)
            .inspect_err(|error| {
                tracing::warn!(
                    cursor = %key,
                    value = %cursor.value,
                    %error,
                    "the cursor does not hold a position of this operation: {instead}"
                );
            })
            .ok()
    }
}

/// The persistence of cursors. `save` returns once the cursor is durable: a cursor that
/// `load` does not return after a restart makes the connector read the page again.
#[async_trait]
pub trait CursorStore: Send {
    async fn load(&mut self, key: &CursorKey) -> Result<Option<Cursor>, CursorStoreError>;
    async fn save(&mut self, key: &CursorKey, cursor: &Cursor) -> Result<(), CursorStoreError>;
}

/// A failure of the cursor store, with the key it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{action} cursor {key} failed: {source}")]
pub struct CursorStoreError {
    pub action: CursorAction,
    pub key: CursorKey,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorAction {
    Load,
    Save,
}

impl fmt::Display for CursorAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CursorAction::Load => "loading",
            CursorAction::Save => "saving",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Window {
        modified_min: Option<i64>,
        page: u32,
    }

    #[test]
    fn a_position_written_as_json_reads_back_and_anything_else_reads_as_none() {
        let key = CursorKey::new("fnac_darty", "offers_query");
        let window = Window {
            modified_min: Some(1_764_355_200_000),
            page: 3,
        };
        let cursor = Cursor::of_json(&key, &window).expect("writable");
        assert!(cursor.advanced_at > 0);
        assert_eq!(
            Cursor::json_position::<Window>(&key, Some(&cursor), "starting over"),
            Some(window)
        );
        assert_eq!(
            Cursor::json_position::<Window>(&key, None, "starting over"),
            None
        );
        for value in [
            "",
            "42",
            r#"{"page":"three"}"#,
            r#"{"after":"3711317402018"}"#,
        ] {
            let foreign = Cursor {
                value: value.to_owned(),
                advanced_at: 0,
            };
            assert_eq!(
                Cursor::json_position::<Window>(&key, Some(&foreign), "starting over"),
                None,
                "{value:?}"
            );
        }
    }
}
