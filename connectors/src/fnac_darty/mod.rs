//! Fnac Darty through its back-office XML API (channel `fnac_darty`): our offers
//! (`offers_query`, incremental on their modification date) joined with the best competing
//! prices by EAN (`pricing_query`). Each poll reads one `offers_query` page of the current
//! window of modification dates, prices its EANs (10 per call), hands the page over and
//! moves to the next page; after the window's last page the next window starts where this
//! one ended.
//!
//! A window `[min, max]` (both bounds inclusive, as the API's `date` filter reads them)
//! closes at the instant it is opened, so no offer can enter it while it is paged through:
//! an offer modified meanwhile gets a later date and belongs to the next window. It can
//! leave it, though, and `paging` counts offsets, so the offers after it move one place up
//! onto a page already read. A page whose `nb_total_result` is lower than the window's
//! first page said therefore sends the sync back to the window's first page: an offer read
//! twice is harmless, a skipped one would be lost until its next change.
//!
//! `Modified` dates changes of OUR offer only: a competitor repricing a product whose offer
//! we did not touch never enters a window. So a competitor pricing sweep prices every EAN of
//! ours again every `pricing_sweep_interval_ms` (counted from the end of the last sweep):
//! after each poll's offers page, while a sweep is under way, it prices up to
//! `pricing_batches_per_poll` batches of 10 EANs (the most a `pricing_query` takes) in
//! ascending EAN order on the same `pricing_query` budget, and hands each batch over as the
//! incremental sync does (our last-read price joined with the best competitor), with its own
//! cursor (`fnac_darty/pricing_sweep`: waiting until a date, or the last EAN swept). The
//! offers sync thus waits at most a few pricing calls, and a restart resumes the sweep
//! right after the last EAN handed over.
//!
//! The EANs swept are those of the offers the connector has read, kept in memory with our
//! price and updated by every `offers_query` page. Each sweep, and a sweep resumed after a
//! restart (when memory holds only what the incremental sync read since), first reads every
//! offer again, one page per poll, with `offers_query` over the window from the beginning
//! to the moment that read starts (later changes are the incremental sync's), paged as
//! above; what it and the incremental sync meanwhile read replaces the index, so an offer
//! gone from the shop is not swept. This costs one `offers_query` page per `page_size`
//! offers, a tenth of the sweep's `pricing_query` calls at the default page size.

pub mod config;
pub mod mapping;
pub mod payload;
pub mod sweep;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};

pub use self::config::FnacDartyConfig;
use self::config::read_catalogue;
use self::mapping::{
    BestCompetitor, OffersPage, ResponseError, offer_signals, read_auth, read_offers_page,
    read_pricing,
};
use self::payload::{
    MAX_PRICING_REFERENCES, ModifiedBetween, Session, ShopCredentials, auth_request,
    offers_query_request, pricing_query_request,
};
use self::sweep::OfferIndex;
use crate::connector::{Connector, HandedOver, PollReport, RecordSink, hand_over, load_cursor};
use crate::machinery::{
    ApiClient, ApiResponse, BreakerState, ConnectorError, Cursor, CursorKey, CursorStore,
    ErrorKind, PeriodicSweep, Secret, TokenCache, epoch_millis,
};
use crate::sourced::{Origin, Sourced};
use crate::wire::rfc3339_from_epoch_millis;

/// The connector's name in configuration, metrics and cursors (the channel it reads).
pub const CONNECTOR: &str = "fnac_darty";
pub const AUTH: &str = "auth";
pub const OFFERS_QUERY: &str = "offers_query";
pub const PRICING_QUERY: &str = "pricing_query";
/// The competitor pricing sweep's cursor (its calls are `pricing_query`s).
pub const PRICING_SWEEP: &str = "pricing_sweep";
/// A token is renewed this long before its validity ends.
const TOKEN_RENEWAL_MARGIN: Duration = Duration::from_secs(60);

