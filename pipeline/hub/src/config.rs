//! Layered configuration: compiled-in defaults, then a TOML file, then `HUB_<SECTION>__<KEY>`
//! environment variables. Secrets are masked whenever the configuration is printed.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hub_core::gate::GateConfig;
use hub_core::money::FxRates;
use serde::{Deserialize, Serialize};

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "HUB_";
/// Separates the section from the key in an environment variable name.
const ENV_SECTION_SEPARATOR: &str = "__";
const MASK: &str = "***";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}; pass an existing file with --config")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path} is not valid TOML: {source}")]
    ParseFile {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error(
        "environment variable {name} does not name a configuration key: expected \
         HUB_<SECTION>__<KEY> with a section and key from `hub config show`"
    )]
    UnknownEnvKey { name: String },
    #[error("invalid configuration (after applying file and environment): {0}")]
    Invalid(String),
}

/// A value that must never appear in logs or printed configuration.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { MASK })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[derive(Default)]
pub struct Config {
    pub kafka: KafkaConfig,
    pub clickhouse: ClickHouseConfig,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
    /// Thresholds of the quality gate (see docs/quarantine-reasons.md).
    pub gate: GateConfig,
    pub scoring: ScoringConfig,
    pub processor: ProcessorConfig,
    pub sink: crate::sink::SinkConfig,
    /// How `hub connect` runs connectors (poll interval, health reports).
    pub connect: ConnectConfig,
    /// One section per source (`[connectors.mirakl]`...); a source without one is not run.
    pub connectors: hub_connectors::config::ConnectorsConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectConfig {
    /// How long a connector that has caught up with its source waits before polling again.
    pub poll_interval_ms: u64,
    /// How often a running connector publishes its health (breaker, last success, last
    /// error) for `hub connectors status`; also on every change of breaker state.
    pub health_interval_ms: u64,
}

impl Default for ConnectConfig {
    fn default() -> Self {
        ConnectConfig {
            poll_interval_ms: 30_000,
            health_interval_ms: 10_000,
        }
    }
}

/// What scores are computed under. Fee schedules, category maps, weight and seller
/// profiles are data files (see config/); the defaults are embedded in the binary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringConfig {
    /// A directory laid over the embedded defaults, with the layout of the repository's
    /// config/ (fees/, categories/, weights/, profiles/). Empty: the embedded defaults.
    pub config_dir: String,
    pub weights_profile: String,
    pub seller_profile: String,
    /// Exchange rates into the margin currency, an input like any other: a cost in a
    /// currency without a rate is not scored, and the error names the currency.
    pub fx: FxRates,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        ScoringConfig {
            config_dir: String::new(),
            weights_profile: "default".into(),
            seller_profile: "default".into(),
            fx: FxRates::identity("EUR"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessorConfig {
    /// Input records handled before their outputs are awaited and their offsets committed.
    /// It bounds memory: nothing more is consumed while a batch waits for the broker.
    pub max_batch_records: usize,
    /// How long to wait for more input before closing a partial batch.
    pub linger_ms: u64,
    /// librdkafka's `max.poll.interval.ms`: the longest the processor may go without
    /// polling before it leaves its group. Restoring a partition and re-scoring it under a
    /// new revision poll nothing, so it must outlast the longest of them (it grows with the
    /// references per partition); an evicted processor writes nothing more for partitions
    /// that are already another's.
    pub max_poll_interval_ms: u64,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            max_batch_records: 5_000,
            linger_ms: 20,
            max_poll_interval_ms: 300_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Comma-separated `host:port` list.
    pub bootstrap_servers: String,
    /// Every topic name starts with this prefix (`<prefix>.signals.offers`...).
    pub topic_prefix: String,
    /// The processor's consumer group is `<group_id>-process`; the sink's `<group_id>-sink`
    /// unless `sink.group_id` names one.
    pub group_id: String,
    /// Partitions of the topics the hub creates; signal topics share it so they stay
    /// co-partitioned by GTIN.
    pub partitions: i32,
    pub replication_factor: i32,
    /// Empty: Avro single-object framing. Set: Confluent wire format, schemas registered
    /// under `<topic>-value`.
    pub schema_registry_url: String,
    pub schema_registry_username: String,
    pub schema_registry_password: Secret,
    /// Extra librdkafka properties (e.g. `security.protocol`), passed through verbatim.
    pub client_properties: ClientProperties,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: "127.0.0.1:9092".into(),
            topic_prefix: "hub".into(),
            group_id: "sourcing-hub".into(),
            partitions: 6,
            replication_factor: 1,
            schema_registry_url: String::new(),
            schema_registry_username: String::new(),
            schema_registry_password: Secret::default(),
            client_properties: ClientProperties::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickHouseConfig {
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: Secret,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: "http://127.0.0.1:8123".into(),
            database: "sourcing_hub".into(),
            user: "default".into(),
            password: Secret::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where `/metrics` is served in the Prometheus text format.
    pub listen: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Json,
        }
    }
}

impl Config {
    /// Defaults, then `file` when given, then every `HUB_<SECTION>__<KEY>` variable of `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut layered = toml::Table::try_from(Config::default())
            .map_err(|error| ConfigError::Invalid(error.to_string()))?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
                path: path.to_owned(),
                source,
            })?;
            let file_table: toml::Table =
                toml::from_str(&text).map_err(|source| ConfigError::ParseFile {
                    path: path.to_owned(),
                    source: Box::new(source),
                })?;
            merge(&mut layered, file_table);
        }
        for (name, value) in env {
            apply_env_override(&mut layered, &name, value)?;
        }
        layered
            .try_into()
            .map_err(|error: toml::de::Error| ConfigError::Invalid(error.message().to_owned()))
    }

    /// The configuration as TOML with every secret masked, for `hub config show` and logs.
    pub fn to_redacted_toml(&self) -> String {
        let mut printable = self.clone();
        for secret in [
            &mut printable.kafka.schema_registry_password,
            &mut printable.clickhouse.password,
        ] {
            if !secret.is_empty() {
                *secret = Secret::new(MASK);
            }
        }
        printable.kafka.client_properties = printable.kafka.client_properties.redacted();
        toml::to_string_pretty(&printable).expect("configuration always serialises to TOML")
    }
}

