//! `[connectors.odoo]`: where the Odoo server is, which protocol and credentials to use,
//! and how its data is read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use hub_core::category::Category;
use hub_schemas::records::LevyKind;

use super::mapping::OdooMappingSettings;
use crate::machinery::{ConnectorError, HttpSettings, RateLimit};

/// How the connector calls Odoo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OdooProtocol {
    /// `POST /jsonrpc` (every version; announced for removal in Odoo 22).
    JsonRpc,
    /// `POST /json/2/<model>/<method>` with a bearer API key (Odoo 19 and later).
    Json2,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OdooConfig {
    /// The server's root, e.g. `https://erp.example.com`.
    pub base_url: String,
    /// The database (`X-Odoo-Database` for JSON-2, the first `execute_kw` argument for
    /// JSON-RPC).
    pub database: String,
    pub protocol: OdooProtocol,
    /// The user's login, for JSON-RPC's `authenticate` (JSON-2 needs only the key).
    #[serde(default)]
    pub login: Option<String>,
    /// The environment variable holding the user's API key (or `<name>_FILE`).
    #[serde(default = "default_api_key_env")]
    pub api_key_env: String,
    /// Rows per `search_read` page.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// The location the ERP stock signals carry.
    #[serde(default = "default_stock_location")]
    pub stock_location: String,
    /// The company currency, for products whose cost currency is empty.
    #[serde(default = "default_company_currency")]
    pub company_currency: String,
    /// Hub supplier ids of Odoo partners, by partner id (`"57" = "grossiste_ouest"`).
    #[serde(default)]
    pub partner_supplier_ids: BTreeMap<String, String>,
    /// Hub category of each Odoo product category, by the category's full name as Odoo
    /// displays it (`"All / Saleable / TV" = "tv"`). A product in a category not listed is
    /// quarantined (MAPPING_FAILED). The default covers a tree with one category per hub
    /// category under Odoo's `All / Saleable` (see [`default_category_keys`]); a table
    /// given in the configuration replaces it whole.
    #[serde(default = "default_category_keys")]
    pub category_keys: BTreeMap<String, Category>,
    /// The levy each fixed-amount sales tax stands for, by the name of the tax's group
    /// (`account.tax.group`): the eco-participation and the private copy levy are fixed
    /// taxes that affect the base of the VAT. The default follows the OCA ecotax modules'
    /// `Ecotaxes` group and a `Copie privée` group; a table given replaces it whole.
    #[serde(default = "default_levy_tax_groups")]
    pub levy_tax_groups: BTreeMap<String, LevyKind>,
    /// Whether the OCA module `product_brand` is installed: the brand is read from
    /// `product_brand_id`. Odoo refuses to read a field that does not exist, so set it to
    /// false on a server without the module (products then have no brand).
    #[serde(default = "enabled")]
    pub product_brand: bool,
    /// Whether the OCA module `product_dimension` is installed: dimensions are read from
    /// `product_length`, `product_width`, `product_height` in `dimensional_uom_id`. False on
    /// a server without the module (products then have no dimensions).
    #[serde(default = "enabled")]
    pub product_dimension: bool,
    /// The pace of calls to the server. Odoo publishes no limit; a self-hosted server's
    /// workers are shared with its users, so the default is modest.
    #[serde(default = "default_rate")]
    pub rate: RateLimit,
    #[serde(default)]
    pub http: HttpSettings,
}

fn default_api_key_env() -> String {
    "ODOO_API_KEY".to_owned()
}

fn default_page_size() -> u32 {
    200
}

fn default_stock_location() -> String {
    "WH/Stock".to_owned()
}

fn default_company_currency() -> String {
    "EUR".to_owned()
}

fn enabled() -> bool {
    true
}

/// Odoo's default `All / Saleable` category and one child per hub category.
pub fn default_category_keys() -> BTreeMap<String, Category> {
    let child = |name: &str, category| (format!("All / Saleable / {name}"), category);
    BTreeMap::from([
        ("All / Saleable".to_owned(), Category::Other),
        child("Computers", Category::Computers),
        child("TV", Category::Tv),
        child("Phones", Category::Phones),
        child("Consumer Electronics", Category::ConsumerElectronics),
        child("Large Appliances", Category::LargeAppliances),
        child("Small Appliances", Category::SmallAppliances),
        child("Video Game Consoles", Category::VideoGameConsoles),
        child("Video Games", Category::VideoGames),
        child("Books", Category::Books),
        child("Accessories", Category::Accessories),
        child("DIY", Category::Diy),
        child("Furniture", Category::Furniture),
        child("Other", Category::Other),
    ])
}

