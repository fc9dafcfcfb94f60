//! The Amazon connector's fetch loop: a thin client on the shared machinery around the pure
//! mappings. One poll does one step of a round, low latency first:
//!
//! 1. ANY_OFFER_CHANGED messages waiting in the notification drop (a batch of files);
//! 2. otherwise, 20 watched GTINs not resolved yet, to ASINs (searchCatalogItems by EAN);
//! 3. otherwise, the next 20 ASINs' offers (getItemOffersBatch; a throttled or failing
//!    item is asked again alone with getItemOffers), cursor = the last ASIN handed over;
//! 4. once every ASIN is read, the FBA inventory page by page (getInventorySummaries,
//!    `nextToken`), incremental on `startDateTime` from one pass to the next;
//!
//! and the round is caught up. ASINs named by a notification or by FBA inventory that the
//! catalog does not know yet are resolved (searchCatalogItems by ASIN) before mapping.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use hub_core::gtin::normalise_gtin;
use reqwest::Url;
use rust_decimal::Decimal;

use super::catalog::{AsinCatalog, CatalogEntry, read_search_page};
use super::config::AmazonConfig;
use super::fees::{FeeEstimate, read_fees_estimate};
use super::inventory::read_inventory_page;
use super::notification::{map_notification, read_notification, unread_origin};
use super::offers::{map_item_offers, map_item_offers_batch};
use super::payload::{
    FeesEstimateRequest, GetItemOffersBatchRequest, GetMyFeesEstimateRequest, ItemOffersRequest,
    MoneyOut, PriceToEstimateFees,
};
use super::{CONNECTOR, Marketplace, NEW_CONDITION, rejected};
use crate::connector::{
    Connector, PollReport, RecordSink, hand_over, hand_over_without_cursor, load_cursor,
};
use crate::machinery::{
    ApiClient, ApiResponse, BreakerState, ConnectorError, Cursor, CursorKey, CursorStore,
    ErrorKind, Secret, TokenCache, epoch_millis, request_oauth2_token,
};
use crate::sourced::Sourced;

/// Client-side operation names: budgets, metrics, cursors and `source` (`amazon.<op>`).
pub mod operations {
    pub const LWA_TOKEN: &str = "lwaToken";
    pub const SEARCH_CATALOG_ITEMS: &str = "searchCatalogItems";
    pub const GET_ITEM_OFFERS: &str = "getItemOffers";
    pub const GET_ITEM_OFFERS_BATCH: &str = "getItemOffersBatch";
    pub const GET_INVENTORY_SUMMARIES: &str = "getInventorySummaries";
    pub const GET_MY_FEES_ESTIMATE_FOR_SKU: &str = "getMyFeesEstimateForSKU";
    pub const ANY_OFFER_CHANGED: &str = "ANY_OFFER_CHANGED";
}
use operations::*;

/// searchCatalogItems takes at most 20 identifiers; getItemOffersBatch at most 20 requests.
const PER_CALL: usize = 20;
/// How many times searchCatalogItems is asked for the identifiers its answer left
/// unresolved while garbling items (see `resolve_references` and `resolve_asins`).
const CATALOG_ATTEMPTS: usize = 3;
/// Notification files handed over per poll.
const NOTIFICATIONS_PER_POLL: usize = 100;
const ACCESS_TOKEN_HEADER: &str = "x-amz-access-token";

/// The Login with Amazon credentials of our application and the seller's authorisation.
pub struct LwaCredentials {
    pub client_id: Secret,
    pub client_secret: Secret,
    pub refresh_token: Secret,
}

/// Where the current round stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Offers,
    /// Within an FBA inventory pass: the page token (valid 30 seconds, so kept in memory
    /// only) and when the pass began (the next pass asks for changes since then).
    Inventory {
        next_token: Option<String>,
        pass_started: String,
    },
}

pub struct AmazonConnector {
    client: ApiClient,
    credentials: LwaCredentials,
    endpoint: Url,
    token_url: Url,
    marketplace: Marketplace,
    token: TokenCache,
    notifications_dir: Option<PathBuf>,
    catalog: AsinCatalog,
    /// Watched GTINs whose ASIN is not looked up yet.
    unresolved: Vec<String>,
    /// The ASINs whose offers are read, in cursor order.
    asins: BTreeSet<String>,
    step: Step,
}

