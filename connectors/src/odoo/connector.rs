//! The Odoo connector's fetch loop on the shared machinery. Each poll reads one
//! `search_read` page of one model after its `write_date` cursor: `product.product` until it
//! is caught up (with one look-up of the sales taxes its page refers to), then
//! `product.supplierinfo` (with one look-up of the barcodes its page refers to), then
//! `stock.quant` and `stock.move` (with one read of the stock of the products their page
//! names), then the products again. The page is handed over before its cursor moves. A
//! stock level the cycle already handed over is not handed over again (see `cycle_stock`).
//!
//! A product's name, category, sales taxes and brand are its template's fields, written on
//! `product.template`; `product.product` keeps its `write_date` at least its template's (a
//! stored field computed from `product_tmpl_id.write_date`), so the products' cursor sees
//! template changes too.
//!
//! # Why stock is read through quants and moves
//!
//! A product's quantities (`qty_available`, `free_qty`, `incoming_qty`) are computed from its
//! quants and moves; a stock move writes those, never the product, so `product.product`'s
//! `write_date` does not move with its stock. The stock changes are found where they are
//! written: `stock.quant` (on hand and reserved, per location; written by every done move
//! line, reservation and inventory adjustment) and `stock.move` (a purchase confirmed,
//! changed or cancelled moves `incoming_qty` without touching a quant). The quantities are
//! then read from `product.product`, computed by Odoo over the company's internal locations,
//! for just the products named. No periodic full re-read is needed: Odoo deletes empty
//! quants (`_unlink_zero_quants`), but only after the move that emptied them was written
//! `done`, and done moves are never deleted, so the move's `write_date` still names the
//! product; a counted move (waiting, confirmed, assigned) cannot be deleted before being
//! cancelled, which writes it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::AUTHORIZATION;
use serde_json::json;
use serde_json::value::RawValue;

use super::config::{OdooConfig, OdooProtocol};
use super::cursor::{INCREMENTAL_ORDER, WriteDateCursor};
use super::cycle_stock::CycleStock;
use super::mapping::{
    OdooMappingSettings, SaleTaxes, VariantBarcodes, changed_products, map_product, map_stock,
    map_supplierinfo, parse_row, raw_rows, referenced_products, referenced_taxes,
};
use super::payload::{
    STOCK_CHANGE_FIELDS, STOCK_FIELDS, SUPPLIERINFO_FIELDS, TAX_FIELDS, TaxRow, VARIANT_FIELDS,
    VariantRow,
};
use super::protocol::{
    OdooResponseError, SearchRead, authenticate_body, authenticated_uid, jsonrpc_result,
    search_read_rows,
};
use crate::connector::{Connector, PollReport, RecordSink, hand_over, load_cursor};
use crate::machinery::{
    ApiClient, ApiResponse, BreakerState, ConnectorError, Cursor, CursorKey, CursorStore,
    ErrorKind, Secret,
};
use crate::sourced::{Origin, Sourced};

/// The connector's name in configuration, metrics and cursors.
pub const CONNECTOR: &str = "odoo";
/// Operations, named after the models they read (sources `odoo.product.product`...).
pub const PRODUCTS: &str = "product.product";
pub const SUPPLIERINFO: &str = "product.supplierinfo";
/// The sales taxes of a page of products.
pub const TAXES: &str = "account.tax";
/// Stock per product and location: on hand and reserved quantities.
pub const QUANTS: &str = "stock.quant";
/// Stock moves: receipts, deliveries, adjustments, and the purchases still expected.
pub const MOVES: &str = "stock.move";
/// How many times a look-up whose answer garbled rows is asked again (see
/// `variant_barcodes`).
const LOOKUP_ATTEMPTS: usize = 3;
/// JSON-RPC's `common.authenticate`, once per connector run.
pub const AUTHENTICATE: &str = "common.authenticate";

/// The model a poll reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    Products,
    Supplierinfo,
    Quants,
    Moves,
}

impl Model {
    fn name(self) -> &'static str {
        match self {
            Model::Products => PRODUCTS,
            Model::Supplierinfo => SUPPLIERINFO,
            Model::Quants => QUANTS,
            Model::Moves => MOVES,
        }
    }

    /// The model read once this one is caught up; the cycle ends with `Moves`.
    fn next(self) -> Model {
        match self {
            Model::Products => Model::Supplierinfo,
            Model::Supplierinfo => Model::Quants,
            Model::Quants => Model::Moves,
            Model::Moves => Model::Products,
        }
    }
}

