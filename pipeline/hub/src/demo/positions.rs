//! Where the demo's records are: end offsets of the topics before and after the run, and the
//! offsets the processor and the sink have committed. A consumer group commits an offset
//! only once everything before it is handled (the processor once its outputs are
//! acknowledged, the sink once its rows are stored), so "committed >= end" is exactly
//! "everything published has been processed / written".

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::kafka;

/// How long one metadata, watermark or committed-offsets request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
#[error(
    "{what} on the broker at {bootstrap_servers}: {source}; is it up (scripts/services status)?"
)]
pub struct BrokerError {
    what: String,
    bootstrap_servers: String,
    source: Box<KafkaError>,
}

/// An offset per (topic, partition): the next offset to read, or to be committed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Positions(BTreeMap<(String, i32), i64>);

impl Positions {
    pub fn get(&self, topic: &str, partition: i32) -> Option<i64> {
        self.0.get(&(topic.to_owned(), partition)).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, i32, i64)> {
        self.0
            .iter()
            .map(|((topic, partition), offset)| (topic.as_str(), *partition, *offset))
    }

    /// The positions of `topics` only.
    pub fn of(&self, topics: &[String]) -> Positions {
        Positions(
            self.0
                .iter()
                .filter(|((topic, _), _)| topics.contains(topic))
                .map(|(key, offset)| (key.clone(), *offset))
                .collect(),
        )
    }

    pub fn extend(&mut self, other: Positions) {
        self.0.extend(other.0);
    }
}

/// The records between two positions of the same partitions: what one demo run added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start: Positions,
    pub end: Positions,
}

impl Span {
    /// Records in the span on `topic`.
    pub fn records(&self, topic: &str) -> u64 {
        self.end
            .iter()
            .filter(|(name, _, _)| *name == topic)
            .map(|(name, partition, end)| {
                let start = self.start.get(name, partition).unwrap_or(0);
                u64::try_from(end - start).unwrap_or(0)
            })
            .sum()
    }

    /// Records of the span a consumer group has passed, given its committed positions:
    /// the progress of that group through the span, per topic summed.
    pub fn passed(&self, committed: &Positions) -> u64 {
        self.end
            .iter()
            .map(|(topic, partition, end)| {
                let start = self.start.get(topic, partition).unwrap_or(0);
                let at = committed
                    .get(topic, partition)
                    .unwrap_or(start)
                    .clamp(start, end);
                u64::try_from(at - start).unwrap_or(0)
            })
            .sum()
    }

    /// Total records in the span.
    pub fn total(&self) -> u64 {
        self.passed(&self.end)
    }

    /// A ClickHouse condition selecting the rows stored from this span's records of `topic`,
    /// by the Kafka position columns every table has. `0` (no row) when the span is empty.
    pub fn sql_condition(&self, topic: &str) -> String {
        let partitions: Vec<String> = self
            .end
            .iter()
            .filter(|(name, _, _)| *name == topic)
            .filter_map(|(name, partition, end)| {
                let start = self.start.get(name, partition).unwrap_or(0);
                (end > start).then(|| {
                    format!(
                        "(kafka_partition = {partition} AND kafka_offset >= {start} AND kafka_offset < {end})"
                    )
                })
            })
            .collect();
        if partitions.is_empty() {
            return "0".to_owned();
        }
        format!(
            "(kafka_topic = {} AND ({}))",
            sql_string(topic),
            partitions.join(" OR ")
        )
    }
}

