//! `[connectors.amazon]`: where the Selling Partner API and the Login with Amazon token
//! endpoint are, the marketplace, the LWA credentials' environment variables, the
//! references to watch, the notification drop, and each operation's rate.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::MARKETPLACE_FR;
use crate::machinery::{ConnectorError, HttpSettings, RateLimit};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmazonConfig {
    /// The regional SP-API endpoint (Europe for amazon.fr).
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// The Login with Amazon token endpoint.
    #[serde(default = "default_token_url")]
    pub token_url: String,
    #[serde(default = "default_marketplace_id")]
    pub marketplace_id: String,
    /// The currency the marketplace's prices are in.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// The environment variables holding the LWA client id, client secret and the selling
    /// partner's refresh token (or `<name>_FILE`).
    #[serde(default = "default_client_id_env")]
    pub client_id_env: String,
    #[serde(default = "default_client_secret_env")]
    pub client_secret_env: String,
    #[serde(default = "default_refresh_token_env")]
    pub refresh_token_env: String,
    /// The references to watch on Amazon: a text file of GTINs (EAN-13, EAN-8 or UPC-A),
    /// one per line, `#` comments allowed. Their ASINs are found with searchCatalogItems.
    pub references_file: PathBuf,
    /// Where ANY_OFFER_CHANGED messages are dropped (one SQS message body per `.json`
    /// file, e.g. by an SQS-to-disk forwarder): read first at every poll, deleted once
    /// handed over. None: the notification path is off.
    #[serde(default)]
    pub notifications_dir: Option<PathBuf>,
    /// An access token is renewed this long before it expires, so no call carries one that
    /// dies in flight (LWA tokens live an hour).
    #[serde(default = "default_token_renewal_margin_ms")]
    pub token_renewal_margin_ms: u64,
    #[serde(default)]
    pub rates: AmazonRates,
    #[serde(default)]
    pub http: HttpSettings,
}

/// Each operation's rate budget. Defaults: the SP-API's documented usage plans (rate per
/// second, burst); `x-amzn-RateLimit-Limit` adjusts them at run time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmazonRates {
    pub get_item_offers: RateLimit,
    pub get_item_offers_batch: RateLimit,
    pub search_catalog_items: RateLimit,
    pub get_my_fees_estimate_for_sku: RateLimit,
    pub get_inventory_summaries: RateLimit,
    /// LWA publishes no figure: tokens live an hour and are cached, so a cautious pace.
    pub lwa_token: RateLimit,
}

impl Default for AmazonRates {
    fn default() -> Self {
        let rate = |per_second, burst| RateLimit { per_second, burst };
        AmazonRates {
            get_item_offers: rate(0.5, 1),
            get_item_offers_batch: rate(0.1, 1),
            search_catalog_items: rate(2.0, 2),
            get_my_fees_estimate_for_sku: rate(1.0, 2),
            get_inventory_summaries: rate(2.0, 2),
            lwa_token: rate(0.2, 2),
        }
    }
}

fn default_endpoint() -> String {
    "https://sellingpartnerapi-eu.amazon.com".to_owned()
}

fn default_token_url() -> String {
    "https://api.amazon.com/auth/o2/token".to_owned()
}

fn default_marketplace_id() -> String {
    MARKETPLACE_FR.to_owned()
}

fn default_currency() -> String {
    "EUR".to_owned()
}

fn default_client_id_env() -> String {
    "AMAZON_LWA_CLIENT_ID".to_owned()
}

fn default_client_secret_env() -> String {
    "AMAZON_LWA_CLIENT_SECRET".to_owned()
}

fn default_refresh_token_env() -> String {
    "AMAZON_LWA_REFRESH_TOKEN".to_owned()
}

fn default_token_renewal_margin_ms() -> u64 {
    60_000
}

impl AmazonConfig {
    /// Cross-field checks, done when the connector is built.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        let invalid = |detail: String| ConnectorError::config(super::CONNECTOR, detail);
        if self.marketplace_id.trim().is_empty() {
            return Err(invalid(
                "marketplace_id is empty: set the marketplace to read (A13V1IB3VIYZZH for amazon.fr)"
                    .to_owned(),
            ));
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(invalid(format!(
                "currency {:?} is not an ISO 4217 code such as EUR",
                self.currency
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_amazon_fr_at_the_documented_rates() {
        let config: AmazonConfig = toml::from_str("references_file = \"refs.txt\"\n").unwrap();
        assert_eq!(config.marketplace_id, "A13V1IB3VIYZZH");
        assert_eq!(config.currency, "EUR");
        assert_eq!(config.rates.get_item_offers_batch.per_second, 0.1);
        assert_eq!(config.rates.get_inventory_summaries.burst, 2);
        assert_eq!(config.notifications_dir, None);
        config.validate().unwrap();
        let unknown: Result<AmazonConfig, _> =
            toml::from_str("references_file = \"r\"\nseller = \"x\"\n");
        assert!(unknown.unwrap_err().to_string().contains("unknown field"));
        let euros = AmazonConfig {
            currency: "euro".to_owned(),
            ..config
        };
        assert!(
            euros
                .validate()
                .unwrap_err()
                .to_string()
                .contains("ISO 4217")
        );
    }
}
