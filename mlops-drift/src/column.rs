//! One side of one column, cleaned as Evidently cleans it: nulls, NaN and ±infinity are
//! dropped and counted, and the tests see only the valid values.
//!
//! Samples are accumulators: built batch by batch ([`NumericSample::push`],
//! [`CategorySample::push`]), merged when batches were read in parallel or windows are
//! combined ([`NumericSample::merge`]), and finished once before testing.

use crate::arrow_columns::{CategoryCounts, ValueCounts, count_categories, numeric_values};
use arrow_array::Array;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::stats::sort::sort_total_with;

/// The valid values of a numerical column on one side, and what was dropped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NumericSample {
    values: Vec<f64>,
    sorted: bool,
    counts: ValueCounts,
}

impl NumericSample {
    /// An empty sample.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sample from finite values that are already counted (no nulls dropped).
    pub fn from_values(mut values: Vec<f64>) -> Self {
        let mut counts = ValueCounts::default();
        values.retain(|v| {
            counts.rows += 1;
            if v.is_nan() {
                counts.nan += 1;
            } else if *v == f64::INFINITY {
                counts.pos_inf += 1;
            } else if *v == f64::NEG_INFINITY {
                counts.neg_inf += 1;
            }
            v.is_finite()
        });
        Self {
            values,
            sorted: false,
            counts,
        }
    }

    /// A sample from valid values and their counts; `sorted` says whether `values` is
    /// already ascending.
    pub(crate) fn from_sorted_parts(values: Vec<f64>, sorted: bool, counts: ValueCounts) -> Self {
        Self {
            sorted: sorted || values.len() <= 1,
            values,
            counts,
        }
    }

    /// The values and the counts.
    pub(crate) fn into_parts(self) -> (Vec<f64>, ValueCounts) {
        (self.values, self.counts)
    }

    /// Moves everything `other` holds into this sample (without copying when this one is
    /// empty).
    pub(crate) fn append(&mut self, other: Self) {
        self.counts += other.counts;
        if self.values.is_empty() {
            self.values = other.values;
            self.sorted = other.sorted;
        } else if !other.values.is_empty() {
            self.values.extend_from_slice(&other.values);
            self.sorted = false;
        }
    }

    /// Reserves room for `additional` more values when the allocator can give it: a size
    /// hint (a file's footer may claim any row count), never a reason to fail.
    pub(crate) fn reserve(&mut self, additional: usize) {
        // Without the room, pushing grows the buffer as needed.
        let _ = self.values.try_reserve(additional);
    }

    /// Drops the values, keeping the counts (a column that failed needs no values).
    pub(crate) fn clear_values(&mut self) {
        self.values = Vec::new();
        self.sorted = true;
    }

    /// Adds the values of one Arrow array (any numeric type).
    pub fn push(&mut self, array: &dyn Array) -> Result<()> {
        let counts = numeric_values(array, &mut self.values)?;
        self.counts += counts;
        self.sorted = self.values.len() <= 1;
        Ok(())
    }

    /// Adds everything `other` holds.
    pub fn merge(&mut self, other: &Self) {
        if self.values.is_empty() {
            self.sorted = other.sorted;
        } else if !other.values.is_empty() {
            self.sorted = false;
        }
        self.values.extend_from_slice(&other.values);
        self.counts += other.counts;
    }

    /// Sorts the values ascending (in the order of `f64::total_cmp`); idempotent.
    ///
    /// One thread: a radix sort on the values' bits, faster in CPU time than rayon's
    /// parallel comparison sort was in wall time on two cores (columns are sorted in
    /// parallel with each other instead).
    pub fn sort(&mut self) {
        self.sort_with(&mut Vec::new());
    }

    /// [`NumericSample::sort`] with a scratch buffer kept by the caller between samples.
    pub(crate) fn sort_with(&mut self, scratch: &mut Vec<f64>) {
        if self.sorted {
            return;
        }
        sort_total_with(&mut self.values, scratch);
        self.sorted = true;
    }

    /// A sorted copy, without sorting a clone in place (see [`crate::stats::ks::sorted_copy`]).
    pub(crate) fn to_sorted(&self) -> Self {
        if self.sorted {
            return self.clone();
        }
        Self {
            values: crate::stats::sort::sorted_copy(&self.values),
            sorted: true,
            counts: self.counts,
        }
    }

    /// The valid values, in the order seen unless [`NumericSample::sort`] was called.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Whether [`NumericSample::values`] is sorted ascending.
    pub fn is_sorted(&self) -> bool {
        self.sorted
    }

    /// What was seen and dropped.
    pub fn counts(&self) -> ValueCounts {
        self.counts
    }
}

/// The number of distinct values in a sorted slice (`-0.0` and `0.0` are one value).
#[cfg(test)]
pub(crate) fn distinct_in_sorted(values: &[f64]) -> usize {
    match values.first() {
        None => 0,
        Some(_) => 1 + values.windows(2).filter(|w| w[0] != w[1]).count(),
    }
}

