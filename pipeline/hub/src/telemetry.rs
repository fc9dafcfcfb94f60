//! Logs and metrics. Logs are JSON lines (or text for humans) carrying the correlation id
//! of the record being handled; metrics follow Vector's naming rules (`hub_` prefix,
//! `_total` counters, `_seconds` histograms, bounded label values only: never a GTIN).

use std::net::SocketAddr;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};
use rdkafka::Statistics;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// Kafka header carrying the id that ties a record's log lines together across services.
pub const CORRELATION_ID_HEADER: &str = "hub-correlation-id";

pub mod names {
    //! Every metric the hub emits, in one place so dashboards and alert rules can be
    //! checked against it.
    pub const RECEIVED_EVENTS: &str = "hub_component_received_events_total";
    pub const SENT_EVENTS: &str = "hub_component_sent_events_total";
    pub const ERRORS: &str = "hub_component_errors_total";
    pub const DISCARDED_EVENTS: &str = "hub_component_discarded_events_total";
    pub const QUARANTINED_RECORDS: &str = "hub_quarantined_records_total";
    pub const SCORES_EMITTED: &str = "hub_scores_emitted_total";
    pub const STATE_REFERENCES: &str = "hub_state_references";
    pub const CONSUMER_LAG: &str = "hub_consumer_lag";
    pub const SINK_BATCH_SIZE: &str = "hub_sink_batch_size";
    pub const SINK_INSERT_DURATION: &str = "hub_sink_insert_duration_seconds";
    pub const SIGNAL_TO_SCORE_LATENCY: &str = "hub_signal_to_score_latency_seconds";

    /// Every name above: what `/metrics` may expose besides the connectors' own.
    pub const ALL: [&str; 11] = [
        RECEIVED_EVENTS,
        SENT_EVENTS,
        ERRORS,
        DISCARDED_EVENTS,
        QUARANTINED_RECORDS,
        SCORES_EMITTED,
        STATE_REFERENCES,
        CONSUMER_LAG,
        SINK_BATCH_SIZE,
        SINK_INSERT_DURATION,
        SIGNAL_TO_SCORE_LATENCY,
    ];
}

/// Seconds buckets from 1 ms to 2 min: signal-to-score latency spans both.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];
const BATCH_SIZE_BUCKETS: &[f64] = &[
    1.0, 10.0, 100.0, 500.0, 1_000.0, 5_000.0, 10_000.0, 50_000.0, 100_000.0,
];

/// Installs the global log subscriber on stderr; `RUST_LOG` filters (default `info`).
pub fn init_logging(format: LogFormat) {
    // A second initialisation (tests) keeps the first subscriber.
    let _ = log_subscriber(format, std::io::stderr).try_init();
}

/// The log subscriber writing to `writer`: JSON lines with the event's fields at the top
/// level and the current span's (the record's correlation id) under `span`, or text.
fn log_subscriber<W>(format: LogFormat, writer: W) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .finish(),
        ),
        LogFormat::Text => Box::new(builder.finish()),
    }
}

/// The span of one consumed record: every log line about it carries its correlation id
/// (see [`crate::kafka::RecordProvenance`]: the producer's header, else one derived from
/// the record's position).
pub fn record_span(correlation_id: &str) -> tracing::Span {
    tracing::info_span!("record", correlation_id = %correlation_id)
}

/// Serves `/metrics` on `listen`; must be called inside a tokio runtime.
pub fn install_metrics_exporter(listen: SocketAddr) -> Result<(), BuildError> {
    PrometheusBuilder::new()
        .with_http_listener(listen)
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full(names::SINK_BATCH_SIZE.into()),
            BATCH_SIZE_BUCKETS,
        )?
        .install()
}

/// Resolves on the first SIGINT or SIGTERM: components then stop consuming, flush, commit
/// and return, so the process exits 0.
pub async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received: finishing the current batch"),
        _ = terminate.recv() => tracing::info!("SIGTERM received: finishing the current batch"),
    }
}

/// Sets the consumer lag gauge of every assigned partition from librdkafka's statistics
/// (enabled by `statistics.interval.ms`).
pub fn record_consumer_lag(statistics: &Statistics) {
    for (topic, topic_statistics) in &statistics.topics {
        for (partition, partition_statistics) in &topic_statistics.partitions {
            // -1 is librdkafka's internal "unassigned" partition; a negative lag means "not
            // known yet".
            if *partition < 0 || partition_statistics.consumer_lag < 0 {
                continue;
            }
            metrics::gauge!(
                names::CONSUMER_LAG,
                "topic" => topic.clone(),
                "partition" => partition.to_string()
            )
            .set(partition_statistics.consumer_lag as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What the subscriber wrote, shared with the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_log_lines_carry_the_record_correlation_id() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = log_subscriber(LogFormat::Json, move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let _record = record_span("hub.signals.offers-2-41").entered();
            tracing::warn!(gtin = "3017620422003", "reference not scored");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim())
            .unwrap_or_else(|error| panic!("not one JSON line ({error}): {text}"));
        assert_eq!(line["level"], "WARN", "{line}");
        assert_eq!(line["message"], "reference not scored", "{line}");
        assert_eq!(line["gtin"], "3017620422003", "{line}");
        assert_eq!(line["span"]["name"], "record", "{line}");
        assert_eq!(
            line["span"]["correlation_id"], "hub.signals.offers-2-41",
            "{line}"
        );
    }
}
