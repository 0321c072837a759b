//! [`DriftOptions`]: which columns, which tests, which thresholds.

use std::collections::HashMap;

use crate::error::{DriftError, Result};
use crate::kind::ColumnKind;
use crate::report::DEFAULT_DRIFT_SHARE;
use crate::stat_test::StatTest;
use crate::stats::ks::KsMethod;

/// How chi-square compares category counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChiSquareMode {
    /// Evidently's goodness of fit: current counts against reference shares scaled to the
    /// current total. A category absent from the reference makes the statistic infinite,
    /// however rare it is.
    #[default]
    GoodnessOfFit,
    /// Pearson's test of independence on the 2×k table of reference and current counts
    /// (`scipy.stats.chi2_contingency`, Yates-corrected at one degree of freedom): a new
    /// category counts in proportion to how often it occurs.
    Contingency,
}

/// What to test and how. The defaults reproduce Evidently's `DataDriftPreset`.
///
/// ```
/// use mlops_drift::{DriftOptions, StatTest};
/// let options = DriftOptions::default()
///     .with_test(StatTest::Psi)
///     .with_column_test("age", StatTest::Ks)
///     .with_column_threshold("age", 0.01);
/// assert_eq!(options.tests_for("age"), [StatTest::Ks]);
/// assert_eq!(options.tests_for("income"), [StatTest::Psi]);
/// assert_eq!(options.threshold_for("age", StatTest::Ks), 0.01);
/// assert_eq!(options.threshold_for("income", StatTest::Psi), 0.1);
/// ```
#[derive(Clone, Debug)]
pub struct DriftOptions {
    columns: Option<Vec<String>>,
    tests: Vec<StatTest>,
    column_tests: HashMap<String, Vec<StatTest>>,
    threshold: Option<f64>,
    column_thresholds: HashMap<String, f64>,
    kinds: HashMap<String, ColumnKind>,
    ks_method: KsMethod,
    chisquare: ChiSquareMode,
    drift_share: f64,
}

impl Default for DriftOptions {
    fn default() -> Self {
        Self {
            columns: None,
            tests: Vec::new(),
            column_tests: HashMap::new(),
            threshold: None,
            column_thresholds: HashMap::new(),
            kinds: HashMap::new(),
            ks_method: KsMethod::Auto,
            chisquare: ChiSquareMode::default(),
            drift_share: DEFAULT_DRIFT_SHARE,
        }
    }
}

impl DriftOptions {
    /// Test only these columns, in this order (default: every reference column).
    pub fn with_columns<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.columns = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// Run `test` on every column without its own tests; call again to run several. Without
    /// any, Evidently's default choice applies per column.
    pub fn with_test(mut self, test: StatTest) -> Self {
        if !self.tests.contains(&test) {
            self.tests.push(test);
        }
        self
    }

    /// Run `test` on `column` (call again to add more tests for it).
    pub fn with_column_test(mut self, column: impl Into<String>, test: StatTest) -> Self {
        let tests = self.column_tests.entry(column.into()).or_default();
        if !tests.contains(&test) {
            tests.push(test);
        }
        self
    }

    /// One threshold for every test on every column without its own.
    pub fn with_threshold(mut self, threshold: f64) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// The threshold for every test on `column`.
    pub fn with_column_threshold(mut self, column: impl Into<String>, threshold: f64) -> Self {
        self.column_thresholds.insert(column.into(), threshold);
        self
    }

    /// Test `column` as `kind`, overriding inference (for example an integer code column
    /// with many values that is really categorical).
    pub fn with_kind(mut self, column: impl Into<String>, kind: ColumnKind) -> Self {
        self.kinds.insert(column.into(), kind);
        self
    }

    /// How `ks` computes p-values (default: like scipy's `auto`).
    pub fn with_ks_method(mut self, method: KsMethod) -> Self {
        self.ks_method = method;
        self
    }

    /// How `chisquare` compares counts (default: Evidently's goodness of fit).
    pub fn with_chisquare_mode(mut self, mode: ChiSquareMode) -> Self {
        self.chisquare = mode;
        self
    }

    /// The share of drifted columns at which the dataset drifts (default 0.5).
    pub fn with_drift_share(mut self, share: f64) -> Self {
        self.drift_share = share;
        self
    }

    /// Checks every number, so a bad option fails before any data is read.
    pub fn validate(&self) -> Result<()> {
        let thresholds = self
            .threshold
            .iter()
            .map(|t| ("threshold", *t))
            .chain(self.column_thresholds.values().map(|t| ("threshold", *t)))
            .chain([("drift share", self.drift_share)]);
        for (option, value) in thresholds {
            if !value.is_finite() || value < 0.0 {
                return Err(DriftError::InvalidOption {
                    option: if option == "threshold" {
                        "threshold"
                    } else {
                        "drift share"
                    },
                    value: value.to_string(),
                    reason: "must be a finite number of at least 0".to_owned(),
                });
            }
        }
        if self.drift_share > 1.0 {
            return Err(DriftError::InvalidOption {
                option: "drift share",
                value: self.drift_share.to_string(),
                reason: "must be at most 1".to_owned(),
            });
        }
        Ok(())
    }

    /// The columns to test, when restricted.
    pub fn columns(&self) -> Option<&[String]> {
        self.columns.as_deref()
    }

    /// The tests for `column`: its own, else the global ones, else empty (meaning Evidently's
    /// default choice).
    pub fn tests_for(&self, column: &str) -> &[StatTest] {
        self.column_tests
            .get(column)
            .map_or(self.tests.as_slice(), Vec::as_slice)
    }

    /// The threshold of `test` on `column`: the column's, else the global one, else the
    /// test's default.
    pub fn threshold_for(&self, column: &str, test: StatTest) -> f64 {
        self.column_thresholds
            .get(column)
            .copied()
            .or(self.threshold)
            .unwrap_or_else(|| test.default_threshold())
    }

    /// The kind forced for `column`, if any.
    pub fn kind_for(&self, column: &str) -> Option<ColumnKind> {
        self.kinds.get(column).copied()
    }

    /// How `ks` computes p-values.
    pub fn ks_method(&self) -> KsMethod {
        self.ks_method
    }

    /// How `chisquare` compares counts.
    pub fn chisquare_mode(&self) -> ChiSquareMode {
        self.chisquare
    }

    /// The dataset-level share.
    pub fn drift_share(&self) -> f64 {
        self.drift_share
    }
}
