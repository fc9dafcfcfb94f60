//! Octopia seller API v2 payloads (Cdiscount's channel `CDISFR`), as the API writes them.
//!
//! # Confirmed from Octopia's developer portal (read 2026-11-28)
//!
//! - Token: `POST https://auth.octopia-io.net/auth/realms/maas/protocol/openid-connect/token`,
//!   form `grant_type=client_credentials&client_id=..&client_secret=..`, answering the
//!   OpenID Connect token JSON (`access_token`, `expires_in` seconds, 7200 in practice);
//!   calls carry `Authorization: Bearer <token>` and the `SellerId` header.
//! - `GET /seller/v2/offers`, "Retrieve Offers"
//!   (<https://developer.octopia-io.net/api-reference/offer-management/retrieve-offers>),
//!   table "Key States & Attributes": `salesChannelId` is required in every request;
//!   `offerId` is the composite `sellerId_product_condition_channel`;
//!   `sellerExternalReference`; the product's `gtin` and Octopia's `productReference`;
//!   `condition` (`New`, `Refurbished`, `Used`...); `offerState` `Active` or `Inactive`;
//!   the integration price is "Price integrated by seller (including taxes)" and the facial
//!   price the "Price displayed on the sales channel", which "may differ from integration
//!   price if rounded, converted"; filters `offerIds`, `sellerExternalReferences`, `gtins`,
//!   `offerStates`. The same reference (its context7 mirror) gives the two Cdiscount calls
//!   `GET /offers?salesChannelId=CDISFR&expand=salesChannelFeedback` ("currently only
//!   available on Cdiscount") and, "Retrieve Offers with Competing Data",
//!   `GET /offers?salesChannelId=CDISFR&fields=salesChannelFeedback.competingOffers`.
//! - The release note "GET /offers — fields for lightweight responses + Cdiscount
//!   salesChannelFeedback"
//!   (<https://developer.octopia-io.net/changelog/new-feature/get-offers-new-parameters-and-more-data-on-offers>,
//!   also <https://developer.octopia-io.net/?p=666>): `limit` up to 1,000; `fields` names a
//!   field (`condition`), a node (`salesChannelFeedback`) or a node's field
//!   (`facialPrice.price`), and "the API will always include these base fields: offerId,
//!   sellerExternalReference, offerState, createdAt, updatedAt"; "If parameters fields and
//!   expand are both sent, the expand parameter will be ignored"; "combine fields with
//!   updatedAtMin to fetch only offers updated after a given RFC3339 timestamp". Cdiscount
//!   only: `comments`, `offerCompetition`, `salesChannelFeedback.bestOfferDetails` ("Best
//!   offer information"), `offerQuality.scoreReasons`; other channels only:
//!   `salesChannelAcceptanceStatus`, `deliveryOffers.storageCountry`, `isBestOffer` and
//!   `BestOffer`. Its example answer, reproduced in `tests/fixtures/octopia/offers_page_light.json`,
//!   fixes the page (`{"items": [..], "itemsPerPage": n}`), the item's `salesChannelId`, an
//!   `offerId` writing the condition as Cdiscount's code (`1234_TES3499550358636_6_CDISFR`,
//!   6 = new), timestamps with seven fractional digits and an offset
//!   (`2025-05-31T02:37:26.0000000+00:00`), `"product": {"gtin": ..}` and
//!   `"integrationPrice": {"price": 19.9}` (a JSON number).
//! - "Offer feature V2", Get Offers (<https://developer.octopia-io.net/?p=1034>, "NEW –
//!   Released June 2025"): POST offer search "must not used anymore"; `salesChannelFeedback`
//!   (expand, Cdiscount) reports the real online status, the best offer ("Which offer has
//!   the best offer on the sales channel and with which price"), the offer quality
//!   (Qualiscore), the competing offers ("the data about the competitors in order to adjust
//!   your price strategy") and seller and product ratings.
//! - Delivery modes, "Delivery Modes" (<https://developer.octopia-io.net/?p=3055>): the REST
//!   APIs name them by code (`THD` TrackedHomeDelivery, `SHD` SignedHomeDelivery, `EHD`
//!   ExpressHomeDelivery, `NTHD`, and `FDHD`/`SRHD`/`WSHD` for large parcels), where the XML
//!   packages and the SOAP API said `Tracked`/`TRK`; tracked delivery is mandatory on every
//!   channel. The fixtures write these codes.
//! - Paging: the next page is linked by the `Link` header (`<url>; rel="next"`), as the
//!   public PHP clients read it (`hasNextPage`/`getNextPageUrl`).
//!
//! # Assumed: not found in any public source
//!
//! Checked: the three portal pages above (the stored copies end before their field tables
//! for the feedback), the context7 mirror, and public code (a PHP client's `getOffers`, which
//! lists `limit`, `fields`, `expand`, `offerIds`, `offerStates`, `gtins`,
//! `sellerExternalReferences`, `updatedAtMin`; a JavaScript client reading
//! `salesChannelFeedback.productInformation.productReviewsAverageRating`). None shows the
//! members inside `bestOfferDetails`, the items of `competingOffers`, `offerCompetition`,
//! or the items of `deliveryOffers`, nor the name of the online-status member. They are
//! named after what the same API writes elsewhere: `price` and `condition` as in offer
//! requests (`{"price": {"price": .., "originPrice": ..}, "condition": "New"}`, a public PHP
//! client's example), `sellerId` as the Key States table names a seller, `isBestOffer` as
//! the release note names the best-offer flag of the other channels, `isOnline` after the
//! portal's "On line offers"; `shippingPrice` and `deliveryModeCode` have no public source
//! at all. They are [`BestOfferDetails`], [`CompetingOffer`], [`DeliveryOffer`] and
//! [`SalesChannelFeedback::is_online`]. A change there is a change to this file and its
//! fixtures only. Whether a change in Cdiscount's feedback (a competitor repricing) moves
//! our offer's `updatedAt` is not documented either: see `docs/connectors.md` for how the
//! connector reads competition without relying on it.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::wire::json_decimal;

