//! The Amazon Selling Partner API of the simulated amazon.fr, and its Login with Amazon token
//! endpoint. Shapes follow the SP-API models: Product Pricing v0 (getItemOffers,
//! getItemOffersBatch), Catalog Items 2022-04-01 (searchCatalogItems by EAN or ASIN),
//! Product Fees v0 (getMyFeesEstimateForSKU) and FBA Inventory v1 (getInventorySummaries,
//! 50 summaries a page with `nextToken`). Every call needs an unexpired access token in
//! `x-amz-access-token`; errors are `{"errors": [{code, message, details}]}`.
//!
//! - ASINs are derived from the catalogue position (`B0` and eight digits); our offers carry
//!   [`Credentials::amazon_seller_id`], competitors `A2SIMSELLER` and their number.
//! - Access tokens carry their expiry and a digest of the refresh token they came from, so
//!   the server checks them without remembering them.
//! - When the fault plan gives an operation a `rate_limit`, its answers announce that rate
//!   in `x-amzn-RateLimit-Limit`, as the real usage plans do.
//! - `startDateTime` is accepted and not filtered on (every summary is returned): a superset
//!   of the changes, which an incremental reader must tolerate anyway.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use hub_core::channel::Channel;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::state::MarketState;
use super::{Credentials, OperationContext, PayloadField, Simulator, operation};
use crate::market::{BuyBox, ChannelMarket, Offer};
use crate::money::decimal;

pub const AMAZON_LWA_TOKEN: &str = "amazon.lwaToken";
pub const AMAZON_SEARCH_CATALOG_ITEMS: &str = "amazon.searchCatalogItems";
pub const AMAZON_GET_ITEM_OFFERS: &str = "amazon.getItemOffers";
pub const AMAZON_GET_ITEM_OFFERS_BATCH: &str = "amazon.getItemOffersBatch";
pub const AMAZON_GET_MY_FEES_ESTIMATE: &str = "amazon.getMyFeesEstimateForSKU";
pub const AMAZON_GET_INVENTORY_SUMMARIES: &str = "amazon.getInventorySummaries";

/// amazon.fr.
pub const MARKETPLACE_FR: &str = "A13V1IB3VIYZZH";
const INVENTORY_PAGE_SIZE: usize = 50;
const MAX_IDENTIFIERS: usize = 20;
const MAX_BATCH_REQUESTS: usize = 20;
/// getItemOffers lists the 20 lowest-landed offers.
const MAX_OFFERS: usize = 20;
/// Referral fee on amazon.fr for most categories, with its per-item minimum, and the
/// digital services fee on it (see shared/reference/marketplaces.md).
const REFERRAL_PERCENT: i64 = 15;
const REFERRAL_MINIMUM_CENTS: i64 = 30;
const DIGITAL_SERVICES_PERCENT: i64 = 3;

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

pub(super) fn routes(simulator: &Simulator) -> Router<Simulator> {
    Router::new()
        .route(
            "/auth/o2/token",
            operation(simulator, AMAZON_LWA_TOKEN, post(token)),
        )
        .route(
            "/catalog/2022-04-01/items",
            operation(
                simulator,
                AMAZON_SEARCH_CATALOG_ITEMS,
                get(search_catalog_items),
            ),
        )
        .route(
            "/products/pricing/v0/items/{asin}/offers",
            operation(simulator, AMAZON_GET_ITEM_OFFERS, get(item_offers)),
        )
        .route(
            "/batches/products/pricing/v0/itemOffers",
            operation(
                simulator,
                AMAZON_GET_ITEM_OFFERS_BATCH,
                post(item_offers_batch),
            ),
        )
        .route(
            "/products/fees/v0/listings/{sku}/feesEstimate",
            operation(simulator, AMAZON_GET_MY_FEES_ESTIMATE, post(fees_estimate)),
        )
        .route(
            "/fba/inventory/v1/summaries",
            operation(
                simulator,
                AMAZON_GET_INVENTORY_SUMMARIES,
                get(inventory_summaries),
            ),
        )
}