pub struct OdooConnector {
    client: ApiClient,
    protocol: OdooProtocol,
    base_url: Url,
    database: String,
    login: String,
    api_key: Secret,
    page_size: u32,
    settings: OdooMappingSettings,
    /// The `product.product` fields read, which depend on the OCA modules installed.
    product_fields: Vec<&'static str>,
    /// JSON-RPC's user id, from `authenticate`.
    uid: Option<i64>,
    next_request_id: u64,
    model: Model,
    /// The stock levels this cycle handed over: the quant and move passes read again the
    /// stock the products pass read, and hand over only what changed.
    cycle_stock: CycleStock,
}

impl OdooConnector {
    /// Validates the configuration and reads the API key from the environment or its file.
    pub fn from_config(config: &OdooConfig) -> Result<Self, ConnectorError> {
        let api_key = Secret::from_env(&config.api_key_env)
            .map_err(|error| ConnectorError::config(CONNECTOR, format!("API key: {error}")))?;
        OdooConnector::new(config, api_key)
    }

    /// A connector with its API key given (tests, or keys from elsewhere).
    pub fn new(config: &OdooConfig, api_key: Secret) -> Result<Self, ConnectorError> {
        let settings = config.validate()?;
        let base_url = Url::parse(config.base_url.trim_end_matches('/')).map_err(|error| {
            ConnectorError::config(
                CONNECTOR,
                format!("base_url {:?}: {error}", config.base_url),
            )
        })?;
        let client = ApiClient::builder(CONNECTOR, &config.http)
            .operation(AUTHENTICATE, config.rate)
            .operation(PRODUCTS, config.rate)
            .operation(SUPPLIERINFO, config.rate)
            .operation(TAXES, config.rate)
            .operation(QUANTS, config.rate)
            .operation(MOVES, config.rate)
            .build()?;
        Ok(OdooConnector {
            client,
            protocol: config.protocol,
            base_url,
            database: config.database.clone(),
            login: config.login.clone().unwrap_or_default(),
            api_key,
            page_size: config.page_size,
            product_fields: settings.product_fields(),
            settings,
            uid: None,
            next_request_id: 1,
            model: Model::Products,
            cycle_stock: CycleStock::default(),
        })
    }

    fn endpoint(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        url.set_path(&format!(
            "{}{path}",
            self.base_url.path().trim_end_matches('/')
        ));
        url
    }

    fn request_id(&mut self) -> u64 {
        let id = self.next_request_id;
        self.next_request_id += 1;
        id
    }

    /// An Odoo error answer as the machinery's error kind: access refusals stop the
    /// connector, other exceptions are a refused request, a foreign body is malformed.
    fn odoo_error(response: &ApiResponse, error: OdooResponseError) -> ConnectorError {
        let status = response.status.as_u16();
        let kind = match &error {
            OdooResponseError::Malformed { .. } => ErrorKind::Malformed {
                detail: error.to_string(),
                raw: response.body.to_vec(),
            },
            _ if error.is_access_denied() => ErrorKind::Unauthorized {
                status,
                body: error.to_string(),
            },
            _ => ErrorKind::RequestRefused {
                status,
                body: error.to_string(),
            },
        };
        response.error(kind)
    }

    async fn uid(&mut self) -> Result<i64, ConnectorError> {
        if let Some(uid) = self.uid {
            return Ok(uid);
        }
        let body = authenticate_body(
            self.request_id(),
            &self.database,
            &self.login,
            self.api_key.expose(),
        );
        let url = self.endpoint("/jsonrpc");
        let response = self
            .client
            .send(AUTHENTICATE, |http| http.post(url.clone()).json(&body))
            .await?;
        let uid = authenticated_uid(&response.body, &self.database, &self.login)
            .map_err(|error| Self::odoo_error(&response, error))?;
        self.uid = Some(uid);
        Ok(uid)
    }

