//! Reading values exactly as an API wrote them: amounts as decimals from their text (an XML
//! element's content, a CSV cell, or a JSON number's own digits through [`json_decimal`]),
//! never through a float, and RFC 3339 timestamps to epoch milliseconds.

use hub_schemas::records::EpochMillis;
use rust_decimal::Decimal;

/// Parses a decimal written as text (`12.50`, `30`, `1.2e2`), keeping every digit: the one
/// way amounts are read, JSON ones included (see [`json_decimal`]).
pub fn decimal_from_text(text: &str) -> Result<Decimal, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an empty amount".to_owned());
    }
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text)
    } else {
        Decimal::from_str_exact(text)
    };
    parsed.map_err(|error| format!("{text:?} is not a decimal amount ({error})"))
}

/// An RFC 3339 timestamp (`2026-11-28T09:30:00Z`, `2016-09-09T00:00:00+02:00`) in epoch ms.
pub fn epoch_millis_from_rfc3339(text: &str) -> Result<EpochMillis, String> {
    text.trim()
        .parse::<jiff::Timestamp>()
        .map(|timestamp| timestamp.as_millisecond())
        .map_err(|error| format!("{text:?} is not an RFC 3339 timestamp ({error})"))
}

/// Epoch milliseconds as an RFC 3339 UTC timestamp, the form the APIs take in query filters.
pub fn rfc3339_from_epoch_millis(millis: EpochMillis) -> Result<String, String> {
    jiff::Timestamp::from_millisecond(millis)
        .map(|timestamp| timestamp.to_string())
        .map_err(|error| format!("{millis} ms is outside the representable time range ({error})"))
}

pub mod json_decimal {
    //! Money read exactly from JSON numbers. Marketplace APIs write amounts as JSON numbers
    //! (`"Amount": 10.99`), which serde_json turns into an `f64` before any `Deserialize` sees
    //! them: `0.1 + 0.2` territory, and a price must keep every digit it was written with. These
    //! helpers borrow the number's source text instead ([`RawValue`]) and parse it as a decimal,
    //! so `10.99` is exactly `10.99` and `10.50` keeps its scale.
    //!
    //! Use with `#[serde(deserialize_with = "json_decimal::exact")]` (or `json_decimal::option`
    //! with `#[serde(default)]`), and `serialize_with = "json_decimal::serialize"` to write one.
    //! They need serde_json's own (de)serializer (`from_slice`, `to_vec`...): a
    //! `serde_json::Value` has already lost the digits.

    use rust_decimal::Decimal;
    use serde::de::{Deserialize, Deserializer, Error};
    use serde::ser::{Error as _, Serialize, Serializer};
    use serde_json::value::RawValue;

    use super::decimal_from_text;

