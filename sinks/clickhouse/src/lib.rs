//! ClickHouse side of Sourcing Hub: migrations, row types and the sink.
