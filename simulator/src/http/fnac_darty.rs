//! Fnac Darty's back-office XML API for our shop: `auth`, `offers_query` (paging, filter on
//! the modification date) and `pricing_query` (the best competing offers by EAN), each a
//! `POST /api.php/<service>` of a `text/xml` document answered in the API's XML shapes
//! (`connectors/src/fnac_darty/payload.rs` lists the sources).
//!
//! An offer's modification date, which `offers_query` filters on (`<date type="Modified">`,
//! `min` and `max` both inclusive), is on the back office's own clock, the wall clock, as a
//! real API's: a date never runs ahead of the time the API serves it, so a client that ends
//! its window at "now" misses nothing. It dates OUR offer only, as the real API does: its
//! price, shipping, quantity or state; competitors repricing the product page leave it
//! undated, and `pricing_query` serves their current prices whenever it is asked. The market
//! moves in simulated time, often far ahead of the wall clock (a burst of changes spans
//! simulated minutes in a millisecond), so the back office dates an offer when it first
//! serves the offer's current version: the offers of the market it opened on at its
//! opening, a later change at the first `offers_query` after it. A refused call answers
//! HTTP 200 with `status="ERROR"` and an `error` element, as the API does.

use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use hub_core::channel::Channel;
use hub_schemas::records::EpochMillis;
use quick_xml::escape::escape;
use serde::Deserialize;
use serde_json::{Value, json};

use super::offer_dates::OwnOfferDates;
use super::state::MarketState;
use super::timestamps::{epoch_millis, rfc3339};
use super::{OperationContext, Simulator, operation};
use crate::market::Offer;

pub const FNAC_AUTH: &str = "fnac_darty.auth";
pub const FNAC_OFFERS_QUERY: &str = "fnac_darty.offers_query";
pub const FNAC_PRICING_QUERY: &str = "fnac_darty.pricing_query";

const NAMESPACE: &str = "http://www.fnac.com/schemas/mp-dialog.xsd";
const STATE_NEW: &str = "11";
const DEFAULT_RESULTS: usize = 100;
const MAX_RESULTS: usize = 1000;
const MAX_PRICING_REFERENCES: usize = 10;
const TOKEN_VALIDITY: Duration = Duration::from_secs(3600);
/// The elements of an `offer`, in the API's order; a malformed one is left out or emptied.
const OFFER_ELEMENTS: [&str; 8] = [
    "product_name",
    "product_fnac_id",
    "offer_fnac_id",
    "offer_seller_id",
    "product_state",
    "price",
    "quantity",
    "description",
];

pub(super) fn routes(simulator: &Simulator) -> Router<Simulator> {
    // The back office opened with the simulator, before anything could query it (the
    // router is built later, when the server starts).
    let opened_at = epoch_millis(SystemTime::now()) - simulator.stats().uptime_ms as EpochMillis;
    let back_office = OwnOfferDates::open(&simulator.market(), Channel::FnacDarty, opened_at);
    Router::new()
        .route("/api.php/auth", operation(simulator, FNAC_AUTH, post(auth)))
        .route(
            "/api.php/offers_query",
            operation(simulator, FNAC_OFFERS_QUERY, post(offers_query)),
        )
        .route(
            "/api.php/pricing_query",
            operation(simulator, FNAC_PRICING_QUERY, post(pricing_query)),
        )
        .layer(Extension(back_office))
}

