//! What a user configures for the connectors: one optional section per source, each
//! source's own settings living in its module (Vector style). A source without a section
//! is not run. [`build`] turns a configured source into a running [`Connector`].

use serde::{Deserialize, Serialize};

use crate::connector::Connector;
use crate::machinery::ConnectorError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectorsConfig {}

impl ConnectorsConfig {
    /// The names of the sources that have a section, in a stable order.
    pub fn configured(&self) -> Vec<&'static str> {
        let sections: [(&'static str, bool); 0] = [];
        sections
            .into_iter()
            .filter_map(|(name, present)| present.then_some(name))
            .collect()
    }
}

/// Every connector name [`build`] knows.
pub const CONNECTORS: &[&str] = &[];

/// Builds the connector `name` from its section. Credentials are read here (from the
/// environment or files), so a missing one stops the connector before any request.
pub fn build(name: &str, config: &ConnectorsConfig) -> Result<Box<dyn Connector>, ConnectorError> {
    Err(ConnectorError::config(
        name,
        format!(
            "no connector is named {name:?}; known: {CONNECTORS:?}, configured: {:?}",
            config.configured()
        ),
    ))
}

/// Builds every configured connector.
pub fn build_configured(
    config: &ConnectorsConfig,
) -> Result<Vec<Box<dyn Connector>>, ConnectorError> {
    config
        .configured()
        .into_iter()
        .map(|name| build(name, config))
        .collect()
}
