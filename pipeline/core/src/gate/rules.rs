//! Rules shared by several record types. Each returns the quarantine that refuses the record,
//! so the per-record checks read as a sequence of `?`.

use std::borrow::Cow;
use std::fmt::{self, Write};

use hub_schemas::records::EpochMillis;
use rust_decimal::Decimal;

use super::config::GateConfig;
use super::currency::active_currency;
use crate::calendar::format_utc;
use crate::gtin::{GtinFault, check_gtin_13};
use crate::money::NARROW_POWERS_OF_TEN;
use crate::reason::{Quarantine, ReasonCode, RecordType, is_own_debug_escape};

/// Longest excerpt of a free-text value quoted in a detail: details are stored and shown
/// to operators, a runaway value must not bloat them.
const QUOTED_CHARS: usize = 64;

pub(crate) const MILLIS_PER_HOUR: i64 = 3_600_000;

/// Room for a detail: the subject and a one-sentence problem, so most are written without
/// growing.
const DETAIL_CAPACITY: usize = 256;

/// A value as quoted in details: Debug-escaped, so blanks and control characters are visible.
pub(crate) fn quoted(value: &str) -> String {
    let mut text = String::new();
    push_quoted(&mut text, value);
    text
}

/// Appends [`quoted`]`(value)`. A value of printable ASCII other than `"` and `\` is its own
/// Debug escape, so it is copied between quotes without the formatting machinery.
fn push_quoted(detail: &mut String, value: &str) {
    // A value of at most QUOTED_CHARS bytes has at most as many characters: uncut, without
    // decoding it.
    let cut = if value.len() <= QUOTED_CHARS {
        None
    } else {
        value
            .char_indices()
            .nth(QUOTED_CHARS)
            .map(|(index, _)| index)
    };
    let excerpt = &value[..cut.unwrap_or(value.len())];
    if is_own_debug_escape(excerpt) {
        detail.push('"');
        detail.push_str(excerpt);
        detail.push('"');
    } else {
        write!(detail, "{excerpt:?}").expect("a String accepts any text");
    }
    if cut.is_some() {
        detail.push('…');
    }
}

/// The record being checked, as details name it: type, GTIN as received, and what else
/// identifies it (channel, supplier, source). Only a refusal renders it, so an accepted
/// record costs no text.
pub(crate) struct Subject<'a> {
    record_type: RecordType,
    gtin: &'a str,
    qualifiers: [(&'static str, &'a str); 2],
}

impl<'a> Subject<'a> {
    pub(crate) fn new(
        record_type: RecordType,
        gtin: &'a str,
        qualifiers: [(&'static str, &'a str); 2],
    ) -> Self {
        Subject {
            record_type,
            gtin,
            qualifiers,
        }
    }

    // Cold, as refusals are the exception: the checks that call them stay small enough to be
    // inlined, and the problems, passed as `format_args!`, are written only in here.
    #[cold]
    pub(crate) fn refuse(&self, reason: ReasonCode, problem: impl fmt::Display) -> Quarantine {
        self.refuse_with(reason, |detail| {
            write!(detail, "{problem}").expect("a String accepts any text");
        })
    }

    /// [`Subject::refuse`] with a problem that `write_problem` appends to the detail itself,
    /// for problems worth writing without the formatting machinery.
    #[cold]
    pub(crate) fn refuse_with(
        &self,
        reason: ReasonCode,
        write_problem: impl FnOnce(&mut String),
    ) -> Quarantine {
        let mut detail = String::with_capacity(DETAIL_CAPACITY);
        detail.push_str(self.record_type.as_str());
        detail.push_str(" gtin ");
        push_quoted(&mut detail, self.gtin);
        for (name, value) in self.qualifiers {
            detail.push(' ');
            detail.push_str(name);
            detail.push(' ');
            push_quoted(&mut detail, value);
        }
        detail.push_str(": ");
        write_problem(&mut detail);
        Quarantine::new(reason, detail)
    }
}

/// Whether `value` is empty or only whitespace. A value that starts with a visible ASCII
/// character is not, which is known without decoding it.
fn is_blank(value: &str) -> bool {
    !value.as_bytes().first().is_some_and(u8::is_ascii_graphic) && value.trim().is_empty()
}

pub(crate) fn required_text(subject: &Subject, field: &str, value: &str) -> Result<(), Quarantine> {
    if is_blank(value) {
        return Err(subject.refuse(
            ReasonCode::MissingField,
            format_args!("{field} is blank; the producing connector must fill it"),
        ));
    }
    Ok(())
}

