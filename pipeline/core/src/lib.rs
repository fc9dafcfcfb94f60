//! The decision core: pure functions and data, no Kafka, ClickHouse or HTTP types.
