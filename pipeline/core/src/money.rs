//! Money arithmetic shared by fees, margin, score and quote: the published scales, the
//! marketplace rounding rule, VAT extraction, exact decimal parsing and currency conversion.
//!
//! Every amount is a `rust_decimal::Decimal`; nothing here goes through a float, so the same
//! inputs give the same digits on every machine (scores are compared byte for byte).

use std::collections::BTreeMap;
use std::fmt;
use std::mem::MaybeUninit;

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
///
/// Inlined for the check of the scale alone: most values reach it already at the scale, and
/// for them a call would cost more (saving and restoring registers) than the check.
#[inline]
pub fn fixed(value: Decimal, dp: u32) -> Decimal {
    // Already at the scale (fee lines as charged, every amount of the breakdown): nothing to
    // round or pad, and both paths of `rescaled` would give the value back bit for bit.
    if value.scale() == dp {
        return value;
    }
    rescaled(value, dp)
}

/// [`fixed`] of a value not at the scale `dp`.
fn rescaled(value: Decimal, dp: u32) -> Decimal {
    if value.is_zero() && dp <= Decimal::MAX_SCALE {
        // What the general path makes of a zero (a line that does not apply, a cost of
        // nothing), without its rounding and rescaling loops: the zero at the scale, its sign
        // kept.
        let mut zero = Decimal::from_parts(0, 0, 0, false, dp);
        zero.set_sign_negative(value.is_sign_negative());
        return zero;
    }
    // Amounts and rates, in 64 bits: a padding is then one multiplication with an overflow
    // flag rather than a 128-bit one with its checks. Not zero here, so a count that rounds
    // to zero is a positive zero, as on the general path.
    if dp <= Decimal::MAX_SCALE
        && let Ok(magnitude) = u64::try_from(value.mantissa().unsigned_abs())
        && let Some(rounded) = fixed_narrow(magnitude, value.scale(), dp)
    {
        return decimal_of(u128::from(rounded), value.is_sign_negative(), dp);
    }
    fixed_nonzero(value, dp).unwrap_or_else(|| {
        let mut rounded = value.round_dp_with_strategy(dp, COMMERCIAL_ROUNDING);
        rounded.rescale(dp);
        rounded
    })
}

/// [`fixed`] for the common case, in one integer division instead of `rust_decimal`'s digit
/// by digit loops (every fee line, rate and contribution of every record goes through here).
/// `None` for what it leaves to the general path, whose result it would otherwise have to
/// reproduce: a zero (which keeps its sign) and a value that does not fit 96 bits once padded.
/// Same result as the general path otherwise, sign included: a magnitude that rounds to zero
/// is a positive zero there too.
fn fixed_nonzero(value: Decimal, dp: u32) -> Option<Decimal> {
    fixed_magnitude(
        value.mantissa().unsigned_abs(),
        value.is_sign_negative(),
        value.scale(),
        dp,
    )
}

/// [`fixed_nonzero`] of the decimal `±magnitude × 10^-scale` (`magnitude` below `2^96`,
/// `scale` at most 28).
fn fixed_magnitude(magnitude: u128, negative: bool, scale: u32, dp: u32) -> Option<Decimal> {
    if magnitude == 0 || dp > Decimal::MAX_SCALE {
        return None;
    }
    let rounded = if scale > dp {
        round_half_up_wide(magnitude, POWERS_OF_TEN[(scale - dp) as usize])
    } else {
        magnitude
            .checked_mul(POWERS_OF_TEN[(dp - scale) as usize])
            .filter(|padded| *padded >> 96 == 0)?
    };
    // Below 2^96 either way (rounding never exceeds the magnitude it divides); a zero gets the
    // positive sign, as on the general path.
    Some(decimal_of(rounded, negative, dp))
}

/// `magnitude × 10^-scale` rounded (half up, which on a magnitude is half away from zero) or
/// padded to `dp` places, as a count of `10^-dp`, in one 64-bit division or multiplication:
/// [`fixed`]'s rounding of every amount and rate, and of the numbers the text pieces render.
/// `None` when the power of ten or the padded count does not fit 64 bits.
fn fixed_narrow(magnitude: u64, scale: u32, dp: u32) -> Option<u64> {
    if scale > dp {
        NARROW_POWERS_OF_TEN
            .get((scale - dp) as usize)
            .map(|divisor| round_half_up(magnitude, *divisor))
    } else {
        NARROW_POWERS_OF_TEN
            .get((dp - scale) as usize)
            .and_then(|power| magnitude.checked_mul(*power))
    }
}

/// `10^n` for every `n` whose power fits 64 bits.
pub(crate) const NARROW_POWERS_OF_TEN: [u64; 20] = {
    let mut powers = [1u64; 20];
    let mut n = 1;
    while n < powers.len() {
        powers[n] = powers[n - 1] * 10;
        n += 1;
    }
    powers
};

/// The decimal `±magnitude × 10^-scale`, `magnitude` below `2^96` (the three 32-bit words
/// of a decimal's mantissa hold it). A zero magnitude is a positive zero.
pub(crate) fn decimal_of(magnitude: u128, negative: bool, scale: u32) -> Decimal {
    debug_assert!(magnitude >> 96 == 0);
    Decimal::from_parts(
        magnitude as u32,
        (magnitude >> 32) as u32,
        (magnitude >> 64) as u32,
        negative,
        scale,
    )
}

/// [`round_half_up`] through [`divide_wide`].
fn round_half_up_wide(magnitude: u128, divisor: u128) -> u128 {
    let (quotient, remainder) = divide_wide(magnitude, divisor);
    quotient + u128::from(remainder >= divisor - remainder)
}

/// `magnitude / divisor` and its remainder, in a 64-bit division when both operands fit
/// (amounts and rates at their scales do), which is one instruction rather than a 128-bit
/// library call; full-precision quotients (28 digits) need the latter.
fn divide_wide(magnitude: u128, divisor: u128) -> (u128, u128) {
    match (u64::try_from(magnitude), u64::try_from(divisor)) {
        (Ok(magnitude), Ok(divisor)) => (
            u128::from(magnitude / divisor),
            u128::from(magnitude % divisor),
        ),
        _ => (magnitude / divisor, magnitude % divisor),
    }
}

/// `10^n` for every scale a decimal can have.
const POWERS_OF_TEN: [u128; Decimal::MAX_SCALE as usize + 1] = {
    let mut powers = [1u128; Decimal::MAX_SCALE as usize + 1];
    let mut n = 1;
    while n < powers.len() {
        powers[n] = powers[n - 1] * 10;
        n += 1;
    }
    powers
};

/// `magnitude / divisor` rounded half up, which on a magnitude is half away from zero.
pub(crate) fn round_half_up<T>(magnitude: T, divisor: T) -> T
where
    T: Copy
        + PartialOrd
        + From<bool>
        + std::ops::Add<Output = T>
        + std::ops::Sub<Output = T>
        + std::ops::Mul<Output = T>
        + std::ops::Div<Output = T>,
{
    let quotient = magnitude / divisor;
    let remainder = magnitude - quotient * divisor;
    quotient + T::from(remainder >= divisor - remainder)
}

/// A fee or cost line as charged: rounded to the cent, carried at the money scale.
pub fn charged(value: Decimal) -> Decimal {
    charged_magnitude(
        value.mantissa().unsigned_abs(),
        value.is_sign_negative(),
        value.scale(),
    )
    .unwrap_or_else(|| fixed(fixed(value, CENT_DP), MONEY_SCALE))
}

/// `charged(a × b)`, bit for bit, with the product formed from the mantissas when it fits
/// 96 bits at a scale of at most 28: then it is the exact product `Decimal`'s
/// multiplication gives. A zero product (whose sign the multiplication decides) and
/// anything larger multiply as decimals.
pub fn charged_product(a: Decimal, b: Decimal) -> Decimal {
    let scale = a.scale() + b.scale();
    a.mantissa()
        .unsigned_abs()
        .checked_mul(b.mantissa().unsigned_abs())
        .filter(|product| *product != 0 && *product >> 96 == 0 && scale <= Decimal::MAX_SCALE)
        .and_then(|product| {
            charged_magnitude(product, a.is_sign_negative() != b.is_sign_negative(), scale)
        })
        .unwrap_or_else(|| charged(a * b))
}

