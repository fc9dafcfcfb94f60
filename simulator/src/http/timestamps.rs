//! Times as the simulated APIs write them: RFC 3339 UTC, and Octopia's form of it.

use std::time::{SystemTime, UNIX_EPOCH};

use hub_schemas::records::EpochMillis;

/// Milliseconds since the epoch of a wall-clock time (0 before it, never met).
pub(super) fn epoch_millis(time: SystemTime) -> EpochMillis {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as EpochMillis)
}

/// `2026-11-28T09:30:00.25Z`; an instant outside the representable range (never produced
/// by the simulation) as its milliseconds.
pub(super) fn rfc3339(at: EpochMillis) -> String {
    jiff::Timestamp::from_millisecond(at).map_or_else(|_| at.to_string(), |time| time.to_string())
}

/// Octopia's form: seven fractional digits and a `+00:00` offset, as the release note's
/// example offer writes `2025-05-31T02:37:26.0000000+00:00`
/// (<https://developer.octopia-io.net/changelog/new-feature/get-offers-new-parameters-and-more-data-on-offers>).
/// An instant outside the representable range is written as its milliseconds.
pub(super) fn seven_digit_utc(at: EpochMillis) -> String {
    jiff::Timestamp::from_millisecond(at).map_or_else(
        |_| at.to_string(),
        |time| {
            format!(
                "{}.{:03}0000+00:00",
                time.strftime("%Y-%m-%dT%H:%M:%S"),
                at.rem_euclid(1000)
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_written_as_the_release_note_shows_them() {
        assert_eq!(
            seven_digit_utc(1_748_659_046_000),
            "2025-05-31T02:37:26.0000000+00:00"
        );
        assert_eq!(
            seven_digit_utc(1_748_659_046_250),
            "2025-05-31T02:37:26.2500000+00:00"
        );
    }
}
