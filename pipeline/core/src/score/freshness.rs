//! How fresh the inputs of a score are, and the confidence the factors draw from it. An
//! input's freshness is `h / (h + age)` for its half-life `h`; a factor's confidence is 0, the
//! stalest of the inputs it read, or the mean freshness; the published confidence is their
//! sum weighted as the factors are. Computed from bounds of the exact fractions in integers
//! where that gives the decimal computation's bits, and as decimals elsewhere (each integer
//! path says why they agree).

use std::cell::OnceCell;

use rust_decimal::Decimal;

use crate::money::{self, Fixed, Piece, unit_interval};

/// A kind of input whose freshness confidences read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Offer,
    Stock,
    Cost,
}

/// What a factor's confidence, a value in [0, 1], is made of; [`Freshnesses`] gives its
/// value, and the weighted sum `evaluate` publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confidence {
    /// 0: an input the factor needs is missing.
    Zero,
    /// The lowest freshness of these inputs, 0 if any is missing.
    Stalest(&'static [Input]),
    /// The mean freshness of the three kinds of input, a missing one counting 0.
    MeanFreshness,
}

impl Confidence {
    /// The confidence of a factor reading the offer alone, or the offer and the product cost.
    pub const OFFER: Confidence = Confidence::Stalest(&[Input::Offer]);
    pub const OFFER_AND_COST: Confidence = Confidence::Stalest(&[Input::Offer, Input::Cost]);
}

const MILLIS_PER_HOUR: i64 = 3_600_000;

/// The age of an input observed `age_ms` before the scoring time (0 if observed after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputAge {
    /// In milliseconds, at least 0.
    pub millis: i64,
}

impl InputAge {
    pub fn new(age_ms: i64) -> Self {
        Self {
            millis: age_ms.max(0),
        }
    }

    /// In hours, unrounded: what [`freshness`] reads. Only the decimal computations read
    /// it (where an integer path leaves a value to them), so it is not kept.
    pub fn hours(&self) -> Decimal {
        Decimal::from(self.millis) / Decimal::from(MILLIS_PER_HOUR)
    }

    /// `fixed(hours, dp)` for `dp` up to 6, bit for bit: [`money::rounded_quotient`] of the
    /// milliseconds by the milliseconds in an hour, which within its integer path's limits (a
    /// quotient below `10^6`, here an age below a million hours) is the exact quotient
    /// rounded half up, computed here in one 64-bit division; older ages go through it.
    pub(super) fn hours_fixed(&self, dp: u32) -> Decimal {
        const INTEGER_PATH_MILLIS: i64 = 1_000_000 * MILLIS_PER_HOUR;
        debug_assert!(dp <= money::RATE_SCALE);
        if self.millis < INTEGER_PATH_MILLIS {
            // Below 3.6 × 10^18 once scaled: within a u64, and the rounded value in an i64.
            let scaled = self.millis.unsigned_abs() * 10u64.pow(dp);
            let rounded = money::round_half_up(scaled, MILLIS_PER_HOUR.unsigned_abs());
            return Decimal::new(rounded as i64, dp);
        }
        money::rounded_quotient(
            Decimal::from(self.millis),
            Decimal::from(MILLIS_PER_HOUR),
            dp,
        )
    }
}

/// Freshness of an input [`InputAge::hours`] old whose half-life is `half_life_hours`:
/// `h / (h + age)`, 1 when just observed, 1/2 at one half-life, 1/3 at two. A rational
/// curve rather than an exponential keeps it exact in decimals and cheap.
pub fn freshness(age_hours: Decimal, half_life_hours: Decimal) -> Decimal {
    half_life_hours / (half_life_hours + age_hours)
}

/// Places of the freshness shown in explanations.
const FRESHNESS_SHOWN_DP: u32 = 2;
/// Below this, [`exact_freshness`]'s argument holds with room to spare, and `A × 10^19`
/// fits 128 bits.
const FRESHNESS_DENOMINATOR_LIMIT: u64 = 10_000_000_000_000_000_000;

/// The freshness of an input `age_ms` old whose half-life is `half_life_hours` as the exact
/// fraction `A / B` (at most 1), within the limits under which the decimal computation is
/// shown to be within `3 × 10^-27` of it; `None` beyond them.
///
/// With `h = H × 10^-s`, the exact freshness is `A / B`, `A = H × 3,600,000` and
/// `B = A + age_ms × 10^s`. The decimal computation rounds three times on the way: the
/// hours (off by at most `10^-28` below 7.9 hours, where they keep 28 places, and by one
/// unit in their 28th significant digit above), their sum with `h` (one unit in the 28th
/// significant digit) and the quotient (at most 1, so off by at most `10^-28`). With `h` at
/// least one hour, the sum is off by a relative `2 × 10^-27` at most, so the decimal
/// freshness is within `3 × 10^-27` of `A / B`. A half-life under one hour or with more
/// than 4 places, and a `B` of `10^19` or more, give `None`.
fn exact_freshness(age_ms: i64, half_life_hours: Decimal) -> Option<(u64, u64)> {
    const ONE_HOUR_AT_SCALE: [u64; 5] = [1, 10, 100, 1_000, 10_000];
    let one_hour = *ONE_HOUR_AT_SCALE.get(half_life_hours.scale() as usize)?;
    let half_life_mantissa = u64::try_from(half_life_hours.mantissa()).ok()?;
    if half_life_mantissa < one_hour {
        return None;
    }
    let a = half_life_mantissa.checked_mul(MILLIS_PER_HOUR.unsigned_abs())?;
    let b = age_ms
        .max(0)
        .unsigned_abs()
        .checked_mul(one_hour)?
        .checked_add(a)?;
    (b < FRESHNESS_DENOMINATOR_LIMIT).then_some((a, b))
}