/// The GTIN-13 form of `value`, borrowed when `value` already is one.
pub(crate) fn gtin<'v>(subject: &Subject, value: &'v str) -> Result<Cow<'v, str>, Quarantine> {
    check_gtin_13(value).map_err(|fault| match fault {
        GtinFault::Empty => subject.refuse(
            ReasonCode::MissingField,
            "gtin is blank; the producing connector must fill it",
        ),
        // Written piece by piece into the detail: one per refused GTIN.
        invalid => subject.refuse_with(ReasonCode::InvalidGtin, |detail| {
            detail.push_str("gtin: ");
            invalid.write_to(detail).expect("a String accepts any text");
            detail.push_str("; correct the GTIN at the source");
        }),
    })
}

/// The trimmed upper-case form of `value`, borrowed when `value` already is one.
pub(crate) fn currency<'v>(subject: &Subject, value: &'v str) -> Result<Cow<'v, str>, Quarantine> {
    // A blank value is no active currency, so it is told apart only once refused.
    active_currency(value).ok_or_else(|| {
        if is_blank(value) {
            return subject.refuse(
                ReasonCode::MissingField,
                "currency is blank; the producing connector must fill it",
            );
        }
        subject.refuse(
            ReasonCode::UnknownCurrency,
            format_args!(
                "currency {} is not an active ISO 4217 code (e.g. EUR)",
                quoted(value)
            ),
        )
    })
}

/// Gives the accepted copy of a record a field's normalised form; a field received already
/// normal keeps the copy's own string, so accepting a well-formed record allocates nothing
/// beyond that copy. `received` is the field as received: a `normalised` that borrows all of
/// it is the copy's text already, known without comparing the texts.
pub(crate) fn set_normalised(field: &mut String, received: &str, normalised: &str) {
    if std::ptr::eq(normalised, received) {
        return;
    }
    if field != normalised {
        normalised.clone_into(field);
    }
}

/// Observation-time bounds: not after `now` plus the clock-skew tolerance and, when
/// `max_age_ms` is given, not before `now - max_age_ms`. Both bounds are inclusive.
pub(crate) fn observation_time(
    subject: &Subject,
    field: &str,
    observed: EpochMillis,
    now: EpochMillis,
    max_age_ms: Option<i64>,
    config: &GateConfig,
) -> Result<(), Quarantine> {
    // i128: extreme timestamps from a corrupt record must not overflow the subtraction.
    let ahead = i128::from(observed) - i128::from(now);
    let tolerance_ms = i128::from(config.future_tolerance_seconds) * 1000;
    if ahead > tolerance_ms {
        return Err(subject.refuse(
            ReasonCode::ObservedInFuture,
            format_args!(
                "{field} {} is {} s after now {} (tolerance {} s); fix the source's clock or time zone",
                format_utc(observed),
                ahead / 1000,
                format_utc(now),
                config.future_tolerance_seconds
            ),
        ));
    }
    if let Some(max_age_ms) = max_age_ms
        && -ahead > i128::from(max_age_ms)
    {
        return Err(subject.refuse(
            ReasonCode::ObservationTooOld,
            format_args!(
                "{field} {} is {} h before now {} (max age {} h); re-fetch fresh data instead of replaying",
                format_utc(observed),
                -ahead / i128::from(MILLIS_PER_HOUR),
                format_utc(now),
                max_age_ms / MILLIS_PER_HOUR
            ),
        ));
    }
    Ok(())
}

/// `amount > bound` in the order of `Decimal`. A price and its ceiling are nearly always
/// positive with mantissas of 32 bits and scales at most 9 apart: then one 64-bit product
/// brings them to one scale, without the decimal comparison's general arithmetic (the gate
/// compares every price with its ceiling). Anything else is left to that comparison.
fn is_above(amount: Decimal, bound: Decimal) -> bool {
    let (a, b) = (amount.unpack(), bound.unpack());
    let small = |negative: bool, hi: u32, mid: u32| !negative && hi == 0 && mid == 0;
    if small(a.negative, a.hi, a.mid)
        && small(b.negative, b.hi, b.mid)
        && a.scale.abs_diff(b.scale) <= 9
    {
        let (a_mantissa, b_mantissa) = (u64::from(a.lo), u64::from(b.lo));
        return if a.scale >= b.scale {
            a_mantissa > b_mantissa * NARROW_POWERS_OF_TEN[(a.scale - b.scale) as usize]
        } else {
            a_mantissa * NARROW_POWERS_OF_TEN[(b.scale - a.scale) as usize] > b_mantissa
        };
    }
    amount > bound
}

