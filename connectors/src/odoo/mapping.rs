//! Odoo rows to records. `product.product` gives a reference's master data (the ERP holds
//! it: title, brand, category, VAT and levies from its sales taxes, weight, dimensions), the
//! ERP's stock of it (what can still be sold and what is incoming) and its standard cost;
//! `product.supplierinfo` gives a supplier's price, minimum quantity, lead time and
//! validity, for one variant or for every variant of a template. The mapping converts; the
//! quality gate judges (a zero cost, an unknown currency, an illegal VAT rate or an expired
//! price list are refused there, with their reason).

use std::collections::BTreeMap;

use hub_core::category::Category;
use hub_core::gtin::normalise_gtin;
use hub_core::mapping::DayBound;
use hub_core::money::{MONEY_SCALE, charged, fixed, rate};
use hub_core::reason::ReasonCode;
use hub_schemas::records::{
    CostKind, CostSignal, Levy, LevyKind, ProductReference, StockSignal, StockSource,
};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::payload::{
    BRAND_FIELDS, DIMENSION_FIELDS, Many2One, PRODUCT_FIELDS, ProductRow, RecordKey, STOCK_FIELDS,
    StockChangeRow, StockRow, SupplierinfoRow, TaxAmountType, TaxRow, VariantRow,
};
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
    /// Hub category of each Odoo product category, by its full name.
    pub category_keys: BTreeMap<String, Category>,
    /// The levy of each fixed-amount tax, by the name of its tax group.
    pub levy_tax_groups: BTreeMap<String, LevyKind>,
    /// Whether `product_brand_id` (OCA `product_brand`) is read.
    pub product_brand: bool,
    /// Whether the OCA `product_dimension` fields are read.
    pub product_dimension: bool,
}

impl OdooMappingSettings {
    /// The `product.product` fields of a product read: stock, master data, standard cost,
    /// and the OCA modules' fields when they are installed.
    pub fn product_fields(&self) -> Vec<&'static str> {
        let mut fields = [STOCK_FIELDS, PRODUCT_FIELDS].concat();
        if self.product_brand {
            fields.extend_from_slice(BRAND_FIELDS);
        }
        if self.product_dimension {
            fields.extend_from_slice(DIMENSION_FIELDS);
        }
        fields
    }

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

