//! Percentiles of latency samples, by the nearest-rank method: every figure reported is a
//! latency that was actually measured, never an interpolation between two.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    pub samples: usize,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Percentiles {
    /// The percentiles of `samples`; `None` when there is none.
    pub fn of(mut samples: Vec<Duration>) -> Option<Percentiles> {
        samples.sort_unstable();
        let max = *samples.last()?;
        Some(Percentiles {
            samples: samples.len(),
            p50: nearest_rank(&samples, 50),
            p90: nearest_rank(&samples, 90),
            p99: nearest_rank(&samples, 99),
            max,
        })
    }
}

/// The smallest sample such that at least `percent`% of the samples are at most it.
fn nearest_rank(sorted: &[Duration], percent: usize) -> Duration {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// `count` per second over `elapsed`; `None` over no time at all.
pub fn rate(count: u64, elapsed: Duration) -> Option<f64> {
    let seconds = elapsed.as_secs_f64();
    (seconds > 0.0).then(|| count as f64 / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: &[u64]) -> Vec<Duration> {
        values.iter().copied().map(Duration::from_millis).collect()
    }

    #[test]
    fn nearest_rank_picks_measured_samples() {
        let percentiles =
            Percentiles::of((1..=100).rev().map(Duration::from_millis).collect()).expect("samples");
        assert_eq!(percentiles.samples, 100);
        assert_eq!(percentiles.p50, Duration::from_millis(50));
        assert_eq!(percentiles.p90, Duration::from_millis(90));
        assert_eq!(percentiles.p99, Duration::from_millis(99));
        assert_eq!(percentiles.max, Duration::from_millis(100));
    }

    #[test]
    fn unsorted_and_small_sets() {
        let percentiles = Percentiles::of(millis(&[30, 10, 20])).expect("samples");
        assert_eq!(percentiles.p50, Duration::from_millis(20));
        assert_eq!(percentiles.p90, Duration::from_millis(30));
        assert_eq!(percentiles.p99, Duration::from_millis(30));
        let single = Percentiles::of(millis(&[7])).expect("one sample");
        assert_eq!(
            (single.p50, single.p99, single.max),
            (
                Duration::from_millis(7),
                Duration::from_millis(7),
                Duration::from_millis(7)
            )
        );
        assert_eq!(Percentiles::of(Vec::new()), None);
    }

    #[test]
    fn a_rate_needs_elapsed_time() {
        assert_eq!(rate(10, Duration::from_millis(500)), Some(20.0));
        assert_eq!(rate(10, Duration::ZERO), None);
    }
}
