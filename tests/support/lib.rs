//! Shared helpers for the integration tests: where the real engines are (from the
//! environment that `scripts/test` sets, with the loopback defaults of `scripts/services`)
//! and unique names so tests can run in parallel without seeing each other's data.

pub mod connectors;
pub mod market;
pub mod processes;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Kafka bootstrap servers of the local broker.
pub fn kafka_bootstrap_servers() -> String {
    std::env::var("HUB_KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// HTTP URL of ClickHouse (the chdb-backed stand-in locally, the real server in docker/).
pub fn clickhouse_url() -> String {
    std::env::var("HUB_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".into())
}

/// A name no other test (nor an earlier run of this one) uses: `<base>_<pid>_<time>_<n>`.
/// Only ASCII letters, digits and underscores, so it is valid as a topic, a group id and a
/// ClickHouse database name.
pub fn unique_name(base: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis();
    format!(
        "{base}_{}_{millis}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A configuration on the local broker whose topics and consumer groups, named after
/// `base`, no other test shares, with `partitions` per topic and a short processor linger
/// so that scores follow their inputs quickly.
pub fn local_broker_config(base: &str, partitions: i32) -> hub::config::Config {
    let bootstrap = kafka_bootstrap_servers();
    require_tcp(&bootstrap, "the Kafka broker");
    let mut config = hub::config::Config::default();
    config.kafka.bootstrap_servers = bootstrap;
    config.kafka.topic_prefix = unique_name(base);
    config.kafka.group_id = unique_name(base);
    config.kafka.partitions = partitions;
    config.processor.linger_ms = 10;
    config
}

/// Fails the test with the command that brings the engine up, instead of a bare
/// connection error, when an engine is not reachable.
pub fn require_tcp(address: &str, engine: &str) {
    let reachable = std::net::TcpStream::connect_timeout(
        &address
            .parse()
            .unwrap_or_else(|_| panic!("{engine} address {address} is not host:port")),
        std::time::Duration::from_secs(2),
    )
    .is_ok();
    assert!(
        reachable,
        "{engine} does not answer on {address}: run `scripts/services up` (scripts/test does it)"
    );
}

/// The `hub` binary cargo built beside this test executable (`target/<profile>/hub`).
/// `cargo test --workspace` and `cargo nextest run --workspace` build it with the tests.
pub fn hub_binary() -> std::path::PathBuf {
    let test_executable = std::env::current_exe().expect("path of the test executable");
    let profile_dir = test_executable
        .parent()
        .and_then(std::path::Path::parent)
        .expect("test executables live in target/<profile>/deps");
    let binary = profile_dir.join("hub");
    assert!(
        binary.is_file(),
        "{} is missing: build it with `cargo build -p hub` (scripts/test builds the whole workspace)",
        binary.display()
    );
    binary
}

/// Runs `statement` on the server's `default` database rather than the client's own, which
/// may not exist yet (`CREATE DATABASE`) or is the one being removed (`DROP DATABASE`).
pub async fn run_on_default_database(client: &clickhouse::Client, statement: &str) {
    client
        .clone()
        .with_database("default")
        .query(statement)
        .execute()
        .await
        .unwrap_or_else(|error| panic!("{statement}: {error}"));
}

/// Removes a test's database, if it exists.
pub async fn drop_database(client: &clickhouse::Client, database: &str) {
    run_on_default_database(client, &format!("DROP DATABASE IF EXISTS {database}")).await;
}
