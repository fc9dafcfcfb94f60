//! The Odoo connector over real HTTP against the simulator's Odoo: every catalogue reference
//! comes out as its product reference, field by field; a full read pages through
//! both models to the end and survives a restart from the persisted cursors with no row
//! missing or read twice (many rows share a `write_date` second); JSON-RPC and JSON-2 read
//! the same; after market changes an incremental read, laid over the first, gives what a
//! fresh full read gives; a stock change, which writes a quant and a move but not the
//! product, is read on the next poll cycle, and only the products that changed are read;
//! malformed rows are quarantined with their reason while the read goes on to the end.

use std::collections::{BTreeMap, BTreeSet};

use crate::in_memory::{CollectingSink, MemoryCursorStore};
use crate::simulated;
use hub_connectors::connector::Connector;
use hub_connectors::machinery::{HttpSettings, RateLimit, Secret};
use hub_connectors::names::REPEATS_SKIPPED;
use hub_connectors::odoo::{
    OdooConfig, OdooConnector, OdooProtocol, default_category_keys, default_levy_tax_groups,
};
use hub_connectors::sourced::{SignalRecord, Sourced};
use hub_core::reason::ReasonCode;
use hub_market_sim::http::{
    FaultConfig, Faults, ODOO_JSON2, ODOO_JSONRPC, RunningSimulator, odoo_partner_id,
};
use hub_schemas::records::{CostKind, ProductReference, StockSource};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

const PAGE_SIZE: u32 = 40;

async fn start_simulator() -> RunningSimulator {
    start_simulator_with(FaultConfig::default()).await
}

async fn start_simulator_with(faults: FaultConfig) -> RunningSimulator {
    simulated::serve_catalogue(300, faults).await
}

fn new_connector(simulator: &RunningSimulator, protocol: OdooProtocol) -> OdooConnector {
    let credentials = simulator.simulator.credentials();
    let partner_supplier_ids = simulator
        .simulator
        .catalogue()
        .suppliers
        .iter()
        .enumerate()
        .map(|(index, supplier)| (odoo_partner_id(index).to_string(), supplier.id.clone()))
        .collect();
    let config = OdooConfig {
        base_url: simulator.base_url(),
        database: credentials.odoo_database.clone(),
        protocol,
        login: Some(credentials.odoo_login.clone()),
        api_key_env: "UNUSED_IN_THIS_TEST".to_owned(),
        page_size: PAGE_SIZE,
        stock_location: "WH/Stock".to_owned(),
        company_currency: "EUR".to_owned(),
        partner_supplier_ids,
        category_keys: default_category_keys(),
        levy_tax_groups: default_levy_tax_groups(),
        product_brand: true,
        product_dimension: true,
        rate: RateLimit {
            per_second: 500.0,
            burst: 50,
        },
        http: HttpSettings::default(),
    };
    OdooConnector::new(&config, Secret::new(credentials.odoo_api_key.clone())).expect("connector")
}