/// Where the offers sync stands, persisted as the cursor's JSON value: the window of
/// modification dates `[modified_min, window_max]` being read, and its next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffersCursor {
    /// Start of the window (epoch ms); none: from the beginning.
    pub modified_min: Option<i64>,
    /// End of the window under way; none: no window open, the next poll opens one.
    pub window_max: Option<i64>,
    pub paging: u32,
    /// How many offers the window's first page said it holds (`nb_total_result`).
    #[serde(default)]
    pub window_total: Option<u32>,
}

impl Default for OffersCursor {
    fn default() -> Self {
        OffersCursor {
            modified_min: None,
            window_max: None,
            paging: 1,
            window_total: None,
        }
    }
}

/// What an `offers_query` page says about its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub total_paging: u32,
    /// `nb_total_result`, when the API sends it.
    pub total_results: Option<u32>,
}

impl WindowCount {
    fn of(page: &OffersPage) -> Self {
        WindowCount {
            total_paging: page.total_paging,
            total_results: page.total_results,
        }
    }
}

impl OffersCursor {
    /// The cursor after page `paging` of the window ending at `window_max`, given what the
    /// page said of its window (nothing when the page was unreadable): the next page, the
    /// window again from its first page when offers left it (see the module documentation),
    /// or the next window, which starts 1 ms after this one ended. Also says whether the
    /// window is done.
    pub fn after_page(&self, window_max: i64, count: Option<WindowCount>) -> (Self, bool) {
        let shrank = count
            .and_then(|count| count.total_results)
            .zip(self.window_total)
            .is_some_and(|(now, first)| now < first);
        if shrank {
            let again = OffersCursor {
                modified_min: self.modified_min,
                window_max: Some(window_max),
                paging: 1,
                window_total: None,
            };
            return (again, false);
        }
        if count.is_some_and(|count| self.paging >= count.total_paging) {
            let next = OffersCursor {
                modified_min: Some(window_max + 1),
                ..OffersCursor::default()
            };
            return (next, true);
        }
        let next = OffersCursor {
            modified_min: self.modified_min,
            window_max: Some(window_max),
            paging: self.paging + 1,
            window_total: self
                .window_total
                .or(count.and_then(|count| count.total_results)),
        };
        (next, false)
    }
}

pub struct FnacDartyConnector {
    client: ApiClient,
    credentials: ShopCredentials,
    base: Url,
    page_size: u32,
    gtin_by_sku: HashMap<String, String>,
    token: TokenCache,
    cursor_key: CursorKey,
    sweep_key: CursorKey,
    sweep_interval_ms: u64,
    sweep_batches_per_poll: u32,
    index: OfferIndex,
}

impl FnacDartyConnector {
    /// Validates the configuration, reads the key from the environment or its file and the
    /// SKU -> GTIN catalogue from `catalogue_file`.
    pub fn from_config(config: &FnacDartyConfig) -> Result<Self, ConnectorError> {
        let invalid = |detail: String| ConnectorError::config(CONNECTOR, detail);
        let key =
            Secret::from_env(&config.key_env).map_err(|error| invalid(format!("key: {error}")))?;
        let text = std::fs::read_to_string(&config.catalogue_file).map_err(|error| {
            invalid(format!(
                "catalogue_file {}: {error}",
                config.catalogue_file.display()
            ))
        })?;
        let gtin_by_sku = read_catalogue(&text).map_err(|error| {
            invalid(format!(
                "catalogue_file {}: {error}",
                config.catalogue_file.display()
            ))
        })?;
        Self::new(config, key, gtin_by_sku)
    }

