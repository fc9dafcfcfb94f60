//! The distributor's Odoo, over its external API: JSON-RPC (`POST /jsonrpc`, services
//! `common.authenticate` and `object.execute_kw`) and JSON-2 (`POST /json/2/<model>/<method>`
//! with `Authorization: bearer <key>` and `X-Odoo-Database`), serving `search_read` on
//! `product.product` (the ERP stock and standard cost of every reference) and
//! `product.supplierinfo` (the prices of the suppliers whose price lists the buyers keep in
//! Odoo). Rows are in Odoo's shape: `false` for empty fields, many2one as `[id, "name"]`,
//! floats as JSON numbers, datetimes as `"YYYY-MM-DD HH:MM:SS"` UTC. A row's `write_date` is
//! when its cost last changed (stock moves do not touch a product's `write_date` in Odoo
//! either).

use std::cmp::Ordering;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use hub_schemas::records::EpochMillis;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::state::MarketState;
use super::{OperationContext, Simulator, operation};
use crate::catalogue::PriceFeed;

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
                product_rows(&market),
                &["barcode", "standard_price", "free_qty"],
            ),
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
    let mut matching = Vec::new();
    for row in rows.drain(..) {
        if matches(&row, domain)? {
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
            malformer.malform(&mut row, malformable);
            row
        })
        .collect();
    simulator.record_malformed(context, &malformer);
    Ok(Value::Array(rows))
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

fn product_rows(market: &MarketState) -> Vec<Map<String, Value>> {
    let catalogue = market.catalogue();
    catalogue
        .references
        .iter()
        .enumerate()
        .map(|(index, reference)| {
            let erp = &market.state(index).erp;
            let written_at = erp
                .last_cost
                .as_ref()
                .map_or(catalogue.as_of, |cost| cost.observed_at);
            let id = index as i64 + 1;
            let row = json!({
                "id": id,
                "barcode": reference.product.gtin,
                "default_code": format!("REF-{id:06}"),
                "standard_price": float(erp.standard_cost),
                "cost_currency_id": currency("EUR"),
                "qty_available": quantity(erp.quantity),
                "free_qty": quantity(erp.quantity),
                "incoming_qty": quantity(erp.incoming),
                "product_tmpl_id": [id, reference.product.title],
                "write_date": odoo_datetime(written_at),
            });
            into_map(row)
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
