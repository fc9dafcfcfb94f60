//! The whole intake on the real engines: the simulator serves the marketplaces', the ERP's
//! and the suppliers' APIs over real HTTP, the connectors read them and publish to the
//! broker as `hub connect` does, the processor gates, joins and scores, and every simulated
//! reference comes out scored on every channel a connector reads it on, with its cost and
//! stock joined from Odoo and the suppliers' files.
//!
//! Each source is one line of [`SOURCES`]: its connector, configured against the simulator
//! as the demo configures it (`hub::demo::sources`). The product references come from Odoo,
//! the ERP's master data, like nothing else in the test: no record is published by hand.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Result, ensure};
use hub::demo::sources::{SimulatedSources, offered_pairs};
use hub_connectors::connector::Connector;
use hub_connectors::machinery::ConnectorError;
use hub_integration_tests::connectors::{broker_config, run_connectors, start_simulator};
use hub_integration_tests::market::{latest_scores, read_until_or_explain};
use hub_integration_tests::processes::start_processor;
use hub_market_sim::http::FaultConfig;
use hub_schemas::records::ReferenceScore;
use hub_schemas::{Decoder, Framing, Topic, TopicNames};

const REFERENCES: usize = 150;
const WAIT: Duration = Duration::from_secs(240);

type Build = fn(&SimulatedSources) -> Result<Box<dyn Connector>, ConnectorError>;

/// Every source: the marketplaces bring the offers (`offered_pairs` says which pages each
/// reads), Odoo the product references, the ERP's costs and stock and the supplier prices
/// kept there, the suppliers' files their prices and stock.
const SOURCES: &[Build] = &[
    |sources| sources.mirakl(),
    |sources| sources.cdiscount(),
    |sources| sources.fnac_darty(),
    |sources| sources.amazon(),
    |sources| sources.odoo(),
    |sources| sources.supplier_feeds(),
];

/// Whether a score joined a product cost (with its source) and a stock level.
fn has_cost_and_stock(score: &ReferenceScore) -> bool {
    score
        .margin
        .as_ref()
        .is_some_and(|margin| !margin.product_cost_source.is_empty())
        && score.stock_observed_at.is_some()
        && score.cost_observed_at.is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_simulated_reference_is_scored_on_every_channel_it_is_read_on() -> Result<()> {
    let mut config = broker_config("connectors_e2e", Duration::from_secs(3_600));
    let simulator = start_simulator(REFERENCES, FaultConfig::default()).await?;
    hub::demo::use_catalogue_fx_rates(&mut config.scoring, &simulator.simulator.catalogue())?;
    let expected = offered_pairs(&simulator.simulator);
    ensure!(!expected.is_empty(), "the sources must read some pages");
    let topics = TopicNames::new(&config.kafka.topic_prefix)?;
    // The scores are read from the start, before the processor creates their topic.
    hub::kafka::ensure_topics(&config.kafka, &topics.specs()).await?;

    let processor = start_processor(&config);
    let scratch = tempfile::tempdir()?;
    let sources = SimulatedSources::new(&simulator, scratch.path());
    let connectors = SOURCES
        .iter()
        .map(|build| build(&sources))
        .collect::<Result<Vec<_>, _>>()?;
    let connectors = run_connectors(&config, connectors);

    let decoder = Decoder::new(&Framing::SingleObject, topics);
    // The latest score of every pair, once it has joined a cost and a stock level: the
    // offers may arrive before the ERP's and the suppliers' data.
    let complete_pairs = |scores: &[ReferenceScore]| -> BTreeSet<(String, String)> {
        latest_scores(scores)
            .into_iter()
            .filter(|(_, score)| has_cost_and_stock(score))
            .map(|(pair, _)| pair)
            .collect()
    };
    let scores: Vec<ReferenceScore> = read_until_or_explain(
        &config,
        &decoder,
        Topic::ScoresCurrent,
        WAIT,
        |scores: &[ReferenceScore]| complete_pairs(scores).is_superset(&expected),
        |scores| {
            let complete = complete_pairs(scores);
            let scored = latest_scores(scores);
            let missing: Vec<_> = expected.difference(&complete).collect();
            let without_cost_or_stock = missing
                .iter()
                .filter(|pair| scored.contains_key(**pair))
                .count();
            format!(
                "{} of {} pairs scored with a cost and stock; {without_cost_or_stock} of the others scored without; missing e.g. {:?}",
                expected.len() - missing.len(),
                expected.len(),
                &missing[..missing.len().min(10)]
            )
        },
    )
    .await?;
    connectors.stop().await?;
    processor.stop().await?;

    let scored: BTreeSet<(String, String)> = latest_scores(&scores).into_keys().collect();
    let unexpected: Vec<_> = scored.difference(&expected).cloned().collect();
    ensure!(
        unexpected.is_empty(),
        "scores for pairs no source read: {unexpected:?}"
    );
    // Both kinds of cost sources are joined: the ERP's and the suppliers'.
    let cost_sources: BTreeSet<String> = latest_scores(&scores)
        .values()
        .filter_map(|score| score.margin.as_ref())
        .map(|margin| {
            margin
                .product_cost_source
                .split(':')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    ensure!(
        cost_sources.len() > 1,
        "every score costs its product from one kind of source: {cost_sources:?}"
    );
    Ok(())
}
