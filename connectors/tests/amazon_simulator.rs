//! The Amazon SP-API connector over real HTTP against the simulator: a round resolves every
//! watched reference, reads every product page's offers and pages FBA inventory to the end;
//! the LWA access token is fetched once, reused, and renewed before it lapses; 429s from an
//! operation's usage plan are obeyed (Retry-After and the announced rate); the notification
//! drop is read first and emptied.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::in_memory::{CollectingSink, MemoryCursorStore};
use crate::simulated;
use hub_connectors::amazon::config::AmazonRates;
use hub_connectors::amazon::{AmazonConfig, AmazonConnector, LwaCredentials};
use hub_connectors::connector::Connector;
use hub_connectors::machinery::{HttpSettings, RateLimit, Secret};
use hub_connectors::sourced::{SignalRecord, Sourced};
use hub_core::channel::Channel;
use hub_market_sim::CatalogueParams;
use hub_market_sim::http::{
    AMAZON_GET_INVENTORY_SUMMARIES, AMAZON_GET_ITEM_OFFERS, AMAZON_GET_ITEM_OFFERS_BATCH,
    AMAZON_LWA_TOKEN, AMAZON_SEARCH_CATALOG_ITEMS, Credentials, FaultConfig, Faults,
    RateLimit as SimRateLimit, RunningSimulator, SimServerConfig, asin_of,
};
use hub_schemas::records::{OfferSignal, StockSignal, StockSource};

const TOKEN_LIFETIME_SECS: u64 = 8;
const RENEWAL_MARGIN_MS: u64 = 1_000;

async fn start_simulator(references: usize, faults: FaultConfig) -> RunningSimulator {
    simulated::serve(SimServerConfig {
        catalogue: CatalogueParams {
            references,
            ..CatalogueParams::default()
        },
        credentials: Credentials {
            amazon_token_lifetime_secs: TOKEN_LIFETIME_SECS,
            ..Credentials::default()
        },
        faults,
        ..SimServerConfig::default()
    })
    .await
}

/// A scratch directory for the references file and the notification drop.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hub-amazon-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("drop")).expect("scratch directory");
    dir
}

fn new_connector(simulator: &RunningSimulator, dir: &std::path::Path) -> AmazonConnector {
    let gtins: Vec<String> = simulator
        .simulator
        .pages(Channel::Amazon)
        .into_iter()
        .map(|page| page.gtin)
        .collect();
    let references = dir.join("references.txt");
    std::fs::write(&references, gtins.join("\n")).expect("references file");
    let fast = RateLimit {
        per_second: 50.0,
        burst: 5,
    };
    let config = AmazonConfig {
        endpoint: simulator.base_url(),
        token_url: format!("{}/auth/o2/token", simulator.base_url()),
        marketplace_id: "A13V1IB3VIYZZH".to_owned(),
        currency: "EUR".to_owned(),
        client_id_env: "UNUSED_IN_THIS_TEST".to_owned(),
        client_secret_env: "UNUSED_IN_THIS_TEST".to_owned(),
        refresh_token_env: "UNUSED_IN_THIS_TEST".to_owned(),
        references_file: references,
        notifications_dir: Some(dir.join("drop")),
        token_renewal_margin_ms: RENEWAL_MARGIN_MS,
        rates: AmazonRates {
            get_item_offers: fast,
            get_item_offers_batch: fast,
            search_catalog_items: fast,
            get_my_fees_estimate_for_sku: fast,
            get_inventory_summaries: fast,
            lwa_token: fast,
        },
        http: HttpSettings {
            max_retries: 8,
            min_backoff_ms: 50,
            max_backoff_ms: 2_000,
            ..HttpSettings::default()
        },
    };
    let credentials = simulator.simulator.credentials();
    AmazonConnector::new(
        &config,
        LwaCredentials {
            client_id: Secret::new(credentials.amazon_client_id.clone()),
            client_secret: Secret::new(credentials.amazon_client_secret.clone()),
            refresh_token: Secret::new(credentials.amazon_refresh_token.clone()),
        },
    )
    .expect("connector")
}