/// Reads one row of `model`, or the rejection (with its bytes) saying why it is not in
/// Odoo's shape.
pub(super) fn parse_row<T: DeserializeOwned>(
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

/// One `product.product` row read with [`OdooMappingSettings::product_fields`]: its product
/// reference, its stock and its ERP standard cost, or their rejections.
pub fn map_product(
    raw: &RawValue,
    origin: &Origin,
    taxes: &SaleTaxes,
    settings: &OdooMappingSettings,
) -> Vec<Sourced> {
    let row: ProductRow = match parse_row("product.product", raw, origin) {
        Ok(row) => row,
        Err(rejection) => return vec![*rejection],
    };
    let what = || product_name(row.id, row.default_code.as_deref());
    let gtin = match gtin_of(row.barcode.as_deref(), what, raw, origin) {
        Ok(gtin) => gtin,
        Err(rejection) => return vec![*rejection],
    };
    let reference = match product_reference(&row, &gtin, taxes, settings, origin) {
        Ok(reference) => Sourced::Signal {
            record: SignalRecord::Product(reference),
            origin: origin.clone(),
        },
        Err((reason, problem)) => rejected(reason, format!("{}: {problem}", what()), raw, origin),
    };
    let mut sourced = vec![reference];
    sourced.extend(map_stock(raw, origin, settings));
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

fn product_name(id: i64, default_code: Option<&str>) -> String {
    format!(
        "product.product id {id} (internal reference {})",
        default_code.unwrap_or("none")
    )
}

/// One `product.product` row read with [`STOCK_FIELDS`] (or more): the ERP stock signal, or
/// its rejection.
pub fn map_stock(raw: &RawValue, origin: &Origin, settings: &OdooMappingSettings) -> Vec<Sourced> {
    let row: StockRow = match parse_row("product.product", raw, origin) {
        Ok(row) => row,
        Err(rejection) => return vec![*rejection],
    };
    let what = || product_name(row.id, row.default_code.as_deref());
    let gtin = match gtin_of(row.barcode.as_deref(), what, raw, origin) {
        Ok(gtin) => gtin,
        Err(rejection) => return vec![*rejection],
    };
    let quantities = whole_units("free_qty", row.free_qty)
        .and_then(|free| Ok((free, whole_units("incoming_qty", row.incoming_qty)?)));
    vec![match quantities {
        Ok((quantity, incoming)) => Sourced::Signal {
            record: SignalRecord::Stock(StockSignal {
                gtin,
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
        },
        Err(problem) => rejected(
            ReasonCode::OutOfRange,
            format!("{}: {problem}", what()),
            raw,
            origin,
        ),
    }]
}

/// The products whose stock a page of `stock.quant` or `stock.move` rows changed, and the
/// rejections of the rows that name no product.
pub fn changed_products(
    model: &str,
    rows: &[Box<RawValue>],
    origin: &Origin,
) -> (Vec<i64>, Vec<Sourced>) {
    let mut products = Vec::new();
    let mut rejections = Vec::new();
    for raw in rows {
        match parse_row::<StockChangeRow>(model, raw, origin) {
            Ok(row) => products.push(row.product_id.id()),
            Err(rejection) => rejections.push(*rejection),
        }
    }
    products.sort_unstable();
    products.dedup();
    (products, rejections)
}

/// The sales taxes a page of products refers to, as read from `account.tax`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaleTaxes {
    by_id: BTreeMap<i64, TaxRow>,
}

impl SaleTaxes {
    pub fn from_rows(rows: Vec<TaxRow>) -> Self {
        SaleTaxes {
            by_id: rows.into_iter().map(|row| (row.id, row)).collect(),
        }
    }
}

/// The `account.tax` ids a page of products refers to, for the tax look-up.
pub fn referenced_taxes(rows: &[Box<RawValue>]) -> Vec<i64> {
    #[derive(serde::Deserialize)]
    struct Taxes {
        taxes_id: Vec<i64>,
    }
    let mut ids: Vec<i64> = rows
        .iter()
        .filter_map(|raw| serde_json::from_str::<Taxes>(raw.get()).ok())
        .flat_map(|row| row.taxes_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The product reference of a row, or the reason and problem that keep it out.
fn product_reference(
    row: &ProductRow,
    gtin: &str,
    taxes: &SaleTaxes,
    settings: &OdooMappingSettings,
    origin: &Origin,
) -> Result<ProductReference, (ReasonCode, String)> {
    let Some(sku) = row
        .default_code
        .clone()
        .filter(|code| !code.trim().is_empty())
    else {
        return Err((
            ReasonCode::MissingField,
            "no internal reference (default_code): set it in Odoo to have the product \
             referenced"
                .to_owned(),
        ));
    };
    let category = settings
        .category_keys
        .get(row.categ_id.name())
        .ok_or_else(|| {
            (
                ReasonCode::MappingFailed,
                format!(
                    "product category {:?} has no hub category: add it to category_keys in \
                     [connectors.odoo]",
                    row.categ_id.name()
                ),
            )
        })?;
    let (vat_rate, levies) = vat_and_levies(&row.taxes_id, taxes, settings)?;
    let weight_g = to_whole("weight", row.weight, Decimal::ONE_THOUSAND)
        .map_err(|problem| (ReasonCode::OutOfRange, problem))?;
    let (length_mm, width_mm, height_mm) = dimensions_mm(row)?;
    Ok(ProductReference {
        gtin: gtin.to_owned(),
        sku,
        title: row.name.clone(),
        brand: row
            .product_brand_id
            .as_ref()
            .map(|brand| brand.name().to_owned()),
        category: category.key().to_owned(),
        vat_rate,
        weight_g,
        length_mm,
        width_mm,
        height_mm,
        levies,
        source: origin.source.clone(),
        updated_at: row.write_date.epoch_millis(),
        active: row.active,
    })
}

/// The VAT rate (the one percentage tax, as a fraction) and the levies (the fixed taxes,
/// VAT included when the VAT is computed on them) of a product's sales taxes.
fn vat_and_levies(
    tax_ids: &[i64],
    taxes: &SaleTaxes,
    settings: &OdooMappingSettings,
) -> Result<(Decimal, Vec<Levy>), (ReasonCode, String)> {
    let mapping_failed = |problem: String| (ReasonCode::MappingFailed, problem);
    let mut vat: Option<&TaxRow> = None;
    let mut fixed_taxes = Vec::new();
    for id in tax_ids {
        let tax = taxes.by_id.get(id).ok_or_else(|| {
            mapping_failed(format!(
                "sales tax account.tax id {id} could not be read (archived, or not readable by \
                 the API user)"
            ))
        })?;
        match tax.amount_type {
            TaxAmountType::Percent => {
                if let Some(first) = vat.replace(tax) {
                    return Err(mapping_failed(format!(
                        "two percentage sales taxes, {:?} and {:?}: the hub expects one VAT \
                         rate per product",
                        first.name, tax.name
                    )));
                }
            }
            TaxAmountType::Fixed => fixed_taxes.push(tax),
            other => {
                return Err(mapping_failed(format!(
                    "sales tax {:?} computes as {other:?}: the hub reads a percentage VAT and \
                     fixed-amount levies",
                    tax.name
                )));
            }
        }
    }
    let vat = vat.ok_or_else(|| {
        (
            ReasonCode::MissingField,
            "no percentage sales tax: set the product's VAT in its customer taxes".to_owned(),
        )
    })?;
    let vat_rate = rate(vat.amount / Decimal::ONE_HUNDRED);
    let levies = fixed_taxes
        .into_iter()
        .map(|tax| {
            let kind = settings
                .levy_tax_groups
                .get(tax.tax_group_id.name())
                .ok_or_else(|| {
                    mapping_failed(format!(
                        "fixed-amount sales tax {:?} is in tax group {:?}, which is no levy: add \
                         the group to levy_tax_groups in [connectors.odoo]",
                        tax.name,
                        tax.tax_group_id.name()
                    ))
                })?;
            let vat_factor = if tax.include_base_amount {
                Decimal::ONE + vat_rate
            } else {
                Decimal::ONE
            };
            Ok(Levy {
                kind: *kind,
                amount_incl_vat: charged(tax.amount * vat_factor),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok((vat_rate, levies))
}

/// `value * factor` to the nearest whole unit, or `None` for Odoo's 0 (not set).
fn to_whole(field: &str, value: Decimal, factor: Decimal) -> Result<Option<i32>, String> {
    if value.is_zero() {
        return Ok(None);
    }
    (value * factor)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .to_i32()
        .map(Some)
        .ok_or_else(|| format!("{field} {value} is out of range"))
}

/// Millimetres in one unit of Odoo's length units (the names of its `uom.uom` data).
fn millimetres_per(uom: &Many2One) -> Option<Decimal> {
    Some(match uom.name() {
        "mm" => Decimal::ONE,
        "cm" => Decimal::TEN,
        "dm" => Decimal::ONE_HUNDRED,
        "m" => Decimal::ONE_THOUSAND,
        "in" => Decimal::new(254, 1),
        "ft" => Decimal::new(3048, 1),
        _ => return None,
    })
}

type Dimensions = (Option<i32>, Option<i32>, Option<i32>);

fn dimensions_mm(row: &ProductRow) -> Result<Dimensions, (ReasonCode, String)> {
    let sides = [
        ("product_length", row.product_length),
        ("product_width", row.product_width),
        ("product_height", row.product_height),
    ];
    if sides
        .iter()
        .all(|(_, side)| side.is_none_or(|side| side.is_zero()))
    {
        return Ok((None, None, None));
    }
    let uom = row.dimensional_uom_id.as_ref().ok_or_else(|| {
        (
            ReasonCode::MissingField,
            "dimensions without a dimensional_uom_id".to_owned(),
        )
    })?;
    let factor = millimetres_per(uom).ok_or_else(|| {
        (
            ReasonCode::MappingFailed,
            format!(
                "dimensional_uom_id {:?} is not a length unit the hub knows (mm, cm, dm, m, in, \
                 ft)",
                uom.name()
            ),
        )
    })?;
    let [length, width, height] = sides.map(|(field, side)| {
        to_whole(field, side.unwrap_or_default(), factor)
            .map_err(|problem| (ReasonCode::OutOfRange, problem))
    });
    Ok((length?, width?, height?))
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