/// The ASIN of catalogue entry `index`.
pub fn asin_of(index: usize) -> String {
    format!("B0{index:08}")
}

fn index_of(asin: &str) -> Option<usize> {
    asin.strip_prefix("B0")
        .filter(|digits| digits.len() == 8)
        .and_then(|digits| digits.parse().ok())
}

fn competitor_id(seller: u32) -> String {
    format!("A2SIMSELLER{seller:03}")
}

/// Amazon's root category (website display group) for the simulator's amazon.fr labels.
fn display_group(label: &str) -> &'static str {
    match label {
        "Informatique" => "pc_display_on_website",
        "High-Tech" => "ce_display_on_website",
        "Gros électroménager" => "major_appliances_display_on_website",
        "Cuisine & Maison" => "kitchen_display_on_website",
        "Jeux vidéo" => "video_games_display_on_website",
        "Livres" => "book_display_on_website",
        "Bricolage" => "home_improvement_display_on_website",
        "Bagages" => "luggage_display_on_website",
        "Hygiène et Santé" => "hpc_display_on_website",
        "Jeux et Jouets" => "toy_display_on_website",
        "Sports et Loisirs" => "sports_display_on_website",
        _ => "misc_display_on_website",
    }
}

fn sp_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"errors": [{"code": code, "message": message, "details": ""}]})),
    )
        .into_response()
}

/// Adds the headers every SP-API answer carries.
fn answered(simulator: &Simulator, operation: &'static str, body: Value) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    let id = REQUEST_IDS.fetch_add(1, Ordering::Relaxed);
    if let Ok(value) = HeaderValue::from_str(&format!("sim-{id:08}-0000-4000-8000-000000000000")) {
        headers.insert("x-amzn-RequestId", value);
    }
    if let Some(limit) = simulator
        .faults_config()
        .for_operation(operation)
        .rate_limit
        && let Ok(value) = HeaderValue::from_str(&limit.per_second.to_string())
    {
        headers.insert("x-amzn-RateLimit-Limit", value);
    }
    response
}

fn money(cents: i64) -> Value {
    json!({"CurrencyCode": "EUR", "Amount": amount(decimal(cents))})
}

fn amount(value: Decimal) -> Value {
    // SP-API amounts are JSON numbers; a cent amount prints as the shortest decimal.
    value
        .to_string()
        .parse::<serde_json::Number>()
        .map_or(Value::Null, Value::Number)
}

// ---------------------------------------------------------------------------------------
// Login with Amazon.
// ---------------------------------------------------------------------------------------

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

fn digest(refresh_token: &str, expires_at_ms: u64) -> u64 {
    let mut hasher = DefaultHasher::new();
    refresh_token.hash(&mut hasher);
    expires_at_ms.hash(&mut hasher);
    hasher.finish()
}

fn access_token(credentials: &Credentials, expires_at_ms: u64) -> String {
    format!(
        "Atza|sim.{expires_at_ms}.{:016x}",
        digest(&credentials.amazon_refresh_token, expires_at_ms)
    )
}

/// Why a presented access token is refused, if it is.
fn token_problem(simulator: &Simulator, headers: &HeaderMap) -> Option<&'static str> {
    let Some(token) = headers
        .get("x-amz-access-token")
        .and_then(|value| value.to_str().ok())
    else {
        return Some("Access to requested resource is denied.");
    };
    let expires_at_ms = token
        .strip_prefix("Atza|sim.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|expiry| expiry.parse::<u64>().ok());
    match expires_at_ms {
        Some(expiry) if token == access_token(simulator.credentials(), expiry) => {
            (expiry <= now_ms()).then_some("The access token you provided has expired.")
        }
        _ => Some("The access token you provided is revoked, malformed or otherwise invalid."),
    }
}