/// Polls until the round is caught up; returns the number of polls.
async fn round(
    connector: &mut AmazonConnector,
    cursors: &mut MemoryCursorStore,
    sink: &mut CollectingSink,
) -> usize {
    for polls in 1..=200 {
        let report = connector.poll(cursors, sink).await.expect("poll");
        if report.caught_up {
            return polls;
        }
    }
    panic!("the round did not catch up in 200 polls");
}

/// The stock signals the sink received, in order.
fn stock_signals(sink: &CollectingSink) -> impl Iterator<Item = &StockSignal> {
    sink.records().filter_map(|record| match record {
        Sourced::Signal {
            record: SignalRecord::Stock(stock),
            ..
        } => Some(stock),
        _ => None,
    })
}

fn offers(sink: &CollectingSink) -> BTreeMap<String, Vec<OfferSignal>> {
    let mut offers: BTreeMap<String, Vec<OfferSignal>> = BTreeMap::new();
    for record in sink.records() {
        if let Sourced::Signal {
            record: SignalRecord::Offer(offer),
            ..
        } = record
        {
            offers
                .entry(offer.gtin.clone())
                .or_default()
                .push(offer.clone());
        }
    }
    offers
}

fn rejected(sink: &CollectingSink) -> Vec<String> {
    sink.records()
        .filter_map(|record| match record {
            Sourced::Rejected { reason, detail, .. } => Some(format!("{reason}: {detail}")),
            Sourced::Signal { .. } => None,
        })
        .collect()
}

