//! The Mirakl connector over real HTTP against the simulated Mirakl marketplace, with
//! malformed OF21 offers and P11 products and the marketplace's placeholder offers: a pass to
//! the end rejects exactly what the simulator corrupted, one rejection each, and hands every
//! other offer of ours over as a signal.

use crate::in_memory::{CollectingSink, MemoryCursorStore};
use crate::simulated;
use hub_connectors::connector::Connector;
use hub_connectors::machinery::{HttpSettings, RateLimit, Secret};
use hub_connectors::mirakl::{MiraklConfig, MiraklConnector};
use hub_connectors::sourced::Sourced;
use hub_core::channel::Channel;
use hub_core::reason::ReasonCode;
use hub_market_sim::http::{FaultConfig, Faults};

#[tokio::test]
async fn a_pass_rejects_exactly_the_malformed_elements_and_placeholders_served() {
    let faults = FaultConfig {
        seed: 17,
        default: Faults {
            malformed_rate: 0.08,
            ..Faults::default()
        },
        ..FaultConfig::default()
    };
    let simulator = simulated::serve_catalogue(400, faults).await;
    let credentials = simulator.simulator.credentials();
    let config = MiraklConfig {
        base_url: simulator.base_url(),
        api_key_env: "UNUSED_IN_THIS_TEST".to_owned(),
        shop_id: Some(credentials.mirakl_shop_id as i64),
        shop_name: None,
        page_size: 50,
        of21_rate: RateLimit::new(500.0, 20).unwrap(),
        p11_rate: RateLimit::new(500.0, 20).unwrap(),
        http: HttpSettings::default(),
    };
    let mut connector =
        MiraklConnector::new(&config, Secret::new(credentials.mirakl_api_key.clone()))
            .expect("connector");
    let (mut cursors, mut sink) = (MemoryCursorStore::default(), CollectingSink::default());
    let mut polls = 0;
    while !connector
        .poll(&mut cursors, &mut sink)
        .await
        .expect("malformed elements are handed over as rejected, never fail the poll")
        .caught_up
    {
        polls += 1;
        assert!(polls < 100, "the pass did not end");
    }

    let rejected =
        simulated::assert_rejected_exactly_what_was_corrupted(&simulator, "mirakl", sink.records());
    let (_, placeholders) = simulated::corrupted(&simulator, "mirakl");
    assert!(placeholders > 0, "the test needs placeholder offers");
    let placeholder_rejections = sink
        .records()
        .filter(|record| {
            matches!(record, Sourced::Rejected { reason, .. } if *reason == ReasonCode::PlaceholderOffer)
        })
        .count() as u64;
    assert_eq!(placeholder_rejections, placeholders, "{rejected:#?}");
    // Every offer of ours is a signal, or one of the rejected OF21 elements.
    let ours = simulator
        .simulator
        .pages(Channel::Mirakl)
        .iter()
        .filter(|page| page.ours)
        .count();
    let of21_malformed = simulator
        .simulator
        .stats()
        .operation("mirakl.OF21")
        .malformed_elements;
    let signals = sink
        .records()
        .filter(|record| matches!(record, Sourced::Signal { .. }))
        .count() as u64;
    assert_eq!(signals + of21_malformed, ours as u64);
}