/// What a read says about each row: `(kind, gtin, supplier)` -> the cost as text.
type Costs = BTreeMap<(&'static str, String, Option<String>), String>;

/// The product references read, by GTIN.
type Products = BTreeMap<String, ProductReference>;

/// Polls until caught up (or `max_polls`), failing on a cost or product read twice.
async fn read(
    connector: &mut OdooConnector,
    cursors: &mut MemoryCursorStore,
    costs: &mut Costs,
    max_polls: usize,
) -> bool {
    read_with_products(connector, cursors, costs, &mut Products::new(), max_polls).await
}

async fn read_with_products(
    connector: &mut OdooConnector,
    cursors: &mut MemoryCursorStore,
    costs: &mut Costs,
    products: &mut Products,
    max_polls: usize,
) -> bool {
    let mut sink = CollectingSink::default();
    let mut caught_up = false;
    for _ in 0..max_polls {
        if connector
            .poll(cursors, &mut sink)
            .await
            .expect("poll")
            .caught_up
        {
            caught_up = true;
            break;
        }
    }
    for record in sink.records() {
        match record {
            Sourced::Signal {
                record: SignalRecord::Cost(cost),
                ..
            } => {
                let kind = match cost.cost_kind {
                    CostKind::ErpStandardCost => "erp",
                    CostKind::SupplierPrice => "supplier",
                };
                let key = (kind, cost.gtin.clone(), cost.supplier_id.clone());
                let value = format!(
                    "{} {} moq {:?} lead {:?} valid {:?}..{:?}",
                    cost.unit_cost_excl_vat,
                    cost.currency,
                    cost.moq,
                    cost.lead_time_days,
                    cost.valid_from,
                    cost.valid_to
                );
                assert!(
                    costs.insert(key.clone(), value).is_none(),
                    "{key:?} read twice in one read"
                );
            }
            Sourced::Signal {
                record: SignalRecord::Stock(_),
                ..
            } => {}
            Sourced::Signal {
                record: SignalRecord::Product(product),
                ..
            } => {
                let gtin = product.gtin.clone();
                assert!(
                    products.insert(gtin.clone(), product.clone()).is_none(),
                    "product {gtin} read twice in one read"
                );
            }
            other => panic!("the simulated Odoo serves only mappable rows: {other:?}"),
        }
    }
    caught_up
}

#[tokio::test]
async fn every_catalogue_reference_comes_out_as_its_product_reference() {
    let simulator = start_simulator().await;
    let catalogue = simulator.simulator.catalogue();
    let mut products = Products::new();
    assert!(
        read_with_products(
            &mut new_connector(&simulator, OdooProtocol::Json2),
            &mut MemoryCursorStore::default(),
            &mut Costs::new(),
            &mut products,
            100,
        )
        .await
    );
    assert_eq!(products.len(), catalogue.references.len());
    let mut levies = 0;
    for reference in &catalogue.references {
        let expected = &reference.product;
        let read = &products[&expected.gtin];
        let what = &expected.gtin;
        assert_eq!(read.sku, expected.sku, "{what} sku");
        assert_eq!(read.title, expected.title, "{what} title");
        assert_eq!(read.brand, expected.brand, "{what} brand");
        assert_eq!(read.category, expected.category, "{what} category");
        assert_eq!(read.vat_rate, expected.vat_rate, "{what} vat_rate");
        assert_eq!(read.weight_g, expected.weight_g, "{what} weight_g");
        assert_eq!(read.length_mm, expected.length_mm, "{what} length_mm");
        assert_eq!(read.width_mm, expected.width_mm, "{what} width_mm");
        assert_eq!(read.height_mm, expected.height_mm, "{what} height_mm");
        assert_eq!(read.levies, expected.levies, "{what} levies");
        assert_eq!(read.source, expected.source, "{what} source");
        assert!(
            read.active,
            "{what} is not archived before the market moves"
        );
        // Odoo's write_date is to the second.
        assert_eq!(
            read.updated_at,
            expected.updated_at / 1_000 * 1_000,
            "{what} updated_at"
        );
        levies += expected.levies.len();
    }
    assert!(levies > 0, "the catalogue has DEEE and private copy levies");
}

#[tokio::test]
async fn a_full_read_survives_a_restart_and_an_incremental_read_misses_no_change() {
    let simulator = start_simulator().await;
    let catalogue = simulator.simulator.catalogue();

    // Three polls, then a new connector on the same cursors: it resumes after them.
    let mut cursors = MemoryCursorStore::default();
    let mut costs = Costs::new();
    let mut first = new_connector(&simulator, OdooProtocol::JsonRpc);
    assert!(!read(&mut first, &mut cursors, &mut costs, 3).await);
    drop(first);
    let mut connector = new_connector(&simulator, OdooProtocol::JsonRpc);
    assert!(read(&mut connector, &mut cursors, &mut costs, 100).await);

    let erp: Vec<_> = costs.keys().filter(|(kind, ..)| *kind == "erp").collect();
    assert_eq!(erp.len(), catalogue.references.len(), "every product, once");
    for reference in &catalogue.references {
        let key = ("erp", reference.product.gtin.clone(), None);
        assert!(
            costs[&key].starts_with(&reference.erp_standard_cost.normalize().to_string()),
            "{key:?}: {} vs {}",
            costs[&key],
            reference.erp_standard_cost
        );
    }
    let supplier_prices: usize = catalogue
        .references
        .iter()
        .flat_map(|reference| &reference.supplier_offers)
        .filter(|offer| {
            catalogue.suppliers[offer.supplier].price_source() == "odoo.product.supplierinfo"
        })
        .count();
    assert!(
        supplier_prices > PAGE_SIZE as usize,
        "several supplierinfo pages"
    );
    assert_eq!(
        costs
            .keys()
            .filter(|(kind, ..)| *kind == "supplier")
            .count(),
        supplier_prices,
        "every supplier price kept in Odoo, once, under the hub's supplier id"
    );

    // Nothing changed: one empty page per model (products, supplier prices, quants, moves).
    let mut unchanged = Costs::new();
    assert!(read(&mut connector, &mut cursors, &mut unchanged, 4).await);
    assert!(unchanged.is_empty(), "{unchanged:?}");

    simulator.simulator.advance(3_000);
    let mut changed = Costs::new();
    assert!(read(&mut connector, &mut cursors, &mut changed, 100).await);
    assert!(!changed.is_empty(), "3000 market changes touch some costs");
    assert!(
        changed.len() < costs.len(),
        "the incremental read reads only changed rows"
    );
    costs.extend(changed);

    let mut fresh = Costs::new();
    assert!(
        read(
            &mut new_connector(&simulator, OdooProtocol::JsonRpc),
            &mut MemoryCursorStore::default(),
            &mut fresh,
            100
        )
        .await
    );
    assert_eq!(costs, fresh, "the incremental read misses no change");

    // JSON-2 reads the same rows as JSON-RPC.
    let mut over_json2 = Costs::new();
    assert!(
        read(
            &mut new_connector(&simulator, OdooProtocol::Json2),
            &mut MemoryCursorStore::default(),
            &mut over_json2,
            100
        )
        .await
    );
    assert_eq!(over_json2, fresh);

    let stats = simulator.simulator.stats();
    assert!(stats.operation(ODOO_JSONRPC).requests > 0);
    assert!(stats.operation(ODOO_JSON2).requests > 0);
}

/// Archiving a product writes it in Odoo, whose searches then hide it unless asked not to:
/// the next read must bring the reference with `active` false (and a restored one with
/// `active` true), over both protocols.
#[tokio::test]
async fn an_archived_product_is_read_on_the_next_poll_as_inactive() {
    let simulator = start_simulator().await;
    assert!(simulator.simulator.odoo_archived().is_empty());
    for protocol in [OdooProtocol::JsonRpc, OdooProtocol::Json2] {
        let mut connector = new_connector(&simulator, protocol);
        let mut cursors = MemoryCursorStore::default();
        let mut before = Products::new();
        assert!(
            read_with_products(
                &mut connector,
                &mut cursors,
                &mut Costs::new(),
                &mut before,
                100
            )
            .await
        );
        let archived_before: BTreeSet<String> =
            simulator.simulator.odoo_archived().into_iter().collect();
        // Archivals are rare market changes: move the market until one more product is
        // archived than before (deterministic for the simulator's seed).
        let mut archived = archived_before.clone();
        for _ in 0..200 {
            if archived.difference(&archived_before).next().is_some() {
                break;
            }
            simulator.simulator.advance(200);
            archived = simulator.simulator.odoo_archived().into_iter().collect();
        }
        let newly_archived: Vec<&String> = archived.difference(&archived_before).collect();
        assert!(!newly_archived.is_empty(), "the market archives products");

        let mut after = Products::new();
        assert!(
            read_with_products(
                &mut connector,
                &mut cursors,
                &mut Costs::new(),
                &mut after,
                100
            )
            .await
        );
        for gtin in &newly_archived {
            let read = after
                .get(*gtin)
                .unwrap_or_else(|| panic!("{protocol:?}: archived product {gtin} not read"));
            assert!(!read.active, "{protocol:?}: {gtin} read as active");
            assert!(
                read.updated_at > before[*gtin].updated_at,
                "{protocol:?}: archiving wrote {gtin}"
            );
        }
        for (gtin, read) in &after {
            assert_eq!(
                read.active,
                !archived.contains(gtin),
                "{protocol:?}: {gtin} read as it is in Odoo"
            );
        }
    }
}

/// Polls until caught up (at most `max_polls`): how many polls it took and what they handed
/// over.
async fn poll_until_caught_up(
    connector: &mut OdooConnector,
    cursors: &mut MemoryCursorStore,
    max_polls: usize,
) -> (usize, Vec<Sourced>) {
    let mut sink = CollectingSink::default();
    for poll in 1..=max_polls {
        if connector
            .poll(cursors, &mut sink)
            .await
            .expect("poll")
            .caught_up
        {
            return (poll, sink.records().cloned().collect());
        }
    }
    panic!("not caught up after {max_polls} polls");
}

/// The ERP stock read, `gtin -> (free, incoming)`, the last read of a GTIN winning.
fn erp_stock(records: &[Sourced]) -> BTreeMap<String, (i64, i64)> {
    records
        .iter()
        .filter_map(|record| match record {
            Sourced::Signal {
                record: SignalRecord::Stock(stock),
                ..
            } => Some((
                stock.gtin.clone(),
                (
                    stock.quantity,
                    stock.incoming_quantity.expect("Odoo's incoming_qty"),
                ),
            )),
            _ => None,
        })
        .collect()
}

fn odoo_stock(simulator: &RunningSimulator) -> BTreeMap<String, (i64, i64)> {
    simulator
        .simulator
        .odoo_stock()
        .into_iter()
        .map(|(gtin, on_hand, incoming)| (gtin, (on_hand, incoming)))
        .collect()
}

#[tokio::test]
async fn a_stock_change_is_read_on_the_next_poll_cycle_without_reading_everything_again() {
    let simulator = start_simulator().await;
    let references = simulator.simulator.catalogue().references.len();
    let mut cursors = MemoryCursorStore::default();
    let mut connector = new_connector(&simulator, OdooProtocol::JsonRpc);
    let (_, full) = poll_until_caught_up(&mut connector, &mut cursors, 100).await;
    let mut stock = erp_stock(&full);
    assert_eq!(
        stock,
        odoo_stock(&simulator),
        "the full read has every stock"
    );

    let before = odoo_stock(&simulator);
    simulator.simulator.advance(200);
    let after = odoo_stock(&simulator);
    let stock_changed: BTreeSet<&String> = after
        .iter()
        .filter(|(gtin, quantities)| before[*gtin] != **quantities)
        .map(|(gtin, _)| gtin)
        .collect();
    assert!(
        !stock_changed.is_empty(),
        "200 market changes move some ERP stock"
    );

    let (polls, next) = poll_until_caught_up(&mut connector, &mut cursors, 100).await;
    let read = erp_stock(&next);
    // Stock is read for the products whose stock moved, and for those whose product row
    // was written (a standard cost change), which come with their reference: no full read.
    let products_written: BTreeSet<&String> = next
        .iter()
        .filter_map(|record| match record {
            Sourced::Signal {
                record: SignalRecord::Product(product),
                ..
            } => Some(&product.gtin),
            _ => None,
        })
        .collect();
    assert!(
        read.len() < references / 2,
        "{} of {references} read",
        read.len()
    );
    for gtin in read.keys() {
        assert!(
            stock_changed.contains(gtin) || products_written.contains(gtin),
            "{gtin} read though neither its stock nor its product changed"
        );
    }
    for gtin in &stock_changed {
        assert_eq!(read.get(*gtin), Some(&after[*gtin]), "{gtin} changed");
    }
    stock.extend(read);
    assert_eq!(stock, after, "the incremental read misses no stock change");
    assert!(
        polls <= 8,
        "read on the next cycle (one page per model, a second when the moves fill one): {polls}"
    );
}

/// A stock line (GTIN, stock source, location) and what each stock signal handed over for
/// it said, in order, without where and when it was read.
type StockLevels = BTreeMap<(String, StockSource, Option<String>), Vec<(i64, Option<i64>)>>;

fn stock_levels<'a>(records: impl IntoIterator<Item = &'a Sourced>) -> StockLevels {
    let mut levels = StockLevels::new();
    for record in records {
        if let Sourced::Signal {
            record: SignalRecord::Stock(stock),
            ..
        } = record
        {
            assert_eq!(stock.lead_time_days, None, "Odoo's stock has no lead time");
            levels
                .entry((
                    stock.gtin.clone(),
                    stock.stock_source,
                    stock.location.clone(),
                ))
                .or_default()
                .push((stock.quantity, stock.incoming_quantity));
        }
    }
    levels
}