#[tokio::test]
async fn a_round_reads_every_page_and_fba_inventory_to_the_end_with_one_cached_token() {
    // Enough references for more than one page (50) of FBA inventory.
    let simulator = start_simulator(600, FaultConfig::default()).await;
    let dir = scratch("round");
    let mut connector = new_connector(&simulator, &dir);
    let mut cursors = MemoryCursorStore::default();
    let mut sink = CollectingSink::default();

    let started = tokio::time::Instant::now();
    round(&mut connector, &mut cursors, &mut sink).await;
    let renewal_point = Duration::from_millis(TOKEN_LIFETIME_SECS * 1_000 - RENEWAL_MARGIN_MS);
    assert!(
        started.elapsed() < renewal_point,
        "the round must fit in one token's life for this test: {:?}",
        started.elapsed()
    );

    assert!(rejected(&sink).is_empty(), "{:?}", rejected(&sink));
    let pages = simulator.simulator.pages(Channel::Amazon);
    let offers = offers(&sink);
    assert_eq!(offers.len(), pages.len(), "every product page read once");
    for page in &pages {
        let read = &offers[&page.gtin];
        assert_eq!(read.len(), 1, "{} read {} times", page.gtin, read.len());
        let offer = &read[0];
        assert_eq!(offer.channel, "amazon");
        assert_eq!(offer.source, "amazon.getItemOffersBatch");
        assert_eq!(
            offer.our_price_incl_vat.is_some(),
            page.ours,
            "{}",
            page.gtin
        );
        assert_eq!(
            offer.offer_count,
            Some(i32::try_from(page.competitors + usize::from(page.ours)).unwrap())
        );
        assert_eq!(
            offer.lowest_landed_price_incl_vat.is_some(),
            page.competitors > 0
        );
        assert!(offer.request_id.is_some());
    }

    let expected_stock = simulator.simulator.fba_stock();
    let stock: Vec<(String, i64)> = stock_signals(&sink)
        .inspect(|stock| {
            assert_eq!(stock.stock_source, StockSource::Fba);
            assert_eq!(stock.location.as_deref(), Some("A13V1IB3VIYZZH"));
        })
        .map(|stock| (stock.gtin.clone(), stock.quantity))
        .collect();
    assert_eq!(stock, expected_stock, "FBA inventory read to its last page");
    assert!(
        expected_stock.len() > 50,
        "the test needs more than one page"
    );

    let stats = simulator.simulator.stats();
    let operation = |name: &str| stats.operations.get(name).cloned().unwrap_or_default();
    let pages_read = operation(AMAZON_GET_INVENTORY_SUMMARIES).requests;
    assert_eq!(pages_read as usize, expected_stock.len().div_ceil(50));
    assert_eq!(
        operation(AMAZON_GET_ITEM_OFFERS_BATCH).requests as usize,
        pages.len().div_ceil(20)
    );
    assert!(operation(AMAZON_SEARCH_CATALOG_ITEMS).requests > 0);
    // One token for the whole round: cached, not fetched per call.
    assert_eq!(operation(AMAZON_LWA_TOKEN).requests, 1);

    // Past the renewal point (lifetime minus margin) the next call renews it first: no call
    // ever carries an expired token.
    tokio::time::sleep_until(started + renewal_point + Duration::from_millis(200)).await;
    connector
        .poll(&mut cursors, &mut sink)
        .await
        .expect("poll after renewal point");
    let stats = simulator.simulator.stats();
    assert_eq!(stats.operations[AMAZON_LWA_TOKEN].requests, 2);
    for (name, operation) in &stats.operations {
        assert_eq!(operation.status_count(403), 0, "{name} saw a refused token");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn throttled_calls_are_retried_no_sooner_than_asked_and_nothing_is_lost() {
    // The batch operation's usage plan is 2 requests a second, burst 1: the connector's own
    // budget (50 a second) is too fast, so the simulator answers 429 with Retry-After until
    // the connector follows the rate the answers announce.
    let faults = FaultConfig {
        operations: BTreeMap::from([(
            AMAZON_GET_ITEM_OFFERS_BATCH.to_owned(),
            Faults {
                rate_limit: Some(SimRateLimit {
                    per_second: 2.0,
                    burst: 1,
                }),
                retry_after_secs: 1,
                ..Faults::default()
            },
        )]),
        ..FaultConfig::default()
    };
    let simulator = start_simulator(160, faults).await;
    let dir = scratch("throttled");
    let mut connector = new_connector(&simulator, &dir);
    let mut cursors = MemoryCursorStore::default();
    let mut sink = CollectingSink::default();

    round(&mut connector, &mut cursors, &mut sink).await;

    let pages = simulator.simulator.pages(Channel::Amazon);
    assert_eq!(
        offers(&sink).len(),
        pages.len(),
        "no page lost to throttling"
    );
    let stats = simulator.simulator.stats();
    let batch = &stats.operations[AMAZON_GET_ITEM_OFFERS_BATCH];
    assert!(
        batch.status_count(429) > 0,
        "the plan must have throttled: {batch:?}"
    );
    assert_eq!(batch.retry_after_violations, 0, "{batch:?}");
    assert_eq!(batch.status_count(200) as usize, pages.len().div_ceil(20));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn notifications_in_the_drop_are_read_first_and_removed_once_handed_over() {
    let simulator = start_simulator(60, FaultConfig::default()).await;
    let dir = scratch("drop");
    let mut connector = new_connector(&simulator, &dir);
    let mut cursors = MemoryCursorStore::default();
    let mut sink = CollectingSink::default();

    let page = simulator.simulator.pages(Channel::Amazon)[0].clone();
    let index = simulator
        .simulator
        .catalogue()
        .references
        .iter()
        .position(|reference| reference.product.gtin == page.gtin)
        .expect("the page's reference");
    let seller = simulator.simulator.credentials().amazon_seller_id.clone();
    let message = serde_json::json!({
        "NotificationVersion": "1.0",
        "NotificationType": "ANY_OFFER_CHANGED",
        "PayloadVersion": "1.0",
        "EventTime": "2026-11-28T09:15:02.517Z",
        "Payload": {"AnyOfferChangedNotification": {
            "SellerId": seller,
            "OfferChangeTrigger": {
                "MarketplaceId": "A13V1IB3VIYZZH",
                "ASIN": asin_of(index),
                "ItemCondition": "new",
                "TimeOfOfferChange": "2026-11-28T09:15:01.409Z",
                "OfferChangeType": "External"
            },
            "Summary": {
                "NumberOfOffers": [{"Condition": "new", "FulfillmentChannel": "Merchant", "OfferCount": 1}],
                "LowestPrices": [],
                "BuyBoxPrices": [{"Condition": "new",
                    "LandedPrice": {"Amount": 19.99, "CurrencyCode": "EUR"},
                    "ListingPrice": {"Amount": 19.99, "CurrencyCode": "EUR"},
                    "Shipping": {"Amount": 0.00, "CurrencyCode": "EUR"}}]
            },
            "Offers": [{"SellerId": seller, "SubCondition": "new",
                "ListingPrice": {"Amount": 19.99, "CurrencyCode": "EUR"},
                "Shipping": {"Amount": 0.00, "CurrencyCode": "EUR"},
                "IsFulfilledByAmazon": false, "IsBuyBoxWinner": true}]
        }},
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sellerapps.app.sim",
            "SubscriptionId": "subscription-sim",
            "PublishTime": "2026-11-28T09:15:02.517Z",
            "NotificationId": "notification-0001"
        }
    });
    let drop = dir.join("drop");
    std::fs::write(drop.join("0001.json"), message.to_string()).unwrap();
    std::fs::write(drop.join("0002.json"), b"{\"not\": \"a notification\"}").unwrap();

    let report = connector.poll(&mut cursors, &mut sink).await.expect("poll");
    assert_eq!((report.signals, report.rejected), (1, 1));
    let Sourced::Signal {
        record: SignalRecord::Offer(offer),
        origin,
    } = &sink.pages[0][0]
    else {
        panic!(
            "expected the notification's offer, got {:?}",
            sink.pages[0][0]
        );
    };
    assert_eq!(offer.gtin, page.gtin);
    assert_eq!(offer.our_price_incl_vat.unwrap().to_string(), "19.99");
    assert_eq!(offer.we_own_buy_box, Some(true));
    assert_eq!(origin.request_id.as_deref(), Some("notification-0001"));
    assert!(matches!(sink.pages[0][1], Sourced::Rejected { .. }));
    assert_eq!(
        std::fs::read_dir(&drop).unwrap().count(),
        0,
        "handed-over files are removed"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn fee_estimates_are_read_from_the_fees_api() {
    let simulator = start_simulator(60, FaultConfig::default()).await;
    let dir = scratch("fees");
    let mut connector = new_connector(&simulator, &dir);
    let estimate = connector
        .fees_estimate_for_sku(
            "SKU-1",
            rust_decimal::Decimal::new(10_000, 2),
            rust_decimal::Decimal::new(499, 2),
            false,
        )
        .await
        .expect("estimate");
    assert_eq!(estimate.currency, "EUR");
    assert_eq!(estimate.id_value.as_deref(), Some("SKU-1"));
    // 15% of 104.99 is 15.75; the digital services fee is 3% of it, 0.47.
    assert_eq!(estimate.total.to_string(), "16.22");
    assert_eq!(estimate.lines.len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn unreadable_catalog_items_are_quarantined_with_their_bytes() {
    let faults = FaultConfig {
        seed: 5,
        operations: [(
            AMAZON_SEARCH_CATALOG_ITEMS.to_owned(),
            Faults {
                malformed_rate: 0.2,
                ..Faults::default()
            },
        )]
        .into(),
        ..FaultConfig::default()
    };
    let simulator = start_simulator(120, faults).await;
    let dir = scratch("catalog");
    let mut connector = new_connector(&simulator, &dir);
    let mut cursors = MemoryCursorStore::default();
    let mut sink = CollectingSink::default();
    round(&mut connector, &mut cursors, &mut sink).await;

    let malformed = simulator
        .simulator
        .stats()
        .operation(AMAZON_SEARCH_CATALOG_ITEMS)
        .malformed_elements;
    assert!(malformed > 0, "the test needs malformed catalog items");
    let quarantined: Vec<&Sourced> = sink
        .records()
        .filter(|record| {
            matches!(record, Sourced::Rejected { origin, .. } if origin.source == "amazon.searchCatalogItems")
        })
        .collect();
    assert_eq!(
        quarantined.len() as u64,
        malformed,
        "every unreadable catalog item quarantined: {:?}",
        rejected(&sink)
    );
    for record in quarantined {
        let Sourced::Rejected { raw, .. } = record else {
            unreachable!("filtered above")
        };
        serde_json::from_slice::<serde_json::Value>(raw).expect("the item's own JSON");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_round_rejects_exactly_the_malformed_items_pages_and_summaries_served() {
    let faults = FaultConfig {
        seed: 29,
        default: Faults {
            malformed_rate: 0.08,
            ..Faults::default()
        },
        ..FaultConfig::default()
    };
    // More than one page (50) of FBA inventory.
    let simulator = start_simulator(260, faults).await;
    let dir = scratch("malformed");
    let mut connector = new_connector(&simulator, &dir);
    let mut cursors = MemoryCursorStore::default();
    let mut sink = CollectingSink::default();
    round(&mut connector, &mut cursors, &mut sink).await;

    simulated::assert_rejected_exactly_what_was_corrupted(&simulator, "amazon", sink.records());
    // Garbled catalog items are asked for again: every watched reference is resolved and
    // its page read, into a signal or (its payload malformed) a rejection.
    let stats = simulator.simulator.stats();
    let offers_malformed = [AMAZON_GET_ITEM_OFFERS_BATCH, AMAZON_GET_ITEM_OFFERS]
        .iter()
        .map(|operation| stats.operation(operation).malformed_elements)
        .sum::<u64>();
    assert_eq!(
        offers(&sink).len() as u64 + offers_malformed,
        simulator.simulator.pages(Channel::Amazon).len() as u64,
        "every watched reference's page read once"
    );
    for operation in [
        AMAZON_SEARCH_CATALOG_ITEMS,
        AMAZON_GET_ITEM_OFFERS_BATCH,
        AMAZON_GET_INVENTORY_SUMMARIES,
    ] {
        assert!(
            stats.operation(operation).malformed_elements > 0,
            "{operation}: {:?}",
            stats.operation(operation)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_expired_inventory_page_token_restarts_the_pass_from_its_cursor() {
    // Amazon's FBA inventory tokens live 30 s; here 3 s, so that one can expire in a test.
    let faults = FaultConfig {
        operations: BTreeMap::from([(
            AMAZON_GET_INVENTORY_SUMMARIES.to_owned(),
            Faults {
                page_token_lifetime_ms: Some(3_000),
                ..Faults::default()
            },
        )]),
        ..FaultConfig::default()
    };
    let simulator = start_simulator(600, faults).await;
    let dir = scratch("expired-token");
    let mut connector = new_connector(&simulator, &dir);
    let mut cursors = MemoryCursorStore::default();
    let mut sink = CollectingSink::default();
    let inventory_requests = || {
        simulator
            .simulator
            .stats()
            .operations
            .get(AMAZON_GET_INVENTORY_SUMMARIES)
            .map_or(0, |stats| stats.requests)
    };

    // Into the inventory pass (its first page read), then a pause outliving the token.
    for polls in 1.. {
        assert!(polls <= 200, "no FBA inventory page read in 200 polls");
        connector.poll(&mut cursors, &mut sink).await.expect("poll");
        if inventory_requests() > 0 {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    round(&mut connector, &mut cursors, &mut sink).await;

    let stats = simulator.simulator.stats();
    let inventory = &stats.operations[AMAZON_GET_INVENTORY_SUMMARIES];
    assert!(
        inventory.responses.get(&400).copied().unwrap_or(0) >= 1,
        "the expired token must have been sent once: {inventory:?}"
    );
    let expected: BTreeMap<String, i64> = simulator.simulator.fba_stock().into_iter().collect();
    assert!(expected.len() > 50, "the test needs more than one page");
    // The last quantity per GTIN: the pass read its first page twice.
    let stock: BTreeMap<String, i64> = stock_signals(&sink)
        .map(|stock| (stock.gtin.clone(), stock.quantity))
        .collect();
    assert_eq!(
        stock, expected,
        "FBA inventory read to its last page after the restart"
    );
    assert!(rejected(&sink).is_empty(), "{:?}", rejected(&sink));
    std::fs::remove_dir_all(&dir).unwrap();
}
