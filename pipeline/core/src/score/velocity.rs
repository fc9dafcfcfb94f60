//! Sales velocity estimated from a sales rank: a per-category curve of (rank, units sold per
//! day) points, as data. Between two points the estimate is linear in the rank; above the
//! first point it is the first point's value; beyond the last point it keeps falling as
//! `units × last_rank / rank` (the power-law tail that sales ranks follow, with exponent 1),
//! so a worse rank never estimates more sales. Pure decimal arithmetic: no float, no clock.

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::money::exact;

/// A validated curve: ranks strictly increasing, units per day non-negative and never
/// increasing with the rank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesRankCurve {
    points: Vec<(i64, Decimal)>,
}

impl SalesRankCurve {
    /// Estimated units sold per day (the whole market, every seller) at `rank` (>= 1).
    pub fn units_per_day(&self, rank: i64) -> Decimal {
        let rank = rank.max(1);
        let (first_rank, first_units) = self.points[0];
        if rank <= first_rank {
            return first_units;
        }
        let (last_rank, last_units) = self.points[self.points.len() - 1];
        if rank >= last_rank {
            return last_units * Decimal::from(last_rank) / Decimal::from(rank);
        }
        let upper = self
            .points
            .partition_point(|(point_rank, _)| *point_rank < rank);
        let (rank_above, units_above) = self.points[upper - 1];
        let (rank_below, units_below) = self.points[upper];
        units_above
            + (units_below - units_above) * Decimal::from(rank - rank_above)
                / Decimal::from(rank_below - rank_above)
    }

    /// [`Self::units_per_day`] as an exact fraction `(numerator, denominator)`, for the
    /// integer paths of the factors (`factors::ExactVelocity` says why they round alike), when
    /// the points it is computed from lie within what those paths rely on: units per day of at
    /// most `10^6` with at most 6 places, ranks up to `10^12`, and between two points, an
    /// upper point at most 1,000 times the lower one (so that the interpolated difference is
    /// at most 1,000 times the result). `None` otherwise.
    pub fn exact_units_per_day(&self, rank: i64) -> Option<(u128, u128)> {
        const RANK_LIMIT: i64 = 1_000_000_000_000;
        let rank = rank.max(1);
        let (first_rank, first_units) = self.points[0];
        if rank <= first_rank {
            let (units, scale) = exact_units(first_units)?;
            return Some((units, ten_to(scale)));
        }
        let (last_rank, last_units) = self.points[self.points.len() - 1];
        if rank >= last_rank {
            if rank > RANK_LIMIT {
                return None;
            }
            let (units, scale) = exact_units(last_units)?;
            // Below 10^12 × 10^12 and 10^6 × 10^12.
            return Some((
                units * last_rank.unsigned_abs() as u128,
                ten_to(scale) * rank.unsigned_abs() as u128,
            ));
        }
        let upper = self
            .points
            .partition_point(|(point_rank, _)| *point_rank < rank);
        let (rank_above, units_above) = self.points[upper - 1];
        let (rank_below, units_below) = self.points[upper];
        let ((above, above_scale), (below, below_scale)) =
            (exact_units(units_above)?, exact_units(units_below)?);
        let scale = above_scale.max(below_scale);
        // At most 10^12 each once at the common scale, the upper at least the lower.
        let above = above * ten_to(scale - above_scale);
        let below = below * ten_to(scale - below_scale);
        if above > 1_000 * below {
            return None;
        }
        let gap = (rank_below - rank_above).unsigned_abs() as u128;
        let into_gap = (rank - rank_above).unsigned_abs() as u128;
        if rank_below > RANK_LIMIT {
            return None;
        }
        // above - (above - below) × into_gap / gap, over gap: below 10^24 throughout.
        Some((
            above * gap - (above - below) * into_gap,
            ten_to(scale) * gap,
        ))
    }
}

/// A curve's units per day as `(mantissa, scale)` when at most `10^6` with at most 6 places.
fn exact_units(units: Decimal) -> Option<(u128, u32)> {
    let scale = units.scale();
    let mantissa = u128::try_from(units.mantissa()).ok()?;
    (scale <= 6 && mantissa <= 1_000_000 * ten_to(scale)).then_some((mantissa, scale))
}

