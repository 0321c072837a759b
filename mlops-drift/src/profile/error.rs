//! [`ProfileFormatError`]: why stored bytes are not a reference profile.

use crate::error::DriftError;

/// Why JSON or Parquet bytes could not be read as a
/// [`ReferenceProfile`](crate::ReferenceProfile). Reading never panics: truncated, corrupt or
/// foreign input gives one of these.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileFormatError {
    /// The text is not JSON of a profile.
    #[error("not a reference profile in JSON: {0}")]
    Json(String),
    /// The bytes are not a Parquet file, or the file cannot be decoded.
    #[error("not a reference profile in Parquet: {0}")]
    Parquet(String),
    /// The profile was written in a format version this version cannot read.
    #[error(
        "reference profile format version {found} is not supported (this version reads {supported})"
    )]
    Version {
        /// The version found (as written).
        found: String,
        /// The version this crate reads and writes.
        supported: u32,
    },
    /// A Parquet profile lacks a column, or has it with another type.
    #[error("the Parquet profile has no column {column:?} of type {expected}")]
    Schema {
        /// The column of the profile schema.
        column: &'static str,
        /// Its expected Arrow type.
        expected: &'static str,
    },
    /// A list does not have the length the counts require.
    #[error("column {column:?}: {field} has {found} entries where {expected} are expected")]
    LengthMismatch {
        /// The profiled column.
        column: String,
        /// The field.
        field: &'static str,
        /// The length the counts require.
        expected: u64,
        /// The length found.
        found: u64,
    },
    /// A column's stored data is inconsistent (unsorted values, a corrupt sketch, …).
    #[error("column {column:?}: {reason}")]
    Invalid {
        /// The profiled column.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// The stored profile options are out of range.
    #[error("the profile options are invalid: {0}")]
    Options(String),
}

impl From<ProfileFormatError> for DriftError {
    fn from(e: ProfileFormatError) -> Self {
        DriftError::Profile(e.to_string())
    }
}
