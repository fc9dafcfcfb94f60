//! Why a record was quarantined: a closed set of stable codes, and the helper that turns a
//! refusal into the `hub.quarantine` contract record.
//!
//! The codes are a ClickHouse `LowCardinality` column and a metric label, so a code is never
//! renamed or reused for another meaning; `docs/quarantine-reasons.md` documents each one.

use std::fmt;
use std::str::FromStr;

use hub_schemas::records::{EpochMillis, QuarantinedRecord};

use crate::word::{WORD_BYTES, read_word, splat};

/// Declares the reason codes once, so the enum, `ALL`, `as_str` and parsing cannot drift apart.
macro_rules! reason_codes {
    ($($(#[$doc:meta])* $variant:ident => $code:literal,)+) => {
        /// A reason for refusing a record, from the adapter (bytes) or from the quality gate.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ReasonCode {
            $($(#[$doc])* $variant,)+
        }

        impl ReasonCode {
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$variant,)+];

            /// The stable SCREAMING_SNAKE_CASE code carried by quarantined records and metrics.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ReasonCode::$variant => $code,)+
                }
            }
        }
    };
}

reason_codes! {
    /// The bytes are not a valid Avro record of the topic's contract.
    Undecodable => "UNDECODABLE",
    /// The record's framing names a schema that is not a known version of the topic's contract.
    UnknownSchema => "UNKNOWN_SCHEMA",
    /// A required field is absent or blank.
    MissingField => "MISSING_FIELD",
    /// The GTIN is not a valid EAN-13, EAN-8 or UPC-A (length, digits or check digit).
    InvalidGtin => "INVALID_GTIN",
    /// The currency is not an active ISO 4217 currency.
    UnknownCurrency => "UNKNOWN_CURRENCY",
    /// A price or cost that must be strictly positive is zero or negative.
    NonPositivePrice => "NON_POSITIVE_PRICE",
    /// A price or cost is above the configured sanity ceiling.
    PriceAboveCeiling => "PRICE_ABOVE_CEILING",
    /// A shipping price or levy amount is negative.
    NegativeAmount => "NEGATIVE_AMOUNT",
    /// A stock or incoming quantity is negative.
    NegativeStock => "NEGATIVE_STOCK",
    /// A count, duration or dimension is outside its possible domain.
    OutOfRange => "OUT_OF_RANGE",
    /// The VAT rate is not one of the legal rates of the configured country.
    IllegalVatRate => "ILLEGAL_VAT_RATE",
    /// The observation time is later than now plus the tolerated clock skew.
    ObservedInFuture => "OBSERVED_IN_FUTURE",
    /// The observation is older than the configured maximum age for its kind of record.
    ObservationTooOld => "OBSERVATION_TOO_OLD",
    /// The lowest landed price is not the lowest listing price plus its shipping.
    LandedPriceMismatch => "LANDED_PRICE_MISMATCH",
    /// The buy box price is below the lowest competing price while we do not own the buy box.
    BuyBoxBelowLowest => "BUY_BOX_BELOW_LOWEST",
    /// The offer count contradicts the prices (negative, or zero while a price exists).
    OfferCountInconsistent => "OFFER_COUNT_INCONSISTENT",
    /// A cost's validity period ends before it starts.
    InvalidValidityRange => "INVALID_VALIDITY_RANGE",
    /// A cost was observed outside its own validity period.
    CostOutsideValidity => "COST_OUTSIDE_VALIDITY",
    /// The channel key is not one of the hub's channels.
    UnknownChannel => "UNKNOWN_CHANNEL",
    /// The category key is not one of the hub's categories.
    UnknownCategory => "UNKNOWN_CATEGORY",
    /// A price moved against the last accepted value by more than the configured ratio.
    PriceJump => "PRICE_JUMP",
    /// The offer carries a zero price, which marketplaces send for placeholder or inactive offers.
    PlaceholderOffer => "PLACEHOLDER_OFFER",
    /// A supplier row could not be mapped to a contract record with its mapping file.
    MappingFailed => "MAPPING_FAILED",
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown quarantine reason code {0:?}: see docs/quarantine-reasons.md for the closed list")]
pub struct UnknownReasonCode(pub String);

impl FromStr for ReasonCode {
    type Err = UnknownReasonCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        ReasonCode::ALL
            .iter()
            .copied()
            .find(|reason| reason.as_str() == code)
            .ok_or_else(|| UnknownReasonCode(code.to_owned()))
    }
}

