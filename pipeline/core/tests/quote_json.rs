//! `hub quote`: one JSON object in, one out; the published examples through the JSON
//! interface; errors naming the field.

use hub_core::gate::GateConfig;
use hub_core::profile::EconomicsConfig;
use hub_core::quote::{QuoteError, quote_json};
use proptest::prelude::*;
use serde_json::Value;

/// 2026-03-02T10:00:00Z.
const NOW: i64 = 1_772_445_600_000;

fn run(request: &str) -> Result<Value, QuoteError> {
    let config = EconomicsConfig::embedded().unwrap();
    quote_json(request, &config, &GateConfig::default(), NOW)
        .map(|json| serde_json::from_str(&json).unwrap())
}

#[test]
fn fnac_darty_example_through_json() {
    let answer = run(r#"{
        "channel": "fnac_darty", "category": "large_appliances",
        "price_incl_vat": "425", "shipping_incl_vat": "49", "vat_rate": "0.20",
        "product_cost_excl_vat": "300", "currency": "EUR"
    }"#)
    .unwrap();
    assert_eq!(answer["commission_excl_vat"], "30.8100");
    assert_eq!(answer["commission_incl_vat"], "36.9700");
    assert_eq!(answer["revenue_excl_vat"], "395.0000");
    // No profile: no provision, no amortisation, no fulfilment cost beyond the input's.
    assert_eq!(answer["operational_cost_excl_vat"], "0.0000");
    assert_eq!(answer["subscription_per_unit_excl_vat"], "0.0000");
    assert_eq!(answer["fulfilment_fee_excl_vat"], "0.0000");
    // 395.00 - 30.81 - 300 = 64.19.
    assert_eq!(answer["net_margin_excl_vat"], "64.1900");
    assert_eq!(answer["margin_rate"], "0.162506");
    assert_eq!(answer["fee_schedule_version"], "fnac-darty-2023-05-01");
    assert_eq!(answer["weights_version"], "2026-05-1");
    assert_eq!(answer["quality"]["accepted"], true);
    let factors = answer["factors"].as_array().unwrap();
    assert_eq!(factors.len(), 7);
    let sum: rust_decimal::Decimal = factors
        .iter()
        .map(|factor| {
            factor["contribution"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(sum.to_string(), answer["score"].as_str().unwrap());
}

#[test]
fn amazon_fba_with_digital_services_fee_and_a_seller_profile() {
    let request = r#"{
        "channel": "amazon", "category": "other",
        "price_incl_vat": "50", "shipping_incl_vat": "0", "vat_rate": "0.20",
        "product_cost_excl_vat": "20", "currency": "EUR",
        "fulfilment": "fba", "weight_g": 420, "length_cm": "22", "width_cm": "19", "height_cm": "9.5",
        "buy_box_price_incl_vat": "52.00", "offer_count": 3, "sales_rank": 800,
        "stock": 10, "observed_at": 1772438400000
    }"#;
    let answer = run(request).unwrap();
    // 15% x 50 = 7.50; FBA small parcel 4.90; DST 3% x 12.40 = 0.372 -> 0.37.
    assert_eq!(answer["commission_excl_vat"], "7.5000");
    assert_eq!(answer["fba_tier"], "small_parcel");
    assert_eq!(answer["digital_services_fee_excl_vat"], "0.3700");
    assert_eq!(answer["action"], "hold");
    assert_eq!(answer["missing_inputs"], serde_json::json!([]));
    // Naming the default profile adds its handling, storage, returns and amortisation.
    let with_profile =
        run(&request.replace("\"stock\": 10", "\"stock\": 10, \"profile\": \"default\"")).unwrap();
    // 1.20 + 0.15 + 2% x 41.67 = 0.83 -> 2.18; 39.00 / 400 = 0.0975 -> 0.10.
    assert_eq!(with_profile["operational_cost_excl_vat"], "2.1800");
    assert_eq!(with_profile["subscription_per_unit_excl_vat"], "0.1000");
    assert_eq!(with_profile["seller_profile"], "default@1");
}

#[test]
fn bad_inputs_name_the_field() {
    let base = r#"{"channel": "cdiscount", "category": "tv", "price_incl_vat": "100",
        "shipping_incl_vat": "0", "vat_rate": "0.20", "product_cost_excl_vat": "50", "currency": "EUR"}"#;
    let cases = [
        (
            base.replace("\"currency\"", "\"colour\": \"red\", \"currency\""),
            "colour",
        ),
        (base.replace("\"100\"", "100.5"), "float"),
        (base.replace("\"cdiscount\"", "\"ebay\""), "ebay"),
        (base.replace(", \"currency\": \"EUR\"", ""), "currency"),
        (base.replace("\"EUR\"", "\"USD\""), "field currency"),
        (base.replace("\"0.20\"", "\"1.5\""), "field vat_rate"),
        (
            base.replace("\"50\"", "\"-1\""),
            "field product_cost_excl_vat",
        ),
        (
            base.replace("\"currency\"", "\"fulfilment\": \"fba\", \"currency\""),
            "field weight_g",
        ),
        (
            base.replace("\"currency\"", "\"profile\": \"nobody\", \"currency\""),
            "nobody",
        ),
        (
            base.replace("\"100\"", "\"79228162514264337593543950335\""),
            "field price_incl_vat",
        ),
        (
            base.replace("\"0\"", "\"1000000000.0001\""),
            "field shipping_incl_vat",
        ),
        (
            base.replace(
                "\"currency\"",
                "\"fulfilment\": \"fba\", \"weight_g\": 500, \"length_cm\": \"10001\", \"width_cm\": \"10\", \"height_cm\": \"10\", \"currency\"",
            ),
            "field length_cm",
        ),
    ];
    for (request, expected) in cases {
        let error = run(&request).unwrap_err().to_string();
        assert!(
            error.contains(expected),
            "expected {expected:?} in: {error}"
        );
    }
}

#[test]
fn the_quality_gate_verdict_is_reported() {
    let answer = run(
        r#"{"channel": "cdiscount", "category": "tv", "price_incl_vat": "100",
        "shipping_incl_vat": "0", "vat_rate": "0.07", "product_cost_excl_vat": "50",
        "currency": "EUR"}"#,
    )
    .unwrap();
    assert_eq!(answer["quality"]["accepted"], false);
    assert_eq!(answer["quality"]["record"], "product_reference");
    assert_eq!(answer["quality"]["reason_code"], "ILLEGAL_VAT_RATE");
}

