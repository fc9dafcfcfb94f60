//! The six contracts (one `.avsc` file each) and the Kafka topics that carry them.

use std::fmt;
use std::sync::LazyLock;

use apache_avro::Schema;

use crate::canonical::{CanonicalFormError, fingerprint_of_json, parsing_canonical_form};

/// One Avro contract: a top-level record schema from `schemas/avro`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Contract {
    ProductReference,
    OfferSignal,
    StockSignal,
    CostSignal,
    ReferenceScore,
    QuarantinedRecord,
}

/// The CRC-64-AVRO (Rabin) fingerprint of a schema's Parsing Canonical Form, as the 8
/// little-endian bytes the single-object encoding puts after `C3 01`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 8]);

impl Fingerprint {
    /// Fingerprints a schema given as JSON text, over its Parsing Canonical Form as the Avro
    /// specification defines it (see [`parsing_canonical_form`](crate::parsing_canonical_form)).
    pub fn of_json(schema_json: &str) -> Result<Self, CanonicalFormError> {
        fingerprint_of_json(schema_json)
    }

    /// The fingerprint as the 64-bit integer other Avro libraries print (Java's
    /// `SchemaNormalization.parsingFingerprint64`, fastavro's `CRC-64-AVRO` hex).
    pub fn as_u64(self) -> u64 {
        u64::from_le_bytes(self.0)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#018x}", self.as_u64())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

struct Parsed {
    schema: Schema,
    name: String,
    full_name: String,
    canonical_form: String,
    fingerprint: Fingerprint,
}

impl Contract {
    /// Every contract, in a stable order.
    pub const ALL: [Contract; 6] = [
        Contract::ProductReference,
        Contract::OfferSignal,
        Contract::StockSignal,
        Contract::CostSignal,
        Contract::ReferenceScore,
        Contract::QuarantinedRecord,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The file name under `schemas/avro`.
    pub fn file_name(self) -> &'static str {
        match self {
            Contract::ProductReference => "product_reference.avsc",
            Contract::OfferSignal => "offer_signal.avsc",
            Contract::StockSignal => "stock_signal.avsc",
            Contract::CostSignal => "cost_signal.avsc",
            Contract::ReferenceScore => "reference_score.avsc",
            Contract::QuarantinedRecord => "quarantined_record.avsc",
        }
    }

    /// The `.avsc` text exactly as committed (with docs and defaults), as embedded at build time.
    pub fn avsc(self) -> &'static str {
        match self {
            Contract::ProductReference => include_str!("../avro/product_reference.avsc"),
            Contract::OfferSignal => include_str!("../avro/offer_signal.avsc"),
            Contract::StockSignal => include_str!("../avro/stock_signal.avsc"),
            Contract::CostSignal => include_str!("../avro/cost_signal.avsc"),
            Contract::ReferenceScore => include_str!("../avro/reference_score.avsc"),
            Contract::QuarantinedRecord => include_str!("../avro/quarantined_record.avsc"),
        }
    }

    fn parsed(self) -> &'static Parsed {
        static PARSED: LazyLock<Vec<Parsed>> = LazyLock::new(|| {
            Contract::ALL
                .iter()
                .map(|&contract| {
                    // The files are compiled in and parsed by every test run, so a failure here
                    // means a broken build, not bad input: there is nothing to recover.
                    let schema = Schema::parse_str(contract.avsc()).unwrap_or_else(|error| {
                        panic!(
                            "embedded schema {} is not valid Avro: {error}",
                            contract.file_name()
                        )
                    });
                    let (name, full_name) = match &schema {
                        Schema::Record(record) => {
                            (record.name.name.clone(), record.name.fullname(None))
                        }
                        other => panic!(
                            "embedded schema {} must be a record, found {:?}",
                            contract.file_name(),
                            apache_avro::schema::SchemaKind::from(other)
                        ),
                    };
                    let canonical_form =
                        parsing_canonical_form(contract.avsc()).unwrap_or_else(|error| {
                            panic!("embedded schema {}: {error}", contract.file_name())
                        });
                    Parsed {
                        fingerprint: crate::canonical::fingerprint_of_canonical_form(
                            &canonical_form,
                        ),
                        canonical_form,
                        name,
                        full_name,
                        schema,
                    }
                })
                .collect()
        });
        &PARSED[self.index()]
    }

    /// The parsed schema (parsed once per process).
    pub fn schema(self) -> &'static Schema {
        &self.parsed().schema
    }

    /// The record's name without namespace, e.g. `OfferSignal`: the Rust type's name.
    pub fn name(self) -> &'static str {
        &self.parsed().name
    }

    /// The Avro full name, e.g. `sourcinghub.v1.OfferSignal`.
    pub fn full_name(self) -> &'static str {
        &self.parsed().full_name
    }

    /// The Parsing Canonical Form the fingerprint is computed over.
    pub fn canonical_form(self) -> &'static str {
        &self.parsed().canonical_form
    }

    /// The single-object fingerprint of the current schema.
    pub fn fingerprint(self) -> Fingerprint {
        self.parsed().fingerprint
    }

    /// The contract whose current schema has this fingerprint.
    pub fn from_fingerprint(fingerprint: Fingerprint) -> Option<Contract> {
        Contract::ALL
            .into_iter()
            .find(|contract| contract.fingerprint() == fingerprint)
    }

    /// The topics that carry this contract (two for scores: current and history).
    pub fn topics(self) -> &'static [Topic] {
        match self {
            Contract::ProductReference => &[Topic::ReferenceProducts],
            Contract::OfferSignal => &[Topic::SignalsOffers],
            Contract::StockSignal => &[Topic::SignalsStock],
            Contract::CostSignal => &[Topic::SignalsCosts],
            Contract::ReferenceScore => &[Topic::ScoresCurrent, Topic::ScoresHistory],
            Contract::QuarantinedRecord => &[Topic::Quarantine],
        }
    }
}

