//! The two user-edited profiles a score is computed under:
//!
//! * a **weight profile** (`config/weights/<name>.toml`): the factor weights, the points at
//!   which each factor saturates, how fast inputs go stale and the action thresholds. Its
//!   `name` and `version` are written into every score.
//! * a **seller profile** (`config/profiles/<name>.toml`): the distributor's own situation —
//!   whether Amazon's digital services fee applies, fulfilment and carrier cost per channel,
//!   expected monthly units (to spread subscriptions), handling, returns and storage costs.
//!
//! Weights must be non-negative and sum to exactly 1: they are used as written, so the
//! weight a user reads in the file is the weight shown in every explanation, and a score of
//! 100 means every factor at its best.

pub mod bundle;

use std::collections::BTreeMap;

use hub_schemas::records::SharedText;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::channel::Channel;
use crate::margin::{FulfilmentMethod, OperationalCosts};
use crate::money::{self, exact};
use crate::score::Factor;
use crate::score::factors::ThresholdTexts;

pub use bundle::EconomicsConfig;

/// A configuration file that could not be used, with what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct ConfigError {
    pub file: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(file: &str, problem: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            problem: problem.into(),
        }
    }

    pub fn parse(file: &str, error: &toml::de::Error) -> Self {
        Self::new(file, format!("not a valid file of its kind: {error}"))
    }
}

/// Where each factor reaches 0 or 1 (see `docs/scoring.md` for every curve).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalisation {
    /// Net margin rate scoring the full rate half of margin potential.
    #[serde(deserialize_with = "exact::deserialize")]
    pub margin_rate_for_full_score: Decimal,
    /// Net margin per unit (channel currency) scoring the full amount half.
    #[serde(deserialize_with = "exact::deserialize")]
    pub net_margin_for_full_score: Decimal,
    /// Relative gap above the competitor price at which competitiveness reaches 0.
    #[serde(deserialize_with = "exact::deserialize")]
    pub price_gap_for_zero_score: Decimal,
    /// Our expected units per day at which market attractiveness is 0.5.
    #[serde(deserialize_with = "exact::deserialize")]
    pub units_per_day_for_half_score: Decimal,
    /// Supplier lead time (days) at which readiness from supplier stock is 0.5.
    #[serde(deserialize_with = "exact::deserialize")]
    pub lead_time_days_for_half_score: Decimal,
    /// Days of cover at which stock depth is full.
    #[serde(deserialize_with = "exact::deserialize")]
    pub days_of_cover_for_full_score: Decimal,
    /// Channel fees / revenue at which the channel cost factor reaches 0.
    #[serde(deserialize_with = "exact::deserialize")]
    pub channel_cost_share_for_zero_score: Decimal,
    /// Operational cost / revenue at which the operational cost factor reaches 0.
    #[serde(deserialize_with = "exact::deserialize")]
    pub operational_cost_share_for_zero_score: Decimal,
}

/// Age, in hours, at which an input's freshness is one half.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreshnessHalfLives {
    #[serde(deserialize_with = "exact::deserialize")]
    pub offer_hours: Decimal,
    #[serde(deserialize_with = "exact::deserialize")]
    pub stock_hours: Decimal,
    #[serde(deserialize_with = "exact::deserialize")]
    pub cost_hours: Decimal,
}

/// Thresholds of the recommended action.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionThresholds {
    /// Net margin / revenue excl. VAT a reference must reach to be sourced or listed, and
    /// that a listed reference is repriced to.
    #[serde(deserialize_with = "exact::deserialize")]
    pub target_margin_rate: Decimal,
}

/// A validated weight profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightProfile {
    pub name: SharedText,
    pub version: SharedText,
    /// Indexed by `Factor as usize`.
    weights: [Decimal; Factor::ALL.len()],
    /// Private, with [`ThresholdTexts`] rendered from it at load: the two cannot disagree.
    normalisation: Normalisation,
    threshold_texts: ThresholdTexts,
    pub freshness: FreshnessHalfLives,
    pub actions: ActionThresholds,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeightProfile {
    name: String,
    version: String,
    weights: BTreeMap<String, RawWeight>,
    normalisation: Normalisation,
    freshness: FreshnessHalfLives,
    actions: ActionThresholds,
}