/// librdkafka properties passed through verbatim; those whose name says they hold a
/// credential (`sasl.password`, `ssl.key.password`...) are masked when printed.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct ClientProperties(BTreeMap<String, String>);

impl ClientProperties {
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    fn redacted(&self) -> ClientProperties {
        ClientProperties(
            self.0
                .iter()
                .map(|(key, value)| {
                    let shown = if is_secret_property(key) { MASK } else { value };
                    (key.clone(), shown.to_owned())
                })
                .collect(),
        )
    }
}

impl fmt::Debug for ClientProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.redacted().0).finish()
    }
}

fn is_secret_property(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "key"]
        .iter()
        .any(|word| key.contains(word))
}

fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(overlay_table)) => {
                merge(base_table, overlay_table)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Environment values are strings; the default's type says how to read them, so that a
/// numeric password stays a string and `HUB_KAFKA__PARTITIONS=12` becomes an integer.
/// Nested keys are separated by `__` too (`HUB_CONNECTORS__MIRAKL__BASE_URL`). Below the
/// section, a table that has no default (an optional source's section) is created, and a
/// value without a default is read as TOML when it parses, else as a string; the typed
/// configuration then rejects a key it does not know, naming it. Such a table's own
/// defaults are not known here, so a table inside an optional section is set whole:
/// `HUB_CONNECTORS__MIRAKL__OF21_RATE='{ per_second = 2.5, burst = 1 }'`. Names are matched
/// to existing keys whatever their case (`HUB_GATE__LEGAL_VAT_RATES__FR` sets `FR`); a new
/// key is lower case, so a map keyed in upper case gets a new entry by being set whole:
/// `HUB_SCORING__FX__RATES='{ USD = "0.92" }'`.
fn apply_env_override(
    layered: &mut toml::Table,
    name: &str,
    value: String,
) -> Result<(), ConfigError> {
    let Some(path) = name.strip_prefix(ENV_PREFIX) else {
        return Ok(());
    };
    let unknown = || ConfigError::UnknownEnvKey {
        name: name.to_owned(),
    };
    let parts: Vec<String> = path
        .split(ENV_SECTION_SEPARATOR)
        .map(str::to_ascii_lowercase)
        .collect();
    let [section, tables @ .., key] = parts.as_slice() else {
        return Err(unknown());
    };
    if key.is_empty() || tables.iter().any(String::is_empty) {
        return Err(unknown());
    }
    let mut table = layered
        .get_mut(&existing_key(layered, section))
        .and_then(toml::Value::as_table_mut)
        .ok_or_else(unknown)?;
    for nested in tables {
        table = table
            .entry(existing_key(table, nested))
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(unknown)?;
    }
    let key = &existing_key(table, key);
    let typed = match table.get(key) {
        Some(default) if default.is_str() => toml::Value::String(value),
        Some(default) => parse_toml_value(&value)
            .filter(|parsed| parsed.same_type(default))
            .ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "{name}={value:?} is not a valid {} (write it as in TOML)",
                    default.type_str()
                ))
            })?,
        None if tables.is_empty() => return Err(unknown()),
        None => parse_toml_value(&value).unwrap_or(toml::Value::String(value)),
    };
    table.insert(key.clone(), typed);
    Ok(())
}

