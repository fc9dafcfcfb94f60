//! Hand-worked cases from the published grids (docs/reference "marketplaces.md"), at and
//! around every minimum fee and FBA tier boundary. Each expected figure is worked out by
//! hand in the comment above it.

use hub_core::category::Category;
use hub_core::channel::Channel;
use hub_core::fees::{FeeSchedule, Parcel};
use hub_core::margin::{
    self, Fulfilment, MarginError, OperationalCosts, ProductCost, SaleTerms, select_product_cost,
};
use hub_core::money::{FxError, FxRates};
use hub_core::profile::EconomicsConfig;
use hub_schemas::records::{CostKind, CostSignal, EpochMillis};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use std::collections::BTreeMap;

/// 2025-06-01T00:00:00Z, after Amazon's digital services fee started.
const JUNE_2025: EpochMillis = 1_748_736_000_000;
/// 2024-06-01T00:00:00Z, before it.
const JUNE_2024: EpochMillis = 1_717_200_000_000;

fn config() -> EconomicsConfig {
    EconomicsConfig::embedded().expect("embedded configuration loads")
}

fn terms(schedule: &FeeSchedule, category: Category) -> SaleTerms<'_> {
    SaleTerms {
        schedule,
        category,
        vat_rate: dec!(0.20),
        shipping_incl_vat: Decimal::ZERO,
        levies_incl_vat: Decimal::ZERO,
        fulfilment: Fulfilment::Merchant {
            shipping_cost_excl_vat: Decimal::ZERO,
        },
        digital_services_fee: true,
        expected_monthly_units: None,
        operational: OperationalCosts::NONE,
    }
}

fn commission(terms: &SaleTerms<'_>, price: Decimal) -> Decimal {
    margin::channel_fees(terms, price)
        .unwrap()
        .commission_excl_vat
}

#[test]
fn fnac_darty_worked_example() {
    let config = config();
    let schedule = config.fees.in_force(Channel::FnacDarty, JUNE_2025).unwrap();
    let mut terms = terms(schedule, Category::LargeAppliances);
    terms.shipping_incl_vat = dec!(49);
    // 6.5% x (425 + 49) = 30.81 exactly, excl. VAT; + round(30.81 x 20%) = 6.16 -> 36.97.
    let fees = margin::channel_fees(&terms, dec!(425)).unwrap();
    assert_eq!(fees.commission_excl_vat, dec!(30.81));
    assert_eq!(schedule.fee_incl_vat(fees.commission_excl_vat), dec!(36.97));
    // Revenue: (425 + 49) / 1.2 = 395.00.
    assert_eq!(fees.revenue_excl_vat, dec!(395.00));
}

#[test]
fn fnac_darty_minimum_is_090() {
    let config = config();
    let schedule = config.fees.in_force(Channel::FnacDarty, JUNE_2025).unwrap();
    let terms = terms(schedule, Category::Books);
    // 13% x 6.92 = 0.8996 -> 0.90; 13% x 5.00 = 0.65 -> minimum 0.90; 13% x 6.96 = 0.9048.
    assert_eq!(commission(&terms, dec!(5.00)), dec!(0.90));
    assert_eq!(commission(&terms, dec!(6.92)), dec!(0.90));
    assert_eq!(commission(&terms, dec!(6.96)), dec!(0.90));
    assert_eq!(commission(&terms, dec!(7.00)), dec!(0.91));
}

