//! A product page's offers (getItemOffers, each getItemOffersBatch response, the
//! ANY_OFFER_CHANGED notification: the same `Summary` and `Offers` shapes) as an
//! [`OfferSignal`] on the `amazon` channel.
//!
//! - Our offer is the one flagged `MyOffer` (getItemOffers) or carrying our `SellerId` (the
//!   notification has no `MyOffer`).
//! - The lowest price is the lowest *competing* offer by landed price, as the contract
//!   means it: `Summary.LowestPrices` counts our own offer, so it is read from `Offers`,
//!   which lists the 20 lowest-landed offers of the condition, ours aside.
//! - The buy box is `Summary.BuyBoxPrices` for the condition (consumer price, no quantity
//!   tier); who holds it, from `IsBuyBoxWinner`. No featured offer means nobody holds it.
//! - The sales rank is the root category's (`*_display_on_website`, what the hub's rank
//!   curves are calibrated on); when the page lacks it (a known Amazon gap), the catalog's
//!   display-group rank. A sub-category rank alone is not comparable and is not used.
//! - Business (B2B) offers and quantity-discount tiers are not consumer prices: ignored.

use hub_core::channel::Channel;
use hub_core::reason::{Quarantine, ReasonCode};
use hub_schemas::records::OfferSignal;
use rust_decimal::Decimal;

use super::catalog::{AsinCatalog, RootRank, is_root_category};
use super::payload::{
    ApiError, GetItemOffersBatchResponse, GetOffersResponse, ItemOffersResponse, Money, Offer,
    Summary,
};
use super::{Marketplace, NEW_CONDITION, parse_http_date_millis, rejected, sources, undecodable};
use crate::sourced::{Origin, SignalRecord, Sourced};

/// One product page as a source reports it.
#[derive(Debug, Clone, Copy)]
pub struct ProductPage<'a> {
    pub asin: &'a str,
    pub item_condition: &'a str,
    pub summary: &'a Summary,
    pub offers: &'a [Offer],
    /// Our seller id, for sources that do not flag our offer with `MyOffer`.
    pub our_seller_id: Option<&'a str>,
}

impl ProductPage<'_> {
    fn is_ours(&self, offer: &Offer) -> bool {
        offer.my_offer == Some(true)
            || (self.our_seller_id.is_some() && offer.seller_id.as_deref() == self.our_seller_id)
    }
}

/// What the buyer pays for an offer: listing price plus shipping.
fn landed(offer: &Offer) -> Decimal {
    offer.listing_price.amount + offer.shipping.amount
}

fn is_consumer(offer_type: Option<&str>) -> bool {
    offer_type.is_none_or(|offer_type| offer_type.eq_ignore_ascii_case("B2C"))
}

/// Maps a page to the offer contract, or says why it cannot be.
pub fn offer_signal(
    page: &ProductPage<'_>,
    catalog: &AsinCatalog,
    marketplace: &Marketplace,
    origin: &Origin,
) -> Result<OfferSignal, Quarantine> {
    if !page.item_condition.eq_ignore_ascii_case(NEW_CONDITION) {
        return Err(Quarantine::new(
            ReasonCode::MappingFailed,
            format!(
                "ASIN {} offers for condition {:?}: the hub tracks new items only",
                page.asin, page.item_condition
            ),
        ));
    }
    let gtin = gtin_of(page.asin, catalog, marketplace)?;
    let condition = |candidate: &str| candidate.eq_ignore_ascii_case(page.item_condition);

    let ours = page
        .offers
        .iter()
        .find(|offer| page.is_ours(offer) && is_consumer(offer.offer_type.as_deref()));
    let lowest = page
        .offers
        .iter()
        .filter(|offer| !page.is_ours(offer) && is_consumer(offer.offer_type.as_deref()))
        .min_by_key(|offer| (landed(offer), offer.listing_price.amount));
    let buy_box = page.summary.buy_box_prices.iter().find(|price| {
        condition(&price.condition)
            && is_consumer(price.offer_type.as_deref())
            && price.quantity_tier.is_none()
    });

    let mut amounts: Vec<(&str, &Money)> = Vec::new();
    if let Some(ours) = ours {
        amounts.push(("our ListingPrice", &ours.listing_price));
        amounts.push(("our Shipping", &ours.shipping));
    }
    if let Some(lowest) = lowest {
        amounts.push(("lowest ListingPrice", &lowest.listing_price));
        amounts.push(("lowest Shipping", &lowest.shipping));
    }
    if let Some(buy_box) = buy_box {
        amounts.push(("BuyBoxPrices LandedPrice", &buy_box.landed_price));
    }
    if let Some((field, money)) = amounts
        .iter()
        .find(|(_, money)| money.currency_code != marketplace.currency)
    {
        return Err(Quarantine::new(
            ReasonCode::MappingFailed,
            format!(
                "ASIN {} {field} is in {}, not in marketplace {}'s currency {}",
                page.asin, money.currency_code, marketplace.id, marketplace.currency
            ),
        ));
    }

    let winner = page
        .offers
        .iter()
        .find(|offer| offer.is_buy_box_winner == Some(true));
    let we_own_buy_box = match (winner, ours) {
        (Some(winner), _) => Some(page.is_ours(winner)),
        (None, Some(ours)) if ours.is_buy_box_winner == Some(false) => Some(false),
        (None, _) if buy_box.is_none() => Some(false),
        (None, _) => None,
    };

    let rank = root_rank(page.summary).or_else(|| {
        catalog
            .get(page.asin)
            .and_then(|entry| entry.root_rank.clone())
    });

    Ok(OfferSignal {
        gtin,
        channel: Channel::Amazon.key().to_owned(),
        currency: marketplace.currency.clone(),
        our_price_incl_vat: ours.map(|offer| offer.listing_price.amount),
        our_shipping_incl_vat: ours.map(|offer| offer.shipping.amount),
        buy_box_price_incl_vat: buy_box.map(|price| price.landed_price.amount),
        we_own_buy_box,
        lowest_listing_price_incl_vat: lowest.map(|offer| offer.listing_price.amount),
        lowest_shipping_incl_vat: lowest.map(|offer| offer.shipping.amount),
        lowest_landed_price_incl_vat: lowest.map(landed),
        offer_count: offer_count(page.summary, page.item_condition),
        sales_rank: rank.as_ref().map(|rank| rank.rank),
        marketplace_category: rank.map(|rank| rank.category),
        source: origin.source.clone(),
        request_id: origin.request_id.clone(),
        observed_at: origin.observed_at,
    })
}

