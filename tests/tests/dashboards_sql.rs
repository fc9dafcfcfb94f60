//! Every Grafana dashboard in `dashboards/` and every SQL example of `docs/sql-cookbook.md`
//! against the real engine.
//!
//! For each ClickHouse panel target the SQL is expanded the way Grafana 13 and the
//! grafana-clickhouse-datasource plugin (v4) do it: first the plugin's `$__conditionalAll`
//! (front end), then Grafana's template variables with the plugin's default formatting or an
//! explicit `${var:format}`, then the plugin's back-end macros (`$__timeFilter`,
//! `$__timeInterval`, `$__fromTime`...). The query then runs on a fresh database migrated by
//! `hub_sink_clickhouse::migrate` and loaded with a realistic fixture (20 references, 3
//! channels each, 4 score versions each, one redelivered history row, products and
//! quarantined records with several reasons), under several variable selections (All, single
//! values, multi-value lists). Every panel must return rows whose column types fit its
//! visualisation; anything left unexpanded (`$name`, `${...}`, `$__macro`) fails the test, so
//! a new panel cannot slip through untested.
//!
//! Prometheus targets are parsed by `promtool check rules` (as recording rules) and every
//! metric they read must be one the hub exports (`pipeline/hub/src/telemetry.rs`).

use hub_core::category::Category;
use hub_core::channel::Channel;
use hub_core::gtin::check_digit;
use hub_core::reason::{Provenance, Quarantine, ReasonCode, RecordType};
use hub_integration_tests::{clickhouse_url, unique_name};
use hub_schemas::records::{
    FactorContribution, Label, Levy, LevyKind, MarginBreakdown, ProductReference, ReferenceScore,
};
use hub_sink_clickhouse::rows::{ProductRow, QuarantineRow, ScoreRow};
use hub_sink_clickhouse::{
    BatchWriter, ConnectionConfig, KafkaPosition, RetryPolicy, SinkRow, Sourced, WriterConfig,
    migrate,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The dashboard time range the panels are expanded with: the last 14 days (the fixture spans
/// the last 10), and the interval Grafana picks for it on a panel a few hundred pixels wide.
const RANGE_DAYS: i64 = 14;
const INTERVAL_SECONDS: i64 = 3_600;

/// Datasource UIDs provisioned by docker/grafana/provisioning/datasources.
const CLICKHOUSE_UID: &str = "clickhouse";
const PROMETHEUS_UID: &str = "prometheus";

/// The hub's recommended actions (`hub_core::action::Action` keys).
const ACTIONS: [&str; 5] = ["source", "list", "reprice", "hold", "delist"];

/// The metrics the brief of the dashboards lists; the names parsed from the hub's telemetry
/// module must include them (so a parsing slip cannot empty the allowed set).
const DOCUMENTED_METRICS: [&str; 10] = [
    "hub_component_received_events_total",
    "hub_component_sent_events_total",
    "hub_component_errors_total",
    "hub_quarantined_records_total",
    "hub_scores_emitted_total",
    "hub_state_references",
    "hub_consumer_lag",
    "hub_sink_batch_size",
    "hub_sink_insert_duration_seconds",
    "hub_signal_to_score_latency_seconds",
];

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn now_ms() -> i64 {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis();
    // Whole seconds: `$__timeFilter` compares with second precision.
    i64::try_from(millis).expect("millis fit i64") / 1000 * 1000
}

// ------------------------------------------------------------------------------------------
// Fixture: realistic products, score histories and quarantined records.
// ------------------------------------------------------------------------------------------

struct Catalogue {
    title: &'static str,
    brand: &'static str,
    category: Category,
    vat_rate: Decimal,
    price_incl_vat: Decimal,
    /// None: no supplier price yet, so no margin can be computed.
    cost_excl_vat: Option<Decimal>,
    deee_incl_vat: Option<Decimal>,
    private_copy_incl_vat: Option<Decimal>,
    weight_g: i32,
}

fn catalogue() -> Vec<Catalogue> {
    use Category::*;
    let item = |title,
                brand,
                category,
                price,
                cost,
                deee: Option<Decimal>,
                private_copy: Option<Decimal>,
                weight_g| Catalogue {
        title,
        brand,
        category,
        vat_rate: if category == Books {
            dec!(0.055)
        } else {
            dec!(0.20)
        },
        price_incl_vat: price,
        cost_excl_vat: cost,
        deee_incl_vat: deee,
        private_copy_incl_vat: private_copy,
        weight_g,
    };
    vec![
        item(
            "Lenovo IdeaPad Slim 3 15IAN8 15,6\" i3 8 Go 512 Go",
            "Lenovo",
            Computers,
            dec!(549.99),
            Some(dec!(371.00)),
            Some(dec!(0.42)),
            None,
            1_620,
        ),
        item(
            "HP 15-fd0000 15,6\" i5 16 Go 512 Go",
            "HP",
            Computers,
            dec!(699.00),
            Some(dec!(512.00)),
            Some(dec!(0.42)),
            None,
            1_590,
        ),
        item(
            "LG OLED55C4 55\" 4K OLED",
            "LG",
            Tv,
            dec!(1299.00),
            Some(dec!(901.00)),
            Some(dec!(8.00)),
            None,
            18_900,
        ),
        item(
            "Samsung TU43CU7105 43\" 4K LED",
            "Samsung",
            Tv,
            dec!(349.99),
            Some(dec!(236.00)),
            Some(dec!(6.00)),
            None,
            8_100,
        ),
        item(
            "Samsung Galaxy A55 5G 128 Go",
            "Samsung",
            Phones,
            dec!(449.00),
            Some(dec!(301.00)),
            Some(dec!(0.10)),
            Some(dec!(14.00)),
            213,
        ),
        item(
            "Xiaomi Redmi Note 13 256 Go",
            "Xiaomi",
            Phones,
            dec!(249.99),
            Some(dec!(176.00)),
            Some(dec!(0.10)),
            Some(dec!(14.00)),
            188,
        ),
        item(
            "Sony WH-1000XM5 casque sans fil",
            "Sony",
            ConsumerElectronics,
            dec!(349.00),
            Some(dec!(214.00)),
            Some(dec!(0.10)),
            None,
            250,
        ),
        item(
            "JBL Flip 6 enceinte Bluetooth",
            "JBL",
            ConsumerElectronics,
            dec!(129.99),
            Some(dec!(83.50)),
            Some(dec!(0.10)),
            None,
            550,
        ),
        item(
            "Bosch Série 4 WAN28209FF lave-linge 8 kg",
            "Bosch",
            LargeAppliances,
            dec!(549.00),
            Some(dec!(330.00)),
            Some(dec!(10.00)),
            None,
            71_000,
        ),
        item(
            "Samsung RB34C600ESA réfrigérateur combiné",
            "Samsung",
            LargeAppliances,
            dec!(699.00),
            Some(dec!(531.00)),
            Some(dec!(13.00)),
            None,
            68_000,
        ),
        item(
            "Moulinex Easy Fry Max friteuse sans huile",
            "Moulinex",
            SmallAppliances,
            dec!(89.99),
            Some(dec!(49.00)),
            Some(dec!(1.00)),
            None,
            4_100,
        ),
        item(
            "Philips Série 3200 EP3241/50 expresso broyeur",
            "Philips",
            SmallAppliances,
            dec!(399.99),
            Some(dec!(291.00)),
            Some(dec!(1.00)),
            None,
            8_000,
        ),
        item(
            "Nintendo Switch OLED",
            "Nintendo",
            VideoGameConsoles,
            dec!(319.99),
            Some(dec!(247.00)),
            Some(dec!(0.42)),
            None,
            420,
        ),
        item(
            "PlayStation 5 Slim édition standard",
            "Sony",
            VideoGameConsoles,
            dec!(549.99),
            Some(dec!(415.00)),
            Some(dec!(0.42)),
            None,
            3_200,
        ),
        item(
            "EA Sports FC 25 PS5",
            "Electronic Arts",
            VideoGames,
            dec!(69.99),
            Some(dec!(41.00)),
            None,
            None,
            90,
        ),
        item(
            "Astérix Tome 40 L'Iris blanc",
            "Éditions Albert René",
            Books,
            dec!(10.95),
            Some(dec!(5.40)),
            None,
            None,
            390,
        ),
        item(
            "Anker PowerCore 20000 mAh",
            "Anker",
            Accessories,
            dec!(49.99),
            Some(dec!(21.00)),
            Some(dec!(0.02)),
            None,
            356,
        ),
        item(
            "Bosch Professional GSR 18V-55 perceuse-visseuse",
            "Bosch",
            Diy,
            dec!(189.00),
            Some(dec!(122.00)),
            Some(dec!(0.25)),
            None,
            1_100,
        ),
        item(
            "Kave Home chaise Nina",
            "Kave Home",
            Furniture,
            dec!(129.00),
            Some(dec!(58.00)),
            None,
            None,
            5_400,
        ),
        item(
            "Trust Primo clavier filaire",
            "Trust",
            Other,
            dec!(14.99),
            None,
            Some(dec!(0.02)),
            None,
            520,
        ),
    ]
}

/// A valid GTIN-13 for catalogue entry `index` (GS1 France prefix 376).
fn gtin(index: usize) -> String {
    let payload = format!("376012345{index:03}");
    let digits: Vec<u8> = payload.bytes().map(|b| b - b'0').collect();
    format!("{payload}{}", check_digit(&digits))
}

/// Deterministic value in [0, 1) for (reference, channel, version, salt).
fn spread(index: usize, channel: usize, version: i64, salt: u64) -> Decimal {
    let mut x = (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (channel as u64 + 1).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ (version as u64 + 1).wrapping_mul(0x1656_67B1_9E37_79F9)
        ^ salt.wrapping_mul(0x27D4_EB2F_1656_67C5);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    Decimal::from(x % 1000) / dec!(1000)
}

fn clamp01(value: Decimal) -> Decimal {
    value.max(Decimal::ZERO).min(Decimal::ONE)
}

fn high_tech(category: Category) -> bool {
    matches!(
        category,
        Category::Computers | Category::Tv | Category::Phones | Category::VideoGameConsoles
    )
}

fn bulky(category: Category) -> bool {
    matches!(
        category,
        Category::Tv | Category::LargeAppliances | Category::Furniture
    )
}

struct ChannelTerms {
    price_factor: Decimal,
    commission_rate: Decimal,
    commission_rate_high_tech: Decimal,
    fee_schedule_version: &'static str,
}

fn terms(channel: Channel) -> ChannelTerms {
    match channel {
        Channel::Amazon => ChannelTerms {
            price_factor: dec!(1.00),
            commission_rate: dec!(0.15),
            commission_rate_high_tech: dec!(0.07),
            fee_schedule_version: "amazon-fr-2025-02",
        },
        Channel::Cdiscount => ChannelTerms {
            price_factor: dec!(0.97),
            commission_rate: dec!(0.12),
            commission_rate_high_tech: dec!(0.06),
            fee_schedule_version: "cdiscount-2025-01",
        },
        Channel::FnacDarty => ChannelTerms {
            price_factor: dec!(1.02),
            commission_rate: dec!(0.13),
            commission_rate_high_tech: dec!(0.08),
            fee_schedule_version: "fnac-darty-2025-01",
        },
        Channel::Mirakl => ChannelTerms {
            price_factor: dec!(0.99),
            commission_rate: dec!(0.10),
            commission_rate_high_tech: dec!(0.10),
            fee_schedule_version: "mirakl-2025-03",
        },
    }
}

const TARGET_MARGIN_RATE: Decimal = dec!(0.10);
const WEIGHTS: [(&str, Decimal); 7] = [
    ("margin_potential", dec!(0.30)),
    ("price_competitiveness", dec!(0.20)),
    ("market_attractiveness", dec!(0.15)),
    ("availability", dec!(0.10)),
    ("channel_cost_share", dec!(0.10)),
    ("operational_cost_share", dec!(0.05)),
    ("data_freshness", dec!(0.10)),
];

fn factor(
    name: &'static str,
    weight: Decimal,
    raw: Option<Decimal>,
    normalised: Decimal,
    explanation: String,
) -> FactorContribution {
    let normalised = clamp01(normalised).round_dp(6);
    FactorContribution {
        name: name.into(),
        raw_value: raw.map(|value| value.round_dp(6)),
        normalised,
        weight,
        contribution: (normalised * weight * dec!(100)).round_dp(4),
        explanation,
    }
}

/// One score of catalogue entry `index` on `channel`, version `version` (1..=4), computed
/// with consistent margin lines, factors that sum to the score, and the action rules.
fn reference_score(
    index: usize,
    item: &Catalogue,
    channel: Channel,
    version: i64,
    scored_at: i64,
) -> ReferenceScore {
    let channel_index = Channel::ALL
        .iter()
        .position(|c| *c == channel)
        .expect("known channel");
    let terms = terms(channel);
    let price = (item.price_incl_vat
        * terms.price_factor
        * (Decimal::ONE + dec!(0.015) * Decimal::from(version - 2)))
    .round_dp(2);
    let shipping = if channel == Channel::Mirakl && price < dec!(50) {
        dec!(4.99)
    } else {
        Decimal::ZERO
    };
    let levies =
        item.deee_incl_vat.unwrap_or_default() + item.private_copy_incl_vat.unwrap_or_default();
    let vat = Decimal::ONE + item.vat_rate;
    let revenue = ((price + shipping - levies) / vat).round_dp(4);
    let rate = if high_tech(item.category) {
        terms.commission_rate_high_tech
    } else {
        terms.commission_rate
    };
    let commission = ((price + shipping) / vat * rate).round_dp(4);
    let digital_services_fee = if channel == Channel::Amazon {
        (commission * dec!(0.03)).round_dp(4)
    } else {
        Decimal::ZERO
    };
    let (fulfilment_method, fulfilment_fee) = match (channel, bulky(item.category)) {
        (Channel::Amazon, false) => (
            "fba",
            if item.weight_g > 1_000 {
                dec!(6.9000)
            } else {
                dec!(4.1200)
            },
        ),
        _ => ("merchant", Decimal::ZERO),
    };
    let subscription = if channel == Channel::Amazon {
        dec!(0.0339)
    } else {
        Decimal::ZERO
    };
    let operational = if bulky(item.category) {
        dec!(25.0000)
    } else if item.weight_g > 1_000 {
        dec!(6.5000)
    } else {
        dec!(1.5000)
    };
    let channel_costs = commission + digital_services_fee + fulfilment_fee + subscription;
    let margin = item.cost_excl_vat.map(|cost| {
        let net = revenue - channel_costs - operational - cost;
        MarginBreakdown {
            currency: "EUR".into(),
            price_incl_vat: price,
            shipping_incl_vat: shipping,
            levies_incl_vat: levies,
            revenue_excl_vat: revenue,
            commission_excl_vat: commission,
            digital_services_fee_excl_vat: digital_services_fee,
            fulfilment_method: fulfilment_method.into(),
            fulfilment_fee_excl_vat: fulfilment_fee,
            subscription_per_unit_excl_vat: subscription,
            operational_cost_excl_vat: operational,
            product_cost_excl_vat: cost,
            product_cost_source: format!("supplier:sup-{:02}", index % 4 + 1),
            net_margin_excl_vat: net,
            margin_rate: (net / revenue).round_dp(6),
            roi: (net / cost).round_dp(6),
        }
    });

    let competitor =
        (price * (dec!(0.94) + dec!(0.12) * spread(index, channel_index, version, 1))).round_dp(2);
    let price_gap = price / competitor - Decimal::ONE;
    let sales_rank = dec!(200) + (spread(index, channel_index, version, 2) * dec!(40000)).trunc();
    let stock_units = (spread(index, channel_index, version, 3) * dec!(120)).trunc();
    let in_stock = !(index * 7 + version as usize).is_multiple_of(5);
    let stock_units = if in_stock {
        stock_units.max(Decimal::ONE)
    } else {
        Decimal::ZERO
    };
    let freshness_hours = Decimal::from(2 + (index + channel_index) as i64 % 30);
    let margin_rate = margin.as_ref().map(|m| m.margin_rate);
    let factors = vec![
        factor(
            WEIGHTS[0].0,
            WEIGHTS[0].1,
            margin_rate,
            margin_rate.map_or(Decimal::ZERO, |r| (r + dec!(0.05)) / dec!(0.35)),
            match margin_rate {
                Some(r) => format!("net margin rate {r} mapped from [-0.05, 0.30] to [0, 1]"),
                None => "margin unknown (missing product_cost): scores 0".into(),
            },
        ),
        factor(
            WEIGHTS[1].0,
            WEIGHTS[1].1,
            Some(price_gap),
            dec!(0.5) - price_gap * dec!(5),
            format!("our price {price} vs lowest landed competitor price {competitor}"),
        ),
        factor(
            WEIGHTS[2].0,
            WEIGHTS[2].1,
            Some(sales_rank),
            Decimal::ONE - sales_rank / dec!(50000),
            format!("sales rank {sales_rank} in the marketplace category"),
        ),
        factor(
            WEIGHTS[3].0,
            WEIGHTS[3].1,
            Some(stock_units),
            stock_units / dec!(50),
            format!("{stock_units} units available (50 or more scores 1)"),
        ),
        factor(
            WEIGHTS[4].0,
            WEIGHTS[4].1,
            Some(channel_costs / revenue),
            Decimal::ONE - channel_costs / revenue / dec!(0.30),
            format!("channel fees {channel_costs} on revenue {revenue}"),
        ),
        factor(
            WEIGHTS[5].0,
            WEIGHTS[5].1,
            Some(operational / revenue),
            Decimal::ONE - operational / revenue / dec!(0.10),
            format!("operational cost {operational} on revenue {revenue}"),
        ),
        factor(
            WEIGHTS[6].0,
            WEIGHTS[6].1,
            Some(freshness_hours),
            Decimal::ONE - freshness_hours / dec!(48),
            format!("oldest input observed {freshness_hours} h before scoring"),
        ),
    ];
    let score: Decimal = factors.iter().map(|f| f.contribution).sum();

    let at_price = format!("at {price} EUR");
    let listed = !(index + channel_index + version as usize).is_multiple_of(3);
    let (action, action_rule, target_price) = match &margin {
        None => (
            "hold",
            "margin unknown (missing product_cost)".to_owned(),
            None,
        ),
        Some(m) if m.net_margin_excl_vat < Decimal::ZERO => (
            "delist",
            format!(
                "net margin {} < 0 after all costs {at_price}",
                m.net_margin_excl_vat
            ),
            None,
        ),
        Some(m) if m.margin_rate < TARGET_MARGIN_RATE => {
            let target = (price
                * (Decimal::ONE + (TARGET_MARGIN_RATE - m.margin_rate) * dec!(1.3)))
            .round_dp(2);
            (
                "reprice",
                format!(
                    "net margin rate {} < target {TARGET_MARGIN_RATE} while not owning the buy box {at_price}; lowest price at target margin {target}",
                    m.margin_rate
                ),
                Some(target),
            )
        }
        Some(m) if listed => (
            "hold",
            format!(
                "listed, owning the buy box, net margin rate {} >= target {TARGET_MARGIN_RATE} {at_price}",
                m.margin_rate
            ),
            None,
        ),
        Some(m) if in_stock => (
            "list",
            format!(
                "not listed, {stock_units} units in stock, net margin rate {} >= target {TARGET_MARGIN_RATE} {at_price}",
                m.margin_rate
            ),
            None,
        ),
        Some(m) => (
            "source",
            format!(
                "not in stock, net margin rate {} >= target {TARGET_MARGIN_RATE} {at_price}",
                m.margin_rate
            ),
            None,
        ),
    };
    let missing_inputs: Vec<Label> = if margin.is_none() {
        vec!["product_cost".into()]
    } else {
        vec![]
    };
    let confidence = Decimal::ONE - dec!(0.125) * Decimal::from(missing_inputs.len());
    ReferenceScore {
        gtin: gtin(index),
        channel: channel.key().into(),
        version,
        score,
        confidence,
        factors,
        missing_inputs,
        margin,
        action: action.into(),
        action_rule,
        target_price_incl_vat: target_price,
        weights_profile: "default".into(),
        weights_version: "2025-03".into(),
        fee_schedule_version: terms.fee_schedule_version.into(),
        offer_observed_at: Some(scored_at - 5 * MINUTE_MS),
        stock_observed_at: Some(scored_at - 2 * HOUR_MS),
        cost_observed_at: item.cost_excl_vat.map(|_| scored_at - DAY_MS),
        scored_at,
    }
}

/// The channels a catalogue entry is sold on: three of the four, so every channel is used.
fn channels_of(index: usize) -> Vec<Channel> {
    Channel::ALL
        .iter()
        .copied()
        .enumerate()
        .filter(|(position, _)| *position != index % Channel::ALL.len())
        .map(|(_, channel)| channel)
        .collect()
}

/// Days before now of score versions 1..=4.
const VERSION_AGE_DAYS: [i64; 4] = [9, 6, 3, 1];

struct Fixture {
    now: i64,
    products: Vec<ProductReference>,
    scores: Vec<ReferenceScore>,
    /// Version 4 of the first reference's first channel, consumed twice (a redelivery).
    redelivered: ReferenceScore,
    quarantined: Vec<hub_schemas::records::QuarantinedRecord>,
}

impl Fixture {
    fn build(now: i64) -> Fixture {
        let catalogue = catalogue();
        let mut products = Vec::new();
        let mut scores = Vec::new();
        for (index, item) in catalogue.iter().enumerate() {
            let mut levies = Vec::new();
            if let Some(amount) = item.deee_incl_vat {
                levies.push(Levy {
                    kind: LevyKind::DeeeEcoParticipation,
                    amount_incl_vat: amount,
                });
            }
            if let Some(amount) = item.private_copy_incl_vat {
                levies.push(Levy {
                    kind: LevyKind::PrivateCopy,
                    amount_incl_vat: amount,
                });
            }
            products.push(ProductReference {
                gtin: gtin(index),
                sku: format!("SKU-{:05}", 10_000 + index * 37),
                title: item.title.into(),
                brand: Some(item.brand.into()),
                category: item.category.key().into(),
                vat_rate: item.vat_rate,
                weight_g: Some(item.weight_g),
                length_mm: None,
                width_mm: None,
                height_mm: None,
                levies,
                source: "odoo.product.product".into(),
                updated_at: now - 30 * DAY_MS + index as i64 * MINUTE_MS,
                active: true,
            });
            for (channel_position, channel) in channels_of(index).into_iter().enumerate() {
                for (version_index, age_days) in VERSION_AGE_DAYS.iter().enumerate() {
                    let scored_at =
                        now - age_days * DAY_MS + (index * 3 + channel_position) as i64 * MINUTE_MS;
                    scores.push(reference_score(
                        index,
                        item,
                        channel,
                        version_index as i64 + 1,
                        scored_at,
                    ));
                }
            }
        }
        let redelivered = scores
            .iter()
            .find(|s| s.gtin == gtin(0) && s.version == 4)
            .expect("first reference has a version 4")
            .clone();

        let quarantine_cases: [(ReasonCode, &str, RecordType, &str); 7] = [
            (
                ReasonCode::InvalidGtin,
                "hub.signals.offers",
                RecordType::OfferSignal,
                "gtin 3760123450014: check digit 4, expected 7",
            ),
            (
                ReasonCode::NonPositivePrice,
                "hub.signals.offers",
                RecordType::OfferSignal,
                "our_price_incl_vat 0.00 on cdiscount: a price must be > 0",
            ),
            (
                ReasonCode::PriceJump,
                "hub.signals.offers",
                RecordType::OfferSignal,
                "our_price_incl_vat 3.49 vs 349.00 last accepted on amazon (x0.01)",
            ),
            (
                ReasonCode::NegativeStock,
                "hub.signals.stock",
                RecordType::StockSignal,
                "quantity -3 at warehouse FR-LYS-01: stock cannot be negative",
            ),
            (
                ReasonCode::CostOutsideValidity,
                "hub.signals.costs",
                RecordType::CostSignal,
                "observed_at after valid_to of the supplier price list sup-02",
            ),
            (
                ReasonCode::UnknownCategory,
                "hub.reference.products",
                RecordType::ProductReference,
                "category \"garden\" is not a hub category",
            ),
            (
                ReasonCode::ObservationTooOld,
                "hub.signals.offers",
                RecordType::OfferSignal,
                "observed 9 days ago, older than the 7-day limit",
            ),
        ];
        let mut quarantined = Vec::new();
        for n in 0..42_usize {
            let (reason, topic, record_type, detail) =
                quarantine_cases[(n * n + n / 3) % quarantine_cases.len()];
            let key = gtin(n % 20);
            quarantined.push(Quarantine::new(reason, detail).into_record(
                format!("\u{0}\u{2}avro-bytes-{n}").into_bytes(),
                (reason != ReasonCode::InvalidGtin).then(|| key.clone()),
                Provenance::from_topic(
                    topic,
                    record_type,
                    (n % 3) as i32,
                    1_000 + n as i64,
                    Some(key.into_bytes()),
                ),
                now - (n as i64 * 5 + 1) * HOUR_MS,
            ));
        }
        Fixture {
            now,
            products,
            scores,
            redelivered,
            quarantined,
        }
    }

    /// The latest version per (gtin, channel): what `scores_current FINAL` holds.
    fn current(&self) -> Vec<&ReferenceScore> {
        let mut latest: BTreeMap<(&str, &str), &ReferenceScore> = BTreeMap::new();
        for score in &self.scores {
            let slot = latest
                .entry((score.gtin.as_str(), &*score.channel))
                .or_insert(score);
            if score.version > slot.version {
                *slot = score;
            }
        }
        latest.into_values().collect()
    }

    fn category_of(&self, gtin: &str) -> &str {
        &self
            .products
            .iter()
            .find(|p| p.gtin == gtin)
            .expect("product of a score")
            .category
    }
}

#[test]
fn the_fixture_is_realistic_and_covers_every_value_the_filters_offer() {
    let fixture = Fixture::build(now_ms());
    assert_eq!(fixture.products.len(), 20);
    assert_eq!(fixture.scores.len(), 20 * 3 * 4);
    let current = fixture.current();
    let actions: BTreeSet<&str> = current.iter().map(|s| &*s.action).collect();
    assert_eq!(
        actions,
        ACTIONS.into_iter().collect(),
        "every action is recommended somewhere"
    );
    let channels: BTreeSet<&str> = current.iter().map(|s| &*s.channel).collect();
    assert_eq!(channels, Channel::ALL.iter().map(|c| c.key()).collect());
    let categories: BTreeSet<&str> = fixture
        .products
        .iter()
        .map(|p| p.category.as_str())
        .collect();
    assert_eq!(categories, Category::ALL.iter().map(|c| c.key()).collect());
    for score in &fixture.scores {
        let sum: Decimal = score.factors.iter().map(|f| f.contribution).sum();
        assert_eq!(
            sum, score.score,
            "factors explain the score of {} {}",
            score.gtin, score.channel
        );
        if let Some(m) = &score.margin {
            let costs = m.commission_excl_vat
                + m.digital_services_fee_excl_vat
                + m.fulfilment_fee_excl_vat
                + m.subscription_per_unit_excl_vat
                + m.operational_cost_excl_vat
                + m.product_cost_excl_vat;
            assert_eq!(
                m.revenue_excl_vat - costs,
                m.net_margin_excl_vat,
                "margin lines add up"
            );
        }
    }
    let reasons: BTreeSet<&str> = fixture
        .quarantined
        .iter()
        .map(|q| q.reason_code.as_str())
        .collect();
    assert!(
        reasons.len() >= 5,
        "several quarantine reasons: {reasons:?}"
    );
}

// ------------------------------------------------------------------------------------------
// ClickHouse: a migrated database of its own, loaded through the sink's row types.
// ------------------------------------------------------------------------------------------

struct Database {
    url: String,
    name: String,
    http: reqwest::Client,
}

impl Database {
    async fn create_and_load(fixture: &Fixture) -> Database {
        let url = clickhouse_url();
        let http = reqwest::Client::new();
        let ping = http.get(format!("{url}/ping")).send().await;
        assert!(
            matches!(&ping, Ok(response) if response.status().is_success()),
            "ClickHouse does not answer on {url} ({ping:?}): run `scripts/services up`"
        );
        let name = unique_name("hub_dashboards");
        let client = ConnectionConfig {
            url: url.clone(),
            user: None,
            password: None,
            database: name.clone(),
        }
        .client();
        migrate(&client, &name)
            .await
            .expect("migrations apply on a fresh database");

        let products = fixture
            .products
            .iter()
            .enumerate()
            .map(|(offset, product)| {
                ProductRow::try_from(Sourced::new(
                    product.clone(),
                    position("hub.reference.products", 0, offset as i64),
                ))
                .expect("product fits its columns")
            })
            .collect();
        store(&client, products).await;
        let scores = fixture
            .scores
            .iter()
            .enumerate()
            .map(|(offset, score)| {
                ScoreRow::try_from(Sourced::new(
                    score.clone(),
                    position("hub.scores.history", (offset % 3) as i32, offset as i64),
                ))
                .expect("score fits its columns")
            })
            .collect();
        store(&client, scores).await;
        // The same message consumed again after a restart, at a later offset: a second row of
        // the same (gtin, channel, version) in the history.
        let redelivered = ScoreRow::try_from(Sourced::new(
            fixture.redelivered.clone(),
            position("hub.scores.history", 0, fixture.scores.len() as i64 + 7),
        ))
        .expect("score fits its columns");
        store(&client, vec![redelivered]).await;
        let quarantined = fixture
            .quarantined
            .iter()
            .enumerate()
            .map(|(offset, record)| {
                QuarantineRow::from(Sourced::new(
                    record.clone(),
                    position("hub.quarantine", 0, offset as i64),
                ))
            })
            .collect();
        store(&client, quarantined).await;
        Database { url, name, http }
    }

    /// Runs one read-only query; `params` are ClickHouse query parameters (`{name:Type}`).
    async fn query(&self, sql: &str, params: &[(String, String)]) -> Result<QueryResult, String> {
        let mut form: Vec<(String, String)> = vec![
            ("database".into(), self.name.clone()),
            ("default_format".into(), "JSONCompact".into()),
            ("readonly".into(), "1".into()),
            ("output_format_json_quote_64bit_integers".into(), "0".into()),
        ];
        form.extend(
            params
                .iter()
                .map(|(name, value)| (format!("param_{name}"), value.clone())),
        );
        let response = self
            .http
            .post(format!("{}/", self.url))
            .query(&form)
            .body(sql.to_owned())
            .send()
            .await
            .map_err(|error| format!("request failed: {error}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|error| format!("body unreadable: {error}"))?;
        if !status.is_success() {
            return Err(format!("HTTP {status}: {body}"));
        }
        let parsed: Value = serde_json::from_str(&body)
            .map_err(|error| format!("not JSONCompact ({error}): {body}"))?;
        let columns = parsed["meta"]
            .as_array()
            .ok_or("no meta")?
            .iter()
            .map(|column| {
                (
                    column["name"].as_str().unwrap_or_default().to_owned(),
                    column["type"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let rows = parsed["data"]
            .as_array()
            .ok_or("no data")?
            .iter()
            .map(|row| row.as_array().cloned().unwrap_or_default())
            .collect();
        Ok(QueryResult { columns, rows })
    }

    async fn drop(self) {
        self.http
            .post(format!("{}/", self.url))
            .body(format!("DROP DATABASE IF EXISTS {}", self.name))
            .send()
            .await
            .and_then(|response| response.error_for_status())
            .expect("test database dropped");
    }
}

fn position(topic: &str, partition: i32, offset: i64) -> KafkaPosition {
    KafkaPosition {
        topic: topic.into(),
        partition,
        offset,
    }
}

async fn store<R: SinkRow>(client: &clickhouse::Client, rows: Vec<R>) {
    let mut writer = BatchWriter::<R>::new(
        client.clone(),
        WriterConfig {
            max_rows: 100_000,
            max_delay: Duration::from_secs(60),
            retry: RetryPolicy {
                initial_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(50),
                max_attempts: 1,
            },
        },
    );
    for row in rows {
        writer.write(row).await.expect("row buffered");
    }
    writer
        .flush()
        .await
        .expect("batch stored")
        .expect("batch was not empty");
}

struct QueryResult {
    /// (name, ClickHouse type)
    columns: Vec<(String, String)>,
    rows: Vec<Vec<Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Time,
    Number,
    Text,
    Other,
}

/// How Grafana sees a ClickHouse column type.
fn kind(clickhouse_type: &str) -> Kind {
    let mut t = clickhouse_type.trim();
    loop {
        let unwrapped = ["Nullable(", "LowCardinality("].iter().find_map(|wrapper| {
            t.strip_prefix(wrapper)
                .and_then(|inner| inner.strip_suffix(')'))
        });
        match unwrapped {
            Some(inner) => t = inner.trim(),
            None => break,
        }
    }
    if t.starts_with("DateTime") || t == "Date" || t == "Date32" {
        Kind::Time
    } else if ["Int", "UInt", "Float", "Decimal"]
        .iter()
        .any(|p| t.starts_with(p))
    {
        Kind::Number
    } else if t == "String" || t.starts_with("FixedString") || t.starts_with("Enum") || t == "UUID"
    {
        Kind::Text
    } else {
        Kind::Other
    }
}

#[test]
fn column_kinds_follow_the_clickhouse_types() {
    assert_eq!(kind("DateTime('UTC')"), Kind::Time);
    assert_eq!(kind("DateTime64(3, 'UTC')"), Kind::Time);
    assert_eq!(kind("Nullable(Decimal(18, 4))"), Kind::Number);
    assert_eq!(kind("UInt64"), Kind::Number);
    assert_eq!(kind("LowCardinality(Nullable(String))"), Kind::Text);
    assert_eq!(kind("Array(String)"), Kind::Other);
    assert_eq!(kind("Tuple(Decimal(9, 4), String)"), Kind::Other);
}

// ------------------------------------------------------------------------------------------
// Grafana + grafana-clickhouse-datasource expansion.
// ------------------------------------------------------------------------------------------

/// A variable's selection in one scenario.
#[derive(Debug, Clone)]
enum Selection {
    /// "All" of a multi-value variable with `includeAll` and no custom all value.
    All,
    /// A list of values (Grafana keeps a multi-value variable's selection as a list, even of one).
    Many(Vec<String>),
    /// A single string value (textbox, single-value custom, or a one-value URL parameter).
    One(String),
}

#[derive(Debug)]
struct Variable {
    name: String,
    kind: String,
    multi: bool,
    include_all: bool,
    all_value: Option<String>,
    /// Values offered (custom variables), without the All option.
    values: Vec<String>,
}

fn variables_of(dashboard: &Value) -> Vec<Variable> {
    dashboard["templating"]["list"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|v| {
                    let kind = v["type"].as_str().unwrap_or_default().to_owned();
                    let values = if kind == "custom" {
                        custom_values(v["query"].as_str().unwrap_or_default())
                    } else {
                        Vec::new()
                    };
                    Variable {
                        name: v["name"].as_str().expect("variable has a name").to_owned(),
                        kind,
                        multi: v["multi"].as_bool().unwrap_or(false),
                        include_all: v["includeAll"].as_bool().unwrap_or(false),
                        all_value: v["allValue"]
                            .as_str()
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned),
                        values,
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The values of a custom variable's query, as Grafana splits it: comma-separated (a `\,` is a
/// literal comma), each `text : value` or a bare value.
fn custom_values(query: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                current.push(',');
                chars.next();
            }
            ',' => items.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    items.push(current);
    items
        .into_iter()
        .map(|item| match item.split_once(" : ") {
            Some((_, value)) => value.trim().to_owned(),
            None => item.trim().to_owned(),
        })
        .filter(|value| !value.is_empty())
        .collect()
}

struct Scenario {
    name: &'static str,
    selections: BTreeMap<String, Selection>,
}

struct TimeRange {
    from_ms: i64,
    to_ms: i64,
    interval_seconds: i64,
}

/// The arguments of the macro call whose `(` is at `open`, split on top-level commas, and
/// the index just past its `)`: the plugin's `getMacroArgs` (no quote handling, like it).
fn macro_arguments(sql: &str, open: usize) -> Result<(Vec<String>, usize), String> {
    let bytes = sql.as_bytes();
    let mut depth = 0_i32;
    let mut start = open + 1;
    let mut arguments = Vec::new();
    for (index, &byte) in bytes.iter().enumerate().skip(open) {
        match byte {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    arguments.push(sql[start..index].to_owned());
                    return Ok((arguments, index + 1));
                }
            }
            b',' if depth == 1 => {
                arguments.push(sql[start..index].to_owned());
                start = index + 1;
            }
            _ => {}
        }
    }
    Err(format!("unbalanced parentheses after {:?}", &sql[..open]))
}

/// The plugin's `applyConditionalAll`: `$__conditionalAll(condition, $var)` becomes `1=1` when
/// `$var` is All (or empty), the condition otherwise. Innermost-last, like the plugin.
fn apply_conditional_all(mut sql: String, scenario: &Scenario) -> Result<String, String> {
    const MACRO: &str = "$__conditionalAll(";
    while let Some(at) = sql.rfind(MACRO) {
        let (arguments, end) = macro_arguments(&sql, at + MACRO.len() - 1)?;
        if arguments.len() != 2 {
            return Err(format!(
                "$__conditionalAll needs 2 arguments, got {arguments:?}"
            ));
        }
        // The plugin's regex: the name in `${name}` (nothing else inside the braces) or `$name`.
        let reference = arguments[1].trim();
        let name = reference
            .strip_prefix("${")
            .and_then(|rest| rest.strip_suffix('}'))
            .filter(|inner| inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .or_else(|| reference.strip_prefix('$').filter(|inner| inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')))
            .ok_or_else(|| {
                format!("$__conditionalAll's second argument {reference:?} must be `$name` or `${{name}}`: the plugin ignores anything else and never drops the condition")
            })?;
        let selection = scenario
            .selections
            .get(name)
            .ok_or_else(|| format!("$__conditionalAll names unknown variable {name}"))?;
        let is_all = match selection {
            Selection::All => true,
            Selection::Many(values) => values.join(",").is_empty(),
            Selection::One(value) => value.is_empty(),
        };
        let phrase = if is_all {
            "1=1".to_owned()
        } else {
            arguments[0].clone()
        };
        sql.replace_range(at..end, &phrase);
    }
    Ok(sql)
}

/// Grafana's value for a selection: All expands to every option (no custom all value here).
fn selected_values(variable: &Variable, selection: &Selection) -> Result<Vec<String>, String> {
    match selection {
        Selection::All => {
            if let Some(all_value) = &variable.all_value {
                Ok(vec![all_value.clone()])
            } else if variable.values.is_empty() {
                Err(format!(
                    "variable {} has no options to expand All to",
                    variable.name
                ))
            } else {
                Ok(variable.values.clone())
            }
        }
        Selection::Many(values) => Ok(values.clone()),
        Selection::One(value) => Ok(vec![value.clone()]),
    }
}

/// Formats a variable the way Grafana's template service does for `${name:format}`, or with the
/// ClickHouse plugin's own formatter when no format is given (a list becomes `'a','b'`, a
/// single string is inserted raw).
fn format_variable(
    variable: &Variable,
    selection: &Selection,
    format: Option<&str>,
) -> Result<String, String> {
    let values = selected_values(variable, selection)?;
    let is_list = matches!(selection, Selection::Many(_))
        || (matches!(selection, Selection::All) && variable.all_value.is_none());
    let quoted = |escape: &dyn Fn(&str) -> String| {
        values
            .iter()
            .map(|v| format!("'{}'", escape(v)))
            .collect::<Vec<_>>()
            .join(",")
    };
    match format {
        None if is_list => Ok(format!("'{}'", values.join("','"))),
        None | Some("raw") => Ok(values.join(",")),
        Some("singlequote") => Ok(quoted(&|v| v.replace('\'', "\\'"))),
        Some("sqlstring") => Ok(quoted(&|v| v.replace('\'', "''"))),
        Some("csv") => Ok(values.join(",")),
        Some(other) => Err(format!(
            "format :{other} of ${{{}}} is not emulated by this test: extend format_variable",
            variable.name
        )),
    }
}

/// Grafana's template substitution: `$name`, `${name}`, `${name:format}` of dashboard variables.
/// Names starting with `__` are Grafana globals or plugin macros and are left for later.
fn substitute_variables(
    sql: &str,
    variables: &[Variable],
    scenario: &Scenario,
) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, format, consumed) = if let Some(braced) = after.strip_prefix('{') {
            let close = braced
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {sql}"))?;
            let inner = &braced[..close];
            let (name, format) = match inner.split_once(':') {
                Some((name, format)) => (name, Some(format)),
                None => (inner, None),
            };
            (name, format, close + 2)
        } else {
            let length = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .count();
            (&after[..length], None, length)
        };
        if name.is_empty() || name.starts_with("__") {
            out.push('$');
            rest = after;
            continue;
        }
        let variable = variables
            .iter()
            .find(|v| v.name == name)
            .ok_or_else(|| format!("${name} is not a variable of the dashboard"))?;
        let selection = scenario
            .selections
            .get(name)
            .ok_or_else(|| format!("scenario {} has no value for ${name}", scenario.name))?;
        out.push_str(&format_variable(variable, selection, format)?);
        rest = &after[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The plugin's back-end macros (pkg/macros/macros.go of grafana-clickhouse-datasource v4).
fn apply_backend_macros(sql: &str, range: &TimeRange) -> Result<String, String> {
    let seconds = |ms: i64| ms.div_euclid(1000);
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find("$__") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let length = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .count();
        let name = &after[..length];
        let (arguments, consumed) = if after[length..].starts_with('(') {
            let local = &after[length..];
            let (arguments, end) = macro_arguments(local, 0)?;
            (
                arguments
                    .into_iter()
                    .map(|a| a.trim().to_owned())
                    .collect::<Vec<_>>(),
                length + end,
            )
        } else {
            (Vec::new(), length)
        };
        let one = |arguments: &[String]| -> Result<String, String> {
            match arguments {
                [column] if !column.is_empty() => Ok(column.clone()),
                _ => Err(format!("$__{name} expects 1 argument, got {arguments:?}")),
            }
        };
        let expansion = match name {
            "timeFilter" => {
                let column = one(&arguments)?;
                format!(
                    "{column} >= toDateTime({}) AND {column} <= toDateTime({})",
                    seconds(range.from_ms),
                    seconds(range.to_ms)
                )
            }
            "timeFilter_ms" => {
                let column = one(&arguments)?;
                format!(
                    "{column} >= fromUnixTimestamp64Milli({}) AND {column} <= fromUnixTimestamp64Milli({})",
                    range.from_ms, range.to_ms
                )
            }
            "fromTime" => format!("toDateTime({})", seconds(range.from_ms)),
            "toTime" => format!("toDateTime({})", seconds(range.to_ms)),
            "fromTime_ms" => format!("fromUnixTimestamp64Milli({})", range.from_ms),
            "toTime_ms" => format!("fromUnixTimestamp64Milli({})", range.to_ms),
            "timeInterval" => format!(
                "toStartOfInterval(toDateTime({}), INTERVAL {} second)",
                one(&arguments)?,
                range.interval_seconds.max(1)
            ),
            "timeInterval_ms" => {
                format!(
                    "toStartOfInterval(toDateTime64({}, 3), INTERVAL {} millisecond)",
                    one(&arguments)?,
                    (range.interval_seconds * 1000).max(1)
                )
            }
            "interval_s" => range.interval_seconds.max(1).to_string(),
            other => {
                return Err(format!(
                    "$__{other} is not a macro of the ClickHouse plugin emulated here"
                ));
            }
        };
        out.push_str(&expansion);
        rest = &after[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The full expansion of a ClickHouse panel query, refusing anything left unexpanded.
fn expand_clickhouse_sql(
    raw_sql: &str,
    variables: &[Variable],
    scenario: &Scenario,
    range: &TimeRange,
) -> Result<String, String> {
    let sql = apply_conditional_all(raw_sql.to_owned(), scenario)?;
    let sql = substitute_variables(&sql, variables, scenario)?;
    let sql = apply_backend_macros(&sql, range)?;
    if let Some(at) = sql.find('$') {
        return Err(format!(
            "unexpanded template text at {:?}",
            &sql[at..(at + 40).min(sql.len())]
        ));
    }
    Ok(sql)
}

#[test]
fn expansion_follows_grafana_and_the_plugin() {
    let variables = vec![
        Variable {
            name: "channel".into(),
            kind: "custom".into(),
            multi: true,
            include_all: true,
            all_value: None,
            values: vec!["amazon".into(), "cdiscount".into()],
        },
        Variable {
            name: "gtin".into(),
            kind: "textbox".into(),
            multi: false,
            include_all: false,
            all_value: None,
            values: vec![],
        },
    ];
    let range = TimeRange {
        from_ms: 1_700_000_000_123,
        to_ms: 1_700_086_400_999,
        interval_seconds: 60,
    };
    let scenario = |channel: Selection, gtin: &str| Scenario {
        name: "unit",
        selections: BTreeMap::from([
            ("channel".to_owned(), channel),
            ("gtin".to_owned(), Selection::One(gtin.into())),
        ]),
    };
    let sql = "SELECT $__timeInterval(t) AS time FROM s WHERE $__conditionalAll(c IN (${channel:singlequote}), $channel) AND g = ${gtin:sqlstring} AND $__timeFilter(t) AND c IN ($channel)";
    let all = expand_clickhouse_sql(sql, &variables, &scenario(Selection::All, "37'1"), &range)
        .expect("expands");
    assert_eq!(
        all,
        "SELECT toStartOfInterval(toDateTime(t), INTERVAL 60 second) AS time FROM s WHERE 1=1 AND g = '37''1' AND t >= toDateTime(1700000000) AND t <= toDateTime(1700086400) AND c IN ('amazon','cdiscount')"
    );
    let one = expand_clickhouse_sql(
        sql,
        &variables,
        &scenario(Selection::Many(vec!["o'k".into()]), "1"),
        &range,
    )
    .expect("expands");
    assert!(one.contains("WHERE c IN ('o\\'k') AND g = '1'"), "{one}");
    // A plain string value is inserted raw by the plugin's formatter: only explicit formats quote it.
    let raw = expand_clickhouse_sql(
        "c = $channel",
        &variables,
        &scenario(Selection::One("amazon".into()), "1"),
        &range,
    )
    .expect("expands");
    assert_eq!(raw, "c = amazon");
    // The plugin cannot see the variable in `${channel:singlequote}`: the condition stays.
    let error = expand_clickhouse_sql(
        "$__conditionalAll(c IN (${channel}), ${channel:singlequote})",
        &variables,
        &scenario(Selection::All, "1"),
        &range,
    )
    .expect_err("refused");
    assert!(error.contains("second argument"), "{error}");
    for unexpanded in [
        "SELECT $unknown",
        "SELECT $__timeGroup(t, '1h')",
        "SELECT ${__from}",
    ] {
        let error = expand_clickhouse_sql(
            unexpanded,
            &variables,
            &scenario(Selection::All, "1"),
            &range,
        )
        .expect_err(unexpanded);
        assert!(!error.is_empty());
    }
    assert_eq!(
        custom_values("any : any, ≥ 5 % : 0.05,a\\,b"),
        ["any", "0.05", "a,b"]
    );
}

// ------------------------------------------------------------------------------------------
// Dashboards.
// ------------------------------------------------------------------------------------------

struct Dashboard {
    file: String,
    json: Value,
}

fn dashboards() -> Vec<Dashboard> {
    let directory = repository_root().join("dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboard in {}", directory.display());
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|error| panic!("{}: invalid JSON: {error}", path.display()));
            Dashboard {
                file: path
                    .file_name()
                    .expect("file name")
                    .to_string_lossy()
                    .into_owned(),
                json,
            }
        })
        .collect()
}

/// Every panel, including those nested in (collapsed) rows.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut found = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        found.push(panel);
        for nested in panel["panels"].as_array().into_iter().flatten() {
            found.push(nested);
        }
    }
    found
}

fn datasource_uid(panel: &Value, target: &Value) -> String {
    target["datasource"]["uid"]
        .as_str()
        .or_else(|| panel["datasource"]["uid"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The variable selections each ClickHouse target runs under, chosen from the fixture so that
/// each filter keeps rows: everything at All; one value each (the channel as a plain string,
/// the others as one-element lists); two values each; and a textbox GTIN with spaces around.
fn scenarios(dashboard: &Dashboard, variables: &[Variable], fixture: &Fixture) -> Vec<Scenario> {
    let current = fixture.current();
    // The drill-down reference: a profitable one on three channels.
    let star = current
        .iter()
        .filter(|s| {
            s.margin
                .as_ref()
                .is_some_and(|m| m.margin_rate >= dec!(0.10))
        })
        .max_by_key(|s| s.score)
        .expect("a profitable current score");
    let other = current
        .iter()
        .filter(|s| {
            s.channel != star.channel
                && fixture.category_of(&s.gtin) != fixture.category_of(&star.gtin)
                && s.action != star.action
        })
        .max_by_key(|s| s.score)
        .expect("a second current score on another channel, category and action");
    let minimum_rate = |rate: Decimal| -> Selection {
        let offered = variables
            .iter()
            .find(|v| v.name == "min_margin_rate")
            .map(|v| v.values.clone())
            .unwrap_or_default();
        let best = offered
            .iter()
            .filter_map(|value| {
                value
                    .parse::<Decimal>()
                    .ok()
                    .filter(|threshold| *threshold <= rate)
                    .map(|threshold| (threshold, value))
            })
            .max_by_key(|(threshold, _)| *threshold)
            .map(|(_, value)| value.clone());
        Selection::One(best.unwrap_or_else(|| "any".into()))
    };
    let star_rate = star
        .margin
        .as_ref()
        .map(|m| m.margin_rate)
        .expect("profitable");
    let other_rate = other.margin.as_ref().map_or(dec!(-1), |m| m.margin_rate);

    let mut all = BTreeMap::new();
    let mut single = BTreeMap::new();
    let mut multi = BTreeMap::new();
    for variable in variables {
        let name = variable.name.clone();
        let (a, s, m) = match name.as_str() {
            "channel" => (
                Selection::All,
                Selection::One(star.channel.to_string()),
                Selection::Many(vec![star.channel.to_string(), other.channel.to_string()]),
            ),
            "category" => (
                Selection::All,
                Selection::Many(vec![fixture.category_of(&star.gtin).to_owned()]),
                Selection::Many(vec![
                    fixture.category_of(&star.gtin).to_owned(),
                    fixture.category_of(&other.gtin).to_owned(),
                ]),
            ),
            "action" => (
                Selection::All,
                Selection::Many(vec![star.action.to_string()]),
                Selection::Many(vec![star.action.to_string(), other.action.to_string()]),
            ),
            "min_margin_rate" => (
                Selection::One("any".into()),
                minimum_rate(star_rate),
                minimum_rate(star_rate.min(other_rate)),
            ),
            "gtin" => (
                Selection::One(star.gtin.clone()),
                Selection::One(star.gtin.clone()),
                Selection::One(format!("  {} ", star.gtin)),
            ),
            other => panic!(
                "{}: variable ${other} has no test values: add it to scenarios() in tests/tests/dashboards_sql.rs",
                dashboard.file
            ),
        };
        // Values must be ones the dashboard offers.
        if variable.kind == "custom" {
            for selection in [&a, &s, &m] {
                let values = match selection {
                    Selection::All => continue,
                    Selection::Many(values) => values.clone(),
                    Selection::One(value) => vec![value.clone()],
                };
                for value in values {
                    assert!(
                        variable.values.contains(&value),
                        "{}: ${} does not offer {value:?}",
                        dashboard.file,
                        variable.name
                    );
                }
            }
            assert!(
                variable.multi || matches!(m, Selection::One(_)),
                "{}: ${} is single-valued",
                dashboard.file,
                variable.name
            );
            assert!(
                variable.include_all || !matches!(a, Selection::All),
                "{}: ${} has no All",
                dashboard.file,
                variable.name
            );
        }
        all.insert(name.clone(), a);
        single.insert(name.clone(), s);
        multi.insert(name, m);
    }
    vec![
        Scenario {
            name: "all",
            selections: all,
        },
        Scenario {
            name: "single values",
            selections: single,
        },
        Scenario {
            name: "multi-value lists",
            selections: multi,
        },
    ]
}

/// Expected columns of the tables the analysts rely on, by panel title.
fn expected_table_columns(title: &str) -> Option<&'static [&'static str]> {
    match title {
        "Top priorities" => Some(&[
            "gtin",
            "title",
            "category",
            "channel",
            "score",
            "action",
            "action_rule",
            "net_margin",
            "margin_rate",
            "target_price",
            "confidence",
            "versions",
            "scored_at",
        ]),
        "Best channel per reference" => Some(&[
            "gtin",
            "title",
            "category",
            "best_channel",
            "best_score",
            "action",
            "net_margin",
            "margin_rate",
            "ranking",
        ]),
        "Latest quarantined records" => Some(&[
            "observed_at",
            "reason_code",
            "source",
            "record_type",
            "gtin",
            "detail",
            "original_topic",
            "original_partition",
            "original_offset",
            "raw_bytes",
        ]),
        _ => None,
    }
}

/// Checks that a result fits the panel's visualisation; returns what is wrong.
fn check_shape(
    panel: &Value,
    target: &Value,
    result: &QueryResult,
    scenario: &Scenario,
) -> Vec<String> {
    let mut problems = Vec::new();
    let kinds: Vec<(String, Kind, String)> = result
        .columns
        .iter()
        .map(|(n, t)| (n.clone(), kind(t), t.clone()))
        .collect();
    let panel_type = panel["type"].as_str().unwrap_or_default();
    let format = target["format"].as_i64();
    let query_type = target["queryType"].as_str();
    if result.rows.is_empty() {
        problems.push("returned no row".into());
    }
    let numbers = kinds.iter().filter(|(_, k, _)| *k == Kind::Number).count();
    match panel_type {
        "timeseries" => {
            if format != Some(0) || query_type != Some("timeseries") {
                problems.push(format!("a time series target needs format 0 and queryType \"timeseries\", has {format:?} {query_type:?}"));
            }
            match kinds.first() {
                Some((_, Kind::Time, _)) => {}
                other => problems.push(format!("first column must be a DateTime, is {other:?}")),
            }
            if numbers == 0 {
                problems.push("no numeric column".into());
            }
            for (name, k, t) in kinds.iter().skip(1) {
                if !matches!(k, Kind::Number | Kind::Text) {
                    problems.push(format!(
                        "column {name} ({t}) is neither a value nor a label"
                    ));
                }
            }
            // The plugin turns long results into series only when they are sorted by time.
            let times: Vec<String> = result
                .rows
                .iter()
                .map(|row| row.first().map(|v| v.to_string()).unwrap_or_default())
                .collect();
            if times.windows(2).any(|pair| pair[0] > pair[1]) {
                problems.push("rows are not sorted by time".into());
            }
        }
        "barchart" => {
            if format != Some(1) {
                problems.push(format!(
                    "a bar chart target needs table format 1, has {format:?}"
                ));
            }
            let x_field = panel["options"]["xField"].as_str();
            match kinds.first() {
                Some((name, Kind::Text, _)) if x_field.is_none_or(|x| x == name) => {}
                other => problems.push(format!(
                    "first column must be the text x field {x_field:?}, is {other:?}"
                )),
            }
            if numbers == 0 || kinds.iter().skip(1).any(|(_, k, _)| *k != Kind::Number) {
                problems.push(format!(
                    "every column after the x field must be numeric: {kinds:?}"
                ));
            }
        }
        "stat" | "gauge" | "bargauge" => {
            if format != Some(1) {
                problems.push(format!(
                    "a {panel_type} target needs table format 1, has {format:?}"
                ));
            }
            if numbers == 0 || kinds.iter().any(|(_, k, _)| *k != Kind::Number) {
                problems.push(format!("a {panel_type} shows numbers only: {kinds:?}"));
            }
            if scenario.name == "all"
                && result
                    .rows
                    .iter()
                    .flatten()
                    .any(|v| v.is_null() || v.as_f64() == Some(0.0))
            {
                problems.push(format!(
                    "over the whole fixture the value should not be empty or zero: {:?}",
                    result.rows
                ));
            }
            if result.rows.iter().flatten().any(Value::is_null) {
                problems.push(format!("NULL value: {:?}", result.rows));
            }
        }
        "table" => {
            if format != Some(1) {
                problems.push(format!("a table target needs format 1, has {format:?}"));
            }
            for (name, k, t) in &kinds {
                if *k == Kind::Other {
                    problems.push(format!(
                        "column {name} has type {t}, which the table cannot show as a value"
                    ));
                }
            }
            if let Some(expected) =
                expected_table_columns(panel["title"].as_str().unwrap_or_default())
            {
                let names: Vec<&str> = kinds.iter().map(|(n, _, _)| n.as_str()).collect();
                if names != expected {
                    problems.push(format!("columns {names:?}, expected {expected:?}"));
                }
            }
        }
        other => problems.push(format!(
            "no column contract for panel type {other:?}: extend check_shape"
        )),
    }
    // Every field the panel configures by name must exist (tables, bar charts and stats show
    // the columns as fields; time series fields come from the long-to-wide pivot).
    if panel_type != "timeseries" {
        let names: BTreeSet<&str> = kinds.iter().map(|(n, _, _)| n.as_str()).collect();
        for override_ in panel["fieldConfig"]["overrides"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if override_["matcher"]["id"] == "byName" {
                let field = override_["matcher"]["options"].as_str().unwrap_or_default();
                if !names.contains(field) {
                    problems.push(format!(
                        "override for field {field:?}, which the query does not return"
                    ));
                }
            }
        }
        let display_names: BTreeSet<String> = kinds
            .iter()
            .map(|(name, _, _)| display_name(panel, name).unwrap_or_else(|| name.clone()))
            .collect();
        for sort in panel["options"]["sortBy"].as_array().into_iter().flatten() {
            let shown = sort["displayName"].as_str().unwrap_or_default();
            if !display_names.contains(shown) {
                problems.push(format!(
                    "sortBy {shown:?} is not a displayed field ({display_names:?})"
                ));
            }
        }
        if let Some(x) = panel["options"]["xField"].as_str()
            && !names.contains(x)
        {
            problems.push(format!("xField {x:?} is not returned"));
        }
        for link_field in data_link_fields(panel) {
            if !names.contains(link_field.as_str()) {
                problems.push(format!("a data link reads ${{__data.fields.{link_field}}}, which the query does not return"));
            }
        }
    }
    problems
}

fn display_name(panel: &Value, field: &str) -> Option<String> {
    for override_ in panel["fieldConfig"]["overrides"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if override_["matcher"]["id"] == "byName" && override_["matcher"]["options"] == field {
            for property in override_["properties"].as_array().into_iter().flatten() {
                if property["id"] == "displayName" {
                    return property["value"].as_str().map(str::to_owned);
                }
            }
        }
    }
    None
}

/// Every data link URL of a panel (panel links and field links).
fn link_urls(panel: &Value) -> Vec<String> {
    let mut urls = Vec::new();
    let mut collect = |links: &Value| {
        for link in links.as_array().into_iter().flatten() {
            if let Some(url) = link["url"].as_str() {
                urls.push(url.to_owned());
            }
        }
    };
    collect(&panel["links"]);
    collect(&panel["fieldConfig"]["defaults"]["links"]);
    for override_ in panel["fieldConfig"]["overrides"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for property in override_["properties"].as_array().into_iter().flatten() {
            if property["id"] == "links" {
                collect(&property["value"]);
            }
        }
    }
    urls
}

fn data_link_fields(panel: &Value) -> Vec<String> {
    let mut fields = Vec::new();
    for url in link_urls(panel) {
        let mut rest = url.as_str();
        while let Some(at) = rest.find("${__data.fields.") {
            let after = &rest[at + "${__data.fields.".len()..];
            let end = after.find(['}', ':']).unwrap_or(after.len());
            fields.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    fields
}

#[tokio::test]
async fn every_clickhouse_panel_returns_rows_of_the_right_shape() {
    let fixture = Fixture::build(now_ms());
    let database = Database::create_and_load(&fixture).await;
    let range = TimeRange {
        from_ms: fixture.now - RANGE_DAYS * DAY_MS,
        to_ms: fixture.now + HOUR_MS,
        interval_seconds: INTERVAL_SECONDS,
    };

    let mut failures = Vec::new();
    let mut executed = 0;
    for dashboard in dashboards() {
        let variables = variables_of(&dashboard.json);
        let scenarios = scenarios(&dashboard, &variables, &fixture);
        for panel in panels(&dashboard.json) {
            let title = panel["title"].as_str().unwrap_or("(untitled)");
            for target in panel["targets"].as_array().into_iter().flatten() {
                if datasource_uid(panel, target) != CLICKHOUSE_UID {
                    continue;
                }
                let place = format!(
                    "{} / {title} / {}",
                    dashboard.file,
                    target["refId"].as_str().unwrap_or("?")
                );
                if target["editorType"] != "sql" {
                    failures.push(format!(
                        "{place}: editorType must be \"sql\" (raw SQL), is {}",
                        target["editorType"]
                    ));
                    continue;
                }
                let raw_sql = target["rawSql"].as_str().unwrap_or_default();
                for scenario in &scenarios {
                    let sql = match expand_clickhouse_sql(raw_sql, &variables, scenario, &range) {
                        Ok(sql) => sql,
                        Err(error) => {
                            failures.push(format!("{place} [{}]: {error}", scenario.name));
                            continue;
                        }
                    };
                    executed += 1;
                    match database.query(&sql, &[]).await {
                        Ok(result) => {
                            for problem in check_shape(panel, target, &result, scenario) {
                                failures
                                    .push(format!("{place} [{}]: {problem}\n{sql}", scenario.name));
                            }
                        }
                        Err(error) => {
                            failures.push(format!("{place} [{}]: {error}\n{sql}", scenario.name))
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in database {}:\n\n{}",
        failures.len(),
        database.name,
        failures.join("\n\n")
    );
    assert!(executed >= 3, "no ClickHouse panel found");
    database.drop().await;
}

#[test]
fn dashboards_are_well_formed_and_their_links_resolve() {
    let dashboards = dashboards();
    let uids: BTreeSet<String> = dashboards
        .iter()
        .filter_map(|d| d.json["uid"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        uids.len(),
        dashboards.len(),
        "every dashboard has its own stable uid"
    );
    let mut failures = Vec::new();
    for dashboard in &dashboards {
        let file = &dashboard.file;
        let json = &dashboard.json;
        if json["schemaVersion"].as_i64().unwrap_or(0) < 39 {
            failures.push(format!(
                "{file}: schemaVersion {} is older than Grafana 11's",
                json["schemaVersion"]
            ));
        }
        let variables = variables_of(json);
        let names: BTreeSet<&str> = variables.iter().map(|v| v.name.as_str()).collect();
        // The filters offer exactly the hub's vocabulary.
        let vocabulary: [(&str, Vec<String>); 3] = [
            (
                "channel",
                Channel::ALL.iter().map(|c| c.key().to_owned()).collect(),
            ),
            (
                "category",
                Category::ALL.iter().map(|c| c.key().to_owned()).collect(),
            ),
            ("action", ACTIONS.iter().map(|a| (*a).to_owned()).collect()),
        ];
        for (name, keys) in vocabulary {
            if let Some(variable) = variables.iter().find(|v| v.name == name) {
                if variable.values != keys {
                    failures.push(format!(
                        "{file}: ${name} offers {:?}, the hub's keys are {keys:?}",
                        variable.values
                    ));
                }
                if !(variable.multi && variable.include_all && variable.all_value.is_none()) {
                    failures.push(format!(
                        "{file}: ${name} must be multi-value with All (and no custom all value)"
                    ));
                }
            }
        }
        let mut ids = BTreeSet::new();
        for panel in panels(json) {
            let title = panel["title"].as_str().unwrap_or("(untitled)");
            if !ids.insert(panel["id"].as_i64().unwrap_or(-1)) {
                failures.push(format!(
                    "{file}: panel id {} of {title} is not unique",
                    panel["id"]
                ));
            }
            if panel["type"] == "row" {
                continue;
            }
            let targets = panel["targets"].as_array().cloned().unwrap_or_default();
            if targets.is_empty() {
                failures.push(format!("{file} / {title}: no query"));
            }
            for target in &targets {
                let uid = datasource_uid(panel, target);
                if uid != CLICKHOUSE_UID && uid != PROMETHEUS_UID {
                    failures.push(format!(
                        "{file} / {title}: data source {uid:?} is not provisioned"
                    ));
                }
                let expected_type = if uid == CLICKHOUSE_UID {
                    "grafana-clickhouse-datasource"
                } else {
                    "prometheus"
                };
                if target["datasource"]["type"] != expected_type {
                    failures.push(format!(
                        "{file} / {title}: target data source type must be {expected_type}"
                    ));
                }
            }
            for url in link_urls(panel) {
                failures.extend(check_link(file, title, &url, &uids, &names));
            }
        }
        // The priorities tables drill down to one reference.
        if names.contains("gtin") {
            for panel in panels(json) {
                let is_reference_table = panel["type"] == "table"
                    && panel["targets"].as_array().into_iter().flatten().any(|t| {
                        t["rawSql"]
                            .as_str()
                            .is_some_and(|sql| sql.contains("AS gtin,"))
                    })
                    && !panel["title"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("quarantine");
                let drills_down = link_urls(panel)
                    .iter()
                    .any(|url| url.contains("var-gtin=${__data.fields.gtin}"));
                if is_reference_table && !drills_down {
                    failures.push(format!(
                        "{file} / {}: a table of references must link its gtin to var-gtin",
                        panel["title"]
                    ));
                }
            }
            let linked = panels(json)
                .iter()
                .filter(|p| link_urls(p).iter().any(|u| u.contains("var-gtin=")))
                .count();
            if linked == 0 {
                failures.push(format!("{file}: no panel links to the drill-down"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A link to a dashboard must name an existing uid, and every `${...}` it uses must be a
/// dashboard variable or one of Grafana's data link variables.
fn check_link(
    file: &str,
    title: &str,
    url: &str,
    uids: &BTreeSet<String>,
    variables: &BTreeSet<&str>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(path) = url.strip_prefix("/d/") {
        let uid = path.split(['/', '?']).next().unwrap_or_default();
        if !uids.contains(uid) {
            problems.push(format!(
                "{file} / {title}: link to unknown dashboard uid {uid:?}"
            ));
        }
    }
    let mut rest = url;
    while let Some(at) = rest.find("${") {
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            problems.push(format!("{file} / {title}: unclosed ${{ in {url}"));
            break;
        };
        let reference = &after[..end];
        let name = reference.split(':').next().unwrap_or_default();
        let builtin = [
            "__url_time_range",
            "__value.raw",
            "__value.text",
            "__all_variables",
            "__dashboard",
            "__series.name",
            "__field.name",
        ]
        .contains(&name)
            || name.starts_with("__data.fields.");
        if !builtin && !variables.contains(name) {
            problems.push(format!("{file} / {title}: link uses ${{{reference}}}, which is neither a variable nor a data link variable"));
        }
        rest = &after[end..];
    }
    problems
}

// ------------------------------------------------------------------------------------------
// Prometheus targets.
// ------------------------------------------------------------------------------------------

/// The metric names of `pub mod names` in the hub's telemetry module.
fn hub_metric_names() -> BTreeSet<String> {
    let path = repository_root().join("pipeline/hub/src/telemetry.rs");
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let module = source
        .split("pub mod names")
        .nth(1)
        .expect("telemetry.rs has `pub mod names`");
    let module = &module[..module.find("\n}").expect("end of mod names")];
    let names: BTreeSet<String> = module
        .lines()
        .filter(|line| line.trim_start().starts_with("pub const"))
        .filter_map(|line| line.split('"').nth(1).map(str::to_owned))
        .collect();
    for documented in DOCUMENTED_METRICS {
        assert!(
            names.contains(documented),
            "{} no longer defines {documented}",
            path.display()
        );
    }
    names
}

/// PromQL words that are not metric names: operators, modifiers and aggregations (which may
/// be followed by a grouping clause instead of their parenthesis).
const PROMQL_KEYWORDS: [&str; 28] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
    "atan2",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// The metric names an expression reads: identifiers outside label matchers, ranges, strings
/// and grouping clauses that are not function calls or keywords.
fn metric_names(expr: &str) -> Vec<String> {
    let mut cleaned = String::with_capacity(expr.len());
    let mut chars = expr.chars().peekable();
    let mut depth_braces = 0;
    let mut depth_brackets = 0;
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                // Skip a string literal (backslash escapes except in backquotes).
                while let Some(inner) = chars.next() {
                    if inner == '\\' && c != '`' {
                        chars.next();
                    } else if inner == c {
                        break;
                    }
                }
                cleaned.push(' ');
            }
            '{' => depth_braces += 1,
            '}' => depth_braces -= 1,
            '[' => depth_brackets += 1,
            ']' => depth_brackets -= 1,
            _ if depth_braces > 0 || depth_brackets > 0 => {}
            other => cleaned.push(other),
        }
    }
    let mut names = Vec::new();
    let mut skip_group = false;
    let tokens: Vec<(String, bool)> = {
        let mut tokens = Vec::new();
        let bytes: Vec<char> = cleaned.chars().collect();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            let starts_identifier = (c.is_ascii_alphabetic() || c == '_' || c == ':')
                && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == '.'));
            if starts_identifier {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == '_' || bytes[i] == ':')
                {
                    i += 1;
                }
                let word: String = bytes[start..i].iter().collect();
                let mut j = i;
                while j < bytes.len() && bytes[j].is_whitespace() {
                    j += 1;
                }
                tokens.push((word, j < bytes.len() && bytes[j] == '('));
            } else if c == '(' {
                tokens.push(("(".into(), false));
                i += 1;
            } else if c == ')' {
                tokens.push((")".into(), false));
                i += 1;
            } else {
                i += 1;
            }
        }
        tokens
    };
    for (word, called) in tokens {
        if word == "(" {
            continue;
        }
        if word == ")" {
            skip_group = false;
            continue;
        }
        if skip_group {
            continue; // label names of by (...), without (...), on (...), ignoring (...)
        }
        if [
            "by",
            "without",
            "on",
            "ignoring",
            "group_left",
            "group_right",
        ]
        .contains(&word.as_str())
        {
            skip_group = called;
            continue;
        }
        if called || PROMQL_KEYWORDS.contains(&word.as_str()) {
            continue;
        }
        names.push(word);
    }
    names
}

#[test]
fn metric_names_are_found_in_promql() {
    assert_eq!(
        metric_names(r#"histogram_quantile(0.99, sum by (component_id, le) (rate(hub_sink_batch_size_bucket{a="x{y}"}[$__rate_interval])))"#.replace("$__rate_interval", "5m").as_str()),
        ["hub_sink_batch_size_bucket"]
    );
    assert_eq!(
        metric_names(
            r#"sum(rate(a_total{component_id=~"signals\\..+"}[5m])) - (sum without (partition) (b) or vector(0))"#
        ),
        ["a_total", "b"]
    );
    assert_eq!(
        metric_names("up == 0 and on () hub_x offset 5m"),
        ["up", "hub_x"]
    );
}

fn promql_problems(expr: &str, allowed: &BTreeSet<String>) -> Vec<String> {
    let histograms: BTreeSet<&str> = allowed
        .iter()
        .filter(|n| n.ends_with("_seconds") || n.as_str() == "hub_sink_batch_size")
        .map(String::as_str)
        .collect();
    let mut problems = Vec::new();
    let names = metric_names(expr);
    if names.is_empty() {
        problems.push("reads no metric".into());
    }
    for name in names {
        let known = allowed.contains(&name)
            || name == "up"
            || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
                name.strip_suffix(suffix)
                    .is_some_and(|base| histograms.contains(base))
            });
        if !known {
            problems.push(format!(
                "metric {name} is not exported by the hub (pipeline/hub/src/telemetry.rs)"
            ));
        }
    }
    problems
}

/// Grafana's Prometheus variables, replaced by what Grafana sends for a 14-day range.
fn expand_promql(expr: &str) -> Result<String, String> {
    let expanded = expr
        .replace("$__rate_interval", "5m")
        .replace("${__rate_interval}", "5m")
        .replace("$__interval", "1h")
        .replace("${__interval}", "1h")
        .replace("$__range", "14d")
        .replace("${__range}", "14d");
    match expanded.find('$') {
        Some(at) => Err(format!("unexpanded template text at {:?}", &expanded[at..])),
        None => Ok(expanded),
    }
}

#[test]
fn every_prometheus_target_parses_and_reads_hub_metrics() {
    let allowed = hub_metric_names();
    assert!(
        !promql_problems("sum(rate(hub_scores_emited_total[5m]))", &allowed).is_empty(),
        "a typo is caught"
    );
    assert!(
        !promql_problems(
            "histogram_quantile(0.5, rate(hub_consumer_lag_bucket[5m]))",
            &allowed
        )
        .is_empty(),
        "a gauge has no buckets"
    );

    let mut failures = Vec::new();
    let mut rules = Vec::new();
    for dashboard in dashboards() {
        for panel in panels(&dashboard.json) {
            let title = panel["title"].as_str().unwrap_or("(untitled)");
            for target in panel["targets"].as_array().into_iter().flatten() {
                if datasource_uid(panel, target) != PROMETHEUS_UID {
                    continue;
                }
                let place = format!(
                    "{} / {title} / {}",
                    dashboard.file,
                    target["refId"].as_str().unwrap_or("?")
                );
                let Some(expr) = target["expr"].as_str().filter(|e| !e.trim().is_empty()) else {
                    failures.push(format!("{place}: no expr"));
                    continue;
                };
                match expand_promql(expr) {
                    Ok(expanded) => {
                        failures.extend(
                            promql_problems(&expanded, &allowed)
                                .into_iter()
                                .map(|p| format!("{place}: {p}")),
                        );
                        rules.push((place, expanded));
                    }
                    Err(error) => failures.push(format!("{place}: {error}")),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(!rules.is_empty(), "no Prometheus panel found");

    // promtool parses each expression as a recording rule: a syntax error fails the check.
    let directory = std::env::temp_dir().join(unique_name("dashboard_promql"));
    std::fs::create_dir_all(&directory).expect("temporary directory");
    let file = directory.join("dashboards.rules.yml");
    let mut yaml = String::from("groups:\n  - name: dashboards\n    rules:\n");
    for (index, (place, expr)) in rules.iter().enumerate() {
        yaml.push_str(&format!(
            "      # {}\n      - record: dashboard:target_{index}:check\n        expr: {}\n",
            place.replace('\n', " "),
            serde_json::to_string(expr).expect("string serialises")
        ));
    }
    std::fs::write(&file, yaml).expect("rules file written");
    let output = std::process::Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&file)
        .output()
        .unwrap_or_else(|error| panic!("promtool is needed to parse the dashboards' PromQL (apt-get install -y prometheus): {error}"));
    std::fs::remove_dir_all(&directory).expect("temporary directory removed");
    assert!(
        output.status.success(),
        "promtool refused a dashboard expression:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("{} rules found", rules.len())),
        "promtool checked every expression: {stdout}"
    );
}

// ------------------------------------------------------------------------------------------
// docs/sql-cookbook.md
// ------------------------------------------------------------------------------------------

struct CookbookQuery {
    heading: String,
    sql: String,
}

fn cookbook_queries() -> Vec<CookbookQuery> {
    let path = repository_root().join("docs/sql-cookbook.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let mut queries = Vec::new();
    let mut heading = String::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        match &mut block {
            Some(sql) if line.trim_start().starts_with("```") => {
                queries.push(CookbookQuery {
                    heading: heading.clone(),
                    sql: std::mem::take(sql),
                });
                block = None;
            }
            Some(sql) => {
                sql.push_str(line);
                sql.push('\n');
            }
            None if line.trim_start().starts_with("```sql") => block = Some(String::new()),
            None if line.starts_with('#') => {
                heading = line.trim_start_matches('#').trim().to_owned()
            }
            None => {}
        }
    }
    assert!(
        block.is_none(),
        "{}: unterminated ```sql block",
        path.display()
    );
    queries
}

/// The `{name:Type}` query parameters a cookbook query uses.
fn query_parameters(sql: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find('{') {
        let after = &rest[at + 1..];
        if let Some(end) = after.find('}') {
            if let Some((name, _type)) = after[..end].split_once(':')
                && !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                names.push(name.to_owned());
            }
            rest = &after[end..];
        } else {
            break;
        }
    }
    names
}

#[tokio::test]
async fn every_cookbook_query_runs_and_returns_rows() {
    let fixture = Fixture::build(now_ms());
    let queries = cookbook_queries();
    let headings: Vec<&str> = queries.iter().map(|q| q.heading.as_str()).collect();
    for topic in [
        "priorities",
        "why",
        "category and channel",
        "quarantine",
        "history",
        "deduplicate",
    ] {
        assert!(
            headings.iter().any(|h| h.to_lowercase().contains(topic)),
            "docs/sql-cookbook.md has no query about {topic:?}: {headings:?}"
        );
    }
    let database = Database::create_and_load(&fixture).await;
    let current = fixture.current();
    let star = current
        .iter()
        .max_by_key(|s| s.score)
        .expect("current scores");
    let values: BTreeMap<&str, String> = BTreeMap::from([
        ("gtin", star.gtin.clone()),
        ("channel", star.channel.to_string()),
        ("category", fixture.category_of(&star.gtin).to_owned()),
        ("days", "30".to_owned()),
    ]);

    let mut failures = Vec::new();
    for query in &queries {
        let mut params = Vec::new();
        for name in query_parameters(&query.sql) {
            match values.get(name.as_str()) {
                Some(value) => params.push((name, value.clone())),
                None => failures.push(format!(
                    "{}: parameter {{{name}:...}} has no test value",
                    query.heading
                )),
            }
        }
        if query.sql.contains('$') {
            failures.push(format!(
                "{}: Grafana syntax in a cookbook query",
                query.heading
            ));
            continue;
        }
        match database.query(&query.sql, &params).await {
            Ok(result) if result.rows.is_empty() => {
                failures.push(format!("{}: no row\n{}", query.heading, query.sql))
            }
            Ok(result) => {
                if query.heading.to_lowercase().contains("deduplicate") {
                    // One row per (gtin, channel, version), although one was consumed twice.
                    let distinct = fixture.scores.len();
                    let raw = database
                        .query("SELECT count() FROM scores", &[])
                        .await
                        .expect("count");
                    assert_eq!(
                        raw.rows[0][0].as_u64(),
                        Some(distinct as u64 + 1),
                        "the history holds the redelivered row"
                    );
                    if result.rows.len() != distinct {
                        failures.push(format!(
                            "{}: {} rows, expected one per version ({distinct})",
                            query.heading,
                            result.rows.len()
                        ));
                    }
                }
            }
            Err(error) => failures.push(format!("{}: {error}\n{}", query.heading, query.sql)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in database {}:\n\n{}",
        failures.len(),
        database.name,
        failures.join("\n\n")
    );

    // A window that only holds each history's last version: its change from the version
    // before, older than the window, still counts.
    let action_changes = queries
        .iter()
        .find(|query| query.sql.contains("previous_action"))
        .expect("the cookbook lists how actions changed");
    let window_days = 2;
    let window_start = fixture.now - window_days * DAY_MS;
    let mut histories: BTreeMap<(&str, String), Vec<&ReferenceScore>> = BTreeMap::new();
    for score in &fixture.scores {
        histories
            .entry((score.gtin.as_str(), score.channel.to_string()))
            .or_default()
            .push(score);
    }
    let mut expected = BTreeSet::new();
    for ((gtin, channel), mut history) in histories {
        history.sort_by_key(|score| score.version);
        for pair in history.windows(2) {
            let (previous, score) = (pair[0], pair[1]);
            if score.scored_at >= window_start && score.action != previous.action {
                expected.insert((gtin.to_owned(), channel.clone(), score.version));
            }
        }
    }
    assert!(
        !expected.is_empty(),
        "the fixture must change an action at the window's edge"
    );
    let result = database
        .query(
            &action_changes.sql,
            &[("days".to_owned(), window_days.to_string())],
        )
        .await
        .expect("the action changes query runs");
    let got: BTreeSet<(String, String, i64)> = result
        .rows
        .iter()
        .map(|row| {
            (
                row[0].as_str().expect("gtin").to_owned(),
                row[1].as_str().expect("channel").to_owned(),
                // 64-bit integers come quoted in ClickHouse's JSON formats by default.
                row[2]
                    .as_i64()
                    .or_else(|| row[2].as_str()?.parse().ok())
                    .expect("version"),
            )
        })
        .collect();
    assert_eq!(got, expected, "{}", action_changes.sql);
    database.drop().await;
}
