//! `[connectors.fnac_darty]`: where the back-office API is, the shop's identifiers and key,
//! the catalogue that maps our SKUs to EANs, and the pace of each service.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::machinery::{ConnectorError, HttpSettings, RateLimit};

/// The most offers one `offers_query` page is asked for.
pub const MAX_PAGE_SIZE: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FnacDartyConfig {
    /// The API root; the connector adds `/<service>` (`/auth`, `/offers_query`...).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    pub partner_id: String,
    pub shop_id: String,
    /// The environment variable holding the shop's key (or `<name>_FILE`).
    #[serde(default = "default_key_env")]
    pub key_env: String,
    /// A `sku,gtin` CSV of our catalogue: `offers_query` names our offers by SKU only, and
    /// `pricing_query` and the signals need the EAN.
    pub catalogue_file: PathBuf,
    /// Offers per `offers_query` page (`results_count`).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// The services' rates. Fnac Darty publishes no figures: cautious defaults, and 429
    /// Retry-After is honoured.
    #[serde(default = "default_auth_rate")]
    pub auth_rate: RateLimit,
    #[serde(default = "default_query_rate")]
    pub offers_query_rate: RateLimit,
    #[serde(default = "default_query_rate")]
    pub pricing_query_rate: RateLimit,
    /// How long after a competitor pricing sweep ends the next one starts: every EAN of our
    /// offers is priced again by `pricing_query` at least this often, whether or not our
    /// offer changed (`offers_query` only dates changes of our own offers).
    #[serde(default = "default_pricing_sweep_interval_ms")]
    pub pricing_sweep_interval_ms: u64,
    /// The most `pricing_query` calls (10 EANs each) a poll spends on a sweep under way,
    /// after its `offers_query` page: the incremental sync waits at most this many calls,
    /// and a sweep of N offers takes at least N / (10 x this) polls.
    #[serde(default = "default_pricing_batches_per_poll")]
    pub pricing_batches_per_poll: u32,
    #[serde(default)]
    pub http: HttpSettings,
}

/// Half an hour: 10,000 offers take 1,000 `pricing_query` calls, about 8 minutes at the
/// default 2 calls/s, so the incremental sync keeps most of the budget.
pub const DEFAULT_PRICING_SWEEP_INTERVAL_MS: u64 = 30 * 60 * 1000;

fn default_pricing_sweep_interval_ms() -> u64 {
    DEFAULT_PRICING_SWEEP_INTERVAL_MS
}

/// Five calls: at the default 2 calls/s, a poll's offers page waits at most 2.5 s for the
/// sweep, which prices 50 EANs a poll.
pub const DEFAULT_PRICING_BATCHES_PER_POLL: u32 = 5;

fn default_pricing_batches_per_poll() -> u32 {
    DEFAULT_PRICING_BATCHES_PER_POLL
}

fn default_base_url() -> String {
    "https://vendeur.fnac.com/api.php".to_owned()
}

fn default_key_env() -> String {
    "FNAC_DARTY_KEY".to_owned()
}

fn default_page_size() -> u32 {
    100
}

fn default_auth_rate() -> RateLimit {
    RateLimit {
        per_second: 0.1,
        burst: 2,
    }
}

fn default_query_rate() -> RateLimit {
    RateLimit {
        per_second: 2.0,
        burst: 2,
    }
}

impl FnacDartyConfig {
    /// Cross-field checks, done when the connector is built.
    pub fn validate(&self) -> Result<(), ConnectorError> {
        let invalid = |detail: String| ConnectorError::config(super::CONNECTOR, detail);
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(invalid(format!(
                "page_size {} must be between 1 and {MAX_PAGE_SIZE}",
                self.page_size
            )));
        }
        if self.pricing_sweep_interval_ms == 0 {
            return Err(invalid(
                "pricing_sweep_interval_ms must be above 0: sweeping back to back would spend the whole pricing_query budget".to_owned(),
            ));
        }
        if self.pricing_batches_per_poll == 0 {
            return Err(invalid(
                "pricing_batches_per_poll must be at least 1: a sweep that prices nothing per poll never ends".to_owned(),
            ));
        }
        if self.partner_id.trim().is_empty() || self.shop_id.trim().is_empty() {
            return Err(invalid(
                "partner_id and shop_id must be set: auth needs both".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Reads a `sku,gtin` catalogue: a header line, then one SKU and its GTIN per line.
pub fn read_catalogue(text: &str) -> Result<HashMap<String, String>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty());
    match lines.next() {
        Some((_, header)) if header.trim().eq_ignore_ascii_case("sku,gtin") => {}
        other => {
            return Err(format!(
                "the first line must be the header `sku,gtin`, found {:?}",
                other.map(|(_, line)| line)
            ));
        }
    }
    let mut gtin_by_sku = HashMap::new();
    for (number, line) in lines {
        let (sku, gtin) = line
            .split_once(',')
            .map(|(sku, gtin)| (sku.trim(), gtin.trim()))
            .filter(|(sku, gtin)| !sku.is_empty() && !gtin.is_empty() && !gtin.contains(','))
            .ok_or_else(|| format!("line {} is not `sku,gtin`: {line:?}", number + 1))?;
        if let Some(previous) = gtin_by_sku.insert(sku.to_owned(), gtin.to_owned())
            && previous != gtin
        {
            return Err(format!(
                "line {}: SKU {sku:?} maps to {previous} and to {gtin}",
                number + 1
            ));
        }
    }
    Ok(gtin_by_sku)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_maps_skus_to_gtins() {
        let catalogue = read_catalogue("sku,gtin\nSKU-1, 9780262510875\n\nSKU-2,3711317402018\n")
            .expect("valid catalogue");
        assert_eq!(catalogue.len(), 2);
        assert_eq!(catalogue["SKU-1"], "9780262510875");
        assert!(read_catalogue("gtin,sku\n").unwrap_err().contains("header"));
        assert!(
            read_catalogue("sku,gtin\nSKU-1\n")
                .unwrap_err()
                .contains("line 2")
        );
        assert!(
            read_catalogue("sku,gtin\nA,1\nA,2\n")
                .unwrap_err()
                .contains("maps to 1 and to 2")
        );
    }

    #[test]
    fn pricing_batches_per_poll_defaults_to_five_and_zero_is_refused() {
        let config: FnacDartyConfig = toml::from_str(
            "partner_id = \"P\"\nshop_id = \"S\"\ncatalogue_file = \"catalogue.csv\"\n",
        )
        .expect("a configuration with its defaults");
        assert_eq!(config.pricing_batches_per_poll, 5);
        assert!(config.validate().is_ok());
        let never_ends = FnacDartyConfig {
            pricing_batches_per_poll: 0,
            ..config
        };
        let error = never_ends.validate().unwrap_err().to_string();
        assert!(error.contains("pricing_batches_per_poll"), "{error}");
    }
}