fn ten_to(scale: u32) -> u128 {
    10u128.pow(scale)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSalesRankCurve {
    points: Vec<RawPoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoint {
    rank: i64,
    #[serde(deserialize_with = "exact::deserialize")]
    units_per_day: Decimal,
}

impl RawSalesRankCurve {
    pub(crate) fn validate(self) -> Result<SalesRankCurve, String> {
        if self.points.is_empty() {
            return Err("points is empty; give at least one { rank, units_per_day }".into());
        }
        for (index, point) in self.points.iter().enumerate() {
            if point.rank < 1 || point.units_per_day < Decimal::ZERO {
                return Err(format!(
                    "point {index} (rank {}, units_per_day {}) needs rank >= 1 and units_per_day \
                     >= 0",
                    point.rank, point.units_per_day
                ));
            }
            if let Some(previous) = index.checked_sub(1).map(|before| &self.points[before])
                && (point.rank <= previous.rank || point.units_per_day > previous.units_per_day)
            {
                return Err(format!(
                    "point {index} (rank {}) must have a higher rank and no more units per day \
                     than the point before it",
                    point.rank
                ));
            }
        }
        Ok(SalesRankCurve {
            points: self
                .points
                .into_iter()
                .map(|point| (point.rank, point.units_per_day))
                .collect(),
        })
    }
}

#[cfg(test)]
impl SalesRankCurve {
    /// A curve validated as one read from a file.
    pub(crate) fn from_points(points: &[(i64, Decimal)]) -> Result<Self, String> {
        RawSalesRankCurve {
            points: points
                .iter()
                .map(|&(rank, units_per_day)| RawPoint {
                    rank,
                    units_per_day,
                })
                .collect(),
        }
        .validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn curve(points: &[(i64, Decimal)]) -> Result<SalesRankCurve, String> {
        SalesRankCurve::from_points(points)
    }

    #[test]
    fn exact_units_per_day_is_the_curve_as_a_fraction() {
        let curve = curve(&[(1, dec!(100)), (11, dec!(50)), (1000, dec!(2))]).unwrap();
        let value = |rank| {
            curve
                .exact_units_per_day(rank)
                .map(|(numerator, denominator)| {
                    Decimal::from_i128_with_scale(numerator as i128, 0)
                        / Decimal::from_i128_with_scale(denominator as i128, 0)
                })
        };
        assert_eq!(value(-5), Some(dec!(100)));
        assert_eq!(value(6), Some(dec!(75)));
        assert_eq!(value(11), Some(dec!(50)));
        assert_eq!(value(4000), Some(dec!(0.5)));
        // An upper point more than 1,000 times the lower one, and units beyond 10^6 a day.
        let steep = SalesRankCurve::from_points(&[(1, dec!(2000)), (3, dec!(1))]).unwrap();
        assert_eq!(steep.exact_units_per_day(2), None);
        let huge = SalesRankCurve::from_points(&[(1, dec!(2000000))]).unwrap();
        assert_eq!(huge.exact_units_per_day(1), None);
    }

    proptest! {
        #[test]
        fn exact_units_per_day_is_within_the_decimal_computations_error(
            first in 1i64..=1_000,
            gaps in prop::collection::vec(1i64..=100_000, 0..4),
            units in prop::collection::vec((1i64..=1_000_000, 0u32..=6), 1..5),
            rank in 1i64..=10_000_000,
        ) {
            let mut units: Vec<Decimal> =
                units.into_iter().map(|(mantissa, scale)| Decimal::new(mantissa, scale)).collect();
            units.sort_unstable_by(|a, b| b.cmp(a));
            let mut ranks = vec![first];
            for gap in gaps {
                ranks.push(ranks[ranks.len() - 1] + gap);
            }
            let points: Vec<(i64, Decimal)> = ranks.into_iter().zip(units).collect();
            let curve = SalesRankCurve::from_points(&points).unwrap();
            if let Some((numerator, denominator)) = curve.exact_units_per_day(rank) {
                let decimal = curve.units_per_day(rank);
                let exact = Decimal::from_i128_with_scale(numerator as i128, 0)
                    / Decimal::from_i128_with_scale(denominator as i128, 0);
                prop_assert!(
                    (decimal - exact).abs() <= decimal * Decimal::new(1, 20),
                    "{} against {} / {} at rank {}",
                    decimal,
                    numerator,
                    denominator,
                    rank
                );
            }
        }
    }

    #[test]
    fn interpolates_between_points_and_decays_beyond_the_last() {
        let curve = curve(&[(1, dec!(100)), (11, dec!(50)), (1000, dec!(2))]).unwrap();
        assert_eq!(curve.units_per_day(-5), dec!(100));
        assert_eq!(curve.units_per_day(1), dec!(100));
        assert_eq!(curve.units_per_day(6), dec!(75));
        assert_eq!(curve.units_per_day(11), dec!(50));
        assert_eq!(curve.units_per_day(1000), dec!(2));
        assert_eq!(curve.units_per_day(4000), dec!(0.5));
    }

    #[test]
    fn curves_that_would_reward_a_worse_rank_are_refused() {
        assert!(curve(&[]).is_err());
        assert!(
            curve(&[(10, dec!(5)), (5, dec!(1))])
                .unwrap_err()
                .contains("point 1")
        );
        assert!(curve(&[(1, dec!(5)), (5, dec!(6))]).is_err());
        assert!(curve(&[(0, dec!(5))]).is_err());
    }
}
