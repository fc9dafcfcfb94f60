//! The distributor's Odoo, over its external API: JSON-RPC (`POST /jsonrpc`, services
//! `common.authenticate` and `object.execute_kw`) and JSON-2 (`POST /json/2/<model>/<method>`
//! with `Authorization: bearer <key>` and `X-Odoo-Database`), serving `search_read` on
//! `product.product` (the master data, ERP stock and standard cost of every reference, with
//! the OCA `product_brand` and `product_dimension` fields), `stock.quant` and `stock.move`
//! (the ERP stock's changes), `account.tax` (the sales taxes those products carry: VAT as
//! percentage taxes, the eco-participation and the private copy levy as fixed-amount taxes
//! that affect the VAT's base) and `product.supplierinfo` (the prices of the suppliers whose
//! price lists the buyers keep in Odoo). Rows are in Odoo's
//! shape: `false` for empty fields, many2one as `[id, "name"]`, many2many as a list of ids,
//! floats as JSON numbers, datetimes as `"YYYY-MM-DD HH:MM:SS"` UTC. A product's
//! `write_date` is when its master data or its cost last changed (stock moves do not touch a
//! product's `write_date` in Odoo either). Archiving or restoring a product writes it too;
//! as in Odoo, a search hides archived products unless its context sets `active_test` to
//! false.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use hub_core::category::Category;
use hub_schemas::records::{CostKind, EpochMillis, LevyKind, ProductReference, StockSource};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::state::MarketState;
use super::{OperationContext, Simulator, operation};
use crate::catalogue::{Catalogue, PriceFeed};
use crate::simulation::MarketEvent;

/// `POST /jsonrpc`.
pub const ODOO_JSONRPC: &str = "odoo.jsonrpc";
/// `POST /json/2/<model>/<method>`.
pub const ODOO_JSON2: &str = "odoo.json2";

/// The API user's id, as `authenticate` returns it.
const API_USER_ID: i64 = 2;
/// Suppliers are `res.partner` records numbered from here, in catalogue order.
const PARTNER_IDS: i64 = 1_000;
/// Supplier prices are numbered `reference * SUPPLIERINFO_IDS + line + 1`.
const SUPPLIERINFO_IDS: i64 = 100;
/// Fixed-amount taxes are numbered from here, VAT taxes from 1.
const LEVY_TAX_IDS: i64 = 100;
/// Odoo's `uom.product_uom_millimeter`: dimensions are kept in millimetres.
const MILLIMETRE: (i64, &str) = (19, "mm");

pub(super) fn routes(simulator: &Simulator) -> Router<Simulator> {
    Router::new()
        .route(
            "/jsonrpc",
            operation(simulator, ODOO_JSONRPC, post(jsonrpc)),
        )
        .route(
            "/json/2/{model}/{method}",
            operation(simulator, ODOO_JSON2, post(json2)),
        )
}

/// The `res.partner` id of catalogue supplier `index`.
pub fn odoo_partner_id(supplier_index: usize) -> i64 {
    PARTNER_IDS + supplier_index as i64
}

/// What the simulated Odoo's tables record of the market's changes beyond the market's own
/// state: when each product row was last written, when each product's quant was, and the
/// stock moves. As in Odoo, a stock change writes the quant and a move, never the product.
#[derive(Debug)]
pub(crate) struct OdooJournal {
    /// By catalogue index: when a standard cost update, an archival or a restoration last
    /// wrote the product.
    product_written_at: BTreeMap<usize, EpochMillis>,
    /// By catalogue index: when a change of its on-hand quantity last wrote its quant.
    quant_written_at: BTreeMap<usize, EpochMillis>,
    /// By catalogue index: its ERP quantity on hand and incoming, as Odoo last recorded them.
    erp_stock: Vec<(i64, i64)>,
    /// Every stock move, in creation order (the id is the position plus one).
    moves: Vec<StockMove>,
    /// By catalogue index: its purchase receipt waiting for the goods, into `moves`.
    pending_receipts: BTreeMap<usize, usize>,
}

