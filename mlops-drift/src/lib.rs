//! # mlops-drift
//!
//! Data drift detection over Apache Arrow record batches, column by column, with the numbers
//! of scipy and Evidently: two-sample Kolmogorov–Smirnov (exact and asymptotic, as
//! `scipy.stats.ks_2samp`), chi-square, PSI (Evidently's bins, or reference deciles),
//! Kullback–Leibler, Jensen–Shannon, Hellinger, normed Wasserstein, two-proportion z and
//! energy distance, chosen per column as Evidently's `DataDriftPreset` chooses them.
//!
//! - **Cleaning as Evidently does**: per column and side, nulls, NaN and ±infinity are
//!   dropped and counted ([`SideCounts`]); a side with no valid value is an error for that
//!   column only, never a panic and never the end of the report.
//! - **Kinds**: integer, float, decimal, date, time, timestamp and duration columns are
//!   numerical; strings, booleans and dictionaries are categorical; an integer column with
//!   at most [`INTEGER_CARDINALITY_LIMIT`] distinct reference values is categorical, as in
//!   Evidently. [`DriftOptions::with_kind`] overrides the inference.
//! - **Reference profiles**: [`ReferenceProfile`] is built once from reference batches (or
//!   streamed, or merged from partitions) and stored as JSON or Parquet. Up to a cap per
//!   column ([`ProfileOptions`]) it keeps the exact values, and comparing with it gives the
//!   numbers of the raw data; beyond, a KLL quantile sketch with documented error bounds.
//! - **Current-side accumulators**: [`CurrentAccumulator`] collects current batches (in
//!   parallel, in windows) and merges; the report does not depend on the split.
//! - **Reports**: [`DriftReport`] as JSON, as an Arrow record batch (to append to a Parquet
//!   history) and as a self-contained HTML page.
//! - **Gates that fail closed**: [`DriftReport::gate`] answers pass, drift, or
//!   [`GateVerdict::Unusable`] when no column could be tested (no rows, no common column, an
//!   empty profile) or a column errored (unless [`GatePolicy::with_allow_errors`]); a CI step
//!   built on it never passes empty or wrong data. Stored profiles whose parts disagree
//!   (duplicate columns, a negative `M2`, data that its recorded Arrow type cannot hold) are
//!   refused on read, naming the column.
//! - **Raw statistics**: the [`stats`] module has every test as a plain function over
//!   sorted `f64` slices or counts.
//!
//! This crate does no I/O and starts no runtime: it takes batches and returns numbers. It
//! uses every core through rayon (columns in parallel, batches in parallel when there are
//! fewer columns than threads).
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{Float64Array, RecordBatch, StringArray};
//! use arrow_schema::{DataType, Field, Schema};
//! use mlops_drift::{DriftOptions, StatTest, detect_drift};
//!
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("amount", DataType::Float64, true),
//!     Field::new("country", DataType::Utf8, true),
//! ]));
//! let batch = |shift: f64, country: &str| {
//!     let amounts: Vec<f64> = (0..2000).map(|i| shift + f64::from(i % 100)).collect();
//!     let countries: Vec<&str> = (0..2000).map(|i| if i % 3 == 0 { country } else { "FR" }).collect();
//!     RecordBatch::try_new(schema.clone(), vec![
//!         Arc::new(Float64Array::from(amounts)),
//!         Arc::new(StringArray::from(countries)),
//!     ])
//!     .unwrap()
//! };
//! let report = detect_drift(&[batch(0.0, "DE")], &[batch(40.0, "DE")], &DriftOptions::default())?;
//! // Over 1000 rows Evidently picks Wasserstein for numbers and Jensen-Shannon for categories.
//! assert_eq!(report.columns[0].results[0].test, StatTest::Wasserstein);
//! assert!(report.columns[0].drifted);
//! assert_eq!(report.columns[1].results[0].test, StatTest::JensenShannon);
//! assert!(!report.columns[1].drifted);
//! assert_eq!(report.dataset.share_drifted, 0.5);
//! assert!(report.dataset.dataset_drift); // Evidently's rule: share >= 0.5
//! # Ok::<(), mlops_drift::DriftError>(())
//! ```

mod accumulate;
mod arrow_columns;
mod column;
mod compare;
mod error;
mod evaluate;
mod gate;
mod kind;
mod options;
mod profile;
mod report;
mod stat_test;
pub mod stats;
mod weighted;

pub use accumulate::CurrentAccumulator;
pub use arrow_columns::{
    CategoryCounts, ValueCounts, categories_column, count_categories, numeric_column,
    numeric_values,
};
pub use column::{CategorySample, NumericSample};
pub use compare::detect_drift;
pub use error::{DriftError, Result};
pub use gate::{ColumnFailure, GatePolicy, GateVerdict, Unusable};
pub use kind::{ColumnKind, INTEGER_CARDINALITY_LIMIT};
pub use options::{ChiSquareMode, DriftOptions};
pub use profile::{
    ColumnProfile, DEFAULT_EXACT_CAP, DEFAULT_SKETCH_K, DEFAULT_VALUE_COUNT_LIMIT, NumericSketch,
    NumericSummary, PROFILE_FORMAT_VERSION, ProfileBuilder, ProfileData, ProfileFormatError,
    ProfileOptions, ReferenceProfile,
};
pub use report::{
    ColumnReport, DEFAULT_DRIFT_SHARE, DatasetDrift, DriftReport, MAX_PLOT_CATEGORIES, Plot,
    SideCounts, TestResult,
};
pub use stat_test::{DecisionRule, StatTest, default_test};

/// The Arrow crates whose types this API takes, re-exported so callers use the same version.
pub use arrow_array;
/// See [`arrow_array`].
pub use arrow_schema;
