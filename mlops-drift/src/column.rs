//! One side of one column, cleaned as Evidently cleans it: nulls, NaN and ±infinity are
//! dropped and counted, and the tests see only the valid values.
//!
//! Samples are accumulators: built batch by batch ([`NumericSample::push`],
//! [`CategorySample::push`]), merged when batches were read in parallel or windows are
//! combined ([`NumericSample::merge`]), and finished once before testing.

use arrow_array::Array;
use mlops_core::{CategoryCounts, ValueCounts, count_categories, numeric_values};
use rayon::slice::ParallelSliceMut;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Below this many values a plain sort beats rayon's parallel one.
const PARALLEL_SORT_MIN: usize = 1 << 16;

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

    /// Reserves room for `additional` more values.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.values.reserve(additional);
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

    /// Sorts the values ascending (in parallel for large samples); idempotent.
    pub fn sort(&mut self) {
        if self.sorted {
            return;
        }
        if self.values.len() >= PARALLEL_SORT_MIN {
            self.values.par_sort_unstable_by(f64::total_cmp);
        } else {
            self.values.sort_unstable_by(f64::total_cmp);
        }
        self.sorted = true;
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

/// The number of distinct values in a sorted slice.
pub(crate) fn distinct_in_sorted(values: &[f64]) -> usize {
    match values.first() {
        None => 0,
        Some(_) => 1 + values.windows(2).filter(|w| w[0] != w[1]).count(),
    }
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
    }
}