    /// The connector with its key and catalogue already read.
    pub fn new(
        config: &FnacDartyConfig,
        key: Secret,
        gtin_by_sku: HashMap<String, String>,
    ) -> Result<Self, ConnectorError> {
        config.validate()?;
        let base = Url::parse(&format!("{}/", config.base_url.trim_end_matches('/'))).map_err(
            |error| {
                ConnectorError::config(
                    CONNECTOR,
                    format!("base_url {:?}: {error}", config.base_url),
                )
            },
        )?;
        let client = ApiClient::builder(CONNECTOR, &config.http)
            .operation(AUTH, config.auth_rate)
            .operation(OFFERS_QUERY, config.offers_query_rate)
            .operation(PRICING_QUERY, config.pricing_query_rate)
            .build()?;
        Ok(FnacDartyConnector {
            client,
            credentials: ShopCredentials {
                partner_id: config.partner_id.trim().to_owned(),
                shop_id: config.shop_id.trim().to_owned(),
                key,
            },
            base,
            page_size: config.page_size,
            gtin_by_sku,
            token: TokenCache::new(TOKEN_RENEWAL_MARGIN),
            cursor_key: CursorKey::new(CONNECTOR, OFFERS_QUERY),
            sweep_key: CursorKey::new(CONNECTOR, PRICING_SWEEP),
            sweep_interval_ms: config.pricing_sweep_interval_ms,
            sweep_batches_per_poll: config.pricing_batches_per_poll,
            index: OfferIndex::default(),
        })
    }

    fn sync_position(&self, cursor: Option<&Cursor>) -> OffersCursor {
        Cursor::json_position(&self.cursor_key, cursor, "starting the sync over")
            .unwrap_or_default()
    }

    /// Reads page `position.paging` of the offers modified from `position.modified_min`
    /// (the beginning when none) to `window_max`, recording its offers in the index.
    async fn read_offers(
        &mut self,
        position: &OffersCursor,
        window_max: i64,
    ) -> Result<(Result<OffersPage, ResponseError>, ApiResponse), ConnectorError> {
        let timestamp = |millis: i64| {
            rfc3339_from_epoch_millis(millis)
                .map_err(|error| ConnectorError::config(CONNECTOR, format!("cursor date: {error}")))
        };
        let modified = ModifiedBetween {
            min: timestamp(position.modified_min.unwrap_or(0))?,
            max: timestamp(window_max)?,
        };
        let (page_size, paging) = (self.page_size, position.paging);
        let gtin_by_sku = std::mem::take(&mut self.gtin_by_sku);
        let queried = self
            .query(
                OFFERS_QUERY,
                |session| offers_query_request(session, page_size, paging, &modified),
                |xml, origin| read_offers_page(xml, &gtin_by_sku, origin),
            )
            .await;
        self.gtin_by_sku = gtin_by_sku;
        let (read, answer) = queried?;
        if let Ok(page) = &read {
            self.index.record(&page.offers);
        }
        Ok((read, answer))
    }

    /// The cached token, or a new one from `auth`.
    async fn token(&mut self) -> Result<Secret, ConnectorError> {
        let (client, base) = (&self.client, &self.base);
        let body = auth_request(&self.credentials);
        self.token
            .get_or_renew(|| async move {
                let answer = post(client, base, AUTH, body).await?;
                read_auth(&String::from_utf8_lossy(&answer.body)).map_err(|error| match error {
                    ResponseError::Refused { .. } => answer.error(ErrorKind::Unauthorized {
                        status: answer.status.as_u16(),
                        body: error.to_string(),
                    }),
                    ResponseError::NotTheResponse { .. } => answer.error(ErrorKind::Unavailable {
                        status: answer.status.as_u16(),
                        body: error.to_string(),
                        retry_after: None,
                    }),
                })
            })
            .await
    }

