//! Octopia's seller API for our Cdiscount shop (`CDISFR`): the OAuth2 client-credentials
//! token endpoint (Keycloak realm `maas`) and `GET /seller/v2/offers` with Cdiscount's
//! `salesChannelFeedback`. Calls carry `Authorization: Bearer <token>` and `SellerId`.
//!
//! Shapes follow the connector's recorded fixtures (`connectors/src/octopia/payload.rs`
//! lists the sources and the members that had to be assumed): `{"itemsPerPage", "items"}`,
//! the next page in the `Link` header. Competition is served where Octopia serves it for
//! Cdiscount, in each offer's `salesChannelFeedback` (the deprecated `/competing-offers`
//! endpoints are not served). Items are our offers ordered by `updatedAt`, then by
//! offer id, so `updatedAtMin` plus the page token walks the catalogue without gaps while
//! the market moves; an offer's `updatedAt` is when its product page last changed.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use hub_core::channel::Channel;
use hub_schemas::records::EpochMillis;
use serde_json::{Value, json};

use super::state::MarketState;
use super::timestamps::{page_updated_at, rfc3339};
use super::{OperationContext, Simulator, operation};
use crate::market::{BuyBox, ChannelMarket, Offer};

/// The token endpoint.
pub const OCTOPIA_TOKEN: &str = "cdiscount.token";
/// `GET /seller/v2/offers`.
pub const OCTOPIA_OFFERS: &str = "cdiscount.offers";

pub const TOKEN_PATH: &str = "/auth/realms/maas/protocol/openid-connect/token";
pub const OFFERS_PATH: &str = "/seller/v2/offers";

const SALES_CHANNEL: &str = "CDISFR";
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
const TOKEN_LIFETIME_SECS: u64 = 7200;
const COMPETITOR_SELLER_IDS: u64 = 41_000;

pub(super) fn routes(simulator: &Simulator) -> Router<Simulator> {
    Router::new()
        .route(TOKEN_PATH, operation(simulator, OCTOPIA_TOKEN, post(token)))
        .route(
            OFFERS_PATH,
            operation(simulator, OCTOPIA_OFFERS, get(offers)),
        )
}

/// A refused call, answered in the problem-details shape the seller API answers with.
struct Problem {
    status: StatusCode,
    detail: String,
}

fn problem(status: StatusCode, detail: impl Into<String>) -> Problem {
    Problem {
        status,
        detail: detail.into(),
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({
                "type": "about:blank",
                "title": self.status.canonical_reason().unwrap_or("Error"),
                "status": self.status.as_u16(),
                "detail": self.detail,
            })),
        )
            .into_response()
    }
}

async fn token(State(simulator): State<Simulator>, body: String) -> Response {
    let Ok(form) = serde_urlencoded::from_str::<HashMap<String, String>>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"error": "invalid_request", "error_description": "The body is not a form"}),
            ),
        )
            .into_response();
    };
    let credentials = simulator.credentials();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"})),
        )
            .into_response();
    }
    let presented = (form.get("client_id"), form.get("client_secret"));
    if presented
        != (
            Some(&credentials.octopia_client_id),
            Some(&credentials.octopia_client_secret),
        )
    {
        // Keycloak's answer to unknown client credentials.
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"})),
        )
            .into_response();
    }
    Json(json!({
        "access_token": access_token(&simulator),
        "expires_in": TOKEN_LIFETIME_SECS,
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "scope": "profile email",
    }))
    .into_response()
}

fn access_token(simulator: &Simulator) -> String {
    format!(
        "sim-octopia-token-{}",
        simulator.credentials().octopia_seller_id
    )
}

