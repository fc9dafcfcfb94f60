//! From Mirakl payloads to offer signals, pure. One OF21 page gives our offers; one P11
//! answer for their EANs gives every shop's offers on those products. Each of our offers
//! becomes one [`OfferSignal`] for channel `mirakl`: our price and shipping from OF21 (an
//! inactive offer keeps its price and is counted, as the contract's count includes our
//! listing, but is never featured), and
//! from P11 the cheapest comparable competing offer (same condition and currency as ours;
//! not ours), the number of offers on the page, and the featured offer: Mirakl front
//! offices feature the cheapest offer, so the "buy box" is the lowest total price, ours
//! included. P11's known placeholders (inactive offers listed with the active ones, offers
//! at a zero price) are quarantined with [`ReasonCode::PlaceholderOffer`], never compared.

use std::collections::HashMap;

use hub_core::channel::Channel;
use hub_core::gtin::normalise_gtin;
use hub_core::reason::ReasonCode;
use hub_schemas::records::OfferSignal;
use rust_decimal::Decimal;
use serde_json::value::RawValue;

use super::payload::{OffersPage, OwnOffer, ProductOffers, ProductsOffers, ShopOffer, eans};
use crate::sourced::{Origin, SignalRecord, Sourced};

/// How our own offers are recognised among P11's: by shop id when P11 gives it, else by
/// shop name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OurShop {
    pub shop_id: Option<i64>,
    pub shop_name: Option<String>,
}

impl OurShop {
    fn owns(&self, offer: &ShopOffer) -> bool {
        match (self.shop_id, offer.shop_id) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => match (&self.shop_name, &offer.shop_name) {
                (Some(ours), Some(theirs)) => ours.trim() == theirs.trim(),
                _ => false,
            },
        }
    }
}

/// One of our offers with its GTIN-13, currency and price checked.
#[derive(Debug)]
pub struct ListedOffer {
    pub gtin: String,
    pub currency: String,
    /// Our price: an offer of ours without one is not OF21's answer (Mirakl refuses to
    /// create an offer without a price), so it is quarantined rather than published unpriced.
    pub price: Decimal,
    pub offer: OwnOffer,
}

/// An OF21 page, read element by element.
#[derive(Debug)]
pub struct OwnPage {
    /// Elements on the page, readable or not: how far the offset moves.
    pub elements: u64,
    /// All of our offers; `None` when the page itself could not be read.
    pub total_count: Option<u64>,
    pub offers: Vec<ListedOffer>,
    pub rejected: Vec<Sourced>,
    pub origin: Origin,
}

impl OwnPage {
    /// The GTINs to ask P11 about, each once, in page order.
    pub fn gtins(&self) -> Vec<&str> {
        let mut gtins: Vec<&str> = Vec::with_capacity(self.offers.len());
        for listed in &self.offers {
            if !gtins.contains(&listed.gtin.as_str()) {
                gtins.push(&listed.gtin);
            }
        }
        gtins
    }
}

fn rejected(reason: ReasonCode, detail: String, raw: &[u8], origin: &Origin) -> Sourced {
    Sourced::Rejected {
        reason,
        detail,
        raw: raw.to_vec(),
        origin: origin.clone(),
    }
}

/// Reads an OF21 answer. A body that is not an OF21 page is one rejected element (the
/// whole body); an offer that cannot be read, has no valid EAN or no currency is rejected
/// alone.
pub fn read_own_offers(body: &[u8], origin: Origin) -> OwnPage {
    let page: OffersPage = match serde_json::from_slice(body) {
        Ok(page) => page,
        Err(error) => {
            return OwnPage {
                elements: 0,
                total_count: None,
                offers: Vec::new(),
                rejected: vec![rejected(
                    ReasonCode::Undecodable,
                    format!("OF21 answer is not a page of offers: {error}"),
                    body,
                    &origin,
                )],
                origin,
            };
        }
    };
    let mut offers = Vec::with_capacity(page.offers.len());
    let mut rejections = Vec::new();
    for raw in &page.offers {
        match read_own_offer(raw) {
            Ok(listed) => offers.push(listed),
            Err((reason, detail)) => {
                rejections.push(rejected(reason, detail, raw.get().as_bytes(), &origin));
            }
        }
    }
    OwnPage {
        elements: page.offers.len() as u64,
        total_count: Some(page.total_count),
        offers,
        rejected: rejections,
        origin,
    }
}

