//! One row type per table, converted from the hub-schemas records.
//!
//! Conversions are `TryFrom<Sourced<Record>>`: every table keeps the Kafka position of the
//! message a row came from, and a money or rate value that does not fit its column exactly
//! is refused (see [`crate::decimal`]) instead of being stored rounded.

use crate::decimal::{Dec9x4, Dec9x6, Dec18x4, Dec18x6, DecimalError};
use clickhouse::Row;
use hub_schemas::records::{
    CostKind, CostSignal, EpochMillis, LevyKind, OfferSignal, ProductReference, QuarantinedRecord,
    ReferenceScore, StockSignal, StockSource,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Where a record was read: its topic, partition and offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KafkaPosition {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// A record together with the Kafka position it was consumed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<R> {
    pub record: R,
    pub position: KafkaPosition,
}

impl<R> Sourced<R> {
    pub fn new(record: R, position: KafkaPosition) -> Self {
        Self { record, position }
    }
}

/// A record field whose value cannot be stored in its column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{table}.{column} of the record at {topic}/{partition}@{offset} (key {key}) cannot be stored: \
     {source}; the record must be quarantined or its contract fixed, retrying cannot help"
)]
pub struct ConversionError {
    pub table: &'static str,
    pub column: &'static str,
    pub key: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    #[source]
    pub source: DecimalError,
}

/// A row the batching writer can insert: its table and the position it came from.
pub trait SinkRow: clickhouse::RowOwned + clickhouse::RowWrite + Send + Sync + 'static {
    const TABLE: &'static str;

    fn position(&self) -> KafkaPosition;
}

/// Converts the decimals of one record, naming the failing column in the error.
struct Fields<'a> {
    table: &'static str,
    key: &'a str,
    position: &'a KafkaPosition,
}

impl Fields<'_> {
    fn fit<T: TryFrom<Decimal, Error = DecimalError>>(
        &self,
        column: &'static str,
        value: Decimal,
    ) -> Result<T, ConversionError> {
        T::try_from(value).map_err(|source| ConversionError {
            table: self.table,
            column,
            key: self.key.to_owned(),
            topic: self.position.topic.clone(),
            partition: self.position.partition,
            offset: self.position.offset,
            source,
        })
    }

    fn fit_opt<T: TryFrom<Decimal, Error = DecimalError>>(
        &self,
        column: &'static str,
        value: Option<Decimal>,
    ) -> Result<Option<T>, ConversionError> {
        value.map(|value| self.fit(column, value)).transpose()
    }

    fn fit_all<T: TryFrom<Decimal, Error = DecimalError>>(
        &self,
        column: &'static str,
        values: impl Iterator<Item = Decimal>,
    ) -> Result<Vec<T>, ConversionError> {
        values.map(|value| self.fit(column, value)).collect()
    }
}

fn levy_kind(kind: LevyKind) -> &'static str {
    match kind {
        LevyKind::DeeeEcoParticipation => "DEEE_ECO_PARTICIPATION",
        LevyKind::PrivateCopy => "PRIVATE_COPY",
    }
}

fn stock_source(source: StockSource) -> &'static str {
    match source {
        StockSource::Supplier => "SUPPLIER",
        StockSource::Erp => "ERP",
        StockSource::Fba => "FBA",
    }
}

fn cost_kind(kind: CostKind) -> &'static str {
    match kind {
        CostKind::SupplierPrice => "SUPPLIER_PRICE",
        CostKind::ErpStandardCost => "ERP_STANDARD_COST",
    }
}

/// Implements [`SinkRow`] for a row type with the Kafka position columns.
macro_rules! sink_row {
    ($row:ty, $table:literal) => {
        impl SinkRow for $row {
            const TABLE: &'static str = $table;

            fn position(&self) -> KafkaPosition {
                KafkaPosition {
                    topic: self.kafka_topic.clone(),
                    partition: self.kafka_partition,
                    offset: self.kafka_offset,
                }
            }
        }
    };
}