/// A ClickHouse string literal: backslashes and quotes escaped.
pub fn sql_string(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Reads end offsets and a consumer group's committed offsets. It never joins the group nor
/// commits: it only asks the group coordinator what the group has committed.
pub struct OffsetReader {
    consumer: Arc<BaseConsumer>,
    group: String,
    bootstrap_servers: String,
}

impl OffsetReader {
    pub fn new(config: &KafkaConfig, group: &str) -> Result<Self, BrokerError> {
        let consumer = kafka::consumer_config(config, group)
            .create()
            .map_err(|source| BrokerError {
                what: format!("creating a reader of consumer group {group}"),
                bootstrap_servers: config.bootstrap_servers.clone(),
                source: Box::new(source),
            })?;
        Ok(OffsetReader {
            consumer: Arc::new(consumer),
            group: group.to_owned(),
            bootstrap_servers: config.bootstrap_servers.clone(),
        })
    }

    /// The next offset to be written on every partition of `topics`.
    pub async fn end_offsets(&self, topics: &[String]) -> Result<Positions, BrokerError> {
        let consumer = Arc::clone(&self.consumer);
        let topics = topics.to_vec();
        self.blocking(
            format!("reading the end offsets of {topics:?}"),
            move || {
                let mut positions = BTreeMap::new();
                for topic in &topics {
                    let metadata = consumer.fetch_metadata(Some(topic), REQUEST_TIMEOUT)?;
                    for partition in metadata
                        .topics()
                        .iter()
                        .flat_map(|topic| topic.partitions())
                    {
                        let (_, high) =
                            consumer.fetch_watermarks(topic, partition.id(), REQUEST_TIMEOUT)?;
                        positions.insert((topic.clone(), partition.id()), high);
                    }
                }
                Ok(Positions(positions))
            },
        )
        .await
    }

    /// What this reader's group has committed on the partitions of `of`; a partition
    /// without a commit is left out.
    pub async fn committed(&self, of: &Positions) -> Result<Positions, BrokerError> {
        let consumer = Arc::clone(&self.consumer);
        let mut partitions = TopicPartitionList::new();
        for (topic, partition, _) in of.iter() {
            partitions.add_partition(topic, partition);
        }
        self.blocking(
            format!(
                "reading the offsets committed by consumer group {}",
                self.group
            ),
            move || {
                let committed = consumer.committed_offsets(partitions, REQUEST_TIMEOUT)?;
                Ok(Positions(
                    committed
                        .elements()
                        .iter()
                        .filter_map(|element| match element.offset() {
                            Offset::Offset(offset) => {
                                Some(((element.topic().to_owned(), element.partition()), offset))
                            }
                            _ => None,
                        })
                        .collect(),
                ))
            },
        )
        .await
    }

    /// Runs a blocking librdkafka request off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        what: String,
        request: impl FnOnce() -> Result<T, KafkaError> + Send + 'static,
    ) -> Result<T, BrokerError> {
        tokio::task::spawn_blocking(request)
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
            .map_err(|source| BrokerError {
                what,
                bootstrap_servers: self.bootstrap_servers.clone(),
                source: Box::new(source),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(entries: &[(&str, i32, i64)]) -> Positions {
        Positions(
            entries
                .iter()
                .map(|(topic, partition, offset)| (((*topic).to_owned(), *partition), *offset))
                .collect(),
        )
    }

    #[test]
    fn a_span_counts_its_records_and_a_groups_progress_through_them() {
        let span = Span {
            start: positions(&[("a", 0, 10), ("a", 1, 0), ("b", 0, 5)]),
            end: positions(&[("a", 0, 15), ("a", 1, 3), ("b", 0, 5)]),
        };
        assert_eq!(span.records("a"), 8);
        assert_eq!(span.records("b"), 0);
        assert_eq!(span.total(), 8);
        // Partition 1 not committed yet; a commit before the span counts as nothing.
        assert_eq!(span.passed(&positions(&[("a", 0, 12)])), 2);
        assert_eq!(span.passed(&positions(&[("a", 0, 3), ("a", 1, 9)])), 3);
    }

    #[test]
    fn the_sql_condition_selects_exactly_the_spans_offsets() {
        let span = Span {
            start: positions(&[("hub.x", 0, 10), ("hub.x", 1, 4), ("hub.y", 0, 2)]),
            end: positions(&[("hub.x", 0, 15), ("hub.x", 1, 4), ("hub.y", 0, 2)]),
        };
        assert_eq!(
            span.sql_condition("hub.x"),
            "(kafka_topic = 'hub.x' AND ((kafka_partition = 0 AND kafka_offset >= 10 AND kafka_offset < 15)))"
        );
        assert_eq!(span.sql_condition("hub.y"), "0");
        assert_eq!(sql_string("it's a \\ test"), "'it\\'s a \\\\ test'");
    }
}
