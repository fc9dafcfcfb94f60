//! The Amazon Selling Partner API connector: offers and buy box (getItemOffers and its
//! batch), the ANY_OFFER_CHANGED notification as the low-latency path, sales ranks and the
//! ASIN -> GTIN mapping (catalog items), fee estimates and FBA inventory.
//!
//! `payload` holds the API's documented shapes; `catalog`, `offers`, `inventory`, `fees` and
//! `notification` map them to the signal contracts without I/O, so they are tested on
//! recorded payloads (`tests/fixtures/amazon/`); `connector` is the fetch loop on the shared
//! machinery (LWA token, per-operation budgets, pagination, the notification drop).

pub mod catalog;
pub mod config;
pub mod connector;
pub mod fees;
pub mod inventory;
pub mod notification;
pub mod offers;
pub mod payload;

use hub_core::reason::{Quarantine, ReasonCode};
use hub_schemas::records::EpochMillis;

use crate::sourced::{Origin, Sourced};
use crate::wire::epoch_millis_from_rfc3339;

pub use self::config::AmazonConfig;
pub use self::connector::{AmazonConnector, LwaCredentials};

/// The connector's name in configuration, metrics and cursors.
pub const CONNECTOR: &str = "amazon";

/// The amazon.fr marketplace.
pub const MARKETPLACE_FR: &str = "A13V1IB3VIYZZH";

/// The condition the hub tracks: it sources and sells new items only.
pub const NEW_CONDITION: &str = "New";

/// `source` of every record, `<connector>.<operation>`.
pub mod sources {
    pub const GET_ITEM_OFFERS: &str = "amazon.getItemOffers";
    pub const GET_ITEM_OFFERS_BATCH: &str = "amazon.getItemOffersBatch";
    pub const ANY_OFFER_CHANGED: &str = "amazon.ANY_OFFER_CHANGED";
    pub const GET_INVENTORY_SUMMARIES: &str = "amazon.getInventorySummaries";
}

/// A marketplace the connector reads, with the currency its prices are in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marketplace {
    pub id: String,
    pub currency: String,
}

impl Marketplace {
    /// amazon.fr, in euros.
    pub fn france() -> Self {
        Marketplace {
            id: MARKETPLACE_FR.to_owned(),
            currency: "EUR".to_owned(),
        }
    }
}

/// The element `raw` could not be turned into a signal: quarantined with its bytes.
fn rejected(quarantine: Quarantine, raw: &[u8], origin: Origin) -> Sourced {
    Sourced::Rejected {
        reason: quarantine.reason,
        detail: quarantine.detail,
        raw: raw.to_vec(),
        origin,
    }
}

/// An element that is not the documented shape (or not JSON at all).
fn undecodable(what: &str, error: &serde_json::Error) -> Quarantine {
    Quarantine::new(
        ReasonCode::Undecodable,
        format!("{what} is not the documented Selling Partner API shape: {error}"),
    )
}

/// An ISO 8601 timestamp as the notifications write it (`2020-07-13T19:42:04.284Z`).
fn parse_iso_millis(field: &str, text: &str) -> Result<EpochMillis, Quarantine> {
    epoch_millis_from_rfc3339(text)
        .map_err(|error| Quarantine::new(ReasonCode::MappingFailed, format!("{field}: {error}")))
}

/// An HTTP `Date` header (`Wed, 03 Apr 2024 00:03:36 GMT`), as epoch milliseconds: when
/// Amazon answered, which is when it observed the prices it answered with.
pub fn parse_http_date_millis(text: &str) -> Option<EpochMillis> {
    jiff::fmt::rfc2822::parse(text)
        .ok()
        .map(|zoned| zoned.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_of_both_forms_are_read_to_the_millisecond() {
        assert_eq!(
            parse_iso_millis("EventTime", "2020-07-13T19:42:04.284Z"),
            Ok(1_594_669_324_284)
        );
        assert_eq!(
            parse_http_date_millis("Wed, 03 Apr 2024 00:03:36 GMT"),
            Some(1_712_102_616_000)
        );
        assert_eq!(parse_http_date_millis("yesterday"), None);
        let error = parse_iso_millis("TimeOfOfferChange", "13/07/2020").unwrap_err();
        assert_eq!(error.reason, ReasonCode::MappingFailed);
        assert!(error.detail.contains("TimeOfOfferChange: \"13/07/2020\""));
    }
}
