//! GTIN validation and normalisation. Every topic is keyed by GTIN-13, so EAN-8 and UPC-A
//! are left-padded with zeros: the GS1 check digit is weighted from the right, so padding
//! keeps it valid and the same product always gets the same key.

use std::borrow::Cow;
use std::fmt;

use crate::reason::is_own_debug_escape;
use crate::word::{WORD_BYTES, read_word, splat};

/// Length of the normalised key.
pub const GTIN_13_LEN: usize = 13;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GtinError {
    Empty,
    NotDigits {
        value: String,
        position: usize,
    },
    UnsupportedLength {
        value: String,
        length: usize,
    },
    CheckDigit {
        value: String,
        expected: u8,
        found: u8,
    },
    AllZeros {
        value: String,
    },
}

impl std::error::Error for GtinError {}

impl GtinError {
    /// The same refusal, borrowing the value.
    fn fault(&self) -> GtinFault<'_> {
        match self {
            GtinError::Empty => GtinFault::Empty,
            GtinError::NotDigits { value, position } => GtinFault::NotDigits {
                value,
                position: *position,
            },
            GtinError::UnsupportedLength { value, length } => GtinFault::UnsupportedLength {
                value,
                length: *length,
            },
            GtinError::CheckDigit {
                value,
                expected,
                found,
            } => GtinFault::CheckDigit {
                value,
                expected: *expected,
                found: *found,
            },
            GtinError::AllZeros { value } => GtinFault::AllZeros { value },
        }
    }
}

impl fmt::Display for GtinError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fault().write_to(formatter)
    }
}

/// A [`GtinError`] borrowing the trimmed value it names: the quality gate writes a refused
/// GTIN's message straight into the quarantine detail, without first copying the value into
/// an error of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GtinFault<'a> {
    Empty,
    NotDigits {
        value: &'a str,
        position: usize,
    },
    UnsupportedLength {
        value: &'a str,
        length: usize,
    },
    CheckDigit {
        value: &'a str,
        expected: u8,
        found: u8,
    },
    AllZeros {
        value: &'a str,
    },
}

impl GtinFault<'_> {
    fn to_error(self) -> GtinError {
        match self {
            GtinFault::Empty => GtinError::Empty,
            GtinFault::NotDigits { value, position } => GtinError::NotDigits {
                value: value.to_owned(),
                position,
            },
            GtinFault::UnsupportedLength { value, length } => GtinError::UnsupportedLength {
                value: value.to_owned(),
                length,
            },
            GtinFault::CheckDigit {
                value,
                expected,
                found,
            } => GtinError::CheckDigit {
                value: value.to_owned(),
                expected,
                found,
            },
            GtinFault::AllZeros { value } => GtinError::AllZeros {
                value: value.to_owned(),
            },
        }
    }

    /// Writes the message of [`GtinError`]'s `Display`, piece by piece rather than through
    /// format strings: the quality gate writes one for every refused GTIN, into a `String`
    /// where each piece is a plain copy. The value is quoted as `{:?}` quotes it.
    pub(crate) fn write_to<W: fmt::Write>(self, out: &mut W) -> fmt::Result {
        let quoted = |out: &mut W, value: &str| {
            out.write_str("GTIN ")?;
            write_quoted(out, value)
        };
        match self {
            GtinFault::Empty => out.write_str("GTIN is empty"),
            GtinFault::NotDigits { value, position } => {
                quoted(out, value)?;
                write!(out, " has a non-digit character at position {position}")
            }
            GtinFault::UnsupportedLength { value, length } => {
                quoted(out, value)?;
                write!(
                    out,
                    " has {length} digits: expected 8 (EAN-8), 12 (UPC-A) or 13 (EAN-13)"
                )
            }
            GtinFault::CheckDigit {
                value,
                expected,
                found,
            } => {
                quoted(out, value)?;
                out.write_str(" has check digit ")?;
                write_digit(out, found)?;
                out.write_str(", expected ")?;
                write_digit(out, expected)
            }
            GtinFault::AllZeros { value } => {
                quoted(out, value)?;
                out.write_str(" is all zeros, a placeholder rather than a product")
            }
        }
    }
}

/// `value` as `{:?}` writes it. Printable ASCII other than `"` and `\` is its own escape, so
/// such a value (every GTIN made of digits) is written between quotes as it is.
fn write_quoted(out: &mut impl fmt::Write, value: &str) -> fmt::Result {
    if is_own_debug_escape(value) {
        out.write_char('"')?;
        out.write_str(value)?;
        out.write_char('"')
    } else {
        write!(out, "{value:?}")
    }
}

/// A check digit as `{}` writes it (any `u8`, though a check digit is below 10).
fn write_digit(out: &mut impl fmt::Write, digit: u8) -> fmt::Result {
    if digit < 10 {
        out.write_char(char::from(b'0' + digit))
    } else {
        write!(out, "{digit}")
    }
}

