//! `hub topics ensure`: creates the hub's topics with the cleanup policy of their contract.

use crate::config::Config;
use crate::{kafka, wiring};

pub async fn ensure(config: &Config) -> anyhow::Result<()> {
    let specs = wiring::topic_names(config)?.specs();
    kafka::ensure_topics(&config.kafka, &specs).await?;
    for spec in &specs {
        println!(
            "{:<32} {:<18} {}",
            spec.name,
            spec.contract.name(),
            if spec.compacted {
                "compacted"
            } else {
                "delete"
            }
        );
    }
    Ok(())
}
