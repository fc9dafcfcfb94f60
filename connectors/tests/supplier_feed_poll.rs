//! The supplier feeds connector on a real directory: each file is read once, a restart
//! remembers what was read from the persisted cursor, a new file and a file rewritten with
//! new content are read, and an unchanged rewrite is not.

use std::path::{Path, PathBuf};

use crate::in_memory::{CollectingSink, MemoryCursorStore};
use crate::simulated;
use hub_connectors::connector::Connector;
use hub_connectors::machinery::{HttpSettings, RateLimit};
use hub_connectors::sourced::Sourced;
use hub_connectors::supplier_feed::{
    SupplierFeedConfig, SupplierFeedsConfig, SupplierFeedsConnector,
};

const GROSSISTE_OUEST_CSV: &[u8] =
    include_bytes!("fixtures/supplier_feed/grossiste_ouest_20250310.csv");
const EUROTECH_JSON: &[u8] = include_bytes!("fixtures/supplier_feed/eurotech_20250310.json");

fn shipped_mapping(supplier: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../config/mappings")
        .join(format!("{supplier}.toml"))
}

fn connector(grossiste_ouest: &Path, eurotech: &Path) -> SupplierFeedsConnector {
    SupplierFeedsConnector::from_config(&SupplierFeedsConfig {
        feeds: vec![
            SupplierFeedConfig {
                mapping: shipped_mapping("grossiste_ouest"),
                directory: Some(grossiste_ouest.to_owned()),
                url: None,
            },
            SupplierFeedConfig {
                mapping: shipped_mapping("eurotech"),
                directory: Some(eurotech.to_owned()),
                url: None,
            },
        ],
        rate: RateLimit {
            per_second: 100.0,
            burst: 10,
        },
        http: HttpSettings::default(),
    })
    .expect("connector")
}

/// Polls until caught up; returns the request ids of what was handed over (`<file>#<row>`)
/// and the number of polls that handed over a file.
async fn read(
    connector: &mut SupplierFeedsConnector,
    cursors: &mut MemoryCursorStore,
) -> (Vec<String>, usize) {
    let mut sink = CollectingSink::default();
    let mut files = 0;
    for _ in 0..20 {
        let report = connector.poll(cursors, &mut sink).await.expect("poll");
        if report.caught_up {
            let ids = sink
                .records()
                .map(|record| match record {
                    Sourced::Signal { origin, .. } | Sourced::Rejected { origin, .. } => {
                        origin.request_id.clone().expect("row request id")
                    }
                })
                .collect();
            return (ids, files);
        }
        if report.signals + report.rejected > 0 {
            files += 1;
        }
    }
    panic!("the feeds never caught up");
}

#[tokio::test]
async fn each_file_content_is_read_once_across_restarts() {
    let grossiste_ouest = tempfile::tempdir().unwrap();
    let eurotech = tempfile::tempdir().unwrap();
    std::fs::write(
        grossiste_ouest.path().join("grossiste_ouest_20250310.csv"),
        GROSSISTE_OUEST_CSV,
    )
    .unwrap();
    std::fs::write(grossiste_ouest.path().join("notes.txt"), b"not a feed file").unwrap();
    std::fs::write(
        eurotech.path().join("eurotech_20250310.json"),
        EUROTECH_JSON,
    )
    .unwrap();

    let mut cursors = MemoryCursorStore::default();
    let mut first = connector(grossiste_ouest.path(), eurotech.path());
    let (ids, files) = read(&mut first, &mut cursors).await;
    assert_eq!(files, 2, "one file per feed");
    assert_eq!(
        ids.len(),
        9 + 7,
        "every row's signals and rejections: {ids:?}"
    );
    assert!(ids.contains(&"grossiste_ouest_20250310.csv#L7".to_owned()));
    assert!(ids.contains(&"eurotech_20250310.json#/4".to_owned()));
    drop(first);

    // A restart on the persisted cursors reads nothing again.
    let mut connector = connector(grossiste_ouest.path(), eurotech.path());
    let (ids, _) = read(&mut connector, &mut cursors).await;
    assert!(ids.is_empty(), "{ids:?}");

    // The next day's file, and yesterday's rewritten unchanged: only the new one is read.
    std::fs::write(
        grossiste_ouest.path().join("grossiste_ouest_20250311.csv"),
        GROSSISTE_OUEST_CSV,
    )
    .unwrap();
    std::fs::write(
        grossiste_ouest.path().join("grossiste_ouest_20250310.csv"),
        GROSSISTE_OUEST_CSV,
    )
    .unwrap();
    let (ids, files) = read(&mut connector, &mut cursors).await;
    assert_eq!(files, 1);
    assert!(
        ids.iter()
            .all(|id| id.starts_with("grossiste_ouest_20250311.csv#")),
        "{ids:?}"
    );

    // A supplier that corrects its file in place: the new content is read.
    let mut corrected = EUROTECH_JSON.to_vec();
    corrected.extend_from_slice(b"\n");
    std::fs::write(eurotech.path().join("eurotech_20250310.json"), &corrected).unwrap();
    let (ids, files) = read(&mut connector, &mut cursors).await;
    assert_eq!(files, 1);
    assert_eq!(ids.len(), 7);
}