/// The GS1 check digit of `payload` (the GTIN without its last digit), each byte a digit
/// value 0..=9: weights 3 and 1 alternate starting with 3 at the rightmost payload digit.
pub fn check_digit(payload: &[u8]) -> u8 {
    let sum = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(index, &digit)| u32::from(digit) * weight(index + 1))
        .sum();
    completing_digit(sum)
}

/// The GS1 weight of the digit `distance` places left of the check digit, whose own weight
/// (at 0) is 1, so that a valid GTIN's weighted sum is a multiple of 10.
fn weight(distance: usize) -> u32 {
    if distance % 2 == 1 { 3 } else { 1 }
}

/// The check digit that completes a payload whose weighted sum is `sum`.
fn completing_digit(sum: u32) -> u8 {
    // The result is in 0..=9, so the narrowing cannot truncate.
    ((10 - sum % 10) % 10) as u8
}

/// What the GS1 check needs of a GTIN of 8, 12 or 13 bytes that are all ASCII digits.
struct DigitWords {
    /// The weighted sum of all the digits, the check digit's included with its weight 1.
    sum: u32,
    any_non_zero: bool,
}

impl DigitWords {
    /// Reads `bytes` (8, 12 or 13 of them) as two eight-byte words holding the GTIN
    /// right-aligned on 16 places, left-padded with ASCII zeros, which weigh nothing: every
    /// test is then a handful of operations on the two words instead of one per digit. The
    /// place of a byte in its word tells its weight, 3 at the even places (their distance to
    /// the check digit, at place 15, is odd) and 1 at the odd ones. `None` when a byte is not
    /// an ASCII digit.
    fn read(bytes: &[u8]) -> Option<Self> {
        const LANES: u64 = 0x00ff_00ff_00ff_00ff;
        let length = bytes.len();
        debug_assert!(matches!(length, 8 | 12 | 13), "{length} bytes");
        let ascii_zeros = splat(b'0');
        let right = read_word(&bytes[length - WORD_BYTES..]);
        let left = if length == 8 {
            ascii_zeros
        } else {
            // The first eight bytes moved up by the padding (the bytes pushed out are in
            // `right`), the padding's places filled with ASCII zeros.
            let padding_bits = 8 * (16 - length) as u32;
            read_word(bytes) << padding_bits | ascii_zeros >> (64 - padding_bits)
        };
        if !(is_digit_word(left) && is_digit_word(right)) {
            return None;
        }
        let (left, right) = (left & splat(0x0f), right & splat(0x0f));
        // Per 16-bit lane: three times the even place plus the odd one, at most 72 for the
        // two words together and 288 for the four lanes, so adding up the lanes (into the
        // top one, by the multiplication) carries into no other.
        let weighted = |word: u64| 3 * (word & LANES) + ((word >> 8) & LANES);
        let lanes = weighted(left) + weighted(right);
        let sum = lanes.wrapping_mul(0x0001_0001_0001_0001) >> 48;
        Some(DigitWords {
            sum: u32::try_from(sum).expect("a sum of 16 digits weighed at most 3 is small"),
            any_non_zero: left | right != 0,
        })
    }
}

/// Whether each byte of `word` is an ASCII digit: its high half is 3, and stays 3 once 6 is
/// added (which carries into no other byte once every high half is 3).
fn is_digit_word(word: u64) -> bool {
    let high_halves = splat(0xf0);
    word & high_halves == splat(0x30) && word.wrapping_add(splat(0x06)) & high_halves == splat(0x30)
}

/// Validates an EAN-13, EAN-8 or UPC-A (surrounding whitespace tolerated) and returns it as
/// a GTIN-13. Idempotent: a GTIN-13 it returned is returned unchanged.
pub fn normalise_gtin(raw: &str) -> Result<String, GtinError> {
    gtin_13(raw).map(Cow::into_owned)
}

/// [`normalise_gtin`] borrowing from `raw` when it needs no padding, so checking a record
/// that is already keyed by a GTIN-13 allocates nothing.
pub fn gtin_13(raw: &str) -> Result<Cow<'_, str>, GtinError> {
    check_gtin_13(raw).map_err(GtinFault::to_error)
}