/// A refusal: the reason code and a human detail naming the record, the field, the value
/// and the rule. The adapter that holds the original bytes turns it into a
/// [`QuarantinedRecord`] with [`Quarantine::into_record`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail} (how to fix and replay: docs/quarantine-reasons.md)")]
pub struct Quarantine {
    pub reason: ReasonCode,
    pub detail: String,
}

impl Quarantine {
    pub fn new(reason: ReasonCode, detail: impl Into<String>) -> Self {
        Quarantine {
            reason,
            detail: detail.into(),
        }
    }

    /// Builds the `hub.quarantine` record. `raw` must be the bytes exactly as received so the
    /// record can be replayed to its original topic once the cause is fixed.
    pub fn into_record(
        self,
        raw: Vec<u8>,
        gtin: Option<String>,
        provenance: Provenance,
        quarantined_at: EpochMillis,
    ) -> QuarantinedRecord {
        QuarantinedRecord {
            source: provenance.source,
            record_type: provenance.record_type.as_str().to_owned(),
            original_topic: provenance.original_topic,
            original_partition: provenance.original_partition,
            original_offset: provenance.original_offset,
            key: provenance.key,
            raw,
            gtin,
            reason_code: self.reason.as_str().to_owned(),
            detail: self.detail,
            observed_at: quarantined_at,
        }
    }
}

/// The kind of contract record that was refused, as the `record_type` column spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    ProductReference,
    OfferSignal,
    StockSignal,
    CostSignal,
    /// The bytes could not be decoded far enough to tell.
    Unknown,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::ProductReference => "product_reference",
            RecordType::OfferSignal => "offer_signal",
            RecordType::StockSignal => "stock_signal",
            RecordType::CostSignal => "cost_signal",
            RecordType::Unknown => "unknown",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a refused record came from, so it can be found and replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// Connector or topic the record came from.
    pub source: String,
    pub record_type: RecordType,
    pub original_topic: Option<String>,
    pub original_partition: Option<i32>,
    pub original_offset: Option<i64>,
    pub key: Option<Vec<u8>>,
}

impl Provenance {
    /// Provenance of a record produced by a connector, before it reached any topic.
    pub fn from_connector(source: impl Into<String>, record_type: RecordType) -> Self {
        Provenance {
            source: source.into(),
            record_type,
            original_topic: None,
            original_partition: None,
            original_offset: None,
            key: None,
        }
    }

    /// Provenance of a record consumed from a Kafka topic.
    pub fn from_topic(
        topic: impl Into<String>,
        record_type: RecordType,
        partition: i32,
        offset: i64,
        key: Option<Vec<u8>>,
    ) -> Self {
        let topic = topic.into();
        Provenance {
            source: topic.clone(),
            record_type,
            original_topic: Some(topic),
            original_partition: Some(partition),
            original_offset: Some(offset),
            key,
        }
    }
}

/// Whether `value` is its own `{:?}` escape between the quotes: printable ASCII other than
/// `"` and `\\`. Details quote the values they name as `{:?}` does, and nearly every value is
/// plain, so the quotes are written around it without the formatting machinery. Tested eight
/// bytes at a time: one refusal quotes three or four values.
pub(crate) fn is_own_debug_escape(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut words = bytes.chunks_exact(WORD_BYTES);
    let rest = words.remainder();
    let words_plain = words.all(|word| is_plain_word(read_word(word)));
    if !words_plain {
        return false;
    }
    if bytes.len() >= WORD_BYTES {
        // The last eight bytes, overlapping words already tested: the test is per byte.
        return rest.is_empty() || is_plain_word(read_word(&bytes[bytes.len() - WORD_BYTES..]));
    }
    rest.iter().all(|&byte| is_plain_byte(byte))
}

fn is_plain_byte(byte: u8) -> bool {
    matches!(byte, b' '..=b'~') && byte != b'"' && byte != b'\\'
}

