//! Properties of the simulated event stream.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use hub_core::channel::Channel;
use hub_market_sim::{
    Catalogue, CatalogueParams, CorruptRecord, EmissionCounts, MarketEvent, MarketSimulation,
    Phase, RecordKind, SimulationError, SimulationParams, is_valid_gtin13, offer_source, reason,
};
use hub_schemas::records::{CostKind, CostSignal, OfferSignal, StockSource};
use rust_decimal::Decimal;

fn simulation(references: usize, params: SimulationParams) -> MarketSimulation {
    let catalogue = Catalogue::generate(&CatalogueParams {
        references,
        ..CatalogueParams::default()
    })
    .expect("valid catalogue parameters");
    MarketSimulation::new(catalogue, params).expect("valid simulation parameters")
}

fn events(references: usize, params: SimulationParams, count: usize) -> Vec<MarketEvent> {
    simulation(references, params).take(count).collect()
}

fn good_only(events: Vec<MarketEvent>) -> Vec<MarketEvent> {
    events
        .into_iter()
        .filter(|event| !matches!(event, MarketEvent::Corrupt { .. }))
        .collect()
}

/// The prices of an offer the quality gate bounds against the previous accepted offer.
fn offer_prices(offer: &OfferSignal) -> [Option<Decimal>; 4] {
    [
        offer.our_price_incl_vat,
        offer.buy_box_price_incl_vat,
        offer.lowest_listing_price_incl_vat,
        offer.lowest_landed_price_incl_vat,
    ]
}

fn within_ratio(new: Decimal, previous: Decimal, ratio: i64) -> bool {
    let ratio = Decimal::from(ratio);
    new <= previous * ratio && previous <= new * ratio
}

#[test]
fn same_seed_gives_the_same_sequence_and_another_seed_another() {
    let params = SimulationParams::default();
    let first = events(800, params.clone(), 30_000);
    assert_eq!(first, events(800, params.clone(), 30_000));
    let reseeded = events(800, SimulationParams { seed: 8, ..params }, 30_000);
    assert_ne!(first, reseeded);
}

#[test]
fn corrupt_records_do_not_perturb_the_good_stream() {
    let clean = events(
        600,
        SimulationParams {
            corrupt_rate: 0.0,
            ..SimulationParams::default()
        },
        20_000,
    );
    assert!(
        clean
            .iter()
            .all(|event| !matches!(event, MarketEvent::Corrupt { .. }))
    );
    let dirty = good_only(events(
        600,
        SimulationParams {
            corrupt_rate: 0.2,
            ..SimulationParams::default()
        },
        30_000,
    ));
    assert!(dirty.len() >= clean.len());
    assert_eq!(clean, dirty[..clean.len()]);
}

#[test]
fn products_come_first_then_a_snapshot_of_every_signal() {
    let mut market = simulation(
        300,
        SimulationParams {
            corrupt_rate: 0.0,
            ..SimulationParams::default()
        },
    );
    let catalogue = market.catalogue().clone();
    for reference in &catalogue.references {
        assert_eq!(
            market.next_event(),
            MarketEvent::Product(reference.product.clone())
        );
    }
    assert_eq!(
        market.phase(),
        Phase::Snapshot {
            reference: 0,
            step: 0
        }
    );
    let mut costs = BTreeMap::<String, usize>::new();
    let mut stock = BTreeSet::new();
    let mut offers = BTreeSet::new();
    while market.phase() != Phase::Changes {
        match market.next_event() {
            MarketEvent::Cost(cost) => *costs.entry(cost.gtin).or_default() += 1,
            MarketEvent::Stock(signal) => {
                stock.insert((signal.gtin, signal.stock_source, signal.location));
            }
            MarketEvent::Offer(offer) => {
                offers.insert((offer.gtin, offer.channel));
            }
            other => panic!("unexpected snapshot event {other:?}"),
        }
    }
    for reference in &catalogue.references {
        let gtin = reference.product.gtin.as_str();
        // One cost per supplier plus the ERP standard cost.
        assert_eq!(costs[gtin], reference.supplier_offers.len() + 1);
        for offer in &reference.supplier_offers {
            let supplier = &catalogue.suppliers[offer.supplier];
            assert!(stock.contains(&(
                gtin.to_owned(),
                StockSource::Supplier,
                Some(supplier.id.clone())
            )));
        }
        assert!(stock.contains(&(
            gtin.to_owned(),
            StockSource::Erp,
            Some("WH/Stock".to_owned())
        )));
        let fba = reference
            .listings
            .iter()
            .any(|listing| listing.fulfilled_by_amazon);
        assert_eq!(
            fba,
            stock.contains(&(
                gtin.to_owned(),
                StockSource::Fba,
                Some("A13V1IB3VIYZZH".to_owned())
            ))
        );
        for listing in &reference.listings {
            assert!(offers.contains(&(gtin.to_owned(), listing.channel.key().to_owned())));
        }
    }
    assert_eq!(
        market.counts().offer_pairs.len(),
        catalogue
            .references
            .iter()
            .map(|r| r.listings.len())
            .sum::<usize>()
    );
}