/// A `stock.move` of the warehouse's stock location.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StockMove {
    reference: usize,
    quantity: i64,
    state: &'static str,
    from: Location,
    to: Location,
    written_at: EpochMillis,
}

/// A `stock.location` many2one, ids of a fresh Odoo database.
type Location = (i64, &'static str);
const VENDORS: Location = (4, "Partners/Vendors");
const CUSTOMERS: Location = (5, "Partners/Customers");
const WAREHOUSE_STOCK: Location = (8, "WH/Stock");

impl OdooJournal {
    /// The journal of a market whose ERP stock is `erp_stock` (quantity on hand, incoming)
    /// by catalogue index: the incoming quantities are purchase receipts already waiting,
    /// written when their product was last updated.
    pub(crate) fn new(catalogue: &Catalogue, erp_stock: Vec<(i64, i64)>) -> Self {
        let waiting: Vec<(usize, i64)> = erp_stock
            .iter()
            .enumerate()
            .filter(|(_, (_, incoming))| *incoming > 0)
            .map(|(reference, &(_, incoming))| (reference, incoming))
            .collect();
        let mut journal = OdooJournal {
            product_written_at: BTreeMap::new(),
            quant_written_at: BTreeMap::new(),
            erp_stock,
            moves: Vec::new(),
            pending_receipts: BTreeMap::new(),
        };
        for (reference, incoming) in waiting {
            let written_at = catalogue.references[reference].product.updated_at;
            journal.wait_for_receipt(reference, incoming, written_at);
        }
        journal
    }

    fn wait_for_receipt(&mut self, reference: usize, quantity: i64, at: EpochMillis) {
        self.pending_receipts.insert(reference, self.moves.len());
        self.moves.push(StockMove {
            reference,
            quantity,
            state: "assigned",
            from: VENDORS,
            to: WAREHOUSE_STOCK,
            written_at: at,
        });
    }

    /// Records a market change of catalogue entry `reference`.
    pub(crate) fn record(&mut self, reference: usize, event: &MarketEvent) {
        match event {
            MarketEvent::Cost(cost) if cost.cost_kind == CostKind::ErpStandardCost => {
                self.product_written_at.insert(reference, cost.observed_at);
            }
            MarketEvent::Product(product) => {
                self.product_written_at
                    .insert(reference, product.updated_at);
            }
            MarketEvent::Stock(stock) if stock.stock_source == StockSource::Erp => {
                let incoming = stock.incoming_quantity.unwrap_or(0);
                self.record_stock(reference, stock.quantity, incoming, stock.observed_at);
            }
            _ => {}
        }
    }

    fn record_stock(&mut self, reference: usize, on_hand: i64, incoming: i64, at: EpochMillis) {
        let (was_on_hand, was_incoming) = self.erp_stock[reference];
        self.erp_stock[reference] = (on_hand, incoming);
        if on_hand != was_on_hand {
            self.quant_written_at.insert(reference, at);
        }
        let mut pending = self.pending_receipts.remove(&reference);
        if on_hand > was_on_hand {
            // Goods in: the waiting receipt is validated, or goods came without one.
            match pending.take() {
                Some(index) => {
                    let receipt = &mut self.moves[index];
                    receipt.quantity = on_hand - was_on_hand;
                    receipt.state = "done";
                    receipt.written_at = at;
                }
                None => self.moves.push(StockMove {
                    reference,
                    quantity: on_hand - was_on_hand,
                    state: "done",
                    from: VENDORS,
                    to: WAREHOUSE_STOCK,
                    written_at: at,
                }),
            }
        } else if on_hand < was_on_hand {
            self.moves.push(StockMove {
                reference,
                quantity: was_on_hand - on_hand,
                state: "done",
                from: WAREHOUSE_STOCK,
                to: CUSTOMERS,
                written_at: at,
            });
        }
        match pending {
            // The purchase changed its quantity, or was cancelled.
            Some(index) if incoming != was_incoming => {
                let receipt = &mut self.moves[index];
                receipt.written_at = at;
                if incoming > 0 {
                    receipt.quantity = incoming;
                    self.pending_receipts.insert(reference, index);
                } else {
                    receipt.state = "cancel";
                }
            }
            Some(index) => {
                self.pending_receipts.insert(reference, index);
            }
            None if incoming > 0 => self.wait_for_receipt(reference, incoming, at),
            None => {}
        }
    }
}

/// The ERP stock of each catalogue reference as the simulated Odoo holds it now:
/// `(gtin, on hand, incoming)` in catalogue order.
impl Simulator {
    pub fn odoo_stock(&self) -> Vec<(String, i64, i64)> {
        let market = self.market();
        market
            .catalogue()
            .references
            .iter()
            .zip(&market.odoo().erp_stock)
            .map(|(reference, &(on_hand, incoming))| {
                (reference.product.gtin.clone(), on_hand, incoming)
            })
            .collect()
    }
}

impl Simulator {
    /// The GTINs of the products archived in the simulated Odoo now, in catalogue order.
    pub fn odoo_archived(&self) -> Vec<String> {
        let market = self.market();
        market
            .catalogue()
            .references
            .iter()
            .enumerate()
            .filter(|(index, _)| !market.state(*index).active)
            .map(|(_, reference)| reference.product.gtin.clone())
            .collect()
    }
}

/// An Odoo exception, as both protocols describe it.
struct OdooException {
    name: &'static str,
    message: String,
}

impl OdooException {
    fn access_denied() -> Self {
        OdooException {
            name: "odoo.exceptions.AccessDenied",
            message: "Access Denied".to_owned(),
        }
    }

    fn value_error(message: String) -> Self {
        OdooException {
            name: "builtins.ValueError",
            message,
        }
    }

    fn data(&self) -> Value {
        json!({
            "name": self.name,
            "debug": format!("Traceback (most recent call last):\n{}: {}\n", self.name, self.message),
            "message": self.message,
            "arguments": [self.message],
            "context": {},
        })
    }

    /// JSON-RPC answers exceptions with HTTP 200 and an `error` member.
    fn jsonrpc(&self, id: &Value) -> Response {
        Json(json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {"code": 200, "message": "Odoo Server Error", "data": self.data()},
        }))
        .into_response()
    }

    /// JSON-2 answers exceptions with a 4xx/5xx status and the exception as the body.
    fn json2(&self, status: StatusCode) -> Response {
        (status, Json(self.data())).into_response()
    }
}

