//! `hub bench`: end-to-end figures through the broker and the processor. Progress goes to
//! standard error as it happens; the report to standard output.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::bench::{self, BenchParams};
use crate::config::Config;
use crate::telemetry;

pub async fn run(config: &Config, params: &BenchParams) -> anyhow::Result<()> {
    let report = bench::run(config, params, telemetry::shutdown_signal(), |progress| {
        eprintln!("hub bench: {progress}");
    })
    .await?;
    crate::outln!("{report}")?;
    Ok(())
}

/// A topic prefix no earlier run used: `bench-<unix milliseconds>`.
pub fn fresh_topic_prefix() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    format!("bench-{millis}")
}
