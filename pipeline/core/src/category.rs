//! The hub's own product categories. Every channel's category grid maps onto these keys
//! (as data, in the fee schedules), so a reference has one category whatever the channel.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Computers,
    Tv,
    Phones,
    ConsumerElectronics,
    LargeAppliances,
    SmallAppliances,
    VideoGameConsoles,
    VideoGames,
    Books,
    Accessories,
    Diy,
    Furniture,
    Other,
}

impl Category {
    pub const ALL: [Category; 13] = [
        Category::Computers,
        Category::Tv,
        Category::Phones,
        Category::ConsumerElectronics,
        Category::LargeAppliances,
        Category::SmallAppliances,
        Category::VideoGameConsoles,
        Category::VideoGames,
        Category::Books,
        Category::Accessories,
        Category::Diy,
        Category::Furniture,
        Category::Other,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Category::Computers => "computers",
            Category::Tv => "tv",
            Category::Phones => "phones",
            Category::ConsumerElectronics => "consumer_electronics",
            Category::LargeAppliances => "large_appliances",
            Category::SmallAppliances => "small_appliances",
            Category::VideoGameConsoles => "video_game_consoles",
            Category::VideoGames => "video_games",
            Category::Books => "books",
            Category::Accessories => "accessories",
            Category::Diy => "diy",
            Category::Furniture => "furniture",
            Category::Other => "other",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown category {0:?}: expected one of computers, tv, phones, consumer_electronics, \
     large_appliances, small_appliances, video_game_consoles, video_games, books, accessories, \
     diy, furniture, other"
)]
pub struct UnknownCategory(pub String);

impl FromStr for Category {
    type Err = UnknownCategory;

    fn from_str(key: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|category| category.key() == key)
            .ok_or_else(|| UnknownCategory(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_unknown_keys_are_named() {
        for category in Category::ALL {
            assert_eq!(category.key().parse::<Category>(), Ok(category));
        }
        assert!(
            "gardening"
                .parse::<Category>()
                .unwrap_err()
                .to_string()
                .contains("\"gardening\"")
        );
    }
}