#[derive(Deserialize)]
#[serde(transparent)]
struct RawWeight(#[serde(deserialize_with = "exact::deserialize")] Decimal);

impl WeightProfile {
    pub fn weight(&self, factor: Factor) -> Decimal {
        self.weights[factor as usize]
    }

    pub fn normalisation(&self) -> &Normalisation {
        &self.normalisation
    }

    /// The explanations' parts that depend only on [`Self::normalisation`].
    pub fn threshold_texts(&self) -> &ThresholdTexts {
        &self.threshold_texts
    }

    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let raw: RawWeightProfile =
            toml::from_str(text).map_err(|error| ConfigError::parse(file, &error))?;
        if let Some(unknown) = raw
            .weights
            .keys()
            .find(|key| Factor::from_key(key).is_none())
        {
            return Err(ConfigError::new(
                file,
                format!(
                    "weights.{unknown} is not a factor; factors are {}",
                    Factor::KEYS
                ),
            ));
        }
        let mut weights = [Decimal::ZERO; Factor::ALL.len()];
        for factor in Factor::ALL {
            weights[factor as usize] = raw
                .weights
                .get(factor.key())
                .map(|weight| weight.0)
                .ok_or_else(|| {
                    ConfigError::new(
                        file,
                        format!(
                            "weights.{} is missing; give every factor a weight (0 to ignore it)",
                            factor.key()
                        ),
                    )
                })?;
        }
        let profile = Self {
            name: raw.name.into(),
            version: raw.version.into(),
            weights: [Decimal::ZERO; Factor::ALL.len()],
            threshold_texts: ThresholdTexts::new(&raw.normalisation),
            normalisation: raw.normalisation,
            freshness: raw.freshness,
            actions: raw.actions,
        };
        profile
            .with_weights(weights)
            .and_then(Self::check_parameters)
            .map_err(|problem| ConfigError::new(file, problem))
    }

    /// The same profile with other weights, validated: each in [0, 1] with at most six
    /// decimals (the published scale), and summing to exactly 1.
    pub fn with_weights(&self, weights: [Decimal; Factor::ALL.len()]) -> Result<Self, String> {
        for factor in Factor::ALL {
            let weight = weights[factor as usize];
            if weight < Decimal::ZERO || weight.normalize().scale() > money::RATE_SCALE {
                return Err(format!(
                    "weights.{} is {weight}; weights are non-negative with at most 6 decimals",
                    factor.key()
                ));
            }
        }
        let sum: Decimal = weights.iter().sum();
        if sum != Decimal::ONE {
            return Err(format!(
                "weights sum to {sum}, not 1; adjust them by {} in total so that a score of 100 \
                 means every factor at its best",
                Decimal::ONE - sum
            ));
        }
        Ok(Self {
            weights: weights.map(money::rate),
            ..self.clone()
        })
    }

    fn check_parameters(self) -> Result<Self, String> {
        let n = &self.normalisation;
        let positive = [
            (
                "normalisation.margin_rate_for_full_score",
                n.margin_rate_for_full_score,
            ),
            (
                "normalisation.net_margin_for_full_score",
                n.net_margin_for_full_score,
            ),
            (
                "normalisation.price_gap_for_zero_score",
                n.price_gap_for_zero_score,
            ),
            (
                "normalisation.units_per_day_for_half_score",
                n.units_per_day_for_half_score,
            ),
            (
                "normalisation.lead_time_days_for_half_score",
                n.lead_time_days_for_half_score,
            ),
            (
                "normalisation.days_of_cover_for_full_score",
                n.days_of_cover_for_full_score,
            ),
            (
                "normalisation.channel_cost_share_for_zero_score",
                n.channel_cost_share_for_zero_score,
            ),
            (
                "normalisation.operational_cost_share_for_zero_score",
                n.operational_cost_share_for_zero_score,
            ),
            ("freshness.offer_hours", self.freshness.offer_hours),
            ("freshness.stock_hours", self.freshness.stock_hours),
            ("freshness.cost_hours", self.freshness.cost_hours),
        ];
        if let Some((field, value)) = positive.iter().find(|(_, value)| *value <= Decimal::ZERO) {
            return Err(format!("{field} is {value}; it must be positive"));
        }
        let target = self.actions.target_margin_rate;
        if target < Decimal::ZERO || target >= Decimal::ONE {
            return Err(format!(
                "actions.target_margin_rate is {target}; write it as a fraction in [0, 1), e.g. \
                 0.12 for 12%"
            ));
        }
        Ok(self)
    }
}

