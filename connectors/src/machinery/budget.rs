//! Per-operation rate budgets: a token bucket (GCRA, from `governor`) at the rate and burst
//! an API documents for one operation, adjustable when the API announces another rate, and
//! paused while the API asked us (Retry-After) to wait.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::MonotonicClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use serde::{Deserialize, Serialize};

/// A documented rate limit: `per_second` requests per second on average (may be below 1,
/// e.g. 0.033 for Amazon's getCompetitiveSummary), at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RateLimitError {
    #[error(
        "rate {per_second} requests/s is not a positive finite number (or is below one request \
         a year): set the operation's documented rate"
    )]
    InvalidRate { per_second: f64 },
    #[error("burst 0 would never allow a request: set the operation's documented burst (>= 1)")]
    ZeroBurst,
}

/// The longest interval between two requests a budget accepts: a year. Below that rate an
/// operation is not worth polling and the rate is surely a configuration mistake.
const LONGEST_INTERVAL: Duration = Duration::from_secs(365 * 24 * 3600);

impl RateLimit {
    pub fn new(per_second: f64, burst: u32) -> Result<Self, RateLimitError> {
        let limit = RateLimit { per_second, burst };
        limit.quota()?;
        Ok(limit)
    }

    /// The time one token takes to come back: `1 / per_second`.
    pub fn interval(&self) -> Result<Duration, RateLimitError> {
        let invalid = RateLimitError::InvalidRate {
            per_second: self.per_second,
        };
        if !self.per_second.is_finite() || self.per_second <= 0.0 {
            return Err(invalid);
        }
        let interval = Duration::try_from_secs_f64(1.0 / self.per_second).map_err(|_| invalid)?;
        if interval.is_zero() || interval > LONGEST_INTERVAL {
            return Err(RateLimitError::InvalidRate {
                per_second: self.per_second,
            });
        }
        Ok(interval)
    }

    /// The `governor` quota of this limit.
    pub fn quota(&self) -> Result<Quota, RateLimitError> {
        let burst = NonZeroU32::new(self.burst).ok_or(RateLimitError::ZeroBurst)?;
        let interval = self.interval()?;
        let quota = Quota::with_period(interval).ok_or(RateLimitError::InvalidRate {
            per_second: self.per_second,
        })?;
        Ok(quota.allow_burst(burst))
    }

    /// The most requests this limit allows within any window of `window`: the burst plus one
    /// per elapsed interval. Tests hold the observed request times to it.
    pub fn max_requests_within(&self, window: Duration) -> Result<u64, RateLimitError> {
        let interval = self.interval()?;
        let replenished = window.as_nanos() / interval.as_nanos();
        Ok(u64::from(self.burst).saturating_add(u64::try_from(replenished).unwrap_or(u64::MAX)))
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, MonotonicClock, NoOpMiddleware<Instant>>;

struct BudgetState {
    limit: RateLimit,
    limiter: Arc<Limiter>,
    /// Set from a Retry-After: no request of this operation leaves before then.
    paused_until: Option<Instant>,
}

/// The rate budget of one operation, shared by every request of that operation.
pub struct RateBudget {
    state: Mutex<BudgetState>,
}

impl std::fmt::Debug for RateBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateBudget")
            .field("limit", &self.limit())
            .finish()
    }
}

