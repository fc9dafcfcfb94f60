//! Reading supplier validity dates. A price list date names a whole day, so `valid_from`
//! starts at its first millisecond and `valid_to` ends at its last (both UTC: the gate's
//! validity rule is inclusive, and a one-hour offset from Paris time is harmless next to
//! day-long bounds).

use hub_schemas::records::EpochMillis;
use serde::{Deserialize, Serialize};

use crate::calendar::{MILLIS_PER_DAY, days_from_civil};

/// How a supplier writes dates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateFormat {
    /// `2025-03-31` (ISO 8601).
    #[default]
    Iso,
    /// `31/03/2025`, as French suppliers write.
    DayMonthYear,
}

/// Which end of the day a date stands for: a validity starts at the first millisecond of its
/// first day and ends at the last millisecond of its last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayBound {
    Start,
    End,
}

fn number(text: &str, digits: usize) -> Option<u32> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

impl DateFormat {
    fn expected(self) -> &'static str {
        match self {
            DateFormat::Iso => "YYYY-MM-DD",
            DateFormat::DayMonthYear => "DD/MM/YYYY",
        }
    }

    /// The first or last millisecond (UTC) of the day written in `text`.
    pub fn parse(self, text: &str, bound: DayBound) -> Result<EpochMillis, String> {
        let text = text.trim();
        let parts: Vec<&str> = match self {
            DateFormat::Iso => text.split('-').collect(),
            DateFormat::DayMonthYear => text.split('/').collect(),
        };
        let fields = match (self, parts.as_slice()) {
            (DateFormat::Iso, [year, month, day])
            | (DateFormat::DayMonthYear, [day, month, year]) => {
                number(year, 4).zip(number(month, 2)).zip(number(day, 2))
            }
            _ => None,
        };
        let Some(((year, month), day)) = fields else {
            return Err(format!("is not a date written {}", self.expected()));
        };
        let days = days_from_civil(i64::from(year), month, day)
            .ok_or_else(|| format!("is not a calendar date ({})", self.expected()))?;
        let start = days * MILLIS_PER_DAY;
        Ok(match bound {
            DayBound::Start => start,
            DayBound::End => start + MILLIS_PER_DAY - 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARCH_31_2025: EpochMillis = 1_743_379_200_000;

    #[test]
    fn both_formats_read_the_same_day() {
        assert_eq!(
            DateFormat::Iso.parse("2025-03-31", DayBound::Start),
            Ok(MARCH_31_2025)
        );
        assert_eq!(
            DateFormat::DayMonthYear.parse(" 31/03/2025 ", DayBound::Start),
            Ok(MARCH_31_2025)
        );
        assert_eq!(
            DateFormat::DayMonthYear.parse("31/03/2025", DayBound::End),
            Ok(MARCH_31_2025 + 86_399_999)
        );
    }

    #[test]
    fn malformed_or_impossible_dates_are_refused() {
        for text in [
            "2025-3-31",
            "31/03/2025",
            "2025-02-29",
            "2025-13-01",
            "",
            "2025-03-31T00:00",
            "+025-03-31",
        ] {
            assert!(
                DateFormat::Iso.parse(text, DayBound::Start).is_err(),
                "{text:?}"
            );
        }
        for text in [
            "2025-03-31",
            "03/31/2025",
            "31/3/2025",
            "29/02/2023",
            "31-03-2025",
        ] {
            assert!(
                DateFormat::DayMonthYear
                    .parse(text, DayBound::Start)
                    .is_err(),
                "{text:?}"
            );
        }
        assert!(
            DateFormat::DayMonthYear
                .parse("03/31/2025", DayBound::Start)
                .unwrap_err()
                .contains("DD/MM/YYYY")
        );
    }
}