impl fmt::Display for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.full_name())
    }
}

/// A Sourcing Hub topic, independent of the deployment's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// `<prefix>.reference.products`, compacted, key GTIN.
    ReferenceProducts,
    /// `<prefix>.signals.offers`, key GTIN.
    SignalsOffers,
    /// `<prefix>.signals.stock`, key GTIN.
    SignalsStock,
    /// `<prefix>.signals.costs`, key GTIN.
    SignalsCosts,
    /// `<prefix>.scores.current`, compacted, key `<gtin>|<channel>`.
    ScoresCurrent,
    /// `<prefix>.scores.history`, key `<gtin>|<channel>`.
    ScoresHistory,
    /// `<prefix>.quarantine`, key GTIN when it could be read.
    Quarantine,
}

impl Topic {
    /// Every topic, in a stable order.
    pub const ALL: [Topic; 7] = [
        Topic::ReferenceProducts,
        Topic::SignalsOffers,
        Topic::SignalsStock,
        Topic::SignalsCosts,
        Topic::ScoresCurrent,
        Topic::ScoresHistory,
        Topic::Quarantine,
    ];

    /// The position in [`Topic::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The name after `<prefix>.`.
    pub fn suffix(self) -> &'static str {
        match self {
            Topic::ReferenceProducts => "reference.products",
            Topic::SignalsOffers => "signals.offers",
            Topic::SignalsStock => "signals.stock",
            Topic::SignalsCosts => "signals.costs",
            Topic::ScoresCurrent => "scores.current",
            Topic::ScoresHistory => "scores.history",
            Topic::Quarantine => "quarantine",
        }
    }

    /// The contract of every value on this topic.
    pub fn contract(self) -> Contract {
        match self {
            Topic::ReferenceProducts => Contract::ProductReference,
            Topic::SignalsOffers => Contract::OfferSignal,
            Topic::SignalsStock => Contract::StockSignal,
            Topic::SignalsCosts => Contract::CostSignal,
            Topic::ScoresCurrent | Topic::ScoresHistory => Contract::ReferenceScore,
            Topic::Quarantine => Contract::QuarantinedRecord,
        }
    }

    /// Whether the topic is created with `cleanup.policy=compact` (latest value per key).
    pub fn is_compacted(self) -> bool {
        matches!(self, Topic::ReferenceProducts | Topic::ScoresCurrent)
    }
}

/// The default topic prefix.
pub const DEFAULT_TOPIC_PREFIX: &str = "hub";

/// Kafka refuses topic names longer than this.
const MAX_TOPIC_NAME_LEN: usize = 249;

/// A prefix that cannot start a Kafka topic name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "topic prefix {prefix:?} is invalid: {reason}; use ASCII letters, digits, '.', '_' or '-' \
     (the default is {DEFAULT_TOPIC_PREFIX:?})"
)]
pub struct TopicPrefixError {
    pub prefix: String,
    pub reason: &'static str,
}

/// A topic with its full name, as the binary needs it to create topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub topic: Topic,
    pub name: String,
    pub compacted: bool,
    pub contract: Contract,
}

/// The full topic names of one deployment: `<prefix>.<suffix>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicNames {
    prefix: String,
    names: Vec<String>,
}

impl TopicNames {
    /// Names under `prefix` (e.g. `hub`, or `staging.hub`).
    pub fn new(prefix: impl Into<String>) -> Result<Self, TopicPrefixError> {
        let prefix = prefix.into();
        let invalid = |reason| TopicPrefixError {
            prefix: prefix.clone(),
            reason,
        };
        if prefix.is_empty() {
            return Err(invalid("it is empty"));
        }
        if !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(invalid(
                "it contains a character Kafka refuses in topic names",
            ));
        }
        let longest_suffix = Topic::ALL
            .iter()
            .map(|t| t.suffix().len())
            .max()
            .unwrap_or(0);
        if prefix.len() + 1 + longest_suffix > MAX_TOPIC_NAME_LEN {
            return Err(invalid(
                "the topic names would exceed Kafka's 249 characters",
            ));
        }
        Ok(Self::with_valid_prefix(prefix))
    }

    fn with_valid_prefix(prefix: String) -> Self {
        let names = Topic::ALL
            .iter()
            .map(|topic| format!("{prefix}.{}", topic.suffix()))
            .collect();
        Self { prefix, names }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The full name of `topic`.
    pub fn name(&self, topic: Topic) -> &str {
        &self.names[topic.index()]
    }

    /// The topic a full name refers to, if it is one of ours.
    pub fn topic(&self, name: &str) -> Option<Topic> {
        Topic::ALL
            .into_iter()
            .find(|&topic| self.name(topic) == name)
    }

    /// The schema registry subject of the topic's values (TopicNameStrategy).
    pub fn value_subject(&self, topic: Topic) -> String {
        format!("{}-value", self.name(topic))
    }

    /// Every topic to create, with its cleanup policy.
    pub fn specs(&self) -> Vec<TopicSpec> {
        Topic::ALL
            .into_iter()
            .map(|topic| TopicSpec {
                topic,
                name: self.name(topic).to_owned(),
                compacted: topic.is_compacted(),
                contract: topic.contract(),
            })
            .collect()
    }
}

impl Default for TopicNames {
    fn default() -> Self {
        Self::with_valid_prefix(DEFAULT_TOPIC_PREFIX.to_owned())
    }
}
