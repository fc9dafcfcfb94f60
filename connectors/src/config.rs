//! What a user configures for the connectors: one optional section per source, each
//! source's own settings living in its module (Vector style). A source without a section
//! is not run. [`build`] turns a configured source into a running [`Connector`].
//!
//! Adding a source: a field here, a line in [`ConnectorsConfig::configured`], a name in
//! [`CONNECTORS`] and an arm in [`build`].

use serde::{Deserialize, Serialize};

use crate::connector::Connector;
use crate::machinery::ConnectorError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectorsConfig {
    pub mirakl: Option<crate::mirakl::MiraklConfig>,
    pub cdiscount: Option<crate::octopia::OctopiaConfig>,
    pub fnac_darty: Option<crate::fnac_darty::FnacDartyConfig>,
    pub amazon: Option<crate::amazon::AmazonConfig>,
    pub odoo: Option<crate::odoo::OdooConfig>,
    pub supplier_feeds: Option<crate::supplier_feed::SupplierFeedsConfig>,
}

impl ConnectorsConfig {
    /// The names of the sources that have a section, in a stable order.
    pub fn configured(&self) -> Vec<&'static str> {
        let sections = [
            ("mirakl", self.mirakl.is_some()),
            ("cdiscount", self.cdiscount.is_some()),
            ("fnac_darty", self.fnac_darty.is_some()),
            ("amazon", self.amazon.is_some()),
            ("odoo", self.odoo.is_some()),
            ("supplier_feeds", self.supplier_feeds.is_some()),
        ];
        sections
            .into_iter()
            .filter_map(|(name, present)| present.then_some(name))
            .collect()
    }
}

/// Every connector name [`build`] knows.
pub const CONNECTORS: &[&str] = &[
    "mirakl",
    "cdiscount",
    "fnac_darty",
    "odoo",
    "supplier_feeds",
    "amazon",
];

/// The section of `name`, or a configuration error saying it is missing.
fn section<'a, T>(name: &str, section: Option<&'a T>) -> Result<&'a T, ConnectorError> {
    section.ok_or_else(|| {
        ConnectorError::config(
            name,
            format!("[connectors.{name}] is not configured: add the section to run it"),
        )
    })
}

/// Builds the connector `name` from its section. Credentials are read here (from the
/// environment or files), so a missing one stops the connector before any request.
pub fn build(name: &str, config: &ConnectorsConfig) -> Result<Box<dyn Connector>, ConnectorError> {
    match name {
        "mirakl" => Ok(Box::new(crate::mirakl::MiraklConnector::from_config(
            section(name, config.mirakl.as_ref())?,
        )?)),
        "cdiscount" => Ok(Box::new(crate::octopia::OctopiaConnector::from_config(
            section(name, config.cdiscount.as_ref())?,
        )?)),
        "fnac_darty" => Ok(Box::new(
            crate::fnac_darty::FnacDartyConnector::from_config(section(
                name,
                config.fnac_darty.as_ref(),
            )?)?,
        )),
        "amazon" => Ok(Box::new(crate::amazon::AmazonConnector::from_config(
            section(name, config.amazon.as_ref())?,
        )?)),
        "odoo" => Ok(Box::new(crate::odoo::OdooConnector::from_config(section(
            name,
            config.odoo.as_ref(),
        )?)?)),
        "supplier_feeds" => Ok(Box::new(
            crate::supplier_feed::SupplierFeedsConnector::from_config(section(
                name,
                config.supplier_feeds.as_ref(),
            )?)?,
        )),
        _ => Err(ConnectorError::config(
            name,
            format!(
                "no connector is named {name:?}; known: {CONNECTORS:?}, configured: {:?}",
                config.configured()
            ),
        )),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_sections_and_names_are_refused() {
        let unknown: Result<ConnectorsConfig, _> = toml::from_str("[shopify]\nurl = \"x\"\n");
        assert!(unknown.unwrap_err().to_string().contains("unknown field"));
        let error = build("shopify", &ConnectorsConfig::default())
            .err()
            .unwrap();
        assert!(
            error
                .to_string()
                .contains("no connector is named \"shopify\"")
        );
        let error = build("mirakl", &ConnectorsConfig::default()).err().unwrap();
        assert!(
            error
                .to_string()
                .contains("[connectors.mirakl] is not configured")
        );
    }

    #[test]
    fn a_section_with_defaults_is_configured() {
        let config: ConnectorsConfig = toml::from_str(
            "[mirakl]\nbase_url = \"https://marketplace.example\"\nshop_id = 2001\n",
        )
        .unwrap();
        assert_eq!(config.configured(), vec!["mirakl"]);
        let mirakl = config.mirakl.unwrap();
        assert_eq!(mirakl.page_size, 100);
        assert_eq!(mirakl.api_key_env, "MIRAKL_API_KEY");
    }
}