/// [`charged`] of the decimal `±magnitude × 10^-scale` in one rounding and one padding, as
/// the two [`fixed`] calls do them (half away from zero, a result of zero positive), when
/// `magnitude` is not zero and fits 64 bits; `None` leaves the rest to them.
fn charged_magnitude(magnitude: u128, negative: bool, scale: u32) -> Option<Decimal> {
    const PAD_TO_MONEY: u64 = 10u64.pow(MONEY_SCALE - CENT_DP);
    let magnitude = u64::try_from(magnitude)
        .ok()
        .filter(|magnitude| *magnitude != 0)?;
    let cents = if scale > CENT_DP {
        round_half_up(
            magnitude,
            u64::try_from(POWERS_OF_TEN[(scale - CENT_DP) as usize]).ok()?,
        )
    } else {
        magnitude.checked_mul(u64::try_from(POWERS_OF_TEN[(CENT_DP - scale) as usize]).ok()?)?
    };
    let padded = u128::from(cents) * u128::from(PAD_TO_MONEY);
    Some(decimal_of(padded, negative, MONEY_SCALE))
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
///
/// Same result as `value.clamp(Decimal::ZERO, Decimal::ONE)` (a negative zero is kept), but
/// read off the sign and mantissa: comparing decimals of different scales aligns them first,
/// and every factor of every record is clamped twice.
pub fn unit_interval(value: Decimal) -> Decimal {
    if value.is_sign_negative() {
        if value.is_zero() {
            value
        } else {
            Decimal::ZERO
        }
    } else if value.mantissa().unsigned_abs() > POWERS_OF_TEN[value.scale() as usize] {
        Decimal::ONE
    } else {
        value
    }
}

/// The amount excluding VAT contained in an amount including VAT, unrounded.
pub fn excl_vat(amount_incl_vat: Decimal, vat_rate: Decimal) -> Decimal {
    amount_incl_vat / (Decimal::ONE + vat_rate)
}

/// [`excl_vat`] as charged: `charged(excl_vat(amount_incl_vat, vat_rate))`, through
/// [`rounded_quotient`].
pub fn charged_excl_vat(amount_incl_vat: Decimal, vat_rate: Decimal) -> Decimal {
    fixed(
        rounded_quotient(amount_incl_vat, Decimal::ONE + vat_rate, CENT_DP),
        MONEY_SCALE,
    )
}

/// `fixed(numerator / denominator, dp)`, bit for bit, without the 28-digit decimal division
/// when the operands are amounts and rates of ordinary size: the quotient is then rounded
/// once, exactly, in integer arithmetic.
///
/// Why both round alike: `rust_decimal` divides to 28 places, or to 28 significant digits
/// or more once its 96-bit mantissa is full, off by at most one unit in the last digit, and
/// `fixed` then rounds that to `dp` places, half away from zero. With integer mantissas `N / D'` (the scales moved into one of them), an exact
/// quotient that is not itself a midpoint between two `dp`-place values lies at least
/// `10^-dp / (2 D')` from every midpoint. Within the limits below (`D' < 10^12`, a quotient
/// below `10^6`, `dp <= 6`) that is above `5 × 10^-19`, while the division's error is below
/// `2 × 10^-21`: the 28-digit quotient falls on the same side of every midpoint, and a
/// midpoint itself divides exactly. Anything outside the limits, and a quotient that rounds
/// to zero (whose sign the general path decides), takes the general path. The property
/// tests below compare both paths.
pub fn rounded_quotient(numerator: Decimal, denominator: Decimal, dp: u32) -> Decimal {
    integer_rounded_quotient(numerator, denominator, dp)
        .unwrap_or_else(|| fixed(numerator / denominator, dp))
}

/// A factor's contribution to the score, `fixed(100 × weight × normalised, SCORE_SCALE)`, bit
/// for bit: the product is formed from the mantissas, which is what `Decimal`'s
/// multiplication gives (the full product, at the sum of the scales) when it fits 96 bits
/// at a scale of at most 28, as weights and normalised values at the rate scale do, and
/// rounded as [`fixed`] rounds it. A zero product of two positive operands (a factor that
/// scores nothing) is a positive zero at the score scale, as there; a zero of any other sign
/// and anything larger multiply as decimals.
pub fn contribution(weight: Decimal, normalised: Decimal) -> Decimal {
    let scale = weight.scale() + normalised.scale();
    let negative = weight.is_sign_negative() != normalised.is_sign_negative();
    let (weight_magnitude, normalised_magnitude) = (
        weight.mantissa().unsigned_abs(),
        normalised.mantissa().unsigned_abs(),
    );
    // Weights and normalised values at the rate scale (at most 10^6 each) multiply, and
    // their product rounds, in 64 bits: a few instructions where the 128-bit products with
    // their overflow checks and the 128-bit rounding take several times as many. The same
    // product and rounding as below whenever it fits.
    let narrow = match (
        u64::try_from(weight_magnitude),
        u64::try_from(normalised_magnitude),
    ) {
        (Ok(weight_magnitude), Ok(normalised_magnitude)) => weight_magnitude
            .checked_mul(normalised_magnitude)
            .and_then(|product| product.checked_mul(100))
            .filter(|product| *product != 0 && scale <= Decimal::MAX_SCALE)
            .and_then(|product| fixed_narrow(product, scale, SCORE_SCALE)),
        _ => None,
    };
    if let Some(rounded) = narrow {
        return decimal_of(u128::from(rounded), negative, SCORE_SCALE);
    }
    let product = weight_magnitude
        .checked_mul(normalised_magnitude)
        .and_then(|product| product.checked_mul(100))
        .filter(|product| *product >> 96 == 0 && scale <= Decimal::MAX_SCALE);
    match product {
        Some(0) if !weight.is_sign_negative() && !normalised.is_sign_negative() => {
            Decimal::from_parts(0, 0, 0, false, SCORE_SCALE)
        }
        Some(product) if product != 0 => fixed_magnitude(product, negative, scale, SCORE_SCALE)
            .unwrap_or_else(|| fixed(Decimal::ONE_HUNDRED * weight * normalised, SCORE_SCALE)),
        _ => fixed(Decimal::ONE_HUNDRED * weight * normalised, SCORE_SCALE),
    }
}

/// `rate(value / reference - 1)`, bit for bit: the relative gap of a price to a reference
/// price, as [`rounded_quotient`]`(value - reference, reference, RATE_SCALE)` rounds it.
///
/// Why they agree: the 28-digit quotient `value / reference` is off the exact one by at most
/// a unit of its last digit, below `10^-21` for the quotients the integer path takes (below
/// `10^6 + 1`); subtracting 1 is exact; so `rate` rounds a value within `10^-21` of the exact
/// `(value - reference) / reference`, which is what the integer path rounds, and the argument
/// of [`rounded_quotient`] applies. A gap that rounds to zero (whose sign the general path
/// decides), and anything beyond the integer path's limits, takes the general path.
pub fn relative_gap(value: Decimal, reference: Decimal) -> Decimal {
    match value.checked_sub(reference) {
        // A price equal to its reference (ours at the buy box) divides to exactly 1, and
        // `1 - 1` is a positive zero, which `rate` pads.
        Some(difference) if difference.is_zero() && !reference.is_zero() => {
            decimal_of(0, false, RATE_SCALE)
        }
        difference => difference
            .and_then(|difference| integer_rounded_quotient(difference, reference, RATE_SCALE))
            .unwrap_or_else(|| rate(value / reference - Decimal::ONE)),
    }
}

/// `rate(unit_interval(1 - unit_interval(part / whole)))`, bit for bit: what is left of a
/// whole once a positive part is taken, as a share, e.g. the score of a cost share against
/// the share at which it scores zero.
///
/// Why they agree: when `0 < part < whole` the exact share lies in `(0, 1)` at least
/// `1 / D'` from either end (`D'` the scaled denominator, below `10^12`), so the 28-digit
/// quotient (off by at most `10^-28`) is not clamped, `1 -` it is exact, and `rate` rounds a
/// value within `10^-28` of the exact `(whole - part) / whole`, which the integer path of
/// [`rounded_quotient`] rounds, by the same argument. Otherwise, or beyond the integer
/// path's limits, the general path.
pub fn rounded_complement(part: Decimal, whole: Decimal) -> Decimal {
    if let Some(complement) = narrow_rounded_complement(part, whole) {
        return complement;
    }
    let positive = |value: Decimal| !value.is_sign_negative() && !value.is_zero();
    if positive(part)
        && positive(whole)
        && let Some(rest) = whole.checked_sub(part)
        && positive(rest)
        && let Some(complement) = integer_rounded_quotient(rest, whole, RATE_SCALE)
    {
        return complement;
    }
    rate(unit_interval(Decimal::ONE - unit_interval(part / whole)))
}

/// [`rounded_complement`]'s integer path in 64-bit arithmetic, without subtracting decimals,
/// for a positive part and whole whose mantissas at their common scale fit 64 bits: the
/// integer path's quotient `(whole - part) / whole` in a representation whose denominator
/// is at least the one that path checks, so within the same limit the same argument holds;
/// and a part at least the whole, which leaves nothing. `None` leaves everything else to
/// it.
fn narrow_rounded_complement(part: Decimal, whole: Decimal) -> Option<Decimal> {
    if part.is_sign_negative() || whole.is_sign_negative() {
        return None;
    }
    let scale = part.scale().max(whole.scale());
    let at_scale = |value: Decimal| {
        u64::try_from(value.mantissa())
            .ok()?
            .checked_mul(u64::try_from(POWERS_OF_TEN[(scale - value.scale()) as usize]).ok()?)
    };
    let (part, whole) = (at_scale(part)?, at_scale(whole)?);
    if part == 0 || whole == 0 {
        return None;
    }
    if part >= whole {
        // A share of at least 1 divides to at least 1 (1 is a decimal), is clamped to 1,
        // and `1 - 1` is a positive zero, which `rate` pads.
        return Some(decimal_of(0, false, RATE_SCALE));
    }
    if u128::from(whole) >= QUOTIENT_DENOMINATOR_LIMIT {
        return None;
    }
    // Below 10^12 × 10^6.
    let rest = (whole - part) * 10u64.pow(RATE_SCALE);
    let rounded = round_half_up(rest, whole);
    if rounded == 0 {
        return None;
    }
    Some(decimal_of(u128::from(rounded), false, RATE_SCALE))
}

/// `rate(unit_interval((unit_interval(a / b) + unit_interval(c / d)) / 2))` for the shares
/// `(a, b)` and `(c, d)`, bit for bit: the mean of two shares of a full score, each capped
/// at the full score, e.g. the margin potential's rate and amount parts. See
/// [`rounded_mean_of_capped`] for why the integer path agrees.
pub fn mean_of_capped_shares(first: (Decimal, Decimal), second: (Decimal, Decimal)) -> Decimal {
    rounded_mean_of_capped(&[CappedShare::Share(first), CappedShare::Share(second)]).unwrap_or_else(
        || {
            let capped = |(part, whole): (Decimal, Decimal)| unit_interval(part / whole);
            rate(unit_interval(
                (capped(first) + capped(second)) / Decimal::TWO,
            ))
        },
    )
}

/// A term of [`rounded_mean_of_capped`]: the share `part / whole` clamped into [0, 1], or
/// what is left of 1 after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CappedShare {
    /// `unit_interval(part / whole)`.
    Share((Decimal, Decimal)),
    /// `1 - unit_interval(part / whole)`.
    Complement((Decimal, Decimal)),
}

