//! Odoo's records as its external API returns them from `search_read`. Odoo writes `false`
//! for an empty field of any type but boolean (a product without barcode has
//! `"barcode": false`), a many2one as `[id, "display name"]` (or `false`), floats as JSON
//! numbers and datetimes as `"YYYY-MM-DD HH:MM:SS"` strings in UTC. Amounts are read from the
//! number's text, never through a float.

use hub_core::mapping::{DateFormat, DayBound};
use hub_schemas::records::EpochMillis;
use rust_decimal::Decimal;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::wire::json_decimal;

/// The `product.product` fields of its stock (computed over the company's internal
/// locations: on hand, on hand not reserved, expected from confirmed incoming moves).
pub const STOCK_FIELDS: &[&str] = &[
    "id",
    "barcode",
    "default_code",
    "qty_available",
    "free_qty",
    "incoming_qty",
];

/// The `product.product` fields of its master data and standard cost, besides its stock
/// (`name`, `categ_id` and `taxes_id` are its template's, read through the variant).
pub const PRODUCT_FIELDS: &[&str] = &[
    "name",
    "categ_id",
    "weight",
    "taxes_id",
    "standard_price",
    "cost_currency_id",
    "active",
    "write_date",
];

/// The OCA `product_brand` field (on the template, read through the variant).
pub const BRAND_FIELDS: &[&str] = &["product_brand_id"];

/// The OCA `product_dimension` fields (on the variant).
pub const DIMENSION_FIELDS: &[&str] = &[
    "product_length",
    "product_width",
    "product_height",
    "dimensional_uom_id",
];

/// The `account.tax` fields that tell a VAT rate from a fixed levy.
pub const TAX_FIELDS: &[&str] = &[
    "id",
    "name",
    "amount_type",
    "amount",
    "include_base_amount",
    "tax_group_id",
];

/// The `product.supplierinfo` fields the connector reads (`discount` exists from Odoo 17).
pub const SUPPLIERINFO_FIELDS: &[&str] = &[
    "id",
    "partner_id",
    "product_id",
    "product_tmpl_id",
    "product_code",
    "price",
    "discount",
    "min_qty",
    "delay",
    "date_start",
    "date_end",
    "currency_id",
    "write_date",
];

/// The fields of a `stock.quant` or `stock.move` row read to find the products whose stock
/// changed.
pub const STOCK_CHANGE_FIELDS: &[&str] = &["id", "product_id", "write_date"];

/// The `product.product` fields read to find the barcodes a supplier price applies to.
pub const VARIANT_FIELDS: &[&str] = &["id", "barcode", "product_tmpl_id"];

/// A many2one value: the related record's id and display name (for `res.currency`, its
/// ISO code).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Many2One(pub i64, pub String);

impl Many2One {
    pub fn id(&self) -> i64 {
        self.0
    }

    pub fn name(&self) -> &str {
        &self.1
    }
}

/// The position of a record in the `(write_date, id)` order every incremental read uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordKey {
    pub id: i64,
    pub write_date: OdooDateTime,
}

/// A `product.product` row read for its stock ([`STOCK_FIELDS`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StockRow {
    pub id: i64,
    #[serde(deserialize_with = "false_as_none")]
    pub barcode: Option<String>,
    #[serde(deserialize_with = "false_as_none")]
    pub default_code: Option<String>,
    /// On hand, in the product's unit of measure.
    #[serde(deserialize_with = "json_decimal::exact")]
    pub qty_available: Decimal,
    /// On hand minus what is reserved for outgoing moves: what can still be sold.
    #[serde(deserialize_with = "json_decimal::exact")]
    pub free_qty: Decimal,
    /// Expected from confirmed incoming moves (purchase receipts).
    #[serde(deserialize_with = "json_decimal::exact")]
    pub incoming_qty: Decimal,
}

