//! Exact conversion between the Rust records and Avro values, driven by the parsed schemas:
//! decimal precision and scale, enum symbol order and union branch order all come from the
//! `.avsc` files, never from constants here.

use std::fmt;

use apache_avro::schema::{RecordSchema, Schema, SchemaKind};
use apache_avro::types::{Value, ValueKind};
use rust_decimal::Decimal;

use crate::contract::Contract;
use crate::records::{
    CostKind, CostSignal, FactorContribution, Label, Levy, LevyKind, MarginBreakdown, OfferSignal,
    ProductReference, QuarantinedRecord, ReferenceScore, SharedText, StockSignal, StockSource,
};

/// Where a value sits in a record (`ReferenceScore.factors[2].weight`). Built on the stack
/// as the codec descends and rendered only when an error is reported. `pub` only so the
/// sealed trait can name it: the `codec` module is private.
#[derive(Clone, Copy)]
pub enum FieldPath<'a> {
    Record(&'static str),
    Field(&'a FieldPath<'a>, &'a str),
    Item(&'a FieldPath<'a>, usize),
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldPath::Record(name) => f.write_str(name),
            FieldPath::Field(parent, name) => write!(f, "{parent}.{name}"),
            FieldPath::Item(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// A value that cannot cross between a Rust record and its Avro form, with the record and
/// field it belongs to (e.g. `OfferSignal.our_price_incl_vat`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct FieldError {
    pub path: String,
    pub problem: FieldProblem,
}

impl FieldError {
    fn new(path: &FieldPath<'_>, problem: FieldProblem) -> Self {
        Self {
            path: path.to_string(),
            problem,
        }
    }
}

/// What is wrong with one field's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    #[error(
        "{value} has more fractional digits than the field's scale {scale}; the codec never \
         rounds, so round it explicitly (e.g. Decimal::round_dp_with_strategy) before encoding"
    )]
    TooManyFractionalDigits { value: String, scale: u32 },
    #[error(
        "{value} has more than the {precision} significant digits of the field \
         (decimal({precision}, {scale})); it cannot be represented, check the value's unit"
    )]
    ExceedsPrecision {
        value: String,
        precision: usize,
        scale: usize,
    },
    #[error(
        "decimal({precision}, {scale}) is beyond rust_decimal (precision and scale at most 28); \
         change the schema's decimal type"
    )]
    UnsupportedDecimal { precision: usize, scale: usize },
    #[error("zero-length decimal bytes: a decimal needs at least one byte of two's complement")]
    EmptyDecimal,
    #[error("unknown enum symbol {symbol:?} (known: {known})")]
    UnknownSymbol { symbol: String, known: String },
    #[error("expected {expected} but the Avro value is {found}")]
    UnexpectedValue {
        expected: &'static str,
        found: String,
    },
    #[error(
        "the Rust type {rust} does not fit the Avro schema {schema}: records.rs and the .avsc \
         file disagree, fix whichever is wrong"
    )]
    SchemaMismatch { rust: &'static str, schema: String },
    #[error("the field is missing from the decoded record")]
    MissingField,
}

fn mismatch(rust: &'static str, schema: &Schema, path: &FieldPath<'_>) -> FieldError {
    FieldError::new(
        path,
        FieldProblem::SchemaMismatch {
            rust,
            schema: format!("{:?}", SchemaKind::from(schema)),
        },
    )
}

fn unexpected(expected: &'static str, value: &Value, path: &FieldPath<'_>) -> FieldError {
    FieldError::new(
        path,
        FieldProblem::UnexpectedValue {
            expected,
            found: format!("{:?}", ValueKind::from(value)),
        },
    )
}

mod sealed {
    use super::{FieldError, FieldPath, Schema, Value};

    /// One Rust field type and its Avro form under a given (sub)schema. Public in a private
    /// module so that [`AvroRecord`](super::AvroRecord) can build on it while nobody outside
    /// the crate can implement it: the records are the contract.
    pub trait AvroField: Sized {
        fn to_value(&self, schema: &Schema, path: &FieldPath<'_>) -> Result<Value, FieldError>;
        fn from_value(
            value: Value,
            schema: &Schema,
            path: &FieldPath<'_>,
        ) -> Result<Self, FieldError>;
    }
}
use sealed::AvroField;

/// A record of one of the contracts, convertible to and from an Avro value of its schema.
///
/// Implemented for the six top-level records of [`crate::records`] only.
pub trait AvroRecord: AvroField {
    /// The contract (schema) of this record.
    const CONTRACT: Contract;

