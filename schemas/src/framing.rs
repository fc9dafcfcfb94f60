//! The two wire framings of a Kafka value and the encoder/decoder built on them.
//!
//! * Avro single-object encoding: `C3 01`, the 8-byte little-endian CRC-64-AVRO fingerprint
//!   of the writer schema's canonical form, then the datum. The default: it needs no service.
//! * Confluent wire format: `00`, the 4-byte big-endian schema registry id, then the datum.
//!   Used when a schema registry is configured; the writer schema is fetched by id and
//!   resolved against this build's reader schema, which is how schemas evolve.

use std::fmt;
use std::sync::Arc;

use apache_avro::Schema;
use apache_avro::types::Value;

use crate::codec::{AvroRecord, FieldError};
use crate::contract::{Contract, Fingerprint, Topic, TopicNames};
use crate::registry::{RegisteredSchema, RegistryError, SchemaId, SchemaRegistry};
use crate::resolved;

/// The first two bytes of an Avro single-object encoded value.
pub const SINGLE_OBJECT_MAGIC: [u8; 2] = [0xC3, 0x01];
/// The first byte of a Confluent wire-format value.
pub const CONFLUENT_MAGIC: u8 = 0x00;

const SINGLE_OBJECT_HEADER_LEN: usize = 10;
const CONFLUENT_HEADER_LEN: usize = 5;

/// The largest length apache-avro may allocate for one string, bytes or collection while
/// decoding. Its default (512 MiB) lets a corrupt length prefix on an array reserve tens of
/// gigabytes and abort the process; no Sourcing Hub value comes near 16 MiB (Kafka's default
/// message limit is 1 MiB). apache-avro keeps this process-wide and the first setting wins.
const MAX_ALLOCATION_BYTES: usize = 16 * 1024 * 1024;

/// How values are framed on the wire.
#[derive(Debug, Clone)]
pub enum Framing {
    /// Avro single-object encoding, the local default.
    SingleObject,
    /// Confluent wire format with ids from this schema registry.
    Confluent(Arc<SchemaRegistry>),
}

impl Framing {
    /// Confluent framing through `registry`.
    pub fn confluent(registry: SchemaRegistry) -> Self {
        Framing::Confluent(Arc::new(registry))
    }
}

/// Which writer schema a payload named, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterSchema {
    Fingerprint(Fingerprint),
    RegistryId(SchemaId),
}

impl fmt::Display for WriterSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriterSchema::Fingerprint(fingerprint) => write!(f, "schema fingerprint {fingerprint}"),
            WriterSchema::RegistryId(id) => write!(f, "registry schema id {id}"),
        }
    }
}

/// A record that could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error(
        "cannot encode a {record} for topic {topic}, which carries {carries}: send it to the \
         topic of its own contract"
    )]
    WrongTopic {
        record: &'static str,
        topic: String,
        carries: &'static str,
    },
    #[error("cannot encode for topic {topic}: {cause}")]
    Field { topic: String, cause: FieldError },
    #[error(
        "apache-avro refused the {record} value for topic {topic}: {cause}; the codec and the \
         .avsc disagree, which the crate's tests should have caught"
    )]
    Avro {
        record: &'static str,
        topic: String,
        cause: apache_avro::Error,
    },
}

/// Why an Avro datum (the bytes after the framing header) could not become a record.
#[derive(Debug, thiserror::Error)]
pub enum DatumError {
    #[error("the Avro datum is malformed: {0}")]
    Malformed(apache_avro::Error),
    #[error("{0} bytes remain after the Avro datum: the payload is corrupt or framed twice")]
    TrailingBytes(usize),
    #[error("the writer schema cannot be resolved to this build's reader schema: {0}")]
    Resolution(apache_avro::Error),
    #[error("{0}")]
    Field(FieldError),
}

