//! Money arithmetic shared by fees, margin, score and quote: the published scales, the
//! marketplace rounding rule, VAT extraction, exact decimal parsing and currency conversion.
//!
//! Every amount is a `rust_decimal::Decimal`; nothing here goes through a float, so the same
//! inputs give the same digits on every machine (scores are compared byte for byte).

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// Scale of money fields in the contracts (`decimal(18, 4)`).
pub const MONEY_SCALE: u32 = 4;
/// Scale of rates, normalised values and weights (`decimal(_, 6)`).
pub const RATE_SCALE: u32 = 6;
/// Scale of scores, contributions and confidence (`decimal(9, 4)`).
pub const SCORE_SCALE: u32 = 4;
/// Marketplaces charge, and invoices state, whole cents.
pub const CENT_DP: u32 = 2;

/// French commercial rounding, the rule marketplaces apply to a fee line: to the nearest
/// cent, a half cent away from zero. Verified against Fnac Darty's published example
/// (see `docs/margin.md`).
pub const COMMERCIAL_ROUNDING: RoundingStrategy = RoundingStrategy::MidpointAwayFromZero;

/// Rounds to `dp` places with [`COMMERCIAL_ROUNDING`] and pads to exactly `dp` places, so the
/// value's scale is fixed and its text form (and Avro bytes) is the same for equal values.
pub fn fixed(value: Decimal, dp: u32) -> Decimal {
    let mut rounded = value.round_dp_with_strategy(dp, COMMERCIAL_ROUNDING);
    rounded.rescale(dp);
    rounded
}

/// A fee or cost line as charged: rounded to the cent, carried at the money scale.
pub fn charged(value: Decimal) -> Decimal {
    fixed(fixed(value, CENT_DP), MONEY_SCALE)
}

/// A money amount at the contract's money scale.
pub fn money(value: Decimal) -> Decimal {
    fixed(value, MONEY_SCALE)
}

/// A rate, normalised value or weight at the contract's scale.
pub fn rate(value: Decimal) -> Decimal {
    fixed(value, RATE_SCALE)
}

/// Clamps into [0, 1]; normalised factors are defined on that interval.
pub fn unit_interval(value: Decimal) -> Decimal {
    value.clamp(Decimal::ZERO, Decimal::ONE)
}

/// The amount excluding VAT contained in an amount including VAT, unrounded.
pub fn excl_vat(amount_incl_vat: Decimal, vat_rate: Decimal) -> Decimal {
    amount_incl_vat / (Decimal::ONE + vat_rate)
}

/// Renders an amount for explanations: two decimals, then the currency (`12.30 EUR`).
pub fn display_amount(amount: Decimal, currency: &str) -> String {
    format!("{} {currency}", fixed(amount, CENT_DP))
}

/// Renders a fraction as a percentage with one decimal (`0.1234` → `12.3%`).
pub fn display_percent(fraction: Decimal) -> String {
    format!("{}%", fixed(fraction * Decimal::ONE_HUNDRED, 1))
}

/// Serde helpers that accept a decimal only as a string (`"0.15"`) or an integer (`30`), and
/// refuse floats: a float literal has already lost digits before we see it, and a fee grid or
/// a price must keep every digit it was written with.
pub mod exact {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        deserializer.deserialize_any(ExactDecimalVisitor)
    }

    pub fn option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Decimal>, D::Error> {
        deserializer.deserialize_option(OptionalExactDecimalVisitor)
    }

    struct ExactDecimalVisitor;

    impl<'de> Visitor<'de> for ExactDecimalVisitor {
        type Value = Decimal;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a decimal written as a string (\"12.50\") or an integer")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Decimal, E> {
            Decimal::from_str_exact(text.trim()).map_err(|error| {
                E::custom(format_args!(
                    "{text:?} is not a decimal number ({error}); write it like \"12.50\""
                ))
            })
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(value))
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(value))
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<Decimal, E> {
            Err(E::custom(format_args!(
                "{value} is a float, which cannot hold decimal amounts exactly; write it as a \
                 string, e.g. \"{value}\""
            )))
        }
    }

    struct OptionalExactDecimalVisitor;

    impl<'de> Visitor<'de> for OptionalExactDecimalVisitor {
        type Value = Option<Decimal>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("null or a decimal written as a string or an integer")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserialize(deserializer).map(Some)
        }
    }
}

