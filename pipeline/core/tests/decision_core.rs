//! hub-core's integration tests, built as one test binary: each file was a binary of its own,
//! every one linking the whole core, for nothing a module does not give.

#[path = "golden/fixtures.rs"]
mod fixtures;

mod action_rules;
mod gate_mappings;
mod gate_props;
mod golden_explanations;
mod margin_published_grids;
mod quote_json;
mod score_properties;
mod state_props;

/// The supplier mappings shipped in `config/mappings`, as the hub loads them.
const GROSSISTE_OUEST: &str = include_str!("../../../config/mappings/grossiste_ouest.toml");
const EUROTECH: &str = include_str!("../../../config/mappings/eurotech.toml");
