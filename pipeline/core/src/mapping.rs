//! Per-supplier field mappings, as data: each supplier's column names, number format, price
//! conventions (VAT included or not, cents or major units, per pack) and currency live in
//! `config/mappings/<supplier>.toml`, and one function turns a row of that supplier's file
//! into contract records. Adding a supplier is a new file, not new code.
//!
//! A row is a field name -> raw text map: a CSV line keyed by its header, or a flattened
//! JSON object (`"stock.available"`). Money is exact (`rust_decimal`) from text to record.

mod date;
mod number;

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

use hub_schemas::records::{CostKind, CostSignal, EpochMillis, StockSignal, StockSource};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

pub use date::{DateFormat, DayBound};
use number::NumberFormat;

use crate::gate::currency::normalise_currency;
use crate::gate::exact_decimal;
use crate::gtin::normalise_gtin;
use crate::reason::{Quarantine, ReasonCode};

/// Scale of money in the contracts (Avro `decimal(18, 4)`): amounts derived by division
/// (VAT removal, per-unit price of a pack) are rounded to it, half away from zero.
const CONTRACT_MONEY_SCALE: u32 = 4;

/// How a supplier writes amounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceUnit {
    /// Euros (or the currency's major unit): `12,99`.
    #[default]
    Major,
    /// Hundredths of the currency's major unit: `1299` for 12.99.
    Cents,
}

/// Which of the supplier's columns (or flattened JSON paths) hold which contract field.
/// `unit_cost` yields a `CostSignal`, `quantity` a `StockSignal`; a mapping has at least one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub gtin: String,
    pub unit_cost: Option<String>,
    pub quantity: Option<String>,
    pub incoming_quantity: Option<String>,
    pub lead_time_days: Option<String>,
    pub moq: Option<String>,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    /// Per-row currency; when absent or blank on a row, `SupplierMapping::currency` applies.
    pub currency: Option<String>,
    /// Per-row pack size; when absent or blank on a row, `SupplierMapping::pack_size` applies.
    pub pack_size: Option<String>,
    /// Warehouse of the stock line; defaults to the supplier id.
    pub location: Option<String>,
}

/// One supplier's mapping file, `config/mappings/<supplier_id>.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplierMapping {
    /// The supplier's id in the hub (cost `supplier_id`), also the mapping file's name.
    pub supplier_id: String,
    /// The records' `source`, e.g. `supplier.grossiste_ouest.csv`.
    pub source: String,
    /// Currency of every row, unless `columns.currency` gives it per row.
    pub currency: Option<String>,
    /// Field delimiter of the supplier's CSV files, for the connector that splits them into
    /// rows; absent for JSON feeds.
    pub csv_delimiter: Option<char>,
    /// Character encoding of the supplier's files, a WHATWG label such as `"windows-1252"`
    /// (what French ERPs export as "ANSI"); UTF-8 when absent. Only encodings that keep
    /// ASCII bytes as ASCII, so delimiters and quotes are found before decoding.
    pub encoding: Option<String>,
    /// For JSON feeds, the dotted path of the array of product objects in the document
    /// (`"data.items"`); absent when the document is that array itself.
    pub json_records: Option<String>,
    /// `.` (default) or `,`.
    #[serde(default = "default_decimal_separator")]
    pub decimal_separator: char,
    /// `' '` (also matches no-break spaces), `.`, `,` or `'`; none by default.
    pub thousands_separator: Option<char>,
    #[serde(default)]
    pub price_unit: PriceUnit,
    /// Whether the supplier's prices include VAT (French "TTC"); then `vat_rate` is removed.
    #[serde(default)]
    pub prices_include_vat: bool,
    /// VAT rate included in the prices, as a fraction (`"0.20"`); only with
    /// `prices_include_vat`.
    #[serde(default, with = "exact_decimal::option")]
    pub vat_rate: Option<Decimal>,
    /// Units per pack when the supplier prices and counts packs: the unit cost is the pack
    /// price divided by it and quantities (stock, incoming, MOQ) are multiplied by it.
    #[serde(default = "default_pack_size")]
    pub pack_size: u32,
    #[serde(default)]
    pub date_format: DateFormat,
    pub columns: Columns,
    /// Words some suppliers write instead of a stock count, with the quantity they stand for
    /// (in the column's unit), e.g. `"Rupture" = 0`, `"> 100" = 100`. Matched after trimming.
    #[serde(default)]
    pub stock_labels: BTreeMap<String, i64>,
}

fn default_decimal_separator() -> char {
    '.'
}

fn default_pack_size() -> u32 {
    1
}

#[derive(Debug, thiserror::Error)]
pub enum MappingConfigError {
    #[error("mapping file is not a valid SupplierMapping: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("mapping of supplier {supplier_id:?}, field {field}: {problem}")]
    Invalid {
        supplier_id: String,
        field: &'static str,
        problem: String,
    },
}

