//! The processor on the real broker: a synthetic market with corrupt records goes in; every
//! offered (reference, channel) comes out scored on `scores.current`, every corrupt record
//! comes out on the quarantine topic with the reason the gate must give, and the scores
//! equal those of a replay of the accepted records through the core alone.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, ensure};
use hub_integration_tests::local_broker_config;
use hub_integration_tests::market::{
    corrupt_reasons, expected_scores, publish, read_until, simulate, use_catalogue_fx_rates,
    wait_for_scores,
};
use hub_integration_tests::processes::start_processor;
use hub_schemas::records::QuarantinedRecord;
use hub_schemas::{Decoder, Framing, Topic, TopicNames};

const REFERENCES: usize = 40;
const EVENTS: usize = 2_500;
const CORRUPT_RATE: f64 = 0.03;
const WAIT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread")]
async fn every_offered_reference_is_scored_and_every_corrupt_record_quarantined() -> Result<()> {
    let mut config = local_broker_config("e2e", 3);
    let (events, simulation) = simulate(REFERENCES, EVENTS, CORRUPT_RATE)?;
    use_catalogue_fx_rates(&mut config, &simulation);
    publish(&config, &events).await?;
    let topics = TopicNames::new(&config.kafka.topic_prefix)?;

    let processor = start_processor(&config);

    let expected = expected_scores(&events, &config.scoring)?;
    let expected_reasons = corrupt_reasons(&events);
    let corrupt_total: u64 = expected_reasons.values().sum();
    ensure!(
        !expected.is_empty() && corrupt_total > 0,
        "the simulation must produce scores and corrupt records"
    );
    let decoder = Decoder::new(&Framing::SingleObject, topics);
    wait_for_scores(&config, &decoder, &expected, WAIT).await?;
    let quarantined: Vec<QuarantinedRecord> = read_until(
        &config,
        &decoder,
        Topic::Quarantine,
        WAIT,
        |records: &[QuarantinedRecord]| records.len() as u64 >= corrupt_total,
    )
    .await?;
    processor.stop().await?;

    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for record in &quarantined {
        *reasons.entry(record.reason_code.clone()).or_default() += 1;
    }
    ensure!(
        reasons == expected_reasons,
        "quarantine reasons {reasons:?} differ from the corrupt records sent {expected_reasons:?}"
    );
    Ok(())
}
