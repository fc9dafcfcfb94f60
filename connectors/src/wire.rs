//! Reading values exactly as an API wrote them: decimals from the text of an XML element
//! (never through a float), and RFC 3339 timestamps to epoch milliseconds.

use hub_schemas::records::EpochMillis;
use rust_decimal::Decimal;

/// Parses a decimal written as text (`12.50`, `30`, `1.2e2`; an XML element's content),
/// keeping every digit. JSON amounts go through [`crate::json_decimal`].
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
