//! The decision core of Sourcing Hub: pure functions and data with no Kafka, ClickHouse or
//! HTTP types, so every rule is unit-, property- and golden-tested in isolation.

pub mod category;
pub mod channel;
pub mod gate;
pub mod gtin;
pub mod mapping;
pub mod reason;
pub mod state;