/// A row that could not be mapped. Names the supplier, the row, the contract field, the
/// supplier's column and the raw value; becomes a `MAPPING_FAILED` quarantine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "supplier {supplier_id:?} row {row} field {field} (column {column:?}) value {}: {problem}; \
     fix the supplier file or config/mappings/{supplier_id}.toml",
    value.as_deref().map_or_else(|| "absent".to_owned(), |value| format!("{value:?}"))
)]
pub struct MappingError {
    pub supplier_id: String,
    pub row: u64,
    pub field: &'static str,
    pub column: String,
    /// `None` when the column is absent from the row.
    pub value: Option<String>,
    pub problem: String,
}

impl MappingError {
    pub fn quarantine(&self) -> Quarantine {
        Quarantine::new(ReasonCode::MappingFailed, self.to_string())
    }
}

/// A row of a supplier file: field name -> raw text.
pub trait Row {
    fn field(&self, name: &str) -> Option<&str>;
}

impl<K: Borrow<str> + Ord, V: AsRef<str>> Row for BTreeMap<K, V> {
    fn field(&self, name: &str) -> Option<&str> {
        self.get(name).map(AsRef::as_ref)
    }
}

impl<K: Borrow<str> + Hash + Eq, V: AsRef<str>, S: BuildHasher> Row for HashMap<K, V, S> {
    fn field(&self, name: &str) -> Option<&str> {
        self.get(name).map(AsRef::as_ref)
    }
}

/// What one row maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedRow {
    /// Present when the mapping has a `unit_cost` column.
    pub cost: Option<CostSignal>,
    /// Present when the mapping has a `quantity` column.
    pub stock: Option<StockSignal>,
}

impl SupplierMapping {
    /// Parses and validates a mapping file's text.
    pub fn from_toml_str(text: &str) -> Result<Self, MappingConfigError> {
        let mapping: SupplierMapping = toml::from_str(text)?;
        mapping.validate()?;
        Ok(mapping)
    }

    fn invalid(&self, field: &'static str, problem: impl Into<String>) -> MappingConfigError {
        MappingConfigError::Invalid {
            supplier_id: self.supplier_id.clone(),
            field,
            problem: problem.into(),
        }
    }

    /// Checks what TOML types cannot express, so a bad mapping fails when loaded rather than
    /// on every row (or, worse, maps every row wrongly).
    pub fn validate(&self) -> Result<(), MappingConfigError> {
        let id_is_file_name = !self.supplier_id.is_empty()
            && self
                .supplier_id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !id_is_file_name {
            return Err(self.invalid(
                "supplier_id",
                "must be non-empty lower-case letters, digits, '_' or '-' (it names the file)",
            ));
        }
        if self.source.trim().is_empty() {
            return Err(self.invalid("source", "is blank"));
        }
        if let Some(delimiter) = self.csv_delimiter
            && !matches!(delimiter, ';' | ',' | '\t' | '|')
        {
            return Err(self.invalid(
                "csv_delimiter",
                format!("{delimiter:?} must be ';', ',', a tab or '|'"),
            ));
        }
        if let Some(label) = &self.encoding {
            match encoding_rs::Encoding::for_label(label.trim().as_bytes()) {
                Some(encoding) if encoding.is_ascii_compatible() => {}
                Some(encoding) => {
                    return Err(self.invalid(
                        "encoding",
                        format!(
                            "{label:?} ({}) does not keep ASCII bytes as ASCII; convert the \
                             files to UTF-8 or an ASCII-compatible encoding",
                            encoding.name()
                        ),
                    ));
                }
                None => {
                    return Err(self.invalid(
                        "encoding",
                        format!("{label:?} is not a WHATWG encoding label (e.g. \"windows-1252\")"),
                    ));
                }
            }
        }
        if self.csv_delimiter.is_some() && self.json_records.is_some() {
            return Err(self.invalid(
                "json_records",
                "is set on a CSV mapping (csv_delimiter is set); a feed is CSV or JSON",
            ));
        }
        if !matches!(self.decimal_separator, '.' | ',') {
            return Err(self.invalid(
                "decimal_separator",
                format!("{:?} must be '.' or ','", self.decimal_separator),
            ));
        }
        if let Some(separator) = self.thousands_separator
            && (!matches!(separator, ' ' | '.' | ',' | '\'') || separator == self.decimal_separator)
        {
            return Err(self.invalid(
                "thousands_separator",
                format!(
                    "{separator:?} must be ' ', '.', ',' or '\\'' and differ from the decimal \
                     separator"
                ),
            ));
        }
        match &self.currency {
            Some(currency) if normalise_currency(currency).is_none() => {
                return Err(self.invalid(
                    "currency",
                    format!("{currency:?} is not an active ISO 4217 code"),
                ));
            }
            None if self.columns.currency.is_none() => {
                return Err(self.invalid("currency", "set a currency or a columns.currency column"));
            }
            _ => {}
        }
        match (self.prices_include_vat, self.vat_rate) {
            (true, None) => {
                return Err(self.invalid(
                    "vat_rate",
                    "prices_include_vat needs the included rate, e.g. \"0.20\"",
                ));
            }
            (true, Some(rate)) if rate <= Decimal::ZERO || rate >= Decimal::ONE => {
                return Err(self.invalid(
                    "vat_rate",
                    format!("{rate} is not a fraction in (0, 1) (write 0.20 for 20%)"),
                ));
            }
            (false, Some(_)) => {
                return Err(self.invalid(
                    "vat_rate",
                    "is set while prices_include_vat is false; remove it or set prices_include_vat",
                ));
            }
            _ => {}
        }
        if self.pack_size == 0 {
            return Err(self.invalid("pack_size", "must be >= 1"));
        }
        if self.columns.unit_cost.is_none() && self.columns.quantity.is_none() {
            return Err(self.invalid(
                "columns",
                "map unit_cost, quantity or both, or the mapping yields no record",
            ));
        }
        Ok(())
    }

