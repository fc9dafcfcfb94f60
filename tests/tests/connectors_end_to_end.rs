//! The whole intake on the real engines: the simulator serves the marketplaces' APIs over
//! real HTTP, the connectors read them and publish to the broker as `hub connect` does, the
//! processor gates, joins and scores, and every simulated reference comes out scored on
//! every channel a connector reads it on.
//!
//! Each source is one line of [`SOURCES`]: its connector, built against the simulator,
//! and the channel whose pages it must bring in. The product references (the ERP's master
//! data) are published from the catalogue: no connector reads them yet (the Odoo
//! connector reads costs and stock).

use std::collections::BTreeSet;
use std::sync::Once;
use std::time::Duration;

use anyhow::{Result, ensure};
use hub::config::Config;
use hub_connectors::config::{ConnectorsConfig, build};
use hub_connectors::connector::Connector;
use hub_connectors::machinery::{HttpSettings, RateLimit, Secret};
use hub_connectors::mirakl::MiraklConfig;
use hub_connectors::octopia::{ClientCredentials, OctopiaConfig, OctopiaConnector};
use hub_core::channel::Channel;
use hub_integration_tests::connectors::{
    broker_config, now_millis, run_connectors, start_simulator,
};
use hub_integration_tests::market::{publish, read_until_or_explain};
use hub_market_sim::MarketEvent;
use hub_market_sim::http::{FaultConfig, PageSummary, RunningSimulator};
use hub_schemas::records::ReferenceScore;
use hub_schemas::{Decoder, Framing, Topic, TopicNames};

const REFERENCES: usize = 150;
const WAIT: Duration = Duration::from_secs(180);

/// A source of the end-to-end run.
struct Source {
    /// Builds the connector against the running simulator.
    connector: fn(&RunningSimulator) -> Result<Box<dyn Connector>>,
    /// The channel whose product pages the connector brings in.
    channel: Channel,
    /// The pages of that channel it must bring in with a price to score.
    scores_page: fn(&PageSummary) -> bool,
}

const SOURCES: &[Source] = &[
    // Our offers (OF21) drive it, priced whatever our stock: out of stock, our offer is
    // inactive but keeps its price.
    Source {
        connector: mirakl,
        channel: Channel::Mirakl,
        scores_page: |page| page.ours,
    },
    // Our offers drive it, priced whatever our stock.
    Source {
        connector: cdiscount,
        channel: Channel::Cdiscount,
        scores_page: |page| page.ours,
    },
];

const FAST: RateLimit = RateLimit {
    per_second: 50.0,
    burst: 5,
};

fn cdiscount(simulator: &RunningSimulator) -> Result<Box<dyn Connector>> {
    let credentials = simulator.simulator.credentials();
    let base = simulator.base_url();
    let config = OctopiaConfig {
        base_url: format!("{base}/seller/v2"),
        token_url: format!("{base}/auth/realms/maas/protocol/openid-connect/token"),
        seller_id: credentials.octopia_seller_id.to_string(),
        client_id_env: "UNUSED_CREDENTIALS_ARE_GIVEN".to_owned(),
        client_secret_env: "UNUSED_CREDENTIALS_ARE_GIVEN".to_owned(),
        page_size: 50,
        offers_rate: FAST,
        token_rate: FAST,
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

const MIRAKL_KEY_ENV: &str = "HUB_TEST_E2E_MIRAKL_KEY";

fn mirakl(simulator: &RunningSimulator) -> Result<Box<dyn Connector>> {
    static SET: Once = Once::new();
    let credentials = simulator.simulator.credentials();
    let key = credentials.mirakl_api_key.clone();
    SET.call_once(|| {
        // SAFETY: set once, before the connector that reads it is built; nothing else in
        // this test binary reads or writes it.
        unsafe { std::env::set_var(MIRAKL_KEY_ENV, key) };
    });
    let connectors = ConnectorsConfig {
        mirakl: Some(MiraklConfig {
            base_url: simulator.base_url(),
            api_key_env: MIRAKL_KEY_ENV.to_owned(),
            shop_id: Some(credentials.mirakl_shop_id as i64),
            shop_name: None,
            page_size: 50,
            of21_rate: FAST,
            p11_rate: FAST,
            http: Default::default(),
        }),
        ..ConnectorsConfig::default()
    };
    Ok(build("mirakl", &connectors)?)
}

/// Every (GTIN, channel) the sources must bring in, each of which must end up scored.
fn expected_pairs(simulator: &RunningSimulator) -> BTreeSet<(String, String)> {
    SOURCES
        .iter()
        .flat_map(|source| {
            simulator
                .simulator
                .pages(source.channel)
                .into_iter()
                .filter(|page| (source.scores_page)(page))
                .map(|page| (page.gtin, source.channel.key().to_owned()))
        })
        .collect()
}

async fn publish_products(config: &Config, simulator: &RunningSimulator) -> Result<()> {
    let at = now_millis();
    let products: Vec<(MarketEvent, i64)> = simulator
        .simulator
        .catalogue()
        .references
        .into_iter()
        .map(|reference| (MarketEvent::Product(reference.product), at))
        .collect();
    publish(config, &products).await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_simulated_reference_is_scored_on_every_channel_it_is_read_on() -> Result<()> {
    let config = broker_config("connectors_e2e", Duration::from_secs(3_600));
    let simulator = start_simulator(REFERENCES, FaultConfig::default()).await?;
    let expected = expected_pairs(&simulator);
    ensure!(!expected.is_empty(), "the sources must read some pages");
    publish_products(&config, &simulator).await?;

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let processor_config = config.clone();
    let processor = tokio::spawn(async move {
        hub::processor::run(&processor_config, async {
            stopped.await.ok();
        })
        .await
    });
    let connectors = SOURCES
        .iter()
        .map(|source| (source.connector)(&simulator))
        .collect::<Result<Vec<_>>>()?;
    let connectors = run_connectors(&config, connectors);

    let decoder = Decoder::new(
        &Framing::SingleObject,
        TopicNames::new(&config.kafka.topic_prefix)?,
    );
    let scored_pairs = |scores: &[ReferenceScore]| -> BTreeSet<(String, String)> {
        scores
            .iter()
            .map(|score| (score.gtin.clone(), score.channel.clone()))
            .collect()
    };
    let scores: Vec<ReferenceScore> = read_until_or_explain(
        &config,
        &decoder,
        Topic::ScoresCurrent,
        WAIT,
        |scores: &[ReferenceScore]| scored_pairs(scores).is_superset(&expected),
        |scores| {
            let scored = scored_pairs(scores);
            let missing: Vec<_> = expected.difference(&scored).collect();
            format!(
                "{} of {} pairs scored; missing e.g. {:?}",
                expected.len() - missing.len(),
                expected.len(),
                &missing[..missing.len().min(10)]
            )
        },
    )
    .await?;
    connectors.stop().await?;
    stop.send(()).ok();
    processor.await??;

    let unexpected: Vec<_> = scored_pairs(&scores)
        .difference(&expected)
        .cloned()
        .collect();
    ensure!(
        unexpected.is_empty(),
        "scores for pairs no source read: {unexpected:?}"
    );
    Ok(())
}
