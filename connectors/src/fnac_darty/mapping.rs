//! Fnac Darty responses to offer signals for the `fnac_darty` channel: our offers from
//! `offers_query`, joined by EAN with the best competing new offers from `pricing_query`.
//! `offers_query` names our offers by SKU only, so the EAN comes from our own catalogue
//! (the SKU -> GTIN index of the hub's product references). Pure: text in, [`Sourced`] out.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use hub_core::channel::Channel;
use hub_core::reason::ReasonCode;
use hub_schemas::records::OfferSignal;
use rust_decimal::Decimal;

use super::payload::{
    ApiError, AuthResponse, CURRENCY, Offer, OffersQueryResponse, Pricing, PricingProduct,
    PricingQueryResponse, STATE_NEW, top_level_elements,
};
use crate::machinery::{IssuedToken, Secret};
use crate::sourced::{Origin, SignalRecord, Sourced};
use crate::wire::{decimal_from_text, epoch_millis_from_rfc3339};

pub const OFFERS_SOURCE: &str = "fnac_darty.offers_query";
pub const PRICING_SOURCE: &str = "fnac_darty.pricing_query";

/// A response the connector cannot read at all, or one the API marks as refused: the call
/// is retried once with a fresh token, then the sync stops with this error.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    #[error(
        "Fnac Darty {service} answered a body that is not its XML response ({detail}); first bytes: {preview:?}. Retry; if it persists the API changed"
    )]
    NotTheResponse {
        service: &'static str,
        detail: String,
        preview: String,
    },
    #[error(
        "Fnac Darty {service} refused the call with status {status}: {errors}. A token error is retried after a new auth; otherwise check the credentials and the request"
    )]
    Refused {
        service: &'static str,
        status: String,
        errors: String,
    },
}

fn not_the_response(service: &'static str, xml: &str, detail: impl ToString) -> ResponseError {
    ResponseError::NotTheResponse {
        service,
        detail: detail.to_string(),
        preview: xml.chars().take(200).collect(),
    }
}