/// [`gtin_13`] with the refusal borrowing from `raw`.
pub(crate) fn check_gtin_13(raw: &str) -> Result<Cow<'_, str>, GtinFault<'_>> {
    let value = trimmed(raw);
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return Err(GtinFault::Empty);
    }
    let length = bytes.len();
    if !matches!(length, 8 | 12 | 13) {
        if bytes.iter().all(u8::is_ascii_digit) {
            return Err(GtinFault::UnsupportedLength { value, length });
        }
        return Err(not_digits(value));
    }
    let Some(DigitWords { sum, any_non_zero }) = DigitWords::read(bytes) else {
        return Err(not_digits(value));
    };
    let found = bytes[length - 1] - b'0';
    let expected = completing_digit(sum - u32::from(found));
    if found != expected {
        return Err(GtinFault::CheckDigit {
            value,
            expected,
            found,
        });
    }
    if !any_non_zero {
        return Err(GtinFault::AllZeros { value });
    }
    if length == GTIN_13_LEN {
        return Ok(Cow::Borrowed(value));
    }
    let mut padded = String::with_capacity(GTIN_13_LEN);
    padded.extend(std::iter::repeat_n('0', GTIN_13_LEN - length));
    padded.push_str(value);
    Ok(Cow::Owned(padded))
}

/// `raw` without surrounding whitespace. A value that starts and ends with an ASCII digit,
/// as every GTIN is sent, has none: its ends are not decoded.
fn trimmed(raw: &str) -> &str {
    match raw.as_bytes() {
        [first, .., last] if first.is_ascii_digit() && last.is_ascii_digit() => raw,
        _ => raw.trim(),
    }
}