/// `10^17`: counts of `10^-19` per `10^-2`, the places of the freshness shown.
const FRESHNESS_UNITS_PER_SHOWN: u64 = 100_000_000_000_000_000;

/// `fixed(freshness(InputAge::new(age_ms).hours(), half_life_hours), 2)`, bit for bit, from
/// the bounds `[low, high]` of the exact freshness in counts of `10^-19` ([`Freshness`]);
/// `None` where the decimal computation must decide.
///
/// Why they agree: the decimal freshness is within `3 × 10^-27` of the exact one
/// ([`exact_freshness`]), so within one count of the bounds. Where rounding half up to 2
/// places gives the same from one count below `low` to one count above `high`, it gives
/// that for the decimal freshness too (half up is half away from zero on a positive value,
/// and a rounded value of at most 100 is a positive decimal at scale 2); nearer a midpoint
/// (an exact one included), `None`. In 64 bits: the bounds are at most `10^19`.
fn freshness_shown((low, high): (u64, u64)) -> Option<Decimal> {
    let rounded = |x: u64| {
        x / FRESHNESS_UNITS_PER_SHOWN
            + u64::from(x % FRESHNESS_UNITS_PER_SHOWN >= FRESHNESS_UNITS_PER_SHOWN / 2)
    };
    let at_low = rounded(low.saturating_sub(1));
    (at_low == rounded(high + 1))
        .then(|| Decimal::from_parts(at_low as u32, 0, 0, false, FRESHNESS_SHOWN_DP))
}

/// `Fixed(freshness, 2)` as a piece, through [`freshness_shown`] where it decides.
pub(super) struct FreshnessShown<'f>(pub(super) &'f Freshness);

impl Piece for FreshnessShown<'_> {
    fn append_to(&self, line: &mut String) {
        let freshness = self.0;
        match freshness.bounds.and_then(freshness_shown) {
            Some(shown) => shown.append_to(line),
            None => Fixed(freshness.decimal(), FRESHNESS_SHOWN_DP).append_to(line),
        }
    }
}

/// `10^19`: [`Freshness`] bounds an exact freshness between two counts of `10^-19`.
const FRESHNESS_UNITS: u128 = 10_000_000_000_000_000_000;

/// The freshness of one input: its age, its half-life, bounds of the exact value for the
/// integer paths, and the decimal [`freshness`] computed only when a decimal computation
/// reads it.
#[derive(Debug, Clone)]
pub struct Freshness {
    pub age: InputAge,
    half_life: Decimal,
    /// The exact freshness lies in `[low, high] × 10^-19`, `high - low` at most 1 (0 when it
    /// is exact at 19 places); `None` beyond [`exact_freshness`]'s limits.
    bounds: Option<(u64, u64)>,
    decimal: OnceCell<Decimal>,
}

impl Freshness {
    pub fn new(age: InputAge, half_life: Decimal) -> Self {
        let bounds = exact_freshness(age.millis, half_life).map(|(a, b)| {
            // `a` at most `b`, below 10^19: `a × 10^19` below 10^38 fits, the quotient at
            // most 10^19 fits 64 bits.
            let scaled = u128::from(a) * FRESHNESS_UNITS;
            let low = (scaled / u128::from(b)) as u64;
            // The remainder is below `b`, so it is the same modulo 2^64.
            let remainder = (scaled as u64).wrapping_sub(low.wrapping_mul(b));
            (low, low + u64::from(remainder != 0))
        });
        Self {
            age,
            half_life,
            bounds,
            decimal: OnceCell::new(),
        }
    }

    /// `freshness(age.hours(), half_life)`, computed once.
    pub fn decimal(&self) -> Decimal {
        *self
            .decimal
            .get_or_init(|| freshness(self.age.hours(), self.half_life))
    }
}

/// The [`Freshness`] of each kind of input; `None` when it is missing.
#[derive(Debug, Clone, Default)]
pub struct Freshnesses {
    pub offer: Option<Freshness>,
    pub stock: Option<Freshness>,
    pub cost: Option<Freshness>,
}

/// `3 × 10^21`: a count of `10^-25` of three times the confidence, per `10^-4` of it.
const TRIPLED_CONFIDENCE_PER_SCORE_UNIT: u128 = 3_000_000_000_000_000_000_000;
/// `3 × 10^13`: a count of `10^-19` of the sum of three freshnesses, per `10^-6` of their
/// mean.
const FRESHNESS_SUM_PER_RATE_UNIT: u128 = 30_000_000_000_000;
/// Weights at the rate scale sum to at most `10^6`, one.
const WEIGHT_ONE: u64 = 1_000_000;

impl Freshnesses {
    pub fn of(&self, input: Input) -> Option<&Freshness> {
        match input {
            Input::Offer => self.offer.as_ref(),
            Input::Stock => self.stock.as_ref(),
            Input::Cost => self.cost.as_ref(),
        }
    }

    fn decimals(&self) -> [Option<Decimal>; 3] {
        [Input::Offer, Input::Stock, Input::Cost]
            .map(|input| self.of(input).map(Freshness::decimal))
    }