/// A row of `products`. Times are epoch milliseconds (`DateTime64(3, 'UTC')`).
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct ProductRow {
    pub gtin: String,
    pub sku: String,
    pub title: String,
    pub brand: Option<String>,
    pub category: String,
    pub vat_rate: Dec9x6,
    pub weight_g: Option<i32>,
    pub length_mm: Option<i32>,
    pub width_mm: Option<i32>,
    pub height_mm: Option<i32>,
    #[serde(rename = "levies.kind")]
    pub levy_kinds: Vec<String>,
    #[serde(rename = "levies.amount_incl_vat")]
    pub levy_amounts_incl_vat: Vec<Dec18x4>,
    pub source: String,
    pub updated_at: EpochMillis,
    /// False once the source archived the reference (migration 0007).
    pub active: bool,
    pub kafka_topic: String,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}
sink_row!(ProductRow, "products");

impl TryFrom<Sourced<ProductReference>> for ProductRow {
    type Error = ConversionError;

    fn try_from(sourced: Sourced<ProductReference>) -> Result<Self, ConversionError> {
        let Sourced {
            record: r,
            position,
        } = sourced;
        let f = Fields {
            table: "products",
            key: &r.gtin,
            position: &position,
        };
        let levy_amounts_incl_vat = f.fit_all(
            "levies.amount_incl_vat",
            r.levies.iter().map(|levy| levy.amount_incl_vat),
        )?;
        Ok(Self {
            vat_rate: f.fit("vat_rate", r.vat_rate)?,
            levy_kinds: r
                .levies
                .iter()
                .map(|levy| levy_kind(levy.kind).to_owned())
                .collect(),
            levy_amounts_incl_vat,
            gtin: r.gtin,
            sku: r.sku,
            title: r.title,
            brand: r.brand,
            category: r.category,
            weight_g: r.weight_g,
            length_mm: r.length_mm,
            width_mm: r.width_mm,
            height_mm: r.height_mm,
            source: r.source,
            updated_at: r.updated_at,
            active: r.active,
            kafka_topic: position.topic,
            kafka_partition: position.partition,
            kafka_offset: position.offset,
        })
    }
}

/// A row of `offer_signals`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct OfferSignalRow {
    pub gtin: String,
    pub channel: String,
    pub currency: String,
    pub our_price_incl_vat: Option<Dec18x4>,
    pub our_shipping_incl_vat: Option<Dec18x4>,
    pub buy_box_price_incl_vat: Option<Dec18x4>,
    pub we_own_buy_box: Option<bool>,
    pub lowest_listing_price_incl_vat: Option<Dec18x4>,
    pub lowest_shipping_incl_vat: Option<Dec18x4>,
    pub lowest_landed_price_incl_vat: Option<Dec18x4>,
    pub offer_count: Option<i32>,
    pub sales_rank: Option<i64>,
    pub marketplace_category: Option<String>,
    pub source: String,
    pub request_id: Option<String>,
    pub observed_at: EpochMillis,
    pub kafka_topic: String,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}
sink_row!(OfferSignalRow, "offer_signals");

impl TryFrom<Sourced<OfferSignal>> for OfferSignalRow {
    type Error = ConversionError;

    fn try_from(sourced: Sourced<OfferSignal>) -> Result<Self, ConversionError> {
        let Sourced {
            record: r,
            position,
        } = sourced;
        let f = Fields {
            table: "offer_signals",
            key: &r.gtin,
            position: &position,
        };
        Ok(Self {
            our_price_incl_vat: f.fit_opt("our_price_incl_vat", r.our_price_incl_vat)?,
            our_shipping_incl_vat: f.fit_opt("our_shipping_incl_vat", r.our_shipping_incl_vat)?,
            buy_box_price_incl_vat: f
                .fit_opt("buy_box_price_incl_vat", r.buy_box_price_incl_vat)?,
            lowest_listing_price_incl_vat: f.fit_opt(
                "lowest_listing_price_incl_vat",
                r.lowest_listing_price_incl_vat,
            )?,
            lowest_shipping_incl_vat: f
                .fit_opt("lowest_shipping_incl_vat", r.lowest_shipping_incl_vat)?,
            lowest_landed_price_incl_vat: f.fit_opt(
                "lowest_landed_price_incl_vat",
                r.lowest_landed_price_incl_vat,
            )?,
            gtin: r.gtin,
            channel: r.channel,
            currency: r.currency,
            we_own_buy_box: r.we_own_buy_box,
            offer_count: r.offer_count,
            sales_rank: r.sales_rank,
            marketplace_category: r.marketplace_category,
            source: r.source,
            request_id: r.request_id,
            observed_at: r.observed_at,
            kafka_topic: position.topic,
            kafka_partition: position.partition,
            kafka_offset: position.offset,
        })
    }
}

