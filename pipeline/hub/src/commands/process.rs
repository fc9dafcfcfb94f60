//! `hub process`: serves metrics and runs the stream processor until SIGINT or SIGTERM.

use crate::config::Config;
use crate::{processor, telemetry};

pub async fn run(config: &Config) -> anyhow::Result<()> {
    telemetry::install_metrics_exporter(config.metrics.listen)?;
    processor::run(config, telemetry::shutdown_signal()).await?;
    Ok(())
}
