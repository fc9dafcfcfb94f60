//! The Kafka [`RecordSink`] of `hub connect`: every element a connector yields passes the
//! quality gate, then goes Avro-encoded to its signal topic keyed by GTIN, or to the
//! quarantine topic with its reason and raw bytes. A page is accepted only once the broker
//! acknowledged every one of its records, so the connector's cursor never runs ahead of
//! what Kafka holds.
//!
//! The gate runs here without the reference's state (the processor owns it): every rule
//! that needs no history (identity, currency, time, amounts, placeholders) refuses a bad
//! element at the edge, with the connector's provenance; the processor gates again with
//! state, which adds the price-jump checks.

use std::time::Duration;

use async_trait::async_trait;
use futures::future::try_join_all;
use hub_connectors::connector::{RecordSink, SinkError};
use hub_connectors::sourced::{Origin, SignalRecord, Sourced};
use hub_core::gate::GateConfig;
use hub_core::reason::{Provenance, Quarantine, RecordType};
use hub_core::state::Signal;
use hub_schemas::{AvroRecord, EncodeError, Encoder, Topic, TopicNames};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};

use crate::kafka::RecordProvenance;
use crate::telemetry::names;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "encoding a gated {topic} record of {source_name}: {error}; the record passed the gate but is outside its contract, a bug in the connector's mapping"
    )]
    Encode {
        topic: &'static str,
        source_name: String,
        error: Box<EncodeError>,
    },
    #[error(
        "the broker did not acknowledge a record: {0}; the page is not accepted and the connector's cursor does not move, so it is read again"
    )]
    Delivery(KafkaError),
}

/// Publishes connector pages. Cheap to clone: one producer serves every connector.
#[derive(Clone)]
pub struct KafkaRecordSink {
    connector: String,
    producer: FutureProducer,
    encoder: Encoder,
    topics: TopicNames,
    gate: GateConfig,
}

impl KafkaRecordSink {
    pub fn new(
        connector: &str,
        producer: FutureProducer,
        encoder: Encoder,
        topics: TopicNames,
        gate: GateConfig,
    ) -> Self {
        KafkaRecordSink {
            connector: connector.to_owned(),
            producer,
            encoder,
            topics,
            gate,
        }
    }