fn read_own_offer(raw: &RawValue) -> Result<ListedOffer, (ReasonCode, String)> {
    let offer: OwnOffer = serde_json::from_str(raw.get())
        .map_err(|error| (ReasonCode::Undecodable, format!("OF21 offer: {error}")))?;
    let name = describe_own(&offer);
    let ean = eans(&offer.product_references).next().ok_or_else(|| {
        (
            ReasonCode::MissingField,
            format!("{name} has no EAN among its product_references"),
        )
    })?;
    let gtin = normalise_gtin(ean)
        .map_err(|error| (ReasonCode::InvalidGtin, format!("{name}: {error}")))?;
    let currency = offer
        .currency_iso_code
        .as_deref()
        .map(str::trim)
        .filter(|currency| !currency.is_empty())
        .ok_or_else(|| {
            (
                ReasonCode::MissingField,
                format!("{name} has no currency_iso_code"),
            )
        })?
        .to_owned();
    let price = offer
        .price
        .ok_or_else(|| (ReasonCode::MissingField, format!("{name} has no price")))?;
    Ok(ListedOffer {
        gtin,
        currency,
        price,
        offer,
    })
}

fn describe_own(offer: &OwnOffer) -> String {
    match (&offer.shop_sku, offer.offer_id) {
        (Some(sku), _) => format!("our offer shop_sku {sku:?}"),
        (None, Some(id)) => format!("our offer {id}"),
        (None, None) => "our offer (no shop_sku nor offer_id)".to_owned(),
    }
}

fn describe_shop_offer(offer: &ShopOffer, gtin: &str) -> String {
    let shop = offer
        .shop_name
        .as_deref()
        .map(str::to_owned)
        .or(offer.shop_id.map(|id| id.to_string()))
        .unwrap_or_else(|| "an unnamed shop".to_owned());
    match offer.offer_id {
        Some(id) => format!("offer {id} of {shop} on EAN {gtin}"),
        None => format!("offer of {shop} on EAN {gtin}"),
    }
}

/// A competitor's offer that can be compared: active, priced, not ours.
#[derive(Debug, Clone)]
struct CompetingOffer {
    price: Decimal,
    total_price: Decimal,
    shipping: Option<Decimal>,
    state_code: Option<String>,
    currency: Option<String>,
}

#[derive(Debug, Clone)]
struct ProductCompetition {
    offers: Vec<CompetingOffer>,
    /// False when an offer of the product could not be read: the cheapest may be missing,
    /// so the product's competition is unknown.
    complete: bool,
}

/// A P11 answer, read element by element.
#[derive(Debug)]
pub struct Competition {
    products: HashMap<String, ProductCompetition>,
    /// False when a product of the answer could not be read: a product missing from
    /// `products` may be that one.
    complete: bool,
    pub rejected: Vec<Sourced>,
    pub origin: Origin,
}

impl Competition {
    /// Nothing known about any product: P11 could not be read at all.
    fn unknown(rejected: Vec<Sourced>, origin: Origin) -> Self {
        Competition {
            products: HashMap::new(),
            complete: false,
            rejected,
            origin,
        }
    }

    /// The competition on `gtin`: `None` when unknown, empty when nobody else sells it.
    fn on(&self, gtin: &str) -> Option<&[CompetingOffer]> {
        match self.products.get(gtin) {
            Some(product) if product.complete => Some(&product.offers),
            Some(_) => None,
            None if self.complete => Some(&[]),
            None => None,
        }
    }
}