async fn jsonrpc(
    State(simulator): State<Simulator>,
    Extension(context): Extension<OperationContext>,
    Json(request): Json<Value>,
) -> Response {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let params = &request["params"];
    let args = params["args"].as_array().cloned().unwrap_or_default();
    let credentials = simulator.credentials();
    let database_ok = args.first().and_then(Value::as_str) == Some(&credentials.odoo_database);
    match (params["service"].as_str(), params["method"].as_str()) {
        (Some("common"), Some("authenticate")) => {
            let accepted = database_ok
                && args.get(1).and_then(Value::as_str) == Some(&credentials.odoo_login)
                && args.get(2).and_then(Value::as_str) == Some(&credentials.odoo_api_key);
            let result = if accepted {
                json!(API_USER_ID)
            } else {
                json!(false)
            };
            Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
        }
        (Some("object"), Some("execute_kw")) => {
            let authorised = database_ok
                && args.get(1).and_then(Value::as_i64) == Some(API_USER_ID)
                && args.get(2).and_then(Value::as_str) == Some(&credentials.odoo_api_key);
            if !authorised {
                return OdooException::access_denied().jsonrpc(&id);
            }
            let model = args.get(3).and_then(Value::as_str).unwrap_or_default();
            let method = args.get(4).and_then(Value::as_str).unwrap_or_default();
            let domain = args
                .get(5)
                .and_then(|positional| positional.get(0))
                .cloned()
                .unwrap_or_else(|| json!([]));
            let keywords = args.get(6).cloned().unwrap_or_else(|| json!({}));
            match search_read(&simulator, &context, model, method, &domain, &keywords) {
                Ok(rows) => {
                    Json(json!({"jsonrpc": "2.0", "id": id, "result": rows})).into_response()
                }
                Err(exception) => exception.jsonrpc(&id),
            }
        }
        (service, method) => OdooException::value_error(format!(
            "no method {:?} on service {:?}",
            method.unwrap_or_default(),
            service.unwrap_or_default()
        ))
        .jsonrpc(&id),
    }
}

