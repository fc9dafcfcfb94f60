//! The Octopia (Cdiscount) connector over real HTTP against the simulator: a full sync
//! pages to the end, the token is fetched once and cached, and an incremental sync after
//! market changes, laid over the first, gives exactly what a fresh full sync gives.

mod in_memory;
mod simulated;

use std::collections::BTreeMap;

use hub_connectors::connector::Connector;
use hub_connectors::machinery::{HttpSettings, RateLimit, Secret};
use hub_connectors::octopia::{ClientCredentials, OctopiaConfig, OctopiaConnector};
use hub_connectors::sourced::{SignalRecord, Sourced};
use hub_core::channel::Channel;
use hub_core::reason::ReasonCode;
use hub_market_sim::http::{FaultConfig, OCTOPIA_OFFERS, OCTOPIA_TOKEN, RunningSimulator};
use in_memory::{CollectingSink, MemoryCursorStore};

const PAGE_SIZE: u32 = 40;

const REFERENCES: usize = 300;

async fn start_simulator() -> RunningSimulator {
    simulated::serve_catalogue(REFERENCES, FaultConfig::default()).await
}

fn new_connector(simulator: &RunningSimulator) -> OctopiaConnector {
    let credentials = simulator.simulator.credentials();
    let fast = RateLimit {
        per_second: 200.0,
        burst: 20,
    };
    let config = OctopiaConfig {
        base_url: format!("{}/seller/v2", simulator.base_url()),
        token_url: format!(
            "{}/auth/realms/maas/protocol/openid-connect/token",
            simulator.base_url()
        ),
        seller_id: credentials.octopia_seller_id.to_string(),
        client_id_env: "UNUSED_IN_THIS_TEST".to_owned(),
        client_secret_env: "UNUSED_IN_THIS_TEST".to_owned(),
        page_size: PAGE_SIZE,
        offers_rate: fast,
        token_rate: fast,
        http: HttpSettings::default(),
    };
    OctopiaConnector::new(
        &config,
        ClientCredentials {
            client_id: Secret::new(credentials.octopia_client_id.clone()),
            client_secret: Secret::new(credentials.octopia_client_secret.clone()),
        },
    )
    .expect("connector")
}

/// What a sync says about one offer: its prices, or why it was rejected.
type OfferView = String;

/// Polls until the sync is caught up; returns each offer's view by GTIN, failing on an
/// offer read twice in the sync, and the number of polls.
async fn sync(
    connector: &mut OctopiaConnector,
    cursors: &mut MemoryCursorStore,
) -> (BTreeMap<String, OfferView>, usize) {
    let mut sink = CollectingSink::default();
    let mut polls = 0;
    loop {
        polls += 1;
        assert!(polls < 100, "the sync never caught up");
        let report = connector.poll(cursors, &mut sink).await.expect("poll");
        if report.caught_up {
            break;
        }
    }
    let mut views = BTreeMap::new();
    for record in sink.records() {
        let (gtin, view) = match record {
            Sourced::Signal {
                record: SignalRecord::Offer(offer),
                ..
            } => (
                offer.gtin.clone(),
                format!(
                    "price {:?} shipping {:?} buy box {:?} ours {:?} lowest {:?} offers {:?}",
                    offer.our_price_incl_vat,
                    offer.our_shipping_incl_vat,
                    offer.buy_box_price_incl_vat,
                    offer.we_own_buy_box,
                    offer.lowest_landed_price_incl_vat,
                    offer.offer_count
                ),
            ),
            Sourced::Rejected { reason, raw, .. } => {
                assert_eq!(
                    *reason,
                    ReasonCode::PlaceholderOffer,
                    "only inactive offers are refused"
                );
                let item: serde_json::Value = serde_json::from_slice(raw).expect("raw item");
                (
                    item["gtin"].as_str().expect("gtin").to_owned(),
                    reason.to_string(),
                )
            }
            other => panic!("unexpected record {other:?}"),
        };
        assert!(
            views.insert(gtin.clone(), view).is_none(),
            "offer {gtin} read twice in one sync"
        );
    }
    (views, polls)
}

#[tokio::test]
async fn full_then_incremental_sync_matches_a_fresh_full_sync() {
    let simulator = start_simulator().await;
    let ours: Vec<String> = simulator
        .simulator
        .pages(Channel::Cdiscount)
        .into_iter()
        .filter(|page| page.ours)
        .map(|page| page.gtin)
        .collect();
    assert!(ours.len() > PAGE_SIZE as usize * 2, "several pages to walk");

    let mut connector = new_connector(&simulator);
    let mut cursors = MemoryCursorStore::default();
    let (mut merged, polls) = sync(&mut connector, &mut cursors).await;
    // Pagination to the end: every offer of ours, once, in ceil(n / page) pages.
    assert_eq!(merged.keys().cloned().collect::<Vec<_>>(), {
        let mut sorted = ours.clone();
        sorted.sort();
        sorted
    });
    assert_eq!(polls, ours.len().div_ceil(PAGE_SIZE as usize));

    // Nothing changed: the incremental sync reads one empty page.
    let (unchanged, polls) = sync(&mut connector, &mut cursors).await;
    assert!(
        unchanged.is_empty(),
        "no update since the last sync: {unchanged:?}"
    );
    assert_eq!(polls, 1);

    simulator.simulator.advance(400);
    let (changed, _) = sync(&mut connector, &mut cursors).await;
    assert!(
        !changed.is_empty(),
        "400 market changes touch some Cdiscount pages"
    );
    assert!(
        changed.len() < ours.len(),
        "the incremental sync reads only updated offers"
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
        stats.operation(OCTOPIA_TOKEN).requests,
        2,
        "one token per connector, cached across its polls"
    );
    assert!(stats.operation(OCTOPIA_OFFERS).requests > 0);
}

#[tokio::test]
async fn malformed_offers_are_quarantined_and_throttling_is_obeyed() {
    simulated::malformed_offers_are_quarantined_and_throttling_is_obeyed(
        REFERENCES,
        OCTOPIA_OFFERS,
        Channel::Cdiscount,
        new_connector,
    )
    .await;
}