/// A row of `stock_signals`. Has no decimal, so the conversion cannot fail.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct StockSignalRow {
    pub gtin: String,
    pub stock_source: String,
    pub location: Option<String>,
    pub quantity: i64,
    pub incoming_quantity: Option<i64>,
    pub lead_time_days: Option<i32>,
    pub source: String,
    pub request_id: Option<String>,
    pub observed_at: EpochMillis,
    pub kafka_topic: String,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}
sink_row!(StockSignalRow, "stock_signals");

impl From<Sourced<StockSignal>> for StockSignalRow {
    fn from(sourced: Sourced<StockSignal>) -> Self {
        let Sourced {
            record: r,
            position,
        } = sourced;
        Self {
            gtin: r.gtin,
            stock_source: stock_source(r.stock_source).to_owned(),
            location: r.location,
            quantity: r.quantity,
            incoming_quantity: r.incoming_quantity,
            lead_time_days: r.lead_time_days,
            source: r.source,
            request_id: r.request_id,
            observed_at: r.observed_at,
            kafka_topic: position.topic,
            kafka_partition: position.partition,
            kafka_offset: position.offset,
        }
    }
}

/// A row of `cost_signals`.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct CostSignalRow {
    pub gtin: String,
    pub cost_kind: String,
    pub supplier_id: Option<String>,
    pub unit_cost_excl_vat: Dec18x4,
    pub currency: String,
    pub moq: Option<i32>,
    pub valid_from: Option<EpochMillis>,
    pub valid_to: Option<EpochMillis>,
    pub lead_time_days: Option<i32>,
    pub source: String,
    pub request_id: Option<String>,
    pub observed_at: EpochMillis,
    pub kafka_topic: String,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}
sink_row!(CostSignalRow, "cost_signals");

impl TryFrom<Sourced<CostSignal>> for CostSignalRow {
    type Error = ConversionError;

    fn try_from(sourced: Sourced<CostSignal>) -> Result<Self, ConversionError> {
        let Sourced {
            record: r,
            position,
        } = sourced;
        let f = Fields {
            table: "cost_signals",
            key: &r.gtin,
            position: &position,
        };
        Ok(Self {
            unit_cost_excl_vat: f.fit("unit_cost_excl_vat", r.unit_cost_excl_vat)?,
            cost_kind: cost_kind(r.cost_kind).to_owned(),
            gtin: r.gtin,
            supplier_id: r.supplier_id,
            currency: r.currency,
            moq: r.moq,
            valid_from: r.valid_from,
            valid_to: r.valid_to,
            lead_time_days: r.lead_time_days,
            source: r.source,
            request_id: r.request_id,
            observed_at: r.observed_at,
            kafka_topic: position.topic,
            kafka_partition: position.partition,
            kafka_offset: position.offset,
        })
    }
}

