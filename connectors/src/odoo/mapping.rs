//! Odoo rows to signals. `product.product` gives the ERP's stock of a reference (what can
//! still be sold and what is incoming) and its standard cost; `product.supplierinfo` gives a
//! supplier's price, minimum quantity, lead time and validity, for one variant or for every
//! variant of a template. The mapping converts; the quality gate judges (a zero cost, an
//! unknown currency or an expired price list are refused there, with their reason).

use std::collections::BTreeMap;

use hub_core::gtin::normalise_gtin;
use hub_core::mapping::DayBound;
use hub_core::money::{MONEY_SCALE, fixed};
use hub_core::reason::ReasonCode;
use hub_schemas::records::{CostKind, CostSignal, StockSignal, StockSource};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::payload::{ProductRow, RecordKey, SupplierinfoRow, VariantRow};
use crate::sourced::{Origin, SignalRecord, Sourced};

/// What the mapping needs besides the rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdooMappingSettings {
    /// The stock signals' location: the warehouse whose quantities Odoo reports (`WH/Stock`).
    pub stock_location: String,
    /// The company currency, for a product whose `cost_currency_id` is empty.
    pub company_currency: String,
    /// Hub supplier ids of Odoo partners (`res.partner` id -> id), so a supplier that also
    /// sends files has one id; other partners are `odoo_partner_<id>`.
    pub partner_supplier_ids: BTreeMap<i64, String>,
}

impl OdooMappingSettings {
    fn supplier_id(&self, partner_id: i64) -> String {
        self.partner_supplier_ids
            .get(&partner_id)
            .cloned()
            .unwrap_or_else(|| format!("odoo_partner_{partner_id}"))
    }
}

/// A row kept as Odoo sent it, with its position when it has one.
#[derive(Debug)]
pub struct RawRow<'a> {
    pub raw: &'a RawValue,
    /// `None` when the row has no readable `id` and `write_date`.
    pub key: Option<RecordKey>,
}

/// Reads each row's `(write_date, id)`, the cursor's position.
pub fn raw_rows(rows: &[Box<RawValue>]) -> Vec<RawRow<'_>> {
    rows.iter()
        .map(|raw| RawRow {
            raw,
            key: serde_json::from_str(raw.get()).ok(),
        })
        .collect()
}

fn rejected(reason: ReasonCode, detail: String, raw: &RawValue, origin: &Origin) -> Sourced {
    Sourced::Rejected {
        reason,
        detail,
        raw: raw.get().as_bytes().to_vec(),
        origin: origin.clone(),
    }
}

fn parse_row<T: DeserializeOwned>(
    model: &str,
    raw: &RawValue,
    origin: &Origin,
) -> Result<T, Box<Sourced>> {
    serde_json::from_str(raw.get()).map_err(|error| {
        Box::new(rejected(
            ReasonCode::MappingFailed,
            format!("{model} row does not have Odoo's shape: {error}"),
            raw,
            origin,
        ))
    })
}

/// A whole number of units, or why not.
fn whole_units(field: &str, quantity: Decimal) -> Result<i64, String> {
    if !quantity.fract().is_zero() {
        return Err(format!(
            "{field} {quantity} is not a whole number of units (a product counted in a \
             fractional unit of measure cannot be a stock signal)"
        ));
    }
    i64::try_from(quantity.trunc()).map_err(|_| format!("{field} {quantity} is out of range"))
}

/// The GTIN-13 of a barcode, or the rejection that says why there is none.
fn gtin_of(
    barcode: Option<&str>,
    what: impl Fn() -> String,
    raw: &RawValue,
    origin: &Origin,
) -> Result<String, Box<Sourced>> {
    let Some(barcode) = barcode.filter(|barcode| !barcode.trim().is_empty()) else {
        return Err(Box::new(rejected(
            ReasonCode::MissingField,
            format!(
                "{} has no barcode: set its EAN in Odoo to have it scored",
                what()
            ),
            raw,
            origin,
        )));
    };
    normalise_gtin(barcode).map_err(|error| {
        Box::new(rejected(
            ReasonCode::InvalidGtin,
            format!("{} barcode {barcode:?}: {error}", what()),
            raw,
            origin,
        ))
    })
}