    /// The confidence as a decimal, unrounded, as the factors computed it: a freshness is a
    /// 28-digit quotient.
    pub fn decimal_confidence(&self, confidence: Confidence) -> Decimal {
        match confidence {
            Confidence::Zero => Decimal::ZERO,
            Confidence::Stalest(inputs) => inputs
                .iter()
                .map(|input| self.of(*input).map_or(Decimal::ZERO, Freshness::decimal))
                .min()
                .unwrap_or(Decimal::ZERO),
            Confidence::MeanFreshness => mean_freshness(self.decimals()),
        }
    }

    /// Bounds of each kind of input's exact freshness as counts of `10^-19`, a missing one
    /// 0 (as every confidence counts it); `None` when one is beyond [`exact_freshness`]'s
    /// limits.
    fn exact_bounds(&self) -> Option<[(u64, u64); 3]> {
        let bounds = |freshness: &Option<Freshness>| match freshness {
            None => Some((0, 0)),
            Some(freshness) => freshness.bounds,
        };
        Some([
            bounds(&self.offer)?,
            bounds(&self.stock)?,
            bounds(&self.cost)?,
        ])
    }

    /// Data freshness's normalised value, `rate(unit_interval(mean))` of the decimal mean
    /// `mean_freshness` of the decimal freshnesses, bit for bit, from the exact fractions
    /// where `rounded_between` decides.
    ///
    /// Why they agree: each decimal freshness is within `3 × 10^-27` of the exact one
    /// (`exact_freshness`), their sum (at most 3, at 28 places at most) is exact, and the
    /// division by 3 is off by at most `10^-28`: the decimal mean is within `3.1 × 10^-27` of
    /// the exact mean, so three times it within `10^-26`, far less than the one count of
    /// `10^-19` `rounded_between` allows either side of the bounds. The mean is in [0, 1]:
    /// the clamp changes nothing, and the result, a count of `10^-6`, is a positive decimal at
    /// the rate scale as `rate` gives it (a zero included).
    pub fn mean_rate(&self) -> Decimal {
        self.exact_bounds()
            .and_then(|freshnesses| {
                let (low, high) = weighted_bounds(1, Confidence::MeanFreshness, &freshnesses);
                rounded_between(low, high, FRESHNESS_SUM_PER_RATE_UNIT)
            })
            .map_or_else(
                || money::rate(unit_interval(mean_freshness(self.decimals()))),
                |rounded| Decimal::from_parts(rounded as u32, 0, 0, false, money::RATE_SCALE),
            )
    }

    /// The published confidence: `fixed(Σ weight × unit_interval(confidence), 4)`, the sum
    /// from 0 in the order of `terms`, bit for bit, from the exact fractions where
    /// `rounded_between` decides; otherwise (and when a freshness is beyond
    /// `exact_freshness`'s limits, or the weights are not at the rate scale summing to at
    /// most 1) the decimal computation.
    ///
    /// Why they agree: with `w` the weights and `e` each confidence's distance from its exact
    /// value, the decimal sum is off by at most `Σ w e + 7 × 10^-28`: a freshness is within
    /// `3 × 10^-27` of the exact one (`exact_freshness`), the lowest of several within the
    /// largest of their distances, the decimal mean within `3.1 × 10^-27` (see
    /// [`Self::mean_rate`]), a clamp into [0, 1] only brings a confidence nearer the exact one
    /// (which is in it), each product by a weight at the rate scale is rounded to 28 places
    /// (one unit of `10^-28`), and the sums, at most 1 at 28 places, are exact. With the
    /// weights summing to at most 1 that is below `4 × 10^-27`: three times the confidence is
    /// within `1.2 × 10^-26` of three times the exact one, bounded here in counts of
    /// `10^-25` (a weight's count of `10^-6` times three times a freshness's bounds in counts
    /// of `10^-19`), and `rounded_between` allows a whole count either side. Rounding half
    /// away from zero to 4 places and padding, as `fixed` does, gives a positive decimal at
    /// scale 4 (a zero included: the decimal sum of non-negative terms is a positive zero).
    pub fn weighted_confidence(
        &self,
        terms: impl Iterator<Item = (Decimal, Confidence)> + Clone,
    ) -> Decimal {
        self.integer_weighted_confidence(terms.clone())
            .unwrap_or_else(|| {
                let sum = terms.fold(Decimal::ZERO, |sum, (weight, confidence)| {
                    sum + weight * unit_interval(self.decimal_confidence(confidence))
                });
                money::fixed(sum, money::SCORE_SCALE)
            })
    }

    fn integer_weighted_confidence(
        &self,
        terms: impl Iterator<Item = (Decimal, Confidence)>,
    ) -> Option<Decimal> {
        let freshnesses = self.exact_bounds()?;
        let (mut low, mut high, mut weights) = (0u128, 0u128, 0u64);
        for (weight, confidence) in terms {
            if weight.scale() != money::RATE_SCALE || weight.is_sign_negative() {
                return None;
            }
            let weight = u64::try_from(weight.mantissa()).ok()?;
            weights += weight.min(WEIGHT_ONE + 1);
            if weights > WEIGHT_ONE {
                return None;
            }
            let (term_low, term_high) = weighted_bounds(weight, confidence, &freshnesses);
            low += term_low;
            high += term_high;
        }
        let rounded = rounded_between(low, high, TRIPLED_CONFIDENCE_PER_SCORE_UNIT)?;
        Some(Decimal::from_parts(
            rounded as u32,
            0,
            0,
            false,
            money::SCORE_SCALE,
        ))
    }
}

