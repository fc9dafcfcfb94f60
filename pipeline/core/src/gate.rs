//! The quality gate: every incoming record (offer, stock, cost, product reference) is checked
//! here before it can touch state, and comes out either accepted and normalised (GTIN-13,
//! upper-case currency) or quarantined with a stable reason code and a detail naming the
//! record, the field, the value and the rule.
//!
//! The gate is pure: the caller passes the current time and, for prices, the last accepted
//! value of the same reference, so the same inputs always give the same verdict. Rules run in
//! a fixed order (identity, currency, time, amounts, cross-field, jumps) and the first failure
//! is the verdict, so a record has exactly one reason code.

mod candidate;
pub mod config;
mod cost;
pub mod currency;
pub(crate) mod exact_decimal;
mod offer;
mod product;
mod rules;
mod stock;

pub use candidate::Candidate;
pub use config::{GateConfig, GateConfigError};
pub use cost::check_cost;
pub use offer::check_offer;
pub use product::check_product;
pub use stock::check_stock;

use crate::reason::{Quarantine, ReasonCode};

/// The gate's decision on one record.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<T> {
    /// The record passed every rule; it carries the normalised record to publish or apply.
    Accepted(T),
    /// The record must not touch state; the adapter attaches the original bytes to build the
    /// `hub.quarantine` record (see [`Quarantine::into_record`]).
    Quarantined(Quarantine),
}

impl<T> Verdict<T> {
    pub fn into_result(self) -> Result<T, Quarantine> {
        match self {
            Verdict::Accepted(record) => Ok(record),
            Verdict::Quarantined(quarantine) => Err(quarantine),
        }
    }

    /// The reason code of a quarantine, `None` when accepted: what metrics count.
    pub fn reason(&self) -> Option<ReasonCode> {
        match self {
            Verdict::Accepted(_) => None,
            Verdict::Quarantined(quarantine) => Some(quarantine.reason),
        }
    }
}

impl<T> From<Result<T, Quarantine>> for Verdict<T> {
    fn from(result: Result<T, Quarantine>) -> Self {
        match result {
            Ok(record) => Verdict::Accepted(record),
            Err(quarantine) => Verdict::Quarantined(quarantine),
        }
    }
}
