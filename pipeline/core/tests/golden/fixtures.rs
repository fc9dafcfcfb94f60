//! A fixed catalogue of references across channels, categories and situations, shared by the
//! golden, action and benchmark code (included with `#[path]`, so it is compiled into each).

#![allow(dead_code)] // Each including crate uses its own part of the catalogue.

use hub_core::channel::Channel;
use hub_core::money::FxRates;
use hub_core::profile::{EconomicsConfig, SellerProfile};
use hub_core::score::{ScoringInput, score_reference};
use hub_schemas::records::{
    CostKind, CostSignal, EpochMillis, Levy, LevyKind, OfferSignal, ProductReference,
    ReferenceScore, StockSignal, StockSource,
};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

/// 2026-03-02T10:00:00Z: the moment the catalogue describes.
pub const T: EpochMillis = 1_772_445_600_000;
pub const HOUR: EpochMillis = 3_600_000;
pub const DAY: EpochMillis = 24 * HOUR;

pub fn d(text: &str) -> Decimal {
    Decimal::from_str(text).expect("fixture decimals are valid")
}

/// A seller profile fulfilling Amazon orders with FBA, otherwise the default profile.
pub const FBA_PROFILE: &str = r#"
name = "fba"
version = "1"
digital_services_fee = true
handling_cost_excl_vat = "0.80"
storage_cost_per_unit_excl_vat = "0.25"
returns_provision_rate = "0.02"
[channels.amazon]
fulfilment = "fba"
merchant_shipping_cost_excl_vat = "0"
expected_monthly_units = 400
[channels.cdiscount]
fulfilment = "merchant"
merchant_shipping_cost_excl_vat = "5.90"
[channels.fnac_darty]
fulfilment = "merchant"
merchant_shipping_cost_excl_vat = "5.90"
[channels.mirakl]
fulfilment = "merchant"
merchant_shipping_cost_excl_vat = "5.90"
"#;

#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub reference: ProductReference,
    pub channel: Channel,
    pub offer: Option<OfferSignal>,
    pub stock: Vec<StockSignal>,
    pub costs: Vec<CostSignal>,
    pub fba_seller: bool,
    pub now: Option<EpochMillis>,
}

pub fn reference(gtin: &str, category: &str, vat: &str) -> ProductReference {
    ProductReference {
        gtin: gtin.into(),
        sku: format!("SKU-{gtin}"),
        title: format!("Item {gtin}"),
        brand: Some("Brand".into()),
        category: category.into(),
        vat_rate: d(vat),
        weight_g: None,
        length_mm: None,
        width_mm: None,
        height_mm: None,
        levies: vec![],
        source: "odoo.product.product".into(),
        updated_at: T - 30 * DAY,
        active: true,
    }
}

pub fn offer(gtin: &str, channel: Channel, observed_at: EpochMillis) -> OfferSignal {
    OfferSignal {
        gtin: gtin.into(),
        channel: channel.key().into(),
        currency: "EUR".into(),
        our_price_incl_vat: None,
        our_shipping_incl_vat: None,
        buy_box_price_incl_vat: None,
        we_own_buy_box: None,
        lowest_listing_price_incl_vat: None,
        lowest_shipping_incl_vat: None,
        lowest_landed_price_incl_vat: None,
        offer_count: None,
        sales_rank: None,
        marketplace_category: None,
        source: format!("{channel}.offers"),
        request_id: None,
        observed_at,
    }
}

pub fn stock(gtin: &str, source: StockSource, quantity: i64, lead: Option<i32>) -> StockSignal {
    StockSignal {
        gtin: gtin.into(),
        stock_source: source,
        location: Some("main".into()),
        quantity,
        incoming_quantity: None,
        lead_time_days: lead,
        source: "odoo.stock".into(),
        request_id: None,
        observed_at: T - 6 * HOUR,
    }
}

