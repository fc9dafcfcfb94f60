//! Per-operation request counters, served at `GET /_sim/stats` so that tests can check
//! what a connector really sent: how many requests, how they were answered, when they
//! arrived, and whether a `Retry-After` was disregarded.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Arrival times kept per operation (the most recent ones), enough for any test's window.
const MAX_ARRIVALS: usize = 100_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationStats {
    pub requests: u64,
    /// Answers by HTTP status.
    pub responses: BTreeMap<u16, u64>,
    /// 429s given at `throttle_rate`.
    pub throttled_at_rate: u64,
    /// 429s given during a storm.
    pub throttled_in_storm: u64,
    /// 429s given because the endpoint's rate limit was exceeded.
    pub over_rate_limit: u64,
    /// 5xx given in a failing window.
    pub failed: u64,
    /// Payload elements served malformed.
    pub malformed_elements: u64,
    /// Marketplace placeholder offers (a zero price, an inactive offer listed with the
    /// active ones) served in elements that were not malformed: each must be refused.
    pub placeholder_offers: u64,
    /// Requests that arrived before the `Retry-After` of a 429 had elapsed.
    pub retry_after_violations: u64,
    /// When requests arrived, milliseconds since the server started (the latest ones).
    pub arrivals_ms: VecDeque<u64>,
}

impl OperationStats {
    /// The most requests that arrived within any `window_ms` (inclusive of both ends).
    pub fn max_in_window(&self, window_ms: u64) -> usize {
        let arrivals: Vec<u64> = self.arrivals_ms.iter().copied().collect();
        let mut first = 0;
        let mut most = 0;
        for (last, &at) in arrivals.iter().enumerate() {
            while at - arrivals[first] > window_ms {
                first += 1;
            }
            most = most.max(last - first + 1);
        }
        most
    }

    pub(crate) fn record_arrival(&mut self, at_ms: u64) {
        self.requests += 1;
        if self.arrivals_ms.len() == MAX_ARRIVALS {
            self.arrivals_ms.pop_front();
        }
        self.arrivals_ms.push_back(at_ms);
    }

    pub fn status_count(&self, status: u16) -> u64 {
        self.responses.get(&status).copied().unwrap_or(0)
    }
}

/// The market as the server sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MarketStats {
    /// Market changes applied since the server started.
    pub changes: u64,
    /// The simulated clock, epoch milliseconds.
    pub simulated_now: i64,
    pub references: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SimStats {
    pub uptime_ms: u64,
    pub market: MarketStats,
    /// By operation name (`mirakl.OF21`...).
    pub operations: BTreeMap<String, OperationStats>,
}

impl SimStats {
    /// The counters of `operation`, zero when it was never called.
    pub fn operation(&self, operation: &str) -> OperationStats {
        self.operations.get(operation).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_in_window_counts_the_densest_stretch() {
        let mut stats = OperationStats::default();
        for at in [0, 100, 900, 1_000, 1_050, 3_000] {
            stats.record_arrival(at);
        }
        assert_eq!(stats.max_in_window(1_000), 4);
        assert_eq!(stats.max_in_window(150), 3);
        assert_eq!(stats.max_in_window(0), 1);
        assert_eq!(OperationStats::default().max_in_window(1_000), 0);
    }
}