    /// The encoding of the supplier's files (validated: ASCII-compatible), UTF-8 by default.
    pub fn file_encoding(&self) -> &'static encoding_rs::Encoding {
        self.encoding
            .as_deref()
            .and_then(|label| encoding_rs::Encoding::for_label(label.trim().as_bytes()))
            .unwrap_or(encoding_rs::UTF_8)
    }

    fn number_format(&self) -> NumberFormat {
        NumberFormat {
            decimal_separator: self.decimal_separator,
            thousands_separator: self.thousands_separator,
        }
    }

    /// Maps one row (`row_number` as the connector counts it, for the error) observed at
    /// `observed_at` to a cost and/or a stock signal, GTIN normalised to GTIN-13. The records
    /// still go through the quality gate: the mapping converts, the gate judges.
    pub fn map_row(
        &self,
        row_number: u64,
        row: &impl Row,
        observed_at: EpochMillis,
    ) -> Result<MappedRow, MappingError> {
        let reader = RowReader {
            mapping: self,
            row_number,
            row,
        };
        let gtin = reader.required("gtin", &self.columns.gtin, |text| {
            normalise_gtin(text).map_err(|error| error.to_string())
        })?;
        let pack_size = reader
            .optional("pack_size", self.columns.pack_size.as_deref(), |text| {
                let size = self.number_format().parse_integer(text)?;
                if size < 1 {
                    return Err("must be >= 1".to_owned());
                }
                Ok(size)
            })?
            .unwrap_or(i64::from(self.pack_size));
        let lead_time_days = reader.optional(
            "lead_time_days",
            self.columns.lead_time_days.as_deref(),
            |text| {
                let days = self.number_format().parse_integer(text)?;
                i32::try_from(days).map_err(|_| "is out of range for a number of days".to_owned())
            },
        )?;

        let cost = match &self.columns.unit_cost {
            Some(column) => Some(self.map_cost(
                &reader,
                column,
                &gtin,
                pack_size,
                lead_time_days,
                observed_at,
            )?),
            None => None,
        };
        let stock = match &self.columns.quantity {
            Some(column) => Some(self.map_stock(
                &reader,
                column,
                &gtin,
                pack_size,
                lead_time_days,
                observed_at,
            )?),
            None => None,
        };
        Ok(MappedRow { cost, stock })
    }

    fn map_cost(
        &self,
        reader: &RowReader<'_, impl Row>,
        column: &str,
        gtin: &str,
        pack_size: i64,
        lead_time_days: Option<i32>,
        observed_at: EpochMillis,
    ) -> Result<CostSignal, MappingError> {
        let unit_cost_excl_vat = reader.required("unit_cost_excl_vat", column, |text| {
            self.unit_cost(self.number_format().parse_decimal(text)?, pack_size)
        })?;
        let currency = reader
            .optional("currency", self.columns.currency.as_deref(), |text| {
                normalise_currency(text).ok_or_else(|| "is not an active ISO 4217 code".to_owned())
            })?
            .or_else(|| self.currency.as_deref().and_then(normalise_currency))
            .ok_or_else(|| {
                reader.error(
                    "currency",
                    self.columns.currency.as_deref().unwrap_or(""),
                    None,
                    "is blank and the mapping sets no default currency",
                )
            })?;
        let moq = reader.optional("moq", self.columns.moq.as_deref(), |text| {
            let packs = self.number_format().parse_integer(text)?;
            packs
                .checked_mul(pack_size)
                .and_then(|units| i32::try_from(units).ok())
                .ok_or_else(|| "is out of range for a minimum order quantity".to_owned())
        })?;
        let valid_from =
            reader.optional("valid_from", self.columns.valid_from.as_deref(), |text| {
                self.date_format.parse(text, DayBound::Start)
            })?;
        let valid_to = reader.optional("valid_to", self.columns.valid_to.as_deref(), |text| {
            self.date_format.parse(text, DayBound::End)
        })?;
        Ok(CostSignal {
            gtin: gtin.to_owned(),
            cost_kind: CostKind::SupplierPrice,
            supplier_id: Some(self.supplier_id.clone()),
            unit_cost_excl_vat,
            currency,
            moq,
            valid_from,
            valid_to,
            lead_time_days,
            source: self.source.clone(),
            request_id: None,
            observed_at,
        })
    }

    fn map_stock(
        &self,
        reader: &RowReader<'_, impl Row>,
        column: &str,
        gtin: &str,
        pack_size: i64,
        lead_time_days: Option<i32>,
        observed_at: EpochMillis,
    ) -> Result<StockSignal, MappingError> {
        let in_units = |text: &str| {
            let count = match self.stock_labels.get(text.trim()) {
                Some(&count) => count,
                None => self.number_format().parse_integer(text)?,
            };
            count
                .checked_mul(pack_size)
                .ok_or_else(|| "is out of range for a quantity".to_owned())
        };
        let quantity = reader.required("quantity", column, in_units)?;
        let incoming_quantity = reader.optional(
            "incoming_quantity",
            self.columns.incoming_quantity.as_deref(),
            in_units,
        )?;
        let location = reader
            .optional("location", self.columns.location.as_deref(), |text| {
                Ok(text.trim().to_owned())
            })?
            .unwrap_or_else(|| self.supplier_id.clone());
        Ok(StockSignal {
            gtin: gtin.to_owned(),
            stock_source: StockSource::Supplier,
            location: Some(location),
            quantity,
            incoming_quantity,
            lead_time_days,
            source: self.source.clone(),
            request_id: None,
            observed_at,
        })
    }

    /// The supplier's amount converted to one unit's cost excluding VAT, in major units.
    /// With a validated mapping every divisor is >= 1, so the divisions cannot fail; they are
    /// still checked because the fields are public and a mapping may be built in code.
    fn unit_cost(&self, amount: Decimal, pack_size: i64) -> Result<Decimal, String> {
        let mut divisors = vec![Decimal::from(pack_size)];
        if self.price_unit == PriceUnit::Cents {
            divisors.push(Decimal::ONE_HUNDRED);
        }
        if let (true, Some(rate)) = (self.prices_include_vat, self.vat_rate) {
            divisors.push(Decimal::ONE + rate);
        }
        divisors
            .into_iter()
            .try_fold(amount, |cost, divisor| cost.checked_div(divisor))
            .map(|cost| {
                cost.round_dp_with_strategy(
                    CONTRACT_MONEY_SCALE,
                    RoundingStrategy::MidpointAwayFromZero,
                )
            })
            .ok_or_else(|| {
                format!(
                    "cannot be converted with pack size {pack_size} and VAT rate {:?}",
                    self.vat_rate
                )
            })
    }
}

