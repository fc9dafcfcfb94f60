//! The Fnac Darty connector over real HTTP against the simulator: a full sync pages through
//! one `offers_query` window to its end and prices every EAN with `pricing_query`, reading
//! each offer of ours exactly once on one token; an incremental sync after market changes
//! reads only the changed offers, and laid over the full sync gives exactly what a fresh
//! full sync gives; offers that change while a window is paged through are not lost.
//!
//! `offers_query` dates changes of our offers only, as the real API does: a competitor
//! repricing a product whose offer we did not touch reaches a signal through the periodic
//! competitor pricing sweep, which a restart resumes from its cursor.
//!
//! The connectors run on the system clock, which is the simulated back office's: it dates a
//! change when it first serves it, after the poll that served it opened its window, so a
//! change made between two syncs is read by the second window after it.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use hub_connectors::connector::Connector;
use hub_connectors::fnac_darty::config::{
    DEFAULT_PRICING_BATCHES_PER_POLL, DEFAULT_PRICING_SWEEP_INTERVAL_MS,
};

use crate::in_memory::{CollectingSink, MemoryCursorStore};
use crate::simulated;
use hub_connectors::fnac_darty::{CONNECTOR, FnacDartyConfig, FnacDartyConnector, PRICING_SWEEP};
use hub_connectors::machinery::{
    Cursor, CursorKey, CursorStore, HttpSettings, PeriodicSweep, RateLimit, Secret,
};
use hub_connectors::sourced::{SignalRecord, Sourced};
use hub_core::channel::Channel;
use hub_market_sim::http::{
    FNAC_AUTH, FNAC_OFFERS_QUERY, FNAC_PRICING_QUERY, FaultConfig, Faults, RunningSimulator,
};

const PAGE_SIZE: u32 = 30;

const REFERENCES: usize = 250;

async fn start_simulator() -> RunningSimulator {
    simulated::serve_catalogue(REFERENCES, FaultConfig::default()).await
}

fn new_connector(simulator: &RunningSimulator) -> FnacDartyConnector {
    connector_with(simulator, test_config(simulator))
}

fn test_config(simulator: &RunningSimulator) -> FnacDartyConfig {
    let credentials = simulator.simulator.credentials();
    let fast = RateLimit {
        per_second: 200.0,
        burst: 20,
    };
    FnacDartyConfig {
        base_url: format!("{}/api.php", simulator.base_url()),
        partner_id: credentials.fnac_partner_id.clone(),
        shop_id: credentials.fnac_shop_id.clone(),
        key_env: "UNUSED_IN_THIS_TEST".to_owned(),
        catalogue_file: PathBuf::from("unused-in-this-test.csv"),
        page_size: PAGE_SIZE,
        auth_rate: fast,
        offers_query_rate: fast,
        pricing_query_rate: fast,
        // Long: the tests start sweeps themselves (`make_sweep_due`).
        pricing_sweep_interval_ms: DEFAULT_PRICING_SWEEP_INTERVAL_MS,
        pricing_batches_per_poll: DEFAULT_PRICING_BATCHES_PER_POLL,
        http: HttpSettings::default(),
    }
}

fn connector_with(simulator: &RunningSimulator, config: FnacDartyConfig) -> FnacDartyConnector {
    let credentials = simulator.simulator.credentials();
    let gtin_by_sku: HashMap<String, String> = simulator
        .simulator
        .catalogue()
        .references
        .iter()
        .map(|reference| {
            (
                reference.product.sku.clone(),
                reference.product.gtin.clone(),
            )
        })
        .collect();
    FnacDartyConnector::new(
        &config,
        Secret::new(credentials.fnac_key.clone()),
        gtin_by_sku,
    )
    .expect("connector")
}

/// What a signal says of an offer: our price and the best competitor's.
fn view(record: &Sourced) -> (String, String) {
    let Sourced::Signal {
        record: SignalRecord::Offer(offer),
        ..
    } = record
    else {
        panic!("the simulator serves no malformed element here: {record:?}");
    };
    let view = format!(
        "price {:?} lowest {:?} + {:?} = {:?}",
        offer.our_price_incl_vat,
        offer.lowest_listing_price_incl_vat,
        offer.lowest_shipping_incl_vat,
        offer.lowest_landed_price_incl_vat
    );
    (offer.gtin.clone(), view)
}