#[test]
fn a_feed_needs_exactly_one_location_and_a_valid_mapping() {
    let both = SupplierFeedsConfig {
        feeds: vec![SupplierFeedConfig {
            mapping: shipped_mapping("eurotech"),
            directory: Some(PathBuf::from("/tmp")),
            url: Some("https://supplier.example/feed.json".to_owned()),
        }],
        rate: RateLimit {
            per_second: 1.0,
            burst: 1,
        },
        http: HttpSettings::default(),
    };
    let error = SupplierFeedsConnector::from_config(&both).err().unwrap();
    assert!(
        error
            .to_string()
            .contains("exactly one of directory and url"),
        "{error}"
    );

    let missing = SupplierFeedsConfig {
        feeds: vec![SupplierFeedConfig {
            mapping: shipped_mapping("no_such_supplier"),
            directory: Some(PathBuf::from("/tmp")),
            url: None,
        }],
        ..both
    };
    let error = SupplierFeedsConnector::from_config(&missing).err().unwrap();
    assert!(
        error.to_string().contains("no_such_supplier.toml"),
        "{error}"
    );
}

/// The connector's configuration for the simulated suppliers' files, each read over HTTP
/// with its mapping (given as `(supplier id, mapping text)`) written into `mappings`.
fn simulated_feeds(
    base_url: &str,
    mappings: &Path,
    suppliers: impl IntoIterator<Item = (String, String)>,
) -> SupplierFeedsConfig {
    let feeds = suppliers
        .into_iter()
        .map(|(supplier_id, mapping_text)| {
            let mapping = mappings.join(format!("{supplier_id}.toml"));
            std::fs::write(&mapping, mapping_text).unwrap();
            SupplierFeedConfig {
                mapping,
                directory: None,
                url: Some(format!("{base_url}/suppliers/{supplier_id}/prices.csv")),
            }
        })
        .collect();
    SupplierFeedsConfig {
        feeds,
        rate: RateLimit {
            per_second: 100.0,
            burst: 10,
        },
        http: HttpSettings::default(),
    }
}

/// A new supplier is a mapping file: the simulator's wholesalers publish a `;` CSV with
/// decimal commas and prices excluding VAT.
fn simulated_supplier_mapping(supplier_id: &str) -> String {
    format!(
        "supplier_id = \"{supplier_id}\"\nsource = \"supplier.{supplier_id}.csv\"\n\
         csv_delimiter = \";\"\ndecimal_separator = \",\"\n\n[columns]\ngtin = \"EAN\"\n\
         unit_cost = \"Prix HT\"\ncurrency = \"Devise\"\nquantity = \"Stock\"\n\
         lead_time_days = \"Délai (j)\"\nmoq = \"Qté mini\"\n"
    )
}