/// `weight` times three times the bounds of the exact `confidence` (of the mean: times the
/// sum of the freshnesses), from the [`Freshnesses::exact_bounds`] of the freshnesses as
/// counts of `10^-19`; `weight` at most `10^6`. Products of 64-bit values, each one
/// multiplication.
fn weighted_bounds(
    weight: u64,
    confidence: Confidence,
    freshnesses: &[(u64, u64); 3],
) -> (u128, u128) {
    let times = |factor: u64, (low, high): (u64, u64)| {
        (
            u128::from(factor) * u128::from(low),
            u128::from(factor) * u128::from(high),
        )
    };
    match confidence {
        Confidence::Zero => (0, 0),
        Confidence::Stalest(inputs) => inputs
            .iter()
            .map(|input| freshnesses[*input as usize])
            .reduce(|(lowest, highest), (low, high)| (lowest.min(low), highest.min(high)))
            .map_or((0, 0), |bounds| times(3 * weight, bounds)),
        Confidence::MeanFreshness => {
            freshnesses
                .iter()
                .fold((0, 0), |(low_sum, high_sum), bounds| {
                    let (low, high) = times(weight, *bounds);
                    (low_sum + low, high_sum + high)
                })
        }
    }
}

/// `x / unit` rounded half up, the same for every `x` from one count below `low` to one
/// count above `high`, or `None` when a midpoint of the rounding lies there: the value a
/// decimal computation within one count of `[low, high]` rounds to. One division: `x`
/// rounds to the value of `low - 1` while `2x + unit` is below the next multiple of
/// `2 unit`.
fn rounded_between(low: u128, high: u128, unit: u128) -> Option<u128> {
    let twice_unit = 2 * unit;
    let rounded = (2 * low.saturating_sub(1) + unit) / twice_unit;
    (2 * (high + 1) + unit < (rounded + 1) * twice_unit).then_some(rounded)
}

/// The mean freshness of the three kinds of input, a missing one counting 0: the sum of those
/// present (from 0) divided by 3 as decimals, which the confidence reads unrounded.
///
/// Computed bit for bit as `rust_decimal` (1.43) computes it, in integers, when the sum is
/// not zero. Freshnesses are at most 1, so the sum (from 0; a zero adds as nothing) is exact,
/// at the largest scale `s` of its terms not zero, within 96 bits. Dividing it by 3, a 32-bit divisor,
/// the library takes the integer quotient at scale `s`; without a remainder that is the
/// result (`div_impl`); with one, it appends digits up to scale 28 (`div_remainder_32`, as
/// `find_scale` lets it for a mean of at most 1; a larger one goes through the decimals),
/// where the remainder is still the sum's remainder (10 is 1 modulo 3), rounds half to even
/// on it (2 rounds up, 1 does not: 3 has no midpoint) and removes trailing zeros as
/// `unscale` does ([`unscale_as_rust_decimal`]). A negative freshness (there is none) and a
/// zero sum go through the decimals. The property tests
/// `mean_freshness_is_bit_identical_to_the_decimal_mean` and
/// `mean_freshness_removes_trailing_zeros_as_the_library` compare both.
fn mean_freshness(freshnesses: [Option<Decimal>; 3]) -> Decimal {
    const MAX_SCALE: u32 = Decimal::MAX_SCALE;
    // A zero adds as nothing, whatever its scale.
    let terms = || {
        freshnesses
            .iter()
            .flatten()
            .filter(|fresh| !fresh.is_zero())
    };
    let scale = terms().map(|fresh| fresh.scale()).max().unwrap_or(0);
    // Each term at most 10^28 (a freshness is at most 1), so the sum at most 3 × 10^28, and as
    // much once scaled to 28 places; the checks only guard against other values.
    let sum = terms().try_fold(0u128, |sum, fresh| {
        if fresh.is_sign_negative() {
            return None;
        }
        aligned(fresh.mantissa().unsigned_abs(), scale - fresh.scale())?.checked_add(sum)
    });
    let Some(sum) = sum.filter(|sum| *sum != 0 && *sum >> 96 == 0) else {
        return mean_freshness_as_decimals(freshnesses);
    };
    let (mantissa, scale) = match sum % 3 {
        0 => (sum / 3, scale),
        remainder => {
            // The library reaches 28 places for a mean of at most 1 (`find_scale`), which
            // other values need not.
            let Some(scaled) = aligned(sum, MAX_SCALE - scale)
                .filter(|scaled| *scaled <= 3 * 10u128.pow(MAX_SCALE))
            else {
                return mean_freshness_as_decimals(freshnesses);
            };
            unscale_as_rust_decimal(scaled / 3 + u128::from(remainder == 2), MAX_SCALE)
        }
    };
    money::decimal_of(mantissa, false, scale)
}

/// `mantissa × 10^places`, without the multiplication in the usual case of no places (most
/// freshnesses have the same scale).
fn aligned(mantissa: u128, places: u32) -> Option<u128> {
    if places == 0 {
        return Some(mantissa);
    }
    mantissa.checked_mul(10u128.checked_pow(places)?)
}

fn mean_freshness_as_decimals(freshnesses: [Option<Decimal>; 3]) -> Decimal {
    let sum = freshnesses
        .iter()
        .flatten()
        .fold(Decimal::ZERO, |sum, fresh| sum + fresh);
    sum / Decimal::from(freshnesses.len())
}

