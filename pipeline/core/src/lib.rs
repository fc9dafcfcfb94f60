//! The decision core of Sourcing Hub: pure functions and data with no Kafka, ClickHouse or
//! HTTP types, so every rule is unit-, property- and golden-tested in isolation.

pub mod action;
pub mod calendar;
pub mod category;
pub mod channel;
pub mod fees;
pub mod gate;
pub mod gtin;
pub mod mapping;
pub mod margin;
pub mod money;
pub mod profile;
pub mod quote;
pub mod reason;
pub mod score;
pub mod state;
mod word;