    /// The Kafka message key: the GTIN, `<gtin>|<channel>` for scores, and for quarantined
    /// records the GTIN when it could be read (`None` means a null key).
    fn key(&self) -> Option<String>;

    /// The record as an Avro value of [`Self::CONTRACT`]'s schema. Fails on a decimal that
    /// the schema's precision or scale cannot hold exactly.
    fn to_avro(&self) -> Result<Value, FieldError> {
        self.to_value(
            Self::CONTRACT.schema(),
            &FieldPath::Record(Self::CONTRACT.name()),
        )
    }

    /// The record from an Avro value of [`Self::CONTRACT`]'s schema (after resolution).
    fn from_avro(value: Value) -> Result<Self, FieldError> {
        Self::from_value(
            value,
            Self::CONTRACT.schema(),
            &FieldPath::Record(Self::CONTRACT.name()),
        )
    }
}

/// Implements [`AvroField`] for a Rust text type, written as an Avro `string`.
macro_rules! avro_text {
    ($text:ty) => {
        impl AvroField for $text {
            fn to_value(&self, schema: &Schema, path: &FieldPath<'_>) -> Result<Value, FieldError> {
                match schema {
                    Schema::String => Ok(Value::String(str::to_owned(self))),
                    other => Err(mismatch(stringify!($text), other, path)),
                }
            }

            fn from_value(
                value: Value,
                _: &Schema,
                path: &FieldPath<'_>,
            ) -> Result<Self, FieldError> {
                match value {
                    Value::String(text) => Ok(text.into()),
                    other => Err(unexpected("a string", &other, path)),
                }
            }
        }
    };
}

avro_text!(String);
avro_text!(Label);
avro_text!(SharedText);

impl AvroField for bool {
    fn to_value(&self, schema: &Schema, path: &FieldPath<'_>) -> Result<Value, FieldError> {
        match schema {
            Schema::Boolean => Ok(Value::Boolean(*self)),
            other => Err(mismatch("bool", other, path)),
        }
    }

    fn from_value(value: Value, _: &Schema, path: &FieldPath<'_>) -> Result<Self, FieldError> {
        match value {
            Value::Boolean(flag) => Ok(flag),
            other => Err(unexpected("a boolean", &other, path)),
        }
    }
}

impl AvroField for i32 {
    fn to_value(&self, schema: &Schema, path: &FieldPath<'_>) -> Result<Value, FieldError> {
        match schema {
            Schema::Int => Ok(Value::Int(*self)),
            other => Err(mismatch("i32", other, path)),
        }
    }

    fn from_value(value: Value, _: &Schema, path: &FieldPath<'_>) -> Result<Self, FieldError> {
        match value {
            Value::Int(number) => Ok(number),
            other => Err(unexpected("an int", &other, path)),
        }
    }
}

/// `i64` is both Avro `long` and `timestamp-millis` (the records' `EpochMillis`).
impl AvroField for i64 {
    fn to_value(&self, schema: &Schema, path: &FieldPath<'_>) -> Result<Value, FieldError> {
        match schema {
            Schema::Long => Ok(Value::Long(*self)),
            Schema::TimestampMillis => Ok(Value::TimestampMillis(*self)),
            other => Err(mismatch("i64", other, path)),
        }
    }

    fn from_value(value: Value, _: &Schema, path: &FieldPath<'_>) -> Result<Self, FieldError> {
        match value {
            Value::Long(number) | Value::TimestampMillis(number) => Ok(number),
            other => Err(unexpected("a long or timestamp-millis", &other, path)),
        }
    }
}

impl AvroField for Vec<u8> {
    fn to_value(&self, schema: &Schema, path: &FieldPath<'_>) -> Result<Value, FieldError> {
        match schema {
            Schema::Bytes => Ok(Value::Bytes(self.clone())),
            other => Err(mismatch("Vec<u8>", other, path)),
        }
    }