/// Octopia's sales channel id for Cdiscount.fr; its prices are in euros, VAT included.
pub const CDISCOUNT_FR: &str = "CDISFR";
pub const CDISCOUNT_FR_CURRENCY: &str = "EUR";
/// The largest page `GET /offers` serves.
pub const MAX_OFFERS_PER_PAGE: u32 = 1000;
/// `expand` value adding Cdiscount's feedback to every offer.
pub const EXPAND_FEEDBACK: &str = "salesChannelFeedback";
/// The `fields` of the competition sweep: what an offer signal is made of, and nothing else
/// (the base fields come with every item). With `fields`, Octopia ignores `expand`, so the
/// two feedback nodes are named here.
pub const COMPETITION_FIELDS: &str = "product.gtin,condition,integrationPrice.price,\
facialPrice.price,deliveryOffers,salesChannelFeedback.bestOfferDetails,\
salesChannelFeedback.competingOffers";
/// The `offerStates` filter of the sweep: an inactive offer has no competition to compare.
pub const ACTIVE: &str = "Active";
/// Octopia writes instants to the 100 ns (seven fractional digits): the step the
/// incremental cursor moves past the newest `updatedAt` it read.
pub const UPDATED_AT_RESOLUTION_NS: i64 = 100;

/// One page of `GET /offers`. Items stay raw so that one malformed item is quarantined with
/// its own bytes instead of failing the page.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OffersPage {
    #[serde(default)]
    pub items_per_page: Option<u32>,
    pub items: Vec<Box<RawValue>>,
}

/// One of our offers, as `GET /offers` returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    pub offer_id: String,
    pub seller_external_reference: String,
    pub offer_state: OfferState,
    pub updated_at: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub product: Option<OfferProduct>,
    #[serde(default)]
    pub condition: Option<String>,
    #[serde(default)]
    pub integration_price: Option<Price>,
    #[serde(default)]
    pub facial_price: Option<Price>,
    #[serde(default)]
    pub delivery_offers: Vec<DeliveryOffer>,
    #[serde(default)]
    pub sales_channel_feedback: Option<SalesChannelFeedback>,
}

impl Offer {
    /// `updatedAt` in nanoseconds since the epoch: every digit Octopia wrote counts, so that
    /// the cursor moves past the newest offer read and no further.
    pub fn updated_at_nanos(&self) -> Result<i64, String> {
        nanos_from_rfc3339(&self.updated_at)
    }
}

/// An RFC 3339 instant (`2025-05-31T02:37:26.0000000+00:00`) in nanoseconds since the epoch.
pub fn nanos_from_rfc3339(text: &str) -> Result<i64, String> {
    let instant = text
        .trim()
        .parse::<jiff::Timestamp>()
        .map_err(|error| format!("{text:?} is not an RFC 3339 timestamp ({error})"))?;
    i64::try_from(instant.as_nanosecond())
        .map_err(|_| format!("{text:?} is outside the range of 64-bit epoch nanoseconds"))
}

