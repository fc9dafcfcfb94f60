//! Octopia seller API v2 payloads (Cdiscount's channel `CDISFR`), as the API writes them.
//!
//! Sources for the shapes (developer.octopia-io.net and public clients, read 2026-11-28):
//! - token: `POST https://auth.octopia-io.net/auth/realms/maas/protocol/openid-connect/token`,
//!   form `grant_type=client_credentials&client_id=..&client_secret=..`, answering the
//!   OpenID Connect token JSON (`access_token`, `expires_in` seconds, 7200 in practice);
//!   calls carry `Authorization: Bearer <token>` and the `SellerId` header.
//! - `GET /seller/v2/offers?salesChannelId=CDISFR&limit=..&updatedAtMin=..&expand=salesChannelFeedback`
//!   ("Retrieve Offers" reference page and the June 2025 release note "GET /offers — fields
//!   for lightweight responses + Cdiscount salesChannelFeedback"): limit up to 1,000; every
//!   item always carries `offerId` (`sellerId_product_condition_channel`),
//!   `sellerExternalReference`, `offerState` (`Active`/`Inactive`), `createdAt`, `updatedAt`;
//!   the release note's example item writes the product as `"product": {"gtin": ..}` and the
//!   price integrated by the seller incl. taxes as `"integrationPrice": {"price": ..}` (the
//!   same `price`/`originPrice` pair as the offer requests and as `facialPrice`, the price
//!   displayed on the channel); `deliveryOffers`; `salesChannelFeedback` (Cdiscount only)
//!   holds `isOnline`, `bestOfferDetails`, `offerQuality`, `competingOffers` and
//!   `productInformation`.
//! - pages: `{"itemsPerPage": n, "items": [...]}`, the next page linked by the `Link`
//!   header (`<url>; rel="next"`), as the public PHP and Odoo clients read it.
//! - competition: Octopia's release note makes `expand=salesChannelFeedback` the way to read
//!   the competing offers of our offers; the older `GET /competing-offers?products=..` and
//!   `GET /competing-offer-changes` are marked deprecated by the public PHP client, and no
//!   public source shows their answers, so the connector reads competition from the feedback
//!   only (incrementally: an offer's `updatedAt` moves when its feedback does).
//!
//! Not found in any public source, so chosen as the most plausible shape and isolated here:
//! the members inside `deliveryOffers`, `bestOfferDetails` and `competingOffers` (named after
//! the offer-request fields `price`/`shippingPrice`/`condition`/`sellerId` the same API
//! uses elsewhere). A change there is a change to this file and its fixtures only.

use hub_schemas::records::EpochMillis;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::wire::{epoch_millis_from_rfc3339, json_decimal};

/// Octopia's sales channel id for Cdiscount.fr; its prices are in euros, VAT included.
pub const CDISCOUNT_FR: &str = "CDISFR";
pub const CDISCOUNT_FR_CURRENCY: &str = "EUR";
/// The largest page `GET /offers` serves.
pub const MAX_OFFERS_PER_PAGE: u32 = 1000;

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
    pub fn updated_at_millis(&self) -> Result<EpochMillis, String> {
        epoch_millis_from_rfc3339(&self.updated_at)
    }
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

/// One delivery mode of the offer with what the buyer pays for it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOffer {
    pub delivery_mode_code: String,
    #[serde(deserialize_with = "json_decimal::exact")]
    pub shipping_price: Decimal,
}

/// What Cdiscount reports about the offer (`expand=salesChannelFeedback`).
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