fn xml(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A refusal in the API's shape: HTTP 200, `status="ERROR"`, one `error`.
fn refused(service: &str, code: &str, message: &str) -> Response {
    xml(format!(
        r#"<?xml version="1.0" encoding="utf-8"?><{service}_response xmlns="{NAMESPACE}" status="ERROR"><error severity="ERROR" code="{code}">{}</error></{service}_response>"#,
        escape(message)
    ))
}

#[derive(Debug, Deserialize)]
struct AuthRequest {
    partner_id: String,
    shop_id: String,
    key: String,
}

async fn auth(State(simulator): State<Simulator>, body: String) -> Response {
    let Ok(request) = quick_xml::de::from_str::<AuthRequest>(&body) else {
        return refused(
            "auth",
            "ERR_096",
            "XML Validation failed: the auth document is invalid",
        );
    };
    let credentials = simulator.credentials();
    if (
        request.partner_id.as_str(),
        request.shop_id.as_str(),
        request.key.as_str(),
    ) != (
        credentials.fnac_partner_id.as_str(),
        credentials.fnac_shop_id.as_str(),
        credentials.fnac_key.as_str(),
    ) {
        return refused(
            "auth",
            "ERR_001",
            "Authentication failed: wrong partner_id, shop_id or key",
        );
    }
    let validity = SystemTime::now() + TOKEN_VALIDITY;
    xml(format!(
        r#"<?xml version="1.0" encoding="utf-8"?><auth_response status="OK" xmlns="{NAMESPACE}"><token>{}</token><validity>{}</validity><version>2.6.0</version></auth_response>"#,
        token(&simulator),
        rfc3339(epoch_millis(validity))
    ))
}

fn token(simulator: &Simulator) -> String {
    format!("sim-fnac-token-{}", simulator.credentials().fnac_shop_id)
}

/// The session attributes every service but `auth` carries on its root.
fn session_valid(simulator: &Simulator, partner_id: &str, shop_id: &str, token_: &str) -> bool {
    let credentials = simulator.credentials();
    partner_id == credentials.fnac_partner_id
        && shop_id == credentials.fnac_shop_id
        && token_ == token(simulator)
}

#[derive(Debug, Deserialize)]
struct OffersQueryRequest {
    #[serde(rename = "@partner_id")]
    partner_id: String,
    #[serde(rename = "@shop_id")]
    shop_id: String,
    #[serde(rename = "@token")]
    token: String,
    #[serde(rename = "@results_count", default)]
    results_count: Option<usize>,
    #[serde(default)]
    paging: Option<usize>,
    #[serde(default)]
    date: Option<DateFilter>,
}

#[derive(Debug, Deserialize)]
struct DateFilter {
    #[serde(rename = "@type")]
    kind: String,
    #[serde(default)]
    min: Option<String>,
    #[serde(default)]
    max: Option<String>,
}

/// Modified in `[min, max]`, on the back office's clock.
struct Window {
    min: Option<EpochMillis>,
    max: Option<EpochMillis>,
}

fn window(filter: Option<&DateFilter>) -> Result<Window, String> {
    let Some(filter) = filter else {
        return Ok(Window {
            min: None,
            max: None,
        });
    };
    if filter.kind != "Modified" && filter.kind != "Created" {
        return Err(format!(
            "date type '{}' is not Created or Modified",
            filter.kind
        ));
    }
    let read = |bound: &Option<String>| {
        bound
            .as_deref()
            .map(|text| {
                text.trim()
                    .parse::<jiff::Timestamp>()
                    .map(|time| time.as_millisecond())
                    .map_err(|_| format!("'{text}' is not a valid xs:dateTime"))
            })
            .transpose()
    };
    Ok(Window {
        min: read(&filter.min)?,
        max: read(&filter.max)?,
    })
}

async fn offers_query(
    State(simulator): State<Simulator>,
    Extension(context): Extension<OperationContext>,
    Extension(back_office): Extension<OwnOfferDates>,
    body: String,
) -> Response {
    const SERVICE: &str = "offers_query";
    let request = match quick_xml::de::from_str::<OffersQueryRequest>(&body) {
        Ok(request) => request,
        Err(error) => {
            return refused(
                SERVICE,
                "ERR_096",
                &format!("XML Validation failed: {error}"),
            );
        }
    };
    if !session_valid(
        &simulator,
        &request.partner_id,
        &request.shop_id,
        &request.token,
    ) {
        return refused(SERVICE, "ERR_025", "The token is not valid");
    }
    let results = request.results_count.unwrap_or(DEFAULT_RESULTS);
    if !(1..=MAX_RESULTS).contains(&results) {
        return refused(
            SERVICE,
            "ERR_096",
            &format!("results_count must be between 1 and {MAX_RESULTS}"),
        );
    }
    let paging = request.paging.unwrap_or(1).max(1);
    let window = match window(request.date.as_ref()) {
        Ok(window) => window,
        Err(message) => return refused(SERVICE, "ERR_096", &message),
    };
    let (total, mut offers) = {
        let market = simulator.market();
        let mut own: Vec<(EpochMillis, usize)> = back_office
            .changed_at(&market)
            .into_iter()
            .filter(|(modified, _)| {
                window.min.is_none_or(|min| *modified >= min)
                    && window.max.is_none_or(|max| *modified <= max)
            })
            .collect();
        own.sort_unstable();
        let offers: Vec<Value> = own
            .iter()
            .skip((paging - 1) * results)
            .take(results)
            .filter_map(|(_, index)| {
                let ours = market.page(*index, Channel::FnacDarty)?.ours?;
                Some(own_offer(&market, *index, ours))
            })
            .collect();
        (own.len(), offers)
    };
    let mut malformer = context.malformer();
    for offer in &mut offers {
        malformer.malform(offer, &["offer_seller_id", "price", "product_state"]);
    }
    simulator.record_malformed(&context, &malformer);
    let total_paging = total.div_ceil(results).max(1);
    let rendered: String = offers.iter().map(render_offer).collect();
    xml(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><offers_query_response xmlns="{NAMESPACE}" status="OK"><page>{paging}</page><total_paging>{total_paging}</total_paging><nb_total_per_page>{results}</nb_total_per_page><nb_total_result>{total}</nb_total_result>{rendered}</offers_query_response>"#
    ))
}

fn own_offer(market: &MarketState, index: usize, ours: Offer) -> Value {
    let reference = market.reference(index);
    json!({
        "product_name": reference.product.title,
        "product_fnac_id": (20_000_000 + index).to_string(),
        "offer_fnac_id": format!("SIM-FNAC-OFFER-{index:08}"),
        "offer_seller_id": reference.product.sku,
        "product_state": STATE_NEW,
        // Numbers here so that a malformed price reads as a French-formatted amount.
        "price": ours.listing as f64 / 100.0,
        "quantity": market.state(index).erp.quantity.max(0),
        "description": "Neuf - expédié sous 48h depuis la France",
    })
}

