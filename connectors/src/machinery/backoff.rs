//! The one retry policy of every connector: bounded exponential backoff with jitter
//! (`backon`), never shorter than what the API asked for in a Retry-After, and giving up
//! (to be retried on a later poll) when the API asks for longer than we are willing to wait
//! inside one call.

use std::time::Duration;

use backon::ExponentialBuilder;
use serde::{Deserialize, Serialize};

/// Bounds of the retries of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// The first backoff delay; each next one doubles.
    pub min_delay: Duration,
    /// The cap on one backoff delay before jitter (jitter adds up to as much again).
    pub max_delay: Duration,
    /// The longest Retry-After honoured inside a call; beyond it the call fails as
    /// "retry later" and the runner waits before its next poll.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// The backoff schedule: `max_retries` delays, exponential from `min_delay`, capped at
    /// `max_delay`, each plus a random jitter of up to itself.
    pub fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay.max(self.min_delay))
            .with_factor(2.0)
            .with_max_times(self.max_retries)
            .with_jitter()
    }

    /// The delay before the next attempt, given the backoff's proposal (`None`: retries
    /// exhausted) and the API's Retry-After: the longer of the two, or no retry when the API
    /// asks for more than `max_retry_after`.
    pub fn next_delay(
        &self,
        backoff: Option<Duration>,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let backoff = backoff?;
        match retry_after {
            Some(asked) if asked > self.max_retry_after => None,
            Some(asked) => Some(backoff.max(asked)),
            None => Some(backoff),
        }
    }
}

/// What a user configures per source, with defaults that suit the marketplaces' APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Timeout of one request, connection to the end of the body.
    pub timeout_ms: u64,
    pub max_retries: usize,
    pub min_backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub max_retry_after_ms: u64,
    /// Consecutive failed requests (5xx, timeouts, connection errors) that open the circuit.
    pub breaker_failure_threshold: u32,
    /// How long an open circuit refuses requests before one probe is let through.
    pub breaker_cooldown_ms: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout_ms: 30_000,
            max_retries: 4,
            min_backoff_ms: 500,
            max_backoff_ms: 30_000,
            max_retry_after_ms: 120_000,
            breaker_failure_threshold: 5,
            breaker_cooldown_ms: 60_000,
        }
    }
}

impl HttpSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.max_retries,
            min_delay: Duration::from_millis(self.min_backoff_ms),
            max_delay: Duration::from_millis(self.max_backoff_ms),
            max_retry_after: Duration::from_millis(self.max_retry_after_ms),
        }
    }

    pub fn breaker(&self) -> crate::machinery::breaker::BreakerConfig {
        crate::machinery::breaker::BreakerConfig {
            failure_threshold: self.breaker_failure_threshold,
            cooldown: Duration::from_millis(self.breaker_cooldown_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use backon::BackoffBuilder;
    use proptest::prelude::*;

    use super::*;

    fn policy(max_retries: usize, min_ms: u64, max_ms: u64) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            min_delay: Duration::from_millis(min_ms),
            max_delay: Duration::from_millis(max_ms),
            max_retry_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn retry_after_wins_when_longer_and_too_long_gives_up() {
        let policy = policy(3, 100, 1_000);
        let second = Duration::from_secs(1);
        assert_eq!(policy.next_delay(Some(second), None), Some(second));
        assert_eq!(
            policy.next_delay(Some(second), Some(Duration::from_secs(5))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            policy.next_delay(Some(second), Some(Duration::ZERO)),
            Some(second)
        );
        assert_eq!(
            policy.next_delay(Some(second), Some(Duration::from_secs(61))),
            None
        );
        assert_eq!(policy.next_delay(None, Some(Duration::from_secs(1))), None);
    }

    proptest! {
        /// Exactly `max_retries` delays, none below the minimum, none above twice the cap
        /// (jitter), and their sum bounded: retries cannot run away.
        #[test]
        fn backoff_is_bounded(max_retries in 0usize..12, min_ms in 1u64..2_000, cap_ms in 1u64..60_000) {
            let policy = policy(max_retries, min_ms, cap_ms);
            let delays: Vec<Duration> = policy.backoff().build().collect();
            prop_assert_eq!(delays.len(), max_retries);
            let cap = policy.max_delay.max(policy.min_delay);
            for delay in &delays {
                prop_assert!(*delay >= policy.min_delay.min(cap));
                prop_assert!(*delay <= cap * 2);
            }
            prop_assert!(delays.iter().sum::<Duration>() <= cap * 2 * max_retries as u32);
        }
    }
}