    fn from_value(value: Value, _: &Schema, path: &FieldPath<'_>) -> Result<Self, FieldError> {
        match value {
            Value::Bytes(bytes) => Ok(bytes),
            other => Err(unexpected("bytes", &other, path)),
        }
    }
}

impl AvroField for Decimal {
    fn to_value(&self, schema: &Schema, path: &FieldPath<'_>) -> Result<Value, FieldError> {
        match schema {
            Schema::Decimal(decimal) => {
                encode_decimal(*self, decimal.precision, decimal.scale, path)
            }
            other => Err(mismatch("Decimal", other, path)),
        }
    }

    fn from_value(value: Value, schema: &Schema, path: &FieldPath<'_>) -> Result<Self, FieldError> {
        match (value, schema) {
            (Value::Decimal(decimal), Schema::Decimal(decimal_schema)) => {
                let bytes = <Vec<u8>>::try_from(&decimal)
                    .map_err(|_| unexpected("decimal bytes", &Value::Decimal(decimal), path))?;
                decode_decimal(&bytes, decimal_schema.precision, decimal_schema.scale, path)
            }
            (Value::Decimal(_), other) => Err(mismatch("Decimal", other, path)),
            (other, _) => Err(unexpected("a decimal", &other, path)),
        }
    }
}

/// `Option<T>` is a `["null", T]` union, in whichever branch order the schema declares.
impl<T: AvroField> AvroField for Option<T> {
    fn to_value(&self, schema: &Schema, path: &FieldPath<'_>) -> Result<Value, FieldError> {
        let (null_index, value_index, value_schema) = nullable_branches(schema, path)?;
        Ok(match self {
            None => Value::Union(null_index, Box::new(Value::Null)),
            Some(value) => Value::Union(value_index, Box::new(value.to_value(value_schema, path)?)),
        })
    }

    fn from_value(value: Value, schema: &Schema, path: &FieldPath<'_>) -> Result<Self, FieldError> {
        let (_, _, value_schema) = nullable_branches(schema, path)?;
        match value {
            Value::Union(_, inner) => match *inner {
                Value::Null => Ok(None),
                inner => T::from_value(inner, value_schema, path).map(Some),
            },
            other => Err(unexpected("a [null, T] union", &other, path)),
        }
    }
}

/// The branch indexes of a `["null", T]` union and the schema of `T`.
fn nullable_branches<'s>(
    schema: &'s Schema,
    path: &FieldPath<'_>,
) -> Result<(u32, u32, &'s Schema), FieldError> {
    let branches = match schema {
        Schema::Union(union) => union.variants(),
        _ => &[],
    };
    match branches {
        [Schema::Null, value] if !matches!(value, Schema::Null) => Ok((0, 1, value)),
        [value, Schema::Null] if !matches!(value, Schema::Null) => Ok((1, 0, value)),
        _ => Err(mismatch("Option<_>", schema, path)),
    }
}

impl<T: AvroField> AvroField for Vec<T> {
    fn to_value(&self, schema: &Schema, path: &FieldPath<'_>) -> Result<Value, FieldError> {
        let Schema::Array(array) = schema else {
            return Err(mismatch("Vec<_>", schema, path));
        };
        self.iter()
            .enumerate()
            .map(|(index, item)| item.to_value(&array.items, &FieldPath::Item(path, index)))
            .collect::<Result<_, _>>()
            .map(Value::Array)
    }

    fn from_value(value: Value, schema: &Schema, path: &FieldPath<'_>) -> Result<Self, FieldError> {
        let Schema::Array(array) = schema else {
            return Err(mismatch("Vec<_>", schema, path));
        };
        match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(index, item)| {
                    T::from_value(item, &array.items, &FieldPath::Item(path, index))
                })
                .collect(),
            other => Err(unexpected("an array", &other, path)),
        }
    }
}

/// Above this many significant digits an unscaled value no longer fits rust_decimal's
/// 96-bit mantissa, so wider schema decimals are refused instead of silently truncated.
const MAX_DECIMAL_DIGITS: usize = 28;

fn check_decimal_type(
    precision: usize,
    scale: usize,
    path: &FieldPath<'_>,
) -> Result<u32, FieldError> {
    if precision == 0 || precision > MAX_DECIMAL_DIGITS || scale > precision {
        return Err(FieldError::new(
            path,
            FieldProblem::UnsupportedDecimal { precision, scale },
        ));
    }
    // scale <= precision <= 28 was just checked.
    Ok(scale as u32)
}

