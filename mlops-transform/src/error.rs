//! The crate's one error type.

/// What can go wrong when checking, fitting, reading or applying a transform.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransformError {
    /// The spec (or a fitted transform) is not valid on its own.
    #[error("invalid transform spec: {0}")]
    InvalidSpec(String),
    /// A column the transform reads is absent from the data.
    #[error("column {column:?} is missing from the data (columns present: {present})")]
    MissingColumn {
        /// The column the transform needs.
        column: String,
        /// The columns the data has, comma-separated.
        present: String,
    },
    /// A column has a type the step cannot read.
    #[error(
        "column {column:?} has type {found}, which step {step} cannot read (it needs {expected})"
    )]
    ColumnType {
        /// The column.
        column: String,
        /// The step that reads it.
        step: String,
        /// What the step needs.
        expected: &'static str,
        /// The Arrow type found.
        found: String,
    },
    /// A null (or NaN) value reached a step that needs a value; add an impute step.
    #[error(
        "column {column:?} row {row}: missing value reaches step {step} (add an impute step before it)"
    )]
    Missing {
        /// The column.
        column: String,
        /// The row, counted from 0 in the data given.
        row: usize,
        /// The step.
        step: String,
    },
    /// A category not seen when fitting, with the `error` unknown-category policy.
    #[error(
        "column {column:?} row {row}: unknown category {value:?} (fitted on {known} categories; set `unknown` to `ignore` or a value to accept it)"
    )]
    UnknownCategory {
        /// The column.
        column: String,
        /// The row.
        row: usize,
        /// The value.
        value: String,
        /// How many categories were learned.
        known: usize,
    },
    /// Fitting a statistic needs at least one non-missing value.
    #[error("column {column:?}: cannot fit step {step} on {rows} rows with no value")]
    NothingToFit {
        /// The column.
        column: String,
        /// The step.
        step: String,
        /// Rows seen.
        rows: usize,
    },
    /// The fitted transform file is not ours, is newer, or is damaged.
    #[error("fitted transform: {0}")]
    Format(String),
    /// The input batches disagree on their columns or the rows are too many.
    #[error("input: {0}")]
    Input(String),
}

/// The crate's result type.
pub type Result<T, E = TransformError> = std::result::Result<T, E>;