#[test]
fn good_records_are_self_consistent_and_move_plausibly() {
    let mut market = simulation(2_000, SimulationParams::default());
    let mut previous_offers: HashMap<(String, String), OfferSignal> = HashMap::new();
    let mut previous_costs: HashMap<(String, Option<String>), CostSignal> = HashMap::new();
    let mut clock = market.now();
    let mut kinds = BTreeMap::new();
    let (mut wars_or_moves, mut owned_buy_boxes) = (0usize, 0usize);
    for _ in 0..100_000 {
        let event = market.next_event();
        let now = market.now();
        assert!(now >= clock, "the clock never goes back");
        clock = now;
        *kinds.entry(event.kind()).or_insert(0usize) += 1;
        match event {
            MarketEvent::Offer(offer) => {
                assert_eq!(offer.observed_at, now);
                let channel: Channel = offer.channel.parse().expect("channel key");
                assert_eq!(offer.source, offer_source(channel));
                assert_eq!(offer.currency, "EUR");
                assert!(offer.request_id.as_deref().is_some_and(|id| id.len() == 36));
                assert!(is_valid_gtin13(&offer.gtin));
                for price in offer_prices(&offer).into_iter().flatten() {
                    assert!(price > Decimal::ZERO, "{offer:?}");
                }
                for shipping in [offer.our_shipping_incl_vat, offer.lowest_shipping_incl_vat] {
                    assert!(shipping.is_none_or(|amount| amount >= Decimal::ZERO));
                }
                assert_eq!(
                    offer.our_price_incl_vat.is_some(),
                    offer.our_shipping_incl_vat.is_some()
                );
                if let Some(landed) = offer.lowest_landed_price_incl_vat {
                    assert_eq!(
                        landed,
                        offer.lowest_listing_price_incl_vat.unwrap()
                            + offer.lowest_shipping_incl_vat.unwrap()
                    );
                }
                match (
                    offer.buy_box_price_incl_vat,
                    offer.lowest_landed_price_incl_vat,
                ) {
                    (Some(buy_box), Some(lowest)) if offer.we_own_buy_box == Some(false) => {
                        assert!(buy_box >= lowest, "{offer:?}");
                    }
                    (Some(buy_box), lowest) if offer.we_own_buy_box == Some(true) => {
                        owned_buy_boxes += 1;
                        let ours = offer.our_price_incl_vat.unwrap()
                            + offer.our_shipping_incl_vat.unwrap();
                        assert_eq!(buy_box, ours);
                        // We win it by being cheapest, through FBA's 2% advantage, or by a
                        // rotation among offers within 5% of the best.
                        assert!(lowest.is_none_or(|lowest| {
                            buy_box * Decimal::new(98, 2) <= lowest * Decimal::new(105, 2)
                        }));
                    }
                    _ => {}
                }
                let count = offer.offer_count.expect("count");
                assert!(count >= 1);
                assert!(
                    count > i32::from(offer.our_price_incl_vat.is_some())
                        || offer.lowest_landed_price_incl_vat.is_none()
                );
                assert_eq!(offer.sales_rank.is_some(), channel == Channel::Amazon);
                assert!(offer.sales_rank.is_none_or(|rank| rank >= 1));
                let key = (offer.gtin.clone(), offer.channel.clone());
                if let Some(previous) = previous_offers.get(&key) {
                    for (new, old) in offer_prices(&offer).into_iter().zip(offer_prices(previous)) {
                        if let (Some(new), Some(old)) = (new, old) {
                            assert!(within_ratio(new, old, 8), "{previous:?} -> {offer:?}");
                            if new != old {
                                wars_or_moves += 1;
                            }
                        }
                    }
                }
                previous_offers.insert(key, offer);
            }
            MarketEvent::Stock(stock) => {
                assert_eq!(stock.observed_at, now);
                assert!(stock.quantity >= 0 && stock.incoming_quantity.is_none_or(|q| q >= 0));
                assert!(stock.location.is_some());
                assert!(stock.lead_time_days.is_none_or(|days| days >= 0));
            }
            MarketEvent::Cost(cost) => {
                assert_eq!(cost.observed_at, now);
                assert!(cost.unit_cost_excl_vat > Decimal::ZERO);
                assert!(cost.valid_from.is_none_or(|from| from <= now));
                assert!(cost.valid_to.is_none_or(|to| now <= to));
                assert_eq!(
                    cost.supplier_id.is_some(),
                    cost.cost_kind == CostKind::SupplierPrice
                );
                assert!(market.catalogue().eur_per_unit(&cost.currency).is_some());
                let key = (cost.gtin.clone(), cost.supplier_id.clone());
                if let Some(previous) = previous_costs.get(&key) {
                    assert!(within_ratio(
                        cost.unit_cost_excl_vat,
                        previous.unit_cost_excl_vat,
                        8
                    ));
                }
                previous_costs.insert(key, cost);
            }
            MarketEvent::Product(product) => assert!(is_valid_gtin13(&product.gtin)),
            MarketEvent::Corrupt { .. } => {}
        }
    }
    assert_eq!(kinds.len(), RecordKind::ALL.len(), "{kinds:?}");
    assert!(wars_or_moves > 10_000, "{wars_or_moves}");
    assert!(owned_buy_boxes > 1_000, "{owned_buy_boxes}");
    for ((gtin, channel), offer) in &previous_offers {
        let reference = market
            .catalogue()
            .references
            .iter()
            .position(|r| &r.product.gtin == gtin)
            .expect("offer of a catalogue reference");
        let channel: Channel = channel.parse().unwrap();
        assert_eq!(market.last_offer(reference, channel), Some(offer));
    }
}

