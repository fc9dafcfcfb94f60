//! Every connector configured against the simulator's APIs, as an operator configures them
//! against the real ones: the endpoints are the simulator's, the credentials those it
//! prints, and the files an operator keeps (the references watched on Amazon, our Fnac
//! Darty catalogue, one mapping per supplier) are written from the simulated catalogue into
//! a scratch directory. Rates are those of a local server, not the real APIs' usage plans:
//! the simulator enforces none unless its fault plan says so.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hub_connectors::amazon::config::AmazonRates;
use hub_connectors::amazon::{AmazonConfig, AmazonConnector, LwaCredentials};
use hub_connectors::connector::Connector;
use hub_connectors::fnac_darty::{FnacDartyConfig, FnacDartyConnector};
use hub_connectors::machinery::{ConnectorError, HttpSettings, RateLimit, Secret};
use hub_connectors::mirakl::{MiraklConfig, MiraklConnector};
use hub_connectors::octopia::{ClientCredentials, OctopiaConfig, OctopiaConnector};
use hub_connectors::odoo::{OdooConfig, OdooConnector, OdooProtocol};
use hub_connectors::supplier_feed::{
    SupplierFeedConfig, SupplierFeedsConfig, SupplierFeedsConnector,
};
use hub_core::channel::Channel;
use hub_market_sim::http::{PageSummary, RunningSimulator, Simulator, odoo_partner_id};
use hub_market_sim::{PriceFeed, Supplier};

/// The pace of every operation against the local simulator.
const LOCAL_RATE: RateLimit = RateLimit {
    per_second: 500.0,
    burst: 50,
};
/// The "secret" settings are never read: credentials are handed over directly.
const GIVEN: &str = "GIVEN_BY_THE_SIMULATOR";

/// Whether a connector reads the offers of a product page.
type ReadsPage = fn(&PageSummary) -> bool;

/// The marketplaces the connectors read, and the product pages each reads offers of.
const OFFER_PAGES: [(Channel, ReadsPage); 4] = [
    // Amazon watches every page of the channel (see [`SimulatedSources::amazon`]).
    (Channel::Amazon, |_| true),
    // Our own offers drive the others, priced whatever our stock.
    (Channel::Cdiscount, |page| page.ours),
    (Channel::FnacDarty, |page| page.ours),
    (Channel::Mirakl, |page| page.ours),
];

/// Every (GTIN, channel key) the connectors read an offer of: each must end up scored.
pub fn offered_pairs(simulator: &Simulator) -> BTreeSet<(String, String)> {
    OFFER_PAGES
        .iter()
        .flat_map(|(channel, read)| {
            simulator
                .pages(*channel)
                .into_iter()
                .filter(read)
                .map(|page| (page.gtin, channel.key().to_owned()))
        })
        .collect()
}

/// Builds the connectors of the simulated sources; the files they read live in `scratch`,
/// which must outlive them (the supplier feeds read their mappings when built, Amazon its
/// references).
pub struct SimulatedSources<'a> {
    simulator: &'a RunningSimulator,
    scratch: &'a Path,
}

impl<'a> SimulatedSources<'a> {
    pub fn new(simulator: &'a RunningSimulator, scratch: &'a Path) -> Self {
        SimulatedSources { simulator, scratch }
    }

    /// Every source, in the order of `hub_connectors::config::CONNECTORS`.
    pub fn all(&self) -> Result<Vec<Box<dyn Connector>>, ConnectorError> {
        Ok(vec![
            self.mirakl()?,
            self.cdiscount()?,
            self.fnac_darty()?,
            self.odoo()?,
            self.supplier_feeds()?,
            self.amazon()?,
        ])
    }

    /// The simulator the sources are served by.
    pub fn simulator(&self) -> &Simulator {
        &self.simulator.simulator
    }

    fn base_url(&self) -> String {
        self.simulator.base_url()
    }

    /// Writes `text` to `name` in the scratch directory, for a connector that reads a file.
    fn write(&self, name: &str, text: &str) -> Result<PathBuf, ConnectorError> {
        let path = self.scratch.join(name);
        std::fs::write(&path, text).map_err(|error| {
            ConnectorError::config(
                "demo",
                format!(
                    "writing {}: {error}; is the directory writable?",
                    path.display()
                ),
            )
        })?;
        Ok(path)
    }

