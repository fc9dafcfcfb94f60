//! Versioned schema migrations, embedded in the binary from `migrations/NNNN_<name>.sql`.
//!
//! Each file holds one or more statements, each ended by `;` at the end of a line (the HTTP
//! interface runs one statement per request). Every statement must be idempotent (`IF NOT
//! EXISTS`): a migration interrupted half-way is re-run whole. An applied migration is
//! recorded in `schema_migrations` with the SHA-256 of its file, and a file changed after
//! it was applied is refused: write a new migration instead.

use crate::error::{Retry, classify};
use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// The database Sourcing Hub uses unless configured otherwise.
pub const DEFAULT_DATABASE: &str = "sourcing_hub";

/// One embedded migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($($stem:literal),* $(,)?) => {
        &[$(Migration::from_file(
            $stem,
            include_str!(concat!("../migrations/", $stem, ".sql")),
        )),*]
    };
}

/// Every migration, in the order they apply, by file name without `.sql`.
pub const MIGRATIONS: &[Migration] = migrations![
    "0001_products",
    "0002_signals",
    "0003_scores",
    "0004_quarantine",
    "0005_score_versions",
    "0006_scores_current_unpartitioned",
    "0007_products_active",
    "0008_quarantine_records",
];

impl Migration {
    /// Reads version and name from a `NNNN_<name>` file stem; evaluated at compile time for
    /// [`MIGRATIONS`], so a malformed stem fails the build.
    const fn from_file(stem: &'static str, sql: &'static str) -> Self {
        let bytes = stem.as_bytes();
        assert!(
            bytes.len() > 5 && bytes[4] == b'_',
            "migration file must be NNNN_<name>.sql"
        );
        let mut version = 0;
        let mut index = 0;
        while index < 4 {
            assert!(
                bytes[index].is_ascii_digit(),
                "migration file must start with 4 digits"
            );
            version = version * 10 + (bytes[index] - b'0') as u32;
            index += 1;
        }
        Self {
            version,
            name: stem.split_at(5).1,
            sql,
        }
    }

    /// SHA-256 of the file, hex: what `schema_migrations.checksum` holds.
    pub fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The statements of the file, without comment-only fragments.
    pub fn statements(&self) -> Vec<String> {
        let mut statements = Vec::new();
        let mut current = String::new();
        for line in self.sql.lines() {
            let code = line.trim();
            if code.starts_with("--") || code.is_empty() {
                continue;
            }
            current.push_str(line);
            current.push('\n');
            if code.ends_with(';') {
                statements.push(current.trim_end().trim_end_matches(';').to_owned());
                current.clear();
            }
        }
        if !current.trim().is_empty() {
            statements.push(current.trim_end().to_owned());
        }
        statements
    }
}

/// A migration that could not be applied or verified.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "database name {0:?} is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*) (not retryable)"
    )]
    InvalidDatabaseName(String),
    #[error(
        "migration {version:04}_{name} was applied with checksum {applied} but the embedded file \
         now has {embedded}: applied migrations must never change, add a new migration instead \
         (not retryable)"
    )]
    ChecksumMismatch {
        version: u32,
        name: &'static str,
        applied: String,
        embedded: String,
    },
    #[error(
        "migration {version:04}_{name} was applied but this binary does not embed it: the \
         database {database} is newer than this binary (not retryable)"
    )]
    UnknownApplied {
        version: u32,
        name: String,
        database: String,
    },
    #[error("{step} failed on database {database} ({retry}): {source}")]
    ClickHouse {
        step: String,
        database: String,
        retry: Retry,
        #[source]
        source: clickhouse::error::Error,
    },
}

impl MigrationError {
    fn clickhouse(step: String, database: &str, source: clickhouse::error::Error) -> Self {
        Self::ClickHouse {
            step,
            database: database.to_owned(),
            retry: classify(&source),
            source,
        }
    }

