//! Marketplace fee schedules as dated, versioned data.
//!
//! One TOML file per channel (`config/fees/<channel>.toml`) holds one or more `[[schedule]]`s,
//! each with a `version` and a validity range. The schedule in force at the time a score
//! describes is the one applied, so history can be re-scored under a new grid by adding a
//! schedule with a later `valid_from`. The files shipped in the repository are embedded in
//! the binary and a directory can override them (see [`crate::profile::EconomicsConfig`]).

pub mod calendar;
pub mod categories;
pub mod fba;

use std::collections::BTreeMap;

use hub_schemas::records::{EpochMillis, SharedText};
use rust_decimal::Decimal;
use serde::Deserialize;
use toml::value::Datetime;

use crate::calendar::display_time;
use crate::category::Category;
use crate::channel::Channel;
use crate::money::{self, exact};
use crate::profile::ConfigError;

pub use fba::{FbaTable, FbaTier, Parcel};

/// The amount a commission rate applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommissionBase {
    /// Item price plus shipping, both VAT included: Amazon, Cdiscount and Fnac Darty.
    PricePlusShippingInclVat,
    /// Item price plus shipping, VAT excluded: some Mirakl operators' contracts.
    PricePlusShippingExclVat,
    /// Item price only, VAT included.
    PriceInclVat,
}

impl CommissionBase {
    /// The base, unrounded: the rate times this base is rounded once, as the marketplace does.
    pub fn amount(
        self,
        price_incl_vat: Decimal,
        shipping_incl_vat: Decimal,
        vat_rate: Decimal,
    ) -> Decimal {
        match self {
            CommissionBase::PricePlusShippingInclVat => price_incl_vat + shipping_incl_vat,
            CommissionBase::PricePlusShippingExclVat => {
                money::excl_vat(price_incl_vat + shipping_incl_vat, vat_rate)
            }
            CommissionBase::PriceInclVat => price_incl_vat,
        }
    }
}

/// A category's commission: `rate` of the base, never less than `minimum_excl_vat` per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommissionRule {
    pub rate: Decimal,
    pub minimum_excl_vat: Decimal,
}

/// One dated fee grid of one channel, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeSchedule {
    pub channel: Channel,
    pub version: SharedText,
    /// First instant the grid applies (00:00 UTC of its date).
    pub valid_from: EpochMillis,
    /// First instant it no longer applies; `None` runs until the next schedule's start.
    pub valid_to: Option<EpochMillis>,
    /// Currency of the minimums, subscription and FBA amounts.
    pub currency: SharedText,
    /// VAT the marketplace invoices on its fees; recoverable, so margins use fees excl. VAT.
    pub fee_vat_rate: Decimal,
    pub commission_base: CommissionBase,
    /// Indexed by `Category as usize`, complete: categories the file does not list take its
    /// `default` rule.
    commission: [CommissionRule; Category::ALL.len()],
    /// Amazon's digital services fee, a rate on its referral and FBA fees.
    pub digital_services_fee_rate: Option<Decimal>,
    pub monthly_subscription_excl_vat: Option<Decimal>,
    pub fba: Option<FbaTable>,
}

impl FeeSchedule {
    pub fn commission_rule(&self, category: Category) -> CommissionRule {
        self.commission[category as usize]
    }

    /// A fee as invoiced: the VAT is computed on the rounded fee and rounded itself, which is
    /// how Fnac Darty's example gets EUR 36.97 from EUR 30.81.
    pub fn fee_incl_vat(&self, fee_excl_vat: Decimal) -> Decimal {
        money::charged(fee_excl_vat + money::charged(fee_excl_vat * self.fee_vat_rate))
    }
}

/// Looking a schedule up failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    #[error(
        "no {channel} fee schedule is in force at {at}; add a [[schedule]] covering that date \
         to config/fees/{channel}.toml"
    )]
    NoScheduleInForce { channel: Channel, at: String },
}

/// Every channel's dated schedules, each channel's sorted by `valid_from`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeeSchedules {
    by_channel: BTreeMap<Channel, Vec<FeeSchedule>>,
}

