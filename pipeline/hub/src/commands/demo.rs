//! `hub demo`: a simulated market read by every connector through the whole platform, then
//! what it recommends.
//! Progress goes to standard error as it happens; the report to standard output.

use crate::config::Config;
use crate::demo::{self, DemoParams};
use crate::telemetry;

pub async fn run(config: &Config, params: &DemoParams) -> anyhow::Result<()> {
    // The demo's processor and sink publish the metrics `hub process` and `hub sink` would;
    // without them the demo still works, so a busy port is only reported.
    if let Err(error) = telemetry::install_metrics_exporter(config.metrics.listen) {
        eprintln!(
            "hub demo: metrics not served on metrics.listen {}: {error}; set HUB_METRICS__LISTEN to a free address to serve them",
            config.metrics.listen
        );
    }
    let report = demo::run(config, params, telemetry::shutdown_signal(), |progress| {
        eprintln!("hub demo: {progress}");
    })
    .await?;
    crate::outln!("{report}")?;
    Ok(())
}
