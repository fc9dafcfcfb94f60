//! The `hub` binary's library: configuration, telemetry and the thin adapters (Kafka,
//! ClickHouse, CLI commands) around the pure decision core in `hub-core`.

pub mod bench;
pub mod commands;
pub mod config;
pub mod connect;
pub mod control;
pub mod demo;
pub mod kafka;
pub mod market_feed;
pub mod processor;
pub mod rescore;
pub mod sink;
pub mod task;
pub mod telemetry;
pub mod wiring;
