//! ClickHouse side of Sourcing Hub: migrations, row types and the batching sink.
//!
//! - [`migrate`] creates the database and applies the embedded, versioned migrations.
//! - [`rows`] has one row type per table, converted from the `hub_schemas` records with the
//!   Kafka position they were read at.
//! - [`BatchWriter`] inserts rows in bounded, deduplicated, retried batches.
//!
//! Kafka consumption is not here: the binary's sink command reads the topics and feeds rows.

pub mod decimal;
pub mod error;
pub mod migrations;
pub mod rows;
pub mod writer;

pub use error::Retry;
pub use migrations::{DEFAULT_DATABASE, MigrationError, MigrationReport, migrate};
pub use rows::{KafkaPosition, SinkRow, Sourced};
pub use writer::{BatchReceipt, BatchWriter, RetryPolicy, WriteError, WriterConfig};

use clickhouse::{Client, Compression};

/// How to reach ClickHouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// HTTP endpoint, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: String,
}

impl ConnectionConfig {
    /// A client as production uses it. Compression is set explicitly rather than left to the
    /// crate's feature-dependent default: LZ4 blocks for inserts (`decompress=1`) and
    /// `Accept-Encoding: lz4` for answers. Row validation stays on: it costs little next to
    /// the network and turns a schema drift into an error naming the column instead of
    /// silently misread bytes.
    pub fn client(&self) -> Client {
        let mut client = Client::default()
            .with_url(&self.url)
            .with_database(&self.database)
            .with_compression(Compression::Lz4)
            .with_validation(true);
        if let Some(user) = &self.user {
            client = client.with_user(user);
        }
        if let Some(password) = &self.password {
            client = client.with_password(password);
        }
        client
    }
}