    /// One `search_read` call counted under `operation`: the rows and where they came from.
    async fn search_read(
        &mut self,
        operation: &str,
        call: &SearchRead<'_>,
    ) -> Result<(Vec<Box<RawValue>>, Origin), ConnectorError> {
        let response = match self.protocol {
            OdooProtocol::JsonRpc => {
                let uid = self.uid().await?;
                let body = call.jsonrpc_body(
                    self.request_id(),
                    &self.database,
                    uid,
                    self.api_key.expose(),
                );
                let url = self.endpoint("/jsonrpc");
                self.client
                    .send(operation, |http| http.post(url.clone()).json(&body))
                    .await?
            }
            OdooProtocol::Json2 => {
                let body = call.json2_body();
                let url = self.endpoint(&call.json2_path());
                let authorization = format!("bearer {}", self.api_key.expose());
                self.client
                    .send(operation, |http| {
                        http.post(url.clone())
                            .header(AUTHORIZATION, &authorization)
                            .header("X-Odoo-Database", &self.database)
                            .json(&body)
                    })
                    .await?
            }
        };
        let rows = match self.protocol {
            OdooProtocol::JsonRpc => {
                jsonrpc_result(&response.body).and_then(|result| search_read_rows(&result))
            }
            OdooProtocol::Json2 => serde_json::from_slice::<Box<RawValue>>(&response.body)
                .map_err(|error| OdooResponseError::Malformed {
                    problem: error.to_string(),
                })
                .and_then(|result| search_read_rows(&result)),
        }
        .map_err(|error| Self::odoo_error(&response, error))?;
        Ok((rows, response.origin()))
    }

    /// The barcodes of the variants a page of supplier prices refers to, and the variant
    /// rows the look-up could not read, rejected with their bytes.
    ///
    /// An answer with unreadable rows is asked again, up to [`LOOKUP_ATTEMPTS`] times: a
    /// garbled variant row says nothing of its barcode, and the sound supplier prices that
    /// refer to it would be refused for want of one. Only a variant still unreadable then
    /// leaves its supplier prices without a barcode, refused as such.
    async fn variant_barcodes(
        &mut self,
        rows: &[Box<RawValue>],
    ) -> Result<(VariantBarcodes, Vec<Sourced>), ConnectorError> {
        let (variants, templates) = referenced_products(rows);
        let by_variant = json!(["id", "in", variants]);
        let by_template = json!(["product_tmpl_id", "in", templates]);
        let domain = match (variants.is_empty(), templates.is_empty()) {
            (true, true) => return Ok((VariantBarcodes::default(), Vec::new())),
            (false, true) => json!([by_variant]),
            (true, false) => json!([by_template]),
            (false, false) => json!(["|", by_variant, by_template]),
        };
        let call = SearchRead {
            model: PRODUCTS,
            domain,
            fields: VARIANT_FIELDS,
            limit: None,
            order: None,
            // An archived variant's supplier price still finds its barcode: the reference says
            // it is archived, and the hub decides what that means.
            include_archived: true,
        };
        let mut readable: BTreeMap<i64, VariantRow> = BTreeMap::new();
        let mut unreadable = Vec::new();
        for _ in 0..LOOKUP_ATTEMPTS {
            let (variant_rows, origin) = self.search_read(PRODUCTS, &call).await?;
            let before = unreadable.len();
            for raw in &variant_rows {
                match parse_row::<VariantRow>(PRODUCTS, raw, &origin) {
                    Ok(row) => {
                        readable.insert(row.id, row);
                    }
                    Err(rejection) => unreadable.push(*rejection),
                }
            }
            if unreadable.len() == before {
                break;
            }
        }
        let readable: Vec<VariantRow> = readable.into_values().collect();
        Ok((VariantBarcodes::from_rows(&readable), unreadable))
    }

    /// The sales taxes a page of products refers to.
    async fn sale_taxes(&mut self, rows: &[Box<RawValue>]) -> Result<SaleTaxes, ConnectorError> {
        let ids = referenced_taxes(rows);
        if ids.is_empty() {
            return Ok(SaleTaxes::default());
        }
        let call = SearchRead {
            model: TAXES,
            domain: json!([["id", "in", ids]]),
            fields: TAX_FIELDS,
            limit: None,
            order: None,
            include_archived: false,
        };
        let (tax_rows, origin) = self.search_read(TAXES, &call).await?;
        // A tax in another shape leaves its products without it: they are rejected as such,
        // with their bytes; the tax itself is logged.
        let tax_rows = tax_rows
            .iter()
            .filter_map(|raw| {
                serde_json::from_str::<TaxRow>(raw.get())
                    .inspect_err(|error| {
                        tracing::warn!(
                            request_id = origin.request_id.as_deref().unwrap_or_default(),
                            row = raw.get(),
                            %error,
                            "an account.tax row does not have Odoo's shape"
                        );
                    })
                    .ok()
            })
            .collect();
        Ok(SaleTaxes::from_rows(tax_rows))
    }

