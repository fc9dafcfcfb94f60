//! Octopia's seller API for our Cdiscount shop (`CDISFR`): the OAuth2 client-credentials
//! token endpoint (Keycloak realm `maas`) and `GET /seller/v2/offers` with Cdiscount's
//! `salesChannelFeedback`. Calls carry `Authorization: Bearer <token>` and `SellerId`.
//!
//! Shapes follow the connector's recorded fixtures (`connectors/src/octopia/payload.rs`
//! lists the sources and the members that had to be assumed): `{"itemsPerPage", "items"}`,
//! the next page in the `Link` header, `offerId` as `sellerId_product_condition_channel`
//! with Cdiscount's condition code, instants with seven fractional digits. As documented
//! ("Retrieve Offers" and the release note "GET /offers — fields for lightweight
//! responses"): `expand=salesChannelFeedback` adds Cdiscount's feedback; `fields` selects
//! fields, nodes or a node's fields (`salesChannelFeedback.competingOffers`), always with
//! the base fields `offerId`, `sellerExternalReference`, `offerState`, `createdAt`,
//! `updatedAt` (and `salesChannelId`, as the release note's example answer shows), and
//! makes `expand` ignored; `offerStates` and `updatedAtMin` filter; `limit`
//! goes up to 1,000. The deprecated `/competing-offers` endpoints are not served.
//!
//! `updatedAt` dates OUR offer only: its price, shipping or quantity. Whether Octopia also
//! moves it when Cdiscount's feedback changes (a competitor repricing) is not documented,
//! so the simulator takes the reading under which a client relying on it would miss
//! competitor moves: those show only in the feedback, whenever it is asked for. The market
//! moves in simulated time, far ahead of the wall clock, so an offer is dated on the wall
//! clock when its current version is first served (the offers of the market at the API's
//! opening at its opening), each new date after every date served before, so that a client
//! asking for what changed after the newest date it read misses nothing. Items are ordered
//! by `updatedAt`, then by catalogue index, so `updatedAtMin` plus the page token walks
//! the offers without gaps while the market moves.

use std::collections::HashMap;
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use hub_core::channel::Channel;
use hub_schemas::records::EpochMillis;
use serde_json::{Value, json};

use super::offer_dates::OwnOfferDates;
use super::state::MarketState;
use super::timestamps::{epoch_millis, seven_digit_utc};
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
/// Cdiscount's code for the new condition, as `offerId` writes it.
const CONDITION_NEW_CODE: u8 = 6;
const FEEDBACK: &str = "salesChannelFeedback";
/// What every item carries, whatever `fields` selects: the release note's five base fields,
/// and `salesChannelId`, which its example answer to a `fields` request carries too.
const BASE_FIELDS: [&str; 6] = [
    "offerId",
    "sellerExternalReference",
    "offerState",
    "createdAt",
    "updatedAt",
    "salesChannelId",
];