impl AmazonConnector {
    /// Validates the configuration, reads the watched references and the LWA credentials
    /// (from the environment or their files).
    pub fn from_config(config: &AmazonConfig) -> Result<Self, ConnectorError> {
        let secret = |variable: &str, what: &str| {
            Secret::from_env(variable)
                .map_err(|error| ConnectorError::config(CONNECTOR, format!("{what}: {error}")))
        };
        let credentials = LwaCredentials {
            client_id: secret(&config.client_id_env, "LWA client id")?,
            client_secret: secret(&config.client_secret_env, "LWA client secret")?,
            refresh_token: secret(&config.refresh_token_env, "LWA refresh token")?,
        };
        Self::new(config, credentials)
    }

    /// The connector with credentials already read.
    pub fn new(config: &AmazonConfig, credentials: LwaCredentials) -> Result<Self, ConnectorError> {
        config.validate()?;
        let invalid = |detail: String| ConnectorError::config(CONNECTOR, detail);
        let url = |name: &str, text: &str| {
            Url::parse(text).map_err(|error| invalid(format!("{name} {text:?}: {error}")))
        };
        let rates = &config.rates;
        let client = ApiClient::builder(CONNECTOR, &config.http)
            .operation(LWA_TOKEN, rates.lwa_token)
            .operation(SEARCH_CATALOG_ITEMS, rates.search_catalog_items)
            .operation(GET_ITEM_OFFERS, rates.get_item_offers)
            .operation(GET_ITEM_OFFERS_BATCH, rates.get_item_offers_batch)
            .operation(GET_INVENTORY_SUMMARIES, rates.get_inventory_summaries)
            .operation(
                GET_MY_FEES_ESTIMATE_FOR_SKU,
                rates.get_my_fees_estimate_for_sku,
            )
            .request_id_header("x-amzn-RequestId")
            .rate_limit_header("x-amzn-RateLimit-Limit")
            .build()?;
        Ok(AmazonConnector {
            client,
            credentials,
            endpoint: url("endpoint", config.endpoint.trim_end_matches('/'))?,
            token_url: url("token_url", &config.token_url)?,
            marketplace: Marketplace {
                id: config.marketplace_id.clone(),
                currency: config.currency.clone(),
            },
            token: TokenCache::new(Duration::from_millis(config.token_renewal_margin_ms)),
            notifications_dir: config.notifications_dir.clone(),
            catalog: AsinCatalog::new(),
            unresolved: read_references(&config.references_file)?,
            asins: BTreeSet::new(),
            step: Step::Offers,
        })
    }

    /// The ASIN catalog resolved so far.
    pub fn catalog(&self) -> &AsinCatalog {
        &self.catalog
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.endpoint.clone();
        url.set_path(&format!(
            "{}{path}",
            self.endpoint.path().trim_end_matches('/')
        ));
        url
    }

