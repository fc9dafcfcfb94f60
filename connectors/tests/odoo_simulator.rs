//! The Odoo connector over real HTTP against the simulator's Odoo: a full read pages through
//! both models to the end and survives a restart from the persisted cursors with no row
//! missing or read twice (many rows share a `write_date` second); JSON-RPC and JSON-2 read
//! the same; after market changes an incremental read, laid over the first, gives what a
//! fresh full read gives.

mod in_memory;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use hub_connectors::connector::Connector;
use hub_connectors::machinery::{HttpSettings, RateLimit, Secret};
use hub_connectors::odoo::{OdooConfig, OdooConnector, OdooProtocol};
use hub_connectors::sourced::{SignalRecord, Sourced};
use hub_market_sim::CatalogueParams;
use hub_market_sim::http::{
    MarketClock, ODOO_JSON2, ODOO_JSONRPC, RunningSimulator, SimServerConfig, Simulator,
    odoo_partner_id,
};
use hub_schemas::records::CostKind;
use in_memory::{CollectingSink, MemoryCursorStore};

const PAGE_SIZE: u32 = 40;

async fn start_simulator() -> RunningSimulator {
    let config = SimServerConfig {
        catalogue: CatalogueParams {
            references: 300,
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

/// Polls until caught up (or `max_polls`), failing on a cost read twice.
async fn read(
    connector: &mut OdooConnector,
    cursors: &mut MemoryCursorStore,
    costs: &mut Costs,
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
            other => panic!("the simulated Odoo serves only mappable rows: {other:?}"),
        }
    }
    caught_up
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

    // Nothing changed: one empty page per model.
    let mut unchanged = Costs::new();
    assert!(read(&mut connector, &mut cursors, &mut unchanged, 2).await);
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