#[tokio::test]
async fn a_file_published_at_a_url_is_read_again_only_when_it_changes() {
    use hub_market_sim::http::{MarketClock, SUPPLIER_PRICE_FILE, SimServerConfig, Simulator};
    use hub_market_sim::{CatalogueParams, PriceFeed};

    let simulator = Simulator::new(SimServerConfig {
        catalogue: CatalogueParams {
            references: 200,
            ..CatalogueParams::default()
        },
        ..SimServerConfig::default()
    })
    .expect("simulator")
    .start(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        MarketClock::OnRequest,
    )
    .await
    .expect("simulator serving");
    let catalogue = simulator.simulator.catalogue();
    let (supplier_index, supplier) = catalogue
        .suppliers
        .iter()
        .enumerate()
        .find(|(_, supplier)| supplier.price_feed == PriceFeed::SupplierFile)
        .expect("a supplier that sends its prices in its file");
    let lines = catalogue
        .references
        .iter()
        .flat_map(|reference| &reference.supplier_offers)
        .filter(|offer| offer.supplier == supplier_index)
        .count();
    assert!(lines > 0);

    let mappings = tempfile::tempdir().unwrap();
    let config = simulated_feeds(
        &simulator.base_url(),
        mappings.path(),
        [(
            supplier.id.clone(),
            simulated_supplier_mapping(&supplier.id),
        )],
    );
    let mut connector = SupplierFeedsConnector::from_config(&config).expect("connector");
    let mut cursors = MemoryCursorStore::default();

    let mut sink = CollectingSink::default();
    let report = connector.poll(&mut cursors, &mut sink).await.expect("poll");
    assert_eq!(report.rejected, 0, "{:?}", sink.pages);
    assert_eq!(
        report.signals,
        2 * lines,
        "a cost and a stock line per reference"
    );
    let report = connector.poll(&mut cursors, &mut sink).await.expect("poll");
    assert!(
        report.caught_up && report.signals == 0,
        "unchanged file not read again"
    );

    // The market moves: stock-outs and price changes rewrite the file.
    simulator.simulator.advance(5_000);
    let report = connector.poll(&mut cursors, &mut sink).await.expect("poll");
    assert_eq!(
        report.signals,
        2 * lines,
        "the rewritten file is read whole"
    );
    assert!(
        simulator
            .simulator
            .stats()
            .operation(SUPPLIER_PRICE_FILE)
            .requests
            >= 3
    );
}

#[tokio::test]
async fn every_malformed_line_of_every_simulated_supplier_file_is_rejected_once() {
    use hub_market_sim::PriceFeed;
    use hub_market_sim::http::{FaultConfig, Faults};

    let faults = FaultConfig {
        seed: 31,
        default: Faults {
            malformed_rate: 0.1,
            ..Faults::default()
        },
        ..FaultConfig::default()
    };
    let simulator = simulated::serve_catalogue(150, faults).await;
    let mappings = tempfile::tempdir().unwrap();
    let suppliers = simulator
        .simulator
        .catalogue()
        .suppliers
        .iter()
        .map(|supplier| {
            let text = match supplier.price_feed {
                PriceFeed::SupplierFile => simulated_supplier_mapping(&supplier.id),
                // Its prices are kept in Odoo: the file is read for its stock.
                PriceFeed::OdooSupplierinfo => simulated_supplier_mapping(&supplier.id)
                    .replace("unit_cost = \"Prix HT\"\n", ""),
            };
            (supplier.id.clone(), text)
        })
        .collect::<Vec<_>>();
    let config = simulated_feeds(&simulator.base_url(), mappings.path(), suppliers);
    let mut connector = SupplierFeedsConnector::from_config(&config).expect("connector");
    let (mut cursors, mut sink) = (MemoryCursorStore::default(), CollectingSink::default());
    let mut polls = 0;
    while !connector
        .poll(&mut cursors, &mut sink)
        .await
        .expect("malformed lines are handed over as rejected")
        .caught_up
    {
        polls += 1;
        // A poll reads a feed's new file or finds the feed idle and moves to the next: each
        // feed read then found idle, then every feed idle in a row.
        assert!(
            polls <= 3 * config.feeds.len(),
            "the files were never read to their end"
        );
    }
    simulated::assert_rejected_exactly_what_was_corrupted(&simulator, "supplier", sink.records());
}