/// The key of `table` that `lowercase` names whatever its case, else `lowercase` itself.
fn existing_key(table: &toml::Table, lowercase: &str) -> String {
    table
        .keys()
        .find(|key| key.to_ascii_lowercase() == lowercase)
        .map_or_else(|| lowercase.to_owned(), Clone::clone)
}

fn parse_toml_value(value: &str) -> Option<toml::Value> {
    toml::from_str::<toml::Table>(&format!("value = {value}"))
        .ok()
        .and_then(|mut table| table.remove("value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("hub-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("hub.toml");
        std::fs::write(
            &file,
            "[kafka]\ntopic_prefix = \"staging\"\npartitions = 3\n[clickhouse]\ndatabase = \"from_file\"\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            env(&[
                ("HUB_KAFKA__PARTITIONS", "12"),
                ("HUB_CLICKHOUSE__PASSWORD", "123456"),
                ("PATH", "/usr/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(config.kafka.topic_prefix, "staging");
        assert_eq!(config.kafka.partitions, 12);
        assert_eq!(config.clickhouse.database, "from_file");
        assert_eq!(config.clickhouse.password.expose(), "123456");
        assert_eq!(config.kafka.bootstrap_servers, "127.0.0.1:9092");
    }

    #[test]
    fn secrets_are_masked_when_printed_and_debugged() {
        let config = Config::load(
            None,
            env(&[
                ("HUB_CLICKHOUSE__PASSWORD", "s3cr3t"),
                ("HUB_KAFKA__SCHEMA_REGISTRY_PASSWORD", "r3g"),
                (
                    "HUB_KAFKA__CLIENT_PROPERTIES",
                    "{ \"sasl.password\" = \"k4fka\", \"security.protocol\" = \"SASL_SSL\" }",
                ),
            ]),
        )
        .unwrap();
        let printed = format!("{}\n{config:?}", config.to_redacted_toml());
        for secret in ["s3cr3t", "r3g", "k4fka"] {
            assert!(!printed.contains(secret), "{secret} leaked in:\n{printed}");
        }
        assert!(printed.contains("SASL_SSL"));
    }

    #[test]
    fn a_mistyped_variable_is_an_error_naming_it() {
        let error = Config::load(None, env(&[("HUB_KAFKA__BOOTSTRAP", "x:1")])).unwrap_err();
        assert!(error.to_string().contains("HUB_KAFKA__BOOTSTRAP"));
        let error = Config::load(None, env(&[("HUB_KAFKA__PARTITIONS", "many")])).unwrap_err();
        assert!(error.to_string().contains("HUB_KAFKA__PARTITIONS"));
    }

    #[test]
    fn nested_keys_are_overridden_and_unknown_sections_named() {
        let config = Config::load(
            None,
            env(&[
                ("HUB_CONNECT__POLL_INTERVAL_MS", "2500"),
                ("HUB_CONNECT__HEALTH_INTERVAL_MS", "100"),
            ]),
        )
        .unwrap();
        assert_eq!(config.connect.poll_interval_ms, 2_500);
        assert_eq!(config.connect.health_interval_ms, 100);
        let error = Config::load(None, env(&[("HUB_CONNECTORS__NOWHERE__URL", "x")])).unwrap_err();
        assert!(error.to_string().contains("nowhere"), "{error}");
        let error = Config::load(None, env(&[("HUB_NOSECTION__A__B", "x")])).unwrap_err();
        assert!(error.to_string().contains("HUB_NOSECTION__A__B"), "{error}");
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        let dir = std::env::temp_dir().join(format!("hub-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("hub.toml");
        std::fs::write(&file, "[kafka]\nbootstrap_server = \"typo:9092\"\n").unwrap();
        let error = Config::load(Some(&file), Vec::new()).unwrap_err();
        assert!(error.to_string().contains("bootstrap_server"), "{error}");
    }

    /// Every leaf of the configuration (`section.key`, `section.table.key`...), with its value.
    fn leaves(table: &toml::Table, path: &[String], found: &mut Vec<(Vec<String>, toml::Value)>) {
        for (key, value) in table {
            let mut path = path.to_vec();
            path.push(key.clone());
            match value {
                toml::Value::Table(nested) => leaves(nested, &path, found),
                leaf => found.push((path, leaf.clone())),
            }
        }
    }

    /// Another valid value of the type `value` has, so an override can be seen to apply.
    fn another(path: &[String], value: &toml::Value) -> toml::Value {
        use std::str::FromStr;
        match value {
            toml::Value::Integer(n) => toml::Value::Integer(n + 1),
            toml::Value::Float(x) => toml::Value::Float(x + 1.0),
            toml::Value::Boolean(b) => toml::Value::Boolean(!b),
            toml::Value::Array(items) => toml::Value::Array(items[..items.len() - 1].to_vec()),
            toml::Value::String(text) => toml::Value::String(match path.join(".").as_str() {
                "log.format" => "text".to_owned(),
                "gate.vat_country" => "DE".to_owned(),
                "scoring.fx.base" => "USD".to_owned(),
                _ => {
                    if let Ok(decimal) = rust_decimal::Decimal::from_str(text) {
                        (decimal + rust_decimal::Decimal::ONE).to_string()
                    } else if let Ok(mut address) = text.parse::<SocketAddr>() {
                        address.set_port(address.port() + 1);
                        address.to_string()
                    } else {
                        format!("{text}-overridden")
                    }
                }
            }),
            other => panic!("{}: no other value known for {other:?}", path.join(".")),
        }
    }

    fn value_at<'t>(table: &'t toml::Table, path: &[String]) -> Option<&'t toml::Value> {
        let (last, tables) = path.split_last()?;
        let mut table = table;
        for key in tables {
            table = table.get(key)?.as_table()?;
        }
        table.get(last)
    }

    #[test]
    fn every_key_is_overridden_by_its_environment_variable() {
        let defaults = toml::Table::try_from(Config::default()).unwrap();
        let mut all = Vec::new();
        leaves(&defaults, &[], &mut all);
        assert!(all.len() > 40, "only {} keys found", all.len());
        for (path, default) in all {
            let name = format!("HUB_{}", path.join("__").to_ascii_uppercase());
            let wanted = another(&path, &default);
            let text = match &wanted {
                toml::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let config = Config::load(None, env(&[(&name, &text)]))
                .unwrap_or_else(|error| panic!("{name}={text}: {error}"));
            let loaded = toml::Table::try_from(config).unwrap();
            assert_eq!(value_at(&loaded, &path), Some(&wanted), "{name}={text}");
        }
    }

    #[test]
    fn a_map_keyed_in_upper_case_is_overridden_by_entry_or_whole() {
        let config = Config::load(
            None,
            env(&[
                ("HUB_GATE__LEGAL_VAT_RATES__FR", "[\"0.20\"]"),
                ("HUB_SCORING__FX__RATES", "{ USD = \"0.92\" }"),
            ]),
        )
        .unwrap();
        let vat = &config.gate.legal_vat_rates;
        assert_eq!(vat["FR"], [rust_decimal::Decimal::new(20, 2)]);
        assert!(!vat.contains_key("fr"), "{vat:?}");
        let rates = toml::Table::try_from(&config.scoring.fx).unwrap();
        assert_eq!(rates["rates"]["USD"].as_str(), Some("0.92"), "{rates:?}");
    }

    const HUB_TOML: &str = include_str!("../../../config/hub.toml");

    /// config/hub.toml before its connector examples (tested by hub-connectors), with the
    /// examples of the other sections (`# key = value`) uncommented.
    fn hub_toml_with_examples() -> String {
        let end = HUB_TOML.find("# [connectors.").unwrap_or(HUB_TOML.len());
        let is_example = |line: &str| {
            line.split_once(" = ").is_some_and(|(key, _)| {
                !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            })
        };
        HUB_TOML[..end]
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(example) if is_example(example) => example,
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn config_hub_toml_and_its_examples_are_valid_configurations() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/hub.toml");
        Config::load(Some(&path), Vec::new()).expect("config/hub.toml as shipped");
        let examples: Config = toml::from_str(&hub_toml_with_examples())
            .unwrap_or_else(|error| panic!("config/hub.toml's examples: {error}"));
        assert!(examples.gate.price_ceiling_by_currency.contains_key("USD"));
    }

    #[test]
    fn config_hub_toml_documents_every_key_and_writes_no_secret() {
        let documented: toml::Table = toml::from_str(&hub_toml_with_examples()).unwrap();
        let defaults = toml::Table::try_from(Config::default()).unwrap();
        let mut missing = Vec::new();
        for (section, keys) in &defaults {
            // Every source's section is documented and tested by hub-connectors.
            let Some(keys) = keys.as_table().filter(|_| section != "connectors") else {
                continue;
            };
            for key in keys.keys() {
                let written = documented
                    .get(section)
                    .and_then(|table| table.get(key))
                    .is_some();
                if key.contains("password") {
                    let variable = format!("HUB_{}__{}", section, key).to_ascii_uppercase();
                    let note = format!("# {key}: a secret, set {variable} instead.");
                    assert!(!written, "{section}.{key} is a secret: never in the file");
                    if !HUB_TOML.contains(&note) {
                        missing.push(format!("{section}.{key} (expected {note:?})"));
                    }
                } else if !written {
                    missing.push(format!("{section}.{key}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "config/hub.toml does not document {missing:#?}"
        );
    }
}
