//! [`ValueCounts`]: rows seen on one side of a column, and why some were dropped.

use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

/// How many rows of a column were seen, and how many of them were dropped and why.
///
/// Null, NaN and infinite values are exactly what Evidently removes before running a drift
/// test; [`valid`](Self::valid) is what remains. Counts from several batches of the same
/// column add up with [`merge`](Self::merge) or `+=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ValueCounts {
    /// Rows seen, whatever their value.
    pub rows: u64,
    /// Null rows (for a dictionary column: a null key, or a key pointing at a null value).
    pub nulls: u64,
    /// Floating-point NaN values (any NaN bit pattern).
    pub nan: u64,
    /// `+∞` values.
    pub pos_inf: u64,
    /// `-∞` values.
    pub neg_inf: u64,
}

impl ValueCounts {
    /// Rows that were kept: `rows - nulls - nan - pos_inf - neg_inf`.
    pub fn valid(&self) -> u64 {
        self.rows.saturating_sub(self.dropped())
    }

    /// Rows that were dropped: `nulls + nan + pos_inf + neg_inf`.
    pub fn dropped(&self) -> u64 {
        self.nulls
            .saturating_add(self.nan)
            .saturating_add(self.pos_inf)
            .saturating_add(self.neg_inf)
    }

    /// Adds the counts of another part of the same column (for example the next batch).
    pub fn merge(&mut self, other: &ValueCounts) {
        self.rows = self.rows.saturating_add(other.rows);
        self.nulls = self.nulls.saturating_add(other.nulls);
        self.nan = self.nan.saturating_add(other.nan);
        self.pos_inf = self.pos_inf.saturating_add(other.pos_inf);
        self.neg_inf = self.neg_inf.saturating_add(other.neg_inf);
    }

    /// Counts one non-null value that is not finite, or returns it when it is finite.
    #[inline]
    pub(super) fn keep_finite(&mut self, v: f64) -> Option<f64> {
        if v.is_finite() {
            Some(v)
        } else {
            if v.is_nan() {
                self.nan += 1;
            } else if v > 0.0 {
                self.pos_inf += 1;
            } else {
                self.neg_inf += 1;
            }
            None
        }
    }
}

impl AddAssign for ValueCounts {
    fn add_assign(&mut self, other: ValueCounts) {
        self.merge(&other);
    }
}

impl AddAssign<&ValueCounts> for ValueCounts {
    fn add_assign(&mut self, other: &ValueCounts) {
        self.merge(other);
    }
}
