//! The integration suite against the real local engines, as one test binary: each module was
//! its own binary, and each linked the whole pipeline (rdkafka, ClickHouse client, HTTP
//! stack) once more: fifteen binaries of 50 to 86 MB (about 270 MB each with full debug
//! info), whose link steps were the slowest part of the test build. nextest still runs
//! every test in its own process.

mod bench_smoke;
mod broker_contracts;
mod cli_commands;
mod clickhouse_sink;
mod connectors_end_to_end;
mod connectors_simulator;
mod contracts_fastavro;
mod correlation_ids;
mod dashboards_sql;
mod demo_small;
mod metrics_endpoint;
mod processor_end_to_end;
mod processor_recovery;
mod processor_rescore;
mod sink_clickhouse;