/// The 403 answer to a call without a valid access token, if it has none.
fn refusal(simulator: &Simulator, headers: &HeaderMap) -> Option<Response> {
    token_problem(simulator, headers)
        .map(|message| sp_error(StatusCode::FORBIDDEN, "Unauthorized", message))
}

fn lwa_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn token(State(simulator): State<Simulator>, body: Bytes) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |name: &str| form.get(name).map(String::as_str);
    let credentials = simulator.credentials();
    if field("grant_type") != Some("refresh_token") {
        return lwa_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server",
        );
    }
    if field("client_id") != Some(credentials.amazon_client_id.as_str())
        || field("client_secret") != Some(credentials.amazon_client_secret.as_str())
    {
        return lwa_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    if field("refresh_token") != Some(credentials.amazon_refresh_token.as_str()) {
        return lwa_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The request has an invalid grant parameter : refresh_token",
        );
    }
    let lifetime = Duration::from_secs(credentials.amazon_token_lifetime_secs);
    let expires_at_ms = now_ms() + lifetime.as_millis() as u64;
    Json(json!({
        "access_token": access_token(credentials, expires_at_ms),
        "refresh_token": credentials.amazon_refresh_token,
        "token_type": "bearer",
        "expires_in": lifetime.as_secs(),
    }))
    .into_response()
}

// ---------------------------------------------------------------------------------------
// Catalog Items.
// ---------------------------------------------------------------------------------------

fn catalog_item(market: &MarketState, index: usize, page: &ChannelMarket) -> Value {
    let gtin = &market.reference(index).product.gtin;
    let mut item = json!({
        "asin": asin_of(index),
        "identifiers": [{
            "marketplaceId": MARKETPLACE_FR,
            "identifiers": [
                {"identifierType": "EAN", "identifier": gtin},
                {"identifierType": "GTIN", "identifier": format!("0{gtin}")},
            ],
        }],
        "salesRanks": [{"marketplaceId": MARKETPLACE_FR, "classificationRanks": [], "displayGroupRanks": []}],
    });
    if let Some(rank) = page.sales_rank {
        item["salesRanks"][0]["displayGroupRanks"] = json!([{
            "websiteDisplayGroup": display_group(page.marketplace_category),
            "title": page.marketplace_category,
            "rank": rank,
        }]);
    }
    item
}

async fn search_catalog_items(
    State(simulator): State<Simulator>,
    Extension(context): Extension<OperationContext>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refusal(&simulator, &headers) {
        return refused;
    }
    if query.get("marketplaceIds").map(String::as_str) != Some(MARKETPLACE_FR) {
        return sp_error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "marketplaceIds must name a marketplace this seller sells on",
        );
    }
    let identifiers: Vec<&str> = query
        .get("identifiers")
        .map(|list| list.split(',').filter(|item| !item.is_empty()).collect())
        .unwrap_or_default();
    let kind = query.get("identifiersType").map(String::as_str);
    if identifiers.is_empty() || identifiers.len() > MAX_IDENTIFIERS {
        return sp_error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "identifiers must list 1 to 20 identifiers",
        );
    }
    let mut malformer = context.malformer();
    let mut items: Vec<Value> = {
        let market = simulator.market();
        let indexes: Vec<usize> = match kind {
            Some("EAN") => identifiers
                .iter()
                .filter_map(|ean| market.reference_index(ean))
                .collect(),
            Some("ASIN") => identifiers
                .iter()
                .filter_map(|asin| index_of(asin))
                .filter(|&index| index < market.catalogue().references.len())
                .collect(),
            _ => {
                return sp_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidInput",
                    "identifiersType must be EAN or ASIN on this simulator",
                );
            }
        };
        indexes
            .into_iter()
            .filter_map(|index| {
                let page = market.page(index, Channel::Amazon)?;
                Some(catalog_item(&market, index, page))
            })
            .collect()
    };
    for item in &mut items {
        malformer.malform(item, &["asin", "identifiers"]);
    }
    simulator.record_malformed(&context, &malformer);
    answered(
        &simulator,
        AMAZON_SEARCH_CATALOG_ITEMS,
        json!({"numberOfResults": items.len(), "items": items}),
    )
}