/// Polls through `windows` windows, calling `between_polls` after each poll that leaves a
/// window open; returns every signal's view in the order read and the number of polls.
async fn read_windows(
    connector: &mut FnacDartyConnector,
    cursors: &mut MemoryCursorStore,
    windows: usize,
    mut between_polls: impl FnMut(),
) -> (Vec<(String, String)>, usize) {
    let mut sink = CollectingSink::default();
    let (mut polls, mut done) = (0, 0);
    while done < windows {
        polls += 1;
        assert!(polls < 200, "the windows never ended");
        if connector
            .poll(cursors, &mut sink)
            .await
            .expect("poll")
            .caught_up
        {
            done += 1;
        } else {
            between_polls();
        }
    }
    (sink.records().map(view).collect(), polls)
}

/// [`read_windows`] on a still market, failing on an offer read twice.
async fn sync(
    connector: &mut FnacDartyConnector,
    cursors: &mut MemoryCursorStore,
    windows: usize,
) -> (BTreeMap<String, String>, usize) {
    let (views, polls) = read_windows(connector, cursors, windows, || {}).await;
    let mut by_gtin = BTreeMap::new();
    for (gtin, view) in views {
        assert!(
            by_gtin.insert(gtin.clone(), view).is_none(),
            "offer {gtin} read twice"
        );
    }
    (by_gtin, polls)
}

/// Every offer as it is now: a fresh connector's full sync.
async fn current_offers(simulator: &RunningSimulator) -> BTreeMap<String, String> {
    let (fresh, _) = sync(
        &mut new_connector(simulator),
        &mut MemoryCursorStore::default(),
        1,
    )
    .await;
    fresh
}

/// Our price in a [`view`].
fn our_price(view: &str) -> &str {
    view.split(" lowest").next().unwrap_or(view)
}

fn our_prices(views: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    views
        .iter()
        .map(|(gtin, view)| (gtin.as_str(), our_price(view)))
        .collect()
}

fn sweep_key() -> CursorKey {
    CursorKey::new(CONNECTOR, PRICING_SWEEP)
}

/// Sets the sweep's cursor as if its interval had just passed: the next poll starts one.
async fn make_sweep_due(cursors: &mut MemoryCursorStore) {
    let due = Cursor {
        value: serde_json::to_string(&PeriodicSweep::Waiting { due_at: 0 }).expect("cursor"),
        advanced_at: 0,
    };
    cursors.save(&sweep_key(), &due).await.expect("saved");
}

async fn sweep_position(cursors: &mut MemoryCursorStore) -> PeriodicSweep {
    let cursor = cursors
        .load(&sweep_key())
        .await
        .expect("loaded")
        .expect("the connector saved its sweep cursor");
    serde_json::from_str(&cursor.value).expect("a sweep cursor")
}

fn our_gtins(simulator: &RunningSimulator) -> Vec<String> {
    let mut ours: Vec<String> = simulator
        .simulator
        .pages(Channel::FnacDarty)
        .into_iter()
        .filter(|page| page.ours)
        .map(|page| page.gtin)
        .collect();
    ours.sort();
    ours
}

#[tokio::test]
async fn a_full_sync_reads_every_offer_once_and_an_incremental_one_only_the_changed_ones() {
    let simulator = start_simulator().await;
    let ours = our_gtins(&simulator);
    assert!(ours.len() > PAGE_SIZE as usize * 2, "several pages to walk");

    let mut connector = new_connector(&simulator);
    let mut cursors = MemoryCursorStore::default();
    let (full, polls) = sync(&mut connector, &mut cursors, 1).await;
    assert_eq!(
        full.keys().cloned().collect::<Vec<_>>(),
        ours,
        "every offer, once, in the first window"
    );
    assert_eq!(polls, ours.len().div_ceil(PAGE_SIZE as usize));
    let with_competitors = simulator
        .simulator
        .pages(Channel::FnacDarty)
        .iter()
        .filter(|page| page.ours && page.competitors > 0)
        .count();
    let priced = full
        .values()
        .filter(|view| !view.contains("lowest None"))
        .count();
    assert_eq!(
        priced, with_competitors,
        "pricing_query priced every EAN with competitors"
    );
    let (nothing, _) = sync(&mut connector, &mut cursors, 2).await;
    assert!(
        nothing.is_empty(),
        "a still market has nothing new: {nothing:?}"
    );

    simulator.simulator.advance(400);
    let (changed, _) = sync(&mut connector, &mut cursors, 2).await;
    let fresh = current_offers(&simulator).await;
    // Competitors repricing are not modifications of our offers: only our prices count.
    let moved: Vec<&String> = fresh
        .iter()
        .filter(|(gtin, view)| full.get(*gtin).map(|old| our_price(old)) != Some(our_price(view)))
        .map(|(gtin, _)| gtin)
        .collect();
    assert!(
        !moved.is_empty(),
        "400 market changes move some of our Fnac Darty prices"
    );
    for gtin in &moved {
        assert!(changed.contains_key(*gtin), "the change of {gtin} was read");
    }
    assert!(
        changed.len() < ours.len() / 2,
        "the incremental sync reads only modified offers: {} of {}",
        changed.len(),
        ours.len()
    );
    let mut merged = full;
    merged.extend(changed);
    assert_eq!(
        our_prices(&merged),
        our_prices(&fresh),
        "incremental syncs miss no change of our offers"
    );

    let stats = simulator.simulator.stats();
    assert_eq!(
        stats.operation(FNAC_AUTH).requests,
        2,
        "one token per connector"
    );
    assert!(stats.operation(FNAC_PRICING_QUERY).requests > 0);
}