/// Encodes `value` as the two's-complement big-endian unscaled integer at the schema's scale.
/// Trailing fractional zeros beyond the scale are dropped (1.50000 is 1.5); any other excess
/// digit, or more digits than the precision, is an error rather than a rounding.
pub(crate) fn encode_decimal(
    value: Decimal,
    precision: usize,
    scale: usize,
    path: &FieldPath<'_>,
) -> Result<Value, FieldError> {
    let target_scale = check_decimal_type(precision, scale, path)?;
    let exceeds = || {
        FieldError::new(
            path,
            FieldProblem::ExceedsPrecision {
                value: value.to_string(),
                precision,
                scale,
            },
        )
    };
    let mut unscaled = value.mantissa();
    let value_scale = value.scale();
    if value_scale > target_scale {
        // Both scales are at most 28, and 10^28 fits in an i128.
        let divisor = 10i128.pow(value_scale - target_scale);
        if unscaled % divisor != 0 {
            return Err(FieldError::new(
                path,
                FieldProblem::TooManyFractionalDigits {
                    value: value.to_string(),
                    scale: target_scale,
                },
            ));
        }
        unscaled /= divisor;
    } else {
        unscaled = unscaled
            .checked_mul(10i128.pow(target_scale - value_scale))
            .ok_or_else(exceeds)?;
    }
    if unscaled.unsigned_abs() >= 10u128.pow(precision as u32) {
        return Err(exceeds());
    }
    Ok(Value::Decimal(apache_avro::Decimal::from(
        minimal_twos_complement(unscaled),
    )))
}

/// The shortest big-endian two's-complement bytes of `n`, as Java's `BigInteger.toByteArray`
/// and the other Avro implementations write them.
fn minimal_twos_complement(n: i128) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let redundant = bytes
        .windows(2)
        .take_while(|pair| {
            (pair[0] == 0x00 && pair[1] & 0x80 == 0) || (pair[0] == 0xFF && pair[1] & 0x80 != 0)
        })
        .count();
    bytes[redundant..].to_vec()
}

/// Decodes two's-complement big-endian `bytes` as an unscaled integer at `scale`, refusing
/// values beyond the schema's precision (a well-behaved writer never produces them).
pub(crate) fn decode_decimal(
    bytes: &[u8],
    precision: usize,
    scale: usize,
    path: &FieldPath<'_>,
) -> Result<Decimal, FieldError> {
    let target_scale = check_decimal_type(precision, scale, path)?;
    let Some(&first) = bytes.first() else {
        return Err(FieldError::new(path, FieldProblem::EmptyDecimal));
    };
    let sign_byte = if first & 0x80 == 0 { 0x00 } else { 0xFF };
    let significant = bytes.len() - bytes.iter().take_while(|&&b| b == sign_byte).count();
    // Keep one sign byte so that e.g. 00 80 (128) is not read as 80 (-128).
    let kept = (significant + 1).min(bytes.len());
    let exceeds = |value: String| {
        FieldError::new(
            path,
            FieldProblem::ExceedsPrecision {
                value,
                precision,
                scale,
            },
        )
    };
    if kept > 16 {
        return Err(exceeds(format!(
            "an unscaled integer of {significant} significant bytes"
        )));
    }
    let mut wide = [sign_byte; 16];
    wide[16 - kept..].copy_from_slice(&bytes[bytes.len() - kept..]);
    let unscaled = i128::from_be_bytes(wide);
    if unscaled.unsigned_abs() >= 10u128.pow(precision as u32) {
        return Err(exceeds(format!("{unscaled}e-{scale}")));
    }
    // |unscaled| < 10^28 < 2^96 and scale <= 28, both checked above.
    Decimal::try_from_i128_with_scale(unscaled, target_scale)
        .map_err(|_| exceeds(format!("{unscaled}e-{scale}")))
}

/// Fields of a decoded record, taken out by name.
struct RecordFields<'a> {
    fields: Vec<(String, Value)>,
    schema: &'a RecordSchema,
}

impl<'a> RecordFields<'a> {
    fn new(
        value: Value,
        schema: &'a Schema,
        rust: &'static str,
        path: &FieldPath<'_>,
    ) -> Result<Self, FieldError> {
        let Schema::Record(record_schema) = schema else {
            return Err(mismatch(rust, schema, path));
        };
        match value {
            Value::Record(fields) => Ok(Self {
                fields,
                schema: record_schema,
            }),
            other => Err(unexpected("a record", &other, path)),
        }
    }

