//! Correlation ids through the processor on the real broker: a record's outputs carry the
//! correlation id its producer put in the `hub-correlation-id` header, and a record without
//! one gets an id derived from its position (`<topic>-<partition>-<offset>`), the id its log
//! lines carry too.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use hub::kafka::{self, RecordProvenance, TopicPolicy};
use hub::telemetry::CORRELATION_ID_HEADER;
use hub_integration_tests::processes::start_processor;
use hub_integration_tests::{local_broker_config, unique_name};
use hub_schemas::records::QuarantinedRecord;
use hub_schemas::{Decoder, Framing, Topic, TopicNames};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

const GTIN: &str = "3017620422003";
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn outputs_carry_the_input_correlation_id_or_one_derived_from_its_position() -> Result<()> {
    let config = local_broker_config("correlation", 1);
    let topics = TopicNames::new(&config.kafka.topic_prefix)?;
    kafka::ensure_topics(&config.kafka, topics.specs().iter().map(TopicPolicy::from)).await?;
    let offers = topics.name(Topic::SignalsOffers).to_owned();

    // Two undecodable offers, which the processor quarantines with their bytes.
    let producer: FutureProducer = kafka::producer_config(&config.kafka).create()?;
    let with_header = b"not avro: sent with a correlation id".to_vec();
    let without_header = b"not avro: sent without one".to_vec();
    let provenance = RecordProvenance {
        correlation_id: "connector-request-42".into(),
        source: Some("test".into()),
        request_id: None,
    };
    producer
        .send(
            FutureRecord::to(&offers)
                .key(GTIN)
                .payload(&with_header)
                .headers(provenance.to_headers()),
            WAIT,
        )
        .await
        .map_err(|(error, _)| error)?;
    let delivered = producer
        .send(
            FutureRecord::to(&offers)
                .key(GTIN)
                .payload(&without_header)
                .headers(OwnedHeaders::new()),
            WAIT,
        )
        .await
        .map_err(|(error, _)| error)?;

    let processor = start_processor(&config);
    let quarantined = read_quarantine(&config, &topics, 2).await;
    processor.stop().await?;
    let quarantined = quarantined?;

    let expected = BTreeMap::from([
        (with_header, "connector-request-42".to_owned()),
        (
            without_header,
            format!("{offers}-{}-{}", delivered.partition, delivered.offset),
        ),
    ]);
    ensure!(
        quarantined == expected,
        "correlation ids by quarantined payload: {quarantined:?}, expected {expected:?}"
    );
    Ok(())
}

/// The first `count` quarantined records: each one's original bytes and the correlation id
/// header it was published with.
async fn read_quarantine(
    config: &hub::config::Config,
    topics: &TopicNames,
    count: usize,
) -> Result<BTreeMap<Vec<u8>, String>> {
    let consumer: StreamConsumer =
        kafka::consumer_config(&config.kafka, &unique_name("correlation-reader")).create()?;
    consumer.subscribe(&[topics.name(Topic::Quarantine)])?;
    let decoder = Decoder::new(&Framing::SingleObject, topics.clone());
    let mut found = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while found.len() < count {
        let message = tokio::time::timeout_at(deadline, consumer.recv())
            .await
            .context("the quarantine did not receive both records in time")??;
        let record: QuarantinedRecord = decoder
            .decode(Topic::Quarantine, message.payload().unwrap_or_default())
            .await?;
        let correlation_id = message
            .headers()
            .and_then(|headers| {
                headers
                    .iter()
                    .find(|header| header.key == CORRELATION_ID_HEADER)
                    .and_then(|header| header.value)
            })
            .map(|value| String::from_utf8_lossy(value).into_owned())
            .context("a quarantined record without a correlation id header")?;
        found.insert(record.raw, correlation_id);
    }
    Ok(found)
}