    /// The stock of the products a page of quants or moves names, read from
    /// `product.product` (counted under its operation, the records' source).
    async fn stock_of_changed(
        &mut self,
        model: Model,
        rows: &[Box<RawValue>],
        origin: &Origin,
    ) -> Result<Vec<Sourced>, ConnectorError> {
        let (products, mut records) = changed_products(model.name(), rows, origin);
        if products.is_empty() {
            return Ok(records);
        }
        let call = SearchRead {
            model: PRODUCTS,
            domain: json!([["id", "in", products]]),
            fields: STOCK_FIELDS,
            limit: None,
            order: None,
            // An archived product's stock is still the warehouse's.
            include_archived: true,
        };
        let (product_rows, product_origin) = self.search_read(PRODUCTS, &call).await?;
        records.extend(
            product_rows
                .iter()
                .flat_map(|raw| map_stock(raw, &product_origin, &self.settings)),
        );
        Ok(records)
    }
}

#[async_trait]
impl Connector for OdooConnector {
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
        let model = self.model;
        let key = CursorKey::new(CONNECTOR, model.name());
        // One we cannot read restarts the model from the beginning.
        let saved = load_cursor(cursors, &key).await?;
        let cursor: WriteDateCursor =
            Cursor::json_position(&key, saved.as_ref(), "reading the model from the start")
                .unwrap_or_default();
        let fields = match model {
            Model::Products => self.product_fields.clone(),
            Model::Supplierinfo => SUPPLIERINFO_FIELDS.to_vec(),
            Model::Quants | Model::Moves => STOCK_CHANGE_FIELDS.to_vec(),
        };
        let call = SearchRead {
            model: model.name(),
            domain: cursor.domain(),
            fields: &fields,
            limit: Some(self.page_size),
            order: Some(INCREMENTAL_ORDER),
            include_archived: model == Model::Products,
        };
        let (rows, origin) = self.search_read(model.name(), &call).await?;

        let keys: Vec<_> = raw_rows(&rows)
            .into_iter()
            .filter_map(|row| row.key)
            .collect();
        let malformed = |detail: String| {
            ConnectorError::new(
                CONNECTOR,
                model.name(),
                ErrorKind::Malformed {
                    detail,
                    raw: Vec::new(),
                },
            )
            .with_request_id(origin.request_id.clone().unwrap_or_default())
        };
        if keys.is_empty() && !rows.is_empty() {
            return Err(malformed(format!(
                "no row of the {} page has an id and a write_date: the cursor cannot move",
                model.name()
            )));
        }
        let mut next = cursor;
        next.advance(&keys)
            .map_err(|error| malformed(error.to_string()))?;

        let records: Vec<Sourced> = match model {
            Model::Products => {
                let taxes = self.sale_taxes(&rows).await?;
                rows.iter()
                    .flat_map(|raw| map_product(raw, &origin, &taxes, &self.settings))
                    .collect()
            }
            Model::Supplierinfo => {
                let (barcodes, unreadable_variants) = self.variant_barcodes(&rows).await?;
                rows.iter()
                    .flat_map(|raw| map_supplierinfo(raw, &origin, &barcodes, &self.settings))
                    .chain(unreadable_variants)
                    .collect()
            }
            Model::Quants | Model::Moves => self.stock_of_changed(model, &rows, &origin).await?,
        };
        let (records, page_stock) = self.cycle_stock.without_repeats(records);
        let next = Cursor::of_json(&key, &next)?;
        let handed_over =
            hand_over(self.client.metrics(), &key, records, &next, cursors, out).await?;
        self.client
            .metrics()
            .repeats_skipped(&key.operation, page_stock.repeats());
        self.cycle_stock.remember(page_stock);

        let model_caught_up = rows.len() < self.page_size as usize;
        if model_caught_up {
            self.model = model.next();
            if self.model == Model::Products {
                self.cycle_stock.begin_cycle();
            }
        }
        let mut report = PollReport {
            caught_up: model_caught_up && model == Model::Moves,
            ..PollReport::default()
        };
        report.add(handed_over);
        Ok(report)
    }
}