/// A row of `scores` (and, through its materialized view, of `scores_current`). The factors
/// are the parallel arrays of the `factors` Nested column; the margin lines are all `None`
/// when the score has no margin.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct ScoreRow {
    pub gtin: String,
    pub channel: String,
    pub version: i64,
    pub score: Dec9x4,
    pub confidence: Dec9x4,
    #[serde(rename = "factors.name")]
    pub factor_names: Vec<String>,
    #[serde(rename = "factors.raw_value")]
    pub factor_raw_values: Vec<Option<Dec18x6>>,
    #[serde(rename = "factors.normalised")]
    pub factor_normalised: Vec<Dec9x6>,
    #[serde(rename = "factors.weight")]
    pub factor_weights: Vec<Dec9x6>,
    #[serde(rename = "factors.contribution")]
    pub factor_contributions: Vec<Dec9x4>,
    #[serde(rename = "factors.explanation")]
    pub factor_explanations: Vec<String>,
    pub missing_inputs: Vec<String>,
    pub margin_currency: Option<String>,
    pub margin_price_incl_vat: Option<Dec18x4>,
    pub margin_shipping_incl_vat: Option<Dec18x4>,
    pub margin_levies_incl_vat: Option<Dec18x4>,
    pub margin_revenue_excl_vat: Option<Dec18x4>,
    pub margin_commission_excl_vat: Option<Dec18x4>,
    pub margin_digital_services_fee_excl_vat: Option<Dec18x4>,
    pub margin_fulfilment_method: Option<String>,
    pub margin_fulfilment_fee_excl_vat: Option<Dec18x4>,
    pub margin_subscription_per_unit_excl_vat: Option<Dec18x4>,
    pub margin_operational_cost_excl_vat: Option<Dec18x4>,
    pub margin_product_cost_excl_vat: Option<Dec18x4>,
    pub margin_product_cost_source: Option<String>,
    pub margin_net_margin_excl_vat: Option<Dec18x4>,
    pub margin_rate: Option<Dec18x6>,
    pub margin_roi: Option<Dec18x6>,
    pub action: String,
    pub action_rule: String,
    pub target_price_incl_vat: Option<Dec18x4>,
    pub weights_profile: String,
    pub weights_version: String,
    pub fee_schedule_version: String,
    pub offer_observed_at: Option<EpochMillis>,
    pub stock_observed_at: Option<EpochMillis>,
    pub cost_observed_at: Option<EpochMillis>,
    pub scored_at: EpochMillis,
    pub kafka_topic: String,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}
sink_row!(ScoreRow, "scores");

impl TryFrom<Sourced<ReferenceScore>> for ScoreRow {
    type Error = ConversionError;