/// Fails on a stock line handed over twice with the same level.
fn assert_no_level_repeated(levels: &StockLevels, what: &str) {
    for (line, said) in levels {
        for pair in said.windows(2) {
            assert_ne!(
                pair[0], pair[1],
                "{what}: {line:?} handed over twice with the same level: {said:?}"
            );
        }
    }
}

/// The repeats each operation skipped, from the recorded `hub_connector_repeated_signals_skipped_total`.
fn repeats_skipped(snapshotter: &Snapshotter) -> BTreeMap<String, u64> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(metric, ..)| metric.key().name() == REPEATS_SKIPPED)
        .filter_map(|(metric, _, _, value)| {
            let operation = metric
                .key()
                .labels()
                .find(|label| label.key() == "operation")?
                .value()
                .to_owned();
            match value {
                DebugValue::Counter(count) if count > 0 => Some((operation, count)),
                _ => None,
            }
        })
        .collect()
}

/// From empty cursors the products pass reads every product's stock, and the quant and move
/// passes then name every product with a quant or a move: the stock they read again is the
/// same, and is not handed over a second time.
/// The levels read again are counted as skipped repeats, on the operations of the passes that
/// read them again.
#[tokio::test]
async fn the_first_poll_cycle_hands_over_each_stock_level_once() {
    for protocol in [OdooProtocol::JsonRpc, OdooProtocol::Json2] {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        // The test runtime has one thread, which every poll runs on.
        let _recording = metrics::set_default_local_recorder(&recorder);
        let simulator = start_simulator().await;
        let mut connector = new_connector(&simulator, protocol);
        let (_, records) =
            poll_until_caught_up(&mut connector, &mut MemoryCursorStore::default(), 100).await;
        let levels = stock_levels(&records);
        assert_no_level_repeated(&levels, &format!("{protocol:?}"));
        let skipped = repeats_skipped(&snapshotter);
        assert!(
            skipped.contains_key("stock.quant") && skipped.contains_key("stock.move"),
            "{protocol:?}: the quant and move passes skip the levels they read again: {skipped:?}"
        );
        assert_eq!(
            erp_stock(&records),
            odoo_stock(&simulator),
            "{protocol:?}: every product's stock"
        );
        assert!(
            levels.values().all(|said| said.len() == 1),
            "{protocol:?}: the market did not move, so each line once"
        );
    }
}