/// Reads a P11 answer. Our own offers are left out (OF21 gives them); placeholders and
/// unreadable offers are rejected one by one.
pub fn read_competition(body: &[u8], origin: Origin, our_shop: &OurShop) -> Competition {
    let answer: ProductsOffers = match serde_json::from_slice(body) {
        Ok(answer) => answer,
        Err(error) => {
            let rejection = rejected(
                ReasonCode::Undecodable,
                format!("P11 answer is not a list of products: {error}"),
                body,
                &origin,
            );
            return Competition::unknown(vec![rejection], origin);
        }
    };
    let mut competition = Competition {
        products: HashMap::with_capacity(answer.products.len()),
        complete: true,
        rejected: Vec::new(),
        origin,
    };
    for raw_product in &answer.products {
        let product: ProductOffers = match serde_json::from_str(raw_product.get()) {
            Ok(product) => product,
            Err(error) => {
                competition.complete = false;
                competition.rejected.push(rejected(
                    ReasonCode::Undecodable,
                    format!("P11 product: {error}"),
                    raw_product.get().as_bytes(),
                    &competition.origin,
                ));
                continue;
            }
        };
        let gtins: Vec<String> = eans(&product.product_references)
            .filter_map(|ean| normalise_gtin(ean).ok())
            .collect();
        let Some(first_gtin) = gtins.first() else {
            competition.complete = false;
            competition.rejected.push(rejected(
                ReasonCode::MissingField,
                "P11 product has no valid EAN among its product_references".to_owned(),
                raw_product.get().as_bytes(),
                &competition.origin,
            ));
            continue;
        };
        let mut product_competition = ProductCompetition {
            offers: Vec::with_capacity(product.offers.len()),
            complete: true,
        };
        for raw_offer in &product.offers {
            match read_shop_offer(raw_offer, first_gtin, our_shop) {
                Ok(Some(offer)) => product_competition.offers.push(offer),
                Ok(None) => {}
                Err((reason, detail)) => {
                    if reason != ReasonCode::PlaceholderOffer {
                        product_competition.complete = false;
                    }
                    competition.rejected.push(rejected(
                        reason,
                        detail,
                        raw_offer.get().as_bytes(),
                        &competition.origin,
                    ));
                }
            }
        }
        // A product with several EANs is the same page under each of them.
        for gtin in gtins {
            competition
                .products
                .insert(gtin, product_competition.clone());
        }
    }
    competition
}

/// `Ok(None)`: our own offer, represented by OF21.
fn read_shop_offer(
    raw: &RawValue,
    gtin: &str,
    our_shop: &OurShop,
) -> Result<Option<CompetingOffer>, (ReasonCode, String)> {
    let offer: ShopOffer = serde_json::from_str(raw.get()).map_err(|error| {
        (
            ReasonCode::Undecodable,
            format!("P11 offer on EAN {gtin}: {error}"),
        )
    })?;
    if our_shop.owns(&offer) {
        return Ok(None);
    }
    let name = describe_shop_offer(&offer, gtin);
    if offer.active == Some(false) {
        return Err((
            ReasonCode::PlaceholderOffer,
            format!("{name} is inactive but listed with the active offers"),
        ));
    }
    let missing = |field: &str| (ReasonCode::MissingField, format!("{name} has no {field}"));
    let price = offer.price.ok_or_else(|| missing("price"))?;
    let total_price = offer.total_price.ok_or_else(|| missing("total_price"))?;
    if total_price.is_zero() || price.is_zero() {
        return Err((
            ReasonCode::PlaceholderOffer,
            format!(
                "{name} has price {price} and total_price {total_price}: a zero price is a placeholder, not an offer"
            ),
        ));
    }
    if total_price.is_sign_negative() || price.is_sign_negative() {
        return Err((
            ReasonCode::NonPositivePrice,
            format!("{name} has price {price} and total_price {total_price}"),
        ));
    }
    Ok(Some(CompetingOffer {
        price,
        total_price,
        shipping: offer.min_shipping_price,
        state_code: offer.state_code,
        currency: offer.currency_iso_code,
    }))
}

