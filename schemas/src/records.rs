//! Rust records mirroring the Avro schemas field for field. Money and rates are
//! `rust_decimal::Decimal` (Avro `decimal` bytes); times are epoch milliseconds (Avro
//! `timestamp-millis`). They are plain data: no I/O, usable by the pure core.

use std::borrow::Cow;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
pub type EpochMillis = i64;

/// Text that the scorer takes from its own constants (a channel, factor, action or input
/// key): borrowed when scored, so publishing millions of scores allocates none of them;
/// owned when read back from a topic.
pub type Label = Cow<'static, str>;

/// Text that the scorer takes from its configuration (a profile's or fee schedule's name
/// and version, a currency): shared by every score computed under that configuration.
pub type SharedText = Arc<str>;

/// Stable product data, topic `hub.reference.products` (compacted, keyed by GTIN-13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductReference {
    pub gtin: String,
    pub sku: String,
    pub title: String,
    pub brand: Option<String>,
    /// Hub category key (see `hub_core` categories).
    pub category: String,
    /// VAT rate as a fraction: 0.2 for 20%.
    pub vat_rate: Decimal,
    pub weight_g: Option<i32>,
    pub length_mm: Option<i32>,
    pub width_mm: Option<i32>,
    pub height_mm: Option<i32>,
    pub levies: Vec<Levy>,
    pub source: String,
    pub updated_at: EpochMillis,
    /// False once the source archived the reference (Odoo `active = False`); records written
    /// before the field existed read as active.
    pub active: bool,
}

/// An amount collected from the buyer on behalf of a third party (neither revenue nor cost).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Levy {
    pub kind: LevyKind,
    pub amount_incl_vat: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LevyKind {
    DeeeEcoParticipation,
    PrivateCopy,
}

/// Prices seen on one channel for one reference, topic `hub.signals.offers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferSignal {
    pub gtin: String,
    pub channel: String,
    pub currency: String,
    pub our_price_incl_vat: Option<Decimal>,
    pub our_shipping_incl_vat: Option<Decimal>,
    pub buy_box_price_incl_vat: Option<Decimal>,
    pub we_own_buy_box: Option<bool>,
    pub lowest_listing_price_incl_vat: Option<Decimal>,
    pub lowest_shipping_incl_vat: Option<Decimal>,
    pub lowest_landed_price_incl_vat: Option<Decimal>,
    pub offer_count: Option<i32>,
    pub sales_rank: Option<i64>,
    pub marketplace_category: Option<String>,
    pub source: String,
    pub request_id: Option<String>,
    pub observed_at: EpochMillis,
}

/// Units available from one source and location, topic `hub.signals.stock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockSignal {
    pub gtin: String,
    pub stock_source: StockSource,
    pub location: Option<String>,
    pub quantity: i64,
    pub incoming_quantity: Option<i64>,
    pub lead_time_days: Option<i32>,
    pub source: String,
    pub request_id: Option<String>,
    pub observed_at: EpochMillis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StockSource {
    Supplier,
    Erp,
    Fba,
}

/// A purchase cost, topic `hub.signals.costs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostSignal {
    pub gtin: String,
    pub cost_kind: CostKind,
    pub supplier_id: Option<String>,
    pub unit_cost_excl_vat: Decimal,
    pub currency: String,
    pub moq: Option<i32>,
    pub valid_from: Option<EpochMillis>,
    pub valid_to: Option<EpochMillis>,
    pub lead_time_days: Option<i32>,
    pub source: String,
    pub request_id: Option<String>,
    pub observed_at: EpochMillis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CostKind {
    SupplierPrice,
    ErpStandardCost,
}

/// The explained score of one reference on one channel, topics `hub.scores.current`
/// (compacted, key `<gtin>|<channel>`) and `hub.scores.history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceScore {
    pub gtin: String,
    pub channel: Label,
    pub version: i64,
    pub score: Decimal,
    pub confidence: Decimal,
    pub factors: Vec<FactorContribution>,
    pub missing_inputs: Vec<Label>,
    pub margin: Option<MarginBreakdown>,
    pub action: Label,
    pub action_rule: String,
    pub target_price_incl_vat: Option<Decimal>,
    pub weights_profile: SharedText,
    pub weights_version: SharedText,
    pub fee_schedule_version: SharedText,
    pub offer_observed_at: Option<EpochMillis>,
    pub stock_observed_at: Option<EpochMillis>,
    pub cost_observed_at: Option<EpochMillis>,
    pub scored_at: EpochMillis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorContribution {
    pub name: Label,
    pub raw_value: Option<Decimal>,
    pub normalised: Decimal,
    pub weight: Decimal,
    pub contribution: Decimal,
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarginBreakdown {
    pub currency: SharedText,
    pub price_incl_vat: Decimal,
    pub shipping_incl_vat: Decimal,
    pub levies_incl_vat: Decimal,
    pub revenue_excl_vat: Decimal,
    pub commission_excl_vat: Decimal,
    pub digital_services_fee_excl_vat: Decimal,
    pub fulfilment_method: Label,
    pub fulfilment_fee_excl_vat: Decimal,
    pub subscription_per_unit_excl_vat: Decimal,
    pub operational_cost_excl_vat: Decimal,
    pub product_cost_excl_vat: Decimal,
    pub product_cost_source: String,
    pub net_margin_excl_vat: Decimal,
    pub margin_rate: Decimal,
    pub roi: Decimal,
}

/// A record refused by the quality gate, topic `hub.quarantine`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedRecord {
    pub source: String,
    pub record_type: String,
    pub original_topic: Option<String>,
    pub original_partition: Option<i32>,
    pub original_offset: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub raw: Vec<u8>,
    pub gtin: Option<String>,
    pub reason_code: String,
    pub detail: String,
    pub observed_at: EpochMillis,
}