/// The stock the products pass handed over is read again by the quant and move passes of
/// the same cycle: what changed in between is handed over, what did not is not. A restart
/// between the passes forgets what was handed over, so it hands every level over again
/// rather than lose a change.
#[tokio::test]
async fn a_stock_level_changed_during_the_cycle_is_handed_over_again_and_an_unchanged_one_is_not() {
    for restart in [false, true] {
        let simulator = start_simulator().await;
        let mut connector = new_connector(&simulator, OdooProtocol::JsonRpc);
        let mut cursors = MemoryCursorStore::default();
        // Until the supplier prices' pass begins: the products' pass is over.
        let mut products_pass = CollectingSink::default();
        for _ in 0..100 {
            connector
                .poll(&mut cursors, &mut products_pass)
                .await
                .expect("poll");
            let supplier_prices = products_pass.pages.last().is_some_and(|page| {
                page.iter().any(|record| {
                    matches!(
                        record,
                        Sourced::Signal {
                            record: SignalRecord::Cost(cost),
                            ..
                        } if cost.cost_kind == CostKind::SupplierPrice
                    )
                })
            });
            if supplier_prices {
                break;
            }
        }
        let with_products = erp_stock(&products_pass.pages.concat());
        assert_eq!(with_products, odoo_stock(&simulator), "restart {restart}");

        simulator.simulator.advance(200);
        let after = odoo_stock(&simulator);
        let changed: BTreeSet<&String> = after
            .iter()
            .filter(|(gtin, level)| with_products[*gtin] != **level)
            .map(|(gtin, _)| gtin)
            .collect();
        assert!(
            !changed.is_empty() && changed.len() < after.len() / 2,
            "200 market changes move some ERP stock: {}",
            changed.len()
        );
        if restart {
            connector = new_connector(&simulator, OdooProtocol::JsonRpc);
        }
        let (_, rest) = poll_until_caught_up(&mut connector, &mut cursors, 100).await;
        assert_no_level_repeated(&stock_levels(&rest), &format!("restart {restart}"));
        let read = erp_stock(&rest);
        for gtin in &changed {
            assert_eq!(
                read.get(*gtin),
                Some(&after[*gtin]),
                "restart {restart}: {gtin} changed"
            );
        }
        if !restart {
            assert_eq!(
                read.keys().collect::<BTreeSet<_>>(),
                changed,
                "the rest of the cycle hands over the levels that changed since the \
                 products pass, and only those"
            );
        }
        let mut stock = with_products;
        stock.extend(read);
        assert_eq!(stock, after, "restart {restart}: no stock change lost");
    }
}