// ---------------------------------------------------------------------------------------
// Product Pricing: getItemOffers and its batch.
// ---------------------------------------------------------------------------------------

fn offer_detail(seller_id: &str, offer: Offer, mine: bool, winner: bool) -> Value {
    json!({
        "SellerId": seller_id,
        "MyOffer": mine,
        "SubCondition": "new",
        "ListingPrice": money(offer.listing),
        "Shipping": money(offer.shipping),
        "ShippingTime": {"minimumHours": if offer.fba { 0 } else { 24 }, "maximumHours": if offer.fba { 24 } else { 72 }, "availabilityType": "NOW"},
        "ShipsFrom": {"Country": "FR"},
        "IsFulfilledByAmazon": offer.fba,
        "IsBuyBoxWinner": winner,
        "IsFeaturedMerchant": true,
    })
}

/// The getItemOffers payload of a product page.
fn offers_payload(our_seller_id: &str, index: usize, page: &ChannelMarket) -> Value {
    let asin = asin_of(index);
    let mut offers: Vec<(i64, bool, Value)> = Vec::new();
    if let Some(ours) = page.ours {
        let winner = page.buy_box == BuyBox::Us;
        offers.push((
            ours.landed(),
            ours.fba,
            offer_detail(our_seller_id, ours, true, winner),
        ));
    }
    for &(seller, offer) in &page.competitors {
        let winner = page.buy_box == BuyBox::Competitor(seller);
        offers.push((
            offer.landed(),
            offer.fba,
            offer_detail(&competitor_id(seller), offer, false, winner),
        ));
    }
    offers.sort_by_key(|(landed, _, _)| *landed);
    let total = offers.len();
    let mut number_of_offers = Vec::new();
    let mut lowest_prices = Vec::new();
    for (channel, fba) in [("Amazon", true), ("Merchant", false)] {
        let in_channel: Vec<&(i64, bool, Value)> = offers
            .iter()
            .filter(|(_, offer_fba, _)| *offer_fba == fba)
            .collect();
        if in_channel.is_empty() {
            continue;
        }
        number_of_offers.push(json!({"condition": "new", "fulfillmentChannel": channel, "OfferCount": in_channel.len()}));
        let (_, _, cheapest) = in_channel[0];
        lowest_prices.push(json!({
            "condition": "new",
            "fulfillmentChannel": channel,
            "LandedPrice": money(in_channel[0].0),
            "ListingPrice": cheapest["ListingPrice"].clone(),
            "Shipping": cheapest["Shipping"].clone(),
        }));
    }
    let holder = match page.buy_box {
        BuyBox::Nobody => None,
        BuyBox::Us => page.ours,
        BuyBox::Competitor(seller) => page
            .competitors
            .iter()
            .find(|(candidate, _)| *candidate == seller)
            .map(|(_, offer)| *offer),
    };
    let buy_box_prices: Vec<Value> = holder
        .map(|offer| {
            json!({
                "condition": "New",
                "LandedPrice": money(offer.landed()),
                "ListingPrice": money(offer.listing),
                "Shipping": money(offer.shipping),
            })
        })
        .into_iter()
        .collect();
    let sales_rankings: Vec<Value> = page
        .sales_rank
        .map(|rank| json!({"ProductCategoryId": display_group(page.marketplace_category), "Rank": rank}))
        .into_iter()
        .collect();
    let offers: Vec<Value> = offers
        .into_iter()
        .take(MAX_OFFERS)
        .map(|(_, _, offer)| offer)
        .collect();
    json!({
        "ASIN": asin,
        "status": if total == 0 { "NoBuyableOffers" } else { "Success" },
        "ItemCondition": "New",
        "Identifier": {"MarketplaceId": MARKETPLACE_FR, "ItemCondition": "New", "ASIN": asin},
        "Summary": {
            "TotalOfferCount": total,
            "NumberOfOffers": number_of_offers,
            "LowestPrices": lowest_prices,
            "BuyBoxPrices": buy_box_prices,
            "SalesRankings": sales_rankings,
        },
        "Offers": offers,
        "marketplaceId": MARKETPLACE_FR,
    })
}