    /// Writes a decimal as a JSON number with exactly its digits (`10.50`, not `10.5` or
    /// `10.499999`).
    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        RawValue::from_string(value.to_string())
            .map_err(S::Error::custom)?
            .serialize(serializer)
    }

    /// A decimal written as a JSON number (`10.99`, `-3`, `1.5e2`) or as a string holding one
    /// (`"10.99"`: some APIs quote their amounts).
    pub fn exact<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        parse(raw.get()).map_err(D::Error::custom)
    }

    /// [`exact`] for an optional amount: absent or `null` is `None`.
    pub fn option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Decimal>, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        match raw.get() {
            "null" => Ok(None),
            text => parse(text).map(Some).map_err(D::Error::custom),
        }
    }

    /// Parses the JSON text of one value (a number literal, or a string literal holding a number).
    fn parse(json_text: &str) -> Result<Decimal, String> {
        let number = if json_text.starts_with('"') {
            serde_json::from_str::<String>(json_text)
                .map_err(|error| format!("{json_text} is not a JSON string: {error}"))?
        } else {
            json_text.to_owned()
        };
        decimal_from_text(&number).map_err(|error| format!("amount {json_text}: {error}"))
    }

    #[cfg(test)]
    mod tests {
        use std::str::FromStr;

        use proptest::prelude::*;
        use serde::Deserialize;

        use super::*;

        #[derive(Debug, Deserialize)]
        struct Money {
            #[serde(rename = "Amount", deserialize_with = "exact")]
            amount: Decimal,
            #[serde(rename = "Points", default, deserialize_with = "option")]
            points: Option<Decimal>,
        }

        fn amount(json: &str) -> Result<Money, serde_json::Error> {
            serde_json::from_str(json)
        }

        #[test]
        fn numbers_keep_every_digit_and_their_scale() {
            let money = amount(r#"{"Amount": 10.50}"#).unwrap();
            assert_eq!(money.amount.to_string(), "10.50");
            assert_eq!(money.points, None);
            // 0.1 + 0.2 as floats is 0.30000000000000004; as written it stays exact.
            assert_eq!(
                amount(r#"{"Amount": 0.3}"#).unwrap().amount,
                Decimal::from_str("0.3").unwrap()
            );
            assert_eq!(
                amount(r#"{"Amount": 123456789012345678.9}"#)
                    .unwrap()
                    .amount
                    .to_string(),
                "123456789012345678.9"
            );
        }

        #[test]
        fn integers_exponents_and_quoted_amounts_are_read() {
            assert_eq!(
                amount(r#"{"Amount": 10}"#).unwrap().amount,
                Decimal::from(10)
            );
            assert_eq!(
                amount(r#"{"Amount": 1.5e2}"#).unwrap().amount,
                Decimal::from(150)
            );
            assert_eq!(
                amount(r#"{"Amount": " 7.25 "}"#)
                    .unwrap()
                    .amount
                    .to_string(),
                "7.25"
            );
            let points = amount(r#"{"Amount": 1, "Points": null}"#).unwrap();
            assert_eq!(points.points, None);
            let points = amount(r#"{"Amount": 1, "Points": 3.1}"#).unwrap();
            assert_eq!(points.points.unwrap().to_string(), "3.1");
        }

        #[test]
        fn non_numbers_are_refused_with_the_value() {
            let error = amount(r#"{"Amount": "ten"}"#).unwrap_err().to_string();
            assert!(error.contains(r#""ten""#), "{error}");
            assert!(amount(r#"{"Amount": true}"#).is_err());
            assert!(amount(r#"{"Amount": null}"#).is_err());
            assert!(amount(r#"{}"#).is_err());
        }

        #[derive(Debug, serde::Serialize)]
        struct Written {
            #[serde(rename = "Amount", serialize_with = "serialize")]
            amount: Decimal,
        }

        #[test]
        fn written_amounts_are_json_numbers_with_their_digits() {
            let written = Written {
                amount: Decimal::from_str("10.50").unwrap(),
            };
            assert_eq!(
                serde_json::to_string(&written).unwrap(),
                r#"{"Amount":10.50}"#
            );
        }

        proptest! {
            #[test]
            fn any_written_decimal_reads_back_identically(mantissa in any::<i64>(), scale in 0u32..=10) {
                let written = Decimal::new(mantissa, scale);
                let json = serde_json::to_string(&Written { amount: written }).unwrap();
                let money = amount(&json).unwrap();
                prop_assert_eq!(money.amount.to_string(), written.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn amounts_keep_every_written_digit() {
        assert_eq!(decimal_from_text("19.99"), Ok(dec!(19.99)));
        assert_eq!(decimal_from_text("12.50"), Ok(dec!(12.50)));
        assert_eq!(decimal_from_text(" 30 "), Ok(dec!(30)));
        assert_eq!(decimal_from_text("1.5e2"), Ok(dec!(150)));
        assert!(decimal_from_text("").is_err());
        assert!(decimal_from_text("9,90").is_err());
    }

    #[test]
    fn timestamps_with_offsets_are_read_in_utc() {
        assert_eq!(
            epoch_millis_from_rfc3339("2016-09-09T00:00:00+02:00"),
            Ok(1_473_372_000_000)
        );
        assert_eq!(
            epoch_millis_from_rfc3339("2026-11-28T09:30:00.250Z"),
            Ok(1_795_858_200_250)
        );
        assert!(epoch_millis_from_rfc3339("28/11/2026").is_err());
    }

    proptest! {
        #[test]
        fn written_timestamps_read_back(millis in 0i64..4_102_444_800_000) {
            let text = rfc3339_from_epoch_millis(millis).expect("in range");
            prop_assert_eq!(epoch_millis_from_rfc3339(&text), Ok(millis));
        }
    }
}
