//! Sourcing Hub's data contracts: the Avro schemas in `schemas/avro` (the single source of
//! truth, embedded at build time), the Rust records they map to, and the wire framings.

pub mod records;