/// The last good records seen, as the quality gate holds them.
#[derive(Default)]
struct Accepted {
    offers: HashMap<(String, String), OfferSignal>,
    costs: HashMap<(String, Option<String>), CostSignal>,
}

/// What every corrupt record must look like for its reason.
fn assert_corrupt_shape(record: &CorruptRecord, reason_code: &str, now: i64, accepted: &Accepted) {
    let legal_vat = [
        Decimal::new(2, 1),
        Decimal::new(1, 1),
        Decimal::new(55, 3),
        Decimal::new(21, 3),
    ];
    match (reason_code, record) {
        (reason::INVALID_GTIN, record) => {
            let gtin = match record {
                CorruptRecord::Product(product) => &product.gtin,
                CorruptRecord::Offer(offer) => &offer.gtin,
                CorruptRecord::Stock(stock) => &stock.gtin,
                CorruptRecord::Cost(cost) => &cost.gtin,
                CorruptRecord::Raw { .. } => panic!("typed record expected"),
            };
            assert!(!is_valid_gtin13(gtin), "{gtin}");
        }
        (reason::PRICE_JUMP, CorruptRecord::Offer(offer)) => {
            let previous = &accepted.offers[&(offer.gtin.clone(), offer.channel.clone())];
            for (new, old) in offer_prices(offer).into_iter().zip(offer_prices(previous)) {
                assert_eq!(new, old.map(|old| old / Decimal::ONE_HUNDRED));
            }
        }
        (reason::PRICE_JUMP, CorruptRecord::Cost(cost)) => {
            let previous = &accepted.costs[&(cost.gtin.clone(), cost.supplier_id.clone())];
            assert_eq!(
                cost.unit_cost_excl_vat,
                previous.unit_cost_excl_vat / Decimal::ONE_HUNDRED
            );
        }
        (reason::NEGATIVE_STOCK, CorruptRecord::Stock(stock)) => assert!(stock.quantity < 0),
        (reason::OBSERVED_IN_FUTURE, record) => {
            let at = match record {
                CorruptRecord::Product(product) => product.updated_at,
                CorruptRecord::Offer(offer) => offer.observed_at,
                CorruptRecord::Stock(stock) => stock.observed_at,
                CorruptRecord::Cost(cost) => cost.observed_at,
                CorruptRecord::Raw { .. } => panic!("typed record expected"),
            };
            assert_eq!(at, now + SimulationParams::default().future_skew_ms);
        }
        (reason::BUY_BOX_BELOW_LOWEST, CorruptRecord::Offer(offer)) => {
            assert_eq!(offer.we_own_buy_box, Some(false));
            assert!(
                offer.buy_box_price_incl_vat.unwrap() < offer.lowest_landed_price_incl_vat.unwrap()
            );
        }
        (reason::UNKNOWN_CURRENCY, CorruptRecord::Offer(OfferSignal { currency, .. }))
        | (reason::UNKNOWN_CURRENCY, CorruptRecord::Cost(CostSignal { currency, .. })) => {
            assert!(
                !["EUR", "USD", "GBP"].contains(&currency.as_str()),
                "{currency}"
            );
        }
        (reason::LANDED_PRICE_MISMATCH, CorruptRecord::Offer(offer)) => {
            assert_ne!(
                offer.lowest_landed_price_incl_vat.unwrap(),
                offer.lowest_listing_price_incl_vat.unwrap()
                    + offer.lowest_shipping_incl_vat.unwrap()
            );
        }
        (reason::PLACEHOLDER_OFFER, CorruptRecord::Offer(offer)) => {
            assert!(offer_prices(offer).contains(&Some(Decimal::ZERO)));
        }
        (reason::NON_POSITIVE_PRICE, CorruptRecord::Offer(offer)) => {
            assert!(offer.our_price_incl_vat.unwrap() < Decimal::ZERO);
        }
        (reason::NON_POSITIVE_PRICE, CorruptRecord::Cost(cost)) => {
            assert_eq!(cost.unit_cost_excl_vat, Decimal::ZERO);
        }
        (reason::ILLEGAL_VAT_RATE, CorruptRecord::Product(product)) => {
            assert!(
                !legal_vat.contains(&product.vat_rate),
                "{}",
                product.vat_rate
            );
        }
        (reason::UNDECODABLE, CorruptRecord::Raw { bytes, key, .. }) => {
            // Neither the single-object (C3 01) nor the Confluent (00) framing.
            assert!(!bytes.is_empty() && bytes[0] != 0x00 && bytes[0] != 0xC3);
            // Keyed like the record it stands for, as a compacted topic requires.
            assert!(
                key.len() == 13 && key.bytes().all(|byte| byte.is_ascii_digit()),
                "{key}"
            );
        }
        (code, record) => panic!("{code} tags an unexpected record {record:?}"),
    }
}