    fn take<T: AvroField>(&mut self, name: &str, path: &FieldPath<'_>) -> Result<T, FieldError> {
        let field_path = FieldPath::Field(path, name);
        let schema = field_schema(self.schema, name, &field_path)?;
        let position = self
            .fields
            .iter()
            .position(|(field, _)| field == name)
            .ok_or_else(|| FieldError::new(&field_path, FieldProblem::MissingField))?;
        let (_, value) = self.fields.swap_remove(position);
        T::from_value(value, schema, &field_path)
    }
}

fn field_schema<'s>(
    record: &'s RecordSchema,
    name: &str,
    path: &FieldPath<'_>,
) -> Result<&'s Schema, FieldError> {
    record
        .lookup
        .get(name)
        .and_then(|&index| record.fields.get(index))
        .map(|field| &field.schema)
        .ok_or_else(|| {
            FieldError::new(
                path,
                FieldProblem::SchemaMismatch {
                    rust: "a field of records.rs",
                    schema: format!("{} (no such field)", record.name.fullname(None)),
                },
            )
        })
}

/// Implements [`AvroField`] for a record struct from the list of its fields, which must be
/// all of them: the struct literal in `from_value` refuses to compile otherwise, and
/// `to_value` checks the schema has no field the struct lacks.
macro_rules! avro_record {
    ($record:ident { $($field:ident),+ $(,)? }) => {
        impl AvroField for $record {
            fn to_value(&self, schema: &Schema, path: &FieldPath<'_>) -> Result<Value, FieldError> {
                const FIELDS: &[&str] = &[$(stringify!($field)),+];
                let Schema::Record(record_schema) = schema else {
                    return Err(mismatch(stringify!($record), schema, path));
                };
                if let Some(extra) = record_schema
                    .fields
                    .iter()
                    .find(|field| !FIELDS.contains(&field.name.as_str()))
                {
                    return Err(FieldError::new(
                        &FieldPath::Field(path, &extra.name),
                        FieldProblem::SchemaMismatch {
                            rust: stringify!($record),
                            schema: format!("{} (field absent from records.rs)", extra.name),
                        },
                    ));
                }
                Ok(Value::Record(vec![$({
                    let field_path = FieldPath::Field(path, stringify!($field));
                    let field_schema =
                        field_schema(record_schema, stringify!($field), &field_path)?;
                    (
                        stringify!($field).to_owned(),
                        self.$field.to_value(field_schema, &field_path)?,
                    )
                }),+]))
            }

            fn from_value(
                value: Value,
                schema: &Schema,
                path: &FieldPath<'_>,
            ) -> Result<Self, FieldError> {
                let mut fields = RecordFields::new(value, schema, stringify!($record), path)?;
                Ok(Self {
                    $($field: fields.take(stringify!($field), path)?,)+
                })
            }
        }
    };
}

/// Implements [`AvroField`] for a Rust enum from its variant-to-symbol table; the symbol's
/// index comes from the schema, so reordering symbols in the `.avsc` stays correct.
macro_rules! avro_enum {
    ($enum:ident { $($variant:ident => $symbol:literal),+ $(,)? }) => {
        impl AvroField for $enum {
            fn to_value(&self, schema: &Schema, path: &FieldPath<'_>) -> Result<Value, FieldError> {
                let Schema::Enum(enum_schema) = schema else {
                    return Err(mismatch(stringify!($enum), schema, path));
                };
                let symbol = match self {
                    $($enum::$variant => $symbol,)+
                };
                let index = enum_schema
                    .symbols
                    .iter()
                    .position(|known| known == symbol)
                    .and_then(|index| u32::try_from(index).ok())
                    .ok_or_else(|| {
                        FieldError::new(
                            path,
                            FieldProblem::UnknownSymbol {
                                symbol: symbol.to_owned(),
                                known: enum_schema.symbols.join(", "),
                            },
                        )
                    })?;
                Ok(Value::Enum(index, symbol.to_owned()))
            }

            fn from_value(value: Value, _: &Schema, path: &FieldPath<'_>) -> Result<Self, FieldError> {
                match value {
                    Value::Enum(_, symbol) => match symbol.as_str() {
                        $($symbol => Ok($enum::$variant),)+
                        _ => Err(FieldError::new(
                            path,
                            FieldProblem::UnknownSymbol {
                                symbol,
                                known: [$($symbol),+].join(", "),
                            },
                        )),
                    },
                    other => Err(unexpected("an enum symbol", &other, path)),
                }
            }
        }
    };
}

