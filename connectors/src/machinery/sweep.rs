//! A sweep that reads a whole source again every interval, counted from the end of the last
//! one, in steps a restart resumes: the Cdiscount competition sweep and the Fnac Darty
//! pricing sweep. Persisted as the JSON value of the sweep's cursor ([`Cursor::of_json`]).
//!
//! [`Cursor::of_json`]: super::Cursor::of_json

use serde::{Deserialize, Serialize};

/// Where a periodic sweep stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum PeriodicSweep {
    /// No sweep under way: the next one starts at `due_at` (epoch ms).
    Waiting { due_at: i64 },
    /// A sweep under way, to resume at `resume_at`, a position only its connector reads (the
    /// next page's link, the last EAN priced); none at its start.
    Sweeping {
        // The names the two sweeps' cursors used before they shared this type, so that a
        // sweep under way at an upgrade resumes where it stood.
        #[serde(alias = "next_page", alias = "after")]
        resume_at: Option<String>,
    },
}

impl PeriodicSweep {
    /// Waiting one interval from `now`.
    pub fn waiting_from(now: i64, interval_ms: u64) -> Self {
        PeriodicSweep::Waiting {
            due_at: now.saturating_add_unsigned(interval_ms),
        }
    }

    /// The sweep under way at `now`, as where it resumes (`Some(None)`: a new sweep, at its
    /// start); none while waiting.
    pub fn under_way_at(&self, now: i64) -> Option<Option<&str>> {
        match self {
            PeriodicSweep::Waiting { due_at } => (now >= *due_at).then_some(None),
            PeriodicSweep::Sweeping { resume_at } => Some(resume_at.as_deref()),
        }
    }

    /// After a step of a sweep: on from `resume_at`, or, after the last step (none), waiting
    /// one interval from `now`.
    pub fn after_step(resume_at: Option<String>, now: i64, interval_ms: u64) -> Self {
        match resume_at {
            Some(resume_at) => PeriodicSweep::Sweeping {
                resume_at: Some(resume_at),
            },
            None => PeriodicSweep::waiting_from(now, interval_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_waits_its_interval_then_resumes_step_after_step() {
        let waiting = PeriodicSweep::waiting_from(1_000, 500);
        assert_eq!(waiting, PeriodicSweep::Waiting { due_at: 1_500 });
        assert_eq!(waiting.under_way_at(1_499), None);
        assert_eq!(
            waiting.under_way_at(1_500),
            Some(None),
            "a new sweep, at its start"
        );
        let sweeping = PeriodicSweep::after_step(Some("3711317402018".to_owned()), 1_600, 500);
        assert_eq!(sweeping.under_way_at(0), Some(Some("3711317402018")));
        assert_eq!(
            PeriodicSweep::after_step(None, 1_700, 500),
            PeriodicSweep::Waiting { due_at: 2_200 },
            "after its last step, the next sweep waits one interval"
        );
        assert_eq!(
            PeriodicSweep::waiting_from(i64::MAX - 1, 500),
            PeriodicSweep::Waiting { due_at: i64::MAX }
        );
    }

    #[test]
    fn every_state_reads_back_from_its_cursor_value() {
        for sweep in [
            PeriodicSweep::Waiting { due_at: 1_500 },
            PeriodicSweep::Sweeping { resume_at: None },
            PeriodicSweep::Sweeping {
                resume_at: Some("/seller/v2/offers?pageToken=b".to_owned()),
            },
        ] {
            let json = serde_json::to_string(&sweep).expect("serialisable");
            assert_eq!(
                serde_json::from_str::<PeriodicSweep>(&json).ok(),
                Some(sweep)
            );
        }
    }

    #[test]
    fn cursors_written_before_the_sweeps_shared_this_type_resume_where_they_stood() {
        let read = |json: &str| serde_json::from_str::<PeriodicSweep>(json).ok();
        // The Cdiscount competition sweep's cursor.
        assert_eq!(
            read(r#"{"state":"sweeping","next_page":"/seller/v2/offers?pageToken=c"}"#),
            Some(PeriodicSweep::Sweeping {
                resume_at: Some("/seller/v2/offers?pageToken=c".to_owned())
            })
        );
        assert_eq!(
            read(r#"{"state":"sweeping","next_page":null}"#),
            Some(PeriodicSweep::Sweeping { resume_at: None })
        );
        // The Fnac Darty pricing sweep's cursor.
        assert_eq!(
            read(r#"{"state":"sweeping","after":"3711317402018"}"#),
            Some(PeriodicSweep::Sweeping {
                resume_at: Some("3711317402018".to_owned())
            })
        );
        assert_eq!(
            read(r#"{"state":"waiting","due_at":1764355200000}"#),
            Some(PeriodicSweep::Waiting {
                due_at: 1_764_355_200_000
            })
        );
        assert_eq!(read(r#"{"state":"sweeping","page":"x"}"#), None);
        assert_eq!(read(r#"{"state":"paused"}"#), None);
    }
}
