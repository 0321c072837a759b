//! Per-version request statistics that the rollout checks read (the Prometheus series are
//! for scrapers; reading them back would mean parsing): requests, server errors and a
//! latency histogram, each a relaxed atomic add on the request path (in the calling thread's
//! shard, see `metrics::shards`).

use std::time::Duration;

use crate::metrics::Sharded;

/// Latency buckets per doubling: four, so a bucket spans at most 19 % (2^¼).
const PER_OCTAVE: usize = 4;

/// Latency buckets: 1 µs to about 70 minutes (2^32 µs), the last one everything above.
const BUCKETS: usize = 32 * PER_OCTAVE;

/// The bucket of a latency in µs: four per power of two (the two bits after the leading one).
fn bucket(micros: u64) -> usize {
    if micros < 2 {
        return 0;
    }
    let octave = (u64::BITS - 1 - micros.leading_zeros()) as usize;
    let quarter = if octave >= 2 {
        ((micros >> (octave - 2)) & 3) as usize
    } else {
        ((micros << (2 - octave)) & 3) as usize
    };
    (octave * PER_OCTAVE + quarter).min(BUCKETS - 1)
}

/// The upper bound of bucket `index`, in µs.
fn upper(index: usize) -> u64 {
    let (octave, quarter) = (index / PER_OCTAVE, (index % PER_OCTAVE) as u64);
    // [2^o · (4 + q) / 4, 2^o · (5 + q) / 4)
    ((1u64 << octave.min(62)) * (5 + quarter)).div_ceil(4)
}

/// Counters of one served model version: the latency buckets, then requests, then errors.
#[derive(Debug)]
pub(crate) struct Stats {
    counts: Sharded,
}

/// Where the request and error counts sit after the latency buckets.
const REQUESTS: usize = BUCKETS;
const ERRORS: usize = BUCKETS + 1;

impl Default for Stats {
    fn default() -> Self {
        Self {
            counts: Sharded::new(BUCKETS + 2),
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
        self.counts.add(REQUESTS, 1);
        if server_error {
            self.counts.add(ERRORS, 1);
        }
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.counts.add(bucket(micros), 1);
    }

    pub(crate) fn counts(&self) -> Counts {
        Counts {
            requests: self.counts.total(REQUESTS),
            errors: self.counts.total(ERRORS),
            latency: std::array::from_fn(|i| self.counts.total(i)),
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
    /// requests): within 19 % (four buckets per doubling), enough for a relative threshold.
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
                return Some(Duration::from_micros(upper(i)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_latencies() {
        for micros in [1u64, 2, 3, 5, 7, 8, 100, 1000, 12_345, 999_999, 1 << 31] {
            let index = bucket(micros);
            assert!(micros < upper(index), "{micros} above bucket {index}");
            if index > 0 {
                assert!(micros >= upper(index - 1), "{micros} below bucket {index}");
            }
        }
        let stats = Stats::default();
        for ms in 1..=100u64 {
            stats.record(ms == 100, Duration::from_millis(ms));
        }
        let counts = stats.counts();
        assert_eq!((counts.requests, counts.errors), (100, 1));
        let p99 = counts.p99().unwrap();
        assert!(
            p99 >= Duration::from_millis(99) && p99 <= Duration::from_millis(118),
            "{p99:?}"
        );
    }
}
