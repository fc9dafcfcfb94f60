//! Properties of the quality gate and the supplier mappings: no input makes them panic,
//! GTIN check digits catch every single-digit error, and normalisation is idempotent.

use std::collections::BTreeMap;

use hub_core::gate::currency::normalise_currency;
use hub_core::gate::{GateConfig, Verdict, check_cost, check_offer, check_product, check_stock};
use hub_core::gtin::{check_digit, normalise_gtin};
use hub_core::mapping::SupplierMapping;
use hub_schemas::records::{
    CostKind, CostSignal, EpochMillis, Levy, LevyKind, OfferSignal, ProductReference, StockSignal,
    StockSource,
};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use rust_decimal::Decimal;

use crate::{EUROTECH, GROSSISTE_OUEST};

/// 2025-03-01T08:30:00Z.
const NOW: EpochMillis = 1_740_817_800_000;

fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        Just(Decimal::ZERO),
        Just(Decimal::MAX),
        Just(Decimal::MIN),
        (any::<i64>(), 0u32..=28).prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale)),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            0u32..=28
        )
            .prop_map(|(lo, mid, hi, negative, scale)| Decimal::from_parts(
                lo, mid, hi, negative, scale
            )),
        (1i64..10_000_000, 0u32..=4).prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale)),
    ]
}

fn timestamp() -> impl Strategy<Value = EpochMillis> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        any::<i64>(),
        (NOW - 500 * 86_400_000)..(NOW + 86_400_000),
    ]
}

/// Arbitrary text, with a bias towards values that pass the early rules so later rules run.
fn text(plausible: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::sample::select(plausible).prop_map(str::to_owned),
    ]
}

const GTINS: &[&str] = &[
    "3760123456784",
    "96385074",
    "036000291452",
    "",
    "0000000000000",
];
const CHANNELS: &[&str] = &["amazon", "cdiscount", "fnac_darty", "mirakl", "ebay", ""];
const CURRENCIES: &[&str] = &["EUR", "eur", "GBP", "XXX", ""];

fn offer() -> impl Strategy<Value = OfferSignal> {
    (
        (
            text(GTINS),
            text(CHANNELS),
            text(CURRENCIES),
            text(&["amazon.getItemOffers"]),
        ),
        (
            option::of(decimal()),
            option::of(decimal()),
            option::of(decimal()),
            option::of(any::<bool>()),
        ),
        (
            option::of(decimal()),
            option::of(decimal()),
            option::of(decimal()),
        ),
        (
            option::of(any::<i32>()),
            option::of(any::<i64>()),
            option::of(any::<String>()),
            timestamp(),
        ),
    )
        .prop_map(
            |(
                (gtin, channel, currency, source),
                (our_price, our_shipping, buy_box, we_own_buy_box),
                (lowest_listing, lowest_shipping, lowest_landed),
                (offer_count, sales_rank, marketplace_category, observed_at),
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
                request_id: None,
                observed_at,
            },
        )
}

fn stock() -> impl Strategy<Value = StockSignal> {
    (
        text(GTINS),
        proptest::sample::select(&[StockSource::Supplier, StockSource::Erp, StockSource::Fba][..]),
        option::of(any::<String>()),
        any::<i64>(),
        option::of(any::<i64>()),
        option::of(any::<i32>()),
        text(&["odoo.stock.quant"]),
        timestamp(),
    )
        .prop_map(
            |(
                gtin,
                stock_source,
                location,
                quantity,
                incoming_quantity,
                lead_time_days,
                source,
                observed_at,
            )| {
                StockSignal {
                    gtin,
                    stock_source,
                    location,
                    quantity,
                    incoming_quantity,
                    lead_time_days,
                    source,
                    request_id: None,
                    observed_at,
                }
            },
        )
}

fn cost() -> impl Strategy<Value = CostSignal> {
    (
        (
            text(GTINS),
            any::<bool>(),
            option::of(any::<String>()),
            decimal(),
            text(CURRENCIES),
        ),
        (
            option::of(any::<i32>()),
            option::of(timestamp()),
            option::of(timestamp()),
        ),
        (
            option::of(any::<i32>()),
            text(&["supplier.acme.csv"]),
            timestamp(),
        ),
    )
        .prop_map(
            |(
                (gtin, from_supplier, supplier_id, unit_cost_excl_vat, currency),
                (moq, valid_from, valid_to),
                (lead_time_days, source, observed_at),
            )| CostSignal {
                gtin,
                cost_kind: if from_supplier {
                    CostKind::SupplierPrice
                } else {
                    CostKind::ErpStandardCost
                },
                supplier_id,
                unit_cost_excl_vat,
                currency,
                moq,
                valid_from,
                valid_to,
                lead_time_days,
                source,
                request_id: None,
                observed_at,
            },
        )
}

