//! Cdiscount through Octopia's seller REST API (channel `cdiscount`): our offers on
//! `CDISFR` with Cdiscount's feedback (best offer, competing offers), read incrementally on
//! `updatedAt`. Each poll reads one `GET /offers` page (following the `Link` header within
//! a sync) and hands it over; when a sync reaches its last page, the next one asks only for
//! offers updated after the newest `updatedAt` it read.

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
use self::payload::{CDISCOUNT_FR, next_link};
use crate::connector::{Connector, PollReport, RecordSink, hand_over, load_cursor};
use crate::machinery::{
    ApiClient, ApiResponse, BreakerState, ConnectorError, Cursor, CursorKey, CursorStore,
    ErrorKind, Secret, TokenCache, epoch_millis, request_oauth2_token,
};
use crate::wire::rfc3339_from_epoch_millis;

/// The connector's name in configuration, metrics and cursors (the channel it reads).
pub const CONNECTOR: &str = "cdiscount";
/// The OAuth2 token endpoint.
pub const TOKEN: &str = "token";
/// `GET /offers`.
pub const OFFERS: &str = "offers";
/// A token is renewed this long before Octopia says it expires, so no call carries one
/// that dies in flight.
const TOKEN_RENEWAL_MARGIN: Duration = Duration::from_secs(60);

/// Where the offers sync stands, persisted as the cursor's JSON value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffersCursor {
    /// The sync asks for offers updated at or after this instant (epoch ms); none: all.
    pub updated_at_min: Option<i64>,
    /// The next page of the sync under way, as the `Link` header gave it.
    pub next_page: Option<String>,
    /// The newest `updatedAt` read in the sync under way.
    pub newest_update: Option<i64>,
}

impl OffersCursor {
    /// The cursor after a page: the same sync on its next page, or, after its last page, a
    /// new sync of what was updated after the newest offer read (1 ms later: `updatedAtMin`
    /// is inclusive and the newest offer was handed over already).
    pub fn after_page(&self, next_page: Option<String>, newest_on_page: Option<i64>) -> Self {
        let newest_update = self.newest_update.max(newest_on_page);
        match next_page {
            Some(next_page) => OffersCursor {
                updated_at_min: self.updated_at_min,
                next_page: Some(next_page),
                newest_update,
            },
            None => OffersCursor {
                updated_at_min: newest_update
                    .map(|newest| newest + 1)
                    .or(self.updated_at_min),
                next_page: None,
                newest_update: None,
            },
        }
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
    token: TokenCache,
    cursor_key: CursorKey,
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
            .build()?;
        Ok(OctopiaConnector {
            client,
            client_id: credentials.client_id,
            client_secret: credentials.client_secret,
            seller_id: config.seller_id.trim().to_owned(),
            token_url: url("token_url", &config.token_url)?,
            offers_url,
            page_size: config.page_size,
            token: TokenCache::new(TOKEN_RENEWAL_MARGIN),
            cursor_key: CursorKey::new(CONNECTOR, OFFERS),
        })
    }

    /// The sync position a cursor holds. One we cannot read starts a full sync: reading
    /// offers again is harmless, skipping them is not.
    fn sync_position(&self, cursor: Option<&Cursor>) -> OffersCursor {
        let Some(cursor) = cursor else {
            return OffersCursor::default();
        };
        serde_json::from_str(&cursor.value).unwrap_or_else(|error| {
            tracing::warn!(
                cursor = %self.cursor_key,
                value = %cursor.value,
                %error,
                "the cursor is not an offers sync position: starting a full sync"
            );
            OffersCursor::default()
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

    /// The URL of the page the cursor points at.
    fn page_url(&self, position: &OffersCursor) -> Result<Url, ConnectorError> {
        if let Some(next) = &position.next_page {
            // Link targets may be relative to the API's host.
            return self.offers_url.join(next).map_err(|error| {
                ConnectorError::config(
                    CONNECTOR,
                    format!("the Link header's next page {next:?} is not a URL: {error}"),
                )
            });
        }
        let mut url = self.offers_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("salesChannelId", CDISCOUNT_FR)
                .append_pair("limit", &self.page_size.to_string())
                .append_pair("expand", "salesChannelFeedback");
            if let Some(min) = position.updated_at_min {
                let min = rfc3339_from_epoch_millis(min).map_err(|error| {
                    ConnectorError::config(CONNECTOR, format!("cursor updatedAtMin: {error}"))
                })?;
                query.append_pair("updatedAtMin", &min);
            }
        }
        Ok(url)
    }

    async fn get_offers(&mut self, url: &Url) -> Result<ApiResponse, ConnectorError> {
        let mut renewed = false;
        loop {
            let token = self.access_token().await?;
            let answer = self
                .client
                .send(OFFERS, |http| {
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
}

#[async_trait]
impl Connector for OctopiaConnector {
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
        let url = self.page_url(&position)?;
        let answer = self.get_offers(&url).await?;
        let page = map_offers_page(&answer.body, &answer.origin());
        let next_page = answer
            .headers
            .get_all(LINK)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(next_link)
            .map(str::to_owned);
        let sync_complete = next_page.is_none();
        let next_position = position.after_page(next_page, page.newest_update);
        let next = Cursor {
            value: serde_json::to_string(&next_position).map_err(|error| {
                answer.error(ErrorKind::Config(format!(
                    "cursor not serialisable: {error}"
                )))
            })?,
            advanced_at: epoch_millis(SystemTime::now()),
        };
        let handed_over = hand_over(
            self.client.metrics(),
            &self.cursor_key,
            page.sourced,
            &next,
            cursors,
            out,
        )
        .await?;
        let mut report = PollReport {
            caught_up: sync_complete,
            ..PollReport::default()
        };
        report.add(handed_over);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_follows_its_pages_then_asks_for_newer_updates() {
        let start = OffersCursor::default();
        let middle = start.after_page(Some("/offers?pageToken=a".to_owned()), Some(5));
        assert_eq!(
            middle,
            OffersCursor {
                updated_at_min: None,
                next_page: Some("/offers?pageToken=a".to_owned()),
                newest_update: Some(5),
            }
        );
        let done = middle.after_page(None, Some(3));
        assert_eq!(
            done,
            OffersCursor {
                updated_at_min: Some(6),
                next_page: None,
                newest_update: None,
            }
        );
        // A sync that read nothing keeps asking from the same instant.
        assert_eq!(done.after_page(None, None).updated_at_min, Some(6));
    }
}
