//! Publishes the synthetic market of `hub-market-sim` to the signal topics, as connectors
//! would: the demo and the end-to-end tests feed the processor through the real broker.

use hub_market_sim::{CorruptRecord, MarketEvent, RecordKind};
use hub_schemas::{AvroRecord, EncodeError, Encoder, Topic};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

use crate::kafka::RecordProvenance;

/// Deliveries awaited at once: enough to keep the broker busy, few enough to bound memory.
const MAX_IN_FLIGHT: usize = 10_000;
/// Start of the correlation id of every record a feed publishes.
const CORRELATION_PREFIX: &str = "market-";

/// The correlation id of the `sequence`-th record a feed publishes (from 0). The processor
/// copies an input's correlation id onto every score and quarantined record it leads to.
pub fn correlation_id(sequence: u64) -> String {
    format!("{CORRELATION_PREFIX}{sequence}")
}

/// The publishing sequence number in a correlation id made by [`correlation_id`].
pub fn sequence_of(correlation_id: &str) -> Option<u64> {
    correlation_id
        .strip_prefix(CORRELATION_PREFIX)?
        .parse()
        .ok()
}

/// The key `event` would be published under on the compacted products topic, `None` for
/// events of the other topics. A compacting broker keeps only the latest record per key,
/// so a second record with the same key can erase an unread first one.
pub fn products_topic_key(event: &MarketEvent) -> Option<String> {
    match event {
        MarketEvent::Product(product)
        | MarketEvent::Corrupt {
            record: CorruptRecord::Product(product),
            ..
        } => product.key(),
        MarketEvent::Corrupt {
            record:
                CorruptRecord::Raw {
                    kind: RecordKind::Product,
                    key,
                    ..
                },
            ..
        } => Some(key.clone()),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("publishing to {topic}: {source}; is the broker up (scripts/services up)?")]
    Kafka { topic: String, source: KafkaError },
}

pub struct MarketFeed {
    producer: FutureProducer,
    encoder: Encoder,
    in_flight: Vec<(String, DeliveryFuture)>,
    published: u64,
}

impl MarketFeed {
    pub fn new(producer: FutureProducer, encoder: Encoder) -> Self {
        MarketFeed {
            producer,
            encoder,
            in_flight: Vec::new(),
            published: 0,
        }
    }

    pub fn published(&self) -> u64 {
        self.published
    }

    /// Publishes one event with `published_at` (the simulated clock) as its Kafka
    /// timestamp, so the quality gate judges freshness against the market's own time.
    pub async fn publish(
        &mut self,
        event: &MarketEvent,
        published_at: i64,
    ) -> Result<(), FeedError> {
        match event {
            MarketEvent::Product(record)
            | MarketEvent::Corrupt {
                record: CorruptRecord::Product(record),
                ..
            } => {
                self.publish_record(Topic::ReferenceProducts, record, published_at)
                    .await
            }
            MarketEvent::Offer(record)
            | MarketEvent::Corrupt {
                record: CorruptRecord::Offer(record),
                ..
            } => {
                self.publish_record(Topic::SignalsOffers, record, published_at)
                    .await
            }
            MarketEvent::Stock(record)
            | MarketEvent::Corrupt {
                record: CorruptRecord::Stock(record),
                ..
            } => {
                self.publish_record(Topic::SignalsStock, record, published_at)
                    .await
            }
            MarketEvent::Cost(record)
            | MarketEvent::Corrupt {
                record: CorruptRecord::Cost(record),
                ..
            } => {
                self.publish_record(Topic::SignalsCosts, record, published_at)
                    .await
            }
            MarketEvent::Corrupt {
                record: CorruptRecord::Raw { kind, key, bytes },
                ..
            } => {
                let topic = match kind {
                    RecordKind::Product => Topic::ReferenceProducts,
                    RecordKind::Offer => Topic::SignalsOffers,
                    RecordKind::Stock => Topic::SignalsStock,
                    RecordKind::Cost => Topic::SignalsCosts,
                };
                self.publish_bytes(topic, Some(key.clone()), bytes.clone(), published_at)
                    .await
            }
        }
    }

    async fn publish_record<R: AvroRecord>(
        &mut self,
        topic: Topic,
        record: &R,
        published_at: i64,
    ) -> Result<(), FeedError> {
        let payload = self.encoder.encode(topic, record)?;
        self.publish_bytes(topic, record.key(), payload, published_at)
            .await
    }

    async fn publish_bytes(
        &mut self,
        topic: Topic,
        key: Option<String>,
        payload: Vec<u8>,
        published_at: i64,
    ) -> Result<(), FeedError> {
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            self.flush().await?;
        }
        let name = self.encoder.topics().name(topic).to_owned();
        let headers = RecordProvenance {
            correlation_id: correlation_id(self.published),
            source: Some("hub-market-sim".into()),
            request_id: None,
        }
        .to_headers();
        let mut record = FutureRecord::to(&name)
            .payload(&payload)
            .timestamp(published_at)
            .headers(headers);
        if let Some(key) = &key {
            record = record.key(key);
        }
        let delivery = loop {
            match self.producer.send_result(record) {
                Ok(delivery) => break delivery,
                // The producer's queue is bounded: wait for what is in flight, then enqueue
                // the same record again.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    self.flush().await?;
                }
                Err((source, _)) => {
                    return Err(FeedError::Kafka {
                        topic: name,
                        source,
                    });
                }
            }
        };
        self.in_flight.push((name, delivery));
        self.published += 1;
        Ok(())
    }

    /// Waits until the broker has acknowledged everything published so far.
    pub async fn flush(&mut self) -> Result<(), FeedError> {
        for (topic, delivery) in self.in_flight.drain(..) {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((source, _))) => return Err(FeedError::Kafka { topic, source }),
                Err(_) => {
                    return Err(FeedError::Kafka {
                        topic,
                        source: KafkaError::Canceled,
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correlation_id_gives_back_its_sequence_and_other_ids_none() {
        for sequence in [0, 7, u64::MAX] {
            assert_eq!(sequence_of(&correlation_id(sequence)), Some(sequence));
        }
        assert_eq!(sequence_of("changelog-4006381333931"), None);
        assert_eq!(sequence_of("market-"), None);
        assert_eq!(sequence_of("market-12x"), None);
    }
}