/// A payload that could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "empty payload on topic {topic}: a tombstone carries no record, handle null values \
         before decoding"
    )]
    Empty { topic: String },
    #[error(
        "payload on topic {topic} starts with {head}, neither the single-object marker c3 01 \
         nor the Confluent magic byte 00: the producer does not use a Sourcing Hub framing"
    )]
    UnknownFraming { topic: String, head: String },
    #[error(
        "payload on topic {topic} is {len} bytes, shorter than the {needed}-byte {framing} \
         header: it was truncated"
    )]
    Truncated {
        topic: String,
        framing: &'static str,
        len: usize,
        needed: usize,
    },
    #[error(
        "payload on topic {topic} was written with schema fingerprint {fingerprint}, which is \
         none of this build's contracts: the producer runs another schema version; deploy \
         matching versions, or configure the schema registry so versions are resolved"
    )]
    UnknownFingerprint {
        topic: String,
        fingerprint: Fingerprint,
    },
    #[error(
        "payload on topic {topic} names registry schema id {id}, which {reason}: configure the \
         schema registry URL, or use the async decode that fetches it"
    )]
    UnknownSchemaId {
        topic: String,
        id: SchemaId,
        reason: &'static str,
    },
    #[error("cannot get writer schema id {id} for a payload on topic {topic}: {cause}")]
    Registry {
        topic: String,
        id: SchemaId,
        cause: RegistryError,
    },
    #[error(
        "payload on topic {topic} was written as {found} ({writer}), but the topic carries \
         {expected}: the producer wrote to the wrong topic"
    )]
    WrongContract {
        topic: String,
        writer: WriterSchema,
        expected: &'static str,
        found: String,
    },
    #[error("cannot decode a {requested} from topic {topic}, which carries {carries}")]
    WrongRecordType {
        topic: String,
        requested: &'static str,
        carries: &'static str,
    },
    #[error("payload on topic {topic} written with {writer}: {cause}")]
    Datum {
        topic: String,
        writer: WriterSchema,
        cause: DatumError,
    },
}

/// Reads one Avro datum written with `writer_schema` into a record, resolving it against the
/// record's current (reader) schema: fields the writer lacks take their defaults, fields
/// the reader lacks are skipped. Fails if any byte is left over. For a one-off writer
/// schema: it resolves `writer_schema` on every call, where [`Decoder`] resolves each
/// writer schema once.
pub fn read_datum<R: AvroRecord>(writer_schema: &Schema, datum: &[u8]) -> Result<R, DatumError> {
    limit_allocations();
    let mut rest = datum;
    let value = apache_avro::from_avro_datum(writer_schema, &mut rest, None)
        .map_err(DatumError::Malformed)?;
    if !rest.is_empty() {
        return Err(DatumError::TrailingBytes(rest.len()));
    }
    into_record(value, false)
}

fn limit_allocations() {
    apache_avro::util::max_allocation_bytes(MAX_ALLOCATION_BYTES);
}

/// The record of a decoded `value`, resolved against the record's current schema unless it
/// was written with it.
fn into_record<R: AvroRecord>(
    mut value: Value,
    written_with_reader: bool,
) -> Result<R, DatumError> {
    if !written_with_reader {
        // apache-avro 0.21 resolves the reader schema's names on every call here; it has no
        // public resolution against names resolved once (0.22's `resolve_with_names`). Only
        // values written with another version of a contract take this path.
        widen_decimals(&mut value);
        value = value
            .resolve(R::CONTRACT.schema())
            .map_err(DatumError::Resolution)?;
    }
    R::from_avro(value).map_err(DatumError::Field)
}

/// apache-avro 0.21's resolution refuses a `bytes` decimal whose byte length could not hold
/// the schema's full precision (`resolve_decimal` compares `max_prec_for_len(len)` with the
/// precision), although writers rightly use the shortest two's complement: 0.0001 at scale 4
/// is one byte. Sign-extending every decimal to 16 bytes, which holds 38 digits, keeps the
/// value and lets resolution through; the codec then checks the real precision.
fn widen_decimals(value: &mut Value) {
    const WIDE: usize = 16;
    match value {
        Value::Decimal(decimal) => {
            if let Ok(bytes) = <Vec<u8>>::try_from(&*decimal)
                && let Some(&first) = bytes.first()
                && bytes.len() < WIDE
            {
                let sign_byte = if first & 0x80 == 0 { 0x00 } else { 0xFF };
                let mut wide = vec![sign_byte; WIDE - bytes.len()];
                wide.extend_from_slice(&bytes);
                *decimal = apache_avro::Decimal::from(wide);
            }
        }
        Value::Union(_, inner) => widen_decimals(inner),
        Value::Record(fields) => fields
            .iter_mut()
            .for_each(|(_, field)| widen_decimals(field)),
        Value::Array(items) => items.iter_mut().for_each(widen_decimals),
        Value::Map(entries) => entries.values_mut().for_each(widen_decimals),
        _ => {}
    }
}

/// Encodes records of every contract in one framing. Encoding is synchronous and never
/// calls the registry: [`Encoder::prepare`] registers every schema up front.
#[derive(Debug, Clone)]
pub struct Encoder {
    topics: TopicNames,
    /// Registry id of each topic's value schema, by `Topic::ALL` position; `None` for
    /// single-object framing.
    schema_ids: Option<Vec<SchemaId>>,
}