fn authorised(simulator: &Simulator, headers: &HeaderMap) -> Result<(), Problem> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if bearer != Some(access_token(simulator).as_str()) {
        return Err(problem(
            StatusCode::UNAUTHORIZED,
            "The access token is missing, invalid or expired",
        ));
    }
    let seller = headers
        .get("SellerId")
        .and_then(|value| value.to_str().ok());
    if seller
        != Some(
            simulator
                .credentials()
                .octopia_seller_id
                .to_string()
                .as_str(),
        )
    {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "The SellerId header is missing or names a seller this client may not act for",
        ));
    }
    Ok(())
}

/// Where a page starts: after this `(updatedAt, catalogue index)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    updated_at: EpochMillis,
    index: usize,
}

fn page_token(position: Position) -> String {
    format!("{}-{}", position.updated_at, position.index)
}

fn parse_page_token(token: &str) -> Option<Position> {
    let (updated_at, index) = token.split_once('-')?;
    Some(Position {
        updated_at: updated_at.parse().ok()?,
        index: index.parse().ok()?,
    })
}

struct OffersQuery {
    limit: usize,
    updated_at_min: Option<EpochMillis>,
    expand_feedback: bool,
    after: Option<Position>,
}

fn read_query(query: &HashMap<String, String>) -> Result<OffersQuery, Problem> {
    let bad = |detail: String| problem(StatusCode::BAD_REQUEST, detail);
    match query.get("salesChannelId").map(String::as_str) {
        Some(SALES_CHANNEL) => {}
        Some(other) => {
            return Err(bad(format!(
                "salesChannelId '{other}' is not a sales channel of this seller"
            )));
        }
        None => return Err(bad("salesChannelId is required".to_owned())),
    }
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| {
                bad(format!(
                    "limit must be an integer between 1 and {MAX_LIMIT}, got '{raw}'"
                ))
            })?,
    };
    let updated_at_min = query
        .get("updatedAtMin")
        .map(|raw| {
            raw.parse::<jiff::Timestamp>()
                .map(|timestamp| timestamp.as_millisecond())
                .map_err(|_| {
                    bad(format!(
                        "updatedAtMin must be an ISO 8601 date-time, got '{raw}'"
                    ))
                })
        })
        .transpose()?;
    let after = query
        .get("pageToken")
        .map(|raw| {
            parse_page_token(raw).ok_or_else(|| bad(format!("pageToken '{raw}' is not valid")))
        })
        .transpose()?;
    Ok(OffersQuery {
        limit,
        updated_at_min,
        expand_feedback: query
            .get("expand")
            .is_some_and(|expand| expand.split(',').any(|part| part == "salesChannelFeedback")),
        after,
    })
}

