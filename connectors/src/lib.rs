//! Sourcing Hub's connectors: each reads one source's API (or files) and maps its payloads
//! to the signal contracts of `hub-schemas`. Per source, the payload types and the mapping
//! are pure and tested on recorded payloads in the API's real shape; the fetch loop is a
//! thin client on the shared machinery. Nothing here knows Kafka: `hub connect` publishes
//! what a connector yields, gated, with its origin as record headers.

pub mod amazon;
pub mod config;
pub mod connector;
pub mod fnac_darty;
pub mod machinery;
pub mod mirakl;
pub mod names;
pub mod octopia;
pub mod odoo;
pub mod sourced;
pub mod supplier_feed;
pub mod wire;
