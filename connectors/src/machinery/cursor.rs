//! Incremental cursors: where a connector operation stopped reading its source (an offset,
//! a `nextToken`, an `updatedAtMin` timestamp...), as an opaque string. A connector reads
//! its cursor at each poll and advances it only after the sink accepted the page read from
//! it (see [`crate::connector::hand_over`]), so a restart resumes from the persisted cursor
//! with no gap. The persistence is injected: `hub connect` keeps cursors in a compacted
//! Kafka topic keyed by [`CursorKey`].

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

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
