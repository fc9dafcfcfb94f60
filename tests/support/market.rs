//! The synthetic market as test input, and the oracle the processor is checked against:
//! the accepted records replayed through the pure core, reference by reference. The
//! processor's final state does not depend on how it interleaved its input topics, so its
//! final scores must equal the oracle's exactly, versions included.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use hub::config::{Config, ScoringConfig};
use hub::control::ActiveScoring;
use hub::kafka;
use hub::market_feed::{MarketFeed, products_topic_key};
use hub_core::gate::{Candidate, GateConfig};
use hub_core::state::{InputPosition, ReferenceState};
use hub_market_sim::{Catalogue, CatalogueParams, MarketEvent, MarketSimulation, SimulationParams};
use hub_schemas::records::ReferenceScore;
use hub_schemas::{AvroRecord, Decoder, Encoder, Topic, TopicNames};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::FutureProducer;

use crate::unique_name;

/// Up to `events` market events (with the simulated time each was published at) over a
/// catalogue of `references`, and the simulation that made them. The market starts now:
/// records are published with the simulated time as their Kafka timestamp, and the
/// broker's retention would delete records stamped long ago.
///
/// Tests publish every event before the processor reads them, so only the first record per
/// reference is kept on the compacted products topic: the local broker compacts every few
/// seconds, and a later record (an ERP re-sync, good or corrupt) would erase the unread
/// first one while the oracle still counts both.
pub fn simulate(
    references: usize,
    events: usize,
    corrupt_rate: f64,
) -> Result<(Vec<(MarketEvent, i64)>, MarketSimulation)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let catalogue = Catalogue::generate(&CatalogueParams {
        references,
        as_of: now,
        ..CatalogueParams::default()
    })?;
    let mut simulation = MarketSimulation::new(
        catalogue,
        SimulationParams {
            corrupt_rate,
            start_at: now,
            ..SimulationParams::default()
        },
    )?;
    let mut product_keys = HashSet::new();
    let events = (0..events)
        .map(|_| {
            let event = simulation.next_event();
            (event, simulation.now())
        })
        .filter(|(event, _)| products_topic_key(event).is_none_or(|key| product_keys.insert(key)))
        .collect();
    Ok((events, simulation))
}

/// How many records of `events` the gate must quarantine, by reason code.
pub fn corrupt_reasons(events: &[(MarketEvent, i64)]) -> BTreeMap<String, u64> {
    let mut reasons = BTreeMap::new();
    for (event, _) in events {
        if let MarketEvent::Corrupt {
            expected_reason, ..
        } = event
        {
            *reasons.entry((*expected_reason).to_owned()).or_default() += 1;
        }
    }
    reasons
}

/// The catalogue's exchange rates into the scoring configuration, as an operator would set
/// them, so that suppliers quoting in foreign currencies are converted.
pub fn use_catalogue_fx_rates(config: &mut Config, simulation: &MarketSimulation) {
    for rate in &simulation.catalogue().fx_rates {
        config
            .scoring
            .fx
            .rates
            .insert(rate.currency.to_owned(), rate.eur_per_unit);
    }
}

/// Publishes `events` to the configured topics and waits for the broker's acknowledgements.
pub async fn publish(config: &Config, events: &[(MarketEvent, i64)]) -> Result<()> {
    let topics = TopicNames::new(&config.kafka.topic_prefix)?;
    kafka::ensure_topics(&config.kafka, &topics.specs()).await?;
    let producer: FutureProducer = kafka::producer_config(&config.kafka).create()?;
    let mut feed = MarketFeed::new(producer, Encoder::single_object(topics));
    for (event, at) in events {
        feed.publish(event, *at).await?;
    }
    feed.flush().await?;
    Ok(())
}

/// What the processor must end with: per (gtin, channel), the score of the final state,
/// under the local scoring configuration (revision 0).
pub fn expected_scores(
    events: &[(MarketEvent, i64)],
    scoring: &ScoringConfig,
) -> Result<BTreeMap<(String, String), ReferenceScore>> {
    let scoring = ActiveScoring::local(scoring).map_err(anyhow::Error::msg)?;
    expected_scores_under(events, &scoring)
}

/// What the processor must end with under `scoring`, e.g. a published revision.
pub fn expected_scores_under(
    events: &[(MarketEvent, i64)],
    scoring: &ActiveScoring,
) -> Result<BTreeMap<(String, String), ReferenceScore>> {
    let gate_config = GateConfig::default();
    let mut states: HashMap<String, ReferenceState> = HashMap::new();
    let mut offsets: HashMap<&str, i64> = HashMap::new();
    for (event, at) in events {
        let (topic, candidate) = match event {
            MarketEvent::Product(product) => ("products", Candidate::Product(product.clone())),
            MarketEvent::Offer(offer) => ("offers", Candidate::Offer(offer.clone())),
            MarketEvent::Stock(stock) => ("stock", Candidate::Stock(stock.clone())),
            MarketEvent::Cost(cost) => ("costs", Candidate::Cost(cost.clone())),
            MarketEvent::Corrupt { .. } => continue,
        };
        let state = candidate.state_key().and_then(|key| states.get(&key));
        let signal = candidate.check(state, *at, &gate_config).ok();
        let signal = signal.context("the simulator's good records must pass the gate")?;
        let offset = offsets.entry(topic).or_default();
        *offset += 1;
        states.entry(signal.gtin().to_owned()).or_default().apply(
            signal,
            InputPosition {
                topic,
                offset: *offset,
            },
        );
    }
    let mut expected = BTreeMap::new();
    for state in states.values_mut() {
        state.scoring_revision = scoring.revision;
        for channel in state.offered_channels() {
            if let Some(Ok(score)) = scoring.score(state, channel) {
                expected.insert((score.gtin.clone(), score.channel.to_string()), score);
            }
        }
    }
    Ok(expected)
}