    /// The cached access token, or a new one from LWA (`grant_type=refresh_token`).
    async fn access_token(&mut self) -> Result<Secret, ConnectorError> {
        let (client, token_url) = (&self.client, &self.token_url);
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", self.credentials.refresh_token.expose()),
            ("client_id", self.credentials.client_id.expose()),
            ("client_secret", self.credentials.client_secret.expose()),
        ];
        self.token
            .get_or_renew(|| request_oauth2_token(client, LWA_TOKEN, token_url, &form))
            .await
    }

    /// Sends an SP-API call with the access token; a token refused before its announced
    /// expiry (revoked) is renewed once.
    async fn call<F>(&mut self, operation: &str, request: F) -> Result<ApiResponse, ConnectorError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync,
    {
        let mut renewed = false;
        loop {
            let token = self.access_token().await?;
            let answer = self
                .client
                .send(operation, |http| {
                    request(http).header(ACCESS_TOKEN_HEADER, token.expose())
                })
                .await;
            match answer {
                Err(error)
                    if !renewed && matches!(error.kind(), ErrorKind::Unauthorized { .. }) =>
                {
                    self.token.forget();
                    renewed = true;
                }
                answer => return answer,
            }
        }
    }

    /// searchCatalogItems for up to 20 identifiers of one type (`EAN`, `ASIN`), with the
    /// identifiers and sales ranks of each item found, and the items that are not the
    /// documented shape as rejected elements, bound for quarantine.
    async fn search_catalog(
        &mut self,
        identifiers_type: &str,
        identifiers: &[String],
    ) -> Result<(Vec<CatalogEntry>, Vec<Sourced>), ConnectorError> {
        let mut url = self.url("/catalog/2022-04-01/items");
        url.query_pairs_mut()
            .append_pair("identifiers", &identifiers.join(","))
            .append_pair("identifiersType", identifiers_type)
            .append_pair("marketplaceIds", &self.marketplace.id)
            .append_pair("includedData", "identifiers,salesRanks")
            .append_pair("pageSize", &PER_CALL.to_string());
        let answer = self
            .call(SEARCH_CATALOG_ITEMS, |http| http.get(url.clone()))
            .await?;
        let page = read_search_page(&answer.body, &self.marketplace.id).map_err(|detail| {
            answer.error(ErrorKind::Malformed {
                detail,
                raw: answer.body.to_vec(),
            })
        })?;
        let origin = answer.origin();
        let unreadable = page
            .unreadable
            .into_iter()
            .map(|(quarantine, raw)| rejected(quarantine, &raw, origin.clone()))
            .collect();
        Ok((page.entries, unreadable))
    }

    /// Searches the catalog for `identifiers` of `identifiers_type`, asking again for those
    /// an answer with unreadable items left unresolved, up to [`CATALOG_ATTEMPTS`] times: a
    /// garbled item says nothing of the identifier it stood for. `answers` names the
    /// identifier an entry resolves. Returns the entries found, the unreadable items
    /// rejected, and the identifiers still unresolved.
    async fn search_catalog_again_while_garbled(
        &mut self,
        identifiers_type: &str,
        identifiers: &[String],
        answers: impl Fn(&CatalogEntry) -> Option<String>,
    ) -> Result<(Vec<CatalogEntry>, Vec<Sourced>, Vec<String>), ConnectorError> {
        let mut asking = identifiers.to_vec();
        let mut entries = Vec::new();
        let mut unreadable = Vec::new();
        for _ in 0..CATALOG_ATTEMPTS {
            let (found, garbled) = self.search_catalog(identifiers_type, &asking).await?;
            let ask_again = !garbled.is_empty();
            unreadable.extend(garbled);
            let resolved: Vec<String> = found.iter().filter_map(&answers).collect();
            asking.retain(|identifier| !resolved.contains(identifier));
            entries.extend(found);
            if !ask_again || asking.is_empty() {
                break;
            }
        }
        Ok((entries, unreadable, asking))
    }

    /// Resolves the ASINs the catalog does not know yet; those Amazon does not return are
    /// recorded without GTIN, so their elements are rejected with that reason. Returns the
    /// catalog items that could not be read, rejected. An ASIN an answer with garbled items
    /// left unresolved is asked again (see [`Self::search_catalog_again_while_garbled`]):
    /// the offers and stock that name it would be rejected for want of a GTIN although they
    /// are sound. Only an ASIN still unresolved then, or that Amazon does not return, stays
    /// unknown (and is not asked again this run).
    async fn resolve_asins(&mut self, asins: Vec<String>) -> Result<Vec<Sourced>, ConnectorError> {
        let unknown = self.catalog.unknown(asins.iter().map(String::as_str));
        let mut unreadable = Vec::new();
        for chunk in unknown.chunks(PER_CALL) {
            let (entries, garbled, unresolved) = self
                .search_catalog_again_while_garbled("ASIN", chunk, |entry| Some(entry.asin.clone()))
                .await?;
            unreadable.extend(garbled);
            for entry in entries {
                self.catalog.insert(entry);
            }
            for asin in unresolved {
                self.catalog.insert(CatalogEntry {
                    asin,
                    gtin: None,
                    root_rank: None,
                });
            }
        }
        Ok(unreadable)
    }

    /// Step 2: the next watched GTINs to ASINs. Catalog items that cannot be read are
    /// quarantined, and the GTINs an answer with unreadable items left unresolved are asked
    /// again (see [`Self::search_catalog_again_while_garbled`]): the watched reference a
    /// garbled item stood for would otherwise not be polled until the connector restarts.
    async fn resolve_references(
        &mut self,
        out: &mut dyn RecordSink,
    ) -> Result<PollReport, ConnectorError> {
        let count = self.unresolved.len().min(PER_CALL);
        let asking = self.unresolved[..count].to_vec();
        let (entries, unreadable, _) = self
            .search_catalog_again_while_garbled("EAN", &asking, |entry| {
                normalise_gtin(entry.gtin.as_deref()?).ok()
            })
            .await?;
        let handed_over = hand_over_without_cursor(
            self.client.metrics(),
            CONNECTOR,
            SEARCH_CATALOG_ITEMS,
            unreadable,
            out,
        )
        .await?;
        self.unresolved.drain(..count);
        let mut found = 0;
        for entry in entries {
            // Only watched references are polled: an item found by EAN is ours to watch.
            if entry.gtin.is_some() {
                self.asins.insert(entry.asin.clone());
                found += 1;
            }
            self.catalog.insert(entry);
        }
        tracing::info!(
            connector = CONNECTOR,
            searched = count,
            found,
            "watched references resolved to ASINs"
        );
        let mut report = PollReport::default();
        report.add(handed_over);
        Ok(report)
    }

    /// Step 1: the notification drop.
    async fn read_notifications(
        &mut self,
        files: Vec<PathBuf>,
        cursors: &mut dyn CursorStore,
        out: &mut dyn RecordSink,
    ) -> Result<PollReport, ConnectorError> {
        let io_error = |path: &Path, action: &str, error: std::io::Error| {
            ConnectorError::config(
                CONNECTOR,
                format!("notification file {}: {action}: {error}", path.display()),
            )
        };
        let received_at = epoch_millis(SystemTime::now());
        let mut messages = Vec::with_capacity(files.len());
        for path in &files {
            let bytes = std::fs::read(path).map_err(|error| io_error(path, "read", error))?;
            let notification = read_notification(&bytes);
            messages.push((bytes, notification));
        }
        let asins: Vec<String> = messages
            .iter()
            .filter_map(|(_, notification)| notification.as_ref().ok())
            .map(|notification| notification.payload.any_offer_changed.trigger.asin.clone())
            .collect();
        let unreadable_items = self.resolve_asins(asins).await?;
        let mut page: Vec<Sourced> = messages
            .into_iter()
            .map(|(bytes, notification)| match notification {
                Ok(notification) => map_notification(
                    &notification,
                    &bytes,
                    &self.catalog,
                    &self.marketplace,
                    received_at,
                ),
                Err(quarantine) => rejected(quarantine, &bytes, unread_origin(received_at)),
            })
            .collect();
        page.extend(unreadable_items);
        let key = CursorKey::new(CONNECTOR, ANY_OFFER_CHANGED);
        let last = files
            .last()
            .and_then(|path| path.file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let next = Cursor {
            value: last,
            advanced_at: received_at,
        };
        let handed_over = hand_over(self.client.metrics(), &key, page, &next, cursors, out).await?;
        for path in &files {
            std::fs::remove_file(path).map_err(|error| io_error(path, "remove", error))?;
        }
        let mut report = PollReport::default();
        report.add(handed_over);
        Ok(report)
    }

    /// Step 3: the next batch of ASINs' offers.
    async fn read_offers(
        &mut self,
        cursors: &mut dyn CursorStore,
        out: &mut dyn RecordSink,
    ) -> Result<Option<PollReport>, ConnectorError> {
        let key = CursorKey::new(CONNECTOR, GET_ITEM_OFFERS_BATCH);
        let after = load_cursor(cursors, &key)
            .await?
            .map(|cursor| cursor.value)
            .unwrap_or_default();
        let batch: Vec<String> = self
            .asins
            .iter()
            .filter(|asin| asin.as_str() > after.as_str())
            .take(PER_CALL)
            .cloned()
            .collect();
        let Some(last) = batch.last().cloned() else {
            return Ok(None);
        };
        let body = GetItemOffersBatchRequest {
            requests: batch
                .iter()
                .map(|asin| ItemOffersRequest {
                    uri: format!("/products/pricing/v0/items/{asin}/offers"),
                    method: "GET".to_owned(),
                    marketplace_id: self.marketplace.id.clone(),
                    item_condition: NEW_CONDITION.to_owned(),
                })
                .collect(),
        };
        let url = self.url("/batches/products/pricing/v0/itemOffers");
        let answer = self
            .call(GET_ITEM_OFFERS_BATCH, |http| {
                http.post(url.clone()).json(&body)
            })
            .await?;
        let outcome = map_item_offers_batch(
            &answer.body,
            &self.catalog,
            &self.marketplace,
            &answer.origin(),
        );
        let mut page = outcome.sourced;
        for failure in outcome.failed {
            let Some(asin) = failure.asin.clone() else {
                return Err(answer.error(ErrorKind::Malformed {
                    detail: format!("a failed batch item names no ASIN: {}", failure.describe()),
                    raw: answer.body.to_vec(),
                }));
            };
            tracing::info!(
                connector = CONNECTOR,
                failure = %failure.describe(),
                "batch item not answered: asking getItemOffers"
            );
            page.push(self.item_offers(&asin).await?);
        }
        let more = self.asins.iter().any(|asin| asin.as_str() > last.as_str());
        // After the last batch the cursor goes back to the start: the next round reads
        // every ASIN again.
        let next = Cursor {
            value: if more { last } else { String::new() },
            advanced_at: epoch_millis(SystemTime::now()),
        };
        let handed_over = hand_over(self.client.metrics(), &key, page, &next, cursors, out).await?;
        if !more {
            self.step = Step::Inventory {
                next_token: None,
                pass_started: inventory_pass_start(),
            };
        }
        let mut report = PollReport::default();
        report.add(handed_over);
        Ok(Some(report))
    }

    /// getItemOffers for one ASIN.
    async fn item_offers(&mut self, asin: &str) -> Result<Sourced, ConnectorError> {
        let mut url = self.url(&format!("/products/pricing/v0/items/{asin}/offers"));
        url.query_pairs_mut()
            .append_pair("MarketplaceId", &self.marketplace.id)
            .append_pair("ItemCondition", NEW_CONDITION);
        let answer = self
            .call(GET_ITEM_OFFERS, |http| http.get(url.clone()))
            .await?;
        Ok(map_item_offers(
            &answer.body,
            &self.catalog,
            &self.marketplace,
            answer.origin(),
        ))
    }

    /// Step 4: one page of FBA inventory. Returns whether the pass is complete.
    async fn read_inventory(
        &mut self,
        next_token: Option<String>,
        pass_started: String,
        cursors: &mut dyn CursorStore,
        out: &mut dyn RecordSink,
    ) -> Result<PollReport, ConnectorError> {
        let key = CursorKey::new(CONNECTOR, GET_INVENTORY_SUMMARIES);
        let since = load_cursor(cursors, &key).await?;
        let mut url = self.url("/fba/inventory/v1/summaries");
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("details", "true")
                .append_pair("granularityType", "Marketplace")
                .append_pair("granularityId", &self.marketplace.id)
                .append_pair("marketplaceIds", &self.marketplace.id);
            if let Some(since) = since.as_ref().filter(|cursor| !cursor.value.is_empty()) {
                query.append_pair("startDateTime", &since.value);
            }
            if let Some(token) = &next_token {
                query.append_pair("nextToken", token);
            }
        }
        let answer = match self
            .call(GET_INVENTORY_SUMMARIES, |http| http.get(url.clone()))
            .await
        {
            Ok(answer) => answer,
            // A page token lives 30 s; one used later (after a throttled retry, an open
            // breaker, a page polled again) is refused. The pass starts again from its
            // cursor, which has not moved, instead of sending the dead token forever.
            Err(error)
                if next_token.is_some()
                    && matches!(error.kind(), ErrorKind::ElementRefused { .. }) =>
            {
                tracing::warn!(%error, "FBA inventory page token refused: the pass starts again from its cursor");
                self.step = Step::Inventory {
                    next_token: None,
                    pass_started,
                };
                return Ok(PollReport::default());
            }
            Err(error) => return Err(error),
        };
        let origin = answer.origin();
        let (page, token, readable) = match read_inventory_page(&answer.body) {
            Ok(inventory) => {
                let mut page = self.resolve_asins(inventory.asins()).await?;
                page.extend(inventory.map(&self.catalog, &self.marketplace, &origin));
                (page, inventory.next_token, true)
            }
            // An unreadable page ends the pass: there is no token to go on with.
            Err(quarantine) => (
                vec![rejected(quarantine, &answer.body, origin)],
                None,
                false,
            ),
        };
        let complete = token.is_none();
        // Within a pass the cursor stays where the pass started from; a pass read to its
        // last page moves it to when this one began, so the next asks only for what changed
        // since. One ended by an unreadable page leaves it: the next pass reads again what
        // this one could not reach.
        let next = Cursor {
            value: if complete && readable {
                pass_started.clone()
            } else {
                since.map(|cursor| cursor.value).unwrap_or_default()
            },
            advanced_at: epoch_millis(SystemTime::now()),
        };
        let handed_over = hand_over(self.client.metrics(), &key, page, &next, cursors, out).await?;
        self.step = if complete {
            Step::Offers
        } else {
            Step::Inventory {
                next_token: token,
                pass_started,
            }
        };
        let mut report = PollReport {
            caught_up: complete,
            ..PollReport::default()
        };
        report.add(handed_over);
        Ok(report)
    }

    /// getMyFeesEstimateForSKU: what Amazon would charge to sell `seller_sku` at this price.
    pub async fn fees_estimate_for_sku(
        &mut self,
        seller_sku: &str,
        listing_price: Decimal,
        shipping: Decimal,
        amazon_fulfilled: bool,
    ) -> Result<FeeEstimate, ConnectorError> {
        let money = |amount| MoneyOut {
            currency_code: self.marketplace.currency.clone(),
            amount,
        };
        let body = GetMyFeesEstimateRequest {
            fees_estimate_request: FeesEstimateRequest {
                marketplace_id: self.marketplace.id.clone(),
                is_amazon_fulfilled: amazon_fulfilled,
                price_to_estimate_fees: PriceToEstimateFees {
                    listing_price: money(listing_price),
                    shipping: money(shipping),
                },
                identifier: format!("estimate-{seller_sku}"),
            },
        };
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| {
                ConnectorError::config(CONNECTOR, "endpoint cannot be a base URL".to_owned())
            })?
            .pop_if_empty()
            .extend([
                "products",
                "fees",
                "v0",
                "listings",
                seller_sku,
                "feesEstimate",
            ]);
        let answer = self
            .call(GET_MY_FEES_ESTIMATE_FOR_SKU, |http| {
                http.post(url.clone()).json(&body)
            })
            .await?;
        read_fees_estimate(&answer.body).map_err(|error| {
            answer.error(ErrorKind::Malformed {
                detail: error.to_string(),
                raw: answer.body.to_vec(),
            })
        })
    }

    /// The message files waiting in the drop, oldest name first.
    fn waiting_notifications(&self) -> Result<Vec<PathBuf>, ConnectorError> {
        let Some(dir) = &self.notifications_dir else {
            return Ok(Vec::new());
        };
        let entries = std::fs::read_dir(dir).map_err(|error| {
            ConnectorError::config(
                CONNECTOR,
                format!("notifications_dir {}: {error}", dir.display()),
            )
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "json")
            })
            .collect();
        files.sort();
        files.truncate(NOTIFICATIONS_PER_POLL);
        Ok(files)
    }
}

