//! Sourcing Hub's data contracts: the Avro schemas in `schemas/avro` (the single source of
//! truth, embedded at build time), the Rust records they map to, and the wire framings.
//!
//! Producing:
//! ```no_run
//! # async fn produce(record: hub_schemas::records::OfferSignal) -> Result<(), Box<dyn std::error::Error>> {
//! use hub_schemas::{AvroRecord, Encoder, Framing, Topic, TopicNames};
//! let encoder = Encoder::prepare(&Framing::SingleObject, TopicNames::default()).await?;
//! let key = record.key();
//! let value = encoder.encode(Topic::SignalsOffers, &record)?;
//! # Ok(()) }
//! ```
//! Consuming:
//! ```no_run
//! # async fn consume(payload: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! use hub_schemas::{Decoder, Framing, Topic, TopicNames, records::OfferSignal};
//! let decoder = Decoder::new(&Framing::SingleObject, TopicNames::default());
//! let offer: OfferSignal = decoder.decode(Topic::SignalsOffers, payload).await?;
//! # Ok(()) }
//! ```

mod canonical;
mod codec;
mod contract;
mod framing;
pub mod records;
mod registry;
mod resolved;

pub use canonical::{CanonicalFormError, parsing_canonical_form};
pub use codec::{AvroRecord, FieldError, FieldProblem};
pub use contract::{
    Contract, DEFAULT_TOPIC_PREFIX, Fingerprint, Topic, TopicNames, TopicPrefixError, TopicSpec,
};
pub use framing::{
    CONFLUENT_MAGIC, DatumError, DecodeError, Decoder, EncodeError, Encoder, Framing,
    SINGLE_OBJECT_MAGIC, WriterSchema, read_datum,
};
pub use registry::{
    BasicAuth, Compatibility, REGISTRY_CONTENT_TYPE, RegisteredSchema, RegistryConfig,
    RegistryError, RegistryReply, SchemaId, SchemaRegistry,
};