impl RateBudget {
    pub fn new(limit: RateLimit) -> Result<Self, RateLimitError> {
        let limiter = Arc::new(RateLimiter::direct_with_clock(
            limit.quota()?,
            MonotonicClock,
        ));
        Ok(RateBudget {
            state: Mutex::new(BudgetState {
                limit,
                limiter,
                paused_until: None,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        // The state is replaced whole under the lock, so a panic elsewhere cannot leave it
        // half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The limit currently applied.
    pub fn limit(&self) -> RateLimit {
        self.lock().limit
    }

    /// Waits until a request of this operation may leave: after any pause a Retry-After
    /// imposed, then until the token bucket has a token (which it takes).
    pub async fn acquire(&self) {
        loop {
            let (paused_until, limiter) = {
                let state = self.lock();
                (state.paused_until, Arc::clone(&state.limiter))
            };
            if let Some(until) = paused_until.filter(|until| *until > Instant::now()) {
                tokio::time::sleep_until(until.into()).await;
                continue;
            }
            limiter.until_ready().await;
            // A rate change while we waited replaced the bucket: take a token of the new one,
            // so a request never leaves on a token of a rate the API no longer grants.
            if Arc::ptr_eq(&limiter, &self.lock().limiter) {
                return;
            }
        }
    }

    /// How much longer a Retry-After holds this operation, if it does at `now`.
    pub fn paused_for(&self, now: Instant) -> Option<Duration> {
        self.lock()
            .paused_until
            .filter(|until| *until > now)
            .map(|until| until - now)
    }

    /// Holds every request of this operation until `until` (a Retry-After).
    pub fn pause_until(&self, until: Instant) {
        let mut state = self.lock();
        state.paused_until = Some(
            state
                .paused_until
                .map_or(until, |current| current.max(until)),
        );
    }

    /// Applies a rate the API announced (e.g. Amazon's `x-amzn-RateLimit-Limit`), keeping
    /// the burst. The new bucket starts empty: the request that carried the header already
    /// spent a token, and starting full could exceed the new rate. Returns whether the rate
    /// changed.
    pub fn adjust_rate(&self, per_second: f64) -> Result<bool, RateLimitError> {
        let mut state = self.lock();
        if state.limit.per_second == per_second {
            return Ok(false);
        }
        let limit = RateLimit::new(per_second, state.limit.burst)?;
        let limiter = RateLimiter::direct_with_clock(limit.quota()?, MonotonicClock);
        let burst = NonZeroU32::new(limit.burst).ok_or(RateLimitError::ZeroBurst)?;
        // Cannot fail: the burst is the bucket's capacity.
        let _ = limiter.check_n(burst);
        state.limit = limit;
        state.limiter = Arc::new(limiter);
        Ok(true)
    }
}

/// Reads a rate announced in a header such as `x-amzn-RateLimit-Limit` (`0.5000`).
pub fn parse_announced_rate(value: &str) -> Option<f64> {
    let rate: f64 = value.trim().parse().ok()?;
    RateLimit::new(rate, 1).ok().map(|_| rate)
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn documented_amazon_rates_become_quotas() {
        let item_offers = RateLimit::new(0.5, 1).unwrap();
        assert_eq!(item_offers.interval().unwrap(), Duration::from_secs(2));
        let competitive_summary = RateLimit::new(0.033, 1).unwrap();
        let interval = competitive_summary.interval().unwrap();
        assert!(
            interval > Duration::from_millis(30_303) && interval < Duration::from_millis(30_304)
        );
        assert_eq!(
            RateLimit::new(2.0, 2)
                .unwrap()
                .quota()
                .unwrap()
                .burst_size()
                .get(),
            2
        );
    }

    #[test]
    fn impossible_limits_are_refused() {
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-12] {
            assert!(
                matches!(
                    RateLimit::new(rate, 1),
                    Err(RateLimitError::InvalidRate { .. })
                ),
                "{rate}"
            );
        }
        assert_eq!(RateLimit::new(1.0, 0), Err(RateLimitError::ZeroBurst));
    }

    #[test]
    fn announced_rates_are_parsed() {
        assert_eq!(parse_announced_rate("0.5000"), Some(0.5));
        assert_eq!(parse_announced_rate(" 2 "), Some(2.0));
        assert_eq!(parse_announced_rate("0"), None);
        assert_eq!(parse_announced_rate("fast"), None);
    }

    #[test]
    fn adjusting_the_rate_starts_an_empty_bucket() {
        let budget = RateBudget::new(RateLimit::new(100.0, 5).unwrap()).unwrap();
        assert!(budget.adjust_rate(0.5).unwrap());
        assert_eq!(budget.limit(), RateLimit::new(0.5, 5).unwrap());
        assert!(budget.lock().limiter.check().is_err());
        assert!(!budget.adjust_rate(0.5).unwrap());
        assert!(budget.adjust_rate(-3.0).is_err());
        assert_eq!(budget.limit().per_second, 0.5);
    }

    proptest! {
        /// Whatever the arrival pattern, the bucket never lets through more than the burst
        /// plus one request per elapsed interval, measured from the first request.
        #[test]
        fn the_bucket_never_exceeds_its_limit(
            per_second in 0.01f64..50.0,
            burst in 1u32..10,
            gaps_ms in proptest::collection::vec(0u64..3_000, 1..200),
        ) {
            let limit = RateLimit::new(per_second, burst).unwrap();
            let clock = FakeRelativeClock::default();
            let limiter = RateLimiter::direct_with_clock(limit.quota().unwrap(), clock.clone());
            let mut allowed_at = Vec::new();
            let mut elapsed = Duration::ZERO;
            for gap in gaps_ms {
                clock.advance(Duration::from_millis(gap));
                elapsed += Duration::from_millis(gap);
                if limiter.check().is_ok() {
                    allowed_at.push(elapsed);
                }
            }
            for (i, start) in allowed_at.iter().enumerate() {
                for (j, end) in allowed_at.iter().enumerate().skip(i) {
                    let in_window = (j - i + 1) as u64;
                    prop_assert!(in_window <= limit.max_requests_within(*end - *start).unwrap());
                }
            }
        }

        #[test]
        fn interval_is_the_inverse_of_the_rate(per_second in 0.001f64..1_000.0) {
            let interval = RateLimit::new(per_second, 1).unwrap().interval().unwrap();
            prop_assert!((interval.as_secs_f64() * per_second - 1.0).abs() < 1e-6);
        }
    }
}
