//! `hub topics ensure`: creates the hub's topics with the cleanup policy of their contract.

use crate::config::Config;
use crate::{connect, kafka, wiring};

pub async fn ensure(config: &Config) -> anyhow::Result<()> {
    let specs = wiring::topic_names(config)?.specs();
    kafka::ensure_topics(&config.kafka, &specs).await?;
    let connector_topics = connect::topic_names(wiring::topic_names(config)?.prefix());
    kafka::ensure_topics(
        &config.kafka,
        connector_topics.iter().map(|name| kafka::TopicPolicy {
            name,
            compacted: true,
        }),
    )
    .await?;
    for spec in &specs {
        crate::outln!(
            "{:<32} {:<18} {}",
            spec.name,
            spec.contract.name(),
            if spec.compacted {
                "compacted"
            } else {
                "delete"
            }
        )?;
    }
    for name in &connector_topics {
        crate::outln!("{name:<32} {:<18} compacted", "(connectors, JSON)")?;
    }
    Ok(())
}