#[tokio::test]
async fn offers_changing_while_a_window_is_paged_through_are_not_lost() {
    let simulator = start_simulator().await;
    let first_window_pages = our_gtins(&simulator).len().div_ceil(PAGE_SIZE as usize);
    let mut connector = new_connector(&simulator);
    let mut cursors = MemoryCursorStore::default();
    // The market moves between every two pages of the first window: offers modified then
    // leave it for a later one, and the offers after them move onto pages already read.
    let market = simulator.simulator.clone();
    let (moving, _) = read_windows(&mut connector, &mut cursors, 1, || market.advance(60)).await;
    let pages_read = simulator
        .simulator
        .stats()
        .operation(FNAC_OFFERS_QUERY)
        .requests;
    let (settled, _) = read_windows(&mut connector, &mut cursors, 2, || {}).await;
    let fresh = current_offers(&simulator).await;
    let mut merged = BTreeMap::new();
    merged.extend(moving);
    merged.extend(settled);
    // Offers delisted meanwhile were read while they were listed; the others, listed now,
    // must all have been read, last as they are now.
    merged.retain(|gtin, _| fresh.contains_key(gtin));
    assert_eq!(
        merged.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>(),
        "every offer read, those listed meanwhile too"
    );
    assert_eq!(
        our_prices(&merged),
        our_prices(&fresh),
        "the last read of every offer is its current one"
    );
    assert!(
        pages_read > first_window_pages as u64,
        "the shrinking window was read again from its first page ({pages_read} pages)"
    );
}

#[tokio::test]
async fn malformed_offers_are_quarantined_and_throttling_is_obeyed() {
    simulated::malformed_offers_are_quarantined_and_throttling_is_obeyed(
        REFERENCES,
        FNAC_OFFERS_QUERY,
        Channel::FnacDarty,
        new_connector,
    )
    .await;
}

#[tokio::test]
async fn a_sync_and_a_sweep_reject_exactly_the_malformed_offers_and_pricing_products_served() {
    let faults = FaultConfig {
        seed: 23,
        default: Faults {
            malformed_rate: 0.06,
            ..Faults::default()
        },
        ..FaultConfig::default()
    };
    let simulator = simulated::serve_catalogue(REFERENCES, faults).await;
    let mut connector = new_connector(&simulator);
    let mut cursors = MemoryCursorStore::default();
    let mut sink = CollectingSink::default();
    let mut poll_to_the_end = async |cursors: &mut MemoryCursorStore| {
        for _ in 0..200 {
            if connector
                .poll(cursors, &mut sink)
                .await
                .expect("malformed elements are handed over as rejected")
                .caught_up
            {
                return;
            }
        }
        panic!("the sync never caught up");
    };
    poll_to_the_end(&mut cursors).await;
    make_sweep_due(&mut cursors).await;
    poll_to_the_end(&mut cursors).await;
    assert!(
        matches!(
            sweep_position(&mut cursors).await,
            PeriodicSweep::Waiting { .. }
        ),
        "the sweep went to its end"
    );
    simulated::assert_rejected_exactly_what_was_corrupted(&simulator, "fnac_darty", sink.records());
    for operation in [FNAC_OFFERS_QUERY, FNAC_PRICING_QUERY] {
        let stats = simulator.simulator.stats().operation(operation);
        assert!(stats.malformed_elements > 0, "{operation}: {stats:?}");
    }
}