/// [`is_plain_byte`] of each byte of `word`. Each term below sets a byte's high bit when some
/// byte of the word is in its class (it may set others above that byte through a borrow or a
/// carry, which only ever follows a byte in the class): below a space (for the bytes below
/// 0x80, the others being caught by the next term), above `~`, a `"`, a `\`.
fn is_plain_word(word: u64) -> bool {
    let high_bits = splat(0x80);
    let below_space = word.wrapping_sub(splat(b' ')) & !word;
    let above_tilde = word.wrapping_add(splat(0x7f - b'~')) | word;
    let has_zero_byte = |word: u64| word.wrapping_sub(splat(1)) & !word;
    let quote = has_zero_byte(word ^ splat(b'"'));
    let backslash = has_zero_byte(word ^ splat(b'\\'));
    (below_space | above_tilde | quote | backslash) & high_bits == 0
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn a_value_is_its_own_escape_when_each_byte_is_plain(
            value in prop_oneof![
                "[ -~]{0,40}",
                "[ -~\\x00-\\x1f\\x7f\\u{80}-\\u{10ffff}]{0,40}",
                any::<String>(),
            ]
        ) {
            if is_own_debug_escape(&value) {
                prop_assert_eq!(format!("{value:?}"), format!("\"{value}\""));
            }
            prop_assert_eq!(
                is_own_debug_escape(&value),
                value.bytes().all(is_plain_byte)
            );
        }

        #[test]
        fn a_word_is_plain_when_each_byte_is(word in any::<[u8; WORD_BYTES]>(), bytes in any::<[u8; WORD_BYTES]>(), mask in any::<u8>()) {
            prop_assert_eq!(
                is_plain_word(u64::from_le_bytes(word)),
                word.iter().all(|&byte| is_plain_byte(byte))
            );
            // Mostly plain words with a few bytes of any value, where borrows and carries
            // between neighbours matter.
            let mixed: [u8; WORD_BYTES] = std::array::from_fn(|index| {
                if mask & (1 << index) == 0 { b'a' + (bytes[index] % 26) } else { bytes[index] }
            });
            prop_assert_eq!(
                is_plain_word(u64::from_le_bytes(mixed)),
                mixed.iter().all(|&byte| is_plain_byte(byte))
            );
        }
    }

    const REASONS_DOC: &str = include_str!("../../../docs/quarantine-reasons.md");

    #[test]
    fn codes_are_unique_screaming_snake_case_and_round_trip() {
        for (index, reason) in ReasonCode::ALL.iter().enumerate() {
            let code = reason.as_str();
            assert!(
                code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{code} is not SCREAMING_SNAKE_CASE"
            );
            assert_eq!(code.parse::<ReasonCode>(), Ok(*reason));
            assert_eq!(reason.to_string(), code);
            assert!(
                ReasonCode::ALL[index + 1..]
                    .iter()
                    .all(|other| other.as_str() != code),
                "{code} is listed twice"
            );
        }
    }

    #[test]
    fn unknown_codes_are_refused_by_name() {
        let error = "GTIN_CHECK_DIGIT".parse::<ReasonCode>().unwrap_err();
        assert!(error.to_string().contains("\"GTIN_CHECK_DIGIT\""));
        assert!("invalid_gtin".parse::<ReasonCode>().is_err());
    }

    #[test]
    fn every_code_is_documented_and_the_doc_lists_no_other() {
        let documented: Vec<&str> = REASONS_DOC
            .lines()
            .filter_map(|line| line.strip_prefix("## "))
            .map(str::trim)
            .collect();
        let codes: Vec<&str> = ReasonCode::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            documented, codes,
            "docs/quarantine-reasons.md headings must match ReasonCode::ALL in order"
        );
    }

    #[test]
    fn into_record_keeps_raw_bytes_and_provenance() {
        let quarantine = Quarantine::new(ReasonCode::PriceJump, "our_price_incl_vat 1.99 vs 199");
        let record = quarantine.into_record(
            vec![0, 1, 2, 255],
            Some("3760123456784".to_owned()),
            Provenance::from_topic(
                "hub.signals.offers",
                RecordType::OfferSignal,
                3,
                42,
                Some(b"3760123456784".to_vec()),
            ),
            1_700_000_000_000,
        );
        assert_eq!(record.raw, vec![0, 1, 2, 255]);
        assert_eq!(record.reason_code, "PRICE_JUMP");
        assert_eq!(record.record_type, "offer_signal");
        assert_eq!(record.source, "hub.signals.offers");
        assert_eq!(record.original_topic.as_deref(), Some("hub.signals.offers"));
        assert_eq!(record.original_partition, Some(3));
        assert_eq!(record.original_offset, Some(42));
        assert_eq!(record.key.as_deref(), Some(&b"3760123456784"[..]));
        assert_eq!(record.gtin.as_deref(), Some("3760123456784"));
        assert_eq!(record.detail, "our_price_incl_vat 1.99 vs 199");
        assert_eq!(record.observed_at, 1_700_000_000_000);
    }

    #[test]
    fn connector_provenance_has_no_topic_coordinates() {
        let record = Quarantine::new(ReasonCode::MappingFailed, "row 3").into_record(
            b"a;b".to_vec(),
            None,
            Provenance::from_connector("supplier.acme.csv", RecordType::CostSignal),
            5,
        );
        assert_eq!(record.source, "supplier.acme.csv");
        assert_eq!(record.original_topic, None);
        assert_eq!(record.original_offset, None);
        assert_eq!(record.record_type, "cost_signal");
    }
}