#[test]
fn amazon_fifteen_percent_with_minimum_030_and_digital_services_fee() {
    let config = config();
    let schedule = config.fees.in_force(Channel::Amazon, JUNE_2025).unwrap();
    assert_eq!(&*schedule.version, "amazon-fr-2024-10-01");
    let terms = terms(schedule, Category::Other);
    // 15% x 100 = 15.00; DST 3% x 15.00 = 0.45.
    let fees = margin::channel_fees(&terms, dec!(100)).unwrap();
    assert_eq!(fees.commission_excl_vat, dec!(15.00));
    assert_eq!(fees.digital_services_fee_excl_vat, dec!(0.45));
    // 15% x 2.00 = 0.30: exactly the minimum. 15% x 2.03 = 0.3045 -> 0.30 (half-up at the
    // cent: 0.3045 is under the half cent). 15% x 2.04 = 0.306 -> 0.31.
    assert_eq!(commission(&terms, dec!(2.00)), dec!(0.30));
    assert_eq!(commission(&terms, dec!(2.03)), dec!(0.30));
    assert_eq!(commission(&terms, dec!(2.04)), dec!(0.31));
    // Under the minimum: 15% x 1.50 = 0.225 -> 0.23 < 0.30 -> 0.30; DST 3% x 0.30 = 0.009 -> 0.01.
    let fees = margin::channel_fees(&terms, dec!(1.50)).unwrap();
    assert_eq!(fees.commission_excl_vat, dec!(0.30));
    assert_eq!(fees.digital_services_fee_excl_vat, dec!(0.01));
    // A half cent rounds away from zero: 15% x 2.10 = 0.315 -> 0.32.
    assert_eq!(commission(&terms, dec!(2.10)), dec!(0.32));
}

#[test]
fn amazon_digital_services_fee_covers_fba_and_follows_schedule_and_profile() {
    let config = config();
    let schedule = config.fees.in_force(Channel::Amazon, JUNE_2025).unwrap();
    let mut terms = terms(schedule, Category::Other);
    // 420 g, 22 x 19 x 9.5 cm: small parcel (<= 3.9 kg, 35 x 25 x 12), default 4.90.
    terms.fulfilment = Fulfilment::Fba(Parcel::from_cm(dec!(420), [dec!(22), dec!(19), dec!(9.5)]));
    // 15% x 50 = 7.50; DST 3% x (7.50 + 4.90) = 0.372 -> 0.37.
    let fees = margin::channel_fees(&terms, dec!(50)).unwrap();
    assert_eq!(fees.fulfilment_fee_excl_vat, dec!(4.90));
    assert_eq!(fees.digital_services_fee_excl_vat, dec!(0.37));
    terms.digital_services_fee = false;
    assert_eq!(
        margin::channel_fees(&terms, dec!(50))
            .unwrap()
            .digital_services_fee_excl_vat,
        dec!(0)
    );
    // Before 2024-10-01 the schedule in force has no digital services fee.
    let before = config.fees.in_force(Channel::Amazon, JUNE_2024).unwrap();
    assert_eq!(&*before.version, "amazon-fr-2020-01-01");
    let mut terms = self::terms(before, Category::Other);
    terms.fulfilment = Fulfilment::Fba(Parcel::from_cm(dec!(420), [dec!(22), dec!(19), dec!(9.5)]));
    assert_eq!(
        margin::channel_fees(&terms, dec!(50))
            .unwrap()
            .digital_services_fee_excl_vat,
        dec!(0)
    );
    // Merchant shipping is our carrier's cost, not an Amazon fee: no DST on it.
    let mut terms = self::terms(schedule, Category::Other);
    terms.fulfilment = Fulfilment::Merchant {
        shipping_cost_excl_vat: dec!(5.90),
    };
    assert_eq!(
        margin::channel_fees(&terms, dec!(100))
            .unwrap()
            .digital_services_fee_excl_vat,
        dec!(0.45)
    );
}

#[test]
fn amazon_categories_without_minimum() {
    let config = config();
    let schedule = config.fees.in_force(Channel::Amazon, JUNE_2025).unwrap();
    // Consoles 8%, no minimum: 8% x 1.00 = 0.08. Books 15%, no minimum: 0.15.
    assert_eq!(
        commission(&terms(schedule, Category::VideoGameConsoles), dec!(1.00)),
        dec!(0.08)
    );
    assert_eq!(
        commission(&terms(schedule, Category::Books), dec!(1.00)),
        dec!(0.15)
    );
    assert_eq!(
        commission(&terms(schedule, Category::VideoGames), dec!(1.00)),
        dec!(0.15)
    );
    // Computers 7% with the 0.30 minimum: 7% x 4.00 = 0.28 -> 0.30; 7% x 5.00 = 0.35.
    assert_eq!(
        commission(&terms(schedule, Category::Computers), dec!(4.00)),
        dec!(0.30)
    );
    assert_eq!(
        commission(&terms(schedule, Category::Computers), dec!(5.00)),
        dec!(0.35)
    );
}

