//! Calendar dates of fee schedules and profiles, turned into the epoch milliseconds that
//! signals carry. A date means 00:00 UTC that day: marketplaces announce fee changes by
//! date, and the one or two hours between UTC and Paris midnight never matter for scoring
//! while a fixed rule keeps replays exact.

use hub_schemas::records::EpochMillis;
use toml::value::Datetime;

use crate::calendar::{MILLIS_PER_DAY, days_from_civil};

/// Midnight UTC of a TOML local date (`2024-10-01`). Anything with a time or an offset is
/// refused so a schedule boundary always reads the same way.
pub fn date_to_epoch_millis(value: &Datetime) -> Result<EpochMillis, String> {
    match (value.date, value.time, value.offset) {
        (Some(date), None, None) => {
            days_from_civil(i64::from(date.year), date.month.into(), date.day.into())
                .map(|days| days * MILLIS_PER_DAY)
                .ok_or_else(|| format!("{value} is not a calendar date"))
        }
        _ => Err(format!(
            "{value} is not a plain date; write validity dates like 2024-10-01 (00:00 UTC)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_midnight_utc_and_round_trip() {
        let date: Datetime = "2024-10-01".parse().unwrap();
        assert_eq!(date_to_epoch_millis(&date), Ok(1_727_740_800_000));
        let leap_day: Datetime = "2000-02-29".parse().unwrap();
        assert_eq!(date_to_epoch_millis(&leap_day), Ok(951_782_400_000));
    }

    #[test]
    fn times_and_offsets_are_refused() {
        let with_time: Datetime = "2024-10-01T02:00:00+02:00".parse().unwrap();
        let error = date_to_epoch_millis(&with_time).unwrap_err();
        assert!(error.contains("2024-10-01T02:00:00+02:00"), "{error}");
    }

    #[test]
    fn dates_that_do_not_exist_are_refused() {
        // Built by hand: whether the TOML parser itself lets such a date through is its own
        // business, the schedule must refuse it either way.
        let not_a_date = Datetime {
            date: Some(toml::value::Date {
                year: 2023,
                month: 2,
                day: 29,
            }),
            time: None,
            offset: None,
        };
        let error = date_to_epoch_millis(&not_a_date).unwrap_err();
        assert!(
            error.contains("2023-02-29 is not a calendar date"),
            "{error}"
        );
    }
}
