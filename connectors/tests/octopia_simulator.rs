//! The Octopia (Cdiscount) connector over real HTTP against the simulator: a full sync
//! pages to the end, resumed after a restart with no gap and no duplicate, its token fetched
//! once per connector and cached; incremental syncs read the
//! offers whose `updatedAt` moved, ours; a competitor's move, which the simulated API (like
//! the documentation) does not promise to date, reaches the output through the competition
//! sweep (`fields=` the lightweight selection), every active offer once per sweep, resumed
//! after a restart from its persisted cursor with no gap and no duplicate.

use std::collections::BTreeMap;

use crate::in_memory::{CollectingSink, MemoryCursorStore};
use crate::simulated;
use hub_connectors::connector::Connector;
use hub_connectors::machinery::{
    Cursor, CursorKey, HttpSettings, PeriodicSweep, RateLimit, Secret,
};
use hub_connectors::octopia::mapping::{COMPETITION_SOURCE, OFFERS_SOURCE};
use hub_connectors::octopia::payload::COMPETITION_FIELDS;
use hub_connectors::octopia::{
    COMPETITION, CONNECTOR, ClientCredentials, OctopiaConfig, OctopiaConnector,
};
use hub_connectors::sourced::{SignalRecord, Sourced};
use hub_core::channel::Channel;
use hub_market_sim::http::{FaultConfig, OCTOPIA_OFFERS, OCTOPIA_TOKEN, RunningSimulator};

const PAGE_SIZE: u32 = 40;

const REFERENCES: usize = 300;

/// No sweep falls due within a test on its own: tests make one due through its cursor.
const SWEEP_INTERVAL_MS: u64 = 3_600_000;

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
        competition_rate: fast,
        competition_sweep_interval_ms: SWEEP_INTERVAL_MS,
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

/// What an offer signal says of one offer: ours, then the competition.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OfferView {
    ours: String,
    competition: String,
}

/// Views by GTIN, per source (`cdiscount.offers`, `cdiscount.competition`).
type Views = BTreeMap<String, BTreeMap<String, OfferView>>;

/// The views of `records`, failing on an offer read twice by one source.
fn views<'a>(records: impl Iterator<Item = &'a Sourced>) -> Views {
    let mut views = Views::new();
    for record in records {
        let Sourced::Signal {
            record: SignalRecord::Offer(offer),
            ..
        } = record
        else {
            panic!("the simulated shop has only active, well-formed offers: {record:?}");
        };
        let view = OfferView {
            ours: format!(
                "price {:?} shipping {:?}",
                offer.our_price_incl_vat, offer.our_shipping_incl_vat
            ),
            competition: format!(
                "buy box {:?} ours {:?} lowest {:?} offers {:?}",
                offer.buy_box_price_incl_vat,
                offer.we_own_buy_box,
                offer.lowest_landed_price_incl_vat,
                offer.offer_count
            ),
        };
        let read = views.entry(offer.source.clone()).or_default();
        assert!(
            read.insert(offer.gtin.clone(), view).is_none(),
            "offer {} read twice by {}",
            offer.gtin,
            offer.source
        );
    }
    views
}

/// Polls until caught up; returns the records handed over and the number of polls.
async fn sync(
    connector: &mut OctopiaConnector,
    cursors: &mut MemoryCursorStore,
) -> (CollectingSink, usize) {
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
    (sink, polls)
}

/// The views of one source in `views`, empty when it read nothing.
fn of(views: &Views, source: &str) -> BTreeMap<String, OfferView> {
    views.get(source).cloned().unwrap_or_default()
}

/// What a fresh connector's first full sync reads now: the market as it is.
async fn fresh_views(simulator: &RunningSimulator) -> BTreeMap<String, OfferView> {
    let (sink, _) = sync(
        &mut new_connector(simulator),
        &mut MemoryCursorStore::default(),
    )
    .await;
    let read = views(sink.records());
    assert_eq!(read.len(), 1, "a first sync reads the offers only");
    of(&read, OFFERS_SOURCE)
}

fn our_gtins(simulator: &RunningSimulator) -> Vec<String> {
    let mut ours: Vec<String> = simulator
        .simulator
        .pages(Channel::Cdiscount)
        .into_iter()
        .filter(|page| page.ours)
        .map(|page| page.gtin)
        .collect();
    ours.sort();
    ours
}

fn competition_key() -> CursorKey {
    CursorKey::new(CONNECTOR, COMPETITION)
}

