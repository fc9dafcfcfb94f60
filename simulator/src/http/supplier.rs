//! Suppliers' price and stock files, as a supplier's web server publishes them:
//! `GET /suppliers/<supplier id>/prices.csv`, one line per reference the supplier sells, in a
//! French wholesaler's layout (`;` delimiter, decimal comma, prices excluding VAT) with the
//! market's current costs and stock, and `Last-Modified` at the market's simulated now. The
//! hub reads it with a mapping file (`config/mappings/<supplier>.toml`), not code.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};

use super::{OperationContext, Simulator, json_error, operation};
use crate::catalogue::PriceFeed;

/// `GET /suppliers/<supplier id>/prices.csv`.
pub const SUPPLIER_PRICE_FILE: &str = "supplier.prices_csv";

/// The file's header; a mapping names these columns.
pub const SUPPLIER_FILE_HEADER: &str = "EAN;Prix HT;Devise;Stock;Délai (j);Qté mini";

pub(super) fn routes(simulator: &Simulator) -> Router<Simulator> {
    Router::new().route(
        "/suppliers/{supplier}/prices.csv",
        operation(simulator, SUPPLIER_PRICE_FILE, get(price_file)),
    )
}

async fn price_file(
    State(simulator): State<Simulator>,
    Extension(context): Extension<OperationContext>,
    Path(supplier_id): Path<String>,
) -> Response {
    let (mut lines, prices, now) = {
        let market = simulator.market();
        let catalogue = market.catalogue();
        let Some(supplier) = catalogue
            .suppliers
            .iter()
            .position(|supplier| supplier.id == supplier_id)
        else {
            return json_error(
                StatusCode::NOT_FOUND,
                &format!("no supplier {supplier_id:?}"),
            );
        };
        // A supplier whose prices the buyers keep in Odoo still sends its stock; its file
        // then has no price.
        let prices = catalogue.suppliers[supplier].price_feed == PriceFeed::SupplierFile;
        let mut lines = Vec::new();
        for (index, reference) in catalogue.references.iter().enumerate() {
            for line in &market.state(index).supplier_lines {
                if line.supplier != supplier {
                    continue;
                }
                let price = if prices {
                    line.unit_cost.normalize().to_string().replace('.', ",")
                } else {
                    String::new()
                };
                lines.push(FileLine {
                    fields: serde_json::json!({
                        "EAN": reference.product.gtin,
                        "Prix HT": price,
                        "Stock": line.quantity.to_string(),
                    }),
                    currency: line.currency,
                    lead_time_days: line.lead_time_days,
                    moq: line.moq,
                });
            }
        }
        (lines, prices, market.simulated_now())
    };
    // A supplier's file is the same until the supplier rewrites it: the same sound content
    // is served malformed the same way at every download, and its malformed lines are
    // counted when the content changes, as a client reads the file again only then.
    let sound: Vec<String> = lines.iter().map(FileLine::render).collect();
    let (mut malformer, first_served) =
        simulator.file_malformer(&context, &supplier_id, &sound.join("\n"));
    // A file without prices is read for its stock only: its empty price cells are no
    // field a client reads.
    let fields: &[&str] = if prices {
        &["EAN", "Prix HT", "Stock"]
    } else {
        &["EAN", "Stock"]
    };
    for line in &mut lines {
        malformer.malform(&mut line.fields, fields);
    }
    if first_served {
        simulator.record_malformed(&context, &malformer);
    }
    let body: Vec<String> = std::iter::once(SUPPLIER_FILE_HEADER.to_owned())
        .chain(lines.iter().map(FileLine::render))
        .collect();
    let last_modified = jiff::Timestamp::from_millisecond(now)
        .map(|time| time.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::LAST_MODIFIED, last_modified),
        ],
        body.join("\r\n") + "\r\n",
    )
        .into_response()
}

/// One line of a supplier's file; `fields` holds the cells a client needs, which the
/// malformer may break.
struct FileLine {
    fields: serde_json::Value,
    currency: &'static str,
    lead_time_days: i32,
    moq: i32,
}

impl FileLine {
    fn render(&self) -> String {
        let text = |name: &str| match &self.fields[name] {
            serde_json::Value::String(text) => text.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        format!(
            "{};{};{};{};{};{}",
            text("EAN"),
            text("Prix HT"),
            self.currency,
            text("Stock"),
            self.lead_time_days,
            self.moq
        )
    }
}