/// One `product.product` row: a stock signal and an ERP standard cost, or their rejections.
pub fn map_product(
    raw: &RawValue,
    origin: &Origin,
    settings: &OdooMappingSettings,
) -> Vec<Sourced> {
    let row: ProductRow = match parse_row("product.product", raw, origin) {
        Ok(row) => row,
        Err(rejection) => return vec![*rejection],
    };
    let what = || {
        format!(
            "product.product id {} (internal reference {})",
            row.id,
            row.default_code.as_deref().unwrap_or("none")
        )
    };
    let gtin = match gtin_of(row.barcode.as_deref(), what, raw, origin) {
        Ok(gtin) => gtin,
        Err(rejection) => return vec![*rejection],
    };
    let mut sourced = Vec::with_capacity(2);
    let quantities = whole_units("free_qty", row.free_qty)
        .and_then(|free| Ok((free, whole_units("incoming_qty", row.incoming_qty)?)));
    match quantities {
        Ok((quantity, incoming)) => sourced.push(Sourced::Signal {
            record: SignalRecord::Stock(StockSignal {
                gtin: gtin.clone(),
                stock_source: StockSource::Erp,
                location: Some(settings.stock_location.clone()),
                quantity,
                incoming_quantity: Some(incoming),
                lead_time_days: None,
                source: origin.source.clone(),
                request_id: origin.request_id.clone(),
                observed_at: origin.observed_at,
            }),
            origin: origin.clone(),
        }),
        Err(problem) => sourced.push(rejected(
            ReasonCode::OutOfRange,
            format!("{}: {problem}", what()),
            raw,
            origin,
        )),
    }
    let currency = row.cost_currency_id.as_ref().map_or_else(
        || settings.company_currency.clone(),
        |currency| currency.name().to_owned(),
    );
    sourced.push(Sourced::Signal {
        record: SignalRecord::Cost(CostSignal {
            gtin,
            cost_kind: CostKind::ErpStandardCost,
            supplier_id: None,
            unit_cost_excl_vat: fixed(row.standard_price, MONEY_SCALE),
            currency,
            moq: None,
            valid_from: None,
            valid_to: None,
            lead_time_days: None,
            source: origin.source.clone(),
            request_id: origin.request_id.clone(),
            observed_at: origin.observed_at,
        }),
        origin: origin.clone(),
    });
    sourced
}

/// The barcodes of the variants a page of supplier prices applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VariantBarcodes {
    by_variant: BTreeMap<i64, Option<String>>,
    by_template: BTreeMap<i64, Vec<i64>>,
}

impl VariantBarcodes {
    pub fn from_rows(rows: &[VariantRow]) -> Self {
        let mut barcodes = VariantBarcodes::default();
        for row in rows {
            barcodes.by_variant.insert(row.id, row.barcode.clone());
            barcodes
                .by_template
                .entry(row.product_tmpl_id.id())
                .or_default()
                .push(row.id);
        }
        barcodes
    }

    /// The variants of a supplier price: its variant, or every variant of its template.
    fn variants_of(&self, row: &SupplierinfoRow) -> Vec<i64> {
        match &row.product_id {
            Some(variant) => vec![variant.id()],
            None => self
                .by_template
                .get(&row.product_tmpl_id.id())
                .cloned()
                .unwrap_or_default(),
        }
    }
}

/// The product and template ids a page of supplier prices refers to, for the barcode
/// look-up: `(variant ids, template ids of template-wide prices)`.
pub fn referenced_products(rows: &[Box<RawValue>]) -> (Vec<i64>, Vec<i64>) {
    let mut variants = Vec::new();
    let mut templates = Vec::new();
    for raw in rows {
        if let Ok(row) = serde_json::from_str::<SupplierinfoRow>(raw.get()) {
            match row.product_id {
                Some(variant) => variants.push(variant.id()),
                None => templates.push(row.product_tmpl_id.id()),
            }
        }
    }
    variants.sort_unstable();
    variants.dedup();
    templates.sort_unstable();
    templates.dedup();
    (variants, templates)
}

