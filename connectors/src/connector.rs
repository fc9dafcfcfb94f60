//! The interface every connector implements, and the one way a page is handed over.
//!
//! # Contract
//!
//! A runner (`hub connect`) owns a connector, a [`CursorStore`] and a [`RecordSink`], and
//! calls [`Connector::poll`] in a loop:
//!
//! - One `poll` is one step of work: at most one page of the source (one request, or one
//!   request and its follow-ups for the same elements), so a poll returns within seconds
//!   and the runner can stop between polls.
//! - `poll` reads its cursor(s) from the store, fetches the page after the cursor, maps it
//!   to [`Sourced`] elements and hands them over with [`hand_over`]: the sink accepts the
//!   whole page first, and only then is the cursor advanced. A crash before the cursor is
//!   saved makes the next run read the page again (at least once, page-sized); a stop
//!   between polls resumes exactly after the last page (no gap, no duplicate). Runners
//!   must therefore not cancel a `poll` in flight: stop between polls.
//! - [`PollReport::caught_up`] tells the runner the source has nothing more right now:
//!   wait for the poll interval before the next poll. Otherwise poll again at once (the
//!   rate budget paces the requests).
//! - An error's [`Disposition`](crate::machinery::Disposition) tells the runner what to
//!   do: `RetryLater { after }` (poll again after `after`, or the poll interval),
//!   `Stop` (stop this connector and report). Elements that cannot be mapped never
//!   surface as errors: they are `Sourced::Rejected` in the page, bound for quarantine.

use std::time::SystemTime;

use async_trait::async_trait;

use crate::machinery::{
    BreakerState, ConnectorError, ConnectorMetrics, Cursor, CursorKey, CursorStore, ErrorKind,
    epoch_millis, record_cursor_lag,
};
use crate::sourced::Sourced;

/// Where a connector's records go. `accept` returns once the page is durably handed over
/// (for `hub connect`: every record acknowledged by the broker), so the cursor may move.
#[async_trait]
pub trait RecordSink: Send {
    async fn accept(&mut self, page: Vec<Sourced>) -> Result<(), SinkError>;
}

/// The sink could not take a page; nothing of it counts as handed over.
#[derive(Debug, thiserror::Error)]
#[error("handing over a page of {records} records failed: {source}")]
pub struct SinkError {
    pub records: usize,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// What one poll did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollReport {
    /// Signals handed over.
    pub signals: usize,
    /// Elements handed over as rejected (bound for quarantine).
    pub rejected: usize,
    /// The source has nothing beyond this page for now: wait for the poll interval.
    pub caught_up: bool,
}

impl PollReport {
    pub fn add(&mut self, handed_over: HandedOver) {
        self.signals += handed_over.signals;
        self.rejected += handed_over.rejected;
    }
}

/// A source read incrementally. See the module documentation for the contract.
#[async_trait]
pub trait Connector: Send {
    /// The connector's key (`mirakl`, `amazon`...), as in configuration and metrics.
    fn name(&self) -> &str;

    /// The state of the connector's circuit breaker: closed means healthy.
    fn circuit(&self) -> BreakerState;

    /// Reads the next page after the persisted cursor and hands it over.
    async fn poll(
        &mut self,
        cursors: &mut dyn CursorStore,
        out: &mut dyn RecordSink,
    ) -> Result<PollReport, ConnectorError>;
}

/// Counts of one handed-over page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HandedOver {
    pub signals: usize,
    pub rejected: usize,
}

/// Loads the cursor of `key`, as a poll starts, and records how long ago it last advanced:
/// every poll does, failing ones too, so the cursor lag grows while a connector is stuck.
pub async fn load_cursor(
    cursors: &mut dyn CursorStore,
    key: &CursorKey,
) -> Result<Option<Cursor>, ConnectorError> {
    let cursor = cursors.load(key).await.map_err(|error| {
        ConnectorError::new(&key.connector, &key.operation, ErrorKind::Cursor(error))
    })?;
    if let Some(cursor) = &cursor {
        record_cursor_lag(key, cursor, epoch_millis(SystemTime::now()));
    }
    Ok(cursor)
}

/// Hands a page over, then advances the cursor of `key` to `next`: the one path from a
/// fetched page to the sink, so no connector can advance a cursor before its page is
/// accepted. Counts records out and rejected (by reason) in the metrics of `key`'s
/// operation, and records its cursor lag as of the advance.
pub async fn hand_over(
    metrics: &ConnectorMetrics,
    key: &CursorKey,
    page: Vec<Sourced>,
    next: &Cursor,
    cursors: &mut dyn CursorStore,
    out: &mut dyn RecordSink,
) -> Result<HandedOver, ConnectorError> {
    let handed_over =
        hand_over_without_cursor(metrics, &key.connector, &key.operation, page, out).await?;
    cursors.save(key, next).await.map_err(|failure| {
        ConnectorError::new(&key.connector, &key.operation, ErrorKind::Cursor(failure))
    })?;
    record_cursor_lag(key, next, epoch_millis(SystemTime::now()));
    Ok(handed_over)
}

/// Hands over a page that moves no cursor (what a look-up could not read), counting its
/// records out and rejected in the metrics of `operation`.
pub async fn hand_over_without_cursor(
    metrics: &ConnectorMetrics,
    connector: &str,
    operation: &str,
    page: Vec<Sourced>,
    out: &mut dyn RecordSink,
) -> Result<HandedOver, ConnectorError> {
    let mut rejected_by_reason = std::collections::BTreeMap::new();
    for element in &page {
        if let Sourced::Rejected { reason, .. } = element {
            *rejected_by_reason.entry(*reason).or_insert(0usize) += 1;
        }
    }
    let rejected: usize = rejected_by_reason.values().sum();
    let handed_over = HandedOver {
        signals: page.len() - rejected,
        rejected,
    };
    if !page.is_empty() {
        out.accept(page).await.map_err(|failure| {
            ConnectorError::new(connector, operation, ErrorKind::Sink(failure))
        })?;
    }
    metrics.records_out(operation, handed_over.signals);
    for (reason, count) in rejected_by_reason {
        metrics.records_quarantined(operation, reason, count);
    }
    Ok(handed_over)
}
