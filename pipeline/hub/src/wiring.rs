//! Builds the adapters every command needs from the configuration, in one place.

use hub_core::profile::EconomicsConfig;
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

/// Fee schedules, category maps and profiles: the embedded defaults, with the files of
/// `scoring.config_dir` laid over them. The configured weight and seller profiles must
/// exist, so a typo stops the process at start-up rather than at the first score.
pub fn economics(config: &Config) -> Result<EconomicsConfig, String> {
    let scoring = &config.scoring;
    let economics = if scoring.config_dir.is_empty() {
        EconomicsConfig::embedded()
    } else {
        EconomicsConfig::with_overrides_from_dir(std::path::Path::new(&scoring.config_dir))
    }
    .map_err(|error| error.to_string())?;
    economics
        .weights(&scoring.weights_profile)
        .map_err(|error| format!("scoring.weights_profile: {error}"))?;
    economics
        .seller(&scoring.seller_profile)
        .map_err(|error| format!("scoring.seller_profile: {error}"))?;
    Ok(economics)
}
