//! Proleptic Gregorian calendar arithmetic on epoch milliseconds (UTC), enough to print
//! times in quarantine details and explanations, to read supplier dates and to date fee
//! schedules, without a date-time dependency in the core.
//! The conversions are H. Hinnant's `days_from_civil` / `civil_from_days`.

use hub_schemas::records::EpochMillis;

pub const MILLIS_PER_DAY: i64 = 86_400_000;

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a calendar date, or `None` if the date does not exist.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// The calendar date (year, month 1-12, day 1-31) of a day counted since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    // Both stay within 1..=31 and 1..=12 for every i64 day, so the casts are exact.
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// RFC 3339 UTC rendering to the millisecond, e.g. `2025-03-01T08:30:00.000Z`, for any `i64`
/// milliseconds: quarantine details quote the exact instants a rule compared.
pub(crate) fn format_utc(at: EpochMillis) -> String {
    let days = at.div_euclid(MILLIS_PER_DAY);
    let millis_of_day = at.rem_euclid(MILLIS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let seconds_of_day = millis_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60,
        millis_of_day % 1000
    )
}

/// RFC 3339 UTC rendering to the second, e.g. `2024-10-01T13:05:00Z`, for messages and
/// explanations a person reads.
pub fn display_time(at: EpochMillis) -> String {
    let (year, month, day) = civil_from_days(at.div_euclid(MILLIS_PER_DAY));
    let seconds_of_day = at.rem_euclid(MILLIS_PER_DAY) / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates_convert_both_ways() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(days_from_civil(2024, 2, 29), Some(19_782));
        assert_eq!(days_from_civil(1969, 12, 31), Some(-1));
        for days in [-800_000, -1, 0, 11_016, 19_782, 2_932_896] {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), Some(days));
        }
    }

    #[test]
    fn impossible_dates_are_refused() {
        assert_eq!(days_from_civil(2023, 2, 29), None);
        assert_eq!(days_from_civil(1900, 2, 29), None);
        assert_eq!(days_from_civil(2025, 4, 31), None);
        assert_eq!(days_from_civil(2025, 13, 1), None);
        assert_eq!(days_from_civil(2025, 1, 0), None);
    }

    #[test]
    fn formats_utc_including_extremes() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc(1_740_817_800_123), "2025-03-01T08:30:00.123Z");
        assert_eq!(format_utc(-1), "1969-12-31T23:59:59.999Z");
        assert!(format_utc(i64::MAX).ends_with('Z'));
        assert!(format_utc(i64::MIN).ends_with('Z'));
    }

    #[test]
    fn displays_to_the_second() {
        assert_eq!(display_time(1_727_740_800_000), "2024-10-01T00:00:00Z");
        assert_eq!(
            display_time(951_782_400_000 + 3_723_999),
            "2000-02-29T01:02:03Z"
        );
        assert_eq!(display_time(-1), "1969-12-31T23:59:59Z");
    }
}
