//! `[connectors.mirakl]`: where the Mirakl marketplace is, how to authenticate, how our shop
//! is recognised, and the pace of each operation.

use serde::{Deserialize, Serialize};

use crate::machinery::{ConnectorError, HttpSettings, RateLimit};

/// The most offers OF21 returns per page and the most references P11 accepts per call.
pub const MAX_PAGE_SIZE: u32 = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiraklConfig {
    /// The operator's API root, e.g. `https://marketplace.mirakl.net` (the connector adds
    /// `/api/offers` and `/api/products/offers`).
    pub base_url: String,
    /// The environment variable holding the shop's API key (or `<name>_FILE`, a file
    /// holding it). The key is sent as `Authorization: <key>`, without `Bearer`.
    #[serde(default = "default_api_key_env")]
    pub api_key_env: String,
    /// Our shop id: sent to OF21 (users with several shops) and used to recognise our
    /// offers in P11.
    #[serde(default)]
    pub shop_id: Option<i64>,
    /// Our shop name, to recognise our offers in P11 when the operator omits shop ids.
    #[serde(default)]
    pub shop_name: Option<String>,
    /// Offers per OF21 page, and so EANs per P11 call: 1 to 100.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// OF21's rate. Mirakl publishes each operator's limits in the API's own documentation;
    /// the default is a cautious one request per second, and 429 Retry-After is honoured.
    #[serde(default = "default_rate")]
    pub of21_rate: RateLimit,
    /// P11's rate (see `of21_rate`).
    #[serde(default = "default_rate")]
    pub p11_rate: RateLimit,
    #[serde(default)]
    pub http: HttpSettings,
}

fn default_api_key_env() -> String {
    "MIRAKL_API_KEY".to_owned()
}

fn default_page_size() -> u32 {
    MAX_PAGE_SIZE
}

fn default_rate() -> RateLimit {
    RateLimit {
        per_second: 1.0,
        burst: 1,
    }
}

impl MiraklConfig {
    /// Cross-field checks, done when the connector is built.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        let invalid = |detail: String| ConnectorError::config(super::CONNECTOR, detail);
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(invalid(format!(
                "page_size {} must be between 1 and {MAX_PAGE_SIZE} (OF21's max and P11's \
                 reference limit)",
                self.page_size
            )));
        }
        if self.shop_id.is_none()
            && self
                .shop_name
                .as_deref()
                .is_none_or(|name| name.trim().is_empty())
        {
            return Err(invalid(
                "set shop_id or shop_name: without them our own offers in P11 would count as \
                 competitors"
                    .to_owned(),
            ));
        }
        Ok(())
    }
}
