//! Thin Kafka adapter: client configuration, topic creation and record headers. Encoding
//! lives in `hub-schemas`; decisions live in `hub-core`.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use hub_schemas::TopicSpec;

use crate::config::KafkaConfig;
use crate::telemetry::CORRELATION_ID_HEADER;

/// Header naming the connector (and operation) a record came from.
pub const SOURCE_HEADER: &str = "hub-source";
/// Header carrying the upstream API's request id.
pub const REQUEST_ID_HEADER: &str = "hub-request-id";

#[derive(Debug, thiserror::Error)]
pub enum KafkaAdapterError {
    #[error(
        "cannot create Kafka client for {bootstrap_servers}: {source}; check kafka.bootstrap_servers and kafka.client_properties"
    )]
    Client {
        bootstrap_servers: String,
        source: KafkaError,
    },
    #[error(
        "creating topic {topic} failed: {code}; the broker refused it, check its permissions and the partition/replication settings"
    )]
    CreateTopic {
        topic: String,
        code: RDKafkaErrorCode,
    },
    #[error(
        "creating topics on {bootstrap_servers} failed: {source}; the broker may be down, retry once it answers"
    )]
    Admin {
        bootstrap_servers: String,
        source: KafkaError,
    },
}

impl KafkaAdapterError {
    /// Whether retrying the same call later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, KafkaAdapterError::Admin { .. })
    }
}

/// A topic to create and its cleanup policy: the contract topics, plus the processor's
/// internal changelog which is not a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicPolicy<'a> {
    pub name: &'a str,
    pub compacted: bool,
}

impl<'a> From<&'a TopicSpec> for TopicPolicy<'a> {
    fn from(spec: &'a TopicSpec) -> Self {
        TopicPolicy {
            name: &spec.name,
            compacted: spec.compacted,
        }
    }
}

/// Settings shared by every client: brokers and the pass-through properties.
pub fn base_client_config(config: &KafkaConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.bootstrap_servers);
    for (key, value) in config.client_properties.iter() {
        client.set(key, value);
    }
    client
}

/// An idempotent producer that waits for all in-sync replicas: the processor commits its
/// input offsets only after these acknowledgements, so none may be weaker.
pub fn producer_config(config: &KafkaConfig) -> ClientConfig {
    let mut client = base_client_config(config);
    client
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        // Java clients' partitioner: keys land on the same partition whichever client
        // produced them, which keeps the GTIN-keyed topics co-partitioned.
        .set("partitioner", "murmur2_random")
        .set("message.timeout.ms", "120000");
    client
}

/// A consumer that never commits by itself: offsets are stored only once the outputs
/// derived from a record are acknowledged.
pub fn consumer_config(config: &KafkaConfig, group_id: &str) -> ClientConfig {
    let mut client = base_client_config(config);
    client
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("session.timeout.ms", "10000");
    client
}

/// Creates the topics that do not exist yet; existing ones are left as they are.
pub async fn ensure_topics<'a>(
    config: &KafkaConfig,
    topics: impl IntoIterator<Item = impl Into<TopicPolicy<'a>>>,
) -> Result<(), KafkaAdapterError> {
    let topics: Vec<TopicPolicy<'a>> = topics.into_iter().map(Into::into).collect();
    let admin: AdminClient<DefaultClientContext> =
        base_client_config(config)
            .create()
            .map_err(|source| KafkaAdapterError::Client {
                bootstrap_servers: config.bootstrap_servers.clone(),
                source,
            })?;
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|topic| {
            let new_topic = NewTopic::new(
                topic.name,
                config.partitions,
                TopicReplication::Fixed(config.replication_factor),
            );
            if topic.compacted {
                new_topic.set("cleanup.policy", "compact")
            } else {
                new_topic.set("cleanup.policy", "delete")
            }
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .map_err(|source| KafkaAdapterError::Admin {
            bootstrap_servers: config.bootstrap_servers.clone(),
            source,
        })?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(KafkaAdapterError::CreateTopic { topic, code }),
        }
    }
    Ok(())
}

/// Provenance carried by every record so its log lines can be joined across services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordProvenance {
    pub correlation_id: String,
    pub source: Option<String>,
    pub request_id: Option<String>,
}