fn check_ceiling(
    subject: &Subject,
    field: &str,
    amount: Decimal,
    currency: &str,
    config: &GateConfig,
) -> Result<(), Quarantine> {
    let ceiling = config.price_ceiling_for(currency);
    if is_above(amount, ceiling) {
        return Err(subject.refuse(
            ReasonCode::PriceAboveCeiling,
            format_args!(
                "{field} {amount} {currency} is above the sanity ceiling {ceiling} {currency}; \
                 check for a unit error (cents as euros, per-pack price) at the source"
            ),
        ));
    }
    Ok(())
}

/// A price or cost: strictly positive and not above the ceiling. `when_zero` tells what a
/// zero means for this record type (a placeholder offer, or an invalid cost).
pub(crate) fn positive_price(
    subject: &Subject,
    field: &str,
    price: Decimal,
    currency: &str,
    config: &GateConfig,
    when_zero: ReasonCode,
) -> Result<(), Quarantine> {
    if price.is_zero() {
        return Err(subject.refuse(
            when_zero,
            format_args!("{field} is 0 {currency}, not a real price"),
        ));
    }
    // Not zero (above), so negative exactly when its sign is: no comparison of decimals.
    if price.is_sign_negative() {
        return Err(subject.refuse(
            ReasonCode::NonPositivePrice,
            format_args!("{field} {price} {currency} must be > 0"),
        ));
    }
    check_ceiling(subject, field, price, currency, config)
}

/// A shipping price or levy: zero is legitimate (free shipping), negative is not.
pub(crate) fn non_negative_amount(
    subject: &Subject,
    field: &str,
    amount: Decimal,
    currency: &str,
    config: &GateConfig,
) -> Result<(), Quarantine> {
    // A negative zero is zero, not below it.
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(subject.refuse(
            ReasonCode::NegativeAmount,
            format_args!("{field} {amount} {currency} must be >= 0"),
        ));
    }
    check_ceiling(subject, field, amount, currency, config)
}

/// Whether `new` and `previous` differ by more than `ratio` either way. Written as a
/// multiplication so that no division by a tiny previous value can overflow; an overflowing
/// `smaller * ratio` exceeds any decimal, so it cannot be a jump.
fn is_jump(new: Decimal, previous: Decimal, ratio: Decimal) -> bool {
    let (larger, smaller) = if new >= previous {
        (new, previous)
    } else {
        (previous, new)
    };
    smaller
        .checked_mul(ratio)
        .is_some_and(|bound| larger > bound)
}

/// Refuses an implausible move of a price against the last accepted value of the same field.
/// Skipped when either side is absent or the previous value is not a positive price (nothing
/// to compare against).
pub(crate) fn price_jump(
    subject: &Subject,
    field: &str,
    new: Option<Decimal>,
    previous: Option<Decimal>,
    currency: &str,
    config: &GateConfig,
) -> Result<(), Quarantine> {
    let (Some(new), Some(previous)) = (new, previous) else {
        return Ok(());
    };
    if previous <= Decimal::ZERO || !is_jump(new, previous, config.max_price_jump_ratio) {
        return Ok(());
    }
    Err(subject.refuse(
        ReasonCode::PriceJump,
        format_args!(
            "{field} {new} {currency} against last accepted {previous} {currency} moves by more \
             than x{}; if the source sent cents as euros or shifted the decimal point fix it, if \
             the change is genuine replay it without a previous value",
            config.max_price_jump_ratio
        ),
    ))
}

