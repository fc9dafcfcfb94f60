//! The Mirakl seller API of the simulated Mirakl marketplace: OF21 (our own offers, offset
//! paging) and P11 (every shop's offers on products given by EAN). Authentication is the
//! shop's API key in `Authorization`, with no `Bearer` prefix. JSON field names and paging
//! follow Mirakl's seller API (`offers` + `total_count`, `max` <= 100, `offset`;
//! `products[].offers[]`, `product_references=EAN|<code>,...` <= 100 references).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use hub_core::channel::Channel;
use serde_json::{Value, json};

use super::state::MarketState;
use super::{OperationContext, PayloadField, Simulator, json_error, operation};
use crate::catalogue::CatalogueReference;
use crate::market::{ChannelMarket, Offer};

/// OF21, `GET /api/offers`: the shop's own offers.
pub const MIRAKL_OF21: &str = "mirakl.OF21";
/// P11, `GET /api/products/offers`: all shops' offers on the given products.
pub const MIRAKL_P11: &str = "mirakl.P11";

const DEFAULT_PAGE_SIZE: usize = 10;
const MAX_PAGE_SIZE: usize = 100;
const MAX_PRODUCT_REFERENCES: usize = 100;
/// Mirakl's offer state code for new items.
const STATE_NEW: &str = "11";
/// Our offers on the marketplace are numbered from here, competitors' from
/// `COMPETITOR_OFFER_IDS`: stable ids per page and shop.
const OUR_OFFER_IDS: u64 = 1_000_000;
const COMPETITOR_OFFER_IDS: u64 = 50_000_000;
const COMPETITOR_SHOP_IDS: u64 = 3_000;
const COMPETITOR_SHOPS: [&str; 8] = [
    "ElectroMax",
    "Top Achat Pro",
    "MediaDiscount",
    "Boutique Numérique",
    "Hexa Store",
    "PrixMalin",
    "Tech en Stock",
    "Le Comptoir High-Tech",
];
/// The shop that lists every product at a zero price: Mirakl's best-known placeholder.
const PLACEHOLDER_SHOP: (u64, &str) = (2_999, "Marketplace Clearance");

pub(super) fn routes(simulator: &Simulator) -> Router<Simulator> {
    Router::new()
        .route(
            "/api/offers",
            operation(simulator, MIRAKL_OF21, get(list_own_offers)),
        )
        .route(
            "/api/products/offers",
            operation(simulator, MIRAKL_P11, get(product_offers)),
        )
}

/// A refused request, answered in Mirakl's error shape.
struct Refusal {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        json_error(self.status, &self.message)
    }
}

/// Mirakl answers 401 to a missing key, a wrong one, and a key sent as a bearer token.
fn authorised(simulator: &Simulator, headers: &HeaderMap) -> Result<(), Refusal> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if presented == Some(simulator.credentials().mirakl_api_key.as_str()) {
        Ok(())
    } else {
        Err(Refusal {
            status: StatusCode::UNAUTHORIZED,
            message: "Unauthorized".to_owned(),
        })
    }
}

fn bad_request(message: String) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        message,
    }
}

fn page_parameter(
    query: &HashMap<String, String>,
    name: &str,
    default: usize,
) -> Result<usize, Refusal> {
    match query.get(name) {
        None => Ok(default),
        Some(raw) => raw.parse::<usize>().map_err(|_| {
            bad_request(format!(
                "Parameter '{name}' must be a non-negative integer, got '{raw}'"
            ))
        }),
    }
}