#[test]
fn cdiscount_minimum_129_and_subscription() {
    let config = config();
    let schedule = config.fees.in_force(Channel::Cdiscount, JUNE_2025).unwrap();
    let mut terms = terms(schedule, Category::Other);
    // 15% x 8.60 = 1.29: exactly the minimum; 15% x 8.63 = 1.2945 -> 1.29;
    // 15% x 8.64 = 1.296 -> 1.30; 15% x 5.00 = 0.75 -> 1.29.
    assert_eq!(commission(&terms, dec!(8.60)), dec!(1.29));
    assert_eq!(commission(&terms, dec!(8.63)), dec!(1.29));
    assert_eq!(commission(&terms, dec!(8.64)), dec!(1.30));
    assert_eq!(commission(&terms, dec!(5.00)), dec!(1.29));
    // The base includes shipping: 15% x (8.00 + 0.64) = 1.296 -> 1.30.
    terms.shipping_incl_vat = dec!(0.64);
    assert_eq!(commission(&terms, dec!(8.00)), dec!(1.30));
    // TV 5%: 5% x 699 = 34.95.
    assert_eq!(
        commission(&self::terms(schedule, Category::Tv), dec!(699)),
        dec!(34.95)
    );
    // Subscription 39.99 over 250 units = 0.15996 -> 0.16; nothing without expected units.
    let mut terms = self::terms(schedule, Category::Tv);
    assert_eq!(
        margin::channel_fees(&terms, dec!(100))
            .unwrap()
            .subscription_per_unit_excl_vat,
        dec!(0)
    );
    terms.expected_monthly_units = Some(250);
    assert_eq!(
        margin::channel_fees(&terms, dec!(100))
            .unwrap()
            .subscription_per_unit_excl_vat,
        dec!(0.16)
    );
}

fn tier(config: &EconomicsConfig, weight_g: u32, mm: [u32; 3]) -> String {
    let schedule = config.fees.in_force(Channel::Amazon, JUNE_2025).unwrap();
    let parcel = Parcel::new(Decimal::from(weight_g), mm.map(Decimal::from));
    schedule
        .fba
        .as_ref()
        .unwrap()
        .tier_for(&parcel)
        .name
        .clone()
}

#[test]
fn fba_tier_boundaries() {
    let config = config();
    let cases: &[(u32, [u32; 3], &str)] = &[
        (80, [200, 150, 10], "small_envelope"),
        (80, [10, 200, 150], "small_envelope"),
        (81, [200, 150, 10], "standard_envelope"),
        (80, [200, 150, 11], "standard_envelope"),
        (80, [201, 150, 10], "standard_envelope"),
        (460, [330, 230, 25], "standard_envelope"),
        (461, [330, 230, 25], "large_envelope"),
        (460, [330, 230, 26], "large_envelope"),
        (960, [330, 230, 40], "large_envelope"),
        (960, [330, 230, 41], "extra_large_envelope"),
        (960, [330, 230, 60], "extra_large_envelope"),
        (961, [330, 230, 60], "small_parcel"),
        (960, [330, 230, 61], "small_parcel"),
        (3900, [350, 250, 120], "small_parcel"),
        (3901, [350, 250, 120], "standard_parcel"),
        (1000, [351, 250, 120], "standard_parcel"),
        (11900, [450, 340, 260], "standard_parcel"),
        // Over 11.9 kg: too heavy for small oversize (1.76 kg) -> standard oversize.
        (11901, [450, 340, 260], "standard_oversize"),
        // 1.76 kg, 61 x 46 x 46 cm: dimensional weight 129,076,000 / 5000 = 25,815 g <= 25,820.
        (1760, [451, 340, 260], "small_oversize"),
        (1760, [610, 460, 460], "small_oversize"),
        (1761, [610, 460, 460], "standard_oversize"),
        (1000, [611, 460, 460], "standard_oversize"),
        // 120 x 60 x 60 cm: dimensional weight 86,400 g, exactly the limit.
        (29760, [1200, 600, 600], "standard_oversize"),
        (29761, [1200, 600, 600], "large_oversize"),
        (20000, [1201, 600, 600], "large_oversize"),
        (31500, [1500, 700, 700], "large_oversize"),
        (31501, [1500, 700, 700], "special_oversize"),
    ];
    for (weight, mm, expected) in cases {
        assert_eq!(
            &tier(&config, *weight, *mm),
            expected,
            "{weight} g, {mm:?} mm"
        );
    }
}