/// The number of distinct values of two sorted (ascending, NaN-free) slices together, as
/// counted on their merge (`-0.0` and `0.0` are one value), but only up to `cap`: `cap`
/// means "`cap` or more". Each distinct value costs two binary searches (the run of values
/// equal to it is skipped), so a choice that only needs "more than 5" reads a handful of
/// values instead of both samples.
pub(crate) fn distinct_union_at_most(a: &[f64], b: &[f64], cap: usize) -> usize {
    let (mut a, mut b, mut n) = (a, b, 0);
    while n < cap {
        let x = match (a.first(), b.first()) {
            (Some(&x), Some(&y)) => {
                if y < x {
                    y
                } else {
                    x
                }
            }
            (Some(&x), None) | (None, Some(&x)) => x,
            (None, None) => break,
        };
        n += 1;
        // Sorted: the values equal to x (and -0.0 with 0.0) are a prefix of what is left.
        a = &a[a.partition_point(|&v| v <= x)..];
        b = &b[b.partition_point(|&v| v <= x)..];
    }
    n
}

/// The category counts of a categorical column on one side, and what was dropped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CategorySample {
    categories: CategoryCounts,
    counts: ValueCounts,
}

impl CategorySample {
    /// An empty sample.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sample from category counts and row counts.
    pub(crate) fn from_parts(categories: CategoryCounts, counts: ValueCounts) -> Self {
        Self { categories, counts }
    }

    /// Adds the values of one Arrow array (strings, booleans, integers, dictionaries).
    pub fn push(&mut self, array: &dyn Array) -> Result<()> {
        let counts = count_categories(array, &mut self.categories)?;
        self.counts += counts;
        Ok(())
    }

    /// Adds everything `other` holds.
    pub fn merge(&mut self, other: &Self) {
        self.categories.merge(&other.categories);
        self.counts += other.counts;
    }

    /// The count of each category.
    pub fn categories(&self) -> &CategoryCounts {
        &self.categories
    }

    /// What was seen and dropped.
    pub fn counts(&self) -> ValueCounts {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::{Float64Array, Int32Array, StringArray};

    use super::*;

    #[test]
    fn numeric_samples_clean_merge_and_sort() {
        let mut a = NumericSample::new();
        a.push(&Float64Array::from(vec![
            Some(3.0),
            None,
            Some(f64::NAN),
            Some(1.0),
        ]))
        .unwrap();
        let mut b = NumericSample::new();
        b.push(&Int32Array::from(vec![Some(2), None])).unwrap();
        a.merge(&b);
        a.sort();
        assert_eq!(a.values(), [1.0, 2.0, 3.0]);
        let c = a.counts();
        assert_eq!((c.rows, c.nulls, c.nan, c.valid()), (6, 2, 1, 3));
        assert_eq!(distinct_in_sorted(a.values()), 3);
    }

    #[test]
    fn from_values_counts_non_finite() {
        let s = NumericSample::from_values(vec![1.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN]);
        assert_eq!(s.values(), [1.0]);
        let c = s.counts();
        assert_eq!((c.rows, c.pos_inf, c.neg_inf, c.nan), (4, 1, 1, 1));
    }

    #[test]
    fn category_samples_merge() {
        let mut a = CategorySample::new();
        a.push(&StringArray::from(vec![Some("x"), None, Some("y")]))
            .unwrap();
        let mut b = CategorySample::new();
        b.push(&StringArray::from(vec!["x"])).unwrap();
        a.merge(&b);
        assert_eq!(a.categories().get("x"), 2);
        assert_eq!(a.counts().nulls, 1);
    }

    #[test]
    fn distinct_counts() {
        assert_eq!(distinct_in_sorted(&[]), 0);
        assert_eq!(distinct_in_sorted(&[1.0, 1.0, 2.0, 5.0, 5.0]), 3);
        assert_eq!(distinct_union_at_most(&[], &[], 6), 0);
        assert_eq!(
            distinct_union_at_most(&[-0.0, 0.0], &[0.0, -0.0, 0.0], 6),
            1
        );
        assert_eq!(distinct_union_at_most(&[1.0, 1.0, 3.0], &[2.0], 6), 3);
        assert_eq!(
            distinct_union_at_most(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0, 7.0], 6),
            6
        );
        assert_eq!(distinct_union_at_most(&[1.0, 2.0, 3.0], &[], 2), 2);
    }

    #[test]
    fn capped_union_counts_as_the_merge() {
        // Small integers with many ties and signed zeros, sorted as the engine sorts.
        let mut state = 99_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % 9
        };
        for round in 0..300 {
            let draw = |k: u64| match k {
                0 => -0.0,
                1 => 0.0,
                k => k as f64 - 4.0,
            };
            let mut a: Vec<f64> = (0..round % 17).map(|_| draw(next())).collect();
            let mut b: Vec<f64> = (0..round % 11).map(|_| draw(next())).collect();
            a.sort_by(f64::total_cmp);
            b.sort_by(f64::total_cmp);
            let mut merged: Vec<f64> = a.iter().chain(&b).copied().collect();
            merged.sort_by(f64::total_cmp);
            let all = distinct_in_sorted(&merged);
            for cap in 0..10 {
                assert_eq!(
                    distinct_union_at_most(&a, &b, cap),
                    all.min(cap),
                    "{a:?} {b:?}"
                );
            }
        }
    }
}
