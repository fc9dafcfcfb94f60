//! Every contract through the real local broker, in both framings, with the hub's own
//! topic creation and client settings; and a consumer group that commits and resumes.

// Shared with the contract tests, which use more of them than this file does.
#[allow(dead_code)]
#[path = "../../schemas/tests/contracts/fake_registry.rs"]
mod fake_registry;
#[allow(dead_code)]
#[path = "../../schemas/tests/contracts/samples.rs"]
mod samples;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fake_registry::FakeRegistry;
use futures::StreamExt;
use hub::config::Config;
use hub::kafka;
use hub_integration_tests::{local_broker_config, unique_name};
use hub_schemas::{
    AvroRecord, Decoder, Encoder, Framing, RegistryConfig, SchemaRegistry, Topic, TopicNames,
};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

const RECORDS_PER_CONTRACT: usize = 12;
const WAIT: Duration = Duration::from_secs(60);

fn test_config() -> Config {
    local_broker_config("it", 3)
}

/// Deterministic arbitrary records of a contract, from the contract tests' strategies.
fn generate<T: Debug>(strategy: impl Strategy<Value = T>, count: usize) -> Vec<T> {
    let mut runner = TestRunner::deterministic();
    (0..count)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("the sample strategies always generate")
                .current()
        })
        .collect()
}

async fn produce_all<R: AvroRecord>(
    producer: &FutureProducer,
    encoder: &Encoder,
    topic: Topic,
    records: &[R],
) -> Result<()> {
    let name = encoder.topics().name(topic).to_owned();
    for record in records {
        let payload = encoder.encode(topic, record)?;
        let key = record.key();
        let mut message = FutureRecord::to(&name).payload(&payload);
        if let Some(key) = &key {
            message = message.key(key);
        }
        producer
            .send(message, WAIT)
            .await
            .map_err(|(error, _)| error)
            .with_context(|| format!("producing to {name}"))?;
    }
    Ok(())
}

/// Reads `expected.len()` records of `topic` from the start and checks they decode to
/// exactly the produced records: the same values, each key's records in produced order
/// (records without a key are spread over partitions, so only their set is compared).
async fn consume_and_compare<R: AvroRecord + PartialEq + Debug + Clone>(
    config: &Config,
    decoder: &Decoder,
    topic: Topic,
    expected: &[R],
) -> Result<()> {
    let name = decoder.topics().name(topic).to_owned();
    let consumer: StreamConsumer =
        kafka::consumer_config(&config.kafka, &unique_name("reader")).create()?;
    consumer.subscribe(&[&name])?;
    let mut by_key: BTreeMap<Option<String>, Vec<R>> = BTreeMap::new();
    let mut stream = consumer.stream();
    for _ in 0..expected.len() {
        let message = tokio::time::timeout(WAIT, stream.next())
            .await
            .with_context(|| format!("waiting for records on {name}"))?
            .context("the consumer stream ended")??;
        let record: R = decoder
            .decode(topic, message.payload().unwrap_or_default())
            .await?;
        let key = message
            .key()
            .map(|key| String::from_utf8(key.to_vec()))
            .transpose()?;
        ensure!(
            key == record.key(),
            "{name}: message key {key:?} is not the record's key"
        );
        by_key.entry(key).or_default().push(record);
    }
    let mut expected_by_key: BTreeMap<Option<String>, Vec<R>> = BTreeMap::new();
    for record in expected {
        expected_by_key
            .entry(record.key())
            .or_default()
            .push(record.clone());
    }
    for records in [&mut by_key, &mut expected_by_key] {
        if let Some(unkeyed) = records.get_mut(&None) {
            unkeyed.sort_by_cached_key(|record| format!("{record:?}"));
        }
    }
    if let Some((key, expected_records)) = expected_by_key
        .iter()
        .find(|(key, records)| by_key.get(*key) != Some(*records))
    {
        let consumed = by_key.get(key).cloned().unwrap_or_default();
        let only_produced: Vec<&R> = expected_records
            .iter()
            .filter(|record| !consumed.contains(record))
            .collect();
        let only_consumed: Vec<&R> = consumed
            .iter()
            .filter(|record| !expected_records.contains(record))
            .collect();
        anyhow::bail!(
            "{name}: records of key {key:?} differ ({} produced, {} consumed):\nonly produced {only_produced:?}\nonly consumed {only_consumed:?}",
            expected_records.len(),
            consumed.len()
        );
    }
    ensure!(
        by_key.len() == expected_by_key.len(),
        "{name}: unexpected keys consumed"
    );
    Ok(())
}

