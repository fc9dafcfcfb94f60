//! `[connectors.cdiscount]`: where Octopia's seller API and token endpoint are, the client
//! credentials and the seller they act for, and the pace of each operation.

use serde::{Deserialize, Serialize};

use super::payload::MAX_OFFERS_PER_PAGE;
use crate::machinery::{ConnectorError, HttpSettings, RateLimit};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OctopiaConfig {
    /// The seller API root; the connector adds `/offers`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The OAuth2 token endpoint (client credentials grant).
    #[serde(default = "default_token_url")]
    pub token_url: String,
    /// Our seller id, sent as the `SellerId` header of every call.
    pub seller_id: String,
    /// The environment variables holding the client id and secret (or `<name>_FILE`).
    #[serde(default = "default_client_id_env")]
    pub client_id_env: String,
    #[serde(default = "default_client_secret_env")]
    pub client_secret_env: String,
    /// Offers per `GET /offers` page: 1 to 1,000.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// `GET /offers`' rate. Octopia publishes no figure for it: a cautious default, and
    /// 429 Retry-After is honoured.
    #[serde(default = "default_offers_rate")]
    pub offers_rate: RateLimit,
    /// The competition sweep's rate (the same endpoint, its own budget so a sweep never
    /// holds the incremental sync back). Octopia publishes no figure: a cautious default.
    #[serde(default = "default_competition_rate")]
    pub competition_rate: RateLimit,
    /// Every offer's competition is read again this long after the last sweep ended:
    /// Octopia does not document that a competitor's move dates our offer (`updatedAt`).
    #[serde(default = "default_competition_sweep_interval_ms")]
    pub competition_sweep_interval_ms: u64,
    /// The token endpoint's rate (tokens live two hours and are cached until then).
    #[serde(default = "default_token_rate")]
    pub token_rate: RateLimit,
    #[serde(default)]
    pub http: HttpSettings,
}

fn default_base_url() -> String {
    "https://api.octopia-io.net/seller/v2".to_owned()
}

fn default_token_url() -> String {
    "https://auth.octopia-io.net/auth/realms/maas/protocol/openid-connect/token".to_owned()
}

fn default_client_id_env() -> String {
    "OCTOPIA_CLIENT_ID".to_owned()
}

fn default_client_secret_env() -> String {
    "OCTOPIA_CLIENT_SECRET".to_owned()
}

fn default_page_size() -> u32 {
    MAX_OFFERS_PER_PAGE
}

fn default_offers_rate() -> RateLimit {
    RateLimit {
        per_second: 2.0,
        burst: 2,
    }
}

fn default_competition_rate() -> RateLimit {
    RateLimit {
        per_second: 1.0,
        burst: 1,
    }
}

/// Half an hour: a sweep costs one request per 1,000 offers.
pub const DEFAULT_COMPETITION_SWEEP_INTERVAL_MS: u64 = 30 * 60 * 1000;

fn default_competition_sweep_interval_ms() -> u64 {
    DEFAULT_COMPETITION_SWEEP_INTERVAL_MS
}

fn default_token_rate() -> RateLimit {
    RateLimit {
        per_second: 0.1,
        burst: 2,
    }
}

impl OctopiaConfig {
    /// Cross-field checks, done when the connector is built.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        let invalid = |detail: String| ConnectorError::config(super::CONNECTOR, detail);
        if !(1..=MAX_OFFERS_PER_PAGE).contains(&self.page_size) {
            return Err(invalid(format!(
                "page_size {} must be between 1 and {MAX_OFFERS_PER_PAGE} (GET /offers' largest page)",
                self.page_size
            )));
        }
        if self.competition_sweep_interval_ms == 0 {
            return Err(invalid(
                "competition_sweep_interval_ms must be above 0: sweeping back to back would spend the whole competition budget and never let the connector rest".to_owned(),
            ));
        }
        if self.seller_id.trim().is_empty() {
            return Err(invalid(
                "seller_id is empty: set our Octopia seller id (the SellerId header)".to_owned(),
            ));
        }
        Ok(())
    }
}