/// The getItemOffers answer for `asin`: the status and body.
fn item_offers_answer(simulator: &Simulator, asin: &str) -> (StatusCode, Value) {
    let market = simulator.market();
    let page = index_of(asin)
        .filter(|&index| index < market.catalogue().references.len())
        .and_then(|index| Some((index, market.page(index, Channel::Amazon)?)));
    match page {
        Some((index, page)) => (
            StatusCode::OK,
            json!({"payload": offers_payload(&simulator.credentials().amazon_seller_id, index, page)}),
        ),
        None => (
            StatusCode::BAD_REQUEST,
            json!({"errors": [{"code": "InvalidInput", "message": format!("Invalid ASIN {asin} for marketplace {MARKETPLACE_FR}"), "details": ""}]}),
        ),
    }
}

async fn item_offers(
    State(simulator): State<Simulator>,
    Extension(context): Extension<OperationContext>,
    headers: HeaderMap,
    Path(asin): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refusal(&simulator, &headers) {
        return refused;
    }
    if query.get("MarketplaceId").map(String::as_str) != Some(MARKETPLACE_FR)
        || query.get("ItemCondition").map(String::as_str) != Some("New")
    {
        return sp_error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "MarketplaceId must be A13V1IB3VIYZZH and ItemCondition New on this simulator",
        );
    }
    let (status, mut body) = item_offers_answer(&simulator, &asin);
    if status != StatusCode::OK {
        return (status, Json(body)).into_response();
    }
    let mut malformer = context.malformer();
    if let Some(payload) = body.get_mut("payload") {
        malformer.malform(payload, &["Summary", "Offers", "status"]);
    }
    simulator.record_malformed(&context, &malformer);
    answered(&simulator, AMAZON_GET_ITEM_OFFERS, body)
}

async fn item_offers_batch(
    State(simulator): State<Simulator>,
    Extension(context): Extension<OperationContext>,
    headers: HeaderMap,
    Json(request): Json<Value>,
) -> Response {
    if let Some(refused) = refusal(&simulator, &headers) {
        return refused;
    }
    let Some(requests) = request.get("requests").and_then(Value::as_array) else {
        return sp_error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "the body must be a GetItemOffersBatchRequest with requests",
        );
    };
    if requests.is_empty() || requests.len() > MAX_BATCH_REQUESTS {
        return sp_error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "requests must list 1 to 20 requests",
        );
    }
    let mut malformer = context.malformer();
    let mut responses = Vec::with_capacity(requests.len());
    for item in requests {
        let asin = item
            .get("uri")
            .and_then(Value::as_str)
            .and_then(|uri| uri.strip_prefix("/products/pricing/v0/items/"))
            .and_then(|rest| rest.strip_suffix("/offers"))
            .unwrap_or_default()
            .to_owned();
        let (status, mut body) = item_offers_answer(&simulator, &asin);
        if let Some(payload) = body.get_mut("payload") {
            malformer.malform(payload, &["Summary", "Offers", "status"]);
        }
        let id = REQUEST_IDS.fetch_add(1, Ordering::Relaxed);
        responses.push(json!({
            "headers": {
                "x-amzn-RequestId": format!("sim-{id:08}-0000-4000-8000-000000000000"),
                "Date": httpdate_now(),
            },
            "status": {"statusCode": status.as_u16(), "reasonPhrase": status.canonical_reason().unwrap_or("")},
            "body": body,
            "request": {"MarketplaceId": MARKETPLACE_FR, "ItemCondition": "New", "Asin": asin},
        }));
    }
    simulator.record_malformed(&context, &malformer);
    answered(
        &simulator,
        AMAZON_GET_ITEM_OFFERS_BATCH,
        json!({"responses": responses}),
    )
}