async fn round_trip_every_contract(config: &Config, framing: Framing) -> Result<()> {
    let topics = TopicNames::new(&config.kafka.topic_prefix)?;
    kafka::ensure_topics(&config.kafka, &topics.specs()).await?;
    let encoder = Encoder::prepare(&framing, topics.clone()).await?;
    let producer: FutureProducer = kafka::producer_config(&config.kafka).create()?;

    let products = generate(samples::product_reference(), RECORDS_PER_CONTRACT);
    let offers = generate(samples::offer_signal(), RECORDS_PER_CONTRACT);
    let stock = generate(samples::stock_signal(), RECORDS_PER_CONTRACT);
    let costs = generate(samples::cost_signal(), RECORDS_PER_CONTRACT);
    let scores = generate(samples::reference_score(), RECORDS_PER_CONTRACT);
    let quarantined = generate(samples::quarantined_record(), RECORDS_PER_CONTRACT);
    produce_all(&producer, &encoder, Topic::ReferenceProducts, &products).await?;
    produce_all(&producer, &encoder, Topic::SignalsOffers, &offers).await?;
    produce_all(&producer, &encoder, Topic::SignalsStock, &stock).await?;
    produce_all(&producer, &encoder, Topic::SignalsCosts, &costs).await?;
    produce_all(&producer, &encoder, Topic::ScoresCurrent, &scores).await?;
    produce_all(&producer, &encoder, Topic::ScoresHistory, &scores).await?;
    produce_all(&producer, &encoder, Topic::Quarantine, &quarantined).await?;

    // A decoder of its own, as a separate consumer process would have: with a registry it
    // must fetch every writer schema by id.
    let decoder = Decoder::new(&framing, topics);
    consume_and_compare(config, &decoder, Topic::ReferenceProducts, &products).await?;
    consume_and_compare(config, &decoder, Topic::SignalsOffers, &offers).await?;
    consume_and_compare(config, &decoder, Topic::SignalsStock, &stock).await?;
    consume_and_compare(config, &decoder, Topic::SignalsCosts, &costs).await?;
    consume_and_compare(config, &decoder, Topic::ScoresCurrent, &scores).await?;
    consume_and_compare(config, &decoder, Topic::ScoresHistory, &scores).await?;
    consume_and_compare(config, &decoder, Topic::Quarantine, &quarantined).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_contract_round_trips_through_the_broker_in_single_object_framing() -> Result<()> {
    round_trip_every_contract(&test_config(), Framing::SingleObject).await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_contract_round_trips_through_the_broker_in_confluent_framing() -> Result<()> {
    let registry = FakeRegistry::start().await;
    let config = test_config();
    let framing = Framing::confluent(SchemaRegistry::new(RegistryConfig::new(registry.url()))?);
    round_trip_every_contract(&config, framing).await?;
    let subjects: Vec<String> = registry
        .requests()
        .into_iter()
        .filter(|request| request.method == "POST")
        .map(|request| request.path)
        .collect();
    ensure!(
        subjects.contains(&format!(
            "/subjects/{}.signals.offers-value/versions",
            config.kafka.topic_prefix
        )),
        "schemas must be registered under TopicNameStrategy subjects, saw {subjects:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn topics_are_created_with_their_contract_cleanup_policy() -> Result<()> {
    let config = test_config();
    let topics = TopicNames::new(&config.kafka.topic_prefix)?;
    kafka::ensure_topics(&config.kafka, &topics.specs()).await?;
    // A second call finds them all and must not fail.
    kafka::ensure_topics(&config.kafka, &topics.specs()).await?;
    let admin: AdminClient<DefaultClientContext> =
        kafka::base_client_config(&config.kafka).create()?;
    for spec in topics.specs() {
        let described = admin
            .describe_configs(
                &[ResourceSpecifier::Topic(&spec.name)],
                &AdminOptions::new().request_timeout(Some(WAIT)),
            )
            .await?;
        let resource = described
            .into_iter()
            .next()
            .context("no answer for the topic")??;
        let policy = resource
            .get("cleanup.policy")
            .and_then(|entry| entry.value.clone());
        let expected = if spec.compacted { "compact" } else { "delete" };
        ensure!(
            policy.as_deref() == Some(expected),
            "{}: cleanup.policy {policy:?}, expected {expected}",
            spec.name
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_group_resumes_after_its_committed_offsets() -> Result<()> {
    let config = test_config();
    let topics = TopicNames::new(&config.kafka.topic_prefix)?;
    kafka::ensure_topics(&config.kafka, &topics.specs()).await?;
    let encoder = Encoder::prepare(&Framing::SingleObject, topics.clone()).await?;
    let decoder = Decoder::new(&Framing::SingleObject, topics.clone());
    let producer: FutureProducer = kafka::producer_config(&config.kafka).create()?;
    let offers = generate(samples::offer_signal(), 30);
    produce_all(&producer, &encoder, Topic::SignalsOffers, &offers).await?;
    let name = topics.name(Topic::SignalsOffers).to_owned();
    let group = unique_name("group");

    let first_part = 12;
    let mut seen = Vec::new();
    {
        let consumer: StreamConsumer = kafka::consumer_config(&config.kafka, &group).create()?;
        consumer.subscribe(&[&name])?;
        let mut next_offsets = BTreeMap::new();
        for _ in 0..first_part {
            let message = tokio::time::timeout(WAIT, consumer.recv()).await??;
            seen.push(
                decoder
                    .decode::<hub_schemas::records::OfferSignal>(
                        Topic::SignalsOffers,
                        message.payload().unwrap_or_default(),
                    )
                    .await?,
            );
            next_offsets.insert(message.partition(), message.offset() + 1);
        }
        let mut committed = TopicPartitionList::new();
        for (partition, next) in next_offsets {
            committed.add_partition_offset(&name, partition, Offset::Offset(next))?;
        }
        consumer.commit(&committed, CommitMode::Sync)?;
    }

    let consumer: StreamConsumer = kafka::consumer_config(&config.kafka, &group).create()?;
    consumer.subscribe(&[&name])?;
    for _ in first_part..offers.len() {
        let message = tokio::time::timeout(WAIT, consumer.recv()).await??;
        seen.push(
            decoder
                .decode(Topic::SignalsOffers, message.payload().unwrap_or_default())
                .await?,
        );
    }
    // Nothing more may arrive: the first consumer's records were not delivered again.
    let extra = tokio::time::timeout(Duration::from_secs(3), consumer.recv()).await;
    ensure!(extra.is_err(), "a committed record was delivered again");

    // Matched by value: decoding rescales decimals to the schema's scale, which compares
    // equal but prints differently.
    let mut unseen = offers.clone();
    for record in &seen {
        let position = unseen.iter().position(|offer| offer == record);
        ensure!(
            position.is_some(),
            "a record was delivered twice or was never produced: {record:?}"
        );
        unseen.swap_remove(position.expect("checked above"));
    }
    ensure!(
        unseen.is_empty(),
        "{} records were never delivered: {unseen:?}",
        unseen.len()
    );
    Ok(())
}