/// One `product.supplierinfo` row: a supplier price per variant it applies to, or the
/// rejections that say why a variant gets none.
pub fn map_supplierinfo(
    raw: &RawValue,
    origin: &Origin,
    barcodes: &VariantBarcodes,
    settings: &OdooMappingSettings,
) -> Vec<Sourced> {
    let row: SupplierinfoRow = match parse_row("product.supplierinfo", raw, origin) {
        Ok(row) => row,
        Err(rejection) => return vec![*rejection],
    };
    let what = format!(
        "product.supplierinfo id {} (supplier {:?}, product {:?})",
        row.id,
        row.partner_id.name(),
        row.product_id
            .as_ref()
            .unwrap_or(&row.product_tmpl_id)
            .name()
    );
    let terms = match supplier_terms(&row) {
        Ok(terms) => terms,
        Err((reason, problem)) => {
            return vec![rejected(reason, format!("{what}: {problem}"), raw, origin)];
        }
    };
    let variants = barcodes.variants_of(&row);
    if variants.is_empty() {
        return vec![rejected(
            ReasonCode::MissingField,
            format!("{what}: its product template has no active variant"),
            raw,
            origin,
        )];
    }
    variants
        .into_iter()
        .map(|variant| {
            let barcode = barcodes.by_variant.get(&variant).cloned().flatten();
            let gtin = gtin_of(
                barcode.as_deref(),
                || format!("{what}, variant product.product id {variant},"),
                raw,
                origin,
            )?;
            Ok(Sourced::Signal {
                record: SignalRecord::Cost(CostSignal {
                    gtin,
                    cost_kind: CostKind::SupplierPrice,
                    supplier_id: Some(settings.supplier_id(row.partner_id.id())),
                    unit_cost_excl_vat: terms.unit_cost,
                    currency: row.currency_id.name().to_owned(),
                    moq: terms.moq,
                    valid_from: terms.valid_from,
                    valid_to: terms.valid_to,
                    lead_time_days: Some(terms.lead_time_days),
                    source: origin.source.clone(),
                    request_id: origin.request_id.clone(),
                    observed_at: origin.observed_at,
                }),
                origin: origin.clone(),
            })
        })
        .map(|mapped: Result<Sourced, Box<Sourced>>| mapped.unwrap_or_else(|rejection| *rejection))
        .collect()
}

struct SupplierTerms {
    unit_cost: Decimal,
    moq: Option<i32>,
    lead_time_days: i32,
    valid_from: Option<i64>,
    valid_to: Option<i64>,
}

fn supplier_terms(row: &SupplierinfoRow) -> Result<SupplierTerms, (ReasonCode, String)> {
    let out_of_range = |problem: String| (ReasonCode::OutOfRange, problem);
    let discount = row.discount.unwrap_or(Decimal::ZERO);
    if discount < Decimal::ZERO || discount > Decimal::ONE_HUNDRED {
        return Err(out_of_range(format!(
            "discount {discount}% is not a percentage in [0, 100]"
        )));
    }
    let unit_cost = fixed(
        row.price * (Decimal::ONE_HUNDRED - discount) / Decimal::ONE_HUNDRED,
        MONEY_SCALE,
    );
    // Odoo's default minimum quantity is 0: no minimum, which the contract says with no MOQ.
    let moq = match whole_units("min_qty", row.min_qty).map_err(out_of_range)? {
        0 => None,
        units => Some(
            i32::try_from(units)
                .map_err(|_| out_of_range(format!("min_qty {units} is out of range")))?,
        ),
    };
    let lead_time_days = i32::try_from(row.delay)
        .map_err(|_| out_of_range(format!("delay {} days is out of range", row.delay)))?;
    let date = |date: &Option<super::payload::OdooDate>, bound| {
        date.as_ref()
            .map(|date| date.bound(bound))
            .transpose()
            .map_err(|problem| (ReasonCode::MappingFailed, problem))
    };
    Ok(SupplierTerms {
        unit_cost,
        moq,
        lead_time_days,
        valid_from: date(&row.date_start, DayBound::Start)?,
        valid_to: date(&row.date_end, DayBound::End)?,
    })
}
