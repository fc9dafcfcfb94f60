//! In-memory stand-ins for what `hub connect` injects into a connector, for tests that run
//! a connector's poll: a cursor store and a record sink that keep everything in memory.

use std::collections::BTreeMap;

use async_trait::async_trait;
use hub_connectors::connector::{RecordSink, SinkError};
use hub_connectors::machinery::{Cursor, CursorKey, CursorStore, CursorStoreError};
use hub_connectors::sourced::Sourced;

#[derive(Debug, Default, Clone)]
pub struct MemoryCursorStore {
    pub cursors: BTreeMap<CursorKey, Cursor>,
}

#[async_trait]
impl CursorStore for MemoryCursorStore {
    async fn load(&mut self, key: &CursorKey) -> Result<Option<Cursor>, CursorStoreError> {
        Ok(self.cursors.get(key).cloned())
    }

    async fn save(&mut self, key: &CursorKey, cursor: &Cursor) -> Result<(), CursorStoreError> {
        self.cursors.insert(key.clone(), cursor.clone());
        Ok(())
    }
}

/// Keeps every accepted page; refuses the next `refuse_next` pages, like a broker that is
/// down.
#[derive(Debug, Default)]
pub struct CollectingSink {
    pub pages: Vec<Vec<Sourced>>,
    pub refuse_next: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("the test sink refuses this page")]
struct Refused;

#[async_trait]
impl RecordSink for CollectingSink {
    async fn accept(&mut self, page: Vec<Sourced>) -> Result<(), SinkError> {
        if self.refuse_next > 0 {
            self.refuse_next -= 1;
            return Err(SinkError {
                records: page.len(),
                source: Box::new(Refused),
            });
        }
        self.pages.push(page);
        Ok(())
    }
}

impl CollectingSink {
    pub fn records(&self) -> impl Iterator<Item = &Sourced> {
        self.pages.iter().flatten()
    }
}
