//! Per-version request statistics that the rollout checks read (the Prometheus series are
//! for scrapers; reading them back would mean parsing): requests, server errors and a
//! latency histogram, each a relaxed atomic add on the request path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency buckets: bucket `i` holds latencies below 2^i µs (the last one everything above).
const BUCKETS: usize = 32;

/// Counters of one served model version.
#[derive(Debug)]
pub(crate) struct Stats {
    requests: AtomicU64,
    errors: AtomicU64,
    latency: [AtomicU64; BUCKETS],
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// A copy of [`Stats`] at one moment; differences of two give the traffic between them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) requests: u64,
    pub(crate) errors: u64,
    latency: [u64; BUCKETS],
}

impl Default for Counts {
    fn default() -> Self {
        Self {
            requests: 0,
            errors: 0,
            latency: [0; BUCKETS],
        }
    }
}

impl Stats {
    /// Records one answered request: whether it was a server error (5xx) and its latency.
    pub(crate) fn record(&self, server_error: bool, latency: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if server_error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let bucket = (u64::BITS - micros.leading_zeros()) as usize;
        self.latency[bucket.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn counts(&self) -> Counts {
        Counts {
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            latency: std::array::from_fn(|i| self.latency[i].load(Ordering::Relaxed)),
        }
    }
}

impl Counts {
    /// What happened between `earlier` and `self`.
    pub(crate) fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            requests: self.requests.saturating_sub(earlier.requests),
            errors: self.errors.saturating_sub(earlier.errors),
            latency: std::array::from_fn(|i| self.latency[i].saturating_sub(earlier.latency[i])),
        }
    }

    /// The share of server errors (0 without requests).
    pub(crate) fn error_share(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let share = self.errors as f64 / self.requests as f64;
        share
    }

    /// The 99th percentile latency, as the upper bound of its bucket (`None` without
    /// requests): coarse (a factor of 2), which is what a relative threshold needs.
    pub(crate) fn p99(&self) -> Option<Duration> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = total - total / 100;
        let mut seen = 0;
        for (i, &n) in self.latency.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(Duration::from_micros(1u64 << i.min(62)));
            }
        }
        None
    }
}
