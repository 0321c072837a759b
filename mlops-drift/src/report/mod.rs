//! [`DriftReport`]: what a drift run found, per column and for the dataset.
//!
//! The JSON form (see `docs/DRIFT-REPORT.md`) is stable: fields are only ever added. Numbers
//! that are not finite are written as the strings `"inf"`, `"-inf"` and `"nan"`, since JSON
//! numbers cannot hold them. The same report becomes an Arrow record batch
//! ([`DriftReport::to_record_batch`], one row per column and test, to append to a Parquet
//! history) and a self-contained HTML page ([`DriftReport::to_html`]).

mod arrow;
mod html;
mod number;

use serde::{Deserialize, Serialize};

use crate::arrow_columns::ValueCounts;
use crate::kind::ColumnKind;
use crate::stat_test::StatTest;

/// The default share of drifted columns at which the dataset counts as drifted (Evidently's).
pub const DEFAULT_DRIFT_SHARE: f64 = 0.5;

/// The result of comparing a current dataset with a reference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// One entry per column, in the order tested.
    pub columns: Vec<ColumnReport>,
    /// The dataset-level verdict.
    pub dataset: DatasetDrift,
}

/// What one column's tests found, or why it could not be tested.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnReport {
    /// The column name.
    pub column: String,
    /// How it was tested; absent when its type could not be read at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ColumnKind>,
    /// Rows seen and dropped on the reference side.
    pub reference: SideCounts,
    /// Rows seen and dropped on the current side.
    pub current: SideCounts,
    /// One result per test run, the deciding test first.
    pub results: Vec<TestResult>,
    /// The verdict of the first (deciding) test; false when the column has an error.
    pub drifted: bool,
    /// Why the column could not be tested; the other columns are unaffected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the HTML page plots: reference and current distributions, small and binned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plot: Option<Plot>,
}

/// Rows seen on one side of a column, and how many of them each cleaning rule dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideCounts {
    /// Rows seen.
    pub rows: u64,
    /// Null rows.
    pub null: u64,
    /// NaN values.
    pub nan: u64,
    /// Infinite values (either sign).
    pub inf: u64,
    /// What the tests saw.
    pub valid: u64,
}

impl From<ValueCounts> for SideCounts {
    fn from(c: ValueCounts) -> Self {
        Self {
            rows: c.rows,
            null: c.nulls,
            nan: c.nan,
            inf: c.pos_inf + c.neg_inf,
            valid: c.valid(),
        }
    }
}

/// One test on one column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// Which test.
    pub test: StatTest,
    /// The test statistic (for distances, the distance itself).
    #[serde(with = "number")]
    pub statistic: f64,
    /// The p-value, for tests that have one.
    #[serde(with = "number::option")]
    pub p_value: Option<f64>,
    /// What the decision uses: the p-value for `ks`, `chisquare` and `z`, else the distance.
    #[serde(with = "number")]
    pub score: f64,
    /// The threshold applied.
    #[serde(with = "number")]
    pub threshold: f64,
    /// The verdict.
    pub drifted: bool,
    /// How `ks` computed its p-value: `exact` or `asymp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Test-specific extras (bins used, degrees of freedom, …).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// The dataset-level verdict: drift when the share of drifted columns reaches `drift_share`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetDrift {
    /// Columns tested without error.
    pub n_columns: u64,
    /// Of those, how many drifted.
    pub n_drifted: u64,
    /// Columns that could not be tested (not in `n_columns`).
    #[serde(default)]
    pub n_errors: u64,
    /// `n_drifted / n_columns` (0 when no column was tested).
    #[serde(with = "number")]
    pub share_drifted: f64,
    /// The share at which the dataset counts as drifted.
    #[serde(with = "number")]
    pub drift_share: f64,
    /// Whether `share_drifted >= drift_share` (false when no column was tested).
    pub dataset_drift: bool,
}

impl DatasetDrift {
    /// The verdict over `columns`.
    pub fn from_columns(columns: &[ColumnReport], drift_share: f64) -> Self {
        let tested = columns.iter().filter(|c| c.error.is_none());
        let n_columns = tested.clone().count() as u64;
        let n_drifted = tested.filter(|c| c.drifted).count() as u64;
        let n_errors = columns.len() as u64 - n_columns;
        #[allow(clippy::cast_precision_loss)] // Column counts are far below 2^53.
        let share_drifted = if n_columns == 0 {
            0.0
        } else {
            n_drifted as f64 / n_columns as f64
        };
        Self {
            n_columns,
            n_drifted,
            n_errors,
            share_drifted,
            drift_share,
            dataset_drift: n_columns > 0 && share_drifted >= drift_share,
        }
    }
}

/// Binned distributions of both sides, for plotting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Plot {
    /// A histogram over shared bin edges (`edges.len() == reference.len() + 1`).
    Histogram {
        /// Bin edges, ascending.
        edges: Vec<f64>,
        /// Share of reference values per bin.
        reference: Vec<f64>,
        /// Share of current values per bin.
        current: Vec<f64>,
    },
    /// Category shares, most frequent first, at most [`MAX_PLOT_CATEGORIES`] and the rest
    /// folded into `"(other)"`.
    Categories {
        /// Category names.
        categories: Vec<String>,
        /// Share of reference values per category.
        reference: Vec<f64>,
        /// Share of current values per category.
        current: Vec<f64>,
    },
}

/// The most categories a plot shows.
pub const MAX_PLOT_CATEGORIES: usize = 20;

impl DriftReport {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A report from its JSON form.
    pub fn from_json(text: &str) -> crate::Result<Self> {
        serde_json::from_str(text).map_err(|e| crate::DriftError::InvalidOption {
            option: "report JSON",
            value: text.chars().take(80).collect(),
            reason: e.to_string(),
        })
    }
}