#[tokio::test]
async fn a_competitor_reprice_on_an_untouched_offer_reaches_a_signal_within_one_sweep() {
    let simulator = start_simulator().await;
    let mut connector = new_connector(&simulator);
    let mut cursors = MemoryCursorStore::default();
    let (full, _) = sync(&mut connector, &mut cursors, 1).await;

    simulator.simulator.advance(400);
    let (changed, _) = sync(&mut connector, &mut cursors, 2).await;
    let fresh = current_offers(&simulator).await;
    let mut known = full.clone();
    known.extend(changed);
    let stale: Vec<&String> = fresh
        .iter()
        .filter(|(gtin, view)| {
            // An offer of ours created by the market since the full read is not untouched.
            full.get(*gtin).is_some_and(|before| {
                our_price(before) == our_price(view) && known[*gtin] != **view
            })
        })
        .map(|(gtin, _)| gtin)
        .collect();
    assert!(
        !stale.is_empty(),
        "400 market changes reprice competitors of offers we did not touch, which offers_query does not date"
    );

    make_sweep_due(&mut cursors).await;
    let (swept, polls) = sync(&mut connector, &mut cursors, 1).await;
    assert_eq!(
        swept.keys().cloned().collect::<Vec<_>>(),
        our_gtins(&simulator),
        "one sweep prices every EAN of ours once"
    );
    for gtin in &stale {
        assert_eq!(
            swept[*gtin], fresh[*gtin],
            "the competitors of {gtin} as they are now"
        );
    }
    known.extend(swept);
    assert_eq!(
        known, fresh,
        "syncs and a sweep laid over each other miss nothing"
    );
    assert!(
        polls > 1,
        "the sweep is spread over polls, the offers sync goes on between them"
    );
    assert!(
        matches!(sweep_position(&mut cursors).await, PeriodicSweep::Waiting { due_at } if due_at > 0),
        "the next sweep waits its interval"
    );
}

#[tokio::test]
async fn a_restarted_connector_resumes_the_sweep_after_the_last_ean_swept() {
    let simulator = start_simulator().await;
    let ours = our_gtins(&simulator);
    assert!(
        ours.len() > DEFAULT_PRICING_BATCHES_PER_POLL as usize * 10 * 2,
        "the sweep takes several polls"
    );
    let mut cursors = MemoryCursorStore::default();
    let mut before_restart = new_connector(&simulator);
    sync(&mut before_restart, &mut cursors, 1).await;

    make_sweep_due(&mut cursors).await;
    let mut sink = CollectingSink::default();
    let resume_after = loop {
        before_restart
            .poll(&mut cursors, &mut sink)
            .await
            .expect("poll");
        if let PeriodicSweep::Sweeping {
            resume_at: Some(after),
        } = sweep_position(&mut cursors).await
        {
            break after;
        }
    };
    drop(before_restart);
    let swept_before: Vec<String> = sink.records().map(|record| view(record).0).collect();
    assert!(!swept_before.is_empty() && swept_before.len() < ours.len());

    // A new connector knows no offer: it reads them all again, then resumes the sweep.
    let mut after_restart = new_connector(&simulator);
    let (swept_after, _) = read_windows(&mut after_restart, &mut cursors, 1, || {}).await;
    let swept_after: Vec<String> = swept_after.into_iter().map(|(gtin, _)| gtin).collect();
    assert!(
        swept_after.iter().all(|gtin| *gtin > resume_after),
        "the sweep resumed after {resume_after}, not from the start"
    );
    let mut swept = swept_before;
    swept.extend(swept_after);
    assert_eq!(swept, ours, "every EAN swept once, in order, none skipped");
}

#[tokio::test]
async fn a_sweep_spends_at_most_the_configured_pricing_calls_per_poll() {
    let simulator = start_simulator().await;
    let ours = our_gtins(&simulator);
    let per_poll = 2;
    let config = FnacDartyConfig {
        pricing_batches_per_poll: per_poll,
        ..test_config(&simulator)
    };
    let mut connector = connector_with(&simulator, config);
    let mut cursors = MemoryCursorStore::default();
    sync(&mut connector, &mut cursors, 1).await;
    make_sweep_due(&mut cursors).await;

    let pricing_calls = || {
        simulator
            .simulator
            .stats()
            .operation(FNAC_PRICING_QUERY)
            .requests
    };
    let mut sink = CollectingSink::default();
    let mut most_in_a_poll = 0;
    let mut polls = 0;
    loop {
        let before = pricing_calls();
        let report = connector.poll(&mut cursors, &mut sink).await.expect("poll");
        // The offers page's own pricing call (its offers changed) comes first.
        most_in_a_poll = most_in_a_poll.max(pricing_calls() - before);
        polls += 1;
        if report.caught_up {
            break;
        }
        assert!(polls < 200, "the sweep never ended");
    }
    assert!(
        most_in_a_poll <= u64::from(per_poll) + 1,
        "{most_in_a_poll} pricing calls in one poll, {per_poll} allowed to the sweep"
    );
    let batches = ours.len().div_ceil(10);
    assert!(
        polls >= batches.div_ceil(per_poll as usize),
        "{batches} batches swept in {polls} polls at {per_poll} per poll"
    );
    let swept: Vec<String> = sink.records().map(|record| view(record).0).collect();
    assert_eq!(swept, ours, "every EAN swept once, in order");
}
