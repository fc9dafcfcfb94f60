//! Mirakl seller API payloads, as documented: OF21 (`GET /api/offers`, the shop's own
//! offers) and P11 (`GET /api/products/offers`, every shop's offers on given products).
//! Only the fields the mapping reads are declared; Mirakl adds fields over time and serde
//! ignores the others. Amounts are JSON numbers, read from their text so no digit is lost.
//! Page and product elements stay raw until each is read on its own, so one malformed
//! element is quarantined without losing its neighbours.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::wire::json_decimal;

/// OF21 answer: one page of the shop's offers and the count of all of them.
#[derive(Debug, Deserialize)]
pub struct OffersPage {
    pub offers: Vec<Box<RawValue>>,
    pub total_count: u64,
}

/// `product_references[]` of an offer or product: `{"reference_type": "EAN", "reference": "..."}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ProductReferenceId {
    pub reference_type: String,
    pub reference: String,
}

/// One of our offers, as OF21 lists it.
#[derive(Debug, Deserialize)]
pub struct OwnOffer {
    pub offer_id: Option<i64>,
    pub shop_sku: Option<String>,
    #[serde(default)]
    pub product_references: Vec<ProductReferenceId>,
    /// The price the buyer pays for the item, discounts applied.
    #[serde(default, deserialize_with = "json_decimal::option")]
    pub price: Option<Decimal>,
    /// `price` plus the minimum shipping rate.
    #[serde(default, deserialize_with = "json_decimal::option")]
    pub total_price: Option<Decimal>,
    #[serde(default, deserialize_with = "json_decimal::option")]
    pub min_shipping_price: Option<Decimal>,
    pub quantity: Option<i64>,
    /// Whether the offer is shown to buyers; `inactivity_reasons` says why not.
    pub active: Option<bool>,
    /// The offer's condition (`11` is new on most operators).
    pub state_code: Option<String>,
    pub currency_iso_code: Option<String>,
    pub category_code: Option<String>,
}

/// P11 answer: the products asked for that exist, each with its offers.
#[derive(Debug, Deserialize)]
pub struct ProductsOffers {
    pub products: Vec<Box<RawValue>>,
}

/// One product of a P11 answer.
#[derive(Debug, Deserialize)]
pub struct ProductOffers {
    #[serde(default)]
    pub product_references: Vec<ProductReferenceId>,
    /// Always written, empty when no shop offers the product: a product without it cannot
    /// tell "no competitor" from a broken answer, so it is not read.
    pub offers: Vec<Box<RawValue>>,
}

/// One shop's offer on a product, as P11 lists it. Operators do not all return the shop id,
/// so our own offers are recognised by id or by shop name.
#[derive(Debug, Deserialize)]
pub struct ShopOffer {
    pub offer_id: Option<i64>,
    pub shop_id: Option<i64>,
    pub shop_name: Option<String>,
    #[serde(default, deserialize_with = "json_decimal::option")]
    pub price: Option<Decimal>,
    #[serde(default, deserialize_with = "json_decimal::option")]
    pub total_price: Option<Decimal>,
    #[serde(default, deserialize_with = "json_decimal::option")]
    pub min_shipping_price: Option<Decimal>,
    pub active: Option<bool>,
    pub state_code: Option<String>,
    pub currency_iso_code: Option<String>,
}

/// The EANs among product references (`EAN` as Mirakl spells it, any case).
pub fn eans(references: &[ProductReferenceId]) -> impl Iterator<Item = &str> {
    references
        .iter()
        .filter(|reference| reference.reference_type.eq_ignore_ascii_case("EAN"))
        .map(|reference| reference.reference.as_str())
}