/// The OCA ecotax modules' tax group, and the private copy levy's.
pub fn default_levy_tax_groups() -> BTreeMap<String, LevyKind> {
    BTreeMap::from([
        ("Ecotaxes".to_owned(), LevyKind::DeeeEcoParticipation),
        ("Copie privée".to_owned(), LevyKind::PrivateCopy),
    ])
}

fn default_rate() -> RateLimit {
    RateLimit {
        per_second: 5.0,
        burst: 5,
    }
}

impl OdooConfig {
    /// Cross-field checks, done when the connector is built; returns the mapping settings.
    pub fn validate(&self) -> Result<OdooMappingSettings, ConnectorError> {
        let invalid = |detail: String| ConnectorError::config(super::CONNECTOR, detail);
        if self.database.trim().is_empty() {
            return Err(invalid("database is blank".to_owned()));
        }
        if self.page_size == 0 {
            return Err(invalid("page_size must be at least 1".to_owned()));
        }
        if self.protocol == OdooProtocol::JsonRpc
            && self
                .login
                .as_deref()
                .is_none_or(|login| login.trim().is_empty())
        {
            return Err(invalid(
                "protocol json_rpc authenticates with a login: set login".to_owned(),
            ));
        }
        if hub_core::gate::currency::normalise_currency(&self.company_currency).is_none() {
            return Err(invalid(format!(
                "company_currency {:?} is not an active ISO 4217 code",
                self.company_currency
            )));
        }
        let partner_supplier_ids = self
            .partner_supplier_ids
            .iter()
            .map(|(partner, supplier)| {
                partner
                    .trim()
                    .parse::<i64>()
                    .map(|id| (id, supplier.clone()))
                    .map_err(|_| {
                        invalid(format!(
                            "partner_supplier_ids key {partner:?} is not a res.partner id"
                        ))
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(OdooMappingSettings {
            stock_location: self.stock_location.clone(),
            company_currency: self.company_currency.clone(),
            partner_supplier_ids,
            category_keys: self.category_keys.clone(),
            levy_tax_groups: self.levy_tax_groups.clone(),
            product_brand: self.product_brand,
            product_dimension: self.product_dimension,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECTION: &str = r#"
        base_url = "https://erp.example.com"
        database = "production"
        protocol = "json2"
    "#;

    #[test]
    fn mappings_default_to_the_documented_tree_and_a_given_table_replaces_it() {
        let config: OdooConfig = toml::from_str(SECTION).unwrap();
        let settings = config.validate().unwrap();
        assert_eq!(settings.category_keys["All / Saleable / TV"], Category::Tv);
        assert_eq!(settings.category_keys["All / Saleable"], Category::Other);
        assert_eq!(
            settings.levy_tax_groups["Ecotaxes"],
            LevyKind::DeeeEcoParticipation
        );
        assert!(settings.product_brand && settings.product_dimension);
        assert!(settings.product_fields().contains(&"product_brand_id"));

        let config: OdooConfig = toml::from_str(&format!(
            "{SECTION}\nproduct_brand = false\n\
             [category_keys]\n\"Tous / Téléviseurs\" = \"tv\"\n\
             [levy_tax_groups]\n\"DEEE\" = \"DEEE_ECO_PARTICIPATION\"\n"
        ))
        .unwrap();
        let settings = config.validate().unwrap();
        assert_eq!(
            settings.category_keys,
            BTreeMap::from([("Tous / Téléviseurs".to_owned(), Category::Tv)])
        );
        assert_eq!(settings.levy_tax_groups.len(), 1);
        assert!(!settings.product_fields().contains(&"product_brand_id"));
    }

    #[test]
    fn an_unknown_hub_category_or_levy_is_refused_with_the_known_ones() {
        let error = toml::from_str::<OdooConfig>(&format!(
            "{SECTION}\n[category_keys]\n\"All / Garden\" = \"gardening\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("gardening") && error.contains("consumer_electronics"),
            "{error}"
        );
        let error = toml::from_str::<OdooConfig>(&format!(
            "{SECTION}\n[levy_tax_groups]\n\"Ecotaxes\" = \"ECO_MOBILIER\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("ECO_MOBILIER") && error.contains("PRIVATE_COPY"),
            "{error}"
        );
    }
}
