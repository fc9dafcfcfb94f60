//! The Fnac Darty connector over real HTTP against the simulator: a full sync pages through
//! one `offers_query` window to its end and prices every EAN with `pricing_query`, reading
//! each offer of ours exactly once on one token; an incremental sync after market changes
//! reads only the changed offers, and laid over the full sync gives exactly what a fresh
//! full sync gives; offers that change while a window is paged through are not lost.
//!
//! The connectors run on the system clock, which is the simulated back office's: it dates a
//! change when it first serves it, after the poll that served it opened its window, so a
//! change made between two syncs is read by the second window after it.

mod in_memory;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;

use hub_connectors::connector::Connector;
use hub_connectors::fnac_darty::{FnacDartyConfig, FnacDartyConnector};
use hub_connectors::machinery::{HttpSettings, RateLimit, Secret};
use hub_connectors::sourced::{SignalRecord, Sourced};
use hub_core::channel::Channel;
use hub_market_sim::CatalogueParams;
use hub_market_sim::http::{
    FNAC_AUTH, FNAC_OFFERS_QUERY, FNAC_PRICING_QUERY, FaultConfig, Faults, MarketClock,
    RunningSimulator, SimServerConfig, Simulator,
};
use in_memory::{CollectingSink, MemoryCursorStore};

const PAGE_SIZE: u32 = 30;

async fn start_simulator() -> RunningSimulator {
    start_simulator_with(FaultConfig::default()).await
}

async fn start_simulator_with(faults: FaultConfig) -> RunningSimulator {
    let config = SimServerConfig {
        faults,
        catalogue: CatalogueParams {
            references: 250,
            ..CatalogueParams::default()
        },
        ..SimServerConfig::default()
    };
    Simulator::new(config)
        .expect("simulator")
        .start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            MarketClock::OnRequest,
        )
        .await
        .expect("simulator serving")
}

fn new_connector(simulator: &RunningSimulator) -> FnacDartyConnector {
    let credentials = simulator.simulator.credentials();
    let fast = RateLimit {
        per_second: 200.0,
        burst: 20,
    };
    let config = FnacDartyConfig {
        base_url: format!("{}/api.php", simulator.base_url()),
        partner_id: credentials.fnac_partner_id.clone(),
        shop_id: credentials.fnac_shop_id.clone(),
        key_env: "UNUSED_IN_THIS_TEST".to_owned(),
        catalogue_file: PathBuf::from("unused-in-this-test.csv"),
        page_size: PAGE_SIZE,
        auth_rate: fast,
        offers_query_rate: fast,
        pricing_query_rate: fast,
        http: HttpSettings::default(),
    };
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
    let (fresh, _) = sync(
        &mut new_connector(&simulator),
        &mut MemoryCursorStore::default(),
        1,
    )
    .await;
    let moved: Vec<&String> = fresh
        .iter()
        .filter(|(gtin, view)| full.get(*gtin) != Some(*view))
        .map(|(gtin, _)| gtin)
        .collect();
    assert!(
        !moved.is_empty(),
        "400 market changes move some Fnac Darty prices"
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
    assert_eq!(merged, fresh, "incremental syncs miss no change");

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
    let (fresh, _) = sync(
        &mut new_connector(&simulator),
        &mut MemoryCursorStore::default(),
        1,
    )
    .await;
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
        merged, fresh,
        "the last read of every offer is its current one"
    );
    assert!(
        pages_read > first_window_pages as u64,
        "the shrinking window was read again from its first page ({pages_read} pages)"
    );
}

#[tokio::test]
async fn malformed_offers_are_quarantined_and_throttling_is_obeyed() {
    let faults = FaultConfig {
        seed: 11,
        default: Faults::default(),
        operations: [(
            FNAC_OFFERS_QUERY.to_owned(),
            Faults {
                malformed_rate: 0.15,
                throttle_rate: 0.2,
                retry_after_secs: 1,
                ..Faults::default()
            },
        )]
        .into_iter()
        .collect(),
    };
    let simulator = start_simulator_with(faults).await;
    let ours = simulator
        .simulator
        .pages(Channel::FnacDarty)
        .iter()
        .filter(|page| page.ours)
        .count();
    let mut connector = new_connector(&simulator);
    let mut cursors = MemoryCursorStore::default();
    let mut sink = CollectingSink::default();
    while !connector
        .poll(&mut cursors, &mut sink)
        .await
        .expect("throttled calls are retried, malformed offers handed over as rejected")
        .caught_up
    {}
    let rejected = sink
        .records()
        .filter(|record| matches!(record, Sourced::Rejected { .. }))
        .count();
    let stats = simulator.simulator.stats().operation(FNAC_OFFERS_QUERY);
    assert!(
        stats.malformed_elements > 0 && stats.throttled_at_rate > 0,
        "{stats:?}"
    );
    assert_eq!(
        rejected as u64, stats.malformed_elements,
        "each malformed offer quarantined"
    );
    assert_eq!(
        sink.records().count(),
        ours,
        "every offer is a signal or a rejection"
    );
    assert_eq!(stats.retry_after_violations, 0, "Retry-After obeyed");
}