/// Nanoseconds since the epoch as the RFC 3339 UTC instant `updatedAtMin` takes.
pub fn rfc3339_from_nanos(nanos: i64) -> Result<String, String> {
    jiff::Timestamp::from_nanosecond(i128::from(nanos))
        .map(|instant| instant.to_string())
        .map_err(|error| format!("{nanos} ns is outside the representable time range ({error})"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum OfferState {
    Active,
    Inactive,
}

/// The product an offer is on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OfferProduct {
    #[serde(default)]
    pub gtin: Option<String>,
    /// Octopia's product id (`AUC<gtin>` for most).
    #[serde(default)]
    pub reference: Option<String>,
}

/// A price incl. taxes and the reference price it is struck through from: the integration
/// price as the seller sent it, or the facial price the buyer sees on the channel (it may
/// differ when the channel rounds or converts it).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Price {
    #[serde(deserialize_with = "json_decimal::exact")]
    pub price: Decimal,
    #[serde(default, deserialize_with = "json_decimal::option")]
    pub origin_price: Option<Decimal>,
}

/// One delivery mode of the offer (its code from <https://developer.octopia-io.net/?p=3055>,
/// `THD`...) with what the buyer pays for it; both member names are assumed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOffer {
    pub delivery_mode_code: String,
    #[serde(deserialize_with = "json_decimal::exact")]
    pub shipping_price: Decimal,
}

/// What Cdiscount reports about the offer (`expand=salesChannelFeedback`, or the nodes named
/// in `fields`). The node and its `bestOfferDetails` and `competingOffers` are documented;
/// the members inside them are assumed (see the module documentation).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SalesChannelFeedback {
    #[serde(default)]
    pub is_online: Option<bool>,
    #[serde(default)]
    pub best_offer_details: Option<BestOfferDetails>,
    #[serde(default)]
    pub competing_offers: Vec<CompetingOffer>,
}

/// The offer Cdiscount puts forward on the product page (its buy box).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BestOfferDetails {
    pub is_best_offer: bool,
    #[serde(deserialize_with = "json_decimal::exact")]
    pub price: Decimal,
    #[serde(deserialize_with = "json_decimal::exact")]
    pub shipping_price: Decimal,
}

/// Another seller's offer on the same product page.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompetingOffer {
    pub seller_id: String,
    pub condition: String,
    #[serde(deserialize_with = "json_decimal::exact")]
    pub price: Decimal,
    #[serde(deserialize_with = "json_decimal::exact")]
    pub shipping_price: Decimal,
}

/// The condition Octopia writes for new items, the only one the hub compares.
pub const CONDITION_NEW: &str = "New";

/// The `rel="next"` target of an RFC 8288 `Link` header, if any.
pub fn next_link(link_header: &str) -> Option<&str> {
    link_header.split(',').find_map(|link| {
        let (target, params) = link.split_once(';')?;
        let is_next = params.split(';').any(|param| {
            let param = param.trim();
            param.eq_ignore_ascii_case("rel=\"next\"") || param.eq_ignore_ascii_case("rel=next")
        });
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then_some(target)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_keep_the_seven_digits_octopia_writes() {
        // The release note's own `updatedAt`.
        let read = nanos_from_rfc3339("2025-05-31T02:37:26.0000000+00:00").expect("instant");
        assert_eq!(read, 1_748_659_046_000_000_000);
        let finer = nanos_from_rfc3339("2025-05-31T02:37:26.0000001+00:00").expect("instant");
        assert_eq!(finer - read, UPDATED_AT_RESOLUTION_NS);
        assert_eq!(
            rfc3339_from_nanos(finer).expect("in range"),
            "2025-05-31T02:37:26.0000001Z"
        );
        assert!(nanos_from_rfc3339("31/05/2025").is_err());
    }

    #[test]
    fn the_next_link_is_found_among_others() {
        let header = r#"<https://api.octopia-io.net/seller/v2/offers?cursor=a>; rel="self", <https://api.octopia-io.net/seller/v2/offers?cursor=b>; rel="next""#;
        assert_eq!(
            next_link(header),
            Some("https://api.octopia-io.net/seller/v2/offers?cursor=b")
        );
        assert_eq!(next_link(r#"</offers?cursor=a>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
