//! Exact fixed-point values for ClickHouse `Decimal(P, S)` columns.
//!
//! The `clickhouse` crate reads and writes a `Decimal(P, S)` as its unscaled integer (`i32`
//! up to P = 9, `i64` up to P = 18), so a row field must already hold the value multiplied by
//! 10^S. These newtypes do that conversion once, checked, when a record becomes a row: a
//! value with more decimal places than the column keeps, or more digits than its precision,
//! is refused instead of being rounded or wrapped.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a `rust_decimal::Decimal` does not fit a `Decimal(P, S)` column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error(
        "{value} has more than {scale} decimal places, Decimal({precision}, {scale}) would round it"
    )]
    TooManyDecimals {
        value: Decimal,
        precision: u32,
        scale: u32,
    },
    #[error(
        "{value} has more than {precision} significant digits, out of range for Decimal({precision}, {scale})"
    )]
    OutOfRange {
        value: Decimal,
        precision: u32,
        scale: u32,
    },
}

macro_rules! fixed_decimal {
    ($(#[$doc:meta])* $name:ident, $repr:ty, $precision:literal, $scale:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name($repr);

        impl $name {
            pub const PRECISION: u32 = $precision;
            pub const SCALE: u32 = $scale;

            /// The value times 10^SCALE, as ClickHouse stores it.
            pub fn unscaled(self) -> $repr {
                self.0
            }

            pub fn to_decimal(self) -> Decimal {
                Decimal::new(i64::from(self.0), Self::SCALE)
            }
        }

        impl TryFrom<Decimal> for $name {
            type Error = DecimalError;

            fn try_from(value: Decimal) -> Result<Self, DecimalError> {
                to_unscaled(value, Self::PRECISION, Self::SCALE)
                    .and_then(|unscaled| <$repr>::try_from(unscaled).ok())
                    .map(Self)
                    .ok_or_else(|| classify(value, Self::PRECISION, Self::SCALE))
            }
        }

        impl From<$name> for Decimal {
            fn from(value: $name) -> Decimal {
                value.to_decimal()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.to_decimal().fmt(f)
            }
        }
    };
}

fixed_decimal!(
    /// `Decimal(18, 4)`: money amounts.
    Dec18x4, i64, 18, 4
);
fixed_decimal!(
    /// `Decimal(18, 6)`: unbounded ratios (margin rate, ROI, a factor's raw input).
    Dec18x6, i64, 18, 6
);
fixed_decimal!(
    /// `Decimal(9, 4)`: scores, confidences and contributions.
    Dec9x4, i32, 9, 4
);
fixed_decimal!(
    /// `Decimal(9, 6)`: rates and weights in [0, 1].
    Dec9x6, i32, 9, 6
);

/// The unscaled integer of `value` at `scale`, if it is exact and within `precision` digits.
fn to_unscaled(value: Decimal, precision: u32, scale: u32) -> Option<i128> {
    let normalized = value.normalize();
    let shift = scale.checked_sub(normalized.scale())?;
    let unscaled = normalized
        .mantissa()
        .checked_mul(10_i128.checked_pow(shift)?)?;
    (unscaled.unsigned_abs() < 10_u128.pow(precision)).then_some(unscaled)
}

fn classify(value: Decimal, precision: u32, scale: u32) -> DecimalError {
    if value.normalize().scale() > scale {
        DecimalError::TooManyDecimals {
            value,
            precision,
            scale,
        }
    } else {
        DecimalError::OutOfRange {
            value,
            precision,
            scale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn scales_exact_values_to_the_column_scale() {
        assert_eq!(Dec18x4::try_from(dec("12.5")).unwrap().unscaled(), 125_000);
        assert_eq!(Dec18x4::try_from(dec("-0.0001")).unwrap().unscaled(), -1);
        assert_eq!(
            Dec9x6::try_from(dec("0.200000")).unwrap().unscaled(),
            200_000
        );
        // Trailing zeros beyond the scale are not lost precision.
        assert_eq!(
            Dec9x4::try_from(dec("1.23400000")).unwrap().unscaled(),
            12_340
        );
    }

    #[test]
    fn round_trips_through_decimal() {
        for text in ["0", "19.99", "-7.1234", "99999999999999.9999"] {
            let fixed = Dec18x4::try_from(dec(text)).unwrap();
            assert_eq!(Decimal::from(fixed), dec(text));
        }
    }

    #[test]
    fn refuses_values_that_would_be_rounded() {
        assert_eq!(
            Dec18x4::try_from(dec("0.00001")),
            Err(DecimalError::TooManyDecimals {
                value: dec("0.00001"),
                precision: 18,
                scale: 4
            })
        );
    }

    #[test]
    fn refuses_values_beyond_the_precision() {
        // 15 integer digits + 4 decimals = 19 digits > 18.
        assert!(matches!(
            Dec18x4::try_from(dec("100000000000000")),
            Err(DecimalError::OutOfRange { precision: 18, .. })
        ));
        assert!(matches!(
            Dec9x6::try_from(dec("1000")),
            Err(DecimalError::OutOfRange { precision: 9, .. })
        ));
        assert_eq!(
            Dec9x6::try_from(dec("999.999999")).unwrap().unscaled(),
            999_999_999
        );
    }
}