/// Conversion rates into the currency the margin is computed in, supplied with the inputs
/// (never constants: rates move, and a replay must use the rates of its time).
///
/// `rates["USD"] = 0.92` means one USD is worth 0.92 units of `base`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FxRates {
    /// ISO 4217 code every rate converts into.
    pub base: String,
    #[serde(default)]
    pub rates: BTreeMap<String, Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FxError {
    #[error(
        "no exchange rate from {currency} to {base} in the fx rates supplied with this input; \
         add rates[\"{currency}\"] (value of one {currency} in {base})"
    )]
    MissingRate { currency: String, base: String },
    #[error(
        "exchange rate for {currency} is {rate}, it must be strictly positive; fix the fx rates \
         table"
    )]
    NonPositiveRate { currency: String, rate: Decimal },
}

impl FxRates {
    /// Rates into `base` with no foreign currency: only same-currency amounts convert.
    pub fn identity(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            rates: BTreeMap::new(),
        }
    }

    /// The value of one unit of `currency` in `base`.
    fn rate_to_base(&self, currency: &str) -> Result<Decimal, FxError> {
        if currency == self.base {
            return Ok(Decimal::ONE);
        }
        let rate = *self
            .rates
            .get(currency)
            .ok_or_else(|| FxError::MissingRate {
                currency: currency.to_owned(),
                base: self.base.clone(),
            })?;
        if rate <= Decimal::ZERO {
            return Err(FxError::NonPositiveRate {
                currency: currency.to_owned(),
                rate,
            });
        }
        Ok(rate)
    }

    /// Converts `amount` from `from` into `to` through the base currency, unrounded.
    pub fn convert(&self, amount: Decimal, from: &str, to: &str) -> Result<Decimal, FxError> {
        if from == to {
            return Ok(amount);
        }
        Ok(amount * self.rate_to_base(from)? / self.rate_to_base(to)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn half_cents_round_away_from_zero_and_scale_is_fixed() {
        assert_eq!(charged(dec!(36.972)).to_string(), "36.9700");
        assert_eq!(charged(dec!(0.125)).to_string(), "0.1300");
        assert_eq!(charged(dec!(0.1249999)).to_string(), "0.1200");
        assert_eq!(charged(dec!(-0.125)).to_string(), "-0.1300");
        assert_eq!(rate(dec!(0.1)).to_string(), "0.100000");
        assert_eq!(money(dec!(3)).to_string(), "3.0000");
    }

    #[test]
    fn exact_decimals_refuse_floats_and_name_the_problem() {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(deserialize_with = "exact::deserialize")]
            amount: Decimal,
        }
        let parsed: Probe = serde_json::from_str(r#"{"amount": "425.10"}"#).unwrap();
        assert_eq!(parsed.amount, dec!(425.10));
        let parsed: Probe = serde_json::from_str(r#"{"amount": 49}"#).unwrap();
        assert_eq!(parsed.amount, dec!(49));
        let error = serde_json::from_str::<Probe>(r#"{"amount": 0.1}"#)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("float"), "{error}");
        let error = serde_json::from_str::<Probe>(r#"{"amount": "12,50"}"#)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("\"12,50\""), "{error}");
    }

    #[test]
    fn conversion_goes_through_the_base_and_names_a_missing_currency() {
        let fx = FxRates {
            base: "EUR".into(),
            rates: BTreeMap::from([("USD".into(), dec!(0.9)), ("GBP".into(), dec!(1.2))]),
        };
        assert_eq!(fx.convert(dec!(10), "USD", "EUR").unwrap(), dec!(9));
        assert_eq!(fx.convert(dec!(12), "GBP", "USD").unwrap(), dec!(16));
        assert_eq!(fx.convert(dec!(5), "EUR", "EUR").unwrap(), dec!(5));
        let error = fx.convert(dec!(1), "CHF", "EUR").unwrap_err();
        assert_eq!(
            error,
            FxError::MissingRate {
                currency: "CHF".into(),
                base: "EUR".into()
            }
        );
        assert!(error.to_string().contains("CHF"));
    }
}