fn gtin_of(
    asin: &str,
    catalog: &AsinCatalog,
    marketplace: &Marketplace,
) -> Result<String, Quarantine> {
    let entry = catalog.get(asin).ok_or_else(|| {
        Quarantine::new(
            ReasonCode::MissingField,
            format!(
                "ASIN {asin} has no GTIN: searchCatalogItems did not return it for marketplace {}",
                marketplace.id
            ),
        )
    })?;
    entry.gtin.clone().ok_or_else(|| {
        Quarantine::new(
            ReasonCode::MissingField,
            format!(
                "ASIN {asin} has no GTIN: its catalog item has no EAN, GTIN or UPC in marketplace {}",
                marketplace.id
            ),
        )
    })
}

/// Offers of the condition across fulfilment channels (ours included, as the contract
/// counts them); getItemOffers' `TotalOfferCount` when the per-channel counts are absent
/// (the notification has only the counts).
fn offer_count(summary: &Summary, item_condition: &str) -> Option<i32> {
    let counts: Vec<i32> = summary
        .number_of_offers
        .iter()
        .filter(|count| count.condition.eq_ignore_ascii_case(item_condition))
        .filter_map(|count| count.offer_count)
        .collect();
    if counts.is_empty() {
        summary.total_offer_count
    } else {
        Some(counts.iter().sum())
    }
}

fn root_rank(summary: &Summary) -> Option<RootRank> {
    summary
        .sales_rankings
        .iter()
        .find(|rank| is_root_category(&rank.product_category_id))
        .map(|rank| RootRank {
            category: rank.product_category_id.clone(),
            rank: rank.rank,
        })
}

/// Statuses under which `Summary` and `Offers` describe the page; others
/// (`ActiveButTooSoonForProcessing`...) carry no prices yet, and a signal with none would
/// read as "every offer withdrawn".
fn has_offer_data(status: &str) -> bool {
    matches!(status, "Success" | "NoBuyableOffers")
}

/// Maps a getItemOffers answer (HTTP 200) to one element.
pub fn map_item_offers(
    body: &[u8],
    catalog: &AsinCatalog,
    marketplace: &Marketplace,
    origin: Origin,
) -> Sourced {
    match item_offers_signal(body, catalog, marketplace, &origin) {
        Ok(offer) => Sourced::Signal {
            record: SignalRecord::Offer(offer),
            origin,
        },
        Err(quarantine) => rejected(quarantine, body, origin),
    }
}

fn item_offers_signal(
    body: &[u8],
    catalog: &AsinCatalog,
    marketplace: &Marketplace,
    origin: &Origin,
) -> Result<OfferSignal, Quarantine> {
    let response: GetOffersResponse = serde_json::from_slice(body)
        .map_err(|error| undecodable("getItemOffers answer", &error))?;
    response_signal(&response, None, catalog, marketplace, origin)
}