/// A `product.product` row read for its master data and standard cost ([`STOCK_FIELDS`],
/// [`PRODUCT_FIELDS`] and, when their modules are installed, [`BRAND_FIELDS`] and
/// [`DIMENSION_FIELDS`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProductRow {
    pub id: i64,
    #[serde(deserialize_with = "false_as_none")]
    pub barcode: Option<String>,
    #[serde(deserialize_with = "false_as_none")]
    pub default_code: Option<String>,
    pub name: String,
    /// `[id, "All / Saleable / TV"]`: the display name is the category's full path.
    pub categ_id: Many2One,
    /// Kilograms (the company's weight unit; Odoo's default), 0 when not set.
    #[serde(deserialize_with = "json_decimal::exact")]
    pub weight: Decimal,
    /// The customer taxes' `account.tax` ids.
    pub taxes_id: Vec<i64>,
    /// The ERP's cost of one unit in the company currency, excluding VAT.
    #[serde(deserialize_with = "json_decimal::exact")]
    pub standard_price: Decimal,
    #[serde(deserialize_with = "false_as_none")]
    pub cost_currency_id: Option<Many2One>,
    #[serde(default, deserialize_with = "false_as_none")]
    pub product_brand_id: Option<Many2One>,
    /// In `dimensional_uom_id`, 0 when not set.
    #[serde(default, deserialize_with = "json_decimal::option")]
    pub product_length: Option<Decimal>,
    #[serde(default, deserialize_with = "json_decimal::option")]
    pub product_width: Option<Decimal>,
    #[serde(default, deserialize_with = "json_decimal::option")]
    pub product_height: Option<Decimal>,
    /// `[id, "mm"]`: a `uom.uom` of the length category, named as Odoo's data names it.
    #[serde(default, deserialize_with = "false_as_none")]
    pub dimensional_uom_id: Option<Many2One>,
    /// False once the product is archived (read with `active_test` false).
    pub active: bool,
    pub write_date: OdooDateTime,
}

/// How an `account.tax` computes its amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxAmountType {
    /// A percentage of the price excluding taxes: VAT.
    Percent,
    /// A fixed amount per unit: levies such as the eco-participation.
    Fixed,
    /// A percentage of the price including the tax.
    Division,
    /// A group of other taxes.
    Group,
    /// A Python formula (`account_tax_python`).
    Code,
}

/// An `account.tax` row ([`TAX_FIELDS`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TaxRow {
    pub id: i64,
    pub name: String,
    pub amount_type: TaxAmountType,
    /// Percent for percentage taxes, the amount in the company currency for fixed ones.
    #[serde(deserialize_with = "json_decimal::exact")]
    pub amount: Decimal,
    /// "Affects base of subsequent taxes": the VAT is computed on this tax too.
    pub include_base_amount: bool,
    pub tax_group_id: Many2One,
}

/// A `product.supplierinfo` row: one supplier's price for a variant (`product_id`) or for
/// every variant of a template (`product_id` false).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SupplierinfoRow {
    pub id: i64,
    pub partner_id: Many2One,
    #[serde(deserialize_with = "false_as_none")]
    pub product_id: Option<Many2One>,
    pub product_tmpl_id: Many2One,
    #[serde(deserialize_with = "false_as_none")]
    pub product_code: Option<String>,
    /// Price per purchase unit, in `currency_id`, excluding VAT, before `discount`.
    #[serde(deserialize_with = "json_decimal::exact")]
    pub price: Decimal,
    /// Discount in percent; absent before Odoo 17.
    #[serde(default, deserialize_with = "json_decimal::option")]
    pub discount: Option<Decimal>,
    #[serde(deserialize_with = "json_decimal::exact")]
    pub min_qty: Decimal,
    /// Lead time, days.
    pub delay: i64,
    #[serde(deserialize_with = "false_as_none")]
    pub date_start: Option<OdooDate>,
    #[serde(deserialize_with = "false_as_none")]
    pub date_end: Option<OdooDate>,
    pub currency_id: Many2One,
    pub write_date: OdooDateTime,
}