#[test]
fn every_reason_appears_over_ten_thousand_references_with_the_right_shape() {
    let mut market = simulation(10_000, SimulationParams::default());
    let mut accepted = Accepted::default();
    let mut tally = EmissionCounts::default();
    let mut pairs = BTreeSet::new();
    // Past the products and the snapshot, into the changes.
    for _ in 0..140_000 {
        let event = market.next_event();
        match &event {
            MarketEvent::Product(_) => tally.products += 1,
            MarketEvent::Offer(offer) => {
                tally.offers += 1;
                pairs.insert((
                    offer.gtin.clone(),
                    offer.channel.parse::<Channel>().unwrap(),
                ));
                accepted
                    .offers
                    .insert((offer.gtin.clone(), offer.channel.clone()), offer.clone());
            }
            MarketEvent::Stock(_) => tally.stock += 1,
            MarketEvent::Cost(cost) => {
                tally.costs += 1;
                accepted
                    .costs
                    .insert((cost.gtin.clone(), cost.supplier_id.clone()), cost.clone());
            }
            MarketEvent::Corrupt {
                record,
                expected_reason,
            } => {
                *tally.corrupt.entry(expected_reason).or_insert(0) += 1;
                assert_corrupt_shape(record, expected_reason, market.now(), &accepted);
            }
        }
    }
    assert_eq!(market.phase(), Phase::Changes);
    tally.offer_pairs = pairs;
    assert_eq!(market.counts(), &tally);
    for code in reason::ALL {
        assert!(tally.corrupt_for(code) >= 20, "{code}: {:?}", tally.corrupt);
    }
    assert_eq!(tally.total(), 140_000);
}