avro_enum!(LevyKind {
    DeeeEcoParticipation => "DEEE_ECO_PARTICIPATION",
    PrivateCopy => "PRIVATE_COPY",
});
avro_enum!(StockSource {
    Supplier => "SUPPLIER",
    Erp => "ERP",
    Fba => "FBA",
});
avro_enum!(CostKind {
    SupplierPrice => "SUPPLIER_PRICE",
    ErpStandardCost => "ERP_STANDARD_COST",
});

avro_record!(Levy {
    kind,
    amount_incl_vat
});
avro_record!(FactorContribution {
    name,
    raw_value,
    normalised,
    weight,
    contribution,
    explanation,
});
avro_record!(MarginBreakdown {
    currency,
    price_incl_vat,
    shipping_incl_vat,
    levies_incl_vat,
    revenue_excl_vat,
    commission_excl_vat,
    digital_services_fee_excl_vat,
    fulfilment_method,
    fulfilment_fee_excl_vat,
    subscription_per_unit_excl_vat,
    operational_cost_excl_vat,
    product_cost_excl_vat,
    product_cost_source,
    net_margin_excl_vat,
    margin_rate,
    roi,
});
avro_record!(ProductReference {
    gtin,
    sku,
    title,
    brand,
    category,
    vat_rate,
    weight_g,
    length_mm,
    width_mm,
    height_mm,
    levies,
    source,
    updated_at,
    active,
});
avro_record!(OfferSignal {
    gtin,
    channel,
    currency,
    our_price_incl_vat,
    our_shipping_incl_vat,
    buy_box_price_incl_vat,
    we_own_buy_box,
    lowest_listing_price_incl_vat,
    lowest_shipping_incl_vat,
    lowest_landed_price_incl_vat,
    offer_count,
    sales_rank,
    marketplace_category,
    source,
    request_id,
    observed_at,
});
avro_record!(StockSignal {
    gtin,
    stock_source,
    location,
    quantity,
    incoming_quantity,
    lead_time_days,
    source,
    request_id,
    observed_at,
});
avro_record!(CostSignal {
    gtin,
    cost_kind,
    supplier_id,
    unit_cost_excl_vat,
    currency,
    moq,
    valid_from,
    valid_to,
    lead_time_days,
    source,
    request_id,
    observed_at,
});
avro_record!(ReferenceScore {
    gtin,
    channel,
    version,
    score,
    confidence,
    factors,
    missing_inputs,
    margin,
    action,
    action_rule,
    target_price_incl_vat,
    weights_profile,
    weights_version,
    fee_schedule_version,
    offer_observed_at,
    stock_observed_at,
    cost_observed_at,
    scored_at,
});
avro_record!(QuarantinedRecord {
    source,
    record_type,
    original_topic,
    original_partition,
    original_offset,
    key,
    raw,
    gtin,
    reason_code,
    detail,
    observed_at,
});

impl AvroRecord for ProductReference {
    const CONTRACT: Contract = Contract::ProductReference;
    fn key(&self) -> Option<String> {
        Some(self.gtin.clone())
    }
}

impl AvroRecord for OfferSignal {
    const CONTRACT: Contract = Contract::OfferSignal;
    fn key(&self) -> Option<String> {
        Some(self.gtin.clone())
    }
}

impl AvroRecord for StockSignal {
    const CONTRACT: Contract = Contract::StockSignal;
    fn key(&self) -> Option<String> {
        Some(self.gtin.clone())
    }
}

impl AvroRecord for CostSignal {
    const CONTRACT: Contract = Contract::CostSignal;
    fn key(&self) -> Option<String> {
        Some(self.gtin.clone())
    }
}

impl AvroRecord for ReferenceScore {
    const CONTRACT: Contract = Contract::ReferenceScore;
    /// One score per (GTIN, channel), so compaction keeps the latest score of each channel.
    fn key(&self) -> Option<String> {
        Some(format!("{}|{}", self.gtin, self.channel))
    }
}