async fn offers(
    State(simulator): State<Simulator>,
    Extension(context): Extension<OperationContext>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(refused) = authorised(&simulator, &headers) {
        return refused.into_response();
    }
    let request = match read_query(&query) {
        Ok(request) => request,
        Err(refused) => return refused.into_response(),
    };
    let seller_id = simulator.credentials().octopia_seller_id;
    let (mut items, next) = {
        let market = simulator.market();
        let mut selected: Vec<(Position, &ChannelMarket, Offer)> =
            (0..market.catalogue().references.len())
                .filter_map(|index| {
                    let page = market.page(index, Channel::Cdiscount)?;
                    let ours = page.ours?;
                    let position = Position {
                        updated_at: page_updated_at(&market, page),
                        index,
                    };
                    let wanted = request
                        .updated_at_min
                        .is_none_or(|min| position.updated_at >= min)
                        && request.after.is_none_or(|after| position > after);
                    wanted.then_some((position, page, ours))
                })
                .collect();
        selected.sort_by_key(|(position, _, _)| *position);
        let next = (selected.len() > request.limit).then(|| selected[request.limit - 1].0);
        let items: Vec<Value> = selected
            .iter()
            .take(request.limit)
            .map(|(position, page, ours)| {
                own_offer(
                    &market,
                    seller_id,
                    *position,
                    page,
                    *ours,
                    request.expand_feedback,
                )
            })
            .collect();
        (items, next)
    };
    let mut malformer = context.malformer();
    for item in &mut items {
        // Fields whose damage leaves no usable offer (a damaged price would fall back on
        // the facial price): each malformed item must end in quarantine.
        malformer.malform(item, &["product", "updatedAt", "offerState"]);
    }
    simulator.record_malformed(&context, &malformer);
    let mut response = Json(json!({"itemsPerPage": items.len(), "items": items})).into_response();
    if let Some(last) = next {
        let link = next_link(&query, last);
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

fn next_link(query: &HashMap<String, String>, last: Position) -> String {
    let mut parameters: Vec<(&str, String)> = query
        .iter()
        .filter(|(name, _)| name.as_str() != "pageToken")
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    parameters.sort();
    parameters.push(("pageToken", page_token(last)));
    let encoded: Vec<String> = parameters
        .iter()
        .map(|(name, value)| format!("{name}={}", percent_encode(value)))
        .collect();
    format!("<{OFFERS_PATH}?{}>; rel=\"next\"", encoded.join("&"))
}

/// Query-component encoding of everything but unreserved characters (RFC 3986).
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn amount(cents: i64) -> Value {
    // Octopia writes amounts as JSON numbers; cents / 100 prints as the shortest decimal.
    json!(cents as f64 / 100.0)
}

fn own_offer(
    market: &MarketState,
    seller_id: u64,
    position: Position,
    page: &ChannelMarket,
    ours: Offer,
    expand_feedback: bool,
) -> Value {
    let reference = market.reference(position.index);
    let gtin = &reference.product.gtin;
    let quantity = market.state(position.index).erp.quantity.max(0);
    let mut item = json!({
        "offerId": format!("{seller_id}_{gtin}_New_{SALES_CHANNEL}"),
        "sellerId": seller_id,
        "salesChannelId": SALES_CHANNEL,
        "sellerExternalReference": reference.product.sku,
        "product": {"gtin": gtin, "reference": format!("AUC{gtin}")},
        "condition": "New",
        // The simulated shop keeps its offers active: a stock-out shows in `quantity`,
        // and a state that moved without `updatedAt` would escape incremental syncs.
        "offerState": "Active",
        "integrationPrice": {"price": amount(ours.listing)},
        "facialPrice": {"price": amount(ours.listing), "originPrice": amount(ours.listing)},
        "quantity": quantity,
        "deliveryOffers": [{"deliveryModeCode": "TRK", "shippingPrice": amount(ours.shipping)}],
        "createdAt": rfc3339(market.catalogue().as_of),
        "updatedAt": rfc3339(position.updated_at),
    });
    if expand_feedback && let Some(object) = item.as_object_mut() {
        object.insert("salesChannelFeedback".to_owned(), feedback(page, ours));
    }
    item
}

fn feedback(page: &ChannelMarket, ours: Offer) -> Value {
    let best = match page.buy_box {
        BuyBox::Nobody => None,
        BuyBox::Us => Some((true, ours)),
        BuyBox::Competitor(seller) => page
            .competitors
            .iter()
            .find(|(id, _)| *id == seller)
            .map(|(_, offer)| (false, *offer)),
    };
    let competing: Vec<Value> = page
        .competitors
        .iter()
        .map(|(seller, offer)| {
            json!({
                "sellerId": (COMPETITOR_SELLER_IDS + u64::from(*seller)).to_string(),
                "condition": "New",
                "price": amount(offer.listing),
                "shippingPrice": amount(offer.shipping),
            })
        })
        .collect();
    let mut feedback = json!({
        "isOnline": !page.suppressed,
        "competingOffers": competing,
    });
    if let (Some((is_best_offer, offer)), Some(object)) = (best, feedback.as_object_mut()) {
        object.insert(
            "bestOfferDetails".to_owned(),
            json!({
                "isBestOffer": is_best_offer,
                "price": amount(offer.listing),
                "shippingPrice": amount(offer.shipping),
            }),
        );
    }
    feedback
}
