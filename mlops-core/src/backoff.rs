//! One retry pause policy for every retry loop in the workspace (the MLflow client, the
//! registry's store access and its webhooks), so the arithmetic and the jitter are written
//! and tested once. It computes pauses only: callers sleep with their own runtime, which keeps
//! mlops-core free of one.

use std::time::Duration;

/// How the pause before each retry grows: exponential from `initial`, capped at `max`,
/// optionally with "equal jitter" (uniform in the upper half of the nominal pause), so the
/// retries of many clients spread out but never come sooner than half the nominal delay.
///
/// ```
/// use std::time::Duration;
/// use mlops_core::Backoff;
///
/// let policy = Backoff::exponential(Duration::from_millis(10), Duration::from_millis(200));
/// assert_eq!(policy.delay(1), Duration::from_millis(10));
/// assert_eq!(policy.delay(3), Duration::from_millis(40));
/// assert_eq!(policy.delay(9), Duration::from_millis(200)); // capped
///
/// let jittered = policy.with_jitter();
/// let d = jittered.delay(2);
/// assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(20));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter: bool,
}

impl Backoff {
    /// Pauses of `initial × 2^(retry-1)`, never longer than `max`, without jitter.
    pub const fn exponential(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            jitter: false,
        }
    }

    /// The same policy with equal jitter: each pause is uniform in `[nominal/2, nominal]`.
    #[must_use]
    pub const fn with_jitter(mut self) -> Self {
        self.jitter = true;
        self
    }

    /// The first pause.
    pub const fn initial(&self) -> Duration {
        self.initial
    }

    /// The longest pause.
    pub const fn max(&self) -> Duration {
        self.max
    }

    /// The pause before retry number `retry` (1-based; 0 is treated as 1).
    pub fn delay(&self, retry: u32) -> Duration {
        // 2^20 × any sane initial pause is beyond every cap; the bound keeps the shift defined.
        let exp = retry.saturating_sub(1).min(20);
        let nominal = self.initial.saturating_mul(1 << exp).min(self.max);
        if !self.jitter {
            return nominal;
        }
        let half = nominal / 2;
        half + half.mul_f64(random_fraction())
    }
}

/// A uniform random number in `[0, 1)` from the standard library's randomly keyed hasher
/// (each `RandomState` gets fresh keys), so no RNG crate is needed for jitter.
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x9e37_79b9_7f4a_7c15);
    // The top 53 bits make an exactly representable fraction below 1.
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_caps_without_jitter() {
        let b = Backoff::exponential(Duration::from_millis(5), Duration::from_millis(100));
        let got: Vec<u128> = (0..8).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(got, [5, 5, 10, 20, 40, 80, 100, 100]);
        assert_eq!(b.delay(u32::MAX), Duration::from_millis(100));
    }

    #[test]
    fn jitter_stays_in_the_upper_half_and_varies() {
        let b =
            Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1)).with_jitter();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let d = b.delay(2).as_micros();
            assert!((100_000..=200_000).contains(&d), "{d} µs out of range");
            seen.insert(d);
        }
        assert!(seen.len() > 10, "jitter should vary: {seen:?}");
    }

    #[test]
    fn uncapped_growth_saturates_instead_of_overflowing() {
        let b = Backoff::exponential(Duration::from_secs(u64::MAX / 4), Duration::MAX);
        assert_eq!(b.delay(20), Duration::MAX);
    }
}