    /// Whether running `migrate` again may succeed.
    pub fn retry(&self) -> Retry {
        match self {
            Self::ClickHouse { retry, .. } => *retry,
            Self::InvalidDatabaseName(_)
            | Self::ChecksumMismatch { .. }
            | Self::UnknownApplied { .. } => Retry::Fatal,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct AppliedMigration {
    pub version: u32,
    pub name: String,
    pub checksum: String,
    /// Epoch milliseconds, UTC.
    pub applied_at: i64,
}

// ReplacingMergeTree so that two processes migrating at once, which may both record a
// version, still read back one row per version.
const SCHEMA_MIGRATIONS_DDL: &str = "CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version";

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MigrationReport {
    /// Versions applied by this call, in order.
    pub applied: Vec<u32>,
    /// Versions found already applied, with a matching checksum.
    pub already_applied: Vec<u32>,
}

/// Creates `database` if missing and applies the embedded migrations not yet recorded in its
/// `schema_migrations`. Safe to run at every start and from several processes.
pub async fn migrate(client: &Client, database: &str) -> Result<MigrationReport, MigrationError> {
    // Checked rather than escaped: the name also reaches SQL through the `database` URL
    // parameter, and a plain identifier needs no quoting in either place.
    let plain = database.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && database
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain {
        return Err(MigrationError::InvalidDatabaseName(database.to_owned()));
    }
    // The database may not exist yet, so this statement must not run inside it.
    client
        .clone()
        .with_database("default")
        .query(&format!("CREATE DATABASE IF NOT EXISTS {database}"))
        .execute()
        .await
        .map_err(|e| MigrationError::clickhouse("CREATE DATABASE".into(), database, e))?;

    let client = client.clone().with_database(database);
    client
        .query(SCHEMA_MIGRATIONS_DDL)
        .execute()
        .await
        .map_err(|e| {
            MigrationError::clickhouse("creating schema_migrations".into(), database, e)
        })?;

    let recorded = applied_migrations(&client, database).await?;
    let mut report = MigrationReport::default();
    for applied in &recorded {
        let Some(embedded) = MIGRATIONS.iter().find(|m| m.version == applied.version) else {
            return Err(MigrationError::UnknownApplied {
                version: applied.version,
                name: applied.name.clone(),
                database: database.to_owned(),
            });
        };
        let checksum = embedded.checksum();
        if applied.checksum != checksum {
            return Err(MigrationError::ChecksumMismatch {
                version: embedded.version,
                name: embedded.name,
                applied: applied.checksum.clone(),
                embedded: checksum,
            });
        }
        report.already_applied.push(applied.version);
    }

    for migration in MIGRATIONS
        .iter()
        .filter(|m| !report.already_applied.contains(&m.version))
    {
        apply(&client, database, migration).await?;
        report.applied.push(migration.version);
    }
    Ok(report)
}

/// The rows of `schema_migrations`, one per version, in version order.
pub async fn applied_migrations(
    client: &Client,
    database: &str,
) -> Result<Vec<AppliedMigration>, MigrationError> {
    client
        .query("SELECT ?fields FROM schema_migrations FINAL ORDER BY version")
        .fetch_all::<AppliedMigration>()
        .await
        .map_err(|e| MigrationError::clickhouse("reading schema_migrations".into(), database, e))
}

async fn apply(
    client: &Client,
    database: &str,
    migration: &Migration,
) -> Result<(), MigrationError> {
    let label = format!("{:04}_{}", migration.version, migration.name);
    for (index, statement) in migration.statements().iter().enumerate() {
        client.query(statement).execute().await.map_err(|e| {
            MigrationError::clickhouse(
                format!("statement {} of migration {label}", index + 1),
                database,
                e,
            )
        })?;
    }
    let applied_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        });
    let record = AppliedMigration {
        version: migration.version,
        name: migration.name.to_owned(),
        checksum: migration.checksum(),
        applied_at,
    };
    let step = || format!("recording migration {label} in schema_migrations");
    let mut insert = client
        .insert::<AppliedMigration>("schema_migrations")
        .await
        .map_err(|e| MigrationError::clickhouse(step(), database, e))?;
    insert
        .write(&record)
        .await
        .map_err(|e| MigrationError::clickhouse(step(), database, e))?;
    insert
        .end()
        .await
        .map_err(|e| MigrationError::clickhouse(step(), database, e))?;
    tracing::info!(database, migration = %label, "applied ClickHouse migration");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let files: BTreeSet<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        let embedded: BTreeSet<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(files, embedded);
        let versions: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(versions, (1..=MIGRATIONS.len() as u32).collect::<Vec<_>>());
    }

    #[test]
    fn statements_split_at_line_ending_semicolons_without_comments() {
        let migration = Migration {
            version: 1,
            name: "t",
            sql: "-- why\nCREATE TABLE a\n(\n    x String DEFAULT 'a;b'\n)\nENGINE = Memory;\n\n-- more\nCREATE VIEW v AS SELECT 1;\n",
        };
        assert_eq!(
            migration.statements(),
            vec![
                "CREATE TABLE a\n(\n    x String DEFAULT 'a;b'\n)\nENGINE = Memory".to_owned(),
                "CREATE VIEW v AS SELECT 1".to_owned(),
            ]
        );
    }

    #[test]
    fn checksum_is_the_sha256_of_the_file() {
        let migration = Migration {
            version: 1,
            name: "t",
            sql: "abc",
        };
        assert_eq!(
            migration.checksum(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