#[test]
fn levies_are_neither_revenue_nor_cost_and_totals_are_exact_sums() {
    let config = config();
    let schedule = config.fees.in_force(Channel::Cdiscount, JUNE_2025).unwrap();
    let mut terms = terms(schedule, Category::Tv);
    terms.levies_incl_vat = dec!(12.00);
    terms.expected_monthly_units = Some(250);
    terms.fulfilment = Fulfilment::Merchant {
        shipping_cost_excl_vat: dec!(5.90),
    };
    terms.operational = OperationalCosts {
        handling_excl_vat: dec!(1.20),
        returns_provision_rate: dec!(0.02),
        storage_excl_vat: dec!(0.15),
    };
    let cost = ProductCost {
        unit_cost_excl_vat: dec!(440),
        source: "supplier:x".into(),
        observed_at: JUNE_2025,
    };
    let margin = margin::margin(&terms, dec!(699), &cost).unwrap();
    let fees = margin.fees;
    // Revenue (699 - 12) / 1.2 = 572.50; the commission base keeps the levy: 5% x 699 = 34.95.
    assert_eq!(fees.revenue_excl_vat, dec!(572.50));
    assert_eq!(fees.commission_excl_vat, dec!(34.95));
    // Operational: 1.20 + 0.15 + round(2% x 572.50 = 11.45) = 12.80.
    assert_eq!(fees.operational_cost_excl_vat, dec!(12.80));
    // 572.50 - 34.95 - 0 - 5.90 - 0.16 - 12.80 - 440 = 78.69.
    assert_eq!(margin.net_margin_excl_vat, dec!(78.69));
    assert_eq!(
        margin.net_margin_excl_vat,
        fees.revenue_excl_vat
            - fees.commission_excl_vat
            - fees.digital_services_fee_excl_vat
            - fees.fulfilment_fee_excl_vat
            - fees.subscription_per_unit_excl_vat
            - fees.operational_cost_excl_vat
            - margin.product_cost_excl_vat
    );
    // 78.69 / 572.50 = 0.137449..; 78.69 / 440 = 0.178840..
    assert_eq!(margin.margin_rate.to_string(), "0.137450");
    assert_eq!(margin.roi.to_string(), "0.178841");
    let breakdown = margin::breakdown(&margin, &terms, &cost.source);
    assert_eq!(breakdown.levies_incl_vat.to_string(), "12.0000");
    assert_eq!(breakdown.net_margin_excl_vat.to_string(), "78.6900");
}

#[test]
fn target_price_solves_through_the_minimum_fee() {
    let config = config();
    let schedule = config.fees.in_force(Channel::Cdiscount, JUNE_2025).unwrap();
    let terms = terms(schedule, Category::Other);
    let cost = ProductCost {
        unit_cost_excl_vat: dec!(4.00),
        source: "supplier:x".into(),
        observed_at: JUNE_2025,
    };
    // Under the 1.29 minimum: R x (1 - 0.12) = 1.29 + 4.00 -> R = 6.0114 -> P = 7.2136 -> 7.22,
    // where 15% x 7.22 = 1.083 < 1.29, so the minimum regime holds.
    let price = margin::price_for_margin_rate(&terms, &cost, dec!(0.12))
        .unwrap()
        .unwrap();
    assert_eq!(price, dec!(7.22));
    let at_price = margin::margin(&terms, price, &cost).unwrap();
    assert!(at_price.margin_rate >= dec!(0.12));
    let below = margin::margin(&terms, price - dec!(0.01), &cost).unwrap();
    assert!(below.net_margin_excl_vat < dec!(0.12) * below.fees.revenue_excl_vat);
    // When shipping alone reaches the target, the lowest listing price is one cent.
    let mut paid_by_shipping = terms;
    paid_by_shipping.shipping_incl_vat = dec!(20.55);
    let cheap = ProductCost {
        unit_cost_excl_vat: dec!(0.01),
        ..cost.clone()
    };
    let price = margin::price_for_margin_rate(&paid_by_shipping, &cheap, dec!(0)).unwrap();
    assert_eq!(price, Some(dec!(0.01)));
    // Proportional fees of 15% x 1.2 = 18% of revenue plus a 90% target leave nothing.
    assert_eq!(
        margin::price_for_margin_rate(&terms, &cost, dec!(0.90)).unwrap(),
        None
    );
}

