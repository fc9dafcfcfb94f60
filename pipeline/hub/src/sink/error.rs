//! Why the sink stopped, or why one step must be retried.

use hub_schemas::{RegistryError, TopicPrefixError};
use hub_sink_clickhouse::{Retry, WriteError};
use rdkafka::error::KafkaError;

use crate::kafka::KafkaAdapterError;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("invalid configuration: {key} {reason}; fix it in the [sink] section or HUB_SINK__*")]
    Config {
        key: &'static str,
        reason: &'static str,
    },
    #[error("kafka.topic_prefix: {0}")]
    TopicPrefix(#[from] TopicPrefixError),
    #[error("schema registry at kafka.schema_registry_url: {0}")]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Topics(#[from] KafkaAdapterError),
    #[error(
        "cannot create the sink's Kafka consumer (group {group}): {source}; check \
         kafka.bootstrap_servers and kafka.client_properties"
    )]
    Consumer {
        group: String,
        source: Box<KafkaError>,
    },
    #[error(
        "cannot subscribe group {group} to {topics:?}: {source}; the topics must exist \
         (`hub topics ensure`)"
    )]
    Subscribe {
        group: String,
        topics: Vec<String>,
        source: Box<KafkaError>,
    },
    /// Stops the sink: the batch is kept out of ClickHouse and its offsets are not committed,
    /// so the records are consumed again once the schema or the rows are fixed.
    #[error(
        "stopping without committing the batch: {0}. Run `hub migrate` if a table or column is \
         missing, then restart the sink; its records will be consumed again"
    )]
    Insert(#[source] Box<WriteError>),
    #[error(
        "consumed a record of topic {topic}, which the sink did not subscribe to: \
         kafka.client_properties must not change the subscription"
    )]
    UnexpectedTopic { topic: String },
    #[error(
        "cannot read which offsets of {topic}/{partition} from {from_offset} are already in \
         {tables} ({retry}): {source}"
    )]
    StoredOffsets {
        topic: String,
        partition: i32,
        from_offset: i64,
        tables: String,
        retry: Retry,
        #[source]
        source: Box<clickhouse::error::Error>,
    },
    #[error(
        "cannot decode the record at {topic}/{partition}@{offset}, the schema registry is not \
         reachable (retryable, the record is retried, not quarantined): {source}"
    )]
    RegistryUnavailable {
        topic: String,
        partition: i32,
        offset: i64,
        #[source]
        source: Box<hub_schemas::DecodeError>,
    },
    #[error(
        "{topic}/{partition} was assigned again while rows of it waited in the {table} batch, \
         which must be stored before the partition is handled (retryable): {source}"
    )]
    RestartPartition {
        topic: String,
        partition: i32,
        table: &'static str,
        #[source]
        source: Box<WriteError>,
    },
    #[error(
        "shut down with {rows} row(s) not stored in ClickHouse (retryable): their offsets were \
         not committed, the next run consumes them again. Last error: {source}"
    )]
    ShutdownFlush {
        rows: usize,
        #[source]
        source: Box<WriteError>,
    },
}
