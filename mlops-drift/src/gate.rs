//! Gates on a [`DriftReport`]: pass, drift, or input that cannot answer the question.
//!
//! A report's dataset verdict says "no dataset drift" when no column drifted, including
//! when no column could be tested at all: current data with no rows, without any of the
//! reference's columns, or a profile with no columns all give "0 of 0 columns drifted". A
//! CI gate built on that verdict passes empty or wrong data. [`DriftReport::gate`] fails
//! closed instead: a report where nothing was tested, or (unless the policy allows it)
//! where a column could not be tested, is [`GateVerdict::Unusable`], with the columns and
//! their errors.

use std::fmt;

use crate::report::DriftReport;

/// What a gate tolerates. The default tolerates nothing: every column of the report must
/// have been tested.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GatePolicy {
    allow_errors: bool,
}

impl GatePolicy {
    /// The default policy: a column that could not be tested makes the input unusable.
    pub fn new() -> Self {
        Self::default()
    }

    /// With `true`, columns that could not be tested are left out of the verdict (as the
    /// dataset verdict leaves them out) instead of making the input unusable. A report in
    /// which no column at all was tested is unusable whatever the policy.
    pub fn with_allow_errors(mut self, allow: bool) -> Self {
        self.allow_errors = allow;
        self
    }

    /// Whether columns that could not be tested are tolerated.
    pub fn allow_errors(&self) -> bool {
        self.allow_errors
    }
}

/// A column that could not be tested, and why (its report's `error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnFailure {
    /// The column.
    pub column: String,
    /// Why it could not be tested.
    pub error: String,
}

/// Why a report cannot answer "did the data drift?".
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unusable {
    /// The report has no column: the profile had none, or none was selected.
    NoColumns,
    /// Not one column could be tested (current data with no rows, without any of the
    /// reference's columns, all null, …); every column with its error.
    NothingTested {
        /// Every column of the report.
        failures: Vec<ColumnFailure>,
    },
    /// Some columns could not be tested, and the policy does not allow it.
    ColumnErrors {
        /// The columns that could not be tested.
        failures: Vec<ColumnFailure>,
        /// How many columns were tested.
        tested: u64,
    },
}

/// What a gate on a drift report decided.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GateVerdict {
    /// Every column required was tested and the dataset did not drift.
    Pass,
    /// The dataset drifted (the share of drifted columns reached the threshold).
    Drift {
        /// The columns that drifted, in report order.
        drifted: Vec<String>,
    },
    /// The report cannot answer the question; a gate must fail.
    Unusable(Unusable),
}

impl GateVerdict {
    /// Whether the gate passes.
    pub fn passed(&self) -> bool {
        matches!(self, Self::Pass)
    }
}

impl DriftReport {
    /// The columns that could not be tested, with their errors, in report order.
    pub fn failures(&self) -> Vec<ColumnFailure> {
        self.columns
            .iter()
            .filter_map(|c| {
                c.error.as_ref().map(|error| ColumnFailure {
                    column: c.column.clone(),
                    error: error.clone(),
                })
            })
            .collect()
    }

    /// Whether no column could be tested (no column at all, or every column has an error):
    /// then the dataset verdict "no dataset drift" means nothing.
    pub fn nothing_tested(&self) -> bool {
        self.columns.iter().all(|c| c.error.is_some())
    }

    /// The verdict of a gate with `policy`: [`GateVerdict::Unusable`] when no column was
    /// tested, or when a column could not be tested and the policy does not allow it; else
    /// [`GateVerdict::Drift`] when the dataset drifted; else [`GateVerdict::Pass`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{Float64Array, RecordBatch};
    /// use arrow_schema::{DataType, Field, Schema};
    /// use mlops_drift::{DriftOptions, GatePolicy, GateVerdict, Unusable, detect_drift};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
    /// let batch = |values: Vec<f64>| {
    ///     RecordBatch::try_new(schema.clone(), vec![Arc::new(Float64Array::from(values))]).unwrap()
    /// };
    /// let reference = batch((0..500).map(f64::from).collect());
    /// let empty = batch(Vec::new());
    /// let report = detect_drift(&[reference], &[empty], &DriftOptions::default())?;
    /// // The dataset verdict alone would pass this: "0 of 0 columns drifted".
    /// assert!(!report.dataset.dataset_drift);
    /// let verdict = report.gate(GatePolicy::new());
    /// assert!(matches!(verdict, GateVerdict::Unusable(Unusable::NothingTested { .. })));
    /// assert!(verdict.to_string().contains("\"x\""), "{verdict}");
    /// # Ok::<(), mlops_drift::DriftError>(())
    /// ```
    pub fn gate(&self, policy: GatePolicy) -> GateVerdict {
        if self.columns.is_empty() {
            return GateVerdict::Unusable(Unusable::NoColumns);
        }
        let failures = self.failures();
        if failures.len() == self.columns.len() {
            return GateVerdict::Unusable(Unusable::NothingTested { failures });
        }
        if !failures.is_empty() && !policy.allow_errors {
            return GateVerdict::Unusable(Unusable::ColumnErrors {
                tested: (self.columns.len() - failures.len()) as u64,
                failures,
            });
        }
        if self.dataset.dataset_drift {
            let drifted = self
                .columns
                .iter()
                .filter(|c| c.error.is_none() && c.drifted)
                .map(|c| c.column.clone())
                .collect();
            return GateVerdict::Drift { drifted };
        }
        GateVerdict::Pass
    }
}

impl fmt::Display for ColumnFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.column, self.error)
    }
}

/// `"a": why; "b": why`.
struct Failures<'a>(&'a [ColumnFailure]);

impl fmt::Display for Failures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, failure) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{failure}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoColumns => f.write_str(
                "the report has no column to test (an empty profile, or no column selected)",
            ),
            Self::NothingTested { failures } => write!(
                f,
                "no column could be tested ({} of {}): {}",
                failures.len(),
                failures.len(),
                Failures(failures)
            ),
            Self::ColumnErrors { failures, tested } => write!(
                f,
                "{} of {} columns could not be tested: {}",
                failures.len(),
                failures.len() as u64 + tested,
                Failures(failures)
            ),
        }
    }
}

impl std::error::Error for Unusable {}

impl fmt::Display for GateVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pass => f.write_str("pass: no dataset drift"),
            Self::Drift { drifted } => {
                write!(f, "dataset drift in {} columns: ", drifted.len())?;
                for (i, column) in drifted.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{column:?}")?;
                }
                Ok(())
            }
            Self::Unusable(reason) => write!(f, "unusable input: {reason}"),
        }
    }
}
