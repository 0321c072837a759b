//! The one error type of `mlops-drift`.

use arrow_schema::DataType;

/// The result type of this crate.
pub type Result<T, E = DriftError> = std::result::Result<T, E>;

/// Everything that can go wrong in `mlops-drift`.
///
/// Column-level problems (an empty side, an unsupported type) do not stop a report: they are
/// recorded as that column's `error` and the other columns go on. These variants are what a
/// whole call fails with, or what a column's error message is made from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriftError {
    /// A column named in the options is absent from the data.
    #[error("column {column:?} is not in the {side} data")]
    MissingColumn {
        /// The column.
        column: String,
        /// `"reference"` or `"current"`.
        side: &'static str,
    },

    /// A column's Arrow type cannot be tested as the requested kind.
    #[error("column {column:?} has type {data_type}, which cannot be tested as {kind}")]
    UnsupportedType {
        /// The column.
        column: String,
        /// Its Arrow type.
        data_type: DataType,
        /// The kind it was to be tested as.
        kind: &'static str,
    },

    /// An Arrow array has a type that a column reader does not take. Readers given a bare
    /// array say this; wherever the column's name is known it becomes
    /// [`DriftError::UnsupportedType`] ([`DriftError::in_column`]).
    #[error("an array of Arrow type {data_type} cannot be read as {kind}")]
    UnsupportedArray {
        /// Its Arrow type.
        data_type: DataType,
        /// What it was to be read as: `"numerical"` or `"categorical"`.
        kind: &'static str,
    },

    /// The two sides disagree on a column's type family.
    #[error("column {column:?} is {reference} in the reference but {current} in the current data")]
    TypeMismatch {
        /// The column.
        column: String,
        /// The reference type.
        reference: DataType,
        /// The current type.
        current: DataType,
    },

    /// One side of a column has no valid value after nulls, NaN and infinities are dropped.
    #[error(
        "column {column:?} has no valid values in the {side} data ({rows} rows, all null, NaN or infinite)"
    )]
    NoValidValues {
        /// The column.
        column: String,
        /// `"reference"` or `"current"`.
        side: &'static str,
        /// How many rows that side had.
        rows: u64,
    },

    /// A test cannot run on a column of this kind (for example `ks` on strings).
    #[error("test {test} does not apply to the {kind} column {column:?}")]
    TestNotApplicable {
        /// The test.
        test: &'static str,
        /// The column.
        column: String,
        /// The column's kind.
        kind: &'static str,
    },

    /// An option has a value outside its domain.
    #[error("invalid option {option}: {value:?} ({reason})")]
    InvalidOption {
        /// Which option.
        option: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },

    /// A statistic could not be computed from the data.
    #[error("test {test} failed on column {column:?}: {reason}")]
    Statistic {
        /// The test.
        test: &'static str,
        /// The column.
        column: String,
        /// What went wrong.
        reason: String,
    },

    /// A stored profile could not be read or written.
    #[error("reference profile: {0}")]
    Profile(String),

    /// An error from mlops-core (reading an Arrow column).
    #[error(transparent)]
    Core(#[from] mlops_core::Error),

    /// An Arrow error.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
}

impl DriftError {
    /// This error, in the column `name`: [`DriftError::UnsupportedArray`] (a reader given a
    /// bare array) becomes [`DriftError::UnsupportedType`] naming the column; every other
    /// error is returned as it is (they name their column already, or concern none).
    pub fn in_column(self, name: &str) -> Self {
        match self {
            Self::UnsupportedArray { data_type, kind } => Self::UnsupportedType {
                column: name.to_owned(),
                data_type,
                kind,
            },
            other => other,
        }
    }
}
