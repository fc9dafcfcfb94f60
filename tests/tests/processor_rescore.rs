//! A change of weights published with `hub rescore` re-scores every reference x channel
//! from the processor's state, on the real broker: the running processor reports its
//! progress until done, every current score then equals the core's replay under the new
//! weights with its version moved forward, references first seen after the revision are
//! scored under it, and a processor started after a further revision catches up by itself
//! when its partitions are restored.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, ensure};
use hub::control::ActiveScoring;
use hub::rescore::{self, RescoreRequest};
use hub_integration_tests::market::{
    expected_scores, expected_scores_under, publish, simulate, use_catalogue_fx_rates,
    wait_for_scores,
};
use hub_integration_tests::processes::start_processor;
use hub_integration_tests::{local_broker_config, unique_name};
use hub_market_sim::MarketEvent;
use hub_schemas::{Decoder, Framing, TopicNames};

const REFERENCES: usize = 30;
const EVENTS: usize = 1_500;
const WAIT: Duration = Duration::from_secs(180);

/// A weight profile named `name` that puts most weight on margin.
fn write_weight_profile(dir: &Path, name: &str, version: &str) -> Result<()> {
    let default = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/weights/default.toml"),
    )?;
    let replaced = [
        ("name = \"default\"", format!("name = \"{name}\"")),
        (
            "version = \"2026-05-1\"",
            format!("version = \"{version}\""),
        ),
        (
            "margin_potential = \"0.30\"",
            "margin_potential = \"0.60\"".into(),
        ),
        (
            "price_competitiveness = \"0.15\"",
            "price_competitiveness = \"0.05\"".into(),
        ),
        (
            "market_attractiveness = \"0.15\"",
            "market_attractiveness = \"0.05\"".into(),
        ),
        ("availability = \"0.15\"", "availability = \"0.05\"".into()),
    ]
    .into_iter()
    .try_fold(default, |text, (from, to)| {
        ensure!(
            text.contains(from),
            "config/weights/default.toml no longer has {from}"
        );
        Ok(text.replace(from, &to))
    })?;
    std::fs::create_dir_all(dir.join("weights"))?;
    std::fs::write(dir.join(format!("weights/{name}.toml")), replaced)?;
    Ok(())
}

fn gtin_of(event: &MarketEvent) -> Option<&str> {
    match event {
        MarketEvent::Product(product) => Some(&product.gtin),
        MarketEvent::Offer(offer) => Some(&offer.gtin),
        MarketEvent::Stock(stock) => Some(&stock.gtin),
        MarketEvent::Cost(cost) => Some(&cost.gtin),
        MarketEvent::Corrupt { .. } => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_published_revision_rescores_every_reference_with_versions_moved_forward() -> Result<()> {
    let mut config = local_broker_config("rescore", 3);
    // Small batches, so a re-score reports progress several times per partition.
    config.processor.max_batch_records = 8;
    let (events, simulation) = simulate(REFERENCES, EVENTS, 0.01)?;
    use_catalogue_fx_rates(&mut config, &simulation);
    // Every fifth reference is held back until the first revision is done: the processor
    // first meets it under that revision.
    let mut gtins: Vec<&str> = events
        .iter()
        .filter_map(|(event, _)| gtin_of(event))
        .collect();
    gtins.sort_unstable();
    gtins.dedup();
    let late: Vec<String> = gtins
        .iter()
        .step_by(5)
        .map(|gtin| gtin.to_string())
        .collect();
    let is_late = |event: &MarketEvent| {
        gtin_of(event).is_some_and(|gtin| late.iter().any(|late| late == gtin))
    };
    let (late_events, early_events): (Vec<_>, Vec<_>) = events
        .iter()
        .cloned()
        .partition(|(event, _)| is_late(event));
    ensure!(
        !late_events.is_empty() && !early_events.is_empty(),
        "the simulation must have early and late references"
    );
    publish(&config, &early_events).await?;
    let decoder = Decoder::new(
        &Framing::SingleObject,
        TopicNames::new(&config.kafka.topic_prefix)?,
    );
    let before = expected_scores(&early_events, &config.scoring)?;
    ensure!(!before.is_empty(), "the simulation must produce scores");

    let processor = start_processor(&config);
    wait_for_scores(&config, &decoder, &before, WAIT).await?;

    let profiles = std::env::temp_dir().join(unique_name("rescore-config"));
    write_weight_profile(&profiles, "margin_first", "test-1")?;
    config.scoring.config_dir = profiles.display().to_string();
    let first = rescore::publish(
        &config,
        &RescoreRequest {
            weights_profile: Some("margin_first".into()),
            seller_profile: None,
            reason: "margin first".into(),
        },
    )
    .await?;
    ensure!(
        first.revision == 1,
        "the first revision is 1, got {}",
        first.revision
    );
    let mut reports = Vec::new();
    rescore::wait(&config, first.revision, WAIT, |progress| {
        reports.push(progress.clone())
    })
    .await?;
    let last = reports.last().expect("progress was reported");
    let rescored: u64 = last.values().map(|partition| partition.total).sum();
    ensure!(
        rescored as usize >= REFERENCES / 2,
        "the processor reported re-scoring only {rescored} references: {reports:?}"
    );
    let first_scoring = ActiveScoring::from_revision(&first).map_err(anyhow::Error::msg)?;
    let after = expected_scores_under(&early_events, &first_scoring)?;
    ensure!(
        after.keys().eq(before.keys()),
        "a re-score changes scores, not which pairs are scored"
    );
    for (key, score) in &after {
        let previous = &before[key];
        ensure!(
            score.version > previous.version && &*score.weights_profile == "margin_first",
            "{key:?}: version {} -> {} under {}",
            previous.version,
            score.version,
            score.weights_profile
        );
    }
    wait_for_scores(&config, &decoder, &after, WAIT).await?;

    publish(&config, &late_events).await?;
    let with_late = expected_scores_under(&events, &first_scoring)?;
    let late_scores: Vec<_> = with_late
        .values()
        .filter(|score| late.contains(&score.gtin))
        .collect();
    ensure!(
        !late_scores.is_empty(),
        "the late references must be scored"
    );
    for score in &late_scores {
        ensure!(
            score.version >> 32 == i64::from(first.revision),
            "{} on {}: version {} does not carry revision {}",
            score.gtin,
            score.channel,
            score.version,
            first.revision
        );
    }
    wait_for_scores(&config, &decoder, &with_late, WAIT).await?;
    processor.stop().await?;

    // Published while no processor runs: the next one re-scores as it restores.
    write_weight_profile(&profiles, "margin_first", "test-2")?;
    let second = rescore::publish(
        &config,
        &RescoreRequest {
            weights_profile: Some("margin_first".into()),
            seller_profile: None,
            reason: "margin first, second edit".into(),
        },
    )
    .await?;
    ensure!(
        second.revision == 2,
        "revisions count up, got {}",
        second.revision
    );
    let processor = start_processor(&config);
    rescore::wait(&config, second.revision, WAIT, |_| {}).await?;
    let caught_up = expected_scores_under(
        &events,
        &ActiveScoring::from_revision(&second).map_err(anyhow::Error::msg)?,
    )?;
    wait_for_scores(&config, &decoder, &caught_up, WAIT).await?;
    processor.stop().await?;
    std::fs::remove_dir_all(&profiles)?;
    Ok(())
}
