//! Builds the adapters every command needs from the configuration, in one place.

use hub_schemas::{
    Decoder, Encoder, Framing, RegistryConfig, RegistryError, SchemaRegistry, TopicNames,
    TopicPrefixError,
};
use hub_sink_clickhouse::ConnectionConfig;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error("kafka.topic_prefix: {0}")]
    TopicPrefix(#[from] TopicPrefixError),
    #[error("schema registry at kafka.schema_registry_url: {0}")]
    Registry(#[from] RegistryError),
}

pub fn topic_names(config: &Config) -> Result<TopicNames, TopicPrefixError> {
    TopicNames::new(&config.kafka.topic_prefix)
}

/// Single-object framing unless a schema registry URL is configured.
pub fn framing(config: &Config) -> Result<Framing, RegistryError> {
    let kafka = &config.kafka;
    if kafka.schema_registry_url.is_empty() {
        return Ok(Framing::SingleObject);
    }
    let mut registry = RegistryConfig::new(&kafka.schema_registry_url);
    if !kafka.schema_registry_username.is_empty() {
        registry = registry.with_basic_auth(
            &kafka.schema_registry_username,
            kafka.schema_registry_password.expose(),
        );
    }
    Ok(Framing::confluent(SchemaRegistry::new(registry)?))
}

/// The encoder and decoder of the configured framing; with a registry, every contract is
/// registered first so that encoding never waits on the network.
pub async fn codec(config: &Config) -> Result<(Encoder, Decoder), WiringError> {
    let topics = topic_names(config)?;
    let framing = framing(config)?;
    let encoder = Encoder::prepare(&framing, topics.clone()).await?;
    Ok((encoder, Decoder::new(&framing, topics)))
}

pub fn clickhouse(config: &Config) -> ConnectionConfig {
    let clickhouse = &config.clickhouse;
    ConnectionConfig {
        url: clickhouse.url.clone(),
        user: Some(clickhouse.user.clone()).filter(|user| !user.is_empty()),
        password: Some(clickhouse.password.expose().to_owned())
            .filter(|password| !password.is_empty()),
        database: clickhouse.database.clone(),
    }
}