/// `rate(unit_interval(mean))` of one or two [`CappedShare`]s computed as decimals (each
/// share a 28-digit quotient, summed, divided by their number), computed exactly in integers
/// and rounded at once; `None` where the decimal computation must decide.
///
/// Why the integer path agrees: with the scales moved into integer numerators and
/// denominators below `10^9`, an exact share at or above 1 is computed as at least 1 and
/// capped to exactly 1, one at or below 0 as at most 0, and one in between lies at least
/// `10^-9` inside `(0, 1)`, where the 28-digit quotient is off by at most `10^-28`, is not
/// clamped, and `1 -` it is exact. The sum is exact and halving it rounds by at most
/// `0.5 × 10^-28`, so `rate` rounds a value within `1.5 × 10^-28` of the exact mean
/// `n / (k D1 D2)`. An exact mean that is not a midpoint of the rounding lies at least
/// `10^-6 / (4 D1 D2)`, above `10^-25`, from every midpoint, so both round alike. An exact
/// midpoint (where the quotients' errors could push the 28-digit mean either way), a mean
/// that rounds to zero without being zero, more than two terms and anything beyond the
/// limits give `None`. A mean of exactly zero is every term exactly zero as decimals too (a
/// share of a part at or below 0 clamps to 0, a complement of a share at or above 1 is
/// `1 - 1`), and a zero sum divides to a positive zero, which `rate` pads: a positive zero
/// at the rate scale.
pub fn rounded_mean_of_capped(terms: &[CappedShare]) -> Option<Decimal> {
    let rational = |term: &CappedShare| match *term {
        CappedShare::Share((part, whole)) => capped_share(part, whole),
        CappedShare::Complement((part, whole)) => capped_share(part, whole)
            .map(|(numerator, denominator)| (denominator - numerator, denominator)),
    };
    let (numerator, denominator) = match terms {
        [only] => rational(only)?,
        [first, second] => {
            let (first_numerator, first_denominator) = rational(first)?;
            let (second_numerator, second_denominator) = rational(second)?;
            // Below 2 × 10^18 and 2 × 10^18: far within a u128.
            (
                first_numerator * second_denominator + second_numerator * first_denominator,
                2 * first_denominator * second_denominator,
            )
        }
        _ => return None,
    };
    if numerator == 0 {
        return Some(decimal_of(0, false, RATE_SCALE));
    }
    let rounded =
        round_half_up_unless_midpoint(numerator * POWERS_OF_TEN[RATE_SCALE as usize], denominator)?;
    if rounded == 0 {
        return None;
    }
    // At most 10^6, the mean being at most 1.
    Some(Decimal::from_parts(rounded as u32, 0, 0, false, RATE_SCALE))
}

/// `numerator / denominator` rounded half up, as [`round_half_up`] rounds it, or `None` when
/// the exact quotient is a midpoint of the rounding: an integer path standing for a
/// computation that rounds on the way (28-digit quotients) cannot tell on which side of a
/// midpoint that computation lands, so it leaves midpoints to it.
pub(crate) fn round_half_up_unless_midpoint(numerator: u128, denominator: u128) -> Option<u128> {
    let (quotient, remainder) = divide_wide(numerator, denominator);
    let rest = denominator - remainder;
    if remainder == rest {
        return None;
    }
    Some(quotient + u128::from(remainder > rest))
}

/// `numerator / denominator` (the denominator positive) to `dp` places, rounded half up, as
/// a count of `10^-dp`, when the exact quotient lies farther than a relative `10^-18` of
/// itself from every midpoint of the rounding; `None` nearer (a midpoint included), or when
/// the arithmetic would not fit. An integer path standing for a decimal computation shown to
/// be within a relative `10^-18` of the exact quotient rounds as it does wherever this gives
/// a value: the decimal result cannot cross a midpoint that far away.
pub(crate) fn round_half_up_far_from_midpoint(
    numerator: u128,
    denominator: u128,
    dp: u32,
) -> Option<u128> {
    const RELATIVE_MARGIN: u128 = 1_000_000_000_000_000_000;
    let scaled = numerator.checked_mul(*POWERS_OF_TEN.get(dp as usize)?)?;
    let (quotient, remainder) = divide_wide(scaled, denominator);
    // The distance to the nearest midpoint is |2 remainder - denominator| / (2 denominator
    // 10^dp); compared with 10^-18 × numerator / denominator, both times 2 denominator 10^dp.
    let twice_remainder = remainder.checked_mul(2)?;
    let distance = twice_remainder.abs_diff(denominator);
    if distance.checked_mul(RELATIVE_MARGIN)? <= scaled.checked_mul(2)? {
        return None;
    }
    Some(quotient + u128::from(twice_remainder > denominator))
}

const SHARE_DENOMINATOR_LIMIT: u128 = 1_000_000_000;

