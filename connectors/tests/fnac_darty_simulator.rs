//! The Fnac Darty connector over real HTTP against the simulator: a full sync pages through
//! `offers_query` to the end and prices every EAN with `pricing_query`, the token is fetched
//! once, and an incremental sync after market changes, laid over the first, gives exactly
//! what a fresh full sync gives.

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
    // The API's clock is the simulated market's, a millisecond past its last change.
    let market = simulator.simulator.clone();
    FnacDartyConnector::new(
        &config,
        Secret::new(credentials.fnac_key.clone()),
        gtin_by_sku,
    )
    .expect("connector")
    .with_server_clock(Box::new(move || market.stats().market.simulated_now + 1))
}

/// Polls until the window is read; returns each offer's view by GTIN (failing on an offer
/// read twice) and the number of polls.
async fn sync(
    connector: &mut FnacDartyConnector,
    cursors: &mut MemoryCursorStore,
) -> (BTreeMap<String, String>, usize) {
    let mut sink = CollectingSink::default();
    let mut polls = 0;
    loop {
        polls += 1;
        assert!(polls < 100, "the sync never caught up");
        if connector
            .poll(cursors, &mut sink)
            .await
            .expect("poll")
            .caught_up
        {
            break;
        }
    }
    let mut views = BTreeMap::new();
    for record in sink.records() {
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
        assert!(
            views.insert(offer.gtin.clone(), view).is_none(),
            "offer {} read twice in one sync",
            offer.gtin
        );
    }
    (views, polls)
}

#[tokio::test]
async fn full_then_incremental_sync_matches_a_fresh_full_sync() {
    let simulator = start_simulator().await;
    let pages = simulator.simulator.pages(Channel::FnacDarty);
    let mut ours: Vec<String> = pages
        .iter()
        .filter(|page| page.ours)
        .map(|page| page.gtin.clone())
        .collect();
    ours.sort();
    assert!(ours.len() > PAGE_SIZE as usize * 2, "several pages to walk");

    let mut connector = new_connector(&simulator);
    let mut cursors = MemoryCursorStore::default();
    let (mut merged, polls) = sync(&mut connector, &mut cursors).await;
    assert_eq!(
        merged.keys().cloned().collect::<Vec<_>>(),
        ours,
        "every offer, once"
    );
    assert_eq!(polls, ours.len().div_ceil(PAGE_SIZE as usize));
    let with_competitors = pages
        .iter()
        .filter(|page| page.ours && page.competitors > 0)
        .count();
    let priced = merged
        .values()
        .filter(|view| !view.contains("lowest None"))
        .count();
    assert_eq!(
        priced, with_competitors,
        "pricing_query priced every EAN with competitors"
    );

    simulator.simulator.advance(400);
    let (changed, _) = sync(&mut connector, &mut cursors).await;
    assert!(
        !changed.is_empty(),
        "400 market changes touch some Fnac Darty pages"
    );
    assert!(
        changed.len() < ours.len(),
        "the incremental sync reads only modified offers"
    );
    merged.extend(changed);

    let (fresh, _) = sync(
        &mut new_connector(&simulator),
        &mut MemoryCursorStore::default(),
    )
    .await;
    assert_eq!(merged, fresh, "incremental syncs miss no change");

    let stats = simulator.simulator.stats();
    assert_eq!(
        stats.operation(FNAC_AUTH).requests,
        2,
        "one token per connector"
    );
    assert!(stats.operation(FNAC_OFFERS_QUERY).requests > 0);
    assert!(stats.operation(FNAC_PRICING_QUERY).requests > 0);
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
