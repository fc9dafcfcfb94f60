//! Everything a score is computed under, loaded together: fee schedules, category maps,
//! weight profiles and seller profiles.
//!
//! The repository's `config/` files are embedded in the binary, so the hub runs with the
//! documented defaults and no files around it. A directory laid out like `config/`
//! (`fees/<channel>.toml`, `categories/<channel>.toml`, `weights/<name>.toml`,
//! `profiles/<name>.toml`) overrides them file by file: a file there replaces the embedded
//! file of the same path, and new profile names are added.

use std::collections::BTreeMap;
use std::path::Path;

use crate::channel::Channel;
use crate::fees::FeeSchedules;
use crate::fees::categories::ChannelCategories;
use crate::profile::{ConfigError, SellerProfile, WeightProfile};

/// The configuration files shipped in the repository, by path under `config/`.
const EMBEDDED: [(&str, &str); 10] = [
    (
        "fees/amazon.toml",
        include_str!("../../../../config/fees/amazon.toml"),
    ),
    (
        "fees/cdiscount.toml",
        include_str!("../../../../config/fees/cdiscount.toml"),
    ),
    (
        "fees/fnac_darty.toml",
        include_str!("../../../../config/fees/fnac_darty.toml"),
    ),
    (
        "fees/mirakl.toml",
        include_str!("../../../../config/fees/mirakl.toml"),
    ),
    (
        "categories/amazon.toml",
        include_str!("../../../../config/categories/amazon.toml"),
    ),
    (
        "categories/cdiscount.toml",
        include_str!("../../../../config/categories/cdiscount.toml"),
    ),
    (
        "categories/fnac_darty.toml",
        include_str!("../../../../config/categories/fnac_darty.toml"),
    ),
    (
        "categories/mirakl.toml",
        include_str!("../../../../config/categories/mirakl.toml"),
    ),
    (
        "weights/default.toml",
        include_str!("../../../../config/weights/default.toml"),
    ),
    (
        "profiles/default.toml",
        include_str!("../../../../config/profiles/default.toml"),
    ),
];

/// The folders of a configuration directory, in the order they are loaded.
const FOLDERS: [&str; 4] = ["fees", "categories", "weights", "profiles"];

/// The loaded configuration. Cheap to share by reference across every record scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EconomicsConfig {
    pub fees: FeeSchedules,
    categories: BTreeMap<Channel, ChannelCategories>,
    weights: BTreeMap<String, WeightProfile>,
    sellers: BTreeMap<String, SellerProfile>,
}

/// A profile asked for by name that no file defines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no {kind} profile named {name:?}; known: {known}")]
pub struct UnknownProfile {
    pub kind: &'static str,
    pub name: String,
    pub known: String,
}

impl EconomicsConfig {
    /// The defaults shipped in `config/`.
    pub fn embedded() -> Result<Self, ConfigError> {
        Self::from_files(
            EMBEDDED
                .iter()
                .map(|(path, text)| (path.to_string(), text.to_string())),
        )
    }

    /// The embedded defaults with every file of `dir` laid over them.
    pub fn with_overrides_from_dir(dir: &Path) -> Result<Self, ConfigError> {
        Self::with_overrides(override_files(dir)?)
    }

    /// The embedded defaults with `files` (path under `config/` -> contents) laid over them.
    pub fn with_overrides(files: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut all: BTreeMap<String, String> = EMBEDDED
            .iter()
            .map(|(path, text)| (path.to_string(), text.to_string()))
            .collect();
        all.extend(files);
        Self::from_files(all)
    }

    /// Loads `(path under config/, contents)` pairs; see the module documentation.
    pub fn from_files(
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut config = Self {
            fees: FeeSchedules::default(),
            categories: BTreeMap::new(),
            weights: BTreeMap::new(),
            sellers: BTreeMap::new(),
        };
        for (path, text) in files {
            let (folder, file_name) = path.split_once('/').unwrap_or(("", path.as_str()));
            let stem = file_name.strip_suffix(".toml").unwrap_or(file_name);
            match folder {
                "fees" => config.fees.load_channel_file(&path, &text)?,
                "categories" => {
                    let categories = ChannelCategories::parse(&path, &text)?;
                    config.categories.insert(categories.channel, categories);
                }
                "weights" => {
                    let profile = WeightProfile::parse(&path, &text)?;
                    check_name(&path, stem, &profile.name)?;
                    config.weights.insert(profile.name.to_string(), profile);
                }
                "profiles" => {
                    let profile = SellerProfile::parse(&path, &text)?;
                    check_name(&path, stem, &profile.name)?;
                    config.sellers.insert(profile.name.clone(), profile);
                }
                _ => {
                    return Err(ConfigError::new(
                        &path,
                        "not a configuration file: expected fees/, categories/, weights/ or \
                         profiles/<name>.toml",
                    ));
                }
            }
        }
        for channel in Channel::ALL {
            config
                .categories
                .entry(channel)
                .or_insert_with(|| ChannelCategories::empty(channel));
        }
        Ok(config)
    }

    /// The category data of a channel; a channel without a file maps nothing.
    pub fn categories(&self, channel: Channel) -> &ChannelCategories {
        &self.categories[&channel]
    }

    pub fn weights(&self, name: &str) -> Result<&WeightProfile, UnknownProfile> {
        lookup(&self.weights, "weight", name)
    }

    pub fn seller(&self, name: &str) -> Result<&SellerProfile, UnknownProfile> {
        lookup(&self.sellers, "seller", name)
    }
}

/// The configuration files of `dir` (laid out like `config/`), by path under `config/`.
pub fn override_files(dir: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut files = BTreeMap::new();
    for folder in FOLDERS {
        let folder_path = dir.join(folder);
        if !folder_path.is_dir() {
            continue;
        }
        let unreadable = |error: std::io::Error| {
            ConfigError::new(
                &folder_path.display().to_string(),
                format!("cannot read: {error}"),
            )
        };
        for entry in std::fs::read_dir(&folder_path).map_err(unreadable)? {
            let path = entry.map_err(unreadable)?.path();
            if path.extension().is_none_or(|extension| extension != "toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|error| {
                ConfigError::new(&path.display().to_string(), format!("cannot read: {error}"))
            })?;
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned());
            files.insert(format!("{folder}/{}", name.unwrap_or_default()), text);
        }
    }
    Ok(files)
}

fn lookup<'a, T>(
    profiles: &'a BTreeMap<String, T>,
    kind: &'static str,
    name: &str,
) -> Result<&'a T, UnknownProfile> {
    profiles.get(name).ok_or_else(|| UnknownProfile {
        kind,
        name: name.to_owned(),
        known: profiles.keys().cloned().collect::<Vec<_>>().join(", "),
    })
}

/// A profile is asked for by name, so the file name and the name inside must agree.
fn check_name(path: &str, stem: &str, name: &str) -> Result<(), ConfigError> {
    if stem != name {
        return Err(ConfigError::new(
            path,
            format!("name = {name:?} differs from the file name {stem:?}; make them equal"),
        ));
    }
    Ok(())
}