/// The exact share `part / whole` clamped into [0, 1], as an integer numerator and
/// denominator (below [`SHARE_DENOMINATOR_LIMIT`]).
fn capped_share(part: Decimal, whole: Decimal) -> Option<(u128, u128)> {
    let part_mantissa = part.mantissa().unsigned_abs();
    let whole_mantissa = whole.mantissa().unsigned_abs();
    if whole_mantissa == 0 {
        return None;
    }
    if part_mantissa == 0 || part.is_sign_negative() != whole.is_sign_negative() {
        return Some((0, 1));
    }
    let power = |scale: u32| POWERS_OF_TEN[scale as usize];
    let numerator = part_mantissa.checked_mul(power(whole.scale()))?;
    let denominator = whole_mantissa.checked_mul(power(part.scale()))?;
    if denominator >= SHARE_DENOMINATOR_LIMIT {
        return None;
    }
    Some(if numerator >= denominator {
        (1, 1)
    } else {
        (numerator, denominator)
    })
}

const QUOTIENT_DENOMINATOR_LIMIT: u128 = 1_000_000_000_000;
const QUOTIENT_MAGNITUDE_LIMIT: u128 = 1_000_000;

fn integer_rounded_quotient(numerator: Decimal, denominator: Decimal, dp: u32) -> Option<Decimal> {
    let numerator_mantissa = numerator.mantissa().unsigned_abs();
    let denominator_mantissa = denominator.mantissa().unsigned_abs();
    if numerator_mantissa == 0 || denominator_mantissa == 0 || dp > RATE_SCALE {
        return None;
    }
    // quotient × 10^dp = numerator_mantissa × 10^shift / denominator_mantissa
    let shift = i64::from(dp) + i64::from(denominator.scale()) - i64::from(numerator.scale());
    let power = |exponent: i64| POWERS_OF_TEN.get(usize::try_from(exponent).ok()?).copied();
    let (scaled_numerator, scaled_denominator) = if shift >= 0 {
        (
            numerator_mantissa.checked_mul(power(shift)?)?,
            denominator_mantissa,
        )
    } else {
        (
            numerator_mantissa,
            denominator_mantissa.checked_mul(power(-shift)?)?,
        )
    };
    if scaled_denominator >= QUOTIENT_DENOMINATOR_LIMIT {
        return None;
    }
    let (quotient, remainder) = divide_wide(scaled_numerator, scaled_denominator);
    // The exact quotient below the magnitude limit: `scaled_numerator < limit × 10^dp ×
    // scaled_denominator`, as integers.
    if quotient >= QUOTIENT_MAGNITUDE_LIMIT * POWERS_OF_TEN[dp as usize] {
        return None;
    }
    let rounded = quotient + u128::from(remainder >= scaled_denominator - remainder);
    if rounded == 0 {
        return None;
    }
    // Below 10^12 (the magnitude limit times 10^6).
    Some(decimal_of(
        rounded,
        numerator.is_sign_negative() != denominator.is_sign_negative(),
        dp,
    ))
}

/// Room for one explanation or rule line: the longest the golden catalogue renders is 144
/// bytes, so a line is allocated once and a longer one grows once.
pub const LINE_CAPACITY: usize = 160;

/// A piece of an explanation line. Every record renders eight lines with about thirty
/// decimals between them, so pieces append to the line directly instead of going through
/// `format!` (its argument machinery, and an allocation per intermediate string).
pub trait Piece {
    fn append_to(&self, line: &mut String);
}

/// Appends [`Piece`]s to a line: `append!(&mut line, ", ", Amount(price, currency))`.
macro_rules! append {
    ($line:expr, $($piece:expr),+ $(,)?) => {{
        let line: &mut String = $line;
        $($crate::money::Piece::append_to(&$piece, line);)+
    }};
}
pub(crate) use append;

/// Concatenates [`Piece`]s into a new line of [`LINE_CAPACITY`]:
/// `text!("net margin ", Amount(net, currency), " at ", Percent(rate))`.
macro_rules! text {
    ($($piece:expr),+ $(,)?) => {{
        let mut line = String::with_capacity($crate::money::LINE_CAPACITY);
        $crate::money::append!(&mut line, $($piece),+);
        line
    }};
}
pub(crate) use text;

impl Piece for &str {
    fn append_to(&self, line: &mut String) {
        line.push_str(self);
    }
}

impl Piece for i64 {
    fn append_to(&self, line: &mut String) {
        push_number(line, self.unsigned_abs(), *self < 0, 0, None);
    }
}

/// Exactly as `Decimal`'s `Display` renders it: the sign (a negative zero keeps it), then
/// every digit of its scale.
impl Piece for Decimal {
    fn append_to(&self, line: &mut String) {
        let Ok(magnitude) = u64::try_from(self.mantissa().unsigned_abs()) else {
            // Beyond a u64 (19 digits), which no amount or rate reaches: the library's rendering.
            line.push_str(&self.to_string());
            return;
        };
        let negative = self.is_sign_negative();
        // The scales the explanations show (counts, one and two places) each with the places
        // known when compiling, their rendering then straight-line code (as amounts' in
        // `append_cents`); any other through the loop over the places.
        match self.scale() {
            0 => push_number(line, magnitude, negative, 0, None),
            1 => push_number(line, magnitude, negative, 1, None),
            2 => push_number(line, magnitude, negative, 2, None),
            scale => push_number(line, magnitude, negative, scale as usize, None),
        }
    }
}

/// `fixed(value, dp)` as a piece, rendered without building the rounded decimal.
pub struct Fixed(pub Decimal, pub u32);

impl Piece for Fixed {
    fn append_to(&self, line: &mut String) {
        append_fixed(line, self.0, self.1, None);
    }
}

/// Appends `fixed(value, dp)` as its `Display` renders it. When the magnitude and the rounded
/// value fit 64 bits (every amount and rate), it is rounded and rendered in one go, as
/// [`fixed_nonzero`] rounds: half away from zero, a result of zero positive. A zero keeps
/// its sign on the general path, which it therefore takes, as does anything larger. Then
/// `suffix`, as [`push_number`] appends it.
///
/// Always inlined, into [`Fixed`]'s, [`Percent`]'s and [`append_cents`], each with its own
/// places and suffix.
#[inline(always)]
fn append_fixed(line: &mut String, value: Decimal, dp: u32, suffix: Option<u8>) {
    match u64::try_from(value.mantissa().unsigned_abs()) {
        Ok(magnitude) if magnitude != 0 && dp <= Decimal::MAX_SCALE => append_fixed_magnitude(
            line,
            magnitude,
            value.is_sign_negative(),
            value.scale(),
            dp,
            suffix,
        ),
        _ => {
            fixed(value, dp).append_to(line);
            push_suffix(line, suffix);
        }
    }
}

/// Appends `suffix` on its own, where no number's text carries it.
fn push_suffix(line: &mut String, suffix: Option<u8>) {
    if let Some(byte) = suffix {
        line.push(char::from(byte));
    }
}

/// [`append_fixed`] to [`CENT_DP`] places, every amount's, then the space before its
/// currency: its own function so that the places and the suffix are known when compiling,
/// and the rendering of the cents is straight-line code rather than a loop over the places.
fn append_cents(line: &mut String, value: Decimal) {
    append_fixed(line, value, CENT_DP, Some(b' '));
}

/// [`append_fixed`] of the decimal `±magnitude × 10^-scale`, `magnitude` not zero.
///
/// Always inlined, as [`push_number`] is: each piece then rounds and renders its number in
/// one function, without two calls between its own and the digits (their register saving
/// and argument moves cost about as much as rendering a short amount).
#[inline(always)]
fn append_fixed_magnitude(
    line: &mut String,
    magnitude: u64,
    negative: bool,
    scale: u32,
    dp: u32,
    suffix: Option<u8>,
) {
    match fixed_narrow(magnitude, scale, dp) {
        Some(rounded) => push_number(line, rounded, negative && rounded != 0, dp as usize, suffix),
        None => {
            let mut value = Decimal::from_i128_with_scale(i128::from(magnitude), scale);
            value.set_sign_negative(negative);
            fixed(value, dp).append_to(line);
            push_suffix(line, suffix);
        }
    }
}

/// Items separated by `, `.
pub struct Joined<'a>(pub &'a [&'a str]);

impl Piece for Joined<'_> {
    fn append_to(&self, line: &mut String) {
        for (index, item) in self.0.iter().enumerate() {
            if index > 0 {
                line.push_str(", ");
            }
            line.push_str(item);
        }
    }
}

