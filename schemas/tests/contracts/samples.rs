//! Generators of arbitrary records (every field, every branch) and a few fixed samples.

use hub_schemas::records::{
    CostKind, CostSignal, FactorContribution, Levy, LevyKind, MarginBreakdown, OfferSignal,
    ProductReference, QuarantinedRecord, ReferenceScore, StockSignal, StockSource,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use rust_decimal::Decimal;

/// Any value that an Avro `decimal(precision, scale)` holds exactly, written at any scale
/// from 0 to `scale` so that rescaling up is exercised too.
pub fn decimal(precision: u32, scale: u32) -> impl Strategy<Value = Decimal> {
    (0..=scale).prop_flat_map(move |value_scale| {
        let bound = 10i64.pow(precision - (scale - value_scale));
        (-(bound - 1)..bound).prop_map(move |unscaled| Decimal::new(unscaled, value_scale))
    })
}

fn text() -> impl Strategy<Value = String> {
    any::<String>()
}

fn levy() -> impl Strategy<Value = Levy> {
    (
        prop_oneof![
            Just(LevyKind::DeeeEcoParticipation),
            Just(LevyKind::PrivateCopy)
        ],
        decimal(18, 4),
    )
        .prop_map(|(kind, amount_incl_vat)| Levy {
            kind,
            amount_incl_vat,
        })
}

pub fn product_reference() -> impl Strategy<Value = ProductReference> {
    (
        (
            text(),
            text(),
            text(),
            option::of(text()),
            text(),
            decimal(9, 6),
        ),
        (
            option::of(any::<i32>()),
            option::of(any::<i32>()),
            option::of(any::<i32>()),
            option::of(any::<i32>()),
        ),
        (vec(levy(), 0..4), text(), any::<i64>()),
    )
        .prop_map(
            |(
                (gtin, sku, title, brand, category, vat_rate),
                (weight_g, length_mm, width_mm, height_mm),
                (levies, source, updated_at),
            )| ProductReference {
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
                active: true,
            },
        )
}

pub fn offer_signal() -> impl Strategy<Value = OfferSignal> {
    let price = || option::of(decimal(18, 4));
    (
        (text(), text(), text(), price(), price(), price()),
        (option::of(any::<bool>()), price(), price(), price()),
        (
            option::of(any::<i32>()),
            option::of(any::<i64>()),
            option::of(text()),
            text(),
            option::of(text()),
            any::<i64>(),
        ),
    )
        .prop_map(
            |(
                (gtin, channel, currency, our_price, our_shipping, buy_box),
                (we_own_buy_box, lowest_listing, lowest_shipping, lowest_landed),
                (offer_count, sales_rank, marketplace_category, source, request_id, observed_at),
            )| OfferSignal {
                gtin,
                channel,
                currency,
                our_price_incl_vat: our_price,
                our_shipping_incl_vat: our_shipping,
                buy_box_price_incl_vat: buy_box,
                we_own_buy_box,
                lowest_listing_price_incl_vat: lowest_listing,
                lowest_shipping_incl_vat: lowest_shipping,
                lowest_landed_price_incl_vat: lowest_landed,
                offer_count,
                sales_rank,
                marketplace_category,
                source,
                request_id,
                observed_at,
            },
        )
}

pub fn stock_signal() -> impl Strategy<Value = StockSignal> {
    (
        (
            text(),
            prop_oneof![
                Just(StockSource::Supplier),
                Just(StockSource::Erp),
                Just(StockSource::Fba)
            ],
            option::of(text()),
            any::<i64>(),
            option::of(any::<i64>()),
        ),
        (
            option::of(any::<i32>()),
            text(),
            option::of(text()),
            any::<i64>(),
        ),
    )
        .prop_map(
            |(
                (gtin, stock_source, location, quantity, incoming_quantity),
                (lead_time_days, source, request_id, observed_at),
            )| StockSignal {
                gtin,
                stock_source,
                location,
                quantity,
                incoming_quantity,
                lead_time_days,
                source,
                request_id,
                observed_at,
            },
        )
}

pub fn cost_signal() -> impl Strategy<Value = CostSignal> {
    (
        (
            text(),
            prop_oneof![
                Just(CostKind::SupplierPrice),
                Just(CostKind::ErpStandardCost)
            ],
            option::of(text()),
            decimal(18, 4),
            text(),
            option::of(any::<i32>()),
        ),
        (
            option::of(any::<i64>()),
            option::of(any::<i64>()),
            option::of(any::<i32>()),
            text(),
            option::of(text()),
            any::<i64>(),
        ),
    )
        .prop_map(
            |(
                (gtin, cost_kind, supplier_id, unit_cost_excl_vat, currency, moq),
                (valid_from, valid_to, lead_time_days, source, request_id, observed_at),
            )| CostSignal {
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
            },
        )
}

fn factor() -> impl Strategy<Value = FactorContribution> {
    (
        text(),
        option::of(decimal(18, 6)),
        decimal(9, 6),
        decimal(9, 6),
        decimal(9, 4),
        text(),
    )
        .prop_map(
            |(name, raw_value, normalised, weight, contribution, explanation)| FactorContribution {
                name: name.into(),
                raw_value,
                normalised,
                weight,
                contribution,
                explanation,
            },
        )
}

fn margin() -> impl Strategy<Value = MarginBreakdown> {
    let money = || decimal(18, 4);
    (
        (text(), money(), money(), money(), money(), money()),
        (money(), text(), money(), money(), money()),
        (money(), text(), money(), decimal(18, 6), decimal(18, 6)),
    )
        .prop_map(
            |(
                (currency, price, shipping, levies, revenue, commission),
                (
                    digital_services_fee,
                    fulfilment_method,
                    fulfilment_fee,
                    subscription,
                    operational,
                ),
                (product_cost, product_cost_source, net_margin, margin_rate, roi),
            )| MarginBreakdown {
                currency: currency.into(),
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
                product_cost_excl_vat: product_cost,
                product_cost_source,
                net_margin_excl_vat: net_margin,
                margin_rate,
                roi,
            },
        )
}

pub fn reference_score() -> impl Strategy<Value = ReferenceScore> {
    (
        (text(), text(), any::<i64>(), decimal(9, 4), decimal(9, 4)),
        (vec(factor(), 0..4), vec(text(), 0..4), option::of(margin())),
        (
            text(),
            text(),
            option::of(decimal(18, 4)),
            text(),
            text(),
            text(),
        ),
        (
            option::of(any::<i64>()),
            option::of(any::<i64>()),
            option::of(any::<i64>()),
            any::<i64>(),
        ),
    )
        .prop_map(
            |(
                (gtin, channel, version, score, confidence),
                (factors, missing_inputs, margin),
                (action, action_rule, target_price, weights_profile, weights_version, fees),
                (offer_observed_at, stock_observed_at, cost_observed_at, scored_at),
            )| ReferenceScore {
                gtin,
                channel: channel.into(),
                version,
                score,
                confidence,
                factors,
                missing_inputs: missing_inputs.into_iter().map(Into::into).collect(),
                margin,
                action: action.into(),
                action_rule,
                target_price_incl_vat: target_price,
                weights_profile: weights_profile.into(),
                weights_version: weights_version.into(),
                fee_schedule_version: fees.into(),
                offer_observed_at,
                stock_observed_at,
                cost_observed_at,
                scored_at,
            },
        )
}

pub fn quarantined_record() -> impl Strategy<Value = QuarantinedRecord> {
    (
        (
            text(),
            text(),
            option::of(text()),
            option::of(any::<i32>()),
            option::of(any::<i64>()),
            option::of(vec(any::<u8>(), 0..32)),
        ),
        (
            vec(any::<u8>(), 0..64),
            option::of(text()),
            text(),
            text(),
            any::<i64>(),
        ),
    )
        .prop_map(
            |(
                (source, record_type, original_topic, original_partition, original_offset, key),
                (raw, gtin, reason_code, detail, observed_at),
            )| QuarantinedRecord {
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
            },
        )
}

/// A plausible offer, for tests that need one fixed record.
pub fn sample_offer() -> OfferSignal {
    OfferSignal {
        gtin: "3760123456789".into(),
        channel: "amazon".into(),
        currency: "EUR".into(),
        our_price_incl_vat: Some(Decimal::new(19_99, 2)),
        our_shipping_incl_vat: Some(Decimal::ZERO),
        buy_box_price_incl_vat: Some(Decimal::new(18_49, 2)),
        we_own_buy_box: Some(false),
        lowest_listing_price_incl_vat: Some(Decimal::new(17_90, 2)),
        lowest_shipping_incl_vat: Some(Decimal::new(59, 2)),
        lowest_landed_price_incl_vat: Some(Decimal::new(18_49, 2)),
        offer_count: Some(7),
        sales_rank: Some(1520),
        marketplace_category: Some("electronics".into()),
        source: "amazon.getItemOffers".into(),
        request_id: Some("a1b2c3".into()),
        observed_at: 1_767_225_600_000,
    }
}

/// A plausible stock line, for tests that need one fixed record.
pub fn sample_stock() -> StockSignal {
    StockSignal {
        gtin: "3760123456789".into(),
        stock_source: StockSource::Erp,
        location: Some("WH-LYON".into()),
        quantity: 42,
        incoming_quantity: Some(100),
        lead_time_days: Some(3),
        source: "odoo.stock.quant".into(),
        request_id: None,
        observed_at: 1_767_225_600_000,
    }
}