async fn json2(
    State(simulator): State<Simulator>,
    Extension(context): Extension<OperationContext>,
    Path((model, method)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let credentials = simulator.credentials();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("bearer "));
    if bearer != Some(credentials.odoo_api_key.as_str()) {
        return OdooException {
            name: "werkzeug.exceptions.Unauthorized",
            message: "Invalid apikey".to_owned(),
        }
        .json2(StatusCode::UNAUTHORIZED);
    }
    let database = headers
        .get("X-Odoo-Database")
        .and_then(|value| value.to_str().ok());
    if database != Some(credentials.odoo_database.as_str()) {
        return OdooException {
            name: "werkzeug.exceptions.NotFound",
            message: format!("database {database:?} not found"),
        }
        .json2(StatusCode::NOT_FOUND);
    }
    let domain = body.get("domain").cloned().unwrap_or_else(|| json!([]));
    match search_read(&simulator, &context, &model, &method, &domain, &body) {
        Ok(rows) => Json(rows).into_response(),
        Err(exception) => exception.json2(StatusCode::UNPROCESSABLE_ENTITY),
    }
}

/// `search_read` on a model: the rows matching `domain`, in `order`, at most `limit`, with
/// the requested `fields` (and `id`).
fn search_read(
    simulator: &Simulator,
    context: &OperationContext,
    model: &str,
    method: &str,
    domain: &Value,
    keywords: &Value,
) -> Result<Value, OdooException> {
    if method != "search_read" {
        return Err(OdooException::value_error(format!(
            "method {method:?} is not served by the simulator (search_read is)"
        )));
    }
    let (mut rows, malformable): (Vec<Map<String, Value>>, &[&str]) = {
        let market = simulator.market();
        match model {
            "product.product" => (
                product_rows(&market, products_named(domain).as_ref()),
                &["barcode", "standard_price", "free_qty"],
            ),
            "account.tax" => (SaleTaxes::of(market.catalogue()).rows(), &[]),
            "stock.quant" => (quant_rows(&market), &["quantity", "product_id"]),
            "stock.move" => (move_rows(&market), &["product_uom_qty", "product_id"]),
            "product.supplierinfo" => (
                supplierinfo_rows(&market),
                &["price", "min_qty", "currency_id"],
            ),
            _ => {
                return Err(OdooException::value_error(format!(
                    "model {model:?} is not served by the simulator"
                )));
            }
        }
    };
    let archived_hidden = hides_archived(domain, keywords);
    let mut matching = Vec::new();
    for row in rows.drain(..) {
        let hidden = archived_hidden && row.get("active") == Some(&Value::Bool(false));
        if !hidden && matches(&row, domain)? {
            matching.push(row);
        }
    }
    match keywords.get("order").and_then(Value::as_str) {
        None | Some("id asc") | Some("id") => {}
        Some("write_date asc, id asc") => matching.sort_by(|left, right| {
            compare(&left["write_date"], &right["write_date"])
                .then_with(|| compare(&left["id"], &right["id"]))
        }),
        Some(other) => {
            return Err(OdooException::value_error(format!(
                "order {other:?} is not served by the simulator"
            )));
        }
    }
    if let Some(limit) = keywords.get("limit").and_then(Value::as_u64) {
        matching.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    let fields: Option<Vec<&str>> = keywords
        .get("fields")
        .and_then(Value::as_array)
        .map(|fields| fields.iter().filter_map(Value::as_str).collect());
    // Only a field the client asked for can reach it malformed (a stock read of products
    // does not ask for their cost).
    let malformable: Vec<&str> = malformable
        .iter()
        .copied()
        .filter(|field| fields.as_ref().is_none_or(|fields| fields.contains(field)))
        .collect();
    let mut malformer = context.malformer();
    let rows: Vec<Value> = matching
        .into_iter()
        .map(|row| {
            let mut row = match &fields {
                Some(fields) => Value::Object(
                    row.into_iter()
                        .filter(|(name, _)| name == "id" || fields.contains(&name.as_str()))
                        .collect(),
                ),
                None => Value::Object(row),
            };
            malformer.malform(&mut row, &malformable);
            row
        })
        .collect();
    simulator.record_malformed(context, &malformer);
    Ok(Value::Array(rows))
}

/// Whether a search hides archived records, as Odoo's ORM does: unless the context sets
/// `active_test` to false or the domain itself names the `active` field.
fn hides_archived(domain: &Value, keywords: &Value) -> bool {
    let active_test = keywords
        .pointer("/context/active_test")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let names_active = domain.as_array().is_some_and(|items| {
        items
            .iter()
            .any(|item| item.get(0).and_then(Value::as_str) == Some("active"))
    });
    active_test && !names_active
}

fn odoo_datetime(at: EpochMillis) -> String {
    jiff::Timestamp::from_millisecond(at).map_or_else(
        |_| at.to_string(),
        |time| time.strftime("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

fn odoo_date(at: EpochMillis) -> String {
    jiff::Timestamp::from_millisecond(at).map_or_else(
        |_| at.to_string(),
        |time| time.strftime("%Y-%m-%d").to_string(),
    )
}

/// A float field: Odoo writes floats as JSON numbers.
fn float(amount: Decimal) -> Value {
    serde_json::from_str(&amount.normalize().to_string()).unwrap_or(Value::Null)
}

fn quantity(units: i64) -> Value {
    json!(units as f64)
}

fn currency(code: &str) -> Value {
    let id = match code {
        "EUR" => 1,
        "USD" => 2,
        "GBP" => 3,
        _ => 99,
    };
    json!([id, code])
}

/// The product category of each hub category in the simulated Odoo's tree: one child of
/// Odoo's default `All / Saleable` per category, the default itself for uncategorised
/// products.
fn product_category(category: Category) -> (i64, &'static str) {
    let name = match category {
        Category::Computers => "All / Saleable / Computers",
        Category::Tv => "All / Saleable / TV",
        Category::Phones => "All / Saleable / Phones",
        Category::ConsumerElectronics => "All / Saleable / Consumer Electronics",
        Category::LargeAppliances => "All / Saleable / Large Appliances",
        Category::SmallAppliances => "All / Saleable / Small Appliances",
        Category::VideoGameConsoles => "All / Saleable / Video Game Consoles",
        Category::VideoGames => "All / Saleable / Video Games",
        Category::Books => "All / Saleable / Books",
        Category::Accessories => "All / Saleable / Accessories",
        Category::Diy => "All / Saleable / DIY",
        Category::Furniture => "All / Saleable / Furniture",
        Category::Other => "All / Saleable",
    };
    // Odoo's own `All / Saleable` is id 1; the children follow in the hub's order.
    let id = match category {
        Category::Other => 1,
        other => 10 + Category::ALL.iter().position(|c| *c == other).unwrap_or(0) as i64,
    };
    (id, name)
}

/// The sales taxes of the catalogue's products, as the distributor set them up in Odoo: one
/// percentage tax per VAT rate, and one fixed-amount tax per levy and amount (Odoo taxes
/// have one amount each: the eco-participation's bands are one tax per band). A fixed tax
/// affects the VAT's base, so its amount excludes VAT, to Odoo's 4 decimals.
struct SaleTaxes {
    vat: BTreeMap<Decimal, i64>,
    /// By levy name and amount excluding VAT: the tax's id and its `account.tax.group`.
    levies: BTreeMap<(&'static str, Decimal), (i64, TaxGroup)>,
}

/// An `account.tax.group` many2one.
type TaxGroup = (i64, &'static str);

/// A levy's tax name and tax group (the groups the connector's default configuration maps).
fn levy_label(kind: LevyKind) -> (&'static str, TaxGroup) {
    match kind {
        LevyKind::DeeeEcoParticipation => ("Eco-participation DEEE", (LEVY_TAX_IDS, "Ecotaxes")),
        LevyKind::PrivateCopy => ("Copie privée", (LEVY_TAX_IDS + 1, "Copie privée")),
    }
}

fn levy_amount_excl_vat(amount_incl_vat: Decimal, vat_rate: Decimal) -> Decimal {
    (amount_incl_vat / (Decimal::ONE + vat_rate)).round_dp(4)
}

impl SaleTaxes {
    fn of(catalogue: &crate::catalogue::Catalogue) -> Self {
        let mut vat = BTreeMap::new();
        let mut levies = BTreeMap::new();
        for reference in &catalogue.references {
            let product = &reference.product;
            vat.insert(product.vat_rate.normalize(), 0);
            for levy in &product.levies {
                let amount = levy_amount_excl_vat(levy.amount_incl_vat, product.vat_rate);
                let (name, group) = levy_label(levy.kind);
                levies.insert((name, amount), (0, group));
            }
        }
        for (id, value) in vat.values_mut().enumerate() {
            *value = id as i64 + 1;
        }
        for (id, (value, _)) in levies.values_mut().enumerate() {
            *value = LEVY_TAX_IDS + id as i64;
        }
        SaleTaxes { vat, levies }
    }

    /// The `taxes_id` of a product.
    fn of_product(&self, product: &ProductReference) -> Vec<i64> {
        let mut ids = vec![self.vat[&product.vat_rate.normalize()]];
        ids.extend(product.levies.iter().map(|levy| {
            let amount = levy_amount_excl_vat(levy.amount_incl_vat, product.vat_rate);
            self.levies[&(levy_label(levy.kind).0, amount)].0
        }));
        ids
    }

    fn rows(&self) -> Vec<Map<String, Value>> {
        let vat = self.vat.iter().map(|(rate, id)| {
            let percent = (rate * Decimal::ONE_HUNDRED).normalize();
            let name = format!("{percent}%").replace('.', ",");
            json!({
                "id": id,
                "name": name,
                "amount_type": "percent",
                "amount": float(percent),
                "include_base_amount": false,
                "tax_group_id": [id, format!("TVA {name}")],
            })
        });
        let levies = self.levies.iter().map(|((name, amount), (id, group))| {
            json!({
                "id": id,
                "name": format!("{name} {} €", amount.normalize()),
                "amount_type": "fixed",
                "amount": float(*amount),
                "include_base_amount": true,
                "tax_group_id": [group.0, group.1],
            })
        });
        vat.chain(levies).map(into_map).collect()
    }
}

/// A many2one to one of `names`, numbered by their sorted order.
fn numbered<'a>(names: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, i64> {
    let mut numbered: BTreeMap<&str, i64> = names.map(|name| (name, 0)).collect();
    for (id, value) in numbered.values_mut().enumerate() {
        *value = id as i64 + 1;
    }
    numbered
}

fn millimetres(value: Option<i32>) -> Value {
    json!(f64::from(value.unwrap_or(0)))
}

/// The catalogue indices a `product.product` domain of one `id in` or `product_tmpl_id in`
/// leaf names (each product is its own template): the connector's look-ups, served without
/// building every row. `None` for any other domain.
fn products_named(domain: &Value) -> Option<BTreeSet<usize>> {
    let [leaf] = domain.as_array()?.as_slice() else {
        return None;
    };
    let [field, operator, ids] = leaf.as_array()?.as_slice() else {
        return None;
    };
    if !matches!(field.as_str()?, "id" | "product_tmpl_id") || operator.as_str()? != "in" {
        return None;
    }
    ids.as_array()?
        .iter()
        .map(|id| {
            let id = id.as_i64()?;
            usize::try_from(id - 1).ok()
        })
        .collect()
}

/// The `product.product` rows, all of them or those of `only` (catalogue indices).
fn product_rows(market: &MarketState, only: Option<&BTreeSet<usize>>) -> Vec<Map<String, Value>> {
    let catalogue = market.catalogue();
    let taxes = SaleTaxes::of(catalogue);
    let brands = numbered(
        catalogue
            .references
            .iter()
            .filter_map(|reference| reference.product.brand.as_deref()),
    );
    catalogue
        .references
        .iter()
        .enumerate()
        .filter(|(index, _)| only.is_none_or(|only| only.contains(index)))
        .map(|(index, reference)| {
            let product = &reference.product;
            let erp = &market.state(index).erp;
            let written_at = market
                .odoo()
                .product_written_at
                .get(&index)
                .map_or(product.updated_at, |at| (*at).max(product.updated_at));
            let id = index as i64 + 1;
            let (categ_id, category) = product_category(reference.category);
            let row = json!({
                "id": id,
                "barcode": product.gtin,
                "default_code": product.sku,
                "name": product.title,
                "categ_id": [categ_id, category],
                // Kilograms; the database keeps weights to the gram ("Stock Weight" digits 3).
                "weight": float(Decimal::new(i64::from(product.weight_g.unwrap_or(0)), 3)),
                "taxes_id": taxes.of_product(product),
                "product_brand_id": product.brand.as_deref().map_or(json!(false), |brand| {
                    json!([brands[brand], brand])
                }),
                "product_length": millimetres(product.length_mm),
                "product_width": millimetres(product.width_mm),
                "product_height": millimetres(product.height_mm),
                "dimensional_uom_id": [MILLIMETRE.0, MILLIMETRE.1],
                "standard_price": float(erp.standard_cost),
                "cost_currency_id": currency("EUR"),
                "qty_available": quantity(erp.quantity),
                "free_qty": quantity(erp.quantity),
                "incoming_qty": quantity(erp.incoming),
                "product_tmpl_id": [id, product.title],
                "active": market.state(index).active,
                "write_date": odoo_datetime(written_at),
            });
            into_map(row)
        })
        .collect()
}

/// How Odoo names a product in a many2one: `[internal reference] name`.
fn product_display_name(product: &ProductReference) -> String {
    format!("[{}] {}", product.sku, product.title)
}

/// One quant per product in the warehouse's stock location, none reserved (the market
/// sells straight from what is free).
fn quant_rows(market: &MarketState) -> Vec<Map<String, Value>> {
    let catalogue = market.catalogue();
    let journal = market.odoo();
    catalogue
        .references
        .iter()
        .enumerate()
        .map(|(index, reference)| {
            let id = index as i64 + 1;
            let (on_hand, _) = journal.erp_stock[index];
            // Stock received before the market opened was last moved with the product's
            // last update.
            let written_at = journal
                .quant_written_at
                .get(&index)
                .copied()
                .unwrap_or(reference.product.updated_at);
            into_map(json!({
                "id": id,
                "product_id": [id, product_display_name(&reference.product)],
                "location_id": [WAREHOUSE_STOCK.0, WAREHOUSE_STOCK.1],
                "quantity": quantity(on_hand),
                "reserved_quantity": 0.0,
                "write_date": odoo_datetime(written_at),
            }))
        })
        .collect()
}

fn move_rows(market: &MarketState) -> Vec<Map<String, Value>> {
    let catalogue = market.catalogue();
    market
        .odoo()
        .moves
        .iter()
        .enumerate()
        .map(|(index, stock_move)| {
            let product_id = stock_move.reference as i64 + 1;
            let product = &catalogue.references[stock_move.reference].product;
            into_map(json!({
                "id": index as i64 + 1,
                "product_id": [product_id, product_display_name(product)],
                "product_uom_qty": quantity(stock_move.quantity),
                "state": stock_move.state,
                "location_id": [stock_move.from.0, stock_move.from.1],
                "location_dest_id": [stock_move.to.0, stock_move.to.1],
                "date": odoo_datetime(stock_move.written_at),
                "write_date": odoo_datetime(stock_move.written_at),
            }))
        })
        .collect()
}

fn supplierinfo_rows(market: &MarketState) -> Vec<Map<String, Value>> {
    let catalogue = market.catalogue();
    let mut rows = Vec::new();
    for (index, reference) in catalogue.references.iter().enumerate() {
        for (line_index, line) in market.state(index).supplier_lines.iter().enumerate() {
            let supplier = &catalogue.suppliers[line.supplier];
            if supplier.price_feed != PriceFeed::OdooSupplierinfo {
                continue;
            }
            let written_at = line
                .last_cost
                .as_ref()
                .map_or(catalogue.as_of, |cost| cost.observed_at);
            let product_id = index as i64 + 1;
            let row = json!({
                "id": product_id * SUPPLIERINFO_IDS + line_index as i64 + 1,
                "partner_id": [odoo_partner_id(line.supplier), supplier.name],
                "product_id": [product_id, reference.product.title],
                "product_tmpl_id": [product_id, reference.product.title],
                "product_code": false,
                "price": float(line.unit_cost),
                "discount": 0.0,
                "min_qty": quantity(i64::from(line.moq)),
                "delay": line.lead_time_days,
                "date_start": odoo_date(line.valid_from),
                "date_end": odoo_date(line.valid_to),
                "currency_id": currency(line.currency),
                "write_date": odoo_datetime(written_at),
            });
            rows.push(into_map(row));
        }
    }
    rows
}

fn into_map(row: Value) -> Map<String, Value> {
    match row {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn compare(left: &Value, right: &Value) -> Ordering {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => left
            .as_f64()
            .partial_cmp(&right.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(left), Value::String(right)) => left.cmp(right),
        _ => Ordering::Equal,
    }
}

/// Evaluates an Odoo domain (Polish notation: `&`, `|`, `!` before their operands, leaves
/// joined by `&` when no operator is given) on one row.
fn matches(row: &Map<String, Value>, domain: &Value) -> Result<bool, OdooException> {
    let Some(items) = domain.as_array() else {
        return Err(OdooException::value_error(format!(
            "Invalid domain {domain}: not a list"
        )));
    };
    let mut position = 0;
    let mut result = true;
    while position < items.len() {
        result &= evaluate(row, items, &mut position)?;
    }
    Ok(result)
}

fn evaluate(
    row: &Map<String, Value>,
    items: &[Value],
    position: &mut usize,
) -> Result<bool, OdooException> {
    let item = &items[*position];
    *position += 1;
    let operand = |position: &mut usize| {
        if *position >= items.len() {
            return Err(OdooException::value_error(
                "Invalid domain: an operator misses its operands".to_owned(),
            ));
        }
        evaluate(row, items, position)
    };
    match item.as_str() {
        Some("&") => Ok(operand(position)? & operand(position)?),
        Some("|") => Ok(operand(position)? | operand(position)?),
        Some("!") => Ok(!operand(position)?),
        _ => leaf(row, item),
    }
}

fn leaf(row: &Map<String, Value>, leaf: &Value) -> Result<bool, OdooException> {
    let invalid = || OdooException::value_error(format!("Invalid leaf {leaf}"));
    let [field, operator, value] = leaf.as_array().map(Vec::as_slice).ok_or_else(invalid)? else {
        return Err(invalid());
    };
    let field = field.as_str().ok_or_else(invalid)?;
    let actual = match row.get(field) {
        // A many2one compares by its id.
        Some(Value::Array(pair)) if pair.len() == 2 => pair[0].clone(),
        Some(actual) => actual.clone(),
        None => return Err(invalid()),
    };
    let contains = |list: &Value| {
        list.as_array()
            .map(|list| list.contains(&actual))
            .ok_or_else(invalid)
    };
    let ordering = compare(&actual, value);
    match operator.as_str().ok_or_else(invalid)? {
        "=" => Ok(actual == *value),
        "!=" => Ok(actual != *value),
        ">" => Ok(ordering == Ordering::Greater),
        ">=" => Ok(ordering != Ordering::Less),
        "<" => Ok(ordering == Ordering::Less),
        "<=" => Ok(ordering != Ordering::Greater),
        "in" => contains(value),
        "not in" => contains(value).map(|found| !found),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_hide_archived_rows_unless_the_context_or_the_domain_asks_for_them() {
        let by_date = json!([["write_date", ">=", "2025-03-10 06:00:00"]]);
        assert!(hides_archived(&by_date, &json!({"limit": 40})));
        assert!(hides_archived(
            &by_date,
            &json!({"context": {"active_test": true}})
        ));
        assert!(!hides_archived(
            &by_date,
            &json!({"context": {"active_test": false}})
        ));
        assert!(!hides_archived(
            &json!(["|", ["active", "=", false], ["active", "=", true]]),
            &json!({})
        ));
    }
}