pub fn supplier_cost(gtin: &str, supplier: &str, cost: &str, currency: &str) -> CostSignal {
    CostSignal {
        gtin: gtin.into(),
        cost_kind: CostKind::SupplierPrice,
        supplier_id: Some(supplier.into()),
        unit_cost_excl_vat: d(cost),
        currency: currency.into(),
        moq: Some(1),
        valid_from: Some(T - 60 * DAY),
        valid_to: Some(T + 60 * DAY),
        lead_time_days: Some(4),
        source: "supplier.pricelist".into(),
        request_id: None,
        observed_at: T - 2 * DAY,
    }
}

pub fn erp_cost(gtin: &str, cost: &str) -> CostSignal {
    CostSignal {
        cost_kind: CostKind::ErpStandardCost,
        supplier_id: None,
        valid_from: None,
        valid_to: None,
        lead_time_days: None,
        source: "odoo.product.product".into(),
        ..supplier_cost(gtin, "erp", cost, "EUR")
    }
}

pub fn fx() -> FxRates {
    FxRates {
        base: "EUR".into(),
        rates: BTreeMap::from([("USD".into(), d("0.92"))]),
    }
}

pub fn catalogue() -> Vec<Case> {
    let mut cases = Vec::new();
    let case = |name, reference: ProductReference, channel, offer, stock, costs| Case {
        name,
        reference,
        channel,
        offer,
        stock,
        costs,
        fba_seller: false,
        now: None,
    };

    // A laptop we list on Amazon and win the buy box with, well above target margin.
    let gtin = "4006381333931";
    let mut o = offer(gtin, Channel::Amazon, T - HOUR);
    o.our_price_incl_vat = Some(d("899.00"));
    o.our_shipping_incl_vat = Some(d("0"));
    o.buy_box_price_incl_vat = Some(d("899.00"));
    o.we_own_buy_box = Some(true);
    o.lowest_landed_price_incl_vat = Some(d("889.00"));
    o.offer_count = Some(4);
    o.sales_rank = Some(150);
    o.marketplace_category = Some("pc_display_on_website".into());
    cases.push(case(
        "amazon_laptop_owns_buy_box",
        reference(gtin, "computers", "0.20"),
        Channel::Amazon,
        Some(o),
        vec![stock(gtin, StockSource::Erp, 12, None)],
        vec![
            supplier_cost(gtin, "ingram", "560.00", "EUR"),
            erp_cost(gtin, "590.00"),
        ],
    ));

    // The same kind of laptop, listed above the buy box we lost.
    let gtin = "4006381333948";
    let mut o = offer(gtin, Channel::Amazon, T - HOUR);
    o.our_price_incl_vat = Some(d("949.00"));
    o.our_shipping_incl_vat = Some(d("0"));
    o.buy_box_price_incl_vat = Some(d("919.00"));
    o.we_own_buy_box = Some(false);
    o.lowest_landed_price_incl_vat = Some(d("915.00"));
    o.offer_count = Some(7);
    o.sales_rank = Some(420);
    cases.push(case(
        "amazon_laptop_losing_buy_box",
        reference(gtin, "computers", "0.20"),
        Channel::Amazon,
        Some(o),
        vec![stock(gtin, StockSource::Erp, 3, None)],
        vec![supplier_cost(gtin, "ingram", "690.00", "EUR")],
    ));

    // A book: 15% with no minimum, 5.5% VAT; our own shipping cost sinks it: delist.
    let gtin = "9782070368228";
    let mut o = offer(gtin, Channel::Amazon, T - 3 * HOUR);
    o.our_price_incl_vat = Some(d("9.90"));
    o.our_shipping_incl_vat = Some(d("0"));
    o.buy_box_price_incl_vat = Some(d("9.90"));
    o.we_own_buy_box = Some(true);
    o.offer_count = Some(12);
    o.sales_rank = Some(2500);
    o.marketplace_category = Some("book_display_on_website".into());
    cases.push(case(
        "amazon_book_shipping_cost_delist",
        reference(gtin, "books", "0.055"),
        Channel::Amazon,
        Some(o),
        vec![stock(gtin, StockSource::Erp, 40, None)],
        vec![supplier_cost(gtin, "sodis", "5.10", "EUR")],
    ));

    // Headphones sold through FBA: size tier from the packed dimensions, 3% digital services fee.
    let gtin = "5901234123457";
    let mut r = reference(gtin, "consumer_electronics", "0.20");
    r.weight_g = Some(420);
    r.length_mm = Some(220);
    r.width_mm = Some(190);
    r.height_mm = Some(95);
    r.levies = vec![Levy {
        kind: LevyKind::DeeeEcoParticipation,
        amount_incl_vat: d("0.10"),
    }];
    let mut o = offer(gtin, Channel::Amazon, T - 2 * HOUR);
    o.our_price_incl_vat = Some(d("149.00"));
    o.our_shipping_incl_vat = Some(d("0"));
    o.buy_box_price_incl_vat = Some(d("149.00"));
    o.we_own_buy_box = Some(true);
    o.offer_count = Some(3);
    o.sales_rank = Some(60);
    let mut c = case(
        "amazon_fba_headphones",
        r,
        Channel::Amazon,
        Some(o),
        vec![
            stock(gtin, StockSource::Fba, 55, None),
            stock(gtin, StockSource::Erp, 10, None),
        ],
        vec![supplier_cost(gtin, "techdata", "88.40", "EUR")],
    );
    c.fba_seller = true;
    cases.push(c);

    // FBA asked for, but the reference has no dimensions: fulfilment cannot be priced.
    let gtin = "5901234123464";
    let mut o = offer(gtin, Channel::Amazon, T - 2 * HOUR);
    o.our_price_incl_vat = Some(d("59.00"));
    o.our_shipping_incl_vat = Some(d("0"));
    o.buy_box_price_incl_vat = Some(d("59.00"));
    o.we_own_buy_box = Some(true);
    o.offer_count = Some(2);
    let mut c = case(
        "amazon_fba_missing_dimensions",
        reference(gtin, "accessories", "0.20"),
        Channel::Amazon,
        Some(o),
        vec![stock(gtin, StockSource::Fba, 8, None)],
        vec![supplier_cost(gtin, "techdata", "21.00", "EUR")],
    );
    c.fba_seller = true;
    cases.push(c);

    // A console bought in USD, in our warehouse, not yet listed: list it.
    let gtin = "0711719541028";
    let mut o = offer(gtin, Channel::Amazon, T - HOUR);
    o.buy_box_price_incl_vat = Some(d("549.99"));
    o.lowest_landed_price_incl_vat = Some(d("539.00"));
    o.offer_count = Some(9);
    o.sales_rank = Some(35);
    cases.push(case(
        "amazon_console_usd_cost_list",
        reference(gtin, "video_game_consoles", "0.20"),
        Channel::Amazon,
        Some(o),
        vec![stock(gtin, StockSource::Erp, 6, None)],
        vec![supplier_cost(gtin, "us-distri", "360.00", "USD")],
    ));

    // The supplier price has expired: the ERP standard cost is used instead.
    let gtin = "3017620422003";
    let mut expired = supplier_cost(gtin, "old-supplier", "10.00", "EUR");
    expired.valid_to = Some(T - 10 * DAY);
    let mut o = offer(gtin, Channel::Amazon, T - HOUR);
    o.our_price_incl_vat = Some(d("34.90"));
    o.our_shipping_incl_vat = Some(d("0"));
    o.buy_box_price_incl_vat = Some(d("34.90"));
    o.we_own_buy_box = Some(true);
    o.offer_count = Some(5);
    o.sales_rank = Some(9000);
    cases.push(case(
        "amazon_expired_supplier_price_erp_fallback",
        reference(gtin, "small_appliances", "0.20"),
        Channel::Amazon,
        Some(o),
        vec![stock(gtin, StockSource::Erp, 20, None)],
        vec![expired, erp_cost(gtin, "11.00")],
    ));

    // A TV we do not hold, profitable at the buy box, at a supplier with a 5-day lead time.
    let gtin = "8806094939853";
    let mut r = reference(gtin, "tv", "0.20");
    r.levies = vec![Levy {
        kind: LevyKind::DeeeEcoParticipation,
        amount_incl_vat: d("12.00"),
    }];
    let mut o = offer(gtin, Channel::Cdiscount, T - 4 * HOUR);
    o.buy_box_price_incl_vat = Some(d("699.00"));
    o.lowest_landed_price_incl_vat = Some(d("689.00"));
    o.offer_count = Some(6);
    cases.push(case(
        "cdiscount_tv_source",
        r,
        Channel::Cdiscount,
        Some(o),
        vec![
            stock(gtin, StockSource::Erp, 0, None),
            stock(gtin, StockSource::Supplier, 80, Some(5)),
        ],
        vec![
            supplier_cost(gtin, "samsung-fr", "452.00", "EUR"),
            supplier_cost(gtin, "grossiste-b", "440.00", "EUR"),
        ],
    ));

    // A cheap cable: the EUR 1.29 minimum commission and shipping eat the margin: delist.
    let gtin = "3700000000001";
    let mut o = offer(gtin, Channel::Cdiscount, T - HOUR);
    o.our_price_incl_vat = Some(d("7.99"));
    o.our_shipping_incl_vat = Some(d("0"));
    o.buy_box_price_incl_vat = Some(d("7.99"));
    o.we_own_buy_box = Some(true);
    o.offer_count = Some(15);
    cases.push(case(
        "cdiscount_cable_minimum_fee_delist",
        reference(gtin, "accessories", "0.20"),
        Channel::Cdiscount,
        Some(o),
        vec![stock(gtin, StockSource::Erp, 300, None)],
        vec![supplier_cost(gtin, "cables-co", "1.40", "EUR")],
    ));

    // The marketplace reports a category the map does not know: charged under our own.
    let gtin = "3700000000018";
    let mut o = offer(gtin, Channel::Cdiscount, T - HOUR);
    o.our_price_incl_vat = Some(d("89.00"));
    o.our_shipping_incl_vat = Some(d("4.99"));
    o.buy_box_price_incl_vat = Some(d("92.00"));
    o.we_own_buy_box = Some(true);
    o.offer_count = Some(3);
    o.marketplace_category = Some("Jardin - Piscine".into());
    cases.push(case(
        "cdiscount_unmapped_category",
        reference(gtin, "diy", "0.20"),
        Channel::Cdiscount,
        Some(o),
        vec![stock(gtin, StockSource::Erp, 14, None)],
        vec![supplier_cost(gtin, "bricopro", "41.00", "EUR")],
    ));

    // A kettle in our warehouse, not listed on Cdiscount, profitable at the buy box: list.
    let gtin = "3700000000025";
    let mut o = offer(gtin, Channel::Cdiscount, T - 2 * HOUR);
    o.buy_box_price_incl_vat = Some(d("59.90"));
    o.lowest_landed_price_incl_vat = Some(d("57.50"));
    o.offer_count = Some(4);
    cases.push(case(
        "cdiscount_kettle_list",
        reference(gtin, "small_appliances", "0.20"),
        Channel::Cdiscount,
        Some(o),
        vec![stock(gtin, StockSource::Erp, 25, None)],
        vec![supplier_cost(gtin, "seb", "27.00", "EUR")],
    ));

    // Fnac Darty's own worked example, with DEEE eco-participation included in the price.
    let gtin = "3700000000032";
    let mut r = reference(gtin, "large_appliances", "0.20");
    r.levies = vec![Levy {
        kind: LevyKind::DeeeEcoParticipation,
        amount_incl_vat: d("10.00"),
    }];
    let mut o = offer(gtin, Channel::FnacDarty, T - HOUR);
    o.our_price_incl_vat = Some(d("425.00"));
    o.our_shipping_incl_vat = Some(d("49.00"));
    o.buy_box_price_incl_vat = Some(d("469.00"));
    o.we_own_buy_box = Some(false);
    o.offer_count = Some(4);
    o.marketplace_category = Some("Gros électroménager".into());
    cases.push(case(
        "fnac_darty_fridge_worked_example",
        r,
        Channel::FnacDarty,
        Some(o),
        vec![stock(gtin, StockSource::Erp, 2, None)],
        vec![supplier_cost(gtin, "whirlpool", "300.00", "EUR")],
    ));

    // No cost line at all: no margin, hold, product_cost named as missing.
    let gtin = "3700000000049";
    let mut o = offer(gtin, Channel::FnacDarty, T - HOUR);
    o.our_price_incl_vat = Some(d("329.00"));
    o.our_shipping_incl_vat = Some(d("0"));
    o.buy_box_price_incl_vat = Some(d("329.00"));
    o.we_own_buy_box = Some(true);
    o.offer_count = Some(5);
    cases.push(case(
        "fnac_darty_phone_missing_cost",
        reference(gtin, "phones", "0.20"),
        Channel::FnacDarty,
        Some(o),
        vec![stock(gtin, StockSource::Erp, 4, None)],
        vec![],
    ));

    // A five-day-old offer scored at an explicit now: freshness and confidence drop.
    let gtin = "3700000000056";
    let mut o = offer(gtin, Channel::FnacDarty, T - 5 * DAY);
    o.our_price_incl_vat = Some(d("64.99"));
    o.our_shipping_incl_vat = Some(d("0"));
    o.buy_box_price_incl_vat = Some(d("64.99"));
    o.we_own_buy_box = Some(true);
    o.offer_count = Some(2);
    let mut c = case(
        "fnac_darty_stale_offer",
        reference(gtin, "video_games", "0.20"),
        Channel::FnacDarty,
        Some(o),
        vec![stock(gtin, StockSource::Erp, 9, None)],
        vec![supplier_cost(gtin, "ubisoft", "38.00", "EUR")],
    );
    c.now = Some(T);
    cases.push(c);

    // A sofa listed on a Mirakl marketplace below the target margin: reprice up.
    let gtin = "3700000000063";
    let mut o = offer(gtin, Channel::Mirakl, T - HOUR);
    o.our_price_incl_vat = Some(d("399.00"));
    o.our_shipping_incl_vat = Some(d("39.00"));
    o.buy_box_price_incl_vat = Some(d("438.00"));
    o.we_own_buy_box = Some(true);
    o.offer_count = Some(1);
    cases.push(case(
        "mirakl_sofa_below_target_reprice",
        reference(gtin, "furniture", "0.20"),
        Channel::Mirakl,
        Some(o),
        vec![stock(gtin, StockSource::Supplier, 5, Some(21))],
        vec![supplier_cost(gtin, "meubles-sa", "265.00", "EUR")],
    ));

    // Nothing seen on the channel yet: every market factor is missing.
    let gtin = "3700000000070";
    cases.push(case(
        "mirakl_no_offer",
        reference(gtin, "other", "0.20"),
        Channel::Mirakl,
        None,
        vec![stock(gtin, StockSource::Erp, 3, None)],
        vec![supplier_cost(gtin, "misc", "12.00", "EUR")],
    ));

    cases
}

/// Scores a case under the embedded configuration and default profiles.
pub fn score_case(config: &EconomicsConfig, fba: &SellerProfile, case: &Case) -> ReferenceScore {
    let seller = if case.fba_seller {
        fba
    } else {
        config.seller("default").expect("default seller profile")
    };
    score_reference(&ScoringInput {
        reference: &case.reference,
        channel: case.channel,
        offer: case.offer.as_ref(),
        stock: &case.stock,
        costs: &case.costs,
        config,
        weights: config.weights("default").expect("default weights"),
        seller,
        fx: &fx(),
        version: 1,
        now: case.now,
    })
    .unwrap_or_else(|error| panic!("{}: {error}", case.name))
}

pub fn fba_profile() -> SellerProfile {
    SellerProfile::parse("profiles/fba.toml", FBA_PROFILE).expect("fixture profile is valid")
}