/// Makes the sweep due now, as the persisted sweep cursor would say once its interval has
/// passed.
fn make_sweep_due(cursors: &mut MemoryCursorStore) {
    let scheduled = cursors
        .cursors
        .get(&competition_key())
        .expect("the first complete sync scheduled a sweep");
    let state: PeriodicSweep = serde_json::from_str(&scheduled.value).expect("sweep state");
    assert!(matches!(state, PeriodicSweep::Waiting { .. }), "{state:?}");
    cursors.cursors.insert(
        competition_key(),
        Cursor {
            value: serde_json::to_string(&PeriodicSweep::Waiting { due_at: 0 })
                .expect("serialisable"),
            advanced_at: scheduled.advanced_at,
        },
    );
}

#[tokio::test]
async fn full_then_incremental_syncs_read_every_offer_then_our_updated_ones() {
    let simulator = start_simulator().await;
    let ours = our_gtins(&simulator);
    assert!(ours.len() > PAGE_SIZE as usize * 2, "several pages to walk");

    // The full sync's first page, then a restart from the persisted cursor.
    let mut cursors = MemoryCursorStore::default();
    let mut first_page = CollectingSink::default();
    let report = new_connector(&simulator)
        .poll(&mut cursors, &mut first_page)
        .await
        .expect("poll");
    assert!(!report.caught_up, "a sync under way");
    let mut connector = new_connector(&simulator);
    let (rest, polls) = sync(&mut connector, &mut cursors).await;
    let first = views(first_page.records().chain(rest.records()));
    // Pagination to the end: every offer of ours, once (`views` fails on a duplicate), in
    // ceil(n / page) pages.
    let before = of(&first, OFFERS_SOURCE);
    assert_eq!(before.keys().cloned().collect::<Vec<_>>(), ours);
    assert_eq!(1 + polls, ours.len().div_ceil(PAGE_SIZE as usize));
    assert!(
        !first.contains_key(COMPETITION_SOURCE),
        "the full sync read every offer's feedback: no sweep yet"
    );

    // Nothing changed: the incremental sync reads one empty page.
    let (unchanged, polls) = sync(&mut connector, &mut cursors).await;
    assert_eq!(
        unchanged.records().count(),
        0,
        "no update since the last sync"
    );
    assert_eq!(polls, 1);

    simulator.simulator.advance(400);
    let (changed, _) = sync(&mut connector, &mut cursors).await;
    let changed = views(changed.records());
    assert_eq!(changed.len(), 1, "no sweep was due: {:?}", changed.keys());
    let changed = of(&changed, OFFERS_SOURCE);
    assert!(!changed.is_empty(), "400 market changes touch our offers");
    assert!(
        changed.len() < ours.len(),
        "the incremental sync reads only updated offers"
    );

    let fresh = fresh_views(&simulator).await;
    for (gtin, view) in &changed {
        assert_eq!(Some(view), fresh.get(gtin), "{gtin} read as it is now");
    }
    // No gap: every offer whose own price or shipping moved was read again.
    for gtin in &ours {
        if before[gtin].ours != fresh[gtin].ours {
            assert!(changed.contains_key(gtin), "our change to {gtin} missed");
        }
    }

    let stats = simulator.simulator.stats();
    assert_eq!(
        stats.operation(OCTOPIA_TOKEN).requests,
        3,
        "one token per connector (two for the restarted sync, one fresh), cached across its polls"
    );
    assert!(stats.operation(OCTOPIA_OFFERS).requests > 0);
}

