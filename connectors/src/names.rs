//! Every metric the connectors emit, in the style of `hub`'s telemetry names (`hub_` prefix,
//! `_total` counters, `_seconds` for durations). Labels are bounded: `connector`,
//! `operation` (the API's operation name), `error_type` (see
//! [`crate::machinery::ErrorKind::error_type`]), `reason` (a quarantine reason code). Never
//! a GTIN, a SKU or a request id.

/// Requests sent to a source (each attempt, retries included). Labels: connector, operation.
pub const REQUESTS: &str = "hub_connector_requests_total";
/// Failed requests and polls by class. Labels: connector, operation, error_type.
pub const ERRORS: &str = "hub_connector_errors_total";
/// Responses that asked us to slow down (HTTP 429). Labels: connector, operation.
pub const THROTTLED: &str = "hub_connector_throttled_total";
/// Signals handed to the sink. Labels: connector, operation.
pub const RECORDS_OUT: &str = "hub_connector_sent_records_total";
/// Signals not handed to the sink because they repeat what the connector handed over earlier
/// in the same poll cycle: Odoo's stock levels, read again by its quant and move passes.
/// Labels: connector, operation.
pub const REPEATS_SKIPPED: &str = "hub_connector_repeated_signals_skipped_total";
/// Payload elements handed to the sink as rejected, bound for quarantine. Labels:
/// connector, operation, reason.
pub const RECORDS_QUARANTINED: &str = "hub_connector_quarantined_records_total";
/// Unix time of the last successful response. Labels: connector, operation.
pub const LAST_SUCCESS: &str = "hub_connector_last_success_timestamp_seconds";
/// Seconds since the operation's cursor last advanced. Labels: connector, operation.
pub const CURSOR_LAG: &str = "hub_connector_cursor_lag_seconds";
/// Duration of one request, response body included. Labels: connector, operation.
pub const REQUEST_DURATION: &str = "hub_connector_request_duration_seconds";
/// 1 while the connector's circuit is closed, 0 while open or half-open. Labels: connector.
pub const HEALTHY: &str = "hub_connector_healthy";