/// When an FBA inventory pass begins, as its successor's `startDateTime` (ISO 8601).
fn inventory_pass_start() -> String {
    jiff::Timestamp::now().to_string()
}

/// Reads the watched GTINs, normalised to GTIN-13; an invalid line stops the connector with
/// its line number (a typo in our own list is for us to fix, not for quarantine).
fn read_references(path: &Path) -> Result<Vec<String>, ConnectorError> {
    let invalid = |detail: String| ConnectorError::config(CONNECTOR, detail);
    let text = std::fs::read_to_string(path)
        .map_err(|error| invalid(format!("references_file {}: {error}", path.display())))?;
    let mut gtins: Vec<String> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let gtin = normalise_gtin(line).map_err(|error| {
            invalid(format!(
                "references_file {} line {}: {error}",
                path.display(),
                index + 1
            ))
        })?;
        if !gtins.contains(&gtin) {
            gtins.push(gtin);
        }
    }
    Ok(gtins)
}

#[async_trait]
impl Connector for AmazonConnector {
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
        let files = self.waiting_notifications()?;
        if !files.is_empty() {
            return self.read_notifications(files, cursors, out).await;
        }
        if !self.unresolved.is_empty() {
            return self.resolve_references(out).await;
        }
        let (next_token, pass_started) = match self.step.clone() {
            Step::Inventory {
                next_token,
                pass_started,
            } => (next_token, pass_started),
            Step::Offers => match self.read_offers(cursors, out).await? {
                Some(report) => return Ok(report),
                // No ASIN to read: straight to the inventory.
                None => (None, inventory_pass_start()),
            },
        };
        self.read_inventory(next_token, pass_started, cursors, out)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_normalised_deduplicated_and_a_bad_line_is_named() {
        let dir = std::env::temp_dir().join(format!("hub-amazon-refs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.txt");
        std::fs::write(
            &good,
            "# watched\n4006381333931\n\n036000291452 # UPC\n4006381333931\n",
        )
        .unwrap();
        assert_eq!(
            read_references(&good).unwrap(),
            vec!["4006381333931".to_owned(), "0036000291452".to_owned()]
        );
        let bad = dir.join("bad.txt");
        std::fs::write(&bad, "4006381333931\n4006381333932\n").unwrap();
        let error = read_references(&bad).unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