    pub fn mirakl(&self) -> Result<Box<dyn Connector>, ConnectorError> {
        let credentials = self.simulator.simulator.credentials();
        let config = MiraklConfig {
            base_url: self.base_url(),
            api_key_env: GIVEN.to_owned(),
            shop_id: Some(credentials.mirakl_shop_id as i64),
            shop_name: None,
            page_size: hub_connectors::mirakl::config::MAX_PAGE_SIZE,
            of21_rate: LOCAL_RATE,
            p11_rate: LOCAL_RATE,
            http: HttpSettings::default(),
        };
        Ok(Box::new(MiraklConnector::new(
            &config,
            Secret::new(credentials.mirakl_api_key.clone()),
        )?))
    }

    pub fn cdiscount(&self) -> Result<Box<dyn Connector>, ConnectorError> {
        let credentials = self.simulator.simulator.credentials();
        let base = self.base_url();
        let config = OctopiaConfig {
            base_url: format!("{base}/seller/v2"),
            token_url: format!("{base}/auth/realms/maas/protocol/openid-connect/token"),
            seller_id: credentials.octopia_seller_id.to_string(),
            client_id_env: GIVEN.to_owned(),
            client_secret_env: GIVEN.to_owned(),
            page_size: 100,
            offers_rate: LOCAL_RATE,
            competition_rate: LOCAL_RATE,
            competition_sweep_interval_ms:
                hub_connectors::octopia::config::DEFAULT_COMPETITION_SWEEP_INTERVAL_MS,
            token_rate: LOCAL_RATE,
            http: HttpSettings::default(),
        };
        Ok(Box::new(OctopiaConnector::new(
            &config,
            ClientCredentials {
                client_id: Secret::new(credentials.octopia_client_id.clone()),
                client_secret: Secret::new(credentials.octopia_client_secret.clone()),
            },
        )?))
    }

    /// Fnac Darty names our offers by SKU: the catalogue gives their EANs.
    pub fn fnac_darty(&self) -> Result<Box<dyn Connector>, ConnectorError> {
        let simulator = &self.simulator.simulator;
        let credentials = simulator.credentials();
        let config = FnacDartyConfig {
            base_url: format!("{}/api.php", self.base_url()),
            partner_id: credentials.fnac_partner_id.clone(),
            shop_id: credentials.fnac_shop_id.clone(),
            key_env: GIVEN.to_owned(),
            catalogue_file: PathBuf::new(),
            page_size: 100,
            auth_rate: LOCAL_RATE,
            offers_query_rate: LOCAL_RATE,
            pricing_query_rate: LOCAL_RATE,
            pricing_sweep_interval_ms:
                hub_connectors::fnac_darty::config::DEFAULT_PRICING_SWEEP_INTERVAL_MS,
            pricing_batches_per_poll:
                hub_connectors::fnac_darty::config::DEFAULT_PRICING_BATCHES_PER_POLL,
            http: HttpSettings::default(),
        };
        let gtin_by_sku: HashMap<String, String> = simulator
            .catalogue()
            .references
            .into_iter()
            .map(|reference| (reference.product.sku, reference.product.gtin))
            .collect();
        Ok(Box::new(FnacDartyConnector::new(
            &config,
            Secret::new(credentials.fnac_key.clone()),
            gtin_by_sku,
        )?))
    }

    /// The ERP: costs, stock and the supplier prices the buyers keep in Odoo, its partners
    /// mapped to the suppliers' ids.
    pub fn odoo(&self) -> Result<Box<dyn Connector>, ConnectorError> {
        let simulator = &self.simulator.simulator;
        let credentials = simulator.credentials();
        let partner_supplier_ids: BTreeMap<String, String> = simulator
            .catalogue()
            .suppliers
            .iter()
            .enumerate()
            .map(|(index, supplier)| (odoo_partner_id(index).to_string(), supplier.id.clone()))
            .collect();
        // Read as the configuration file is: every setting not named keeps its default.
        let config: OdooConfig = serde_json::from_value(serde_json::json!({
            "base_url": self.base_url(),
            "database": credentials.odoo_database,
            "protocol": OdooProtocol::JsonRpc,
            "login": credentials.odoo_login,
            "api_key_env": GIVEN,
            "stock_location": hub_market_sim::ERP_LOCATION,
            "partner_supplier_ids": partner_supplier_ids,
            "rate": LOCAL_RATE,
        }))
        .map_err(|error| {
            ConnectorError::config(
                hub_connectors::odoo::CONNECTOR,
                format!("the simulated Odoo's settings: {error}"),
            )
        })?;
        Ok(Box::new(OdooConnector::new(
            &config,
            Secret::new(credentials.odoo_api_key.clone()),
        )?))
    }