/// An amount as [`display_amount`] renders it.
pub struct Amount<'a>(pub Decimal, pub &'a str);

impl Piece for Amount<'_> {
    #[inline]
    fn append_to(&self, line: &mut String) {
        append_cents(line, self.0);
        match self.1.len() {
            // A currency code (ISO 4217: three letters) as a copy of a length known when
            // compiling, a few moves, rather than a `memcpy` call for a length known only
            // when running, which costs more than the amount's digits.
            3 => line.push_str(&self.1[..3]),
            _ => line.push_str(self.1),
        }
    }
}

/// A fraction as a percentage with one decimal (`0.1234` → `12.3%`).
pub struct Percent(pub Decimal);

impl Piece for Percent {
    fn append_to(&self, line: &mut String) {
        let (mantissa, scale) = (self.0.mantissa(), self.0.scale());
        match u64::try_from(mantissa.unsigned_abs()) {
            // What `hundredfold` then `append_fixed` do for such a value (every rate), without
            // building the hundredfold decimal: the same magnitude, two places fewer.
            Ok(magnitude) if scale >= 2 && magnitude != 0 => {
                append_fixed_magnitude(line, magnitude, mantissa < 0, scale - 2, 1, Some(b'%'))
            }
            // A zero of either sign and any scale (a price at its reference): `rust_decimal`
            // multiplies a zero to a positive zero (`Decimal::ZERO`), which `fixed` pads to
            // one place, without the multiplication and the padding.
            Ok(0) => line.push_str("0.0%"),
            _ => append_fixed(line, hundredfold(self.0), 1, Some(b'%')),
        }
    }
}

/// `value × 100`, by moving the decimal point when the value has two places to move it by
/// (every rate does): the same value as the multiplication, which a 96-bit product would
/// only have to round beyond the bound checked here, without a decimal multiplication.
/// Zeros multiply, so their sign and scale stay the library's.
fn hundredfold(value: Decimal) -> Decimal {
    const ROOM_FOR_A_HUNDREDFOLD: u128 = (1 << 96) / 100;
    let scale = value.scale();
    let mantissa = value.mantissa();
    if scale >= 2 && mantissa != 0 && mantissa.unsigned_abs() < ROOM_FOR_A_HUNDREDFOLD {
        Decimal::from_i128_with_scale(mantissa, scale - 2)
    } else {
        value * Decimal::ONE_HUNDRED
    }
}

/// Renders an amount for explanations: two decimals, then the currency (`12.30 EUR`).
pub fn display_amount(amount: Decimal, currency: &str) -> String {
    let mut text = String::new();
    Amount(amount, currency).append_to(&mut text);
    text
}

/// The longest text [`push_number`] writes: a sign, the point and 29 digits (a `u64` has at
/// most 20, and a scale of at most 28 writes that many places and the units digit).
const NUMBER_TEXT_CAPACITY: usize = 1 + 1 + Decimal::MAX_SCALE as usize + 1;

/// The block [`push_number`] copies into the line: at least the longest text, and a size
/// known when compiling, so the copy is a few vector moves rather than a `memcpy` call.
const NUMBER_BLOCK: usize = 32;

/// The text of every number below 100 on two digits (`b"07"`), so that [`push_number`]
/// renders two digits per division by 100 instead of one per division by 10: the technique
/// of the `itoa` crate, written here rather than taken as a dependency because the rendering
/// also places the point and pads the places as `Decimal`'s `Display` does, which `itoa`
/// leaves to its caller, and it is this one table and two loops.
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0u8; 2]; 100];
    let mut n = 0;
    while n < pairs.len() {
        // Both quotients are below 10: the narrowing cannot truncate.
        pairs[n] = [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
        n += 1;
    }
    pairs
};

/// Appends `±magnitude × 10^-scale` as `Decimal`'s `Display` renders it: the sign when
/// `negative`, then every digit of the scale and the units digit; then `suffix`, an ASCII
/// byte (`%` after a percentage, the space before an amount's currency), in the same copy
/// rather than in a push of its own with its own capacity check.
///
/// The text is written right to left, two digits at a time from [`DIGIT_PAIRS`], so that it
/// ends where a block of [`NUMBER_BLOCK`] bytes starts; the block starting at the text is
/// copied whole into the line's spare capacity and the line lengthened by the text's length
/// only (what follows it is not part of the line). The scratch the text is written in is
/// left uninitialised, its bytes `MaybeUninit`: only the text's are ever read as bytes, and
/// zeroing the rest cost as many instructions as rendering a short amount's digits.
///
/// Always inlined into the few pieces that render numbers (see [`append_fixed_magnitude`]);
/// the compiler would not, for its size.
#[inline(always)]
fn push_number(
    line: &mut String,
    magnitude: u64,
    negative: bool,
    scale: usize,
    suffix: Option<u8>,
) {
    // Room in the block for the longest text and the suffix after it.
    const _: () = assert!(NUMBER_BLOCK > NUMBER_TEXT_CAPACITY);
    let mut text = [MaybeUninit::<u8>::uninit(); 2 * NUMBER_BLOCK];
    let end = NUMBER_BLOCK;
    let mut start = end;
    let mut rest = magnitude;
    // Every place of the scale, zeros included once the magnitude is used up.
    let mut places = scale;
    while places >= 2 {
        start -= 2;
        put(&mut text, start, DIGIT_PAIRS[(rest % 100) as usize]);
        rest /= 100;
        places -= 2;
    }
    if places == 1 {
        start -= 1;
        // The remainder is below 10, so the narrowing cannot truncate.
        put(&mut text, start, [b'0' + (rest % 10) as u8]);
        rest /= 10;
    }
    if scale > 0 {
        start -= 1;
        put(&mut text, start, [b'.']);
    }
    // The units digit always, the digits above it while there are any.
    while rest >= 100 {
        start -= 2;
        put(&mut text, start, DIGIT_PAIRS[(rest % 100) as usize]);
        rest /= 100;
    }
    if rest >= 10 {
        start -= 2;
        put(&mut text, start, DIGIT_PAIRS[rest as usize]);
    } else {
        start -= 1;
        // Below 10 here.
        put(&mut text, start, [b'0' + rest as u8]);
    }
    if negative {
        start -= 1;
        put(&mut text, start, [b'-']);
    }
    let mut length = end - start;
    if let Some(byte) = suffix {
        // Every caller passes a literal, always inlined: the check folds away.
        assert!(byte.is_ascii(), "a number's suffix is one ASCII byte");
        put(&mut text, end, [byte]);
        length += 1;
    }
    let block: [MaybeUninit<u8>; NUMBER_BLOCK] = text[start..start + NUMBER_BLOCK]
        .try_into()
        .expect("the text starts in the first block");
    line.reserve(NUMBER_BLOCK);
    // SAFETY: `reserve` leaves room for the whole block after the line's end (spare capacity,
    // which may hold uninitialised bytes, as the block's beyond the text are); the line is
    // then lengthened by `length` bytes, the text's `end - start` and the suffix's byte at
    // `end` if any (within the block: the text is shorter than it): each position from
    // `start` to `end` was written by a `put` above as `start` came down to it, and the
    // suffix's just before, so they are initialised, and all are ASCII (digits, `.`, `-` and
    // the checked suffix), each a whole UTF-8 character, so the string stays initialised and
    // valid UTF-8.
    unsafe {
        let bytes = line.as_mut_vec();
        let len = bytes.len();
        bytes
            .as_mut_ptr()
            .add(len)
            .cast::<[MaybeUninit<u8>; NUMBER_BLOCK]>()
            .write_unaligned(block);
        bytes.set_len(len + length);
    }
}