/// Now as an HTTP date (`Sat, 28 Nov 2026 09:20:11 GMT`).
fn httpdate_now() -> String {
    jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&jiff::Timestamp::now())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Product Fees.
// ---------------------------------------------------------------------------------------

fn cents_of(amount: &Value) -> Option<i64> {
    let text = match amount {
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    let value: Decimal = text.parse().ok()?;
    (value * Decimal::from(100)).round().try_into().ok()
}

async fn fees_estimate(
    State(simulator): State<Simulator>,
    headers: HeaderMap,
    Path(sku): Path<String>,
    Json(request): Json<Value>,
) -> Response {
    if let Some(refused) = refusal(&simulator, &headers) {
        return refused;
    }
    let estimate = &request["FeesEstimateRequest"];
    let prices = &estimate["PriceToEstimateFees"];
    let (Some(listing), shipping) = (
        cents_of(&prices["ListingPrice"]["Amount"]),
        cents_of(&prices["Shipping"]["Amount"]).unwrap_or(0),
    ) else {
        return sp_error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "FeesEstimateRequest.PriceToEstimateFees.ListingPrice.Amount is required",
        );
    };
    let referral = ((listing + shipping) * REFERRAL_PERCENT + 50) / 100;
    let referral = referral.max(REFERRAL_MINIMUM_CENTS);
    let digital_services = (referral * DIGITAL_SERVICES_PERCENT + 50) / 100;
    let fee = |fee_type: &str, cents: i64| json!({"FeeType": fee_type, "FeeAmount": money(cents), "FeePromotion": money(0), "TaxAmount": money(0), "FinalFee": money(cents)});
    let body = json!({"payload": {"FeesEstimateResult": {
        "Status": "Success",
        "FeesEstimateIdentifier": {
            "MarketplaceId": MARKETPLACE_FR,
            "IdType": "SellerSKU",
            "SellerId": simulator.credentials().amazon_seller_id,
            "SellerInputIdentifier": estimate["Identifier"].clone(),
            "IsAmazonFulfilled": estimate["IsAmazonFulfilled"].clone(),
            "IdValue": sku,
            "PriceToEstimateFees": prices.clone(),
        },
        "FeesEstimate": {
            "TimeOfFeesEstimation": httpdate_now(),
            "TotalFeesEstimate": money(referral + digital_services),
            "FeeDetailList": [fee("ReferralFee", referral), fee("DigitalServicesFee", digital_services)],
        },
    }}});
    answered(&simulator, AMAZON_GET_MY_FEES_ESTIMATE, body)
}

// ---------------------------------------------------------------------------------------
// FBA Inventory.
// ---------------------------------------------------------------------------------------