    fn try_from(sourced: Sourced<ReferenceScore>) -> Result<Self, ConversionError> {
        let Sourced {
            record: r,
            position,
        } = sourced;
        let f = Fields {
            table: "scores",
            key: &r.gtin,
            position: &position,
        };
        let factor_raw_values = r
            .factors
            .iter()
            .map(|factor| f.fit_opt("factors.raw_value", factor.raw_value))
            .collect::<Result<_, _>>()?;
        let m = r.margin.as_ref();
        Ok(Self {
            score: f.fit("score", r.score)?,
            confidence: f.fit("confidence", r.confidence)?,
            factor_names: r
                .factors
                .iter()
                .map(|factor| factor.name.to_string())
                .collect(),
            factor_raw_values,
            factor_normalised: f.fit_all(
                "factors.normalised",
                r.factors.iter().map(|factor| factor.normalised),
            )?,
            factor_weights: f.fit_all(
                "factors.weight",
                r.factors.iter().map(|factor| factor.weight),
            )?,
            factor_contributions: f.fit_all(
                "factors.contribution",
                r.factors.iter().map(|factor| factor.contribution),
            )?,
            factor_explanations: r
                .factors
                .iter()
                .map(|factor| factor.explanation.clone())
                .collect(),
            margin_currency: m.map(|m| str::to_owned(&m.currency)),
            margin_price_incl_vat: f
                .fit_opt("margin_price_incl_vat", m.map(|m| m.price_incl_vat))?,
            margin_shipping_incl_vat: f
                .fit_opt("margin_shipping_incl_vat", m.map(|m| m.shipping_incl_vat))?,
            margin_levies_incl_vat: f
                .fit_opt("margin_levies_incl_vat", m.map(|m| m.levies_incl_vat))?,
            margin_revenue_excl_vat: f
                .fit_opt("margin_revenue_excl_vat", m.map(|m| m.revenue_excl_vat))?,
            margin_commission_excl_vat: f.fit_opt(
                "margin_commission_excl_vat",
                m.map(|m| m.commission_excl_vat),
            )?,
            margin_digital_services_fee_excl_vat: f.fit_opt(
                "margin_digital_services_fee_excl_vat",
                m.map(|m| m.digital_services_fee_excl_vat),
            )?,
            margin_fulfilment_method: m.map(|m| m.fulfilment_method.to_string()),
            margin_fulfilment_fee_excl_vat: f.fit_opt(
                "margin_fulfilment_fee_excl_vat",
                m.map(|m| m.fulfilment_fee_excl_vat),
            )?,
            margin_subscription_per_unit_excl_vat: f.fit_opt(
                "margin_subscription_per_unit_excl_vat",
                m.map(|m| m.subscription_per_unit_excl_vat),
            )?,
            margin_operational_cost_excl_vat: f.fit_opt(
                "margin_operational_cost_excl_vat",
                m.map(|m| m.operational_cost_excl_vat),
            )?,
            margin_product_cost_excl_vat: f.fit_opt(
                "margin_product_cost_excl_vat",
                m.map(|m| m.product_cost_excl_vat),
            )?,
            margin_product_cost_source: m.map(|m| m.product_cost_source.clone()),
            margin_net_margin_excl_vat: f.fit_opt(
                "margin_net_margin_excl_vat",
                m.map(|m| m.net_margin_excl_vat),
            )?,
            margin_rate: f.fit_opt("margin_rate", m.map(|m| m.margin_rate))?,
            margin_roi: f.fit_opt("margin_roi", m.map(|m| m.roi))?,
            target_price_incl_vat: f.fit_opt("target_price_incl_vat", r.target_price_incl_vat)?,
            gtin: r.gtin.clone(),
            channel: r.channel.to_string(),
            version: r.version,
            missing_inputs: r.missing_inputs.iter().map(ToString::to_string).collect(),
            action: r.action.to_string(),
            action_rule: r.action_rule.clone(),
            // Copied as a str: `to_string` on an `Arc<str>` goes through `Display`.
            weights_profile: str::to_owned(&r.weights_profile),
            weights_version: str::to_owned(&r.weights_version),
            fee_schedule_version: str::to_owned(&r.fee_schedule_version),
            offer_observed_at: r.offer_observed_at,
            stock_observed_at: r.stock_observed_at,
            cost_observed_at: r.cost_observed_at,
            scored_at: r.scored_at,
            kafka_topic: position.topic.clone(),
            kafka_partition: position.partition,
            kafka_offset: position.offset,
        })
    }
}

/// A row of `quarantine`. `raw` and `key` are the original bytes, stored in `String`
/// columns (ClickHouse strings are arbitrary bytes).
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct QuarantineRow {
    pub source: String,
    pub record_type: String,
    pub original_topic: Option<String>,
    pub original_partition: Option<i32>,
    pub original_offset: Option<i64>,
    #[serde(with = "serde_bytes")]
    pub key: Option<Vec<u8>>,
    #[serde(with = "serde_bytes")]
    pub raw: Vec<u8>,
    pub gtin: Option<String>,
    pub reason_code: String,
    pub detail: String,
    pub observed_at: EpochMillis,
    pub kafka_topic: String,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}
sink_row!(QuarantineRow, "quarantine");

impl From<Sourced<QuarantinedRecord>> for QuarantineRow {
    fn from(sourced: Sourced<QuarantinedRecord>) -> Self {
        let Sourced {
            record: r,
            position,
        } = sourced;
        Self {
            source: r.source,
            record_type: r.record_type,
            original_topic: r.original_topic,
            original_partition: r.original_partition,
            original_offset: r.original_offset,
            key: r.key,
            raw: r.raw,
            gtin: r.gtin,
            reason_code: r.reason_code,
            detail: r.detail,
            observed_at: r.observed_at,
            kafka_topic: position.topic,
            kafka_partition: position.partition,
            kafka_offset: position.offset,
        }
    }
}
