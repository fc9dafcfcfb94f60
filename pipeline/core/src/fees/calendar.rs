//! Calendar dates of fee schedules and profiles, turned into the epoch milliseconds that
//! signals carry. A date means 00:00 UTC that day: marketplaces announce fee changes by
//! date, and the one or two hours between UTC and Paris midnight never matter for scoring
//! while a fixed rule keeps replays exact.

use hub_schemas::records::EpochMillis;
use toml::value::Datetime;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`], for messages that show a time as a date.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Midnight UTC of a TOML local date (`2024-10-01`). Anything with a time or an offset is
/// refused so a schedule boundary always reads the same way.
pub fn date_to_epoch_millis(value: &Datetime) -> Result<EpochMillis, String> {
    match (value.date, value.time, value.offset) {
        (Some(date), None, None) => {
            let days = days_from_civil(i64::from(date.year), date.month.into(), date.day.into());
            Ok(days * MILLIS_PER_DAY)
        }
        _ => Err(format!(
            "{value} is not a plain date; write validity dates like 2024-10-01 (00:00 UTC)"
        )),
    }
}

/// `2024-10-01T13:05:00Z`-style rendering of a time for messages and explanations.
pub fn display_time(millis: EpochMillis) -> String {
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let within_day = millis.rem_euclid(MILLIS_PER_DAY) / 1000;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        within_day / 3600,
        within_day % 3600 / 60,
        within_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_midnight_utc_and_round_trip() {
        let date: Datetime = "2024-10-01".parse().unwrap();
        assert_eq!(date_to_epoch_millis(&date), Ok(1_727_740_800_000));
        assert_eq!(display_time(1_727_740_800_000), "2024-10-01T00:00:00Z");
        assert_eq!(
            display_time(951_782_400_000 + 3_723_000),
            "2000-02-29T01:02:03Z"
        );
        for days in [-800_000, -1, 0, 59, 11_016, 2_932_896] {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }

    #[test]
    fn times_and_offsets_are_refused() {
        let with_time: Datetime = "2024-10-01T02:00:00+02:00".parse().unwrap();
        let error = date_to_epoch_millis(&with_time).unwrap_err();
        assert!(error.contains("2024-10-01T02:00:00+02:00"), "{error}");
    }
}