impl Encoder {
    /// An encoder for `framing`. With Confluent framing this registers every contract under
    /// its topics' `<topic>-value` subjects (TopicNameStrategy) and fails if the registry
    /// refuses one; [`RegistryError::is_retryable`] tells whether trying again may help.
    pub async fn prepare(framing: &Framing, topics: TopicNames) -> Result<Self, RegistryError> {
        let schema_ids = match framing {
            Framing::SingleObject => None,
            Framing::Confluent(registry) => {
                let mut ids = Vec::with_capacity(Topic::ALL.len());
                for topic in Topic::ALL {
                    let subject = topics.value_subject(topic);
                    ids.push(
                        registry
                            .register(&subject, topic.contract().schema())
                            .await?,
                    );
                }
                Some(ids)
            }
        };
        Ok(Self { topics, schema_ids })
    }

    /// An encoder for single-object framing (no registry, nothing to prepare).
    pub fn single_object(topics: TopicNames) -> Self {
        Self {
            topics,
            schema_ids: None,
        }
    }

    pub fn topics(&self) -> &TopicNames {
        &self.topics
    }

    /// The framed Kafka value of `record` for `topic`.
    pub fn encode<R: AvroRecord>(&self, topic: Topic, record: &R) -> Result<Vec<u8>, EncodeError> {
        let topic_name = || self.topics.name(topic).to_owned();
        if topic.contract() != R::CONTRACT {
            return Err(EncodeError::WrongTopic {
                record: R::CONTRACT.name(),
                topic: topic_name(),
                carries: topic.contract().name(),
            });
        }
        let value = record.to_avro().map_err(|cause| EncodeError::Field {
            topic: topic_name(),
            cause,
        })?;
        let mut payload = Vec::new();
        resolved::write_single_object(R::CONTRACT, &value, &mut payload).map_err(|cause| {
            EncodeError::Avro {
                record: R::CONTRACT.name(),
                topic: topic_name(),
                cause,
            }
        })?;
        if let Some(ids) = &self.schema_ids {
            let id = ids[topic.index()].0.to_be_bytes();
            let confluent_header = [CONFLUENT_MAGIC, id[0], id[1], id[2], id[3]];
            payload.splice(..SINGLE_OBJECT_HEADER_LEN, confluent_header);
        }
        Ok(payload)
    }
}

