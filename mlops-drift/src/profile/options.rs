//! [`ProfileOptions`]: how much of the reference a profile keeps exactly.

use serde::{Deserialize, Serialize};

use crate::error::{DriftError, Result};
use crate::stats::binning::EVIDENTLY_DISTINCT_LIMIT;

/// The default [`ProfileOptions::exact_cap`]: 200 000 valid values per numerical column
/// (1.6 MB of `f64`).
pub const DEFAULT_EXACT_CAP: usize = 200_000;

/// The default [`ProfileOptions::sketch_k`]: 270, the smallest KLL `k` whose a-priori
/// normalized rank error (`2.296 / k^0.9723`, at 99% confidence) is below 1% (0.993%).
/// The sketch then retains about 800 values (about 6.5 KB).
pub const DEFAULT_SKETCH_K: u16 = 270;

/// The default [`ProfileOptions::value_count_limit`]: exact value counts are kept beside the
/// sketch while a column has at most 1024 distinct values.
pub const DEFAULT_VALUE_COUNT_LIMIT: usize = 1024;

/// How a [`ReferenceProfile`](crate::ReferenceProfile) stores numerical columns.
///
/// A numerical column keeps its exact sorted values while it has at most
/// [`exact_cap`](Self::exact_cap) valid values: comparing with the profile then gives exactly
/// the numbers of the raw reference. Beyond the cap it keeps an Apache DataSketches KLL
/// quantile sketch with parameter [`sketch_k`](Self::sketch_k), exact summaries (count,
/// minimum, maximum, mean, sum of squared deviations), and its exact value counts while it
/// has at most [`value_count_limit`](Self::value_count_limit) distinct values (then every
/// test stays exact); the tests that need the distribution then run approximately, within
/// the bounds documented in `docs/DRIFT-PROFILE.md`.
///
/// ```
/// use mlops_drift::ProfileOptions;
/// let options = ProfileOptions::default().with_exact_cap(50_000).with_sketch_k(400);
/// assert_eq!(options.exact_cap(), 50_000);
/// assert!(options.validate().is_ok());
/// assert_eq!(ProfileOptions::exact().exact_cap(), usize::MAX);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileOptions {
    exact_cap: usize,
    sketch_k: u16,
    value_count_limit: usize,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        Self {
            exact_cap: DEFAULT_EXACT_CAP,
            sketch_k: DEFAULT_SKETCH_K,
            value_count_limit: DEFAULT_VALUE_COUNT_LIMIT,
        }
    }
}

impl ProfileOptions {
    /// Options that never sketch: every numerical column keeps all its values (what
    /// [`detect_drift`](crate::detect_drift) and
    /// [`ReferenceProfile::build`](crate::ReferenceProfile::build) use).
    pub fn exact() -> Self {
        Self {
            exact_cap: usize::MAX,
            ..Self::default()
        }
    }

    /// Keep exact values while a column has at most `cap` valid values (default
    /// [`DEFAULT_EXACT_CAP`]; `usize::MAX` for no cap).
    pub fn with_exact_cap(mut self, cap: usize) -> Self {
        self.exact_cap = cap;
        self
    }

    /// The KLL parameter `k` of the sketches (default [`DEFAULT_SKETCH_K`]; 8 to 65535). The
    /// normalized (single-sided) rank error is about `2.296 / k^0.9723`: 1.33% at 200, 0.99%
    /// at 270, 0.5% at 550, 0.23% at 1200; the sketch holds about `3k` values.
    pub fn with_sketch_k(mut self, k: u16) -> Self {
        self.sketch_k = k;
        self
    }

    /// Keep exact value counts beside the sketch while a column has at most `limit` distinct
    /// values (default [`DEFAULT_VALUE_COUNT_LIMIT`]; at least 20, Evidently's limit for
    /// binning by value).
    pub fn with_value_count_limit(mut self, limit: usize) -> Self {
        self.value_count_limit = limit;
        self
    }

    /// The most valid values a numerical column keeps exactly.
    pub fn exact_cap(&self) -> usize {
        self.exact_cap
    }

    /// The KLL parameter `k`.
    pub fn sketch_k(&self) -> u16 {
        self.sketch_k
    }

    /// The most distinct values for which a sketched column keeps exact value counts.
    pub fn value_count_limit(&self) -> usize {
        self.value_count_limit
    }

    /// Checks the options.
    ///
    /// # Errors
    ///
    /// [`DriftError::InvalidOption`] when `sketch_k` is below 8, or `value_count_limit` below
    /// 20 or above 2^20.
    pub fn validate(&self) -> Result<()> {
        if self.sketch_k < 8 {
            return Err(DriftError::InvalidOption {
                option: "sketch k",
                value: self.sketch_k.to_string(),
                reason: "must be between 8 and 65535".to_owned(),
            });
        }
        if !(EVIDENTLY_DISTINCT_LIMIT..=1 << 20).contains(&self.value_count_limit) {
            return Err(DriftError::InvalidOption {
                option: "value count limit",
                value: self.value_count_limit.to_string(),
                reason: format!("must be between {EVIDENTLY_DISTINCT_LIMIT} and 1048576"),
            });
        }
        Ok(())
    }
}