/// A `GetOffersResponse`, alone (getItemOffers) or embedded in a batch, whose request named
/// `requested_asin`.
fn response_signal(
    response: &GetOffersResponse,
    requested_asin: Option<&str>,
    catalog: &AsinCatalog,
    marketplace: &Marketplace,
    origin: &Origin,
) -> Result<OfferSignal, Quarantine> {
    let Some(result) = &response.payload else {
        return Err(Quarantine::new(
            ReasonCode::MissingField,
            format!(
                "offers answer for ASIN {} has no payload (errors: {})",
                requested_asin.unwrap_or("?"),
                describe_errors(&response.errors)
            ),
        ));
    };
    let asin = result
        .asin
        .as_deref()
        .or(result.identifier.asin.as_deref())
        .or(requested_asin)
        .ok_or_else(|| {
            Quarantine::new(
                ReasonCode::MissingField,
                "offers payload names no ASIN (neither ASIN, Identifier.ASIN nor the request)",
            )
        })?;
    if result.marketplace_id != marketplace.id {
        return Err(Quarantine::new(
            ReasonCode::MappingFailed,
            format!(
                "ASIN {asin} offers are for marketplace {}, not {}",
                result.marketplace_id, marketplace.id
            ),
        ));
    }
    if !has_offer_data(&result.status) {
        return Err(Quarantine::new(
            ReasonCode::MappingFailed,
            format!(
                "ASIN {asin} status {}: Amazon has no offer data for it yet; the next poll reads it",
                result.status
            ),
        ));
    }
    offer_signal(
        &ProductPage {
            asin,
            item_condition: &result.item_condition,
            summary: &result.summary,
            offers: &result.offers,
            our_seller_id: None,
        },
        catalog,
        marketplace,
        origin,
    )
}

fn describe_errors(errors: &[ApiError]) -> String {
    if errors.is_empty() {
        return "none".to_owned();
    }
    errors
        .iter()
        .map(|error| format!("{} {}", error.code, error.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A getItemOffersBatch request Amazon could not answer now (throttled, 429, or failing,
/// 5xx): asked again, never mapped. Requests it refused (other 4xx) are rejected elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItemFailure {
    pub asin: Option<String>,
    pub status: u16,
    pub errors: Vec<ApiError>,
}

impl BatchItemFailure {
    /// What went wrong, for logs and errors.
    pub fn describe(&self) -> String {
        format!(
            "ASIN {} answered HTTP {} ({})",
            self.asin.as_deref().unwrap_or("?"),
            self.status,
            describe_errors(&self.errors)
        )
    }
}

/// A getItemOffersBatch answer, mapped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchOutcome {
    pub sourced: Vec<Sourced>,
    pub failed: Vec<BatchItemFailure>,
}

/// Maps a getItemOffersBatch answer: each embedded response is one element, with its own
/// request id and `Date` (falling back to the batch call's).
pub fn map_item_offers_batch(
    body: &[u8],
    catalog: &AsinCatalog,
    marketplace: &Marketplace,
    origin: &Origin,
) -> BatchOutcome {
    let batch: GetItemOffersBatchResponse = match serde_json::from_slice(body) {
        Ok(batch) => batch,
        Err(error) => {
            let quarantine = undecodable("getItemOffersBatch answer", &error);
            return BatchOutcome {
                sourced: vec![rejected(quarantine, body, origin.clone())],
                failed: Vec::new(),
            };
        }
    };
    let mut outcome = BatchOutcome::default();
    for raw in &batch.responses {
        let raw_bytes = raw.get().as_bytes();
        let response: ItemOffersResponse = match serde_json::from_str(raw.get()) {
            Ok(response) => response,
            Err(error) => {
                let quarantine = undecodable("getItemOffersBatch response", &error);
                outcome
                    .sourced
                    .push(rejected(quarantine, raw_bytes, origin.clone()));
                continue;
            }
        };
        let status = response
            .status
            .as_ref()
            .map_or(200, |line| line.status_code);
        if status == 429 || status >= 500 {
            outcome.failed.push(BatchItemFailure {
                asin: response.request.asin.clone(),
                status,
                errors: response.body.errors.clone(),
            });
            continue;
        }
        if !(200..300).contains(&status) {
            let quarantine = Quarantine::new(
                ReasonCode::MappingFailed,
                format!(
                    "getItemOffersBatch refused ASIN {} with HTTP {status} ({})",
                    response.request.asin.as_deref().unwrap_or("?"),
                    describe_errors(&response.body.errors)
                ),
            );
            outcome
                .sourced
                .push(rejected(quarantine, raw_bytes, origin.clone()));
            continue;
        }
        let item_origin = Origin {
            source: sources::GET_ITEM_OFFERS_BATCH.to_owned(),
            request_id: response
                .headers
                .get("x-amzn-RequestId")
                .cloned()
                .or_else(|| origin.request_id.clone()),
            observed_at: response
                .headers
                .get("Date")
                .and_then(|date| parse_http_date_millis(date))
                .unwrap_or(origin.observed_at),
        };
        let signal = response_signal(
            &response.body,
            response.request.asin.as_deref(),
            catalog,
            marketplace,
            &item_origin,
        );
        outcome.sourced.push(match signal {
            Ok(offer) => Sourced::Signal {
                record: SignalRecord::Offer(offer),
                origin: item_origin,
            },
            Err(quarantine) => rejected(quarantine, raw_bytes, item_origin),
        });
    }
    outcome
}
