//! Serde helpers that read decimals from configuration exactly: from a string or an integer,
//! never from a float, whose binary rounding would silently change a rate or a ceiling.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A decimal read exactly, usable inside containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exact(pub(crate) Decimal);

struct ExactVisitor;

impl Visitor<'_> for ExactVisitor {
    type Value = Exact;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number written as a string, e.g. \"0.055\", or an integer")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Exact, E> {
        Decimal::from_str_exact(text.trim())
            .map(Exact)
            .map_err(|error| E::custom(format!("{text:?} is not an exact decimal: {error}")))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Exact, E> {
        Ok(Exact(Decimal::from(value)))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Exact, E> {
        Ok(Exact(Decimal::from(value)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Exact, E> {
        Err(E::custom(format!(
            "{value} is a float: write it as a string, e.g. \"{value}\", so it is read exactly"
        )))
    }
}

impl<'de> Deserialize<'de> for Exact {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ExactVisitor)
    }
}

impl Serialize for Exact {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

pub(crate) fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    Exact(*value).serialize(serializer)
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    Exact::deserialize(deserializer).map(|exact| exact.0)
}

pub(crate) mod map {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        value: &BTreeMap<String, Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_map(value.iter().map(|(key, decimal)| (key, Exact(*decimal))))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, Decimal>, D::Error> {
        let exact = BTreeMap::<String, Exact>::deserialize(deserializer)?;
        Ok(exact
            .into_iter()
            .map(|(key, value)| (key, value.0))
            .collect())
    }
}

pub(crate) mod map_of_lists {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        value: &BTreeMap<String, Vec<Decimal>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            value.iter().map(|(key, decimals)| {
                (key, decimals.iter().copied().map(Exact).collect::<Vec<_>>())
            }),
        )
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, Vec<Decimal>>, D::Error> {
        let exact = BTreeMap::<String, Vec<Exact>>::deserialize(deserializer)?;
        Ok(exact
            .into_iter()
            .map(|(key, values)| (key, values.into_iter().map(|value| value.0).collect()))
            .collect())
    }
}

pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.map(Exact).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        Ok(Option::<Exact>::deserialize(deserializer)?.map(|exact| exact.0))
    }
}