/// Reads the mapped columns of one row, turning every failure into a `MappingError` that
/// names the row, the field, the column and the value.
struct RowReader<'a, R> {
    mapping: &'a SupplierMapping,
    row_number: u64,
    row: &'a R,
}

impl<R: Row> RowReader<'_, R> {
    fn error(
        &self,
        field: &'static str,
        column: &str,
        value: Option<&str>,
        problem: impl Into<String>,
    ) -> MappingError {
        MappingError {
            supplier_id: self.mapping.supplier_id.clone(),
            row: self.row_number,
            field,
            column: column.to_owned(),
            value: value.map(str::to_owned),
            problem: problem.into(),
        }
    }

    fn required<T>(
        &self,
        field: &'static str,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, MappingError> {
        match self.row.field(column) {
            None => Err(self.error(
                field,
                column,
                None,
                "the column is absent from the row; check the header or the mapping's columns",
            )),
            Some(text) if text.trim().is_empty() => {
                Err(self.error(field, column, Some(text), "is blank"))
            }
            Some(text) => {
                parse(text).map_err(|problem| self.error(field, column, Some(text), problem))
            }
        }
    }

    /// An optional field: `None` when the mapping has no column for it, or the row leaves
    /// it absent or blank.
    fn optional<T>(
        &self,
        field: &'static str,
        column: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, MappingError> {
        let Some(column) = column else {
            return Ok(None);
        };
        match self.row.field(column) {
            Some(text) if !text.trim().is_empty() => parse(text)
                .map(Some)
                .map_err(|problem| self.error(field, column, Some(text), problem)),
            _ => Ok(None),
        }
    }
}