impl FeeSchedules {
    /// The schedule in force at `at`: the latest one started at or before `at`, unless its
    /// explicit `valid_to` has passed.
    pub fn in_force(&self, channel: Channel, at: EpochMillis) -> Result<&FeeSchedule, FeeError> {
        self.by_channel
            .get(&channel)
            .and_then(|schedules| {
                schedules
                    .iter()
                    .rev()
                    .find(|schedule| schedule.valid_from <= at)
            })
            .filter(|schedule| schedule.valid_to.is_none_or(|end| at < end))
            .ok_or_else(|| FeeError::NoScheduleInForce {
                channel,
                at: display_time(at),
            })
    }

    /// All schedules of a channel, oldest first.
    pub fn schedules(&self, channel: Channel) -> &[FeeSchedule] {
        self.by_channel
            .get(&channel)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Replaces the channel's schedules with those of one `config/fees/<channel>.toml` text.
    pub fn load_channel_file(&mut self, file: &str, text: &str) -> Result<(), ConfigError> {
        let raw: RawFeeFile =
            toml::from_str(text).map_err(|error| ConfigError::parse(file, &error))?;
        let channel: Channel = raw
            .channel
            .parse()
            .map_err(|error| ConfigError::new(file, format!("channel: {error}")))?;
        let mut schedules = raw
            .schedules
            .into_iter()
            .map(|schedule| schedule.validate(channel))
            .collect::<Result<Vec<_>, String>>()
            .map_err(|problem| ConfigError::new(file, problem))?;
        if schedules.is_empty() {
            return Err(ConfigError::new(
                file,
                "no [[schedule]]: a channel needs at least one fee schedule",
            ));
        }
        schedules.sort_by_key(|schedule| schedule.valid_from);
        for pair in schedules.windows(2) {
            let (earlier, later) = (&pair[0], &pair[1]);
            if earlier.valid_from == later.valid_from {
                return Err(ConfigError::new(
                    file,
                    format!(
                        "schedules {:?} and {:?} both start on {}; give the newer one a later \
                         valid_from",
                        earlier.version,
                        later.version,
                        display_time(later.valid_from)
                    ),
                ));
            }
            if earlier.valid_to.is_some_and(|end| end > later.valid_from) {
                return Err(ConfigError::new(
                    file,
                    format!(
                        "schedule {:?} is valid until after schedule {:?} starts; end it on or \
                         before {} or drop its valid_to",
                        earlier.version,
                        later.version,
                        display_time(later.valid_from)
                    ),
                ));
            }
        }
        if let Some(duplicate) = schedules.iter().enumerate().find_map(|(index, schedule)| {
            schedules[..index]
                .iter()
                .any(|other| other.version == schedule.version)
                .then_some(&schedule.version)
        }) {
            return Err(ConfigError::new(
                file,
                format!("version {duplicate:?} is used by two schedules; versions must be unique"),
            ));
        }
        self.by_channel.insert(channel, schedules);
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeeFile {
    channel: String,
    #[serde(rename = "schedule", default)]
    schedules: Vec<RawSchedule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    version: String,
    valid_from: Datetime,
    valid_to: Option<Datetime>,
    currency: String,
    #[serde(deserialize_with = "exact::deserialize")]
    fee_vat_rate: Decimal,
    commission_base: CommissionBase,
    commission: BTreeMap<String, RawCommission>,
    digital_services_fee: Option<RawRate>,
    subscription: Option<RawSubscription>,
    fba: Option<FbaTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommission {
    #[serde(default, deserialize_with = "exact::option")]
    rate: Option<Decimal>,
    #[serde(default, deserialize_with = "exact::option")]
    minimum_excl_vat: Option<Decimal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    #[serde(deserialize_with = "exact::deserialize")]
    rate: Decimal,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubscription {
    #[serde(deserialize_with = "exact::deserialize")]
    monthly_excl_vat: Decimal,
}

fn check_rate(what: &str, rate: Decimal) -> Result<Decimal, String> {
    if rate < Decimal::ZERO || rate >= Decimal::ONE {
        return Err(format!(
            "{what} is {rate}; write rates as fractions in [0, 1), e.g. 0.15 for 15%"
        ));
    }
    Ok(rate)
}

fn check_cents(what: &str, amount: Decimal) -> Result<Decimal, String> {
    if amount < Decimal::ZERO || amount.normalize().scale() > money::CENT_DP {
        return Err(format!(
            "{what} is {amount}; it must be a non-negative amount in whole cents"
        ));
    }
    Ok(amount)
}

impl RawSchedule {
    fn validate(self, channel: Channel) -> Result<FeeSchedule, String> {
        let version = self.version;
        let context = |problem: String| format!("schedule {version:?}: {problem}");
        let valid_from = calendar::date_to_epoch_millis(&self.valid_from)
            .map_err(|problem| context(format!("valid_from: {problem}")))?;
        let valid_to = self
            .valid_to
            .as_ref()
            .map(calendar::date_to_epoch_millis)
            .transpose()
            .map_err(|problem| context(format!("valid_to: {problem}")))?;
        if valid_to.is_some_and(|end| end <= valid_from) {
            return Err(context("valid_to must be after valid_from".into()));
        }
        let default = self.commission.get("default").ok_or_else(|| {
            context(
                "[schedule.commission] needs a `default = { rate = ..., minimum_excl_vat = ... }` \
                 for the categories it does not list"
                    .into(),
            )
        })?;
        let (Some(default_rate), Some(default_minimum)) = (default.rate, default.minimum_excl_vat)
        else {
            return Err(context(
                "commission.default needs both rate and minimum_excl_vat".into(),
            ));
        };
        let default_rule = CommissionRule {
            rate: check_rate("commission.default.rate", default_rate).map_err(context)?,
            minimum_excl_vat: check_cents("commission.default.minimum_excl_vat", default_minimum)
                .map_err(context)?,
        };
        let mut commission = [default_rule; Category::ALL.len()];
        for (key, raw) in &self.commission {
            if key == "default" {
                continue;
            }
            let category: Category = key
                .parse()
                .map_err(|error| context(format!("commission.{key}: {error}")))?;
            commission[category as usize] = CommissionRule {
                rate: check_rate(
                    &format!("commission.{key}.rate"),
                    raw.rate.unwrap_or(default_rule.rate),
                )
                .map_err(context)?,
                minimum_excl_vat: check_cents(
                    &format!("commission.{key}.minimum_excl_vat"),
                    raw.minimum_excl_vat
                        .unwrap_or(default_rule.minimum_excl_vat),
                )
                .map_err(context)?,
            };
        }
        let fee_vat_rate = check_rate("fee_vat_rate", self.fee_vat_rate).map_err(context)?;
        let digital_services_fee_rate = self
            .digital_services_fee
            .map(|dst| check_rate("digital_services_fee.rate", dst.rate))
            .transpose()
            .map_err(context)?;
        let monthly_subscription_excl_vat = self
            .subscription
            .map(|subscription| {
                check_cents(
                    "subscription.monthly_excl_vat",
                    subscription.monthly_excl_vat,
                )
            })
            .transpose()
            .map_err(context)?;
        if let Some(fba) = &self.fba {
            fba.validate().map_err(context)?;
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(context(format!(
                "currency {:?} is not an ISO 4217 code like \"EUR\"",
                self.currency
            )));
        }
        Ok(FeeSchedule {
            channel,
            version: version.into(),
            valid_from,
            valid_to,
            currency: self.currency.into(),
            fee_vat_rate,
            commission_base: self.commission_base,
            commission,
            digital_services_fee_rate,
            monthly_subscription_excl_vat,
            fba: self.fba,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    const TWO_GRIDS: &str = r#"
        channel = "cdiscount"

        [[schedule]]
        version = "v1"
        valid_from = 2019-01-01
        currency = "EUR"
        fee_vat_rate = "0.20"
        commission_base = "price_plus_shipping_incl_vat"
        commission.default = { rate = "0.15", minimum_excl_vat = "1.29" }
        commission.tv = { rate = "0.05" }

        [[schedule]]
        version = "v2"
        valid_from = 2026-01-01
        valid_to = 2027-01-01
        currency = "EUR"
        fee_vat_rate = "0.20"
        commission_base = "price_plus_shipping_incl_vat"
        commission.default = { rate = "0.15", minimum_excl_vat = "1.29" }
        commission.tv = { rate = "0.07", minimum_excl_vat = "2" }
    "#;

    const JAN_2025: EpochMillis = 1_735_689_600_000;
    const JAN_2026: EpochMillis = 1_767_225_600_000;
    const JAN_2027: EpochMillis = 1_798_761_600_000;

    #[test]
    fn the_schedule_in_force_at_the_signal_time_applies() {
        let mut schedules = FeeSchedules::default();
        schedules
            .load_channel_file("cdiscount.toml", TWO_GRIDS)
            .unwrap();
        let at = |millis| schedules.in_force(Channel::Cdiscount, millis).unwrap();
        assert_eq!(&*at(JAN_2025).version, "v1");
        assert_eq!(&*at(JAN_2026 - 1).version, "v1");
        assert_eq!(&*at(JAN_2026).version, "v2");
        assert_eq!(
            at(JAN_2026).commission_rule(Category::Tv),
            CommissionRule {
                rate: dec!(0.07),
                minimum_excl_vat: dec!(2)
            }
        );
        assert_eq!(
            at(JAN_2025).commission_rule(Category::Tv).minimum_excl_vat,
            dec!(1.29)
        );
        assert_eq!(
            at(JAN_2025).commission_rule(Category::Books).rate,
            dec!(0.15)
        );
        let error = schedules
            .in_force(Channel::Cdiscount, JAN_2027)
            .unwrap_err();
        assert!(
            error.to_string().contains("2027-01-01T00:00:00Z"),
            "{error}"
        );
        assert!(schedules.in_force(Channel::Amazon, JAN_2025).is_err());
    }

    #[test]
    fn inconsistent_files_are_refused_with_the_field_named() {
        let cases = [
            (
                TWO_GRIDS.replace("2026-01-01\n", "2019-01-01\n"),
                "both start on",
            ),
            (
                TWO_GRIDS.replace("\"v2\"", "\"v1\""),
                "versions must be unique",
            ),
            (
                TWO_GRIDS.replace(
                    "commission.tv = { rate = \"0.05\" }",
                    "commission.tv = { rate = \"5\" }",
                ),
                "commission.tv.rate",
            ),
            (
                TWO_GRIDS.replace(
                    "commission.tv = { rate = \"0.05\" }",
                    "commission.gardening = { rate = \"0.05\" }",
                ),
                "gardening",
            ),
            (
                TWO_GRIDS.replace(
                    "\"1.29\" }\n        commission.tv = { rate = \"0.05\" }",
                    "\"1.295\" }",
                ),
                "whole cents",
            ),
            (
                TWO_GRIDS.replace("fee_vat_rate = \"0.20\"", "fee_vat_rate = 0.2"),
                "float",
            ),
            (
                TWO_GRIDS.replace("currency = \"EUR\"", "currency = \"EUR\"\nsurprise = 1"),
                "surprise",
            ),
        ];
        for (text, expected) in cases {
            let error = FeeSchedules::default()
                .load_channel_file("cdiscount.toml", &text)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(expected),
                "expected {expected:?} in: {error}"
            );
            assert!(error.contains("cdiscount.toml"), "{error}");
        }
    }

    #[test]
    fn fee_vat_is_computed_on_the_rounded_fee() {
        let mut schedules = FeeSchedules::default();
        schedules
            .load_channel_file("cdiscount.toml", TWO_GRIDS)
            .unwrap();
        let schedule = schedules.in_force(Channel::Cdiscount, JAN_2025).unwrap();
        assert_eq!(schedule.fee_incl_vat(dec!(30.81)), dec!(36.97));
        assert_eq!(schedule.fee_incl_vat(dec!(0.03)), dec!(0.04));
    }

    #[test]
    fn categories_index_the_commission_table_in_declaration_order() {
        for (index, category) in Category::ALL.into_iter().enumerate() {
            assert_eq!(category as usize, index);
        }
    }
}
