//! `Retry-After` (RFC 9110 §10.2.3): either a number of seconds or an HTTP-date.

use std::time::{Duration, SystemTime};

/// How long a `Retry-After` value asks us to wait, measured from `now`. A date in the past
/// means "now" (zero); a value that is neither form is `None` (the caller falls back on its
/// own backoff).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        // More digits than u64 holds is still "a very long time", not garbage.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(seconds_since_epoch: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds_since_epoch)
    }

    #[test]
    fn seconds_and_dates_are_read() {
        let now = at(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // The obsolete RFC 850 and asctime forms are still valid HTTP-dates.
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:10 2015", now),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn past_dates_mean_now_and_garbage_means_unknown() {
        let now = at(1_445_412_480);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        for garbage in ["", "-5", "1.5", "soon", "Wed, 32 Oct 2015 07:28:00 GMT"] {
            assert_eq!(parse_retry_after(garbage, now), None, "{garbage:?}");
        }
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    proptest! {
        #[test]
        fn any_number_of_seconds_is_read_back(seconds in 0u64..10_000_000) {
            prop_assert_eq!(
                parse_retry_after(&seconds.to_string(), at(1_700_000_000)),
                Some(Duration::from_secs(seconds))
            );
        }

        #[test]
        fn any_future_date_is_the_distance_to_it(now in 0u64..4_000_000_000, ahead in 0u64..1_000_000) {
            let date = httpdate::fmt_http_date(at(now + ahead));
            prop_assert_eq!(parse_retry_after(&date, at(now)), Some(Duration::from_secs(ahead)));
        }
    }
}
