//! `hub sink`: stores the hub's topics in ClickHouse until SIGINT or SIGTERM.

use anyhow::Context;

use crate::config::Config;
use crate::{sink, telemetry};

pub async fn run(config: &Config) -> anyhow::Result<()> {
    telemetry::install_metrics_exporter(config.metrics.listen).with_context(|| {
        format!(
            "serving metrics on metrics.listen {}",
            config.metrics.listen
        )
    })?;
    sink::run(config, telemetry::shutdown_signal()).await?;
    Ok(())
}
