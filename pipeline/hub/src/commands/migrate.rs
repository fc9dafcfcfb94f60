//! `hub migrate`: applies the ClickHouse migrations not applied yet.

use crate::config::Config;
use crate::wiring;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let connection = wiring::clickhouse(config);
    let report = hub_sink_clickhouse::migrate(&connection.client(), &connection.database).await?;
    crate::outln!(
        "database {}: {} migration(s) applied now {:?}, {} already applied",
        connection.database,
        report.applied.len(),
        report.applied,
        report.already_applied.len()
    )?;
    Ok(())
}
