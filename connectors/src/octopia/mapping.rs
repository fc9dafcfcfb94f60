//! Octopia `GET /offers` pages to offer signals for the `cdiscount` channel: our offer's
//! price and shipping, Cdiscount's best offer (its buy box) and the cheapest competing new
//! offer. The same mapping reads the incremental sync's pages (`expand=salesChannelFeedback`)
//! and the competition sweep's (`fields=`, [`super::payload::COMPETITION_FIELDS`]): both are
//! items of the one documented offer shape, the second with fewer members. Pure: bytes in,
//! [`Sourced`] out.

use hub_core::channel::Channel;
use hub_core::reason::ReasonCode;
use hub_schemas::records::OfferSignal;
use rust_decimal::Decimal;
use serde_json::value::RawValue;

use super::payload::{
    CDISCOUNT_FR_CURRENCY, CONDITION_NEW, CompetingOffer, Offer, OfferState, OffersPage,
};
use crate::sourced::{Origin, SignalRecord, Sourced};

/// The connector operation carried as each signal's `source`: the incremental sync.
pub const OFFERS_SOURCE: &str = "cdiscount.offers";
/// The same, for the competition sweep.
pub const COMPETITION_SOURCE: &str = "cdiscount.competition";

/// A page's elements, mapped, and the newest `updatedAt` read on it, in nanoseconds since
/// the epoch (the incremental cursor moves past it once the whole sync has been handed
/// over).
#[derive(Debug, Clone, PartialEq)]
pub struct MappedPage {
    pub sourced: Vec<Sourced>,
    pub newest_update: Option<i64>,
    pub items_read: usize,
}

/// Maps one `GET /offers` body. A body that is not an offers page at all (a truncated or
/// HTML answer) is one rejected element carrying the whole body: paging lives in the
/// `Link` header, so the sync goes on with the next page.
pub fn map_offers_page(body: &[u8], origin: &Origin) -> MappedPage {
    let page: OffersPage = match serde_json::from_slice(body) {
        Ok(page) => page,
        Err(error) => {
            return MappedPage {
                sourced: vec![Sourced::Rejected {
                    reason: ReasonCode::Undecodable,
                    detail: format!(
                        "Octopia GET /offers answered a body that is not an offers page: {error}"
                    ),
                    raw: body.to_vec(),
                    origin: origin.clone(),
                }],
                newest_update: None,
                items_read: 0,
            };
        }
    };
    let mut newest_update = None;
    let sourced = page
        .items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let (sourced, updated_at) = map_item(index, item, origin);
            newest_update = newest_update.max(updated_at);
            sourced
        })
        .collect();
    MappedPage {
        sourced,
        newest_update,
        items_read: page.items.len(),
    }
}

/// One item to a signal or a rejection, with its `updatedAt` when readable (a rejected
/// offer has been handled too, so the cursor passes it).
fn map_item(index: usize, item: &RawValue, origin: &Origin) -> (Sourced, Option<i64>) {
    let reject = |reason, detail: String| Sourced::Rejected {
        reason,
        detail,
        raw: item.get().as_bytes().to_vec(),
        origin: origin.clone(),
    };
    let offer: Offer = match serde_json::from_str(item.get()) {
        Ok(offer) => offer,
        Err(error) => {
            let reason = if error.to_string().starts_with("missing field") {
                ReasonCode::MissingField
            } else {
                ReasonCode::Undecodable
            };
            let detail = format!("Octopia offer item {index} of the page is not an offer: {error}");
            return (reject(reason, detail), None);
        }
    };
    let updated_at = match offer.updated_at_nanos() {
        Ok(updated_at) => updated_at,
        Err(error) => {
            let detail = format!("Octopia offer {}: updatedAt {error}", offer.offer_id);
            return (reject(ReasonCode::Undecodable, detail), None);
        }
    };
    let sourced = match offer_signal(&offer, origin) {
        Ok(signal) => Sourced::Signal {
            record: SignalRecord::Offer(signal),
            origin: origin.clone(),
        },
        Err((reason, detail)) => reject(reason, detail),
    };
    (sourced, Some(updated_at))
}

fn offer_signal(offer: &Offer, origin: &Origin) -> Result<OfferSignal, (ReasonCode, String)> {
    let named = |what: &str| format!("Octopia offer {} ({})", offer.offer_id, what);
    if offer.offer_state == OfferState::Inactive {
        return Err((
            ReasonCode::PlaceholderOffer,
            named("offerState Inactive: not for sale on Cdiscount, so it has no price to score"),
        ));
    }
    if let Some(condition) = offer.condition.as_deref()
        && condition != CONDITION_NEW
    {
        return Err((
            ReasonCode::MappingFailed,
            named(&format!(
                "condition {condition:?}: the hub compares new-condition offers only"
            )),
        ));
    }
    let gtin = offer
        .product
        .as_ref()
        .and_then(|product| product.gtin.as_deref())
        .map(str::trim)
        .filter(|gtin| !gtin.is_empty())
        .ok_or_else(|| (ReasonCode::MissingField, named("no product.gtin")))?;
    // The price the buyer sees; the integration price only when the channel reports none.
    let our_price = offer
        .facial_price
        .as_ref()
        .map(|facial| facial.price)
        .or(offer
            .integration_price
            .as_ref()
            .map(|integrated| integrated.price))
        .ok_or_else(|| {
            (
                ReasonCode::MissingField,
                named("neither facialPrice.price nor integrationPrice.price"),
            )
        })?;
    // The buyer compares landed prices with the cheapest delivery mode.
    let our_shipping = offer
        .delivery_offers
        .iter()
        .map(|delivery| delivery.shipping_price)
        .min();
    let feedback = offer.sales_channel_feedback.as_ref();
    let best_offer = feedback.and_then(|feedback| feedback.best_offer_details.as_ref());
    let competing_new: Vec<&CompetingOffer> = feedback
        .map(|feedback| {
            feedback
                .competing_offers
                .iter()
                .filter(|competing| competing.condition == CONDITION_NEW)
                .collect()
        })
        .unwrap_or_default();
    let lowest = cheapest_landed(&competing_new);
    let offer_count = feedback
        .map(|_| i32::try_from(competing_new.len() + 1))
        .transpose()
        .map_err(|_| {
            (
                ReasonCode::OutOfRange,
                named("more competing offers than an offer count holds"),
            )
        })?;
    Ok(OfferSignal {
        gtin: gtin.to_owned(),
        channel: Channel::Cdiscount.key().to_owned(),
        currency: CDISCOUNT_FR_CURRENCY.to_owned(),
        our_price_incl_vat: Some(our_price),
        our_shipping_incl_vat: our_shipping,
        buy_box_price_incl_vat: best_offer.map(|best| best.price + best.shipping_price),
        we_own_buy_box: best_offer.map(|best| best.is_best_offer),
        lowest_listing_price_incl_vat: lowest.map(|competing| competing.price),
        lowest_shipping_incl_vat: lowest.map(|competing| competing.shipping_price),
        lowest_landed_price_incl_vat: lowest
            .map(|competing| competing.price + competing.shipping_price),
        offer_count,
        sales_rank: None,
        marketplace_category: None,
        source: origin.source.clone(),
        request_id: origin.request_id.clone(),
        observed_at: origin.observed_at,
    })
}

/// The competing offer with the lowest landed price, the lower listing price on a tie.
fn cheapest_landed<'a>(competing: &[&'a CompetingOffer]) -> Option<&'a CompetingOffer> {
    competing.iter().copied().min_by_key(|offer| {
        let landed: Decimal = offer.price + offer.shipping_price;
        (landed, offer.price)
    })
}