    /// One feed per supplier, read from the URL its server publishes its file at, with a
    /// mapping written for its layout.
    pub fn supplier_feeds(&self) -> Result<Box<dyn Connector>, ConnectorError> {
        let feeds = self
            .simulator
            .simulator
            .catalogue()
            .suppliers
            .iter()
            .map(|supplier| {
                Ok(SupplierFeedConfig {
                    mapping: self.write(
                        &format!("supplier-{}.toml", supplier.id),
                        &supplier_mapping(supplier),
                    )?,
                    directory: None,
                    url: Some(format!(
                        "{}/suppliers/{}/prices.csv",
                        self.base_url(),
                        supplier.id
                    )),
                })
            })
            .collect::<Result<_, ConnectorError>>()?;
        Ok(Box::new(SupplierFeedsConnector::from_config(
            &SupplierFeedsConfig {
                feeds,
                rate: LOCAL_RATE,
                http: HttpSettings::default(),
            },
        )?))
    }

    /// Amazon watches the references we sell or could sell there: every product page of
    /// the channel.
    pub fn amazon(&self) -> Result<Box<dyn Connector>, ConnectorError> {
        let simulator = &self.simulator.simulator;
        let credentials = simulator.credentials();
        let gtins: Vec<String> = simulator
            .pages(Channel::Amazon)
            .into_iter()
            .map(|page| page.gtin)
            .collect();
        let config = AmazonConfig {
            endpoint: self.base_url(),
            token_url: format!("{}/auth/o2/token", self.base_url()),
            marketplace_id: hub_connectors::amazon::MARKETPLACE_FR.to_owned(),
            currency: "EUR".to_owned(),
            client_id_env: GIVEN.to_owned(),
            client_secret_env: GIVEN.to_owned(),
            refresh_token_env: GIVEN.to_owned(),
            references_file: self.write("amazon-references.txt", &gtins.join("\n"))?,
            notifications_dir: None,
            token_renewal_margin_ms: 60_000,
            rates: AmazonRates {
                get_item_offers: LOCAL_RATE,
                get_item_offers_batch: LOCAL_RATE,
                search_catalog_items: LOCAL_RATE,
                get_my_fees_estimate_for_sku: LOCAL_RATE,
                get_inventory_summaries: LOCAL_RATE,
                lwa_token: LOCAL_RATE,
            },
            http: HttpSettings::default(),
        };
        Ok(Box::new(AmazonConnector::new(
            &config,
            LwaCredentials {
                client_id: Secret::new(credentials.amazon_client_id.clone()),
                client_secret: Secret::new(credentials.amazon_client_secret.clone()),
                refresh_token: Secret::new(credentials.amazon_refresh_token.clone()),
            },
        )?))
    }
}

/// The mapping of a simulated supplier's file (`hub_market_sim::http::SUPPLIER_FILE_HEADER`:
/// `;` separated, decimal comma, prices excluding VAT). A supplier whose prices the buyers
/// keep in Odoo sends its stock only: its mapping reads no price.
fn supplier_mapping(supplier: &Supplier) -> String {
    let mut mapping = format!(
        "supplier_id = \"{}\"\nsource = \"{}\"\ncsv_delimiter = \";\"\ndecimal_separator = \",\"\n\n[columns]\ngtin = \"EAN\"\ncurrency = \"Devise\"\nquantity = \"Stock\"\nlead_time_days = \"Délai (j)\"\n",
        supplier.id,
        supplier.file_source()
    );
    if supplier.price_feed == PriceFeed::SupplierFile {
        let _ = write!(mapping, "unit_cost = \"Prix HT\"\nmoq = \"Qté mini\"\n");
    }
    mapping
}
