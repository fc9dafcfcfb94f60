//! Recording the connector metrics of [`crate::names`] for one connector.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hub_core::reason::ReasonCode;

use super::breaker::BreakerState;
use super::cursor::{Cursor, CursorKey};
use crate::names;

/// The metrics of one connector; cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnectorMetrics {
    connector: String,
}

impl ConnectorMetrics {
    pub fn new(connector: impl Into<String>) -> Self {
        ConnectorMetrics {
            connector: connector.into(),
        }
    }

    pub fn connector(&self) -> &str {
        &self.connector
    }

    fn labels(&self, operation: &str) -> [(&'static str, String); 2] {
        [
            ("connector", self.connector.clone()),
            ("operation", operation.to_owned()),
        ]
    }

    pub fn request_sent(&self, operation: &str) {
        metrics::counter!(names::REQUESTS, &self.labels(operation)).increment(1);
    }

    pub fn request_finished(&self, operation: &str, duration: Duration) {
        metrics::histogram!(names::REQUEST_DURATION, &self.labels(operation))
            .record(duration.as_secs_f64());
    }

    pub fn error(&self, operation: &str, error_type: &'static str) {
        let [connector, operation] = self.labels(operation);
        metrics::counter!(
            names::ERRORS,
            &[connector, operation, ("error_type", error_type.to_owned())]
        )
        .increment(1);
    }

    pub fn throttled(&self, operation: &str) {
        metrics::counter!(names::THROTTLED, &self.labels(operation)).increment(1);
    }

    pub fn succeeded(&self, operation: &str, at: SystemTime) {
        let seconds = at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        metrics::gauge!(names::LAST_SUCCESS, &self.labels(operation)).set(seconds);
    }

    pub fn records_out(&self, operation: &str, count: usize) {
        metrics::counter!(names::RECORDS_OUT, &self.labels(operation)).increment(count as u64);
    }

    pub fn repeats_skipped(&self, operation: &str, count: usize) {
        metrics::counter!(names::REPEATS_SKIPPED, &self.labels(operation)).increment(count as u64);
    }

    pub fn records_quarantined(&self, operation: &str, reason: ReasonCode, count: usize) {
        let [connector, operation] = self.labels(operation);
        metrics::counter!(
            names::RECORDS_QUARANTINED,
            &[connector, operation, ("reason", reason.as_str().to_owned())]
        )
        .increment(count as u64);
    }

    pub fn circuit(&self, state: BreakerState) {
        metrics::gauge!(names::HEALTHY, "connector" => self.connector.clone())
            .set(if state.is_healthy() { 1.0 } else { 0.0 });
    }
}

/// Sets the cursor lag gauge of `key`: seconds from when its cursor last advanced to
/// `now_ms` (epoch milliseconds). [`crate::connector::load_cursor`] calls it as every poll
/// starts, so the gauge grows while a connector is stuck, and
/// [`crate::connector::hand_over`] as the cursor advances.
pub fn record_cursor_lag(key: &CursorKey, cursor: &Cursor, now_ms: i64) {
    let lag_seconds = (now_ms - cursor.advanced_at).max(0) as f64 / 1_000.0;
    metrics::gauge!(
        names::CURSOR_LAG,
        "connector" => key.connector.clone(),
        "operation" => key.operation.clone()
    )
    .set(lag_seconds);
}
