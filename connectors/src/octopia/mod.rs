//! Cdiscount through Octopia's seller REST API (channel `cdiscount`): our offers on
//! `CDISFR` with Cdiscount's feedback (best offer, competing offers), in two reads of the
//! one documented endpoint, `GET /offers`:
//!
//! - The incremental sync, on `updatedAt`: each poll reads one page
//!   (`expand=salesChannelFeedback`, following the `Link` header within a sync) and hands it
//!   over; when a sync reaches its last page, the next one asks only for offers updated
//!   after the newest `updatedAt` it read (`updatedAtMin`, to the 100 ns Octopia writes).
//! - The competition sweep: Octopia does not document that a change in Cdiscount's feedback
//!   (a competitor repricing, the best offer moving) moves our offer's `updatedAt`, so every
//!   `competition_sweep_interval_ms` (counted from the end of the last sweep) the connector
//!   reads every active offer of ours again with the lightweight selection the release note
//!   introduced for this (`fields=`[`payload::COMPETITION_FIELDS`], `offerStates=Active`),
//!   one page per poll between two incremental syncs, from its own cursor
//!   (`cdiscount/competition`). The deprecated `/competing-offers` and
//!   `/competing-offer-changes` are not called: `docs/connectors.md` gives the sources.

pub mod config;
pub mod mapping;
pub mod payload;

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, LINK};
use serde::{Deserialize, Serialize};

pub use self::config::OctopiaConfig;
use self::mapping::map_offers_page;
use self::payload::{
    ACTIVE, CDISCOUNT_FR, COMPETITION_FIELDS, EXPAND_FEEDBACK, UPDATED_AT_RESOLUTION_NS, next_link,
    rfc3339_from_nanos,
};
use crate::connector::{Connector, PollReport, RecordSink, hand_over, load_cursor};
use crate::machinery::{
    ApiClient, ApiResponse, BreakerState, ConnectorError, Cursor, CursorKey, CursorStore,
    ErrorKind, PeriodicSweep, Secret, TokenCache, epoch_millis, request_oauth2_token,
};

/// The connector's name in configuration, metrics and cursors (the channel it reads).
pub const CONNECTOR: &str = "cdiscount";
/// The OAuth2 token endpoint.
pub const TOKEN: &str = "token";
/// `GET /offers`, the incremental sync.
pub const OFFERS: &str = "offers";
/// `GET /offers`, the competition sweep.
pub const COMPETITION: &str = "competition";
/// A token is renewed this long before Octopia says it expires, so no call carries one
/// that dies in flight.
const TOKEN_RENEWAL_MARGIN: Duration = Duration::from_secs(60);

/// Where the offers sync stands, persisted as the cursor's JSON value. Instants are
/// nanoseconds since the epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffersCursor {
    /// The sync asks for offers updated at or after this instant; none: all.
    pub updated_at_min_ns: Option<i64>,
    /// The next page of the sync under way, as the `Link` header gave it.
    pub next_page: Option<String>,
    /// The newest `updatedAt` read in the sync under way.
    pub newest_update_ns: Option<i64>,
}

impl OffersCursor {
    /// The cursor after a page: the same sync on its next page, or, after its last page, a
    /// new sync of what was updated after the newest offer read (one 100 ns step later:
    /// `updatedAtMin` is inclusive and the newest offer was handed over already).
    pub fn after_page(&self, next_page: Option<String>, newest_on_page: Option<i64>) -> Self {
        let newest_update_ns = self.newest_update_ns.max(newest_on_page);
        match next_page {
            Some(next_page) => OffersCursor {
                updated_at_min_ns: self.updated_at_min_ns,
                next_page: Some(next_page),
                newest_update_ns,
            },
            None => OffersCursor {
                updated_at_min_ns: newest_update_ns
                    .map(|newest| newest.saturating_add(UPDATED_AT_RESOLUTION_NS))
                    .or(self.updated_at_min_ns),
                next_page: None,
                newest_update_ns: None,
            },
        }
    }

    /// Between two syncs: the next page asked for starts a new one.
    fn at_rest(&self) -> bool {
        self.next_page.is_none()
    }
}

/// The OAuth2 client credentials Octopia issued to us.
pub struct ClientCredentials {
    pub client_id: Secret,
    pub client_secret: Secret,
}