    /// Sends a query built for a token; a refusal (an expired or revoked token) is retried
    /// once with a new token, then read by `read`.
    async fn query<T>(
        &mut self,
        service: &'static str,
        build: impl Fn(&Session<'_>) -> String,
        read: impl Fn(&str, &Origin) -> Result<T, ResponseError>,
    ) -> Result<(Result<T, ResponseError>, ApiResponse), ConnectorError> {
        let mut renewed = false;
        loop {
            let token = self.token().await?;
            let session = Session {
                partner_id: &self.credentials.partner_id,
                shop_id: &self.credentials.shop_id,
                token: token.expose(),
            };
            let answer = post(&self.client, &self.base, service, build(&session)).await?;
            let xml = String::from_utf8_lossy(&answer.body).into_owned();
            match read(&xml, &answer.origin()) {
                Err(ResponseError::Refused { .. }) if !renewed => {
                    self.token.forget();
                    renewed = true;
                }
                Err(refused @ ResponseError::Refused { .. }) => {
                    return Err(answer.error(ErrorKind::RequestRefused {
                        status: answer.status.as_u16(),
                        body: refused.to_string(),
                    }));
                }
                read => return Ok((read, answer)),
            }
        }
    }

    /// The best competing offer of each EAN, 10 EANs per `pricing_query`, and the origin of
    /// the last answer (when the competitors' prices were observed).
    async fn price(
        &mut self,
        eans: &[&str],
        rejected: &mut Vec<Sourced>,
    ) -> Result<(HashMap<String, Option<BestCompetitor>>, Option<Origin>), ConnectorError> {
        let mut best_by_ean = HashMap::new();
        let mut observed = None;
        for chunk in eans.chunks(MAX_PRICING_REFERENCES) {
            let (read, answer) = self
                .query(
                    PRICING_QUERY,
                    |session| pricing_query_request(session, chunk),
                    read_pricing,
                )
                .await?;
            match read {
                Ok(pricing) => {
                    best_by_ean.extend(pricing.best_by_ean);
                    rejected.extend(pricing.rejected);
                }
                // The competition of these EANs stays unknown; the body goes to quarantine.
                Err(error) => rejected.push(unreadable(error, &answer)),
            }
            observed = Some(answer.origin());
        }
        Ok((best_by_ean, observed))
    }

    /// Moves the competitor pricing sweep on, after the poll's offers page: starts it when
    /// due, rebuilds the index (one `offers_query` page) when it is not whole, else prices
    /// and hands over up to `pricing_batches_per_poll` batches. Says whether a sweep is
    /// still under way.
    async fn sweep(
        &mut self,
        cursors: &mut dyn CursorStore,
        out: &mut dyn RecordSink,
        report: &mut PollReport,
    ) -> Result<bool, ConnectorError> {
        let now = epoch_millis(SystemTime::now());
        let saved = load_cursor(cursors, &self.sweep_key).await?;
        let Some(cursor) = Cursor::json_position::<PeriodicSweep>(
            &self.sweep_key,
            saved.as_ref(),
            "waiting one interval",
        ) else {
            let waiting = PeriodicSweep::waiting_from(now, self.sweep_interval_ms);
            report.add(
                self.hand_over_sweep(Vec::new(), &waiting, cursors, out)
                    .await?,
            );
            return Ok(false);
        };
        let Some(after) = cursor.under_way_at(now) else {
            return Ok(false);
        };
        let mut after = after.map(str::to_owned);
        if let PeriodicSweep::Waiting { .. } = cursor {
            // The sweep starts: its cursor says so, and a restart resumes it.
            self.index.outdate();
            let started = PeriodicSweep::Sweeping { resume_at: None };
            report.add(
                self.hand_over_sweep(Vec::new(), &started, cursors, out)
                    .await?,
            );
        }
        if !self.index.is_current() {
            let (rejected, position, done) = self.rebuild_index(now).await?;
            // The offers this read could not read are quarantined like those of the
            // incremental sync: each is a malformed answer, whichever read met it. The read
            // moves on only once they are handed over, so a refused hand-over reads the
            // page again.
            if !rejected.is_empty() {
                let sweeping = PeriodicSweep::Sweeping {
                    resume_at: after.clone(),
                };
                report.add(
                    self.hand_over_sweep(rejected, &sweeping, cursors, out)
                        .await?,
                );
            }
            self.index.rebuild_advanced(position, done);
            return Ok(true);
        }
        for _ in 0..self.sweep_batches_per_poll {
            let batch = self
                .index
                .batch_after(after.as_deref(), MAX_PRICING_REFERENCES);
            let Some(last) = batch.last().map(|offer| offer.gtin.clone()) else {
                let waiting = PeriodicSweep::waiting_from(now, self.sweep_interval_ms);
                report.add(
                    self.hand_over_sweep(Vec::new(), &waiting, cursors, out)
                        .await?,
                );
                return Ok(false);
            };
            let eans: Vec<&str> = batch.iter().map(|offer| offer.gtin.as_str()).collect();
            let mut rejected = Vec::new();
            let (best_by_ean, priced) = self.price(&eans, &mut rejected).await?;
            let mut records = Vec::new();
            if let Some(origin) = priced {
                records.extend(offer_signals(&batch, &best_by_ean, &origin));
            }
            records.extend(rejected);
            let ended = self.index.batch_after(Some(&last), 1).is_empty();
            let next = PeriodicSweep::after_step(
                (!ended).then(|| last.clone()),
                epoch_millis(SystemTime::now()),
                self.sweep_interval_ms,
            );
            report.add(self.hand_over_sweep(records, &next, cursors, out).await?);
            if ended {
                return Ok(false);
            }
            after = Some(last);
        }
        Ok(true)
    }

    /// Reads the next page of the full `offers_query` read that rebuilds the index, opening
    /// that read at `now` if none is under way. An unreadable page is read again at the next
    /// poll: its offers would otherwise be missing from the sweep. Returns the page's offers
    /// that could not be read, and the read's next position and whether it is done, for
    /// [`OfferIndex::rebuild_advanced`] once those are handed over.
    async fn rebuild_index(
        &mut self,
        now: i64,
    ) -> Result<(Vec<Sourced>, OffersCursor, bool), ConnectorError> {
        let rebuild = self.index.rebuild(now);
        let (position, window_max) = (rebuild.position.clone(), rebuild.window_max);
        let (read, answer) = self.read_offers(&position, window_max).await?;
        let (rejected, next) = match read {
            Ok(page) => {
                let next = position.after_page(window_max, Some(WindowCount::of(&page)));
                (page.rejected, next)
            }
            Err(error) => {
                tracing::warn!(
                    connector = CONNECTOR,
                    paging = position.paging,
                    request_id = ?answer.origin().request_id,
                    %error,
                    "an offers_query page rebuilding the sweep's index is unreadable: reading it again at the next poll"
                );
                (Vec::new(), (position, false))
            }
        };
        let (position, done) = next;
        Ok((rejected, position, done))
    }

    async fn hand_over_sweep(
        &self,
        records: Vec<Sourced>,
        position: &PeriodicSweep,
        cursors: &mut dyn CursorStore,
        out: &mut dyn RecordSink,
    ) -> Result<HandedOver, ConnectorError> {
        let next = Cursor::of_json(&self.sweep_key, position)?;
        hand_over(
            self.client.metrics(),
            &self.sweep_key,
            records,
            &next,
            cursors,
            out,
        )
        .await
    }
}

/// POSTs an XML document to `<base>/<service>`.
async fn post(
    client: &ApiClient,
    base: &Url,
    service: &'static str,
    body: String,
) -> Result<ApiResponse, ConnectorError> {
    let url = base
        .join(service)
        .expect("a service name is a valid relative URL");
    client
        .send(service, |http| {
            http.post(url.clone())
                .header(CONTENT_TYPE, "text/xml; charset=utf-8")
                .body(body.clone())
        })
        .await
}

/// A whole response that could not be read, bound for quarantine with its bytes.
fn unreadable(error: ResponseError, answer: &ApiResponse) -> Sourced {
    Sourced::Rejected {
        reason: hub_core::reason::ReasonCode::Undecodable,
        detail: error.to_string(),
        raw: answer.body.to_vec(),
        origin: answer.origin(),
    }
}

#[async_trait]
impl Connector for FnacDartyConnector {
    fn name(&self) -> &str {
        CONNECTOR
    }

