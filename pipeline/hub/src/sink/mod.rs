//! `hub sink`: stores the hub's topics in ClickHouse.
//!
//! It consumes `scores.history`, `reference.products`, the three signal topics and
//! `quarantine` with its own consumer group, decodes each record with its contract, and
//! inserts it into its table through one size- and time-bounded batching writer per table.
//! Offsets are committed only once the rows before them are stored; a record that cannot be
//! stored in its table goes to `quarantine` as `UNDECODABLE` with its raw bytes. See
//! [`service`] for the delivery guarantees.

mod config;
mod context;
mod error;
mod progress;
mod route;
mod service;

pub use config::SinkConfig;
pub use error::SinkError;
pub use service::run;