fn product() -> impl Strategy<Value = ProductReference> {
    (
        (
            text(GTINS),
            any::<String>(),
            any::<String>(),
            option::of(any::<String>()),
        ),
        (
            text(&["tv", "books", "TV", ""]),
            prop_oneof![decimal(), Just(Decimal::new(55, 3))],
        ),
        (
            option::of(any::<i32>()),
            option::of(any::<i32>()),
            option::of(any::<i32>()),
            option::of(any::<i32>()),
        ),
        (
            vec(decimal(), 0..3),
            text(&["odoo.product.product"]),
            timestamp(),
        ),
    )
        .prop_map(
            |(
                (gtin, sku, title, brand),
                (category, vat_rate),
                (weight_g, length_mm, width_mm, height_mm),
                (levy_amounts, source, updated_at),
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
                levies: levy_amounts
                    .into_iter()
                    .map(|amount_incl_vat| Levy {
                        kind: LevyKind::DeeeEcoParticipation,
                        amount_incl_vat,
                    })
                    .collect(),
                source,
                updated_at,
                active: true,
            },
        )
}

fn config() -> impl Strategy<Value = GateConfig> {
    (decimal(), decimal(), any::<u32>(), any::<u32>()).prop_map(
        |(price_ceiling, max_price_jump_ratio, future_tolerance_seconds, max_offer_age_hours)| {
            GateConfig {
                price_ceiling,
                max_price_jump_ratio,
                future_tolerance_seconds,
                max_offer_age_hours,
                ..GateConfig::default()
            }
        },
    )
}

/// A valid GTIN of 8, 12 or 13 digits: random payload, computed check digit.
fn valid_gtin() -> impl Strategy<Value = String> {
    prop_oneof![Just(7usize), Just(11), Just(12)]
        .prop_flat_map(|payload_len| vec(0u8..=9, payload_len))
        .prop_filter("all zeros is a placeholder", |payload| {
            payload.iter().any(|&d| d != 0)
        })
        .prop_map(|mut digits| {
            digits.push(check_digit(&digits));
            digits.iter().map(|d| char::from(b'0' + d)).collect()
        })
}

fn accepted_offer(gtin: String) -> OfferSignal {
    OfferSignal {
        gtin,
        channel: "cdiscount".to_owned(),
        currency: "EUR".to_owned(),
        our_price_incl_vat: Some(Decimal::new(4990, 2)),
        our_shipping_incl_vat: None,
        buy_box_price_incl_vat: None,
        we_own_buy_box: None,
        lowest_listing_price_incl_vat: None,
        lowest_shipping_incl_vat: None,
        lowest_landed_price_incl_vat: None,
        offer_count: Some(3),
        sales_rank: None,
        marketplace_category: None,
        source: "cdiscount.offers".to_owned(),
        request_id: None,
        observed_at: NOW,
    }
}