#[tokio::test]
async fn malformed_rows_are_quarantined_with_their_reason_and_the_read_goes_on() {
    let faults = FaultConfig {
        seed: 5,
        default: Faults::default(),
        operations: [(
            ODOO_JSON2.to_owned(),
            Faults {
                malformed_rate: 0.05,
                ..Faults::default()
            },
        )]
        .into_iter()
        .collect(),
    };
    let simulator = start_simulator_with(faults).await;
    let references = simulator.simulator.catalogue().references.len();
    let mut connector = new_connector(&simulator, OdooProtocol::Json2);
    let (_, records) =
        poll_until_caught_up(&mut connector, &mut MemoryCursorStore::default(), 200).await;

    let stats = simulator.simulator.stats().operation(ODOO_JSON2);
    assert!(stats.malformed_elements > 0, "{stats:?}");
    let mut rejected = 0;
    let mut products = 0;
    for record in &records {
        match record {
            Sourced::Rejected {
                reason,
                detail,
                raw,
                ..
            } => {
                rejected += 1;
                // A row not in Odoo's shape, or (should every look-up of its variant come
                // malformed) a supplier price whose variant has no readable barcode.
                assert!(
                    matches!(reason, ReasonCode::MappingFailed | ReasonCode::MissingField),
                    "{reason}: {detail}"
                );
                assert!(!raw.is_empty(), "{detail}: quarantined with its bytes");
            }
            Sourced::Signal {
                record: SignalRecord::Product(_),
                ..
            } => products += 1,
            Sourced::Signal { .. } => {}
        }
    }
    assert!(rejected > 0);
    simulated::assert_rejected_exactly_what_was_corrupted(&simulator, "odoo", records.iter());
    assert!(
        products < references && products > references / 2,
        "the other products are read: {products} of {references}"
    );
}
