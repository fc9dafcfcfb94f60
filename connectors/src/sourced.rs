//! What every connector yields: a signal with where it came from, or what could not be
//! mapped, with the reason it goes to quarantine. Mappings never drop a payload element
//! silently: an element is either a [`Sourced::Signal`] or a [`Sourced::Rejected`].

use hub_core::reason::ReasonCode;

/// Where a record came from, carried to Kafka as headers for log correlation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `<connector>.<operation>`, e.g. `amazon.getItemOffers`, `mirakl.OF21`.
    pub source: String,
    /// The API's request id when it returns one (e.g. `x-amzn-RequestId`), else ours.
    pub request_id: Option<String>,
    /// When the source observed the value, epoch milliseconds.
    pub observed_at: i64,
}

/// A signal as read from a source, before the quality gate: the gate's own candidate type,
/// so `hub connect` gates it exactly as the processor does.
pub use hub_core::gate::Candidate as SignalRecord;

/// One element of a source's payload, mapped.
#[expect(
    clippy::large_enum_variant,
    reason = "almost every element is a signal: boxing it would allocate per record for the rare rejection's sake"
)]
#[derive(Debug, Clone, PartialEq)]
pub enum Sourced {
    Signal {
        record: SignalRecord,
        origin: Origin,
    },
    /// An element that cannot become a signal (a placeholder offer, a missing barcode, an
    /// unparsable amount): quarantined with its reason and its raw bytes, never scored.
    Rejected {
        reason: ReasonCode,
        detail: String,
        raw: Vec<u8>,
        origin: Origin,
    },
}