/// The refusal of a trimmed value with a character other than an ASCII digit.
fn not_digits(value: &str) -> GtinFault<'_> {
    // The position is counted in characters, and a byte that is not an ASCII digit starts or
    // continues a character that is not one.
    let position = value
        .chars()
        .position(|c| !c.is_ascii_digit())
        .expect("a value with a byte other than an ASCII digit has a character other than one");
    GtinFault::NotDigits { value, position }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// GTIN validation as first written: the digits copied out as values, the check digit
    /// weighed on the copy.
    fn gtin_13_on_digit_values(raw: &str) -> Result<Cow<'_, str>, GtinError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(GtinError::Empty);
        }
        if let Some(position) = value.chars().position(|c| !c.is_ascii_digit()) {
            return Err(GtinError::NotDigits {
                value: value.to_owned(),
                position,
            });
        }
        let length = value.len();
        if !matches!(length, 8 | 12 | 13) {
            return Err(GtinError::UnsupportedLength {
                value: value.to_owned(),
                length,
            });
        }
        let digits: Vec<u8> = value.bytes().map(|byte| byte - b'0').collect();
        let (payload, found) = digits.split_at(length - 1);
        let expected = check_digit(payload);
        if found[0] != expected {
            return Err(GtinError::CheckDigit {
                value: value.to_owned(),
                expected,
                found: found[0],
            });
        }
        if digits.iter().all(|&d| d == 0) {
            return Err(GtinError::AllZeros {
                value: value.to_owned(),
            });
        }
        Ok(Cow::Owned(format!("{value:0>13}")))
    }

    /// Texts that reach every outcome: digit runs of every length around the supported ones,
    /// padded or not, with a stray character, or anything at all.
    fn gtin_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{7,14}",
            "[ \t]{0,2}[0-9]{8}[ \t]{0,2}",
            "[ \t]{0,2}[0-9]{12,13}[ \t]{0,2}",
            "0{7,14}",
            "[0-9]{0,6}[a\"\\\\é٤ .:;<=>?/-][0-9]{0,8}",
            one_stray_byte(),
            any::<String>(),
        ]
    }

    /// Digits of a supported length but one byte, which is next to the digits in ASCII (or a
    /// control character, or the first byte of a character beyond ASCII).
    fn one_stray_byte() -> impl Strategy<Value = String> {
        (
            proptest::sample::select(&[8usize, 12, 13][..]),
            any::<proptest::sample::Index>(),
            "[0-9]{13}",
            proptest::sample::select(&['/', ':', ';', '?', '@', ' ', '\0', '\u{7f}', 'é'][..]),
        )
            .prop_map(|(length, position, digits, stray)| {
                let position = position.index(length);
                let mut value: String = digits[..length].to_owned();
                value.replace_range(position..=position, stray.encode_utf8(&mut [0; 4]));
                value
            })
    }

    proptest! {
        #[test]
        fn validation_on_the_ascii_digits_is_the_validation_on_their_values(raw in gtin_text()) {
            prop_assert_eq!(gtin_13(&raw), gtin_13_on_digit_values(&raw));
        }
    }

    #[test]
    fn ean13_with_correct_check_digit_is_kept() {
        assert_eq!(
            normalise_gtin("4006381333931"),
            Ok("4006381333931".to_owned())
        );
        assert_eq!(
            normalise_gtin("3760123456784"),
            Ok("3760123456784".to_owned())
        );
        assert_eq!(
            normalise_gtin("9782070612758"),
            Ok("9782070612758".to_owned())
        );
    }

    #[test]
    fn ean13_with_wrong_check_digit_names_both_digits() {
        assert_eq!(
            normalise_gtin("4006381333932"),
            Err(GtinError::CheckDigit {
                value: "4006381333932".to_owned(),
                expected: 1,
                found: 2
            })
        );
        let message = normalise_gtin("4006381333930").unwrap_err().to_string();
        assert!(message.contains("4006381333930") && message.contains("expected 1"));
    }

    #[test]
    fn messages_read_as_their_format_strings() {
        for value in [
            "4006381333932",
            "12 34",
            "ab\"c",
            "a\\b",
            "tab\there",
            "é1",
            "",
        ] {
            for (error, expected) in [
                (
                    GtinError::NotDigits {
                        value: value.to_owned(),
                        position: 2,
                    },
                    format!("GTIN {value:?} has a non-digit character at position 2"),
                ),
                (
                    GtinError::UnsupportedLength {
                        value: value.to_owned(),
                        length: 5,
                    },
                    format!(
                        "GTIN {value:?} has 5 digits: expected 8 (EAN-8), 12 (UPC-A) or 13 \
                         (EAN-13)"
                    ),
                ),
                (
                    GtinError::AllZeros {
                        value: value.to_owned(),
                    },
                    format!("GTIN {value:?} is all zeros, a placeholder rather than a product"),
                ),
            ] {
                assert_eq!(error.to_string(), expected);
            }
            for (expected_digit, found) in [(1, 2), (0, 9), (7, 12), (255, 0)] {
                let error = GtinError::CheckDigit {
                    value: value.to_owned(),
                    expected: expected_digit,
                    found,
                };
                assert_eq!(
                    error.to_string(),
                    format!("GTIN {value:?} has check digit {found}, expected {expected_digit}")
                );
            }
        }
        assert_eq!(GtinError::Empty.to_string(), "GTIN is empty");
    }

    #[test]
    fn ean8_is_padded_to_13_digits() {
        assert_eq!(normalise_gtin("96385074"), Ok("0000096385074".to_owned()));
        assert_eq!(normalise_gtin("40170725"), Ok("0000040170725".to_owned()));
        assert!(matches!(
            normalise_gtin("96385075"),
            Err(GtinError::CheckDigit {
                expected: 4,
                found: 5,
                ..
            })
        ));
    }

    #[test]
    fn upc_a_is_padded_to_13_digits() {
        assert_eq!(
            normalise_gtin("036000291452"),
            Ok("0036000291452".to_owned())
        );
        assert_eq!(
            normalise_gtin("012345678905"),
            Ok("0012345678905".to_owned())
        );
        assert!(matches!(
            normalise_gtin("036000291453"),
            Err(GtinError::CheckDigit {
                expected: 2,
                found: 3,
                ..
            })
        ));
    }

    #[test]
    fn upc_a_and_its_ean13_form_share_one_key() {
        assert_eq!(
            normalise_gtin("036000291452"),
            normalise_gtin("0036000291452")
        );
    }

    #[test]
    fn surrounding_whitespace_is_tolerated_inner_characters_are_not() {
        assert_eq!(
            normalise_gtin(" 4006381333931\t"),
            Ok("4006381333931".to_owned())
        );
        assert_eq!(
            normalise_gtin("400638 1333931"),
            Err(GtinError::NotDigits {
                value: "400638 1333931".to_owned(),
                position: 6
            })
        );
        assert!(matches!(
            normalise_gtin("4.00638E+12"),
            Err(GtinError::NotDigits { position: 1, .. })
        ));
        assert!(matches!(
            normalise_gtin("-4006381333931"),
            Err(GtinError::NotDigits { position: 0, .. })
        ));
    }

    #[test]
    fn lengths_other_than_8_12_13_are_refused() {
        for value in ["4006381", "40063813339311", "1234567890", "123456789012345"] {
            assert_eq!(
                normalise_gtin(value),
                Err(GtinError::UnsupportedLength {
                    value: value.to_owned(),
                    length: value.len()
                })
            );
        }
    }

    #[test]
    fn empty_and_all_zero_gtins_are_refused() {
        assert_eq!(normalise_gtin(""), Err(GtinError::Empty));
        assert_eq!(normalise_gtin("   "), Err(GtinError::Empty));
        assert!(matches!(
            normalise_gtin("0000000000000"),
            Err(GtinError::AllZeros { .. })
        ));
        assert!(matches!(
            normalise_gtin("00000000"),
            Err(GtinError::AllZeros { .. })
        ));
    }

    #[test]
    fn non_ascii_digits_are_refused() {
        assert!(matches!(
            normalise_gtin("٤٠٠٦٣٨١٣"),
            Err(GtinError::NotDigits { position: 0, .. })
        ));
    }
}