/// The trailing zeros `rust_decimal`'s division removes from an inexact quotient
/// (`ops::div::unscale`): eight at a time while the low 32 bits are zero, then at most four,
/// two and one, each tried only when the low bits allow it; not necessarily all of them.
fn unscale_as_rust_decimal(mut mantissa: u128, mut scale: u32) -> (u128, u32) {
    while mantissa as u32 == 0 && scale >= 8 && mantissa.is_multiple_of(100_000_000) {
        mantissa /= 100_000_000;
        scale -= 8;
    }
    for (places, low_bits, power) in [(4, 0xF, 10_000), (2, 0x3, 100), (1, 0x1, 10)] {
        if mantissa & low_bits == 0 && scale >= places && mantissa.is_multiple_of(power) {
            mantissa /= power;
            scale -= places;
        }
    }
    (mantissa, scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::text;
    use proptest::prelude::*;

    /// Half-lives as profiles write them (whole hours, or a few places), and now and then
    /// under an hour or with many places, which the integer path leaves to the decimal one.
    fn any_half_life() -> impl Strategy<Value = Decimal> {
        prop_oneof![
            4 => (1i64..=10_000, 0u32..=3).prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale)),
            1 => (1i64..=i64::MAX, 0u32..=28).prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale)),
        ]
    }

    /// Ages in milliseconds: up to a year mostly, sometimes up to the largest.
    fn any_age_ms() -> impl Strategy<Value = i64> {
        prop_oneof![
            4 => 0i64..=366 * 24 * MILLIS_PER_HOUR,
            1 => any::<i64>(),
        ]
    }

    /// [`freshness_shown`] of the freshness of an input `age_ms` old.
    fn freshness_shown_of(age_ms: i64, half_life: Decimal) -> Option<Decimal> {
        Freshness::new(InputAge::new(age_ms), half_life)
            .bounds
            .and_then(freshness_shown)
    }

    fn freshness_as_decimals(age_ms: i64, half_life: Decimal) -> Decimal {
        freshness(InputAge::new(age_ms).hours(), half_life)
    }

    #[test]
    fn hours_fixed_of_no_age_is_the_padded_zero_of_the_decimal_hours() {
        for age_ms in [-5, 0] {
            let age = InputAge::new(age_ms);
            for dp in [1, money::RATE_SCALE] {
                assert_eq!(
                    age.hours_fixed(dp).serialize(),
                    money::fixed(age.hours(), dp).serialize()
                );
            }
        }
    }

    #[test]
    fn freshness_shown_leaves_exact_midpoints_to_the_decimal_computation() {
        // One hour's half-life at seven hours is exactly 1/8, a midpoint of the 2 places.
        let half_life = Decimal::ONE;
        let age_ms = 7 * MILLIS_PER_HOUR;
        assert_eq!(freshness_shown_of(age_ms, half_life), None);
        let age = InputAge::new(age_ms);
        let shown = text!(FreshnessShown(&Freshness::new(age, half_life)));
        assert_eq!(shown, "0.13");
        // One millisecond either side is decided by the integer path.
        assert!(freshness_shown_of(age_ms - 1, half_life).is_some());
        assert!(freshness_shown_of(age_ms + 1, half_life).is_some());
    }

    #[test]
    fn freshness_shown_takes_the_integer_path_for_the_default_half_lives() {
        for half_life in [24, 48, 720].map(Decimal::from) {
            for age_ms in [
                0,
                1,
                3_599_999,
                36 * MILLIS_PER_HOUR + 17,
                90 * 24 * MILLIS_PER_HOUR,
            ] {
                assert_eq!(
                    freshness_shown_of(age_ms, half_life).map(|shown| shown.serialize()),
                    Some(money::fixed(freshness_as_decimals(age_ms, half_life), 2).serialize()),
                    "{age_ms} ms, half-life {half_life} h"
                );
            }
        }
    }

    /// A freshness as `freshness` gives it: mostly 28 places, sometimes fewer (exact ones).
    fn any_freshness() -> impl Strategy<Value = Option<Decimal>> {
        let inexact = (1u128..=10u128.pow(27), 26u32..=28)
            .prop_map(|(mantissa, scale)| Decimal::from_i128_with_scale(mantissa as i128, scale));
        let round_numbers = (0u32..=28, 0u32..=28).prop_map(|(zeros, scale)| {
            // Mantissas ending in zeros, where `unscale` has something to remove.
            let mantissa = (10u128.pow(28) / 7 / 10u128.pow(zeros)) * 10u128.pow(zeros);
            Decimal::from_i128_with_scale(mantissa as i128, scale.max(zeros.min(28)))
        });
        let exact = (1i64..=1_000, 0u32..=4)
            .prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale).min(Decimal::ONE));
        prop::option::weighted(
            0.9,
            prop_oneof![6 => inexact, 2 => round_numbers, 1 => exact],
        )
    }

    #[test]
    fn mean_freshness_takes_the_integer_path_for_inexact_freshnesses() {
        let third = Decimal::ONE / Decimal::from(3);
        let freshnesses = [
            Some(third),
            None,
            Some(Decimal::from(24) / Decimal::from(31)),
        ];
        assert_eq!(
            mean_freshness(freshnesses).serialize(),
            mean_freshness_as_decimals(freshnesses).serialize()
        );
        // A sum that 3 divides exactly keeps its 28 places, trailing zeros included.
        let exact_thirds = Decimal::from_i128_with_scale(3 * 10i128.pow(20), 28);
        let freshnesses = [Some(exact_thirds), None, None];
        assert_eq!(mean_freshness(freshnesses).scale(), 28);
        assert_eq!(
            mean_freshness(freshnesses).serialize(),
            mean_freshness_as_decimals(freshnesses).serialize()
        );
        // A quotient of 4096 × 10^20 whose low 32 bits are zero: the library removes eight
        // zeros, then four, two and one, and leaves five.
        let sum = 3 * 4096 * 10i128.pow(20) + 1;
        let freshnesses = [Some(Decimal::from_i128_with_scale(sum, 28)), None, None];
        let mean = mean_freshness(freshnesses);
        assert_eq!((mean.mantissa(), mean.scale()), (4096 * 10i128.pow(5), 13));
        assert_eq!(
            mean.serialize(),
            mean_freshness_as_decimals(freshnesses).serialize()
        );
    }

    /// The inputs of the freshnesses: an age in milliseconds and a half-life, or missing.
    type FreshnessInputs = [Option<(i64, Decimal)>; 3];

    fn freshnesses_of(inputs: FreshnessInputs) -> Freshnesses {
        let [offer, stock, cost] = inputs.map(|input| {
            input.map(|(age_ms, half_life)| Freshness::new(InputAge::new(age_ms), half_life))
        });
        Freshnesses { offer, stock, cost }
    }

    /// The published confidence as `evaluate` computed it before the integer path: each
    /// factor's confidence from the 28-digit freshnesses, weighted, summed from 0, rounded.
    /// [`mean_freshness`] of `freshnesses` is the decimal mean, bit for bit.
    fn mean_is_the_decimal_mean(freshnesses: [Option<Decimal>; 3]) -> Result<(), TestCaseError> {
        prop_assert_eq!(
            mean_freshness(freshnesses).serialize(),
            mean_freshness_as_decimals(freshnesses).serialize(),
            "{:?}",
            freshnesses
        );
        Ok(())
    }

    /// The published confidence of `terms` is the decimal computation's, bit for bit.
    fn confidence_is_the_decimal_sum(
        inputs: FreshnessInputs,
        terms: &[(Decimal, Confidence)],
    ) -> Result<(), TestCaseError> {
        prop_assert_eq!(
            freshnesses_of(inputs)
                .weighted_confidence(terms.iter().copied())
                .serialize(),
            confidence_as_decimals(inputs, terms).serialize(),
            "{:?} {:?}",
            inputs,
            terms
        );
        Ok(())
    }

    fn confidence_as_decimals(inputs: FreshnessInputs, terms: &[(Decimal, Confidence)]) -> Decimal {
        let decimals = inputs
            .map(|input| input.map(|(age_ms, half_life)| freshness_as_decimals(age_ms, half_life)));
        let of = |input: Input| decimals[input as usize].unwrap_or(Decimal::ZERO);
        let mut sum = Decimal::ZERO;
        for (weight, confidence) in terms {
            let confidence = match confidence {
                Confidence::Zero => Decimal::ZERO,
                Confidence::Stalest(inputs) => inputs
                    .iter()
                    .map(|input| of(*input))
                    .min()
                    .unwrap_or(Decimal::ZERO),
                Confidence::MeanFreshness => mean_freshness_as_decimals(decimals),
            };
            sum += *weight * unit_interval(confidence);
        }
        money::fixed(sum, money::SCORE_SCALE)
    }

    /// Data freshness's normalised value as `evaluate` computed it before the integer path.
    fn mean_rate_as_decimals(inputs: FreshnessInputs) -> Decimal {
        let decimals = inputs
            .map(|input| input.map(|(age_ms, half_life)| freshness_as_decimals(age_ms, half_life)));
        money::rate(unit_interval(mean_freshness_as_decimals(decimals)))
    }

    /// The confidences the factors give.
    fn any_confidence() -> impl Strategy<Value = Confidence> {
        prop::sample::select(vec![
            Confidence::Zero,
            Confidence::OFFER,
            Confidence::OFFER_AND_COST,
            Confidence::Stalest(&[Input::Stock]),
            Confidence::Stalest(&[Input::Cost, Input::Stock, Input::Offer]),
            Confidence::Stalest(&[]),
            Confidence::MeanFreshness,
        ])
    }

    /// Seven weights at the rate scale summing to 1, as profiles validate them: random
    /// shares, the rounding's remainder on the last.
    fn any_weights() -> impl Strategy<Value = [Decimal; 7]> {
        prop::array::uniform7(
            prop_oneof![3 => 0u64..=1_000, 1 => Just(0u64), 1 => 0u64..=1_000_000_000],
        )
        .prop_map(|shares| {
            let total: u64 = shares.iter().sum::<u64>().max(1);
            let mut weights =
                shares.map(|share| (u128::from(share) * 1_000_000 / u128::from(total)) as i64);
            let given: i64 = weights[..6].iter().sum();
            weights[6] = 1_000_000 - given;
            weights.map(|weight| Decimal::new(weight, money::RATE_SCALE))
        })
    }

    fn default_weights() -> [Decimal; 7] {
        [300_000, 150_000, 150_000, 150_000, 100_000, 50_000, 100_000]
            .map(|weight| Decimal::new(weight, money::RATE_SCALE))
    }

    /// The confidences of the seven factors with every input known, in order.
    const FACTOR_CONFIDENCES: [Confidence; 7] = [
        Confidence::OFFER_AND_COST,
        Confidence::OFFER,
        Confidence::OFFER,
        Confidence::Stalest(&[Input::Stock]),
        Confidence::OFFER,
        Confidence::OFFER,
        Confidence::MeanFreshness,
    ];

    #[test]
    fn confidence_and_mean_take_the_integer_paths_for_the_default_profile() {
        let half_lives = [24, 48, 720].map(Decimal::from);
        let weights = default_weights();
        let terms: Vec<(Decimal, Confidence)> =
            weights.into_iter().zip(FACTOR_CONFIDENCES).collect();
        for ages in [
            [Some(0), Some(0), Some(0)],
            [Some(1), Some(3_599_999), Some(36 * MILLIS_PER_HOUR + 17)],
            [
                Some(5 * 24 * MILLIS_PER_HOUR),
                None,
                Some(90 * 24 * MILLIS_PER_HOUR),
            ],
            [Some(17_000), Some(2 * MILLIS_PER_HOUR), None],
            [None, None, None],
        ] {
            let mut inputs: FreshnessInputs = [None; 3];
            for (index, age) in ages.into_iter().enumerate() {
                inputs[index] = age.map(|age_ms| (age_ms, half_lives[index]));
            }
            let freshnesses = freshnesses_of(inputs);
            let integer = freshnesses
                .integer_weighted_confidence(terms.iter().copied())
                .expect("the integer path decides");
            assert_eq!(
                integer.serialize(),
                confidence_as_decimals(inputs, &terms).serialize(),
                "{ages:?}"
            );
            assert_eq!(
                freshnesses
                    .weighted_confidence(terms.iter().copied())
                    .serialize(),
                integer.serialize()
            );
            assert_eq!(
                freshnesses.mean_rate().serialize(),
                mean_rate_as_decimals(inputs).serialize(),
                "{ages:?}"
            );
            // Neither path computed a 28-digit freshness.
            for input in [Input::Offer, Input::Stock, Input::Cost] {
                if let Some(freshness) = freshnesses.of(input) {
                    assert!(freshness.decimal.get().is_none(), "{ages:?} {input:?}");
                }
            }
        }
    }

    #[test]
    fn mean_rate_leaves_an_exact_midpoint_to_the_decimals() {
        // A 3-hour half-life 1,999,997 hours old: freshness 3/2,000,000, exact at 19 places;
        // alone, its mean is 0.0000005, a midpoint of the 6 places.
        let inputs: FreshnessInputs = [
            Some((1_999_997 * MILLIS_PER_HOUR, Decimal::from(3))),
            None,
            None,
        ];
        let freshnesses = freshnesses_of(inputs);
        let (low, high) = weighted_bounds(
            1,
            Confidence::MeanFreshness,
            &freshnesses.exact_bounds().unwrap(),
        );
        assert_eq!((low, high), (15_000_000_000_000, 15_000_000_000_000));
        assert_eq!(
            rounded_between(low, high, FRESHNESS_SUM_PER_RATE_UNIT),
            None
        );
        assert_eq!(
            freshnesses.mean_rate().serialize(),
            mean_rate_as_decimals(inputs).serialize()
        );
        assert!(freshnesses.offer.unwrap().decimal.get().is_some());
    }

    #[test]
    fn confidence_leaves_an_exact_midpoint_to_the_decimals() {
        // Every input just observed (freshness 1) under a weight of 0.50005 and the rest on a
        // factor missing its inputs: a confidence of exactly 0.50005.
        let hour = Decimal::ONE;
        let inputs: FreshnessInputs = [Some((0, hour)), Some((0, hour)), Some((0, hour))];
        let terms = [
            (Decimal::new(500_050, 6), Confidence::OFFER),
            (Decimal::new(499_950, 6), Confidence::Zero),
        ];
        let freshnesses = freshnesses_of(inputs);
        assert_eq!(
            freshnesses.integer_weighted_confidence(terms.into_iter()),
            None
        );
        let confidence = freshnesses.weighted_confidence(terms.into_iter());
        assert_eq!(
            confidence.serialize(),
            confidence_as_decimals(inputs, &terms).serialize()
        );
        assert_eq!(confidence, Decimal::new(5_001, 4));
    }

    proptest! {
        /// The published confidence against the decimal computation, over random ages,
        /// half-lives, weights, confidences and missing inputs.
        #[test]
        fn weighted_confidence_is_bit_identical_to_the_decimal_sum(
            inputs in prop::array::uniform3(prop::option::weighted(0.85, (any_age_ms(), any_half_life()))),
            weights in any_weights(),
            confidences in prop::array::uniform7(any_confidence()),
        ) {
            let terms: Vec<(Decimal, Confidence)> = weights.into_iter().zip(confidences).collect();
            confidence_is_the_decimal_sum(inputs, &terms)?;
        }

        /// The factors' own confidences, every input present but now and then one.
        #[test]
        fn weighted_confidence_of_the_factors_is_the_decimal_sum(
            inputs in prop::array::uniform3(prop::option::weighted(0.95, (any_age_ms(), any_half_life()))),
            weights in any_weights(),
        ) {
            let terms: Vec<(Decimal, Confidence)> =
                weights.into_iter().zip(FACTOR_CONFIDENCES).collect();
            confidence_is_the_decimal_sum(inputs, &terms)?;
        }

        /// Confidences on a midpoint of the 4 places: a freshness `1 / (1 + k)` (an age of
        /// `k` half-lives) under a weight putting the confidence at `(2j + 1) / 20,000`, and
        /// one millisecond either side. On the midpoint the integer path gives way.
        #[test]
        fn weighted_confidence_leaves_midpoints_to_the_decimals(
            half_life_hours in 1i64..=2_000,
            k in 0i64..=20,
            j in 0i64..=10_000,
            nudge in -1i64..=1,
        ) {
            let per_odd = 50 * (1 + k);
            let odd = ((2 * j + 1) % (1_000_000 / per_odd)) | 1;
            let weight = odd * per_odd;
            let age_ms = k * half_life_hours * MILLIS_PER_HOUR + nudge;
            let inputs: FreshnessInputs =
                [Some((age_ms, Decimal::from(half_life_hours))), None, None];
            let terms = [
                (Decimal::new(weight, money::RATE_SCALE), Confidence::OFFER),
                (Decimal::new(1_000_000 - weight, money::RATE_SCALE), Confidence::Zero),
            ];
            let freshnesses = freshnesses_of(inputs);
            if nudge == 0 || (k == 0 && nudge < 0) {
                prop_assert_eq!(freshnesses.integer_weighted_confidence(terms.into_iter()), None);
            }
            prop_assert_eq!(
                freshnesses.weighted_confidence(terms.into_iter()).serialize(),
                confidence_as_decimals(inputs, &terms).serialize(),
                "{} ms, half-life {} h, weight {}",
                age_ms,
                half_life_hours,
                weight
            );
        }

        #[test]
        fn mean_rate_is_bit_identical_to_rating_the_decimal_mean(
            inputs in prop::array::uniform3(prop::option::weighted(0.85, (any_age_ms(), any_half_life()))),
        ) {
            prop_assert_eq!(
                freshnesses_of(inputs).mean_rate().serialize(),
                mean_rate_as_decimals(inputs).serialize(),
                "{:?}",
                inputs
            );
        }

        #[test]
        fn mean_freshness_is_bit_identical_to_the_decimal_mean(
            freshnesses in prop::array::uniform3(any_freshness()),
        ) {
            mean_is_the_decimal_mean(freshnesses)?;
        }

        /// The freshnesses as `evaluate` computes them from ages and half-lives.
        #[test]
        fn mean_freshness_of_computed_freshnesses_is_the_decimal_mean(
            inputs in prop::array::uniform3(prop::option::weighted(0.9, (any_age_ms(), any_half_life()))),
        ) {
            let freshnesses =
                inputs.map(|input| input.map(|(age_ms, half_life)| freshness_as_decimals(age_ms, half_life)));
            mean_is_the_decimal_mean(freshnesses)?;
        }

        /// Sums with trailing zeros after the division, where `unscale` removes some.
        #[test]
        fn mean_freshness_removes_trailing_zeros_as_the_library(
            units in 1u128..=3_000_000,
            zeros in 0u32..=21,
            offset in 0u128..=2,
        ) {
            // 3 × units × 10^zeros + offset, split into two freshnesses at 28 places.
            let sum = 3 * units * 10u128.pow(zeros) + offset;
            let first = sum / 2;
            let freshnesses = [
                Some(Decimal::from_i128_with_scale(first as i128, 28)),
                Some(Decimal::from_i128_with_scale((sum - first) as i128, 28)),
                None,
            ];
            mean_is_the_decimal_mean(freshnesses)?;
        }

        #[test]
        fn freshness_shown_is_bit_identical_to_rounding_the_decimal_freshness(
            age_ms in any_age_ms(),
            half_life in any_half_life(),
        ) {
            let decimal = freshness_as_decimals(age_ms, half_life);
            if let Some(shown) = freshness_shown_of(age_ms, half_life) {
                prop_assert_eq!(
                    shown.serialize(),
                    money::fixed(decimal, FRESHNESS_SHOWN_DP).serialize(),
                    "{} ms, half-life {} h",
                    age_ms,
                    half_life
                );
            }
            let freshness = Freshness::new(InputAge::new(age_ms), half_life);
            let piece = FreshnessShown(&freshness);
            prop_assert_eq!(text!(piece), text!(Fixed(decimal, FRESHNESS_SHOWN_DP)));
        }

        /// Ages on, and one millisecond either side of, an age at which the freshness is a
        /// midpoint of the 2-place rounding, `(2k + 1) / 200`, for whole-hour half-lives.
        #[test]
        fn freshness_shown_renders_midpoints_as_the_decimal_freshness(
            half_life_hours in 1i64..=2_000,
            k in 0i64..100,
            nudge in -1i64..=1,
        ) {
            // h / (h + age) = (2k + 1) / 200  <=>  age = h (199 - 2k) / (2k + 1).
            let age_ms =
                MILLIS_PER_HOUR * half_life_hours * (199 - 2 * k) / (2 * k + 1) + nudge;
            let half_life = Decimal::from(half_life_hours);
            let decimal = freshness_as_decimals(age_ms, half_life);
            let freshness = Freshness::new(InputAge::new(age_ms), half_life);
            let piece = FreshnessShown(&freshness);
            prop_assert_eq!(
                text!(piece),
                text!(Fixed(decimal, FRESHNESS_SHOWN_DP)),
                "{} ms, half-life {} h",
                age_ms,
                half_life
            );
        }

        #[test]
        fn input_age_hours_fixed_is_fixed_of_the_decimal_hours(
            age_ms in any_age_ms(),
            dp in 0u32..=money::RATE_SCALE,
        ) {
            let age = InputAge::new(age_ms);
            prop_assert_eq!(
                age.hours_fixed(dp).serialize(),
                money::fixed(age.hours(), dp).serialize(),
                "{} ms to {} places",
                age_ms,
                dp
            );
        }
    }
}