impl AvroRecord for QuarantinedRecord {
    const CONTRACT: Contract = Contract::QuarantinedRecord;
    /// Keyed by GTIN, like the signals, so a reference's refusals stay in order; a record
    /// whose GTIN could not be read gets a null key (its original key is kept in `key`).
    fn key(&self) -> Option<String> {
        self.gtin.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: FieldPath<'static> = FieldPath::Record("Test");

    fn encoded_bytes(value: Decimal, precision: usize, scale: usize) -> Vec<u8> {
        match encode_decimal(value, precision, scale, &PATH) {
            Ok(Value::Decimal(decimal)) => <Vec<u8>>::try_from(&decimal).expect("bytes"),
            other => panic!("expected a decimal value, got {other:?}"),
        }
    }

    #[test]
    fn unscaled_values_use_the_shortest_twos_complement() {
        // The unscaled integer at scale 2, as Java's BigInteger.toByteArray writes it.
        for (value, bytes) in [
            (Decimal::ZERO, vec![0x00]),
            (Decimal::new(1, 2), vec![0x01]),
            (Decimal::new(-1, 2), vec![0xff]),
            (Decimal::new(127, 2), vec![0x7f]),
            (Decimal::new(128, 2), vec![0x00, 0x80]),
            (Decimal::new(-128, 2), vec![0x80]),
            (Decimal::new(-129, 2), vec![0xff, 0x7f]),
            (Decimal::new(1999, 2), vec![0x07, 0xcf]),
            (Decimal::new(1999, 1), vec![0x4e, 0x16]),
        ] {
            assert_eq!(encoded_bytes(value, 18, 2), bytes, "{value}");
            let decoded = decode_decimal(&bytes, 18, 2, &PATH).expect("decodes");
            assert_eq!(decoded, value);
            assert_eq!(decoded.scale(), 2);
        }
    }

    #[test]
    fn the_precision_bound_is_exact_both_ways() {
        let largest = Decimal::new(999_999_999, 6);
        assert_eq!(
            decode_decimal(&encoded_bytes(largest, 9, 6), 9, 6, &PATH),
            Ok(largest)
        );
        for too_big in [
            Decimal::new(1_000_000_000, 6),
            Decimal::new(-1_000_000_000, 6),
        ] {
            let error = encode_decimal(too_big, 9, 6, &PATH).expect_err("10 digits");
            assert!(matches!(
                error.problem,
                FieldProblem::ExceedsPrecision { precision: 9, .. }
            ));
        }
        // 1_000_000_000 unscaled = 0x3b9aca00
        let error = decode_decimal(&[0x3b, 0x9a, 0xca, 0x00], 9, 6, &PATH).expect_err("10 digits");
        assert_eq!(error.to_string().split(':').next(), Some("Test"));
        assert!(error.to_string().contains("1000000000e-6"), "{error}");
    }

    #[test]
    fn rescaling_up_overflow_is_an_error_not_a_panic() {
        let error = encode_decimal(Decimal::MAX, 28, 28, &PATH).expect_err("overflows");
        assert!(
            matches!(error.problem, FieldProblem::ExceedsPrecision { .. }),
            "{error}"
        );
    }

    #[test]
    fn odd_decimal_bytes_are_read_or_refused_without_panicking() {
        assert_eq!(
            decode_decimal(&[], 18, 4, &PATH).map_err(|e| e.problem),
            Err(FieldProblem::EmptyDecimal)
        );
        // Redundant sign extension, as fixed-width writers produce.
        let mut padded = vec![0xff; 20];
        padded.push(0x85);
        assert_eq!(
            decode_decimal(&padded, 18, 4, &PATH),
            Ok(Decimal::new(-123, 4))
        );
        let huge = [0x7f; 17];
        assert!(matches!(
            decode_decimal(&huge, 18, 4, &PATH).map_err(|e| e.problem),
            Err(FieldProblem::ExceedsPrecision { .. })
        ));
        assert!(matches!(
            decode_decimal(&[1], 38, 4, &PATH).map_err(|e| e.problem),
            Err(FieldProblem::UnsupportedDecimal {
                precision: 38,
                scale: 4
            })
        ));
    }
}
