//! # mlops-drift
//!
//! Data drift detection over Apache Arrow record batches, column by column, with the
//! statistics of scipy and Evidently: two-sample Kolmogorov–Smirnov, chi-square, PSI,
//! Kullback–Leibler, Jensen–Shannon, Hellinger, normed Wasserstein, two-proportion z and
//! energy distance, chosen per column as Evidently does.
//!
//! The plan for this crate (see `ARCHITECTURE.md`): reference *profiles* built once and
//! serialised, mergeable accumulators over current batches, and reports as JSON, Arrow and
//! HTML. This crate does no I/O. Until the tests land, it re-exports the column helpers it
//! is built on, which already clean data exactly as Evidently does (nulls, NaN and ±inf are
//! dropped and counted).
//!
//! ```
//! use arrow_array::Float64Array;
//! use mlops_drift::numeric_values;
//!
//! let column = Float64Array::from(vec![Some(1.0), None, Some(f64::NAN), Some(2.5)]);
//! let mut values = Vec::new();
//! let counts = numeric_values(&column, &mut values)?;
//! assert_eq!(values, [1.0, 2.5]);
//! assert_eq!((counts.rows, counts.nulls, counts.nan, counts.valid()), (4, 1, 1, 2));
//! # Ok::<(), mlops_drift::Error>(())
//! ```

pub use mlops_core::{CategoryCounts, Error, ValueCounts, count_categories, numeric_values};
