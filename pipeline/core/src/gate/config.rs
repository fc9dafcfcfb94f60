//! The quality gate's thresholds, as data. The hub binary layers this struct into its own
//! configuration (e.g. under `[gate]`); every field has a documented default so an empty
//! table is a valid configuration.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::currency::is_active_currency;
use super::exact_decimal;

/// Gate thresholds. Decimals are written as TOML strings (`price_ceiling = "50000"`) so they
/// are read exactly: a TOML float is refused rather than rounded through binary floating point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateConfig {
    /// Highest plausible price or unit cost, in the record's currency, when that currency has
    /// no entry in `price_ceiling_by_currency`. A price equal to the ceiling passes.
    /// Default `"50000"`: above any consumer product the distributor sells.
    #[serde(with = "exact_decimal")]
    pub price_ceiling: Decimal,
    /// Per-currency ceilings for currencies whose unit is far from the euro (e.g. JPY).
    /// Default: empty.
    #[serde(with = "exact_decimal::map")]
    pub price_ceiling_by_currency: BTreeMap<String, Decimal>,
    /// How far in the future an observation time may be, for clock skew between the source
    /// and the hub. Default 300 (5 minutes).
    pub future_tolerance_seconds: u32,
    /// Oldest accepted offer observation: older prices no longer describe the market.
    /// Default 72 (a weekend of connector downtime plus a replay).
    pub max_offer_age_hours: u32,
    /// Oldest accepted stock observation. Default 72.
    pub max_stock_age_hours: u32,
    /// Oldest accepted cost observation: price lists are republished at least yearly.
    /// Default 400.
    pub max_cost_age_days: u32,
    /// Largest accepted ratio between a new price and the last accepted one, either way.
    /// A ratio equal to the bound passes. Default `"8"`: a tenfold or hundredfold move
    /// (misplaced decimal point, cents sent as euros) is refused while an 85% markdown passes.
    #[serde(with = "exact_decimal")]
    pub max_price_jump_ratio: Decimal,
    /// Rounding tolerance of the cross-field price rules (landed = listing + shipping, buy box
    /// >= lowest), in the record's currency. Default `"0.01"`: sources round each amount.
    #[serde(with = "exact_decimal")]
    pub price_consistency_tolerance: Decimal,
    /// ISO 3166 alpha-2 country whose VAT rates product references are priced in.
    /// Default `"FR"`.
    pub vat_country: String,
    /// Legal VAT rates per country, as fractions (`"0.055"` for 5.5%). Setting this table
    /// replaces the default one, which holds FR (20, 10, 5.5, 2.1), DE (19, 7), ES (21, 10, 4),
    /// IT (22, 10, 5, 4), BE (21, 12, 6) and NL (21, 9), mainland rates.
    #[serde(with = "exact_decimal::map_of_lists")]
    pub legal_vat_rates: BTreeMap<String, Vec<Decimal>>,
}

fn rates(percentages: &[(i64, u32)]) -> Vec<Decimal> {
    percentages
        .iter()
        .map(|&(mantissa, scale)| Decimal::new(mantissa, scale) / Decimal::ONE_HUNDRED)
        .collect()
}