/// The header of a payload and the datum after it.
enum Frame<'a> {
    SingleObject(Fingerprint, &'a [u8]),
    Confluent(SchemaId, &'a [u8]),
}

/// Decodes payloads of either framing, telling them apart by their first bytes.
#[derive(Debug, Clone)]
pub struct Decoder {
    topics: TopicNames,
    registry: Option<Arc<SchemaRegistry>>,
}

impl Decoder {
    /// A decoder for values written in either framing. Confluent-framed values need the
    /// registry of `framing` to look up writer schemas this process has not seen yet.
    pub fn new(framing: &Framing, topics: TopicNames) -> Self {
        let registry = match framing {
            Framing::SingleObject => None,
            Framing::Confluent(registry) => Some(Arc::clone(registry)),
        };
        Self { topics, registry }
    }

    pub fn topics(&self) -> &TopicNames {
        &self.topics
    }

    /// Decodes a value of `topic`, fetching a Confluent writer schema from the registry the
    /// first time its id is seen (later calls hit the cache and do no I/O).
    pub async fn decode<R: AvroRecord>(
        &self,
        topic: Topic,
        payload: &[u8],
    ) -> Result<R, DecodeError> {
        match self.frame::<R>(topic, payload)? {
            Frame::SingleObject(fingerprint, datum) => {
                self.decode_single_object(topic, fingerprint, datum)
            }
            Frame::Confluent(id, datum) => {
                let registry = self.registry(topic, id)?;
                let writer =
                    registry
                        .schema_by_id(id)
                        .await
                        .map_err(|cause| DecodeError::Registry {
                            topic: self.topic_name(topic),
                            id,
                            cause,
                        })?;
                self.decode_registered(topic, &writer, datum)
            }
        }
    }

    /// Decodes a value of `topic` without any I/O: a Confluent schema id must already be
    /// cached (every schema this process registered or fetched is).
    pub fn decode_cached<R: AvroRecord>(
        &self,
        topic: Topic,
        payload: &[u8],
    ) -> Result<R, DecodeError> {
        match self.frame::<R>(topic, payload)? {
            Frame::SingleObject(fingerprint, datum) => {
                self.decode_single_object(topic, fingerprint, datum)
            }
            Frame::Confluent(id, datum) => {
                let writer = self.registry(topic, id)?.cached_schema(id).ok_or_else(|| {
                    DecodeError::UnknownSchemaId {
                        topic: self.topic_name(topic),
                        id,
                        reason: "this process has not fetched yet",
                    }
                })?;
                self.decode_registered(topic, &writer, datum)
            }
        }
    }

    fn topic_name(&self, topic: Topic) -> String {
        self.topics.name(topic).to_owned()
    }

    fn registry(&self, topic: Topic, id: SchemaId) -> Result<&SchemaRegistry, DecodeError> {
        self.registry
            .as_deref()
            .ok_or_else(|| DecodeError::UnknownSchemaId {
                topic: self.topic_name(topic),
                id,
                reason: "cannot be looked up: no schema registry is configured",
            })
    }

    fn frame<'p, R: AvroRecord>(
        &self,
        topic: Topic,
        payload: &'p [u8],
    ) -> Result<Frame<'p>, DecodeError> {
        if topic.contract() != R::CONTRACT {
            return Err(DecodeError::WrongRecordType {
                topic: self.topic_name(topic),
                requested: R::CONTRACT.name(),
                carries: topic.contract().name(),
            });
        }
        let truncated = |framing, needed| DecodeError::Truncated {
            topic: self.topic_name(topic),
            framing,
            len: payload.len(),
            needed,
        };
        match payload {
            [] => Err(DecodeError::Empty {
                topic: self.topic_name(topic),
            }),
            [0xC3, 0x01, ..] => {
                let (header, datum) = payload
                    .split_first_chunk::<SINGLE_OBJECT_HEADER_LEN>()
                    .ok_or_else(|| truncated("single-object", SINGLE_OBJECT_HEADER_LEN))?;
                let mut fingerprint = [0u8; 8];
                fingerprint.copy_from_slice(&header[2..]);
                Ok(Frame::SingleObject(Fingerprint(fingerprint), datum))
            }
            [CONFLUENT_MAGIC, ..] => {
                let (header, datum) = payload
                    .split_first_chunk::<CONFLUENT_HEADER_LEN>()
                    .ok_or_else(|| truncated("Confluent", CONFLUENT_HEADER_LEN))?;
                let id = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
                Ok(Frame::Confluent(SchemaId(id), datum))
            }
            _ => Err(DecodeError::UnknownFraming {
                topic: self.topic_name(topic),
                head: payload
                    .iter()
                    .take(2)
                    .map(|byte| format!("{byte:02x}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            }),
        }
    }

    fn decode_single_object<R: AvroRecord>(
        &self,
        topic: Topic,
        fingerprint: Fingerprint,
        datum: &[u8],
    ) -> Result<R, DecodeError> {
        let writer = WriterSchema::Fingerprint(fingerprint);
        if fingerprint != R::CONTRACT.fingerprint() {
            return Err(match Contract::from_fingerprint(fingerprint) {
                Some(other) => DecodeError::WrongContract {
                    topic: self.topic_name(topic),
                    writer,
                    expected: R::CONTRACT.full_name(),
                    found: other.full_name().to_owned(),
                },
                None => DecodeError::UnknownFingerprint {
                    topic: self.topic_name(topic),
                    fingerprint,
                },
            });
        }
        limit_allocations();
        resolved::read_current(R::CONTRACT, datum)
            .and_then(|value| into_record(value, true))
            .map_err(|cause| DecodeError::Datum {
                topic: self.topic_name(topic),
                writer,
                cause,
            })
    }

    fn decode_registered<R: AvroRecord>(
        &self,
        topic: Topic,
        writer: &RegisteredSchema,
        datum: &[u8],
    ) -> Result<R, DecodeError> {
        let writer_ref = WriterSchema::RegistryId(writer.id());
        if writer.full_name() != Some(R::CONTRACT.full_name()) {
            return Err(DecodeError::WrongContract {
                topic: self.topic_name(topic),
                writer: writer_ref,
                expected: R::CONTRACT.full_name(),
                found: writer
                    .full_name()
                    .unwrap_or("a schema that is not a record")
                    .to_owned(),
            });
        }
        let writer_is_reader = writer.fingerprint() == R::CONTRACT.fingerprint();
        limit_allocations();
        writer
            .reader()
            .read(datum)
            .and_then(|value| into_record(value, writer_is_reader))
            .map_err(|cause| DecodeError::Datum {
                topic: self.topic_name(topic),
                writer: writer_ref,
                cause,
            })
    }
}