async fn list_own_offers(
    State(simulator): State<Simulator>,
    Extension(context): Extension<OperationContext>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(refused) = authorised(&simulator, &headers) {
        return refused.into_response();
    }
    let (max, offset) = match (
        page_parameter(&query, "max", DEFAULT_PAGE_SIZE),
        page_parameter(&query, "offset", 0),
    ) {
        (Ok(max), Ok(offset)) => (max, offset),
        (Err(refused), _) | (_, Err(refused)) => return refused.into_response(),
    };
    if max == 0 || max > MAX_PAGE_SIZE {
        return bad_request(format!(
            "Parameter 'max' must be between 1 and {MAX_PAGE_SIZE}, got {max}"
        ))
        .into_response();
    }
    let mut malformer = context.malformer();
    let (total_count, mut offers) = {
        let market = simulator.market();
        let own: Vec<(usize, &ChannelMarket, Offer)> = (0..market.catalogue().references.len())
            .filter_map(|index| {
                let page = market.page(index, Channel::Mirakl)?;
                page.ours.map(|offer| (index, page, offer))
            })
            .collect();
        let offers: Vec<Value> = own
            .iter()
            .skip(offset)
            .take(max)
            .map(|(index, page, offer)| own_offer(&market, *index, page, *offer))
            .collect();
        (own.len(), offers)
    };
    for offer in &mut offers {
        // Mirakl's OpenAPI marks `total_price` and `min_shipping_price` optional (the total
        // is the price plus the minimum shipping rate, which an offer may not have): their
        // absence is a valid answer, so only a wrong type breaks them.
        malformer.malform_fields(
            offer,
            &[
                PayloadField::Required("price"),
                PayloadField::Optional("total_price"),
                PayloadField::Required("product_references"),
                PayloadField::Optional("min_shipping_price"),
            ],
        );
    }
    simulator.record_malformed(&context, &malformer);
    Json(json!({"offers": offers, "total_count": total_count})).into_response()
}

fn amount(cents: i64) -> Value {
    // Mirakl writes amounts as JSON numbers; cents / 100 prints as the shortest decimal.
    json!(cents as f64 / 100.0)
}

fn product_references(reference: &CatalogueReference) -> Value {
    json!([{"reference": reference.product.gtin, "reference_type": "EAN"}])
}

fn product_sku(reference: &CatalogueReference) -> String {
    format!("MP{}", reference.product.gtin)
}

fn own_offer(market: &MarketState, index: usize, page: &ChannelMarket, offer: Offer) -> Value {
    let reference = market.reference(index);
    let quantity = market.state(index).erp.quantity;
    json!({
        "offer_id": OUR_OFFER_IDS + index as u64,
        "shop_sku": reference.product.sku,
        "product_sku": product_sku(reference),
        "product_title": reference.product.title,
        "product_brand": reference.product.brand,
        "product_references": product_references(reference),
        "category_code": page.marketplace_category,
        "category_label": page.marketplace_category,
        "price": amount(offer.listing),
        "total_price": amount(offer.landed()),
        "min_shipping_price": amount(offer.shipping),
        "min_shipping_price_additional": amount(0),
        "applicable_pricing": {
            "price": amount(offer.listing),
            "unit_origin_price": amount(offer.listing),
            "unit_discount_price": null,
            "discount_start_date": null,
            "discount_end_date": null,
        },
        "quantity": quantity.max(0),
        "active": quantity > 0,
        "inactivity_reasons": if quantity > 0 { json!([]) } else { json!(["ZERO_QUANTITY"]) },
        "state_code": STATE_NEW,
        "currency_iso_code": "EUR",
        "leadtime_to_ship": 2,
        "channels": [],
    })
}

async fn product_offers(
    State(simulator): State<Simulator>,
    Extension(context): Extension<OperationContext>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(refused) = authorised(&simulator, &headers) {
        return refused.into_response();
    }
    let Some(raw) = query.get("product_references") else {
        return bad_request("Parameter 'product_references' is required".to_owned())
            .into_response();
    };
    let mut eans = Vec::new();
    for item in raw.split(',').filter(|item| !item.is_empty()) {
        match item.split_once('|') {
            Some((kind, code)) if kind.eq_ignore_ascii_case("EAN") => eans.push(code.to_owned()),
            _ => {
                return bad_request(format!(
                    "Parameter 'product_references' expects TYPE|VALUE items separated by commas, got '{item}'"
                ))
                .into_response();
            }
        }
    }
    if eans.len() > MAX_PRODUCT_REFERENCES {
        return bad_request(format!(
            "Parameter 'product_references' accepts at most {MAX_PRODUCT_REFERENCES} references, got {}",
            eans.len()
        ))
        .into_response();
    }
    let our_shop = simulator.credentials().mirakl_shop_id;
    let mut malformer = context.malformer();
    let mut products: Vec<Value> = {
        let market = simulator.market();
        eans.iter()
            .filter_map(|ean| {
                let index = market.reference_index(ean)?;
                let page = market.page(index, Channel::Mirakl)?;
                Some(product(&simulator, &market, index, page, our_shop))
            })
            .collect()
    };
    let mut placeholders = 0;
    for product in &mut products {
        if !malformer.malform(product, &["product_references", "offers"])
            && has_placeholder(product)
        {
            placeholders += 1;
        }
    }
    simulator.record_malformed(&context, &malformer);
    simulator.record_placeholders(&context, placeholders);
    Json(json!({"products": products})).into_response()
}

