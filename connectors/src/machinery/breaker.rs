//! The circuit breaker of one connector: after `failure_threshold` consecutive failed
//! requests the circuit opens and requests are refused without touching the API; after the
//! cool-down one probe is let through (half-open), whose outcome closes or re-opens it.
//! Pure: the caller passes the time, so every transition is tested without sleeping.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub cooldown: Duration,
}

/// The state exposed for health: closed is healthy, anything else is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    pub fn is_healthy(self) -> bool {
        self == BreakerState::Closed
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed {
        consecutive_failures: u32,
    },
    Open {
        since: Instant,
    },
    /// One probe is out; a probe that never reports (its request was cancelled) is
    /// considered lost after another cool-down, and a new probe is let through.
    HalfOpen {
        probe_sent_at: Instant,
    },
}

#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    phase: Phase,
}

/// Refusal: the circuit is open; retry in `retry_in` at the earliest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitOpen {
    pub retry_in: Duration,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> Self {
        CircuitBreaker {
            config,
            phase: Phase::Closed {
                consecutive_failures: 0,
            },
        }
    }

    pub fn state(&self) -> BreakerState {
        match self.phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Asks to send a request at `now`. When the cool-down is over, the first caller becomes
    /// the half-open probe.
    pub fn permit(&mut self, now: Instant) -> Result<(), CircuitOpen> {
        match self.phase {
            Phase::Closed { .. } => Ok(()),
            Phase::Open { since: started }
            | Phase::HalfOpen {
                probe_sent_at: started,
            } => {
                let reopens_at = started + self.config.cooldown;
                if now >= reopens_at {
                    self.phase = Phase::HalfOpen { probe_sent_at: now };
                    Ok(())
                } else {
                    Err(CircuitOpen {
                        retry_in: reopens_at - now,
                    })
                }
            }
        }
    }

    /// The API answered (whatever the status, unless it is a server failure).
    pub fn on_success(&mut self) {
        self.phase = Phase::Closed {
            consecutive_failures: 0,
        };
    }

    /// A request failed on the API's side (5xx, timeout, connection refused).
    pub fn on_failure(&mut self, now: Instant) {
        self.phase = match self.phase {
            Phase::Closed {
                consecutive_failures,
            } => {
                let consecutive_failures = consecutive_failures.saturating_add(1);
                if consecutive_failures >= self.config.failure_threshold {
                    Phase::Open { since: now }
                } else {
                    Phase::Closed {
                        consecutive_failures,
                    }
                }
            }
            Phase::HalfOpen { .. } | Phase::Open { .. } => Phase::Open { since: now },
        };
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const COOLDOWN: Duration = Duration::from_secs(30);

    fn breaker(threshold: u32) -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_threshold: threshold,
            cooldown: COOLDOWN,
        })
    }

    #[test]
    fn opens_after_consecutive_failures_probes_then_closes() {
        let t0 = Instant::now();
        let mut breaker = breaker(3);
        for _ in 0..2 {
            breaker.permit(t0).unwrap();
            breaker.on_failure(t0);
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.on_failure(t0);
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(
            breaker.permit(t0 + Duration::from_secs(10)),
            Err(CircuitOpen {
                retry_in: Duration::from_secs(20)
            })
        );
        let probe_at = t0 + COOLDOWN;
        breaker.permit(probe_at).unwrap();
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        // Only one probe at a time.
        assert!(breaker.permit(probe_at + Duration::from_secs(1)).is_err());
        breaker.on_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(breaker.permit(probe_at).is_ok());
    }

    #[test]
    fn a_failed_probe_reopens_for_a_full_cooldown() {
        let t0 = Instant::now();
        let mut breaker = breaker(1);
        breaker.on_failure(t0);
        let probe_at = t0 + COOLDOWN;
        breaker.permit(probe_at).unwrap();
        breaker.on_failure(probe_at);
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(
            breaker
                .permit(probe_at + COOLDOWN - Duration::from_millis(1))
                .is_err()
        );
        assert!(breaker.permit(probe_at + COOLDOWN).is_ok());
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let t0 = Instant::now();
        let mut breaker = breaker(2);
        breaker.on_failure(t0);
        breaker.on_success();
        breaker.on_failure(t0);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn a_lost_probe_lets_another_through_after_a_cooldown() {
        let t0 = Instant::now();
        let mut breaker = breaker(1);
        breaker.on_failure(t0);
        breaker.permit(t0 + COOLDOWN).unwrap();
        assert!(
            breaker
                .permit(t0 + COOLDOWN * 2 - Duration::from_millis(1))
                .is_err()
        );
        assert!(breaker.permit(t0 + COOLDOWN * 2).is_ok());
    }

    proptest! {
        /// Under any sequence of outcomes the circuit is open exactly when the last
        /// `threshold` outcomes since the last success were failures, and an open circuit
        /// never lets a request through before its cool-down.
        #[test]
        fn state_follows_consecutive_failures(threshold in 1u32..6, outcomes in proptest::collection::vec(any::<bool>(), 0..60)) {
            let mut now = Instant::now();
            let mut breaker = breaker(threshold);
            let mut consecutive = 0u32;
            for succeeded in outcomes {
                match breaker.permit(now) {
                    Ok(()) => {
                        if succeeded { breaker.on_success(); consecutive = 0; }
                        else { breaker.on_failure(now); consecutive += 1; }
                    }
                    Err(open) => {
                        prop_assert_eq!(breaker.state(), BreakerState::Open);
                        prop_assert!(open.retry_in <= COOLDOWN && !open.retry_in.is_zero());
                    }
                }
                let expect_open = consecutive >= threshold;
                prop_assert_eq!(breaker.state() == BreakerState::Open, expect_open);
                now += Duration::from_secs(7);
            }
        }
    }
}