impl RecordProvenance {
    pub fn to_headers(&self) -> OwnedHeaders {
        let mut headers = OwnedHeaders::new().insert(Header {
            key: CORRELATION_ID_HEADER,
            value: Some(self.correlation_id.as_bytes()),
        });
        for (key, value) in [
            (SOURCE_HEADER, &self.source),
            (REQUEST_ID_HEADER, &self.request_id),
        ] {
            if let Some(value) = value {
                headers = headers.insert(Header {
                    key,
                    value: Some(value.as_bytes()),
                });
            }
        }
        headers
    }

    /// Reads the provenance headers of a consumed record. A record without a correlation
    /// id gets one derived from its position, which is unique and stable across replays.
    pub fn from_message(message: &BorrowedMessage<'_>) -> RecordProvenance {
        let header = |wanted: &str| {
            message.headers().and_then(|headers| {
                headers
                    .iter()
                    .find(|header| header.key == wanted)
                    .and_then(|header| header.value)
                    .map(|value| String::from_utf8_lossy(value).into_owned())
            })
        };
        RecordProvenance {
            correlation_id: header(CORRELATION_ID_HEADER).unwrap_or_else(|| {
                format!(
                    "{}-{}-{}",
                    message.topic(),
                    message.partition(),
                    message.offset()
                )
            }),
            source: header(SOURCE_HEADER),
            request_id: header(REQUEST_ID_HEADER),
        }
    }
}

/// Why a partition could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum PartitionReadError<E: std::error::Error + 'static> {
    #[error("{topic}/{partition}: {source}; the broker may be unavailable, retry once it answers")]
    Kafka {
        topic: String,
        partition: i32,
        source: KafkaError,
    },
    #[error(
        "{topic}/{partition}: no record arrived within {waited:?} while {remaining} remained before the high watermark; retry once the broker answers"
    )]
    Stalled {
        topic: String,
        partition: i32,
        waited: Duration,
        remaining: i64,
    },
    #[error(transparent)]
    Record(E),
}

/// The number of partitions of `topic`, `None` when the broker does not know it.
pub fn partition_count(config: &KafkaConfig, topic: &str) -> Result<Option<i32>, KafkaError> {
    let consumer: BaseConsumer = base_client_config(config).create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    Ok(metadata
        .topics()
        .iter()
        .find(|found| found.name() == topic)
        .map(|found| found.partitions().len() as i32)
        .filter(|count| *count > 0))
}

/// Reads `topic`/`partition` from its start to the high watermark seen when called,
/// handing `visit` every record's offset, key and payload (`None`: a tombstone), and returns
/// that high watermark: the offset to follow the partition from. For the compacted topics a
/// process rebuilds its state from; no consumer group offsets are used.
pub fn read_partition_to_end<E: std::error::Error + 'static>(
    config: &KafkaConfig,
    topic: &str,
    partition: i32,
    mut visit: impl FnMut(i64, &[u8], Option<&[u8]>) -> Result<(), E>,
) -> Result<i64, PartitionReadError<E>> {
    const POLL: Duration = Duration::from_secs(10);
    let kafka_error = |source| PartitionReadError::Kafka {
        topic: topic.to_owned(),
        partition,
        source,
    };
    let consumer: BaseConsumer = base_client_config(config)
        .set("group.id", format!("{}.restore", config.group_id))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .map_err(kafka_error)?;
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, POLL)
        .map_err(kafka_error)?;
    if high <= low {
        return Ok(high);
    }
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, partition, Offset::Beginning)
        .map_err(kafka_error)?;
    consumer.assign(&assignment).map_err(kafka_error)?;
    let mut next = low;
    while next < high {
        let message = consumer
            .poll(POLL)
            .ok_or(PartitionReadError::Stalled {
                topic: topic.to_owned(),
                partition,
                waited: POLL,
                remaining: high - next,
            })?
            .map_err(kafka_error)?;
        next = message.offset() + 1;
        visit(
            message.offset(),
            message.key().unwrap_or_default(),
            message.payload(),
        )
        .map_err(PartitionReadError::Record)?;
    }
    Ok(high)
}