#[tokio::test]
async fn competitor_moves_reach_the_output_through_the_sweep_resumed_after_a_restart() {
    let simulator = start_simulator().await;
    let mut cursors = MemoryCursorStore::default();
    let (first, _) = sync(&mut new_connector(&simulator), &mut cursors).await;
    let mut merged = of(&views(first.records()), OFFERS_SOURCE);

    simulator.simulator.advance(400);
    let ours = our_gtins(&simulator);
    let mut connector = new_connector(&simulator);
    let (incremental, _) = sync(&mut connector, &mut cursors).await;
    merged.extend(of(&views(incremental.records()), OFFERS_SOURCE));
    let fresh = fresh_views(&simulator).await;
    // The competitor moves `updatedAt` does not date: without a sweep, still as before.
    let stale: Vec<&String> = ours
        .iter()
        .filter(|gtin| merged.get(*gtin) != fresh.get(*gtin))
        .collect();
    assert!(
        !stale.is_empty(),
        "400 market changes move competitors on pages of ours"
    );
    for gtin in &stale {
        assert_eq!(
            merged[*gtin].ours, fresh[*gtin].ours,
            "{gtin}: only its competition moved"
        );
    }

    // The sweep falls due. Its first page, then the connector restarts.
    make_sweep_due(&mut cursors);
    let mut sink = CollectingSink::default();
    let report = connector.poll(&mut cursors, &mut sink).await.expect("poll");
    assert!(!report.caught_up, "a sweep under way");
    assert_eq!(report.signals, PAGE_SIZE as usize, "one sweep page");
    let mut restarted = new_connector(&simulator);
    let (rest, polls) = sync(&mut restarted, &mut cursors).await;
    let swept_records: Vec<&Sourced> = sink.records().chain(rest.records()).collect();
    let swept = views(swept_records.iter().copied());
    let competition = of(&swept, COMPETITION_SOURCE);
    // Every active offer, once (`views` fails on a duplicate), as it is now.
    assert_eq!(competition.keys().cloned().collect::<Vec<_>>(), ours);
    for (gtin, view) in &competition {
        assert_eq!(Some(view), fresh.get(gtin), "{gtin} swept as it is now");
    }
    assert!(
        of(&swept, OFFERS_SOURCE).is_empty(),
        "nothing of ours changed meanwhile"
    );
    // The sweep's pages but its first, then one empty incremental page.
    assert_eq!(
        polls,
        ours.len().div_ceil(PAGE_SIZE as usize),
        "the sweep resumed where it stopped"
    );
    merged.extend(competition);
    assert_eq!(
        merged, fresh,
        "incremental syncs and the sweep miss no change"
    );

    // The next sweep waits one interval from the end of this one.
    let waiting: PeriodicSweep = serde_json::from_str(
        &cursors
            .cursors
            .get(&competition_key())
            .expect("sweep cursor")
            .value,
    )
    .expect("sweep state");
    let PeriodicSweep::Waiting { due_at } = waiting else {
        panic!("the sweep ended: {waiting:?}");
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    assert!(due_at > now + SWEEP_INTERVAL_MS as i64 - 60_000, "{due_at}");
    let (idle, polls) = sync(&mut restarted, &mut cursors).await;
    assert_eq!((idle.records().count(), polls), (0, 1), "caught up");
}

/// The lightweight selection the sweep asks for, answered as documented: the base fields
/// and the selected ones only; and with `fields`, `expand` is ignored.
#[tokio::test]
async fn the_simulated_api_answers_fields_with_the_base_fields_and_the_selection() {
    let simulator = start_simulator().await;
    let credentials = simulator.simulator.credentials();
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!(
            "{}/auth/realms/maas/protocol/openid-connect/token",
            simulator.base_url()
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", credentials.octopia_client_id.as_str()),
            ("client_secret", credentials.octopia_client_secret.as_str()),
        ])
        .send()
        .await
        .expect("token call")
        .json()
        .await
        .expect("token JSON");
    let token = token["access_token"].as_str().expect("access_token");
    let get = |query: Vec<(&'static str, &'static str)>| {
        http.get(format!("{}/seller/v2/offers", simulator.base_url()))
            .bearer_auth(token)
            .header("SellerId", credentials.octopia_seller_id.to_string())
            .query(&query)
            .send()
    };
    let page: serde_json::Value = get(vec![
        ("salesChannelId", "CDISFR"),
        ("limit", "5"),
        ("offerStates", "Active"),
        ("fields", COMPETITION_FIELDS),
        ("expand", "salesChannelFeedback"),
    ])
    .await
    .expect("offers call")
    .json()
    .await
    .expect("offers JSON");
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 5);
    for item in items {
        let mut keys: Vec<&str> = item
            .as_object()
            .expect("item")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "condition",
                "createdAt",
                "deliveryOffers",
                "facialPrice",
                "integrationPrice",
                "offerId",
                "offerState",
                "product",
                "salesChannelFeedback",
                "salesChannelId",
                "sellerExternalReference",
                "updatedAt",
            ]
        );
        let product: Vec<&String> = item["product"]
            .as_object()
            .expect("product")
            .keys()
            .collect();
        assert_eq!(product, ["gtin"], "a node's field selects that field only");
        let feedback: Vec<&String> = item["salesChannelFeedback"]
            .as_object()
            .expect("feedback")
            .keys()
            .collect();
        assert!(
            feedback
                .iter()
                .all(|key| *key == "bestOfferDetails" || *key == "competingOffers"),
            "expand is ignored with fields: {feedback:?}"
        );
    }
    let inactive: serde_json::Value = get(vec![
        ("salesChannelId", "CDISFR"),
        ("offerStates", "Inactive"),
    ])
    .await
    .expect("offers call")
    .json()
    .await
    .expect("offers JSON");
    assert_eq!(
        inactive["items"].as_array().map(Vec::len),
        Some(0),
        "the simulated shop keeps its offers active"
    );
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
