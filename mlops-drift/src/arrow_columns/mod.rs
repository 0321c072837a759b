//! Reading Arrow columns the way drift tests need them: numbers as `f64`, categories as text.
//!
//! # Why this module exists
//!
//! Drift detection compares a reference column with a current column. The statistical tests
//! (Kolmogorov–Smirnov, Wasserstein, PSI, chi-squared, …) work on two shapes of data only: a
//! list of finite `f64` values for numeric columns, and a count per category for categorical
//! ones. Arrow, on the other hand, has dozens of physical types, dictionary encoding, slices
//! with non-zero offsets and validity bitmaps. This module is the single place that bridges
//! the two, so that every drift test sees the same values for the same data.
//!
//! Before testing, Evidently drops nulls, NaN and ±infinity from a column. These helpers do
//! the same, and return what they dropped in a [`ValueCounts`], so that a report can say "the
//! current column has 12 % nulls" next to the test result instead of hiding it.
//!
//! # Performance
//!
//! Columns are often a million rows long. Every function here matches on the Arrow type once
//! per array, downcasts once, and then runs a monomorphised loop over the typed value slice and
//! the validity bitmap: no dynamic dispatch and no allocation per row. Dictionary arrays are
//! resolved through a per-dictionary-entry table built once per array, so the per-row work is
//! one key lookup. Category keys are allocated once per *distinct* value, never per row.
//!
//! # Conventions
//!
//! * Integers above 2⁵³ in magnitude lose precision when converted to `f64`; distribution
//!   tests do not care.
//! * Temporal types are read as their raw integer in their own unit (days for `Date32`,
//!   milliseconds for `Date64`, the declared unit for times, timestamps and durations); the
//!   time zone of a timestamp is ignored since the stored instant is UTC-based. Comparing two
//!   columns therefore only makes sense when they have the same unit, which the caller checks.
//! * A column of Arrow type `Null` (every row null, as produced by type inference over an
//!   all-missing column) is accepted by both [`numeric_values`] and [`count_categories`]: all of
//!   its rows are counted as nulls.
//!
//! The parts: `value_counts.rs` what was seen and dropped, `numeric.rs` numbers as `f64`,
//! `category_counts.rs` the counts per category, `categorical.rs` counting them from any
//! categorical array.
//!
//! A reader given a bare array does not know the column's name: its type errors are
//! [`DriftError::UnsupportedArray`], which the callers that know the name turn into
//! [`DriftError::UnsupportedType`] ([`DriftError::in_column`]), so no message ever names an
//! empty column.

mod categorical;
mod category_counts;
mod numeric;
#[cfg(test)]
mod tests;
mod value_counts;

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType};

pub use categorical::{categories_column, count_categories};
pub use category_counts::CategoryCounts;
pub use numeric::{numeric_column, numeric_values};
pub use value_counts::ValueCounts;

use crate::error::{DriftError, Result};
use crate::kind::ColumnKind;

/// What [`numeric_values`] reads columns as, named in its type errors.
const NUMERIC: ColumnKind = ColumnKind::Numerical;
/// What [`count_categories`] reads columns as, named in its type errors.
const CATEGORICAL: ColumnKind = ColumnKind::Categorical;

/// The column `name` of `batch`, or the error that says it is missing.
fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| DriftError::MissingColumn {
            column: name.to_owned(),
            side: "given",
        })
}

/// The error for a type that a reader does not take.
fn unsupported(data_type: &DataType, kind: ColumnKind) -> DriftError {
    DriftError::UnsupportedArray {
        data_type: data_type.clone(),
        kind: kind.as_str(),
    }
}

/// Downcasts once, turning a mismatch (which would be an Arrow bug) into an error.
fn downcast<T: 'static>(array: &dyn Array) -> Result<&T> {
    array.as_any().downcast_ref::<T>().ok_or_else(|| {
        DriftError::Arrow(ArrowError::InvalidArgumentError(format!(
            "array of type {} does not have the expected layout",
            array.data_type()
        )))
    })
}

/// The error for a dictionary key that points outside its dictionary.
fn key_out_of_range(key: usize, len: usize) -> DriftError {
    DriftError::Arrow(ArrowError::InvalidArgumentError(format!(
        "dictionary key {key} is out of range for a dictionary of {len} values"
    )))
}