async fn inventory_summaries(
    State(simulator): State<Simulator>,
    Extension(context): Extension<OperationContext>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refusal(&simulator, &headers) {
        return refused;
    }
    if query.get("granularityType").map(String::as_str) != Some("Marketplace")
        || query.get("granularityId").map(String::as_str) != Some(MARKETPLACE_FR)
        || query.get("marketplaceIds").map(String::as_str) != Some(MARKETPLACE_FR)
    {
        return sp_error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "granularityType=Marketplace, granularityId and marketplaceIds=A13V1IB3VIYZZH are required",
        );
    }
    // A token is `sim-fba-<offset>-<issued at, ms of uptime>`.
    let offset = match query.get("nextToken") {
        None => 0,
        Some(token) => {
            let parsed = token.strip_prefix("sim-fba-").and_then(|rest| {
                let (offset, issued_ms) = rest.split_once('-')?;
                Some((offset.parse().ok()?, issued_ms.parse::<u64>().ok()?))
            });
            let lifetime = simulator
                .faults_config()
                .for_operation(AMAZON_GET_INVENTORY_SUMMARIES)
                .page_token_lifetime_ms;
            match parsed {
                Some((offset, issued_ms))
                    if lifetime.is_none_or(|lifetime| {
                        simulator.uptime_ms().saturating_sub(issued_ms) <= lifetime
                    }) =>
                {
                    offset
                }
                _ => {
                    return sp_error(StatusCode::BAD_REQUEST, "InvalidInput", "Invalid nextToken");
                }
            }
        }
    };
    let details = query.get("details").map(String::as_str) == Some("true");
    let mut malformer = context.malformer();
    let (mut summaries, total): (Vec<Value>, usize) = {
        let market = simulator.market();
        let fba: Vec<usize> = (0..market.catalogue().references.len())
            .filter(|&index| market.state(index).fba.is_some())
            .collect();
        let summaries = fba
            .iter()
            .skip(offset)
            .take(INVENTORY_PAGE_SIZE)
            .filter_map(|&index| {
                let line = market.state(index).fba.as_ref()?;
                let reference = market.reference(index);
                let mut summary = json!({
                    "asin": asin_of(index),
                    "fnSku": format!("X00{index:07}"),
                    "sellerSku": reference.product.sku,
                    "condition": "NewItem",
                    "productName": reference.product.title,
                    "totalQuantity": line.quantity.max(0) + line.inbound,
                    "stores": [],
                });
                if details {
                    summary["inventoryDetails"] = json!({
                        "fulfillableQuantity": line.quantity.max(0),
                        "inboundWorkingQuantity": 0,
                        "inboundShippedQuantity": line.inbound,
                        "inboundReceivingQuantity": 0,
                    });
                }
                Some(summary)
            })
            .collect();
        (summaries, fba.len())
    };
    for summary in &mut summaries {
        // The fbaInventory model marks every field of a summary optional; the hub needs
        // `asin` and (asked with details=true) `inventoryDetails`, while a summary without
        // `condition` is read as new stock: only a wrong type breaks it.
        malformer.malform_fields(
            summary,
            &[
                PayloadField::Required("asin"),
                PayloadField::Required("inventoryDetails"),
                PayloadField::Optional("condition"),
            ],
        );
    }
    simulator.record_malformed(&context, &malformer);
    let next = offset + INVENTORY_PAGE_SIZE;
    let mut body = json!({
        "payload": {
            "granularity": {"granularityType": "Marketplace", "granularityId": MARKETPLACE_FR},
            "inventorySummaries": summaries,
        },
    });
    if next < total {
        body["pagination"] =
            json!({"nextToken": format!("sim-fba-{next}-{}", simulator.uptime_ms())});
    }
    answered(&simulator, AMAZON_GET_INVENTORY_SUMMARIES, body)
}

impl Simulator {
    /// Our FBA stock on amazon.fr as it is now, `(GTIN, fulfillable units)` in catalogue
    /// order: what a complete read of getInventorySummaries must find.
    pub fn fba_stock(&self) -> Vec<(String, i64)> {
        let market = self.market();
        (0..market.catalogue().references.len())
            .filter_map(|index| {
                let line = market.state(index).fba.as_ref()?;
                Some((
                    market.reference(index).product.gtin.clone(),
                    line.quantity.max(0),
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asins_round_trip_and_http_dates_are_well_formed() {
        assert_eq!(asin_of(42), "B000000042");
        assert_eq!(index_of("B000000042"), Some(42));
        assert_eq!(index_of("B0INVALID0"), None);
        let date = httpdate_now();
        assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
    }

    #[test]
    fn access_tokens_are_bound_to_the_refresh_token_and_expire() {
        let credentials = Credentials::default();
        let later = now_ms() + 60_000;
        let token = access_token(&credentials, later);
        assert!(token.starts_with("Atza|sim."));
        let other = Credentials {
            amazon_refresh_token: "Atzr|another".to_owned(),
            ..Credentials::default()
        };
        assert_ne!(token, access_token(&other, later));
    }
}