/// A `stock.quant` or `stock.move` row: a change of the stock of `product_id`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StockChangeRow {
    pub id: i64,
    pub product_id: Many2One,
    pub write_date: OdooDateTime,
}

/// A `product.product` row read for its barcode.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VariantRow {
    pub id: i64,
    #[serde(deserialize_with = "false_as_none")]
    pub barcode: Option<String>,
    pub product_tmpl_id: Many2One,
}

/// An Odoo datetime, `"YYYY-MM-DD HH:MM:SS"` in UTC. Kept as its text too: it goes back to
/// Odoo in domains exactly as Odoo wrote it, and the text orders like the instant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OdooDateTime {
    text: String,
    epoch_millis: EpochMillis,
}

impl OdooDateTime {
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = || format!("{text:?} is not an Odoo datetime (YYYY-MM-DD HH:MM:SS)");
        let (date, time) = text.split_once(' ').ok_or_else(expected)?;
        let day_start = DateFormat::Iso
            .parse(date, DayBound::Start)
            .map_err(|_| expected())?;
        let parts: Vec<&str> = time.split(':').collect();
        let [hours, minutes, seconds] = parts.as_slice() else {
            return Err(expected());
        };
        let field = |part: &str, max: i64| {
            (part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<i64>().ok())
                .flatten()
                .filter(|value| *value <= max)
                .ok_or_else(expected)
        };
        let seconds_of_day =
            field(hours, 23)? * 3_600 + field(minutes, 59)? * 60 + field(seconds, 59)?;
        Ok(OdooDateTime {
            text: text.to_owned(),
            epoch_millis: day_start + seconds_of_day * 1_000,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn epoch_millis(&self) -> EpochMillis {
        self.epoch_millis
    }
}

impl<'de> Deserialize<'de> for OdooDateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        OdooDateTime::parse(&text).map_err(D::Error::custom)
    }
}

/// An Odoo date, `"YYYY-MM-DD"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdooDate(pub String);

impl OdooDate {
    /// The first or last millisecond (UTC) of the day.
    pub fn bound(&self, bound: DayBound) -> Result<EpochMillis, String> {
        DateFormat::Iso
            .parse(&self.0, bound)
            .map_err(|problem| format!("date {:?} {problem}", self.0))
    }
}

impl<'de> Deserialize<'de> for OdooDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let date = OdooDate(text);
        date.bound(DayBound::Start).map_err(D::Error::custom)?;
        Ok(date)
    }
}

/// Reads Odoo's `false` for an empty field as `None`, anything else as a `T`.
pub fn false_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    match raw.get().trim() {
        "false" => Ok(None),
        text => serde_json::from_str(text)
            .map(Some)
            .map_err(D::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_read_as_utc_instants_and_refuse_other_shapes() {
        let at = OdooDateTime::parse("2025-03-10 06:00:00").unwrap();
        assert_eq!(at.epoch_millis(), 1_741_586_400_000);
        assert_eq!(at.as_str(), "2025-03-10 06:00:00");
        for bad in [
            "2025-03-10T06:00:00",
            "2025-03-10 24:00:00",
            "2025-03-10 6:00:00",
            "2025-02-30 06:00:00",
        ] {
            assert!(OdooDateTime::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn false_is_an_empty_field_and_many2one_is_id_and_name() {
        #[derive(Deserialize)]
        struct Row {
            #[serde(deserialize_with = "false_as_none")]
            barcode: Option<String>,
            #[serde(deserialize_with = "false_as_none")]
            currency: Option<Many2One>,
        }
        let row: Row =
            serde_json::from_str(r#"{"barcode": false, "currency": [1, "EUR"]}"#).unwrap();
        assert_eq!(row.barcode, None);
        assert_eq!(row.currency, Some(Many2One(1, "EUR".to_owned())));
        assert!(serde_json::from_str::<Row>(r#"{"barcode": 12, "currency": false}"#).is_err());
    }
}