    fn circuit(&self) -> BreakerState {
        self.client.circuit()
    }

    async fn poll(
        &mut self,
        cursors: &mut dyn CursorStore,
        out: &mut dyn RecordSink,
    ) -> Result<PollReport, ConnectorError> {
        let position = self.sync_position(load_cursor(cursors, &self.cursor_key).await?.as_ref());
        let window_max = position
            .window_max
            .unwrap_or_else(|| epoch_millis(SystemTime::now()));
        let (read, answer) = self.read_offers(&position, window_max).await?;

        let mut records = Vec::new();
        let count = match read {
            Ok(page) => {
                let count = WindowCount::of(&page);
                records.extend(page.rejected);
                let eans: Vec<&str> = page
                    .offers
                    .iter()
                    .map(|offer| offer.gtin.as_str())
                    .collect();
                let mut rejected = Vec::new();
                let (best_by_ean, priced) = self.price(&eans, &mut rejected).await?;
                let origin = priced.unwrap_or_else(|| answer.origin());
                records.extend(offer_signals(&page.offers, &best_by_ean, &origin));
                records.extend(rejected);
                Some(count)
            }
            Err(error) => {
                records.push(unreadable(error, &answer));
                None
            }
        };
        let (next_position, window_done) = position.after_page(window_max, count);
        let next = Cursor::of_json(&self.cursor_key, &next_position)?;
        let handed_over = hand_over(
            self.client.metrics(),
            &self.cursor_key,
            records,
            &next,
            cursors,
            out,
        )
        .await?;
        let mut report = PollReport::default();
        report.add(handed_over);
        let sweeping = self.sweep(cursors, out, &mut report).await?;
        report.caught_up = window_done && !sweeping;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(total_paging: u32, total_results: u32) -> Option<WindowCount> {
        Some(WindowCount {
            total_paging,
            total_results: Some(total_results),
        })
    }

    #[test]
    fn windows_are_read_page_by_page_then_follow_each_other() {
        let first = OffersCursor::default();
        let (second, done) = first.after_page(1_000, count(2, 150));
        assert!(!done);
        assert_eq!(
            second,
            OffersCursor {
                modified_min: None,
                window_max: Some(1_000),
                paging: 2,
                window_total: Some(150),
            }
        );
        let (next_window, done) = second.after_page(1_000, count(2, 150));
        assert!(done);
        assert_eq!(
            next_window,
            OffersCursor {
                modified_min: Some(1_001),
                window_max: None,
                paging: 1,
                window_total: None,
            }
        );
        // An unreadable page does not end the window: the next page is asked for.
        let (after_unreadable, done) = first.after_page(1_000, None);
        assert!(!done);
        assert_eq!(after_unreadable.paging, 2);
    }

    #[test]
    fn a_window_that_lost_offers_is_read_again_from_its_first_page() {
        let (second, _) = OffersCursor::default().after_page(1_000, count(3, 250));
        let (again, done) = second.after_page(1_000, count(3, 248));
        assert!(
            !done,
            "the window is not done: offers moved onto pages already read"
        );
        assert_eq!(
            again,
            OffersCursor {
                modified_min: None,
                window_max: Some(1_000),
                paging: 1,
                window_total: None,
            }
        );
        // Read again, the window counts what it holds now.
        let (second, _) = again.after_page(1_000, count(3, 248));
        assert_eq!(second.window_total, Some(248));
        // A page without nb_total_result cannot tell: paging goes on.
        let (third, _) = second.after_page(
            1_000,
            Some(WindowCount {
                total_paging: 3,
                total_results: None,
            }),
        );
        assert_eq!((third.paging, third.window_total), (3, Some(248)));
    }

    #[test]
    fn cursors_saved_before_the_window_count_are_still_read() {
        let saved: OffersCursor =
            serde_json::from_str(r#"{"modified_min":5,"window_max":9,"paging":2}"#)
                .expect("an older cursor");
        assert_eq!(saved.window_total, None);
    }
}