    /// Waits until everything produced so far is acknowledged or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.producer.flush(timeout)
    }

    /// Gates and encodes one element: where it goes, its key and its bytes.
    fn route(&self, element: Sourced, now: i64) -> Result<Outgoing, PublishError> {
        match element {
            Sourced::Signal { record, origin } => match record.check(None, now, &self.gate) {
                Ok(signal) => self.signal(signal, origin),
                Err(quarantine) => {
                    let (topic, record_type) = destination(&record);
                    let raw = self.raw_bytes(topic, &record);
                    let key = Some(record.gtin().to_owned());
                    let provenance = Provenance {
                        original_topic: Some(self.topics.name(topic).to_owned()),
                        key: key.as_ref().map(|gtin| gtin.as_bytes().to_vec()),
                        ..Provenance::from_connector(&origin.source, record_type)
                    };
                    self.quarantine(quarantine, raw, key, provenance, origin, now)
                }
            },
            Sourced::Rejected {
                reason,
                detail,
                raw,
                origin,
            } => {
                let provenance = Provenance::from_connector(&origin.source, RecordType::Unknown);
                self.quarantine(
                    Quarantine::new(reason, detail),
                    raw,
                    None,
                    provenance,
                    origin,
                    now,
                )
            }
        }
    }

    fn signal(&self, signal: Signal, origin: Origin) -> Result<Outgoing, PublishError> {
        let (topic, encoded) = match &signal {
            Signal::Product(product) => encode(&self.encoder, Topic::ReferenceProducts, product),
            Signal::Offer(_, offer) => encode(&self.encoder, Topic::SignalsOffers, offer),
            Signal::Stock(stock) => encode(&self.encoder, Topic::SignalsStock, stock),
            Signal::Cost(cost) => encode(&self.encoder, Topic::SignalsCosts, cost),
        };
        let payload = encoded.map_err(|error| PublishError::Encode {
            topic: topic.suffix(),
            source_name: origin.source.clone(),
            error: Box::new(error),
        })?;
        Ok(Outgoing {
            topic,
            key: Some(signal.gtin().to_owned()),
            payload,
            origin,
            quarantined: None,
        })
    }

    fn quarantine(
        &self,
        quarantine: Quarantine,
        raw: Vec<u8>,
        gtin: Option<String>,
        provenance: Provenance,
        origin: Origin,
        now: i64,
    ) -> Result<Outgoing, PublishError> {
        let reason = quarantine.reason;
        let record = quarantine.into_record(raw, gtin.clone(), provenance, now);
        let payload = self
            .encoder
            .encode(Topic::Quarantine, &record)
            .map_err(|error| PublishError::Encode {
                topic: Topic::Quarantine.suffix(),
                source_name: origin.source.clone(),
                error: Box::new(error),
            })?;
        Ok(Outgoing {
            topic: Topic::Quarantine,
            key: gtin,
            payload,
            origin,
            quarantined: Some(reason.as_str()),
        })
    }

    /// The refused record as it would have been published, so it can be replayed to its
    /// topic once fixed; JSON when it cannot even be encoded.
    fn raw_bytes(&self, topic: Topic, record: &SignalRecord) -> Vec<u8> {
        let encoded = match record {
            SignalRecord::Product(product) => self.encoder.encode(topic, product),
            SignalRecord::Offer(offer) => self.encoder.encode(topic, offer),
            SignalRecord::Stock(stock) => self.encoder.encode(topic, stock),
            SignalRecord::Cost(cost) => self.encoder.encode(topic, cost),
        };
        encoded.unwrap_or_else(|_| {
            let json = match record {
                SignalRecord::Product(product) => serde_json::to_vec(product),
                SignalRecord::Offer(offer) => serde_json::to_vec(offer),
                SignalRecord::Stock(stock) => serde_json::to_vec(stock),
                SignalRecord::Cost(cost) => serde_json::to_vec(cost),
            };
            json.expect("contract records serialise to JSON")
        })
    }

    fn send(
        &self,
        outgoing: &Outgoing,
        correlation_id: String,
    ) -> Result<DeliveryFuture, KafkaError> {
        let provenance = RecordProvenance {
            correlation_id,
            source: Some(outgoing.origin.source.clone()),
            request_id: outgoing.origin.request_id.clone(),
        };
        let mut record = FutureRecord::<str, [u8]>::to(self.topics.name(outgoing.topic))
            .payload(&outgoing.payload)
            .headers(provenance.to_headers());
        if let Some(key) = &outgoing.key {
            record = record.key(key);
        }
        loop {
            match self.producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                // The producer's queue is bounded: wait for it to drain instead of growing.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    self.producer.poll(Duration::from_millis(100));
                }
                Err((error, _)) => return Err(error),
            }
        }
    }

    async fn publish(&self, page: Vec<Sourced>) -> Result<(), PublishError> {
        let now = wall_clock_millis();
        let mut deliveries = Vec::with_capacity(page.len());
        let mut published = 0u64;
        for (index, element) in page.into_iter().enumerate() {
            let outgoing = self.route(element, now)?;
            // Unique per element and traceable to the API call that produced it.
            let correlation_id = format!(
                "{}:{}:{index}",
                outgoing.origin.source,
                outgoing
                    .origin
                    .request_id
                    .clone()
                    .unwrap_or_else(|| outgoing.origin.observed_at.to_string())
            );
            match outgoing.quarantined {
                Some(reason) => metrics::counter!(
                    names::QUARANTINED_RECORDS,
                    "reason" => reason,
                    "source" => self.connector.clone()
                )
                .increment(1),
                None => published += 1,
            }
            deliveries.push(
                self.send(&outgoing, correlation_id)
                    .map_err(PublishError::Delivery)?,
            );
        }
        for result in try_join_all(deliveries)
            .await
            .map_err(|_| PublishError::Delivery(KafkaError::Canceled))?
        {
            result.map_err(|(error, _)| PublishError::Delivery(error))?;
        }
        metrics::counter!(names::SENT_EVENTS, "component_kind" => "source", "component_id" => self.connector.clone())
            .increment(published);
        Ok(())
    }
}

#[async_trait]
impl RecordSink for KafkaRecordSink {
    async fn accept(&mut self, page: Vec<Sourced>) -> Result<(), SinkError> {
        let records = page.len();
        self.publish(page).await.map_err(|error| SinkError {
            records,
            source: Box::new(error),
        })
    }
}

struct Outgoing {
    topic: Topic,
    key: Option<String>,
    payload: Vec<u8>,
    origin: Origin,
    /// The reason code, for a record bound for quarantine.
    quarantined: Option<&'static str>,
}

fn encode<R: AvroRecord>(
    encoder: &Encoder,
    topic: Topic,
    record: &R,
) -> (Topic, Result<Vec<u8>, EncodeError>) {
    (topic, encoder.encode(topic, record))
}

/// The topic a record of this kind is published to, and its quarantine record type.
fn destination(record: &SignalRecord) -> (Topic, RecordType) {
    match record {
        SignalRecord::Product(_) => (Topic::ReferenceProducts, RecordType::ProductReference),
        SignalRecord::Offer(_) => (Topic::SignalsOffers, RecordType::OfferSignal),
        SignalRecord::Stock(_) => (Topic::SignalsStock, RecordType::StockSignal),
        SignalRecord::Cost(_) => (Topic::SignalsCosts, RecordType::CostSignal),
    }
}

pub(crate) fn wall_clock_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or_default()
}