/// Writes `bytes` into [`push_number`]'s scratch text from `at` on.
#[inline(always)]
fn put<const N: usize>(text: &mut [MaybeUninit<u8>], at: usize, bytes: [u8; N]) {
    for (slot, byte) in text[at..at + N].iter_mut().zip(bytes) {
        slot.write(byte);
    }
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
    use proptest::prelude::*;
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

    fn any_decimal() -> impl Strategy<Value = Decimal> {
        let magnitude = prop_oneof![0u128..1_000, 0u128..u128::from(u64::MAX), 0u128..1 << 96];
        (magnitude, any::<bool>(), 0u32..=28).prop_map(|(magnitude, negative, scale)| {
            let mut value = Decimal::from_i128_with_scale(magnitude as i128, scale);
            // Set after construction so negative zeros are generated too.
            value.set_sign_negative(negative);
            value
        })
    }

    /// Amounts and rates as the margin divides them: small scales, with signs, and now and
    /// then beyond the integer path's limits.
    fn any_operand() -> impl Strategy<Value = Decimal> {
        let magnitude = prop_oneof![
            4 => 0i128..1_000_000_000,
            1 => 0i128..i128::from(i64::MAX),
            1 => 0i128..1 << 95,
        ];
        (
            magnitude,
            any::<bool>(),
            prop_oneof![4 => 0u32..=6, 1 => 0u32..=28],
        )
            .prop_map(|(magnitude, negative, scale)| {
                let mut value = Decimal::from_i128_with_scale(magnitude, scale);
                value.set_sign_negative(negative);
                value
            })
    }

    /// Operands of shares: mostly small enough for the integer paths' denominator limits.
    fn any_share_operand() -> impl Strategy<Value = Decimal> {
        let small =
            (0i64..100_000, any::<bool>(), 0u32..=6).prop_map(|(magnitude, negative, scale)| {
                let mut value = Decimal::new(magnitude, scale);
                value.set_sign_negative(negative);
                value
            });
        prop_oneof![3 => small, 1 => any_operand()]
    }

    fn rounded_then_rescaled(value: Decimal, dp: u32) -> Decimal {
        let mut general = value.round_dp_with_strategy(dp, COMMERCIAL_ROUNDING);
        general.rescale(dp);
        general
    }

    #[test]
    fn fixed_keeps_the_general_paths_signs_and_limits() {
        let mut negative_zero = dec!(0.000);
        negative_zero.set_sign_negative(true);
        for value in [
            negative_zero,
            Decimal::ZERO,
            dec!(-0.001),
            dec!(-0.005),
            dec!(0.005),
            Decimal::MAX,
            Decimal::MIN,
            Decimal::from_i128_with_scale(1, 28),
        ] {
            for dp in [0, 1, 2, 4, 6, 28] {
                assert_eq!(
                    fixed(value, dp).serialize(),
                    rounded_then_rescaled(value, dp).serialize(),
                    "{value} to {dp} dp"
                );
                assert_eq!(text!(fixed(value, dp)), fixed(value, dp).to_string());
            }
        }
    }

    #[test]
    fn fixed_beyond_the_largest_scale_is_the_general_paths() {
        for value in [
            dec!(-0.005),
            dec!(12.5),
            dec!(0.000),
            Decimal::from_i128_with_scale(1, 28),
        ] {
            for dp in [29, 40] {
                assert_eq!(
                    fixed(value, dp).serialize(),
                    rounded_then_rescaled(value, dp).serialize(),
                    "{value} to {dp} dp"
                );
            }
        }
    }

    #[test]
    fn fixed_pads_zeros_of_either_sign_as_the_general_path() {
        for scale in 0..=Decimal::MAX_SCALE {
            for negative in [false, true] {
                let mut zero = Decimal::from_i128_with_scale(0, scale);
                zero.set_sign_negative(negative);
                for dp in 0..=Decimal::MAX_SCALE {
                    assert_eq!(
                        fixed(zero, dp).serialize(),
                        rounded_then_rescaled(zero, dp).serialize(),
                        "{zero:?} to {dp} dp"
                    );
                }
            }
        }
    }

    #[test]
    fn fixed_gives_back_a_value_already_at_the_scale() {
        let mut negative_zero = dec!(0.000);
        negative_zero.set_sign_negative(true);
        for value in [negative_zero, dec!(0.000), dec!(-0.005), dec!(12.340)] {
            assert_eq!(
                fixed(value, 3).serialize(),
                rounded_then_rescaled(value, 3).serialize(),
                "{value}"
            );
        }
    }

    #[test]
    fn mean_of_capped_shares_on_a_midpoint_is_the_decimal_mean() {
        // Thirds of a millionth: their exact mean is a midpoint of the rounding, which the
        // 28-digit quotients may miss either way, so the decimal computation decides.
        let mean = |first: (Decimal, Decimal), second: (Decimal, Decimal)| {
            rate(unit_interval(
                (unit_interval(first.0 / first.1) + unit_interval(second.0 / second.1))
                    / Decimal::TWO,
            ))
        };
        for (first, second) in [
            ((dec!(1), dec!(3000000)), (dec!(2), dec!(3000000))),
            ((dec!(0.1), dec!(0.3)), (dec!(0.2000010), dec!(0.3))),
            ((dec!(5), dec!(7)), (dec!(3), dec!(4))),
            ((dec!(-1), dec!(3)), (dec!(9), dec!(1))),
        ] {
            assert_eq!(
                mean_of_capped_shares(first, second).serialize(),
                mean(first, second).serialize(),
                "{first:?} and {second:?}"
            );
        }
    }

    #[test]
    fn a_price_at_its_reference_has_the_decimal_computations_zero_gap() {
        for (value, reference) in [
            (dec!(12.50), dec!(12.5)),
            (dec!(12.5), dec!(12.5000)),
            (dec!(-3), dec!(-3.00)),
            (dec!(0.0001), dec!(0.0001)),
        ] {
            assert_eq!(
                relative_gap(value, reference).serialize(),
                rate(value / reference - Decimal::ONE).serialize(),
                "{value} against {reference}"
            );
        }
    }

    #[test]
    fn what_leaves_nothing_is_the_decimal_computations_positive_zero() {
        for (part, whole) in [
            (dec!(0.35), dec!(0.35)),
            (dec!(0.350000), dec!(0.35)),
            (dec!(0.412345), dec!(0.35)),
            (dec!(7), dec!(0.5)),
        ] {
            assert_eq!(
                rounded_complement(part, whole).serialize(),
                rate(unit_interval(Decimal::ONE - unit_interval(part / whole))).serialize(),
                "{part} of {whole}"
            );
        }
        let mut negative_zero = dec!(0.0000);
        negative_zero.set_sign_negative(true);
        for (first, second) in [
            ((dec!(-0.125), dec!(0.25)), (dec!(-12.50), dec!(40))),
            ((negative_zero, dec!(0.25)), (dec!(0.0000), dec!(40))),
            ((dec!(3), dec!(-1)), (dec!(-0.0001), dec!(40))),
        ] {
            let capped = |(part, whole): (Decimal, Decimal)| unit_interval(part / whole);
            assert_eq!(
                mean_of_capped_shares(first, second).serialize(),
                rate(unit_interval(
                    (capped(first) + capped(second)) / Decimal::TWO
                ))
                .serialize(),
                "{first:?} and {second:?}"
            );
        }
    }

    #[test]
    fn rounded_mean_of_capped_takes_the_integer_path_for_ordinary_gaps() {
        let gap_for_zero = dec!(0.20);
        for gaps in [
            &[dec!(0.031250)][..],
            &[dec!(-0.050000), dec!(0.100000)],
            &[dec!(0.250000), dec!(0.012346)],
        ] {
            let terms: Vec<CappedShare> = gaps
                .iter()
                .map(|gap| CappedShare::Complement((*gap, gap_for_zero)))
                .collect();
            let sum = gaps.iter().fold(Decimal::ZERO, |sum, gap| {
                sum + (Decimal::ONE - unit_interval(*gap / gap_for_zero))
            });
            let decimal = rate(unit_interval(sum / Decimal::from(gaps.len())));
            assert_eq!(
                rounded_mean_of_capped(&terms).map(|mean| mean.serialize()),
                Some(decimal.serialize()),
                "{gaps:?}"
            );
        }
    }

    #[test]
    fn round_half_up_far_from_midpoint_declines_midpoints_and_their_neighbourhood() {
        // 1/8 to 2 places is a midpoint; so, within a relative 10^-18, is one just beside it.
        assert_eq!(round_half_up_far_from_midpoint(1, 8, 2), None);
        let near = 10u128.pow(19);
        assert_eq!(round_half_up_far_from_midpoint(near + 1, 8 * near, 2), None);
        assert_eq!(round_half_up_far_from_midpoint(1, 3, 2), Some(33));
        assert_eq!(round_half_up_far_from_midpoint(2, 3, 2), Some(67));
        assert_eq!(round_half_up_far_from_midpoint(7, 1, 6), Some(7_000_000));
        assert_eq!(round_half_up_far_from_midpoint(u128::MAX, 3, 2), None);
    }

    #[test]
    fn contribution_of_a_factor_scoring_nothing_is_the_decimal_products_zero() {
        let mut negative_zero = dec!(0.000000);
        negative_zero.set_sign_negative(true);
        for weight in [
            dec!(0.150000),
            dec!(0),
            dec!(0.000000),
            dec!(-0.2),
            negative_zero,
        ] {
            for normalised in [Decimal::ZERO, dec!(0.000000), dec!(0.0), negative_zero] {
                assert_eq!(
                    contribution(weight, normalised).serialize(),
                    fixed(Decimal::ONE_HUNDRED * weight * normalised, SCORE_SCALE).serialize(),
                    "{weight:?} × {normalised:?}"
                );
            }
        }
    }

    #[test]
    fn unit_interval_keeps_the_bounds_and_signs_of_clamping() {
        let mut negative_zero = dec!(0.00);
        negative_zero.set_sign_negative(true);
        for value in [
            negative_zero,
            Decimal::ZERO,
            dec!(1),
            dec!(1.000),
            dec!(1.0000001),
            dec!(0.9999999),
            dec!(-0.0001),
            Decimal::MAX,
            Decimal::MIN,
        ] {
            assert_eq!(
                unit_interval(value).serialize(),
                value.clamp(Decimal::ZERO, Decimal::ONE).serialize(),
                "{value}"
            );
        }
    }

    /// [`contribution`] is `fixed(100 × weight × normalised, SCORE_SCALE)`, bit for bit,
    /// wherever that decimal product exists.
    fn contribution_is_the_decimal_product(
        weight: Decimal,
        normalised: Decimal,
    ) -> Result<(), TestCaseError> {
        let Some(product) = Decimal::ONE_HUNDRED
            .checked_mul(weight)
            .and_then(|hundredfold| hundredfold.checked_mul(normalised))
        else {
            return Ok(());
        };
        prop_assert_eq!(
            contribution(weight, normalised).serialize(),
            fixed(product, SCORE_SCALE).serialize(),
            "{} × {}",
            weight,
            normalised
        );
        Ok(())
    }

    proptest! {
        #[test]
        fn fixed_is_bit_identical_to_rounding_then_rescaling(value in any_decimal(), dp in 0u32..=28) {
            prop_assert_eq!(
                fixed(value, dp).serialize(),
                rounded_then_rescaled(value, dp).serialize(),
                "{} to {} dp",
                value,
                dp
            );
        }

        /// Magnitudes about the largest a padding by `10^k` leaves within 64 bits, where the
        /// 64-bit path of [`fixed`] hands over to the 128-bit one.
        #[test]
        fn fixed_is_bit_identical_about_the_64_bit_limit(
            k in 0u32..=19,
            offset in -3i128..=3,
            negative in any::<bool>(),
            scale in 0u32..=28,
            dp in 0u32..=28,
        ) {
            let magnitude = i128::from(u64::MAX / 10u64.pow(k)) + offset;
            let mut value = Decimal::from_i128_with_scale(magnitude, scale);
            value.set_sign_negative(negative);
            prop_assert_eq!(
                fixed(value, dp).serialize(),
                rounded_then_rescaled(value, dp).serialize(),
                "{} to {} dp",
                value,
                dp
            );
        }

        #[test]
        fn rounded_quotient_is_bit_identical_to_dividing_then_rounding(
            numerator in any_operand(),
            denominator in any_operand(),
            dp in 0u32..=RATE_SCALE,
        ) {
            // A quotient beyond 96 bits overflows (and panics) on both paths alike.
            let Some(quotient) = numerator.checked_div(denominator) else {
                return Ok(());
            };
            prop_assert_eq!(
                rounded_quotient(numerator, denominator, dp).serialize(),
                fixed(quotient, dp).serialize(),
                "{} / {} to {} dp",
                numerator,
                denominator,
                dp
            );
        }

        /// Quotients on, and one unit of the numerator's scale either side of, a midpoint
        /// of the rounding: where a double rounding would show.
        #[test]
        fn rounded_quotient_rounds_midpoints_as_the_general_path(
            denominator in any_operand(),
            midpoint_units in 0i64..2_000_000,
            dp in 0u32..=RATE_SCALE,
            nudge in -1i64..=1,
            extra_scale in 0u32..=4,
        ) {
            prop_assume!(!denominator.is_zero());
            let midpoint = Decimal::new(midpoint_units * 10 + 5, dp + 1);
            let Some(on_midpoint) = midpoint.checked_mul(denominator) else {
                return Ok(());
            };
            let nudged = on_midpoint
                + Decimal::new(nudge, (on_midpoint.scale() + extra_scale).min(Decimal::MAX_SCALE));
            let Some(quotient) = nudged.checked_div(denominator) else {
                return Ok(());
            };
            prop_assert_eq!(
                rounded_quotient(nudged, denominator, dp).serialize(),
                fixed(quotient, dp).serialize(),
                "{} / {} to {} dp",
                nudged,
                denominator,
                dp
            );
        }

        #[test]
        fn relative_gap_is_bit_identical_to_dividing_then_subtracting_one(
            value in any_operand(),
            reference in any_operand(),
        ) {
            // A quotient beyond 96 bits overflows (and panics) on both paths alike.
            let Some(quotient) = value.checked_div(reference) else {
                return Ok(());
            };
            prop_assert_eq!(
                relative_gap(value, reference).serialize(),
                rate(quotient - Decimal::ONE).serialize(),
                "{} against {}",
                value,
                reference
            );
        }

        #[test]
        fn rounded_complement_is_bit_identical_to_one_minus_the_clamped_share(
            part in any_operand(),
            whole in any_operand(),
        ) {
            let Some(share) = part.checked_div(whole) else {
                return Ok(());
            };
            prop_assert_eq!(
                rounded_complement(part, whole).serialize(),
                rate(unit_interval(Decimal::ONE - unit_interval(share))).serialize(),
                "{} of {}",
                part,
                whole
            );
        }

        /// Parts whose share of the whole is on, or one unit of the part's scale either side
        /// of, a midpoint of the rounding.
        #[test]
        fn rounded_complement_rounds_midpoints_as_the_general_path(
            whole in any_operand(),
            midpoint_units in 0i64..1_000_000,
            nudge in -1i64..=1,
            extra_scale in 0u32..=4,
        ) {
            prop_assume!(!whole.is_zero());
            let midpoint = Decimal::new(midpoint_units * 10 + 5, RATE_SCALE + 1);
            let Some(on_midpoint) = midpoint.checked_mul(whole) else {
                return Ok(());
            };
            let part = on_midpoint
                + Decimal::new(nudge, (on_midpoint.scale() + extra_scale).min(Decimal::MAX_SCALE));
            let Some(share) = part.checked_div(whole) else {
                return Ok(());
            };
            prop_assert_eq!(
                rounded_complement(part, whole).serialize(),
                rate(unit_interval(Decimal::ONE - unit_interval(share))).serialize(),
                "{} of {}",
                part,
                whole
            );
        }

        #[test]
        fn mean_of_capped_shares_is_bit_identical_to_the_decimal_mean(
            first in (any_share_operand(), any_share_operand()),
            second in (any_share_operand(), any_share_operand()),
        ) {
            let (Some(first_share), Some(second_share)) =
                (first.0.checked_div(first.1), second.0.checked_div(second.1))
            else {
                return Ok(());
            };
            prop_assert_eq!(
                mean_of_capped_shares(first, second).serialize(),
                rate(unit_interval(
                    (unit_interval(first_share) + unit_interval(second_share)) / Decimal::TWO
                ))
                .serialize(),
                "{:?} and {:?}",
                first,
                second
            );
        }

        #[test]
        fn contribution_is_bit_identical_to_multiplying_decimals(
            weight in any_decimal(),
            normalised in any_decimal(),
        ) {
            contribution_is_the_decimal_product(weight, normalised)?;
        }

        /// Products about the largest that fits 64 bits, where the 64-bit path of
        /// [`contribution`] hands over to the 128-bit one.
        #[test]
        fn contribution_is_bit_identical_about_the_64_bit_limit(
            weight_magnitude in 1u64..=u64::from(u32::MAX),
            offset in -2i128..=2,
            scales in (0u32..=28, 0u32..=28),
            signs in (any::<bool>(), any::<bool>()),
        ) {
            let normalised_magnitude = i128::from(u64::MAX / 100 / weight_magnitude) + offset;
            let mut weight = Decimal::from_i128_with_scale(i128::from(weight_magnitude), scales.0);
            weight.set_sign_negative(signs.0);
            let mut normalised = Decimal::from_i128_with_scale(normalised_magnitude, scales.1);
            normalised.set_sign_negative(signs.1);
            contribution_is_the_decimal_product(weight, normalised)?;
        }

        #[test]
        fn contribution_of_rates_is_bit_identical_to_multiplying_decimals(
            weight in (0i64..=1_000_000, any::<bool>())
                .prop_map(|(units, negative)| {
                    let mut value = Decimal::new(units, RATE_SCALE);
                    value.set_sign_negative(negative);
                    value
                }),
            normalised in (0i64..=1_000_000).prop_map(|units| Decimal::new(units, RATE_SCALE)),
        ) {
            contribution_is_the_decimal_product(weight, normalised)?;
        }

        /// Where it gives a value, it is the exact quotient rounded half up, and that quotient
        /// is not within a relative 10^-18 of a midpoint.
        #[test]
        fn round_half_up_far_from_midpoint_rounds_half_up_where_it_decides(
            numerator in 0u128..1 << 80,
            denominator in 1u128..1 << 70,
            dp in 0u32..=6,
        ) {
            if let Some(rounded) = round_half_up_far_from_midpoint(numerator, denominator, dp) {
                let scaled = numerator * 10u128.pow(dp);
                prop_assert_eq!(rounded, round_half_up(scaled, denominator));
                let distance = (2 * (scaled % denominator)).abs_diff(denominator);
                prop_assert!(distance * 10u128.pow(18) > 2 * scaled);
            }
        }

        #[test]
        fn charged_is_bit_identical_to_rounding_to_the_cent_then_padding(value in any_decimal()) {
            prop_assert_eq!(
                charged(value).serialize(),
                fixed(fixed(value, CENT_DP), MONEY_SCALE).serialize(),
                "{}",
                value
            );
        }

        #[test]
        fn charged_product_is_bit_identical_to_charging_the_decimal_product(
            a in any_operand(),
            b in any_operand(),
        ) {
            let Some(product) = a.checked_mul(b) else {
                return Ok(());
            };
            prop_assert_eq!(
                charged_product(a, b).serialize(),
                fixed(fixed(product, CENT_DP), MONEY_SCALE).serialize(),
                "{} × {}",
                a,
                b
            );
        }

        #[test]
        fn rounded_mean_of_capped_complements_is_the_decimal_mean(
            first in (any_share_operand(), any_share_operand()),
            second in (any_share_operand(), any_share_operand()),
            both in any::<bool>(),
        ) {
            let (Some(first_share), Some(second_share)) =
                (first.0.checked_div(first.1), second.0.checked_div(second.1))
            else {
                return Ok(());
            };
            let complement = |share: Decimal| Decimal::ONE - unit_interval(share);
            let (terms, decimal): (&[CappedShare], Decimal) = if both {
                (
                    &[CappedShare::Complement(first), CappedShare::Complement(second)],
                    (Decimal::ZERO + complement(first_share) + complement(second_share))
                        / Decimal::from(2),
                )
            } else {
                (
                    &[CappedShare::Complement(first)],
                    (Decimal::ZERO + complement(first_share)) / Decimal::from(1),
                )
            };
            if let Some(mean) = rounded_mean_of_capped(terms) {
                prop_assert_eq!(
                    mean.serialize(),
                    rate(unit_interval(decimal)).serialize(),
                    "{:?}",
                    terms
                );
            }
        }

        #[test]
        fn charged_excl_vat_is_charged_of_excl_vat(
            amount in (0i64..100_000_000, 0u32..=4).prop_map(|(m, scale)| Decimal::new(m, scale)),
            vat_rate in (0i64..=3_000, 1u32..=4).prop_map(|(m, scale)| Decimal::new(m, scale)),
        ) {
            prop_assert_eq!(
                charged_excl_vat(amount, vat_rate).serialize(),
                charged(excl_vat(amount, vat_rate)).serialize()
            );
        }

        #[test]
        fn percent_renders_the_hundredfold_rounded_to_one_place(value in any_decimal()) {
            let Some(hundredfold) = value.checked_mul(Decimal::ONE_HUNDRED) else {
                return Ok(());
            };
            prop_assert_eq!(text!(Percent(value)), format!("{}%", fixed(hundredfold, 1)));
        }

        #[test]
        fn fixed_pieces_render_as_the_fixed_decimal_displays(
            value in any_decimal(),
            dp in 0u32..=Decimal::MAX_SCALE,
        ) {
            prop_assert_eq!(text!(Fixed(value, dp)), fixed(value, dp).to_string());
            prop_assert_eq!(
                text!(Amount(value, "EUR")),
                format!("{} EUR", fixed(value, CENT_DP))
            );
        }

        #[test]
        fn unit_interval_is_bit_identical_to_clamping(value in any_decimal()) {
            prop_assert_eq!(
                unit_interval(value).serialize(),
                value.clamp(Decimal::ZERO, Decimal::ONE).serialize()
            );
        }

        /// Every `u64` magnitude (the widest [`push_number`] takes), short and long, at every
        /// scale (the longest texts too), with either sign (zeros too), without and with a
        /// suffix: the text of the library's `Display`, then the suffix.
        #[test]
        fn push_number_renders_as_decimal_display_does(
            magnitude in prop_oneof![
                0u64..100,
                0u64..1_000_000_000,
                any::<u64>(),
                (0u32..=19).prop_map(|exponent| 10u64.pow(exponent)),
                (1u32..=19).prop_map(|exponent| 10u64.pow(exponent) - 1),
                Just(u64::MAX),
            ],
            negative in any::<bool>(),
            scale in 0u32..=Decimal::MAX_SCALE,
        ) {
            let mut value = Decimal::from_i128_with_scale(i128::from(magnitude), scale);
            value.set_sign_negative(negative);
            let mut line = String::from("at ");
            push_number(&mut line, magnitude, negative, scale as usize, None);
            prop_assert_eq!(&line, &format!("at {value}"));
            push_number(&mut line, magnitude, negative, scale as usize, Some(b'%'));
            prop_assert_eq!(line, format!("at {value}{value}%"));
        }

        #[test]
        fn pieces_render_as_display_does(
            value in any_decimal(),
            integer in any::<i64>(),
            amount in (any::<i64>(), 0u32..=10).prop_map(|(m, scale)| Decimal::new(m, scale)),
        ) {
            prop_assert_eq!(text!(value), value.to_string());
            prop_assert_eq!(text!(integer), integer.to_string());
            prop_assert_eq!(
                text!(Amount(amount, "EUR"), " ", Percent(amount)),
                format!(
                    "{} EUR {}%",
                    fixed(amount, CENT_DP),
                    fixed(amount * Decimal::ONE_HUNDRED, 1)
                )
            );
        }
    }

    #[test]
    fn percentages_of_zeros_render_the_hundredfold_rounded_to_one_place() {
        for scale in 0..=Decimal::MAX_SCALE {
            for negative in [false, true] {
                let mut zero = Decimal::from_i128_with_scale(0, scale);
                zero.set_sign_negative(negative);
                assert_eq!(
                    text!(Percent(zero)),
                    format!("{}%", fixed(zero * Decimal::ONE_HUNDRED, 1)),
                    "{zero:?}"
                );
            }
        }
    }

    #[test]
    fn amounts_in_currencies_of_any_length_render_as_display_does() {
        for currency in ["EUR", "", "€", "EURO", "US$", "¥"] {
            for amount in [dec!(12.345), dec!(-0.004), dec!(0), Decimal::MAX] {
                assert_eq!(
                    text!(Amount(amount, currency)),
                    format!("{} {currency}", fixed(amount, CENT_DP))
                );
            }
        }
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