pub struct OctopiaConnector {
    client: ApiClient,
    client_id: Secret,
    client_secret: Secret,
    seller_id: String,
    token_url: Url,
    offers_url: Url,
    page_size: u32,
    sweep_interval_ms: u64,
    token: TokenCache,
    offers_key: CursorKey,
    competition_key: CursorKey,
}

impl OctopiaConnector {
    /// Validates the configuration and reads the client credentials from the environment
    /// or their files.
    pub fn from_config(config: &OctopiaConfig) -> Result<Self, ConnectorError> {
        let secret = |variable: &str, what: &str| {
            Secret::from_env(variable)
                .map_err(|error| ConnectorError::config(CONNECTOR, format!("{what}: {error}")))
        };
        let credentials = ClientCredentials {
            client_id: secret(&config.client_id_env, "client id")?,
            client_secret: secret(&config.client_secret_env, "client secret")?,
        };
        Self::new(config, credentials)
    }

    /// The connector with credentials already read.
    pub fn new(
        config: &OctopiaConfig,
        credentials: ClientCredentials,
    ) -> Result<Self, ConnectorError> {
        config.validate()?;
        let invalid = |detail: String| ConnectorError::config(CONNECTOR, detail);
        let url = |name: &str, text: &str| {
            Url::parse(text).map_err(|error| invalid(format!("{name} {text:?}: {error}")))
        };
        let base = url("base_url", config.base_url.trim_end_matches('/'))?;
        let mut offers_url = base.clone();
        offers_url.set_path(&format!("{}/offers", base.path().trim_end_matches('/')));
        let client = ApiClient::builder(CONNECTOR, &config.http)
            .operation(TOKEN, config.token_rate)
            .operation(OFFERS, config.offers_rate)
            .operation(COMPETITION, config.competition_rate)
            .build()?;
        Ok(OctopiaConnector {
            client,
            client_id: credentials.client_id,
            client_secret: credentials.client_secret,
            seller_id: config.seller_id.trim().to_owned(),
            token_url: url("token_url", &config.token_url)?,
            offers_url,
            page_size: config.page_size,
            sweep_interval_ms: config.competition_sweep_interval_ms,
            token: TokenCache::new(TOKEN_RENEWAL_MARGIN),
            offers_key: CursorKey::new(CONNECTOR, OFFERS),
            competition_key: CursorKey::new(CONNECTOR, COMPETITION),
        })
    }