fn cost_line(kind: CostKind, supplier: Option<&str>, cost: Decimal, currency: &str) -> CostSignal {
    CostSignal {
        gtin: "4006381333931".into(),
        cost_kind: kind,
        supplier_id: supplier.map(str::to_owned),
        unit_cost_excl_vat: cost,
        currency: currency.into(),
        moq: None,
        valid_from: None,
        valid_to: None,
        lead_time_days: None,
        source: "test".into(),
        request_id: None,
        observed_at: JUNE_2025,
    }
}

#[test]
fn product_cost_is_the_best_valid_supplier_price_else_erp() {
    let fx = FxRates {
        base: "EUR".into(),
        rates: BTreeMap::from([("USD".into(), dec!(0.9))]),
    };
    let mut expired = cost_line(CostKind::SupplierPrice, Some("a"), dec!(5), "EUR");
    expired.valid_to = Some(JUNE_2025 - 1);
    let mut future = cost_line(CostKind::SupplierPrice, Some("b"), dec!(6), "EUR");
    future.valid_from = Some(JUNE_2025 + 1);
    let usd = cost_line(CostKind::SupplierPrice, Some("c"), dec!(10), "USD");
    let eur = cost_line(CostKind::SupplierPrice, Some("d"), dec!(9.50), "EUR");
    let erp = cost_line(CostKind::ErpStandardCost, None, dec!(8), "EUR");
    let lines = [expired.clone(), future.clone(), usd, eur, erp.clone()];
    // USD 10 x 0.9 = EUR 9.00 beats EUR 9.50; expired and future lines are ignored.
    let chosen = select_product_cost(&lines, "EUR", &fx, JUNE_2025)
        .unwrap()
        .unwrap();
    assert_eq!(
        (chosen.unit_cost_excl_vat, chosen.source.as_str()),
        (dec!(9.0000), "supplier:c")
    );
    // With no valid supplier line, the ERP standard cost.
    let lines = [expired, future, erp];
    let chosen = select_product_cost(&lines, "EUR", &fx, JUNE_2025)
        .unwrap()
        .unwrap();
    assert_eq!(
        (chosen.unit_cost_excl_vat, chosen.source.as_str()),
        (dec!(8), "erp_standard_cost")
    );
    // A currency without a rate is an error naming it.
    let chf = cost_line(CostKind::SupplierPrice, Some("e"), dec!(7), "CHF");
    let error = select_product_cost(&[chf], "EUR", &fx, JUNE_2025).unwrap_err();
    assert!(matches!(&error, FxError::MissingRate { currency, .. } if currency == "CHF"));
    assert!(error.to_string().contains("CHF"));
}

#[test]
fn fba_on_a_channel_without_fba_table_is_refused() {
    let config = config();
    let schedule = config.fees.in_force(Channel::Cdiscount, JUNE_2025).unwrap();
    let mut terms = terms(schedule, Category::Tv);
    terms.fulfilment = Fulfilment::Fba(Parcel::from_cm(dec!(100), [dec!(1), dec!(1), dec!(1)]));
    let error = margin::channel_fees(&terms, dec!(10)).unwrap_err();
    assert!(matches!(
        error,
        MarginError::NoFbaTable {
            channel: Channel::Cdiscount,
            ..
        }
    ));
}