impl Default for GateConfig {
    fn default() -> Self {
        let legal_vat_rates = BTreeMap::from([
            ("BE".to_owned(), rates(&[(21, 0), (12, 0), (6, 0)])),
            ("DE".to_owned(), rates(&[(19, 0), (7, 0)])),
            ("ES".to_owned(), rates(&[(21, 0), (10, 0), (4, 0)])),
            (
                "FR".to_owned(),
                rates(&[(20, 0), (10, 0), (55, 1), (21, 1)]),
            ),
            ("IT".to_owned(), rates(&[(22, 0), (10, 0), (5, 0), (4, 0)])),
            ("NL".to_owned(), rates(&[(21, 0), (9, 0)])),
        ]);
        GateConfig {
            price_ceiling: Decimal::from(50_000),
            price_ceiling_by_currency: BTreeMap::new(),
            future_tolerance_seconds: 300,
            max_offer_age_hours: 72,
            max_stock_age_hours: 72,
            max_cost_age_days: 400,
            max_price_jump_ratio: Decimal::from(8),
            price_consistency_tolerance: Decimal::new(1, 2),
            vat_country: "FR".to_owned(),
            legal_vat_rates,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GateConfigError {
    #[error("gate configuration is not valid TOML for GateConfig: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("gate configuration field {field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
}

fn invalid(field: &'static str, problem: String) -> GateConfigError {
    GateConfigError::Invalid { field, problem }
}

impl GateConfig {
    /// Parses and validates a gate configuration table.
    pub fn from_toml_str(text: &str) -> Result<Self, GateConfigError> {
        let config: GateConfig = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values a TOML type cannot express, so a bad deployment fails at start-up
    /// instead of quarantining (or letting through) every record.
    pub fn validate(&self) -> Result<(), GateConfigError> {
        if self.price_ceiling <= Decimal::ZERO {
            return Err(invalid(
                "price_ceiling",
                format!("{} must be > 0", self.price_ceiling),
            ));
        }
        for (currency, ceiling) in &self.price_ceiling_by_currency {
            if !is_active_currency(currency) {
                return Err(invalid(
                    "price_ceiling_by_currency",
                    format!("{currency:?} is not an active upper-case ISO 4217 code"),
                ));
            }
            if *ceiling <= Decimal::ZERO {
                return Err(invalid(
                    "price_ceiling_by_currency",
                    format!("{currency} ceiling {ceiling} must be > 0"),
                ));
            }
        }
        if self.max_price_jump_ratio <= Decimal::ONE {
            return Err(invalid(
                "max_price_jump_ratio",
                format!(
                    "{} must be > 1, or every price change would be refused",
                    self.max_price_jump_ratio
                ),
            ));
        }
        if self.price_consistency_tolerance < Decimal::ZERO {
            return Err(invalid(
                "price_consistency_tolerance",
                format!("{} must be >= 0", self.price_consistency_tolerance),
            ));
        }
        for (field, value) in [
            ("max_offer_age_hours", self.max_offer_age_hours),
            ("max_stock_age_hours", self.max_stock_age_hours),
            ("max_cost_age_days", self.max_cost_age_days),
        ] {
            if value == 0 {
                return Err(invalid(
                    field,
                    "0 would refuse every observation; set a positive age".to_owned(),
                ));
            }
        }
        for (country, legal) in &self.legal_vat_rates {
            if legal.is_empty() {
                return Err(invalid("legal_vat_rates", format!("{country} has no rate")));
            }
            if let Some(rate) = legal
                .iter()
                .find(|rate| **rate < Decimal::ZERO || **rate >= Decimal::ONE)
            {
                return Err(invalid(
                    "legal_vat_rates",
                    format!(
                        "{country} rate {rate} is not a fraction in [0, 1) (write 0.2 for 20%)"
                    ),
                ));
            }
        }
        if !self.legal_vat_rates.contains_key(&self.vat_country) {
            return Err(invalid(
                "vat_country",
                format!(
                    "{:?} has no entry in legal_vat_rates (known: {})",
                    self.vat_country,
                    self.legal_vat_rates
                        .keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// The ceiling that applies to amounts in `currency`.
    pub fn price_ceiling_for(&self, currency: &str) -> Decimal {
        self.price_ceiling_by_currency
            .get(currency)
            .copied()
            .unwrap_or(self.price_ceiling)
    }

    /// The legal VAT rates of `vat_country` (empty only if `validate` was skipped).
    pub fn vat_country_legal_rates(&self) -> &[Decimal] {
        self.legal_vat_rates
            .get(&self.vat_country)
            .map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn default_is_valid_and_holds_the_french_rates() {
        let config = GateConfig::default();
        config.validate().unwrap();
        assert_eq!(
            config.vat_country_legal_rates(),
            &[dec!(0.20), dec!(0.10), dec!(0.055), dec!(0.021)]
        );
        assert_eq!(config.price_ceiling, dec!(50000));
        assert_eq!(config.max_price_jump_ratio, dec!(8));
    }

    #[test]
    fn empty_table_is_the_default() {
        assert_eq!(
            GateConfig::from_toml_str("").unwrap(),
            GateConfig::default()
        );
    }

    #[test]
    fn toml_overrides_fields_exactly() {
        let config = GateConfig::from_toml_str(
            r#"
            price_ceiling = "20000.50"
            max_price_jump_ratio = 5
            max_offer_age_hours = 24
            vat_country = "DE"
            [price_ceiling_by_currency]
            JPY = "8000000"
            [legal_vat_rates]
            DE = ["0.19", "0.07"]
            "#,
        )
        .unwrap();
        assert_eq!(config.price_ceiling, dec!(20000.50));
        assert_eq!(config.max_price_jump_ratio, dec!(5));
        assert_eq!(config.max_offer_age_hours, 24);
        assert_eq!(config.price_ceiling_for("JPY"), dec!(8000000));
        assert_eq!(config.price_ceiling_for("EUR"), dec!(20000.50));
        assert_eq!(config.vat_country_legal_rates(), &[dec!(0.19), dec!(0.07)]);
        assert!(!config.legal_vat_rates.contains_key("FR"));
    }

    #[test]
    fn serialised_config_reads_back_identically() {
        let config = GateConfig::default();
        let text = toml::to_string(&config).unwrap();
        assert_eq!(GateConfig::from_toml_str(&text).unwrap(), config);
    }

    #[test]
    fn floats_are_refused_with_a_hint() {
        let error = GateConfig::from_toml_str("price_ceiling = 49999.99").unwrap_err();
        assert!(error.to_string().contains("as a string"), "{error}");
        let error = GateConfig::from_toml_str("[legal_vat_rates]\nFR = [0.2]").unwrap_err();
        assert!(error.to_string().contains("as a string"), "{error}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = GateConfig::from_toml_str("price_cieling = \"1\"").unwrap_err();
        assert!(error.to_string().contains("price_cieling"), "{error}");
    }

    #[test]
    fn impossible_values_name_the_field() {
        for (text, field) in [
            ("price_ceiling = \"0\"", "price_ceiling"),
            ("max_price_jump_ratio = \"1\"", "max_price_jump_ratio"),
            (
                "price_consistency_tolerance = \"-0.01\"",
                "price_consistency_tolerance",
            ),
            ("max_stock_age_hours = 0", "max_stock_age_hours"),
            ("vat_country = \"PT\"", "vat_country"),
            ("[legal_vat_rates]\nFR = [\"20\"]", "legal_vat_rates"),
            ("[legal_vat_rates]\nFR = []", "legal_vat_rates"),
            (
                "[price_ceiling_by_currency]\nYEN = \"1\"",
                "price_ceiling_by_currency",
            ),
            (
                "[price_ceiling_by_currency]\nJPY = \"-1\"",
                "price_ceiling_by_currency",
            ),
        ] {
            match GateConfig::from_toml_str(text) {
                Err(GateConfigError::Invalid { field: named, .. }) => {
                    assert_eq!(named, field, "{text}")
                }
                other => panic!("{text}: expected an invalid {field}, got {other:?}"),
            }
        }
    }
}