pub(super) fn routes(simulator: &Simulator) -> Router<Simulator> {
    let repository = OwnOfferDates::open(
        &simulator.market(),
        Channel::Cdiscount,
        epoch_millis(SystemTime::now()),
    );
    Router::new()
        .route(TOKEN_PATH, operation(simulator, OCTOPIA_TOKEN, post(token)))
        .route(
            OFFERS_PATH,
            operation(simulator, OCTOPIA_OFFERS, get(offers)),
        )
        .layer(Extension(repository))
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

/// The offers a call asks for, and how it wants them written.
struct OffersQuery {
    limit: usize,
    /// Inclusive, in nanoseconds since the epoch: Octopia's instants go to 100 ns.
    updated_at_min_ns: Option<i128>,
    /// `offerStates`; none: every state.
    states: Option<Vec<String>>,
    selection: Selection,
    after: Option<Position>,
}

/// What an item carries.
enum Selection {
    /// Every field; Cdiscount's feedback with `expand=salesChannelFeedback`.
    Full { feedback: bool },
    /// `fields`: these paths (`condition`, `facialPrice.price`, `salesChannelFeedback`...)
    /// and the base fields.
    Fields(Vec<String>),
}

impl Selection {
    fn feedback(&self) -> bool {
        match self {
            Selection::Full { feedback } => *feedback,
            Selection::Fields(paths) => paths
                .iter()
                .any(|path| path.split('.').next() == Some(FEEDBACK)),
        }
    }
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
    let updated_at_min_ns = query
        .get("updatedAtMin")
        .map(|raw| {
            raw.parse::<jiff::Timestamp>()
                .map(|timestamp| timestamp.as_nanosecond())
                .map_err(|_| {
                    bad(format!(
                        "updatedAtMin must be an RFC 3339 date-time, got '{raw}'"
                    ))
                })
        })
        .transpose()?;
    let states = query
        .get("offerStates")
        .map(|raw| {
            raw.split(',')
                .map(|state| match state.trim() {
                    state @ ("Active" | "Inactive") => Ok(state.to_owned()),
                    other => Err(bad(format!(
                        "offerStates must list Active or Inactive, got '{other}'"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let after = query
        .get("pageToken")
        .map(|raw| {
            parse_page_token(raw).ok_or_else(|| bad(format!("pageToken '{raw}' is not valid")))
        })
        .transpose()?;
    // Documented: with both, expand is ignored.
    let selection = match query.get("fields") {
        Some(fields) => Selection::Fields(
            fields
                .split(',')
                .map(str::trim)
                .filter(|path| !path.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        None => Selection::Full {
            feedback: query
                .get("expand")
                .is_some_and(|expand| expand.split(',').any(|part| part == FEEDBACK)),
        },
    };
    Ok(OffersQuery {
        limit,
        updated_at_min_ns,
        states,
        selection,
        after,
    })
}

async fn offers(
    State(simulator): State<Simulator>,
    Extension(context): Extension<OperationContext>,
    Extension(repository): Extension<OwnOfferDates>,
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
        // The simulated shop keeps its offers active: a stock-out shows in `quantity`.
        let state_wanted = request
            .states
            .as_ref()
            .is_none_or(|states| states.iter().any(|state| state == "Active"));
        let mut selected: Vec<Position> = repository
            .changed_at(&market)
            .into_iter()
            .map(|(updated_at, index)| Position { updated_at, index })
            .filter(|position| {
                state_wanted
                    && request
                        .updated_at_min_ns
                        .is_none_or(|min| i128::from(position.updated_at) * 1_000_000 >= min)
                    && request.after.is_none_or(|after| *position > after)
            })
            .collect();
        selected.sort_unstable();
        let next = (selected.len() > request.limit).then(|| selected[request.limit - 1]);
        let items: Vec<Value> = selected
            .iter()
            .take(request.limit)
            .filter_map(|position| {
                let page = market.page(position.index, Channel::Cdiscount)?;
                let item = own_offer(
                    &market,
                    seller_id,
                    *position,
                    page,
                    page.ours?,
                    request.selection.feedback(),
                );
                Some(match &request.selection {
                    Selection::Full { .. } => item,
                    Selection::Fields(paths) => project(&item, paths),
                })
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

/// The base fields of `item` and the `paths` it has: a field or node (`condition`,
/// `deliveryOffers`) whole, a node's field (`facialPrice.price`) inside its node.
fn project(item: &Value, paths: &[String]) -> Value {
    let mut projected = serde_json::Map::new();
    for base in BASE_FIELDS {
        if let Some(value) = item.get(base) {
            projected.insert(base.to_owned(), value.clone());
        }
    }
    for path in paths {
        let (node, field) = match path.split_once('.') {
            Some((node, field)) => (node, Some(field)),
            None => (path.as_str(), None),
        };
        let Some(value) = item.get(node) else {
            continue;
        };
        match field {
            None => {
                projected.insert(node.to_owned(), value.clone());
            }
            Some(field) => {
                if let Some(inner) = value.get(field) {
                    let entry = projected
                        .entry(node.to_owned())
                        .or_insert_with(|| Value::Object(serde_json::Map::new()));
                    if let Some(entry) = entry.as_object_mut() {
                        entry.insert(field.to_owned(), inner.clone());
                    }
                }
            }
        }
    }
    Value::Object(projected)
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
    let product_reference = format!("AUC{gtin}");
    let mut item = json!({
        "offerId": format!("{seller_id}_{product_reference}_{CONDITION_NEW_CODE}_{SALES_CHANNEL}"),
        "sellerId": seller_id,
        "salesChannelId": SALES_CHANNEL,
        "sellerExternalReference": reference.product.sku,
        "product": {"gtin": gtin, "reference": product_reference},
        "condition": "New",
        "offerState": "Active",
        "integrationPrice": {"price": amount(ours.listing)},
        "facialPrice": {"price": amount(ours.listing), "originPrice": amount(ours.listing)},
        "quantity": quantity,
        "deliveryOffers": [{"deliveryModeCode": "THD", "shippingPrice": amount(ours.shipping)}],
        "createdAt": seven_digit_utc(market.catalogue().as_of),
        "updatedAt": seven_digit_utc(position.updated_at),
    });
    if expand_feedback && let Some(object) = item.as_object_mut() {
        object.insert(FEEDBACK.to_owned(), feedback(page, ours));
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
