//! Reading supplier numbers written with a configured decimal and thousands separator,
//! exactly. Grouping is validated rather than the separator merely stripped: with `.` as the
//! thousands separator, "12.5" would otherwise silently read as 125.

use rust_decimal::Decimal;

/// Spaces that spreadsheets put between thousands groups; all count as a space separator.
const SPACE_LIKE: [char; 3] = [' ', '\u{a0}', '\u{202f}'];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NumberFormat {
    pub(crate) decimal_separator: char,
    pub(crate) thousands_separator: Option<char>,
}

impl NumberFormat {
    fn is_thousands_separator(&self, c: char) -> bool {
        match self.thousands_separator {
            Some(' ') => SPACE_LIKE.contains(&c),
            Some(separator) => c == separator,
            None => false,
        }
    }

    /// The separators, as error messages quote them.
    fn describe(&self) -> String {
        let thousands = self
            .thousands_separator
            .map_or_else(|| "none".to_owned(), |separator| format!("{separator:?}"));
        format!(
            "decimal separator {:?}, thousands separator {thousands}",
            self.decimal_separator
        )
    }

    /// Parses a decimal such as `-1 234,56`; the error says what is wrong with the text.
    pub(crate) fn parse_decimal(&self, text: &str) -> Result<Decimal, String> {
        let text = text.trim_matches(|c: char| c.is_whitespace());
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        if unsigned.is_empty() {
            return Err("is not a number".to_owned());
        }
        let mut parts = unsigned.split(self.decimal_separator);
        let integer_text = parts.next().unwrap_or_default();
        let fraction = parts.next();
        if parts.next().is_some() {
            return Err(format!(
                "has more than one decimal separator {:?}",
                self.decimal_separator
            ));
        }
        let integer = self.integer_digits(integer_text)?;
        let mut canonical = String::with_capacity(unsigned.len() + 2);
        if negative {
            canonical.push('-');
        }
        canonical.push_str(&integer);
        if let Some(fraction) = fraction {
            if fraction.is_empty() || !fraction.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!(
                    "has a malformed fractional part ({})",
                    self.describe()
                ));
            }
            canonical.push('.');
            canonical.push_str(fraction);
        }
        Decimal::from_str_exact(&canonical)
            .map_err(|_| "has more digits than an exact decimal can hold".to_owned())
    }

    /// The digits of the integer part, thousands groups checked (first group 1-3 digits,
    /// then groups of exactly 3).
    fn integer_digits(&self, text: &str) -> Result<String, String> {
        if text.is_empty() {
            return Err("has no digit before the decimal separator".to_owned());
        }
        let groups: Vec<&str> = text.split(|c| self.is_thousands_separator(c)).collect();
        for (index, group) in groups.iter().enumerate() {
            if let Some(bad) = group.chars().find(|c| !c.is_ascii_digit()) {
                return Err(format!(
                    "has unexpected character {bad:?} ({})",
                    self.describe()
                ));
            }
            let well_grouped = if index == 0 {
                (1..=3).contains(&group.len()) || groups.len() == 1 && !group.is_empty()
            } else {
                group.len() == 3
            };
            if !well_grouped {
                return Err(format!(
                    "has misplaced thousands separators: groups must have 3 digits ({}; are \
                     they right for this file?)",
                    self.describe()
                ));
            }
        }
        Ok(groups.concat())
    }

    /// Parses a whole number, tolerating a zero fractional part ("12,0").
    pub(crate) fn parse_integer(&self, text: &str) -> Result<i64, String> {
        let value = self.parse_decimal(text)?;
        if !value.fract().is_zero() {
            return Err("is not a whole number".to_owned());
        }
        i64::try_from(value).map_err(|_| "is out of range for a quantity".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    const FRENCH: NumberFormat = NumberFormat {
        decimal_separator: ',',
        thousands_separator: Some(' '),
    };
    const GERMAN: NumberFormat = NumberFormat {
        decimal_separator: ',',
        thousands_separator: Some('.'),
    };
    const PLAIN: NumberFormat = NumberFormat {
        decimal_separator: '.',
        thousands_separator: None,
    };

    #[test]
    fn french_numbers_with_spaces_and_decimal_comma() {
        assert_eq!(FRENCH.parse_decimal("1 234,56"), Ok(dec!(1234.56)));
        assert_eq!(FRENCH.parse_decimal("1\u{a0}234,5"), Ok(dec!(1234.5)));
        assert_eq!(
            FRENCH.parse_decimal("1\u{202f}234\u{202f}567"),
            Ok(dec!(1234567))
        );
        assert_eq!(FRENCH.parse_decimal(" 19,99 "), Ok(dec!(19.99)));
        assert_eq!(FRENCH.parse_decimal("-0,5"), Ok(dec!(-0.5)));
        assert_eq!(FRENCH.parse_decimal("0"), Ok(dec!(0)));
    }

    #[test]
    fn german_grouping_is_validated() {
        assert_eq!(GERMAN.parse_decimal("1.234,56"), Ok(dec!(1234.56)));
        assert_eq!(GERMAN.parse_decimal("12.345.678"), Ok(dec!(12345678)));
        assert!(
            GERMAN
                .parse_decimal("12.5")
                .unwrap_err()
                .contains("misplaced thousands")
        );
        assert!(GERMAN.parse_decimal("1.2345").is_err());
        assert!(GERMAN.parse_decimal("1234.567").is_err());
    }

    #[test]
    fn the_wrong_decimal_separator_is_refused() {
        assert!(FRENCH.parse_decimal("19.99").unwrap_err().contains("'.'"));
        assert!(PLAIN.parse_decimal("19,99").unwrap_err().contains("','"));
        assert!(PLAIN.parse_decimal("1 999").is_err());
    }

    #[test]
    fn malformed_numbers_are_refused() {
        for text in [
            "", " ", "-", "+", ",5", "12,", "1,2,3", "12,5a", "12 €", "1e3", "1_000", "٣",
        ] {
            assert!(FRENCH.parse_decimal(text).is_err(), "{text:?}");
        }
        assert!(PLAIN.parse_decimal(&"9".repeat(40)).is_err());
        assert!(
            PLAIN
                .parse_decimal(&format!("0.{}", "1".repeat(40)))
                .is_err()
        );
    }

    #[test]
    fn whole_numbers() {
        assert_eq!(FRENCH.parse_integer("1 200"), Ok(1200));
        assert_eq!(FRENCH.parse_integer("12,0"), Ok(12));
        assert_eq!(FRENCH.parse_integer("-3"), Ok(-3));
        assert!(FRENCH.parse_integer("12,5").unwrap_err().contains("whole"));
        assert!(
            PLAIN
                .parse_integer("99999999999999999999")
                .unwrap_err()
                .contains("range")
        );
    }
}
