//! The simulator's HTTP server: the third-party APIs of the hub's sources (marketplaces,
//! ERP, suppliers) served in their real shapes over one generated, moving market, with
//! faults injected per operation and request counters for tests.
//!
//! - The market is a [`MarketSimulation`](crate::MarketSimulation) behind a lock, moved
//!   either on request (`POST /_sim/advance?changes=N`, [`Simulator::advance`]) or by the
//!   wall clock ([`MarketClock::ChangesPerSecond`]).
//! - Faults ([`FaultConfig`]) are set at start and replaced at run time with
//!   `PUT /_sim/faults`; `GET /_sim/stats` returns [`SimStats`].
//! - `/_sim/*` is the simulator's own control surface: never faulted, never authenticated.
//!
//! # Adding an API
//!
//! Each API lives in its own file, `src/http/<api>.rs`, and is added to [`api_routes`]
//! with one line. The file (see `mirakl.rs`):
//!
//! 1. names its operations `<api>.<operation>` (`"mirakl.OF21"`), the names the hub's
//!    connectors use for their sources, so stats and faults read the same on both sides;
//! 2. exposes `pub(super) fn routes(simulator: &Simulator) -> Router<Simulator>`, wrapping
//!    each route with [`operation`] so the fault layer counts and faults it;
//! 3. checks the API's own authentication and answers errors in the API's own shape;
//! 4. reads the market under [`Simulator::market`] (catalogue, stock, costs and product
//!    pages per channel), builds its JSON, and passes each payload element through the
//!    request's [`Malformer`] (from the [`OperationContext`] extension), naming the fields
//!    a client reads, each [`PayloadField::Required`] or, when the API may leave it out,
//!    [`PayloadField::Optional`] (mistyped, never removed), then reports it with
//!    [`Simulator::record_malformed`]. The element malformed is the one a client refuses
//!    whole (a product page, not each of its offers), so that each counts once;
//! 5. adds the credentials it accepts to [`Credentials`] so `hub simulate` prints them.

mod amazon;
mod faults;
mod fnac_darty;
mod mirakl;
mod octopia;
mod odoo;
mod offer_dates;
mod state;
mod stats;
mod supplier;
mod timestamps;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use serde::Deserialize;
use tokio::net::TcpListener;

pub use amazon::{
    AMAZON_GET_INVENTORY_SUMMARIES, AMAZON_GET_ITEM_OFFERS, AMAZON_GET_ITEM_OFFERS_BATCH,
    AMAZON_GET_MY_FEES_ESTIMATE, AMAZON_LWA_TOKEN, AMAZON_SEARCH_CATALOG_ITEMS, asin_of,
};
pub use faults::{
    FailingWindow, FaultConfig, FaultConfigError, Faults, Malformer, PayloadField, RateLimit,
    Window,
};
pub use fnac_darty::{FNAC_AUTH, FNAC_OFFERS_QUERY, FNAC_PRICING_QUERY};
pub use mirakl::{MIRAKL_OF21, MIRAKL_P11};
pub use octopia::{OCTOPIA_OFFERS, OCTOPIA_TOKEN};
pub use odoo::{ODOO_JSON2, ODOO_JSONRPC, odoo_partner_id};
pub use state::{OperationContext, PageSummary, Simulator};
pub use stats::{MarketStats, OperationStats, SimStats};
pub use supplier::{SUPPLIER_FILE_HEADER, SUPPLIER_PRICE_FILE};

use crate::catalogue::{CatalogueError, CatalogueParams};
use crate::simulation::SimulationError;
use faults::{Decision, ThrottleCause};

/// The APIs served, one line each (see the module documentation).
fn api_routes(simulator: &Simulator) -> Router<Simulator> {
    Router::new()
        .merge(mirakl::routes(simulator))
        .merge(amazon::routes(simulator))
        .merge(octopia::routes(simulator))
        .merge(fnac_darty::routes(simulator))
        .merge(odoo::routes(simulator))
        .merge(supplier::routes(simulator))
}

/// How the market moves while the server runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MarketClock {
    /// Only when asked (`POST /_sim/advance`): tests that need a still market.
    OnRequest,
    /// This many market changes per second of wall-clock time.
    ChangesPerSecond(f64),
}