/// A count or duration with a lower bound (lead time >= 0, MOQ >= 1, rank >= 1...).
pub(crate) fn at_least(
    subject: &Subject,
    field: &str,
    value: Option<i64>,
    minimum: i64,
) -> Result<(), Quarantine> {
    match value {
        Some(value) if value < minimum => Err(subject.refuse(
            ReasonCode::OutOfRange,
            format_args!("{field} {value} must be >= {minimum}"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;
    use crate::gtin::{GtinError, gtin_13};

    /// Any decimal: every scale and sign, zeros of both signs, mantissas of any width, and
    /// many of 32 bits at nearby scales.
    fn any_decimal() -> impl Strategy<Value = Decimal> {
        prop_oneof![
            (any::<i64>(), 0u32..=28).prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale)),
            (
                any::<u32>(),
                any::<u32>(),
                any::<u32>(),
                any::<bool>(),
                0u32..=28
            )
                .prop_map(|(lo, mid, hi, negative, scale)| Decimal::from_parts(
                    lo, mid, hi, negative, scale
                )),
            (0u32..=28, any::<bool>())
                .prop_map(|(scale, negative)| Decimal::from_parts(0, 0, 0, negative, scale)),
            (any::<u32>(), 0u32..=12)
                .prop_map(|(lo, scale)| Decimal::from_parts(lo, 0, 0, false, scale)),
            (1i64..100_000_000, 0u32..=4)
                .prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale)),
        ]
    }

    proptest! {
        #[test]
        fn is_above_is_the_decimal_order(amount in any_decimal(), bound in any_decimal()) {
            prop_assert_eq!(is_above(amount, bound), amount > bound);
            prop_assert_eq!(is_above(bound, amount), bound > amount);
            // The same value written at another scale.
            if let Some(rescaled) = amount.checked_mul(Decimal::new(100, 2)) {
                prop_assert!(!is_above(rescaled, amount));
                prop_assert!(!is_above(amount, rescaled));
            }
        }

        #[test]
        fn a_refused_gtin_is_described_by_its_error_message(
            value in prop_oneof!["[0-9]{12,14}", "[ 0-9a\"é]{0,14}", any::<String>()],
            channel in prop_oneof![Just("amazon".to_owned()), any::<String>()],
            source in prop_oneof![Just("amazon.getItemOffers".to_owned()), any::<String>()],
        ) {
            let subject = Subject::new(
                RecordType::OfferSignal,
                &value,
                [("channel", &channel), ("source", &source)],
            );
            let through_the_error = gtin_13(&value).map_err(|error| match error {
                GtinError::Empty => subject.refuse(
                    ReasonCode::MissingField,
                    "gtin is blank; the producing connector must fill it",
                ),
                invalid => subject.refuse(
                    ReasonCode::InvalidGtin,
                    format!("gtin: {invalid}; correct the GTIN at the source"),
                ),
            });
            prop_assert_eq!(gtin(&subject, &value), through_the_error);
        }
    }

    #[test]
    fn blank_is_empty_once_trimmed() {
        for value in [
            "",
            " ",
            "\t\n",
            "\u{b}",
            "\u{3000}",
            "\u{a0} ",
            "a",
            " a",
            "\u{3000}a",
            "é",
            "~",
            "\u{7f}",
        ] {
            assert_eq!(is_blank(value), value.trim().is_empty(), "{value:?}");
        }
    }

    #[test]
    fn jump_bound_is_inclusive_in_both_directions() {
        assert!(!is_jump(dec!(80), dec!(10), dec!(8)));
        assert!(is_jump(dec!(80.01), dec!(10), dec!(8)));
        assert!(!is_jump(dec!(10), dec!(80), dec!(8)));
        assert!(is_jump(dec!(10), dec!(80.01), dec!(8)));
        assert!(is_jump(dec!(1.99), dec!(199), dec!(8)));
        assert!(!is_jump(dec!(199), dec!(199), dec!(8)));
    }

    #[test]
    fn jump_never_overflows_on_extreme_values() {
        assert!(!is_jump(Decimal::MAX, Decimal::MAX, dec!(8)));
        assert!(is_jump(
            Decimal::MAX,
            dec!(0.0000000000000000000000000001),
            dec!(8)
        ));
    }

    #[test]
    fn long_values_are_quoted_as_excerpts() {
        assert_eq!(quoted("amazon"), "\"amazon\"");
        assert_eq!(quoted(" "), "\" \"");
        let long = "x".repeat(1000);
        assert_eq!(quoted(&long), format!("\"{}\"…", "x".repeat(64)));
    }

    #[test]
    fn quoting_is_the_debug_escape_of_the_excerpt() {
        for value in [
            "",
            "amazon.getItemOffers",
            "say \"hi\"",
            "back\\slash",
            "tab\there",
            "new\nline",
            "nul\0",
            "caf\u{e9}",
            "\u{301}accent",
            "~ !",
        ] {
            assert_eq!(quoted(value), format!("{value:?}"), "{value}");
        }
        let accented = "\u{e9}".repeat(QUOTED_CHARS + 1);
        assert_eq!(
            quoted(&accented),
            format!("{:?}…", "\u{e9}".repeat(QUOTED_CHARS))
        );
        assert_eq!(
            quoted(&"y".repeat(QUOTED_CHARS)),
            format!("{:?}", "y".repeat(64))
        );
    }
}