#[test]
fn a_profile_charges_its_carrier_cost_unless_the_request_gives_one() {
    let request = |extra: &str| {
        format!(
            r#"{{"channel": "cdiscount", "category": "other", "price_incl_vat": "100",
            "shipping_incl_vat": "0", "vat_rate": "0.20", "product_cost_excl_vat": "40",
            "currency": "EUR"{extra}}}"#
        )
    };
    let config = EconomicsConfig::embedded().unwrap();
    let profile = config.seller("default").unwrap();
    let carrier = profile
        .channel(hub_core::channel::Channel::Cdiscount)
        .merchant_shipping_cost_excl_vat;
    assert!(
        carrier > rust_decimal::Decimal::ZERO,
        "the default profile ships at a cost"
    );

    let with_profile = run(&request(r#", "profile": "default""#)).unwrap();
    assert_eq!(
        with_profile["fulfilment_fee_excl_vat"],
        money_string(carrier),
        "{with_profile}"
    );
    let with_both = run(&request(
        r#", "profile": "default", "shipping_cost_excl_vat": "2.5""#,
    ))
    .unwrap();
    assert_eq!(with_both["fulfilment_fee_excl_vat"], "2.5000");
    let without = run(&request("")).unwrap();
    assert_eq!(without["fulfilment_fee_excl_vat"], "0.0000");
}

fn money_string(value: rust_decimal::Decimal) -> String {
    let mut value = value;
    value.rescale(4);
    value.to_string()
}

fn amount_text() -> impl Strategy<Value = String> {
    // Up to the largest amount a quote accepts, with up to four decimals.
    (0u64..=1_000_000_000, 0u32..10_000)
        .prop_map(|(units, ten_thousandths)| format!("{units}.{ten_thousandths:04}"))
}

proptest! {
    /// Whatever amounts within the accepted range, a quote answers or names a field: it
    /// never panics on overflow.
    #[test]
    fn large_amounts_are_quoted_or_refused_never_a_panic(
        channel in prop::sample::select(vec!["amazon", "cdiscount", "fnac_darty", "mirakl"]),
        price in amount_text(),
        shipping in amount_text(),
        cost in amount_text(),
        eco in amount_text(),
        buy_box in amount_text(),
        lowest in amount_text(),
        carrier in amount_text(),
        operational in amount_text(),
        fba in any::<bool>(),
        weight_g in any::<u32>(),
        side in 1u32..=10_000,
        with_profile in any::<bool>(),
        stock in any::<u32>(),
        rank in any::<u32>(),
        offers in any::<u32>(),
    ) {
        let fulfilment = if fba {
            format!(r#""fulfilment": "fba", "weight_g": {weight_g}, "length_cm": "{side}", "width_cm": "{side}", "height_cm": "{side}""#)
        } else {
            format!(r#""fulfilment": "merchant", "shipping_cost_excl_vat": "{carrier}""#)
        };
        let profile = if with_profile { r#", "profile": "default""# } else { "" };
        let request = format!(
            r#"{{"channel": "{channel}", "category": "tv", "price_incl_vat": "{price}",
            "shipping_incl_vat": "{shipping}", "vat_rate": "0.20", "product_cost_excl_vat": "{cost}",
            "currency": "EUR", "eco_participation": "{eco}", "buy_box_price_incl_vat": "{buy_box}",
            "lowest_price_incl_vat": "{lowest}", "operational_cost_excl_vat": "{operational}",
            "stock": {stock}, "sales_rank": {rank}, "offer_count": {offers}, {fulfilment}{profile}}}"#
        );
        let _ = run(&request);
    }
}