#[test]
fn corrupt_share_follows_the_configured_rate() {
    for rate in [0.0, 0.01, 0.05] {
        let mut market = simulation(
            1_000,
            SimulationParams {
                corrupt_rate: rate,
                ..SimulationParams::default()
            },
        );
        let total = 200_000u64;
        market.by_ref().take(total as usize).for_each(drop);
        let counts = market.counts();
        assert_eq!(counts.total(), total);
        let expected = rate * total as f64;
        // Five standard deviations of the binomial count.
        let tolerance = 5.0 * (expected * (1.0 - rate)).sqrt();
        let corrupt = counts.corrupt_total() as f64;
        assert!(
            (corrupt - expected).abs() <= tolerance,
            "rate {rate}: {corrupt} corrupt"
        );
    }
}

#[test]
fn ten_thousand_references_and_a_hundred_thousand_events_are_quick() {
    let started = Instant::now();
    let mut market = simulation(10_000, SimulationParams::default());
    market.by_ref().take(100_000).for_each(drop);
    let elapsed = started.elapsed();
    assert_eq!(market.counts().total(), 100_000);
    // Unoptimised test builds on a shared 2-core machine: generous, yet catches a
    // quadratic slip.
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
}

#[test]
fn parameters_outside_their_domain_are_refused() {
    let catalogue = Catalogue::generate(&CatalogueParams {
        references: 20,
        ..CatalogueParams::default()
    })
    .unwrap();
    let as_of = catalogue.as_of;
    let start = |start_at| {
        MarketSimulation::new(
            catalogue.clone(),
            SimulationParams {
                start_at,
                ..SimulationParams::default()
            },
        )
        .err()
    };
    assert!(start(as_of).is_none());
    assert!(matches!(
        start(as_of - 1),
        Some(SimulationError::StartOutsideCatalogue { .. })
    ));
    assert!(matches!(
        start(as_of + hub_market_sim::MAX_START_DELAY_MS + 1),
        Some(SimulationError::StartOutsideCatalogue { .. })
    ));
    for (params, field) in [
        (
            SimulationParams {
                corrupt_rate: 1.5,
                ..SimulationParams::default()
            },
            "corrupt_rate",
        ),
        (
            SimulationParams {
                snapshot_step_ms: -1,
                ..SimulationParams::default()
            },
            "snapshot_step_ms",
        ),
        (
            SimulationParams {
                mean_change_gap_ms: -5,
                ..SimulationParams::default()
            },
            "mean_change_gap_ms",
        ),
    ] {
        let error = MarketSimulation::new(catalogue.clone(), params)
            .err()
            .unwrap();
        assert!(error.to_string().contains(field), "{error}");
    }
}