proptest! {
    #[test]
    fn the_gate_never_panics_on_offers(
        offer in offer(),
        previous in option::of(offer()),
        now in timestamp(),
        config in config(),
    ) {
        let verdict = check_offer(&offer, previous.as_ref(), now, &config);
        if let Verdict::Quarantined(quarantine) = &verdict {
            prop_assert!(!quarantine.detail.is_empty());
        }
    }

    #[test]
    fn the_gate_never_panics_on_stock_costs_and_products(
        stock in stock(),
        cost in cost(),
        previous_cost in option::of(cost()),
        product in product(),
        now in timestamp(),
        config in config(),
    ) {
        let _ = check_stock(&stock, now, &config);
        let _ = check_cost(&cost, previous_cost.as_ref(), now, &config);
        let _ = check_product(&product, now, &config);
    }

    #[test]
    fn an_accepted_offer_is_the_offer_with_its_gtin_and_currency_normalised(
        gtin in valid_gtin(),
        gtin_padding in ("[ \t]{0,2}", "[ \t]{0,2}"),
        currency in proptest::sample::select(&["EUR", "eur", " Gbp", "USD\t", "jpy "][..]),
        channel in proptest::sample::select(&["amazon", "cdiscount", "fnac_darty", "mirakl"][..]),
        source in "[a-z.]{1,20}",
        marketplace_category in option::of(any::<String>()),
        request_id in option::of(any::<String>()),
    ) {
        let offer = OfferSignal {
            gtin: format!("{}{gtin}{}", gtin_padding.0, gtin_padding.1),
            channel: channel.to_owned(),
            currency: currency.to_owned(),
            source,
            marketplace_category,
            request_id,
            ..accepted_offer(String::new())
        };
        let normalised = OfferSignal {
            gtin: normalise_gtin(&offer.gtin).expect("a valid GTIN normalises"),
            currency: normalise_currency(&offer.currency).expect("an active currency normalises"),
            ..offer.clone()
        };
        prop_assert_eq!(
            check_offer(&offer, None, NOW, &GateConfig::default()),
            Verdict::Accepted(normalised)
        );
    }

    #[test]
    fn accepted_records_are_accepted_unchanged_when_checked_again(
        offer in offer(),
        stock in stock(),
        cost in cost(),
        product in product(),
        now in timestamp(),
    ) {
        let config = GateConfig::default();
        if let Verdict::Accepted(normalised) = check_offer(&offer, None, now, &config) {
            prop_assert_eq!(check_offer(&normalised, None, now, &config), Verdict::Accepted(normalised.clone()));
        }
        if let Verdict::Accepted(normalised) = check_stock(&stock, now, &config) {
            prop_assert_eq!(check_stock(&normalised, now, &config), Verdict::Accepted(normalised.clone()));
        }
        if let Verdict::Accepted(normalised) = check_cost(&cost, None, now, &config) {
            prop_assert_eq!(check_cost(&normalised, None, now, &config), Verdict::Accepted(normalised.clone()));
        }
        if let Verdict::Accepted(normalised) = check_product(&product, now, &config) {
            prop_assert_eq!(check_product(&normalised, now, &config), Verdict::Accepted(normalised.clone()));
        }
    }

    #[test]
    fn valid_gtins_are_always_accepted_as_gtin_13(gtin in valid_gtin()) {
        let normalised = normalise_gtin(&gtin).unwrap();
        prop_assert_eq!(normalised.len(), 13);
        prop_assert!(normalised.ends_with(&gtin));
        prop_assert_eq!(normalise_gtin(&normalised), Ok(normalised.clone()));
        let accepted = check_offer(&accepted_offer(gtin), None, NOW, &GateConfig::default())
            .into_result()
            .unwrap();
        prop_assert_eq!(accepted.gtin, normalised);
    }

    #[test]
    fn any_single_digit_corruption_is_rejected(
        gtin in valid_gtin(),
        position in any::<proptest::sample::Index>(),
        shift in 1u8..=9,
    ) {
        let mut digits = gtin.into_bytes();
        let at = position.index(digits.len());
        digits[at] = b'0' + (digits[at] - b'0' + shift) % 10;
        let corrupted = String::from_utf8(digits).unwrap();
        prop_assert!(normalise_gtin(&corrupted).is_err(), "{} accepted", corrupted);
        let verdict = check_offer(&accepted_offer(corrupted), None, NOW, &GateConfig::default());
        prop_assert!(matches!(verdict, Verdict::Quarantined(_)));
    }

    #[test]
    fn gtin_normalisation_is_idempotent_on_any_text(raw in any::<String>()) {
        if let Ok(normalised) = normalise_gtin(&raw) {
            prop_assert_eq!(normalise_gtin(&normalised), Ok(normalised.clone()));
        }
    }

    #[test]
    fn mappings_never_panic_on_arbitrary_rows(
        row in btree_map(
            prop_oneof![
                proptest::sample::select(&[
                    "EAN", "Prix TTC", "Qté dispo", "Qté en commande", "Qté mini", "Délai (j)",
                    "Début validité", "Fin validité", "ean", "pricing.net_cents",
                    "pricing.currency", "stock.available", "stock.incoming", "carton_qty",
                    "lead_time_days",
                ][..]).prop_map(str::to_owned),
                any::<String>(),
            ],
            prop_oneof![
                any::<String>(),
                "[-+]?[0-9 .,\u{a0}]{0,40}",
                "[0-9]{2}/[0-9]{2}/[0-9]{4}|[0-9]{4}-[0-9]{2}-[0-9]{2}",
                Just("3760123456784".to_owned()),
                Just("Rupture".to_owned()),
            ],
            0..16,
        ),
        row_number in any::<u64>(),
        observed_at in timestamp(),
    ) {
        for text in [GROSSISTE_OUEST, EUROTECH] {
            let mapping = SupplierMapping::from_toml_str(text).unwrap();
            if let Err(error) = mapping.map_row(row_number, &row, observed_at) {
                prop_assert!(error.to_string().contains(&mapping.supplier_id));
            }
        }
    }

    #[test]
    fn french_formatted_amounts_map_back_exactly(mantissa in 1i64..1_000_000_000_000, scale in 0u32..=4) {
        let amount = Decimal::new(mantissa, scale);
        let mapping = SupplierMapping::from_toml_str(
            r#"
            supplier_id = "proptest"
            source = "supplier.proptest.csv"
            currency = "EUR"
            decimal_separator = ","
            thousands_separator = " "
            [columns]
            gtin = "EAN"
            unit_cost = "Prix HT"
            "#,
        )
        .unwrap();
        let row = BTreeMap::from([
            ("EAN".to_owned(), "3760123456784".to_owned()),
            ("Prix HT".to_owned(), french(amount)),
        ]);
        let cost = mapping.map_row(1, &row, NOW).unwrap().cost.unwrap();
        prop_assert_eq!(cost.unit_cost_excl_vat, amount);
    }
}

/// Writes an amount as a French spreadsheet does: `1 234 567,89`.
fn french(amount: Decimal) -> String {
    let plain = amount.to_string();
    let (integer, fraction) = plain.split_once('.').unwrap_or((&plain, ""));
    let mut grouped = String::new();
    for (index, digit) in integer.chars().enumerate() {
        if index > 0 && (integer.len() - index) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(digit);
    }
    if fraction.is_empty() {
        grouped
    } else {
        format!("{grouped},{fraction}")
    }
}
