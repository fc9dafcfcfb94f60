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
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn curve(points: &[(i64, Decimal)]) -> Result<SalesRankCurve, String> {
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