/// The credentials the simulated APIs accept. `hub simulate` prints every field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Credentials {
    /// Mirakl's `Authorization` header value (the shop's API key, no `Bearer`).
    pub mirakl_api_key: String,
    /// Our shop on the Mirakl marketplace: P11 lists our offers under this id.
    pub mirakl_shop_id: u64,
    /// Login with Amazon: our application's client id and secret, the seller's refresh
    /// token, and how long the access tokens it grants live.
    pub amazon_client_id: String,
    pub amazon_client_secret: String,
    pub amazon_refresh_token: String,
    pub amazon_token_lifetime_secs: u64,
    /// Our seller id on amazon.fr: our offers carry it.
    pub amazon_seller_id: String,
    /// Octopia's OAuth2 client credentials and the seller they act for (`SellerId`).
    pub octopia_client_id: String,
    pub octopia_client_secret: String,
    pub octopia_seller_id: u64,
    /// Fnac Darty's `auth` credentials.
    pub fnac_partner_id: String,
    pub fnac_shop_id: String,
    pub fnac_key: String,
    /// Odoo's database, the API user's login and API key (JSON-RPC's password, JSON-2's
    /// bearer token).
    pub odoo_database: String,
    pub odoo_login: String,
    pub odoo_api_key: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            mirakl_api_key: "sim-mirakl-shop-key".to_owned(),
            mirakl_shop_id: 2_010,
            amazon_client_id: "amzn1.application-oa2-client.sim".to_owned(),
            amazon_client_secret: "sim-lwa-client-secret".to_owned(),
            amazon_refresh_token: "Atzr|sim-refresh-token".to_owned(),
            amazon_token_lifetime_secs: 3_600,
            amazon_seller_id: "A1SIMOURSELLER".to_owned(),
            octopia_client_id: "sim-octopia-client".to_owned(),
            octopia_client_secret: "sim-octopia-secret".to_owned(),
            octopia_seller_id: 98_979,
            fnac_partner_id: "SIM-FNAC-PARTNER".to_owned(),
            fnac_shop_id: "SIM-FNAC-SHOP".to_owned(),
            fnac_key: "sim-fnac-key".to_owned(),
            odoo_database: "sim-erp".to_owned(),
            odoo_login: "hub-bot".to_owned(),
            odoo_api_key: "sim-odoo-api-key".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimServerConfig {
    pub catalogue: CatalogueParams,
    /// Seed of the market's moves.
    pub market_seed: u64,
    /// Mean simulated time between two market changes.
    pub mean_change_gap_ms: i64,
    pub clock: MarketClock,
    pub faults: FaultConfig,
    pub credentials: Credentials,
    /// Share of product pages that show a marketplace's known placeholder offer.
    pub placeholder_share: f64,
}