/// Reads `topic` from the start, with a fresh consumer group, until `done` holds for the
/// records read so far or `wait` has passed.
pub async fn read_until<R: AvroRecord>(
    config: &Config,
    decoder: &Decoder,
    topic: Topic,
    wait: Duration,
    done: impl FnMut(&[R]) -> bool,
) -> Result<Vec<R>> {
    read_until_or_explain(config, decoder, topic, wait, done, |records| {
        format!("read {} records", records.len())
    })
    .await
}

/// [`read_until`], with `explain` describing what was read when time runs out.
pub async fn read_until_or_explain<R: AvroRecord>(
    config: &Config,
    decoder: &Decoder,
    topic: Topic,
    wait: Duration,
    mut done: impl FnMut(&[R]) -> bool,
    explain: impl Fn(&[R]) -> String,
) -> Result<Vec<R>> {
    let name = decoder.topics().name(topic).to_owned();
    let consumer: StreamConsumer =
        kafka::consumer_config(&config.kafka, &unique_name("reader")).create()?;
    consumer.subscribe(&[&name])?;
    let mut records = Vec::new();
    let mut stream = consumer.stream();
    let deadline = tokio::time::Instant::now() + wait;
    while !done(&records) {
        let Ok(message) = tokio::time::timeout_at(deadline, stream.next()).await else {
            anyhow::bail!("{name}: waited {wait:?}: {}", explain(&records));
        };
        let message = message.context("consumer stream ended")??;
        records.push(
            decoder
                .decode(topic, message.payload().unwrap_or_default())
                .await?,
        );
    }
    Ok(records)
}

/// Every record of `topic` up to its end offsets as they are now.
pub async fn read_all<R: AvroRecord>(
    config: &Config,
    decoder: &Decoder,
    topic: Topic,
    wait: Duration,
) -> Result<Vec<R>> {
    let name = decoder.topics().name(topic).to_owned();
    let client: BaseConsumer =
        kafka::consumer_config(&config.kafka, &unique_name("counter")).create()?;
    let metadata = client.fetch_metadata(Some(&name), Duration::from_secs(10))?;
    let mut total = 0;
    for partition in metadata
        .topics()
        .iter()
        .flat_map(|topic| topic.partitions())
    {
        let (low, high) =
            client.fetch_watermarks(&name, partition.id(), Duration::from_secs(10))?;
        total += (high - low) as usize;
    }
    read_until(config, decoder, topic, wait, |records: &[R]| {
        records.len() >= total
    })
    .await
}

/// The highest version per (gtin, channel) among `scores`.
pub fn latest_scores(scores: &[ReferenceScore]) -> BTreeMap<(String, String), ReferenceScore> {
    let mut latest: BTreeMap<(String, String), ReferenceScore> = BTreeMap::new();
    for score in scores {
        let key = (score.gtin.clone(), score.channel.to_string());
        if latest
            .get(&key)
            .is_none_or(|held| held.version < score.version)
        {
            latest.insert(key, score.clone());
        }
    }
    latest
}

/// Reads `scores.current` until every expected (gtin, channel) has reached its expected
/// version, then checks that the scores are exactly the expected ones.
pub async fn wait_for_scores(
    config: &Config,
    decoder: &Decoder,
    expected: &BTreeMap<(String, String), ReferenceScore>,
    wait: Duration,
) -> Result<()> {
    let versions = |scores: &BTreeMap<(String, String), ReferenceScore>| {
        scores
            .iter()
            .map(|(key, score)| (key.clone(), score.version))
            .collect::<BTreeMap<_, _>>()
    };
    let expected_versions = versions(expected);
    let scores = read_until_or_explain(
        config,
        decoder,
        Topic::ScoresCurrent,
        wait,
        |scores: &[ReferenceScore]| versions(&latest_scores(scores)) == expected_versions,
        |scores| {
            let got = versions(&latest_scores(scores));
            let missing = expected_versions.keys().filter(|key| !got.contains_key(*key)).count();
            let differing: Vec<_> = expected_versions
                .iter()
                .filter_map(|(key, version)| {
                    got.get(key)
                        .filter(|got| *got != version)
                        .map(|got| format!("{key:?}: {got} instead of {version}"))
                })
                .take(5)
                .collect();
            format!(
                "{} of {} expected scores missing, {} unexpected; versions differing: {differing:?}",
                missing,
                expected_versions.len(),
                got.keys().filter(|key| !expected_versions.contains_key(*key)).count()
            )
        },
    )
    .await?;
    let latest = latest_scores(&scores);
    if let Some((key, score)) = latest
        .iter()
        .find(|(key, score)| expected.get(*key) != Some(*score))
    {
        anyhow::bail!(
            "score of {key:?} differs from the core's replay:\nprocessor {score:?}\nexpected  {:?}",
            expected.get(key)
        );
    }
    Ok(())
}
