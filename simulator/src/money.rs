//! Amounts are integer cents inside the model and exact decimals in records. Floats only
//! draw the random factors; they become cents through one `round`, and only correctly
//! rounded IEEE operations (+, -, *, /) are used, so the output is the same on every platform.

use rand::Rng;
use rust_decimal::Decimal;

/// Cents as an exact two-decimal amount.
pub(crate) fn decimal(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// A float amount of cents, rounded half away from zero.
pub(crate) fn round_cents(cents: f64) -> i64 {
    // Amounts are far below 2^53 cents, so the conversion is exact.
    cents.round() as i64
}

/// A shop's displayed price: 349.99 rather than 347.62, 1249.99 above a thousand euros.
pub(crate) fn charm_price(cents: f64) -> i64 {
    let step = if cents >= 100_000.0 { 1_000 } else { 100 };
    let rounded = (round_cents(cents) + step / 2) / step * step;
    (rounded - 1).max(99)
}

/// `value` scaled by a uniform factor in `[1 - spread, 1 + spread]`.
pub(crate) fn jitter<R: Rng>(rng: &mut R, value: f64, spread: f64) -> f64 {
    value * (1.0 + spread * (2.0 * rng.random::<f64>() - 1.0))
}

/// Linear interpolation between `low` and `high` at `position` in `[0, 1]`.
pub(crate) fn lerp(low: f64, high: f64, position: f64) -> f64 {
    low + (high - low) * position.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charm_prices_end_in_ninety_nine_cents() {
        assert_eq!(charm_price(34_762.0), 34_799);
        assert_eq!(charm_price(1_290.0), 1_299);
        assert_eq!(charm_price(124_620.0), 124_999);
        assert_eq!(charm_price(10.0), 99);
        assert_eq!(decimal(34_799).to_string(), "347.99");
    }
}