fn render_offer(offer: &Value) -> String {
    let mut rendered = String::from("<offer>");
    for name in OFFER_ELEMENTS {
        let Some(value) = offer.get(name) else {
            continue;
        };
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            Value::Null | Value::Array(_) | Value::Object(_) => String::new(),
        };
        if matches!(name, "product_name" | "offer_seller_id" | "description") {
            rendered.push_str(&format!(
                "<{name}><![CDATA[{}]]></{name}>",
                text.replace("]]>", "]]]]><![CDATA[>")
            ));
        } else {
            rendered.push_str(&format!("<{name}>{}</{name}>", escape(&text)));
        }
    }
    rendered.push_str("</offer>");
    rendered
}

#[derive(Debug, Deserialize)]
struct PricingQueryRequest {
    #[serde(rename = "@partner_id")]
    partner_id: String,
    #[serde(rename = "@shop_id")]
    shop_id: String,
    #[serde(rename = "@token")]
    token: String,
    #[serde(default)]
    product_reference: Vec<ProductReference>,
}

#[derive(Debug, Deserialize)]
struct ProductReference {
    #[serde(rename = "@type")]
    kind: String,
    #[serde(rename = "$text", default)]
    value: Option<String>,
}

async fn pricing_query(
    State(simulator): State<Simulator>,
    Extension(context): Extension<OperationContext>,
    body: String,
) -> Response {
    const SERVICE: &str = "pricing_query";
    let request = match quick_xml::de::from_str::<PricingQueryRequest>(&body) {
        Ok(request) => request,
        Err(error) => {
            return refused(
                SERVICE,
                "ERR_096",
                &format!("XML Validation failed: {error}"),
            );
        }
    };
    if !session_valid(
        &simulator,
        &request.partner_id,
        &request.shop_id,
        &request.token,
    ) {
        return refused(SERVICE, "ERR_025", "The token is not valid");
    }
    if request.product_reference.len() > MAX_PRICING_REFERENCES {
        return refused(
            SERVICE,
            "ERR_105",
            "The limit of requested elements is reached by the service. Try with less elements.",
        );
    }
    let mut malformer = context.malformer();
    let products: String = {
        let market = simulator.market();
        request
            .product_reference
            .iter()
            .map(|reference| pricing_product(&market, reference, &mut malformer))
            .collect()
    };
    simulator.record_malformed(&context, &malformer);
    xml(format!(
        r#"<?xml version="1.0" encoding="utf-8"?><pricing_query_response status="OK" xmlns="{NAMESPACE}">{products}</pricing_query_response>"#
    ))
}

fn pricing_product(
    market: &MarketState,
    reference: &ProductReference,
    malformer: &mut super::Malformer,
) -> String {
    let code = reference.value.as_deref().unwrap_or("").trim();
    let head = format!(
        r#"<pricing_product><product_reference type="{}">{}</product_reference>"#,
        escape(&reference.kind),
        escape(code)
    );
    let page = (reference.kind == "Ean")
        .then(|| market.reference_index(code))
        .flatten()
        .and_then(|index| {
            market
                .page(index, Channel::FnacDarty)
                .map(|page| (index, page))
        });
    let Some((index, page)) = page else {
        return format!(
            r#"{head}<error severity="ERROR" code="ERR_120">Service Pricing : Product not found.</error></pricing_product>"#
        );
    };
    // The other sellers' offers, best landed price first; ours is not among them.
    let mut competitors: Vec<Offer> = page.competitors.iter().map(|(_, offer)| *offer).collect();
    competitors.sort_by_key(|offer| offer.landed());
    let mut pricing = String::new();
    // The element a client reads (and refuses) is the whole `pricing_product`: at most one
    // of its prices is malformed, so that one malformed element is counted per product.
    let mut malformed = false;
    for offer in competitors {
        let mut entry = json!({"price": offer.listing as f64 / 100.0});
        if !malformed {
            malformed = malformer.malform(&mut entry, &["price"]);
        }
        let price = match entry.get("price") {
            Some(Value::Number(number)) => number.to_string(),
            Some(Value::String(text)) => text.clone(),
            _ => String::new(),
        };
        pricing.push_str(&format!(
            r#"<pricing type="professional"><price>{}</price><shipping_price>{}.{:02}000</shipping_price><offer_status>{STATE_NEW}</offer_status></pricing>"#,
            escape(&price),
            offer.shipping / 100,
            offer.shipping % 100
        ));
    }
    format!(
        r#"{head}<product_name><![CDATA[{}]]></product_name><image_url></image_url>{pricing}</pricing_product>"#,
        market
            .reference(index)
            .product
            .title
            .replace("]]>", "]]]]><![CDATA[>")
    )
}
