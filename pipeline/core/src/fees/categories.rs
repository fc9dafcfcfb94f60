//! A channel's own categories mapped to the hub's, and the sales-rank curves of the channel,
//! from `config/categories/<channel>.toml`. Marketplaces charge by their own category, so
//! the category an offer reports decides the commission rate once mapped here.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::category::Category;
use crate::channel::Channel;
use crate::profile::ConfigError;
use crate::score::velocity::{RawSalesRankCurve, SalesRankCurve};

/// The category data of one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelCategories {
    pub channel: Channel,
    /// Exact marketplace category name or id → hub category.
    mapping: HashMap<String, Category>,
    /// Units sold per day by sales rank, per hub category, with a fallback for the others.
    rank_curves: BTreeMap<Category, SalesRankCurve>,
    default_rank_curve: Option<SalesRankCurve>,
}

impl ChannelCategories {
    /// A channel with no mapping and no curves.
    pub fn empty(channel: Channel) -> Self {
        Self {
            channel,
            mapping: HashMap::new(),
            rank_curves: BTreeMap::new(),
            default_rank_curve: None,
        }
    }

    /// The hub category of a marketplace category name or id, matched exactly.
    pub fn hub_category(&self, marketplace_category: &str) -> Option<Category> {
        self.mapping.get(marketplace_category).copied()
    }

    /// The curve estimating daily sales from this channel's sales rank in `category`.
    pub fn rank_curve(&self, category: Category) -> Option<&SalesRankCurve> {
        self.rank_curves
            .get(&category)
            .or(self.default_rank_curve.as_ref())
    }

    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let raw: RawChannelCategories =
            toml::from_str(text).map_err(|error| ConfigError::parse(file, &error))?;
        let channel: Channel = raw
            .channel
            .parse()
            .map_err(|error| ConfigError::new(file, format!("channel: {error}")))?;
        let mapping = raw
            .mapping
            .into_iter()
            .map(|(marketplace, hub)| {
                hub.parse::<Category>()
                    .map(|category| (marketplace.clone(), category))
                    .map_err(|error| {
                        ConfigError::new(file, format!("mapping.{marketplace:?}: {error}"))
                    })
            })
            .collect::<Result<HashMap<_, _>, _>>()?;
        let mut rank_curves = BTreeMap::new();
        let mut default_rank_curve = None;
        for (key, raw_curve) in raw.sales_rank_curve {
            let curve = raw_curve.validate().map_err(|problem| {
                ConfigError::new(file, format!("sales_rank_curve.{key}: {problem}"))
            })?;
            if key == "default" {
                default_rank_curve = Some(curve);
            } else {
                let category: Category = key.parse().map_err(|error| {
                    ConfigError::new(file, format!("sales_rank_curve.{key}: {error}"))
                })?;
                rank_curves.insert(category, curve);
            }
        }
        Ok(Self {
            channel,
            mapping,
            rank_curves,
            default_rank_curve,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannelCategories {
    channel: String,
    #[serde(default)]
    mapping: BTreeMap<String, String>,
    #[serde(default)]
    sales_rank_curve: BTreeMap<String, RawSalesRankCurve>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn marketplace_categories_map_exactly_and_curves_fall_back_to_default() {
        let categories = ChannelCategories::parse(
            "amazon.toml",
            r#"
            channel = "amazon"
            [mapping]
            "Informatique" = "computers"
            [sales_rank_curve.default]
            points = [{ rank = 1, units_per_day = "10" }, { rank = 100, units_per_day = "1" }]
            [sales_rank_curve.books]
            points = [{ rank = 1, units_per_day = "50" }]
            "#,
        )
        .unwrap();
        assert_eq!(
            categories.hub_category("Informatique"),
            Some(Category::Computers)
        );
        assert_eq!(categories.hub_category("informatique"), None);
        assert_eq!(
            categories
                .rank_curve(Category::Books)
                .unwrap()
                .units_per_day(1),
            dec!(50)
        );
        assert_eq!(
            categories
                .rank_curve(Category::Tv)
                .unwrap()
                .units_per_day(1),
            dec!(10)
        );
        let error = ChannelCategories::parse(
            "amazon.toml",
            "channel = \"amazon\"\n[mapping]\n\"Jardin\" = \"garden\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("Jardin") && error.contains("garden"),
            "{error}"
        );
    }
}
