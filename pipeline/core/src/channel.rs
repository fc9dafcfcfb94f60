//! The sales channels the hub scores, by their stable keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A marketplace the distributor sells on. The key is what contracts, fee schedules,
/// ClickHouse rows and metric labels carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Amazon,
    Cdiscount,
    FnacDarty,
    Mirakl,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Amazon,
        Channel::Cdiscount,
        Channel::FnacDarty,
        Channel::Mirakl,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Channel::Amazon => "amazon",
            Channel::Cdiscount => "cdiscount",
            Channel::FnacDarty => "fnac_darty",
            Channel::Mirakl => "mirakl",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel {0:?}: expected one of amazon, cdiscount, fnac_darty, mirakl")]
pub struct UnknownChannel(pub String);

impl FromStr for Channel {
    type Err = UnknownChannel;

    fn from_str(key: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|channel| channel.key() == key)
            .ok_or_else(|| UnknownChannel(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_unknown_keys_are_named() {
        for channel in Channel::ALL {
            assert_eq!(channel.key().parse::<Channel>(), Ok(channel));
        }
        let error = "ebay".parse::<Channel>().unwrap_err();
        assert!(error.to_string().contains("\"ebay\""));
    }
}