fn refused_unless_ok(
    service: &'static str,
    status: &str,
    errors: &[ApiError],
) -> Result<(), ResponseError> {
    if status == "OK" {
        return Ok(());
    }
    Err(ResponseError::Refused {
        service,
        status: status.to_owned(),
        errors: errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// The session token of an `auth_response` and when it stops being accepted (`validity`).
pub fn read_auth(xml: &str) -> Result<IssuedToken, ResponseError> {
    const SERVICE: &str = "auth";
    let response: AuthResponse =
        quick_xml::de::from_str(xml).map_err(|error| not_the_response(SERVICE, xml, error))?;
    refused_unless_ok(SERVICE, &response.status, &response.error)?;
    let token = response
        .token
        .filter(|token| !token.trim().is_empty())
        .ok_or_else(|| not_the_response(SERVICE, xml, "status OK without a token"))?;
    let valid_until = response
        .validity
        .as_deref()
        .ok_or_else(|| not_the_response(SERVICE, xml, "status OK without a validity"))
        .and_then(|validity| {
            epoch_millis_from_rfc3339(validity)
                .map_err(|error| not_the_response(SERVICE, xml, error))
        })?;
    let valid_until = u64::try_from(valid_until)
        .map_err(|_| not_the_response(SERVICE, xml, "a validity before 1970"))?;
    Ok(IssuedToken {
        token: Secret::new(token.trim()),
        expires_at: UNIX_EPOCH + Duration::from_millis(valid_until),
    })
}

/// Our offer on Fnac Darty, resolved to its GTIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnOffer {
    pub gtin: String,
    pub sku: String,
    pub price: Decimal,
}

/// One `offers_query_response` page.
#[derive(Debug, Clone, PartialEq)]
pub struct OffersPage {
    pub page: u32,
    pub total_paging: u32,
    /// `nb_total_result`: how many offers the query's window holds, when the API says.
    pub total_results: Option<u32>,
    pub offers: Vec<OwnOffer>,
    pub rejected: Vec<Sourced>,
}

/// Reads an `offers_query_response`: each `offer` becomes an [`OwnOffer`] or a rejection
/// with its own bytes. `gtin_by_sku` is our catalogue's SKU -> GTIN index.
pub fn read_offers_page(
    xml: &str,
    gtin_by_sku: &HashMap<String, String>,
    origin: &Origin,
) -> Result<OffersPage, ResponseError> {
    const SERVICE: &str = "offers_query";
    let header: OffersQueryResponse =
        quick_xml::de::from_str(xml).map_err(|error| not_the_response(SERVICE, xml, error))?;
    refused_unless_ok(SERVICE, &header.status, &header.error)?;
    let elements =
        top_level_elements(xml, "offer").map_err(|error| not_the_response(SERVICE, xml, error))?;
    let mut offers = Vec::with_capacity(elements.len());
    let mut rejected = Vec::new();
    for raw in elements {
        match own_offer(raw, gtin_by_sku) {
            Ok(offer) => offers.push(offer),
            Err((reason, detail)) => rejected.push(Sourced::Rejected {
                reason,
                detail,
                raw: raw.as_bytes().to_vec(),
                origin: origin.clone(),
            }),
        }
    }
    Ok(OffersPage {
        // A response without paging elements is the whole answer on one page.
        page: header.page.unwrap_or(1),
        total_paging: header.total_paging.unwrap_or(1),
        total_results: header.nb_total_result,
        offers,
        rejected,
    })
}

fn own_offer(
    raw: &str,
    gtin_by_sku: &HashMap<String, String>,
) -> Result<OwnOffer, (ReasonCode, String)> {
    let offer: Offer = quick_xml::de::from_str(raw).map_err(|error| {
        let reason = if error.to_string().contains("missing field") {
            ReasonCode::MissingField
        } else {
            ReasonCode::Undecodable
        };
        (reason, format!("Fnac Darty offer is not readable: {error}"))
    })?;
    let named = |what: String| {
        format!(
            "Fnac Darty offer {} (SKU {:?}): {what}",
            offer.offer_fnac_id, offer.offer_seller_id
        )
    };
    let state = offer.product_state.trim();
    if state != STATE_NEW {
        return Err((
            ReasonCode::MappingFailed,
            named(format!(
                "product_state {state}: the hub compares new-condition (11) offers only"
            )),
        ));
    }
    let sku = offer.offer_seller_id.trim();
    let gtin = gtin_by_sku.get(sku).ok_or_else(|| {
        (
            ReasonCode::MissingField,
            named("no GTIN: the SKU is not in the hub's product references".to_owned()),
        )
    })?;
    let price = decimal_from_text(&offer.price)
        .map_err(|error| (ReasonCode::Undecodable, named(format!("price {error}"))))?;
    Ok(OwnOffer {
        gtin: gtin.clone(),
        sku: sku.to_owned(),
        price,
    })
}

/// The cheapest competing new offer on a product page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BestCompetitor {
    pub price: Decimal,
    pub shipping: Decimal,
}

/// One `pricing_query_response`: the best competing new offer per EAN (`None` when Fnac
/// has no new offer or does not know the product), and the pricing products it could not read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PricingRead {
    pub best_by_ean: HashMap<String, Option<BestCompetitor>>,
    pub rejected: Vec<Sourced>,
}

pub fn read_pricing(xml: &str, origin: &Origin) -> Result<PricingRead, ResponseError> {
    const SERVICE: &str = "pricing_query";
    let header: PricingQueryResponse =
        quick_xml::de::from_str(xml).map_err(|error| not_the_response(SERVICE, xml, error))?;
    refused_unless_ok(SERVICE, &header.status, &header.error)?;
    let elements = top_level_elements(xml, "pricing_product")
        .map_err(|error| not_the_response(SERVICE, xml, error))?;
    let mut read = PricingRead::default();
    for raw in elements {
        match best_competitor(raw) {
            Ok((ean, best)) => {
                read.best_by_ean.insert(ean, best);
            }
            Err((reason, detail)) => read.rejected.push(Sourced::Rejected {
                reason,
                detail,
                raw: raw.as_bytes().to_vec(),
                origin: origin.clone(),
            }),
        }
    }
    Ok(read)
}