fn product(
    simulator: &Simulator,
    market: &MarketState,
    index: usize,
    page: &ChannelMarket,
    our_shop: u64,
) -> Value {
    let reference = market.reference(index);
    let mut offers: Vec<(i64, Value)> = Vec::new();
    if let Some(ours) = page.ours {
        // As in OF21: out of stock, our offer is listed inactive.
        let quantity = market.state(index).erp.quantity.max(0);
        offers.push((
            ours.landed(),
            shop_offer(
                OUR_OFFER_IDS + index as u64,
                (our_shop, "Sourcing Hub Distribution"),
                ours,
                quantity,
                quantity > 0,
            ),
        ));
    }
    for &(seller, offer) in &page.competitors {
        let shop_id = COMPETITOR_SHOP_IDS + u64::from(seller);
        let name = COMPETITOR_SHOPS[seller as usize % COMPETITOR_SHOPS.len()];
        let offer_id = COMPETITOR_OFFER_IDS + index as u64 * 100 + u64::from(seller);
        // A competitor's stock is not ours to know beyond "some": a stable small number.
        let quantity = i64::from(1 + (seller * 7 + index as u32) % 40);
        offers.push((
            offer.landed(),
            shop_offer(offer_id, (shop_id, name), offer, quantity, true),
        ));
    }
    let page_key = index as u64;
    if simulator.shows_placeholder(page_key) {
        let placeholder = if page_key.is_multiple_of(2) {
            // An offer at zero: a listing error or a catalogue stub, never a real price.
            shop_offer(
                COMPETITOR_OFFER_IDS + index as u64 * 100 + 99,
                PLACEHOLDER_SHOP,
                Offer {
                    listing: 0,
                    shipping: 0,
                    fba: false,
                },
                1,
                true,
            )
        } else {
            // An inactive offer listed with the active ones.
            shop_offer(
                COMPETITOR_OFFER_IDS + index as u64 * 100 + 98,
                PLACEHOLDER_SHOP,
                Offer {
                    listing: page.base,
                    shipping: 0,
                    fba: false,
                },
                0,
                false,
            )
        };
        offers.push((i64::MIN, placeholder));
    }
    // Cheapest first, as Mirakl sorts by total price.
    offers.sort_by_key(|(landed, _)| *landed);
    let offers: Vec<Value> = offers.into_iter().map(|(_, offer)| offer).collect();
    json!({
        "product_sku": product_sku(reference),
        "product_title": reference.product.title,
        "product_brand": reference.product.brand,
        "category_code": page.marketplace_category,
        "category_label": page.marketplace_category,
        "product_references": product_references(reference),
        "total_count": offers.len(),
        "offers": offers,
    })
}

/// Whether a P11 product lists a placeholder offer.
fn has_placeholder(product: &Value) -> bool {
    product["offers"].as_array().is_some_and(|offers| {
        offers
            .iter()
            .any(|offer| offer["shop_id"] == PLACEHOLDER_SHOP.0)
    })
}

fn shop_offer(
    offer_id: u64,
    (shop_id, shop_name): (u64, &str),
    offer: Offer,
    quantity: i64,
    active: bool,
) -> Value {
    json!({
        "offer_id": offer_id,
        "shop_id": shop_id,
        "shop_name": shop_name,
        "price": amount(offer.listing),
        "total_price": amount(offer.landed()),
        "min_shipping_price": amount(offer.shipping),
        "quantity": quantity,
        "active": active,
        "inactivity_reasons": if active { json!([]) } else { json!(["ZERO_QUANTITY"]) },
        "state_code": STATE_NEW,
        "currency_iso_code": "EUR",
        "leadtime_to_ship": 2,
    })
}