impl Default for SimServerConfig {
    fn default() -> Self {
        SimServerConfig {
            catalogue: CatalogueParams::default(),
            market_seed: 7,
            mean_change_gap_ms: 500,
            clock: MarketClock::OnRequest,
            faults: FaultConfig::default(),
            credentials: Credentials::default(),
            placeholder_share: 0.02,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimServerError {
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error(transparent)]
    Simulation(#[from] SimulationError),
    #[error(transparent)]
    Faults(#[from] FaultConfigError),
    #[error("simulator parameter {field} is {value}: {expected}")]
    InvalidParameter {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("cannot listen on {address}: {source}; pick a free loopback port")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the simulator's server stopped: {0}")]
    Serve(std::io::Error),
}

impl Simulator {
    /// Every API plus the control routes, ready to serve.
    pub fn router(&self) -> Router {
        api_routes(self)
            .route("/_sim/stats", get(stats))
            .route("/_sim/faults", get(get_faults).put(put_faults))
            .route("/_sim/advance", axum::routing::post(advance))
            .with_state(self.clone())
    }

    /// Serves on `listener` until `shutdown` resolves, moving the market by `clock`.
    pub async fn serve(
        self,
        listener: TcpListener,
        clock: MarketClock,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), SimServerError> {
        let ticker = match clock {
            MarketClock::OnRequest => None,
            MarketClock::ChangesPerSecond(rate) => {
                Some(tokio::spawn(run_clock(self.clone(), rate)))
            }
        };
        let served = axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(SimServerError::Serve);
        if let Some(ticker) = ticker {
            ticker.abort();
        }
        served
    }

    /// Binds `address` (port 0: any free port) and serves in the background.
    pub async fn start(
        self,
        address: SocketAddr,
        clock: MarketClock,
    ) -> Result<RunningSimulator, SimServerError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| SimServerError::Bind { address, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| SimServerError::Bind { address, source })?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let simulator = self.clone();
        let task = tokio::spawn(self.serve(listener, clock, async move {
            let _ = stopped.await;
        }));
        Ok(RunningSimulator {
            address: local,
            simulator,
            stop: Some(stop),
            task,
        })
    }
}

/// A simulator serving in the background; dropping it stops the server.
pub struct RunningSimulator {
    pub address: SocketAddr,
    pub simulator: Simulator,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), SimServerError>>,
}

impl RunningSimulator {
    /// `http://<address>`, the base URL of every API.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops accepting requests, lets those in flight finish, and returns.
    pub async fn stop(mut self) -> Result<(), SimServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(join) => Err(SimServerError::Serve(std::io::Error::other(join))),
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Moves the market at `rate` changes per second, in steps of a tenth of a second.
async fn run_clock(simulator: Simulator, rate: f64) {
    let started = tokio::time::Instant::now();
    let mut applied: u64 = 0;
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    loop {
        ticks.tick().await;
        let due = (started.elapsed().as_secs_f64() * rate) as u64;
        if due > applied {
            simulator.advance(due - applied);
            applied = due;
        }
    }
}

/// Wraps an API route in the fault layer under its operation name: every request is
/// counted, delayed, failed or throttled as the fault plan says, and the route receives an
/// [`OperationContext`] extension to malform its elements with.
pub(crate) fn operation(
    simulator: &Simulator,
    name: &'static str,
    route: MethodRouter<Simulator>,
) -> MethodRouter<Simulator> {
    route.layer(middleware::from_fn_with_state(
        (simulator.clone(), name),
        apply_faults,
    ))
}

async fn apply_faults(
    State((simulator, operation)): State<(Simulator, &'static str)>,
    mut request: Request,
    next: Next,
) -> Response {
    let (decision, delay) = simulator.admit(operation);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = match decision {
        Decision::Serve {
            malformed_rate,
            seed,
        } => {
            request
                .extensions_mut()
                .insert(Simulator::context(operation, malformed_rate, seed));
            next.run(request).await
        }
        Decision::Fail { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            json_error(status, "the service is unavailable (simulated failure)")
        }
        Decision::Throttle {
            retry_after_secs,
            cause,
        } => {
            let message = match cause {
                ThrottleCause::Rate | ThrottleCause::Storm => {
                    "too many requests (simulated throttling)"
                }
                ThrottleCause::RateLimit => "rate limit exceeded",
            };
            let mut response = json_error(StatusCode::TOO_MANY_REQUESTS, message);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
    };
    simulator.record_response(operation, response.status().as_u16());
    response
}

/// An error in the shape most of the simulated APIs share: `{"status", "message"}`.
pub(crate) fn json_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({"status": status.as_u16(), "message": message})),
    )
        .into_response()
}

async fn stats(State(simulator): State<Simulator>) -> Json<SimStats> {
    Json(simulator.stats())
}

async fn get_faults(State(simulator): State<Simulator>) -> Json<FaultConfig> {
    Json(simulator.faults_config())
}

async fn put_faults(
    State(simulator): State<Simulator>,
    Json(config): Json<FaultConfig>,
) -> Response {
    match simulator.set_faults(config) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => json_error(StatusCode::BAD_REQUEST, &error.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct AdvanceQuery {
    changes: u64,
}

async fn advance(
    State(simulator): State<Simulator>,
    Query(query): Query<AdvanceQuery>,
) -> Json<MarketStats> {
    simulator.advance(query.changes);
    Json(simulator.stats().market)
}
