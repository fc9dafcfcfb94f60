//! `config/hub.toml` documents every `[connectors.*]` section with every key, commented
//! out: uncommented, its examples must be a valid connectors configuration (so no key is
//! misspelt or gone), and every key a section has must appear in its example (so none is
//! missing). The `http` keys are shown once, in the Mirakl section.

use std::collections::BTreeMap;

use hub_connectors::config::{CONNECTORS, ConnectorsConfig};
use serde::Deserialize;

const HUB_TOML: &str = include_str!("../../config/hub.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Documented {
    connectors: ConnectorsConfig,
}

/// The connector examples uncommented: from the first `# [connectors.` line on, `# ` is
/// stripped from example lines and `##` prose lines are dropped.
fn examples() -> String {
    let start = HUB_TOML
        .find("# [connectors.")
        .expect("config/hub.toml documents the connectors");
    HUB_TOML[start..]
        .lines()
        .filter(|line| !line.starts_with("##"))
        .map(|line| line.strip_prefix("# ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The example keys of each table, by table path (`connectors.mirakl.http`).
fn documented_keys(examples: &str) -> BTreeMap<String, Vec<String>> {
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut table = String::new();
    for line in examples.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[') {
            table = header
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default()
                .to_owned();
            keys.entry(table.clone()).or_default();
        } else if let Some((key, _)) = line.split_once('=') {
            keys.entry(table.clone())
                .or_default()
                .push(key.trim().trim_matches('"').to_owned());
        }
    }
    keys
}

#[test]
fn the_documented_examples_are_a_valid_configuration_of_every_connector() {
    let documented: Documented = toml::from_str(&examples())
        .unwrap_or_else(|error| panic!("config/hub.toml's connector examples: {error}"));
    let mut configured = documented.connectors.configured();
    configured.sort_unstable();
    let mut known = CONNECTORS.to_vec();
    known.sort_unstable();
    assert_eq!(configured, known, "one documented section per connector");
}

#[test]
fn every_key_of_every_section_is_documented() {
    let examples = examples();
    let documented: Documented = toml::from_str(&examples)
        .unwrap_or_else(|error| panic!("config/hub.toml's connector examples: {error}"));
    let documented_keys = documented_keys(&examples);
    let written = toml::Value::try_from(&documented.connectors).expect("serialisable");
    let sections = written.as_table().expect("a table of sections");
    for (name, section) in sections {
        let path = format!("connectors.{name}");
        for (key, value) in section.as_table().expect("a section is a table") {
            let nested = format!("{path}.{key}");
            // A key shown inline (`rate = { .. }`) or as a table of its own (`[..http]`).
            assert!(
                documented_keys[&path].contains(key) || documented_keys.contains_key(&nested),
                "{key} of [{path}] is not documented in config/hub.toml"
            );
            // The fields of the tables documented key by key: `http` (shown once, for
            // Mirakl), Amazon's `rates`, each supplier feed.
            let shown_in = if key == "http" {
                "connectors.mirakl.http".to_owned()
            } else {
                nested
            };
            let tables = match value {
                toml::Value::Table(table) => vec![table],
                toml::Value::Array(array) => {
                    array.iter().filter_map(toml::Value::as_table).collect()
                }
                _ => Vec::new(),
            };
            let Some(shown) = documented_keys.get(&shown_in) else {
                continue;
            };
            for field in tables.iter().flat_map(|table| table.keys()) {
                assert!(
                    shown.contains(field),
                    "{field} of [{shown_in}] is not documented in config/hub.toml"
                );
            }
        }
    }
}
