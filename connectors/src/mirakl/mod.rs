//! The generic Mirakl seller API connector (any Mirakl marketplace; channel `mirakl`).
//! Each poll reads one OF21 page of our offers after the cursor (offset paging), asks P11
//! for every shop's offers on those EANs, hands over one offer signal per offer plus every
//! rejected element, then moves the cursor to the next page, back to 0 after the last one.

pub mod config;
pub mod mapping;
pub mod payload;

use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderValue};

pub use self::config::MiraklConfig;
use self::mapping::{OurShop, offer_signals, read_competition, read_own_offers};
use crate::connector::{Connector, PollReport, RecordSink, hand_over, load_cursor};
use crate::machinery::{
    ApiClient, BreakerState, ConnectorError, Cursor, CursorKey, CursorStore, Disposition, Secret,
    epoch_millis,
};

/// The connector's name in configuration, metrics and cursors.
pub const CONNECTOR: &str = "mirakl";
/// OF21, list our offers.
pub const OF21: &str = "OF21";
/// P11, list every shop's offers on products.
pub const P11: &str = "P11";

pub struct MiraklConnector {
    client: ApiClient,
    /// `Authorization: <api key>`, no `Bearer`; marked sensitive.
    authorization: HeaderValue,
    offers_url: Url,
    products_offers_url: Url,
    shop_id: Option<i64>,
    our_shop: OurShop,
    page_size: u32,
    cursor_key: CursorKey,
}

impl MiraklConnector {
    /// Validates the configuration and reads the API key from the environment or its file.
    pub fn from_config(config: &MiraklConfig) -> Result<Self, ConnectorError> {
        let api_key = Secret::from_env(&config.api_key_env)
            .map_err(|error| ConnectorError::config(CONNECTOR, format!("API key: {error}")))?;
        Self::new(config, api_key)
    }

    /// The connector with its API key already read.
    pub fn new(config: &MiraklConfig, api_key: Secret) -> Result<Self, ConnectorError> {
        config.validate()?;
        let invalid = |detail: String| ConnectorError::config(CONNECTOR, detail);
        let authorization = api_key.header_value("").map_err(|_| {
            invalid(format!(
                "the API key in {} is not a valid header value (a line break or a \
                     control character)",
                config.api_key_env
            ))
        })?;
        let base = Url::parse(config.base_url.trim_end_matches('/'))
            .map_err(|error| invalid(format!("base_url {:?}: {error}", config.base_url)))?;
        let endpoint = |path: &str| {
            let mut url = base.clone();
            url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
            url
        };
        let client = ApiClient::builder(CONNECTOR, &config.http)
            .operation(OF21, config.of21_rate)
            .operation(P11, config.p11_rate)
            .build()?;
        Ok(MiraklConnector {
            client,
            authorization,
            offers_url: endpoint("/api/offers"),
            products_offers_url: endpoint("/api/products/offers"),
            shop_id: config.shop_id,
            our_shop: OurShop {
                shop_id: config.shop_id,
                shop_name: config.shop_name.clone(),
            },
            page_size: config.page_size,
            cursor_key: CursorKey::new(CONNECTOR, OF21),
        })
    }

    /// The offset a cursor holds. One we cannot read restarts the pass: re-reading offers
    /// is harmless, skipping them is not.
    fn offset(&self, cursor: Option<&Cursor>) -> u64 {
        let Some(cursor) = cursor else { return 0 };
        cursor.value.parse().unwrap_or_else(|_| {
            tracing::warn!(
                cursor = %self.cursor_key,
                value = %cursor.value,
                "the cursor is not an OF21 offset: starting the pass over"
            );
            0
        })
    }
}

#[async_trait]
impl Connector for MiraklConnector {
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
        let offset = self.offset(load_cursor(cursors, &self.cursor_key).await?.as_ref());
        let mut query = vec![
            ("max", self.page_size.to_string()),
            ("offset", offset.to_string()),
        ];
        if let Some(shop_id) = self.shop_id {
            query.push(("shop_id", shop_id.to_string()));
        }
        let own = self
            .client
            .send(OF21, |http| {
                http.get(self.offers_url.clone())
                    .header(AUTHORIZATION, self.authorization.clone())
                    .query(&query)
            })
            .await?;
        let page = read_own_offers(&own.body, own.origin());

        let gtins = page.gtins();
        let competition = if gtins.is_empty() {
            None
        } else {
            let references = gtins
                .iter()
                .map(|gtin| format!("EAN|{gtin}"))
                .collect::<Vec<_>>()
                .join(",");
            let answer = self
                .client
                .send(P11, |http| {
                    http.get(self.products_offers_url.clone())
                        .header(AUTHORIZATION, self.authorization.clone())
                        .query(&[("product_references", &references)])
                })
                .await;
            match answer {
                Ok(answer) => Some(read_competition(
                    &answer.body,
                    answer.origin(),
                    &self.our_shop,
                )),
                // P11 refused these references: our offers still go out, with the
                // competition unknown.
                Err(error) if error.disposition() == Disposition::Quarantine => {
                    tracing::warn!(%error, "P11 refused the page's references: competition unknown");
                    None
                }
                Err(error) => return Err(error),
            }
        };

        // An unreadable page still moves the offset by a page: its bytes are quarantined.
        let read = match page.total_count {
            Some(_) => page.elements,
            None => u64::from(self.page_size),
        };
        let next_offset = offset + read;
        let pass_complete = match page.total_count {
            Some(total) => page.elements == 0 || next_offset >= total,
            None => false,
        };
        let next = Cursor {
            value: if pass_complete { 0 } else { next_offset }.to_string(),
            advanced_at: epoch_millis(std::time::SystemTime::now()),
        };
        let records = offer_signals(page, competition.as_ref());
        let handed_over = hand_over(
            self.client.metrics(),
            &self.cursor_key,
            records,
            &next,
            cursors,
            out,
        )
        .await?;
        let mut report = PollReport {
            caught_up: pass_complete,
            ..PollReport::default()
        };
        report.add(handed_over);
        Ok(report)
    }
}