/// Our offer's total price as the buyer sees it: OF21's `total_price`, else price plus the
/// minimum shipping rate.
fn our_total(listed: &ListedOffer) -> Decimal {
    let offer = &listed.offer;
    offer
        .total_price
        .unwrap_or_else(|| listed.price + offer.min_shipping_price.unwrap_or_default())
}

fn same(ours: Option<&str>, theirs: Option<&str>) -> bool {
    match (ours, theirs) {
        (Some(ours), Some(theirs)) => ours.trim().eq_ignore_ascii_case(theirs.trim()),
        // An offer that does not say is taken as comparable: Mirakl omits fields it
        // considers the operator's default.
        _ => true,
    }
}

/// One offer signal per readable offer of the page, then every rejected element of both
/// answers. `competition` is `None` when P11 was not read.
pub fn offer_signals(page: OwnPage, competition: Option<&Competition>) -> Vec<Sourced> {
    let mut sourced = Vec::with_capacity(page.offers.len() + page.rejected.len());
    for listed in &page.offers {
        let known = competition.and_then(|competition| {
            competition
                .on(&listed.gtin)
                .map(|offers| (offers, &competition.origin))
        });
        let (record, origin) = offer_signal(listed, &page.origin, known);
        sourced.push(Sourced::Signal {
            record: SignalRecord::Offer(record),
            origin,
        });
    }
    sourced.extend(page.rejected);
    if let Some(competition) = competition {
        sourced.extend(competition.rejected.iter().cloned());
    }
    sourced
}

fn offer_signal(
    listed: &ListedOffer,
    own_origin: &Origin,
    competition: Option<(&[CompetingOffer], &Origin)>,
) -> (OfferSignal, Origin) {
    let offer = &listed.offer;
    // An inactive offer (out of stock, typically) is still our listing at its price, but
    // buyers do not see it: it is never featured.
    let shown = offer.active != Some(false);
    let ours_total = shown.then(|| our_total(listed));
    let origin = competition.map_or(own_origin, |(_, origin)| origin).clone();
    let mut signal = OfferSignal {
        gtin: listed.gtin.clone(),
        channel: Channel::Mirakl.key().to_owned(),
        currency: listed.currency.clone(),
        our_price_incl_vat: Some(listed.price),
        our_shipping_incl_vat: offer.min_shipping_price,
        buy_box_price_incl_vat: None,
        we_own_buy_box: None,
        lowest_listing_price_incl_vat: None,
        lowest_shipping_incl_vat: None,
        lowest_landed_price_incl_vat: None,
        offer_count: None,
        sales_rank: None,
        marketplace_category: offer.category_code.clone(),
        source: origin.source.clone(),
        request_id: origin.request_id.clone(),
        observed_at: origin.observed_at,
    };
    if let Some((competitors, _)) = competition {
        let lowest = competitors
            .iter()
            .filter(|competitor| {
                same(Some(&listed.currency), competitor.currency.as_deref())
                    && same(
                        offer.state_code.as_deref(),
                        competitor.state_code.as_deref(),
                    )
            })
            .min_by_key(|competitor| competitor.total_price);
        signal.lowest_listing_price_incl_vat = lowest.map(|offer| offer.price);
        signal.lowest_shipping_incl_vat = lowest.and_then(|offer| offer.shipping);
        signal.lowest_landed_price_incl_vat = lowest.map(|offer| offer.total_price);
        // The contract's count includes our listing, shown to buyers or not (the quality
        // gate refuses a priced page counted empty).
        let count = competitors.len() + 1;
        signal.offer_count = Some(i32::try_from(count).unwrap_or(i32::MAX));
        let (featured, ours_featured) = match (ours_total, lowest) {
            (Some(ours), Some(theirs)) if ours <= theirs.total_price => (Some(ours), true),
            (_, Some(theirs)) => (Some(theirs.total_price), false),
            (Some(ours), None) => (Some(ours), true),
            (None, None) => (None, false),
        };
        signal.buy_box_price_incl_vat = featured;
        signal.we_own_buy_box = Some(ours_featured);
    }
    (signal, origin)
}
