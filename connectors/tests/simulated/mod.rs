//! The simulator the connectors' HTTP tests read, and the checks every marketplace
//! connector's offers sync must pass against it.

use std::net::SocketAddr;

use hub_connectors::connector::Connector;
use hub_connectors::sourced::Sourced;
use hub_core::channel::Channel;
use hub_market_sim::CatalogueParams;
use hub_market_sim::http::{
    FaultConfig, Faults, MarketClock, RunningSimulator, SimServerConfig, Simulator,
};

use crate::in_memory::{CollectingSink, MemoryCursorStore};

/// `config` served on a free loopback port; the market moves only when a test advances it.
pub async fn serve(config: SimServerConfig) -> RunningSimulator {
    Simulator::new(config)
        .expect("simulator")
        .start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            MarketClock::OnRequest,
        )
        .await
        .expect("simulator serving")
}

/// A catalogue of `references` served with `faults`.
pub async fn serve_catalogue(references: usize, faults: FaultConfig) -> RunningSimulator {
    serve(SimServerConfig {
        catalogue: CatalogueParams {
            references,
            ..CatalogueParams::default()
        },
        faults,
        ..SimServerConfig::default()
    })
    .await
}

/// With 15% of `offers_operation`'s elements malformed and 20% of its calls throttled
/// (Retry-After 1 s), a sync to the end hands every offer of ours on `channel` over, each
/// malformed one as a rejection, and never calls again before Retry-After.
pub async fn malformed_offers_are_quarantined_and_throttling_is_obeyed<C: Connector>(
    references: usize,
    offers_operation: &str,
    channel: Channel,
    new_connector: impl FnOnce(&RunningSimulator) -> C,
) {
    let faults = FaultConfig {
        seed: 11,
        default: Faults::default(),
        operations: [(
            offers_operation.to_owned(),
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
    let simulator = serve_catalogue(references, faults).await;
    let ours = simulator
        .simulator
        .pages(channel)
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
    let stats = simulator.simulator.stats().operation(offers_operation);
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

/// What the simulator corrupted through the operations named `<api>.<operation>`: every
/// malformed element and every placeholder offer it served, each of which must come out of
/// the connector as exactly one rejection.
pub fn corrupted(simulator: &RunningSimulator, api: &str) -> (u64, u64) {
    let prefix = format!("{api}.");
    simulator
        .simulator
        .stats()
        .operations
        .iter()
        .filter(|(operation, _)| operation.starts_with(&prefix))
        .fold((0, 0), |(malformed, placeholders), (_, stats)| {
            (
                malformed + stats.malformed_elements,
                placeholders + stats.placeholder_offers,
            )
        })
}

/// Asserts that the connector rejected exactly what the simulator corrupted through `api`
/// (at least one malformed element), each rejection with a reason, a detail and the raw
/// bytes of what was refused. Returns the rejections as `REASON: detail` lines.
pub fn assert_rejected_exactly_what_was_corrupted<'a>(
    simulator: &RunningSimulator,
    api: &str,
    records: impl Iterator<Item = &'a Sourced>,
) -> Vec<String> {
    let (malformed, placeholders) = corrupted(simulator, api);
    assert!(malformed > 0, "the test needs malformed {api} elements");
    let rejected: Vec<String> = records
        .filter_map(|record| match record {
            Sourced::Rejected {
                reason,
                detail,
                raw,
                ..
            } => {
                assert!(
                    !raw.is_empty(),
                    "{reason}: {detail}: quarantined without its bytes"
                );
                assert!(!detail.is_empty(), "{reason} without a detail");
                Some(format!("{reason}: {detail}"))
            }
            Sourced::Signal { .. } => None,
        })
        .collect();
    assert_eq!(
        rejected.len() as u64,
        malformed + placeholders,
        "{api}: {malformed} malformed elements and {placeholders} placeholder offers served, \
         {} rejections: {rejected:#?}",
        rejected.len()
    );
    rejected
}