    /// The cached token, or a new one from the token endpoint.
    async fn access_token(&mut self) -> Result<Secret, ConnectorError> {
        let (client, token_url) = (&self.client, &self.token_url);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.expose()),
            ("client_secret", self.client_secret.expose()),
        ];
        self.token
            .get_or_renew(|| request_oauth2_token(client, TOKEN, token_url, &form))
            .await
    }

    /// A `Link` target, which may be relative to the API's host.
    fn linked_page(&self, next: &str) -> Result<Url, ConnectorError> {
        self.offers_url.join(next).map_err(|error| {
            ConnectorError::config(
                CONNECTOR,
                format!("the Link header's next page {next:?} is not a URL: {error}"),
            )
        })
    }

    /// The URL of the offers sync page the cursor points at.
    fn offers_page_url(&self, position: &OffersCursor) -> Result<Url, ConnectorError> {
        if let Some(next) = &position.next_page {
            return self.linked_page(next);
        }
        let mut url = self.offers_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("salesChannelId", CDISCOUNT_FR)
                .append_pair("limit", &self.page_size.to_string())
                .append_pair("expand", EXPAND_FEEDBACK);
            if let Some(min) = position.updated_at_min_ns {
                let min = rfc3339_from_nanos(min).map_err(|error| {
                    ConnectorError::config(CONNECTOR, format!("cursor updatedAtMin: {error}"))
                })?;
                query.append_pair("updatedAtMin", &min);
            }
        }
        Ok(url)
    }

    /// The URL of a competition sweep page: `next` from the `Link` header, or the first.
    fn sweep_page_url(&self, next: Option<&str>) -> Result<Url, ConnectorError> {
        if let Some(next) = next {
            return self.linked_page(next);
        }
        let mut url = self.offers_url.clone();
        url.query_pairs_mut()
            .append_pair("salesChannelId", CDISCOUNT_FR)
            .append_pair("limit", &self.page_size.to_string())
            .append_pair("offerStates", ACTIVE)
            .append_pair("fields", COMPETITION_FIELDS);
        Ok(url)
    }

    async fn get_offers(
        &mut self,
        operation: &str,
        url: &Url,
    ) -> Result<ApiResponse, ConnectorError> {
        let mut renewed = false;
        loop {
            let token = self.access_token().await?;
            let answer = self
                .client
                .send(operation, |http| {
                    http.get(url.clone())
                        .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
                        .header("SellerId", &self.seller_id)
                })
                .await;
            match answer {
                // A token revoked before its announced expiry: one new token, one more try.
                Err(error)
                    if !renewed
                        && matches!(error.kind(), ErrorKind::Unauthorized { status: 401, .. }) =>
                {
                    self.token.forget();
                    renewed = true;
                }
                answer => return answer,
            }
        }
    }

    /// One page of the incremental sync; `sweep` is the sweep's state, scheduled here when
    /// the first sync completes.
    async fn poll_offers(
        &mut self,
        position: OffersCursor,
        sweep: Option<PeriodicSweep>,
        cursors: &mut dyn CursorStore,
        out: &mut dyn RecordSink,
    ) -> Result<PollReport, ConnectorError> {
        let url = self.offers_page_url(&position)?;
        let answer = self.get_offers(OFFERS, &url).await?;
        let page = map_offers_page(&answer.body, &answer.origin());
        let next_page = next_page_link(&answer);
        let sync_complete = next_page.is_none();
        let next = Cursor::of_json(
            &self.offers_key,
            &position.after_page(next_page, page.newest_update),
        )?;
        let handed_over = hand_over(
            self.client.metrics(),
            &self.offers_key,
            page.sourced,
            &next,
            cursors,
            out,
        )
        .await?;
        let now = epoch_millis(SystemTime::now());
        let sweep_due = match sweep {
            Some(sweep) => sweep.under_way_at(now).is_some(),
            None if sync_complete => {
                let first = PeriodicSweep::waiting_from(now, self.sweep_interval_ms);
                let scheduled = Cursor::of_json(&self.competition_key, &first)?;
                hand_over(
                    self.client.metrics(),
                    &self.competition_key,
                    Vec::new(),
                    &scheduled,
                    cursors,
                    out,
                )
                .await?;
                false
            }
            None => false,
        };
        let mut report = PollReport {
            caught_up: sync_complete && !sweep_due,
            ..PollReport::default()
        };
        report.add(handed_over);
        Ok(report)
    }

    /// One page of the competition sweep. Never caught up: the incremental sync polls next.
    async fn poll_competition(
        &mut self,
        page_url: Url,
        cursors: &mut dyn CursorStore,
        out: &mut dyn RecordSink,
    ) -> Result<PollReport, ConnectorError> {
        let answer = self.get_offers(COMPETITION, &page_url).await?;
        let page = map_offers_page(&answer.body, &answer.origin());
        let after = PeriodicSweep::after_step(
            next_page_link(&answer),
            epoch_millis(SystemTime::now()),
            self.sweep_interval_ms,
        );
        let next = Cursor::of_json(&self.competition_key, &after)?;
        let handed_over = hand_over(
            self.client.metrics(),
            &self.competition_key,
            page.sourced,
            &next,
            cursors,
            out,
        )
        .await?;
        let mut report = PollReport::default();
        report.add(handed_over);
        Ok(report)
    }
}

/// The `rel="next"` target of a response's `Link` headers.
fn next_page_link(answer: &ApiResponse) -> Option<String> {
    answer
        .headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(next_link)
        .map(str::to_owned)
}

#[async_trait]
impl Connector for OctopiaConnector {
    fn name(&self) -> &str {
        CONNECTOR
    }

    fn circuit(&self) -> BreakerState {
        self.client.circuit()
    }