fn best_competitor(raw: &str) -> Result<(String, Option<BestCompetitor>), (ReasonCode, String)> {
    let product: PricingProduct = quick_xml::de::from_str(raw).map_err(|error| {
        (
            ReasonCode::Undecodable,
            format!("Fnac Darty pricing_product is not readable: {error}"),
        )
    })?;
    let ean = product
        .product_reference
        .value
        .as_deref()
        .map(str::trim)
        .filter(|ean| !ean.is_empty())
        .ok_or_else(|| {
            (
                ReasonCode::MissingField,
                "Fnac Darty pricing_product without a product_reference value".to_owned(),
            )
        })?
        .to_owned();
    // ERR_120 "Product not found" / "No prices found": nobody else sells it new.
    if product.error.is_some() {
        return Ok((ean, None));
    }
    let mut best: Option<BestCompetitor> = None;
    for pricing in product.pricing.iter().filter(|pricing| is_new(pricing)) {
        let candidate = competitor(pricing).map_err(|detail| {
            (
                ReasonCode::Undecodable,
                format!("Fnac Darty pricing for EAN {ean}: {detail}"),
            )
        })?;
        let landed = |offer: &BestCompetitor| (offer.price + offer.shipping, offer.price);
        if best.is_none_or(|current| landed(&candidate) < landed(&current)) {
            best = Some(candidate);
        }
    }
    Ok((ean, best))
}

fn is_new(pricing: &Pricing) -> bool {
    pricing.offer_status.as_deref().map(str::trim) == Some(STATE_NEW)
}

fn competitor(pricing: &Pricing) -> Result<BestCompetitor, String> {
    let price = decimal_from_text(&pricing.price).map_err(|error| format!("price {error}"))?;
    let shipping = match pricing.shipping_price.as_deref().map(str::trim) {
        None | Some("") => Decimal::ZERO,
        Some(text) => decimal_from_text(text).map_err(|error| format!("shipping_price {error}"))?,
    };
    // Fnac writes shipping with five decimals (`4.99000`); the value is what matters.
    Ok(BestCompetitor {
        price,
        shipping: shipping.normalize(),
    })
}

/// Our offers joined with the best competing offer of their EAN. An EAN missing from
/// `pricing` was not priced (no competitor data); one priced with no new offer has none.
pub fn offer_signals(
    offers: &[OwnOffer],
    pricing: &HashMap<String, Option<BestCompetitor>>,
    origin: &Origin,
) -> Vec<Sourced> {
    offers
        .iter()
        .map(|offer| {
            let best = pricing.get(&offer.gtin).copied().flatten();
            Sourced::Signal {
                record: SignalRecord::Offer(OfferSignal {
                    gtin: offer.gtin.clone(),
                    channel: Channel::FnacDarty.key().to_owned(),
                    currency: CURRENCY.to_owned(),
                    our_price_incl_vat: Some(offer.price),
                    our_shipping_incl_vat: None,
                    buy_box_price_incl_vat: None,
                    we_own_buy_box: None,
                    lowest_listing_price_incl_vat: best.map(|best| best.price),
                    lowest_shipping_incl_vat: best.map(|best| best.shipping),
                    lowest_landed_price_incl_vat: best.map(|best| best.price + best.shipping),
                    offer_count: None,
                    sales_rank: None,
                    marketplace_category: None,
                    source: origin.source.clone(),
                    request_id: origin.request_id.clone(),
                    observed_at: origin.observed_at,
                }),
                origin: origin.clone(),
            }
        })
        .collect()
}