/// How the distributor sells on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelTerms {
    pub fulfilment: FulfilmentMethod,
    /// What the carrier charges us per parcel when we ship ourselves.
    pub merchant_shipping_cost_excl_vat: Decimal,
    /// Units expected to sell per month on the channel, over which the monthly subscription
    /// is spread; `None` spreads nothing.
    pub expected_monthly_units: Option<u32>,
}

/// A validated seller profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerProfile {
    pub name: String,
    pub version: String,
    /// Whether Amazon's digital services fee is charged (sellers established in France).
    pub digital_services_fee: bool,
    pub operational: OperationalCosts,
    channels: BTreeMap<Channel, ChannelTerms>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSellerProfile {
    name: String,
    version: String,
    digital_services_fee: bool,
    #[serde(deserialize_with = "exact::deserialize")]
    handling_cost_excl_vat: Decimal,
    #[serde(deserialize_with = "exact::deserialize")]
    returns_provision_rate: Decimal,
    #[serde(deserialize_with = "exact::deserialize")]
    storage_cost_per_unit_excl_vat: Decimal,
    channels: BTreeMap<String, RawChannelTerms>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannelTerms {
    fulfilment: FulfilmentMethod,
    #[serde(deserialize_with = "exact::deserialize")]
    merchant_shipping_cost_excl_vat: Decimal,
    expected_monthly_units: Option<u32>,
}

/// A per-unit cost input: non-negative, in cents (it is a line of the margin as charged).
fn cost_in_cents(field: &str, amount: Decimal) -> Result<Decimal, String> {
    if amount < Decimal::ZERO || amount.normalize().scale() > money::CENT_DP {
        return Err(format!(
            "{field} is {amount}; it must be a non-negative amount in whole cents"
        ));
    }
    Ok(money::money(amount))
}

impl SellerProfile {
    /// The seller's terms on `channel`; every channel is present after validation.
    pub fn channel(&self, channel: Channel) -> &ChannelTerms {
        &self.channels[&channel]
    }

    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let raw: RawSellerProfile =
            toml::from_str(text).map_err(|error| ConfigError::parse(file, &error))?;
        let problem = |problem: String| ConfigError::new(file, problem);
        let returns_provision_rate = raw.returns_provision_rate;
        if returns_provision_rate < Decimal::ZERO || returns_provision_rate >= Decimal::ONE {
            return Err(problem(format!(
                "returns_provision_rate is {returns_provision_rate}; write it as a fraction of \
                 revenue excl. VAT in [0, 1)"
            )));
        }
        let operational = OperationalCosts {
            handling_excl_vat: cost_in_cents("handling_cost_excl_vat", raw.handling_cost_excl_vat)
                .map_err(problem)?,
            returns_provision_rate,
            storage_excl_vat: cost_in_cents(
                "storage_cost_per_unit_excl_vat",
                raw.storage_cost_per_unit_excl_vat,
            )
            .map_err(problem)?,
        };
        let mut channels = BTreeMap::new();
        for (key, terms) in raw.channels {
            let channel: Channel = key
                .parse()
                .map_err(|error| problem(format!("channels.{key}: {error}")))?;
            if terms.fulfilment == FulfilmentMethod::Fba && channel != Channel::Amazon {
                return Err(problem(format!(
                    "channels.{key}.fulfilment is fba, which only Amazon offers; use merchant"
                )));
            }
            if terms.expected_monthly_units == Some(0) {
                return Err(problem(format!(
                    "channels.{key}.expected_monthly_units is 0; omit it to spread no \
                     subscription"
                )));
            }
            let merchant_shipping_cost_excl_vat = cost_in_cents(
                &format!("channels.{key}.merchant_shipping_cost_excl_vat"),
                terms.merchant_shipping_cost_excl_vat,
            )
            .map_err(problem)?;
            channels.insert(
                channel,
                ChannelTerms {
                    fulfilment: terms.fulfilment,
                    merchant_shipping_cost_excl_vat,
                    expected_monthly_units: terms.expected_monthly_units,
                },
            );
        }
        if let Some(missing) = Channel::ALL
            .into_iter()
            .find(|channel| !channels.contains_key(channel))
        {
            return Err(problem(format!(
                "[channels.{missing}] is missing; describe how you sell on every channel"
            )));
        }
        Ok(Self {
            name: raw.name,
            version: raw.version,
            digital_services_fee: raw.digital_services_fee,
            operational,
            channels,
        })
    }
}