    /// Between two incremental syncs, a due sweep reads its next page; otherwise the sync
    /// reads its next one.
    async fn poll(
        &mut self,
        cursors: &mut dyn CursorStore,
        out: &mut dyn RecordSink,
    ) -> Result<PollReport, ConnectorError> {
        let saved_position = load_cursor(cursors, &self.offers_key).await?;
        let position: OffersCursor = Cursor::json_position(
            &self.offers_key,
            saved_position.as_ref(),
            "starting a full sync",
        )
        .unwrap_or_default();
        // None before the first complete sync, which schedules the first sweep; an unreadable
        // one is scheduled again likewise, one interval after the next complete sync.
        let saved_sweep = load_cursor(cursors, &self.competition_key).await?;
        let sweep: Option<PeriodicSweep> = Cursor::json_position(
            &self.competition_key,
            saved_sweep.as_ref(),
            "scheduling a new sweep",
        );
        let now = epoch_millis(SystemTime::now());
        let sweep_page = match &sweep {
            Some(sweep) if position.at_rest() => sweep
                .under_way_at(now)
                .map(|next| self.sweep_page_url(next))
                .transpose()?,
            _ => None,
        };
        match sweep_page {
            Some(page_url) => self.poll_competition(page_url, cursors, out).await,
            None => self.poll_offers(position, sweep, cursors, out).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    #[test]
    fn a_sync_follows_its_pages_then_asks_for_newer_updates() {
        let start = OffersCursor::default();
        let middle = start.after_page(Some("/offers?pageToken=a".to_owned()), Some(5 * MS));
        assert_eq!(
            middle,
            OffersCursor {
                updated_at_min_ns: None,
                next_page: Some("/offers?pageToken=a".to_owned()),
                newest_update_ns: Some(5 * MS),
            }
        );
        let done = middle.after_page(None, Some(3 * MS));
        assert_eq!(
            done,
            OffersCursor {
                updated_at_min_ns: Some(5 * MS + UPDATED_AT_RESOLUTION_NS),
                next_page: None,
                newest_update_ns: None,
            }
        );
        // A sync that read nothing keeps asking from the same instant.
        assert_eq!(
            done.after_page(None, None).updated_at_min_ns,
            Some(5 * MS + UPDATED_AT_RESOLUTION_NS)
        );
    }

    proptest::proptest! {
        /// However a sync's pages fall, the next sync starts one step after the newest
        /// `updatedAt` read in it: past every offer handed over, short of any later one.
        #[test]
        fn the_next_sync_starts_just_after_the_newest_update_read(
            start in proptest::option::of(0i64..1_000_000),
            pages in proptest::collection::vec(proptest::option::of(0i64..2_000_000), 1..8),
        ) {
            let mut cursor = OffersCursor {
                updated_at_min_ns: start,
                ..OffersCursor::default()
            };
            let last = pages.len() - 1;
            for (index, newest) in pages.iter().enumerate() {
                let next = (index < last).then(|| format!("/offers?pageToken={index}"));
                cursor = cursor.after_page(next, *newest);
            }
            let newest = pages.iter().flatten().max();
            proptest::prop_assert_eq!(cursor.next_page, None);
            proptest::prop_assert_eq!(cursor.newest_update_ns, None);
            proptest::prop_assert_eq!(
                cursor.updated_at_min_ns,
                newest.map(|newest| newest + UPDATED_AT_RESOLUTION_NS).or(start)
            );
        }
    }

    #[test]
    fn the_sweep_asks_for_the_lightweight_selection_of_active_offers() {
        let config: OctopiaConfig =
            toml::from_str("seller_id = \"98979\"\npage_size = 500").expect("config");
        let connector = OctopiaConnector::new(
            &config,
            ClientCredentials {
                client_id: Secret::new("id".to_owned()),
                client_secret: Secret::new("secret".to_owned()),
            },
        )
        .expect("connector");
        let first = connector.sweep_page_url(None).expect("url");
        let query: Vec<(String, String)> = first.query_pairs().into_owned().collect();
        assert_eq!(first.path(), "/seller/v2/offers");
        assert!(query.contains(&("salesChannelId".to_owned(), "CDISFR".to_owned())));
        assert!(query.contains(&("limit".to_owned(), "500".to_owned())));
        assert!(query.contains(&("offerStates".to_owned(), "Active".to_owned())));
        assert!(query.contains(&("fields".to_owned(), COMPETITION_FIELDS.to_owned())));
        assert!(
            query.iter().all(|(name, _)| name != "expand"),
            "with fields, Octopia ignores expand"
        );
        let linked = connector
            .sweep_page_url(Some("/seller/v2/offers?pageToken=c"))
            .expect("url");
        assert_eq!(
            linked.as_str(),
            "https://api.octopia-io.net/seller/v2/offers?pageToken=c"
        );

        let incremental = connector
            .offers_page_url(&OffersCursor {
                updated_at_min_ns: Some(1_748_659_046_000_000_100),
                ..OffersCursor::default()
            })
            .expect("url");
        let query: Vec<(String, String)> = incremental.query_pairs().into_owned().collect();
        assert!(query.contains(&("expand".to_owned(), "salesChannelFeedback".to_owned())));
        assert!(query.contains(&(
            "updatedAtMin".to_owned(),
            "2025-05-31T02:37:26.0000001Z".to_owned()
        )));
    }
}
