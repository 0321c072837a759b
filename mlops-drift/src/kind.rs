//! Column kinds, and how a kind is inferred from an Arrow type and the reference data.

use std::fmt;
use std::str::FromStr;

use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

use crate::error::DriftError;

/// Evidently treats an integer column with at most this many distinct reference values as
/// categorical.
pub const INTEGER_CARDINALITY_LIMIT: usize = 10;

/// How a column is tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// Numbers: integers, floats, decimals, dates, times, timestamps, durations.
    Numerical,
    /// Categories: strings, booleans, dictionaries, and integers with few distinct values.
    Categorical,
}

impl ColumnKind {
    /// `"numerical"` or `"categorical"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Numerical => "numerical",
            Self::Categorical => "categorical",
        }
    }
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ColumnKind {
    type Err = DriftError;
    fn from_str(value: &str) -> Result<Self, DriftError> {
        match value {
            "numerical" | "num" => Ok(Self::Numerical),
            "categorical" | "cat" => Ok(Self::Categorical),
            _ => Err(DriftError::InvalidOption {
                option: "column kind",
                value: value.to_owned(),
                reason: "expected `numerical` or `categorical`".to_owned(),
            }),
        }
    }
}

/// The family of an Arrow type, before the reference data is seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TypeFamily {
    /// Integers: numerical, unless the reference has few distinct values.
    Integer,
    /// Floats, decimals and temporal types: always numerical.
    Number,
    /// Strings, booleans: always categorical.
    Category,
    /// Nothing we can test.
    Unsupported,
}

impl TypeFamily {
    pub(crate) fn of(data_type: &DataType) -> Self {
        use DataType as T;
        match data_type {
            T::Int8
            | T::Int16
            | T::Int32
            | T::Int64
            | T::UInt8
            | T::UInt16
            | T::UInt32
            | T::UInt64 => Self::Integer,
            T::Float16
            | T::Float32
            | T::Float64
            | T::Decimal32(..)
            | T::Decimal64(..)
            | T::Decimal128(..)
            | T::Decimal256(..)
            | T::Date32
            | T::Date64
            | T::Time32(_)
            | T::Time64(_)
            | T::Timestamp(..)
            | T::Duration(_) => Self::Number,
            T::Utf8 | T::LargeUtf8 | T::Utf8View | T::Boolean => Self::Category,
            T::Dictionary(_, values) => match Self::of(values) {
                Self::Integer | Self::Category => Self::Category,
                other => other,
            },
            // An all-null column: reported as an empty side, not as a type error.
            T::Null => Self::Number,
            _ => Self::Unsupported,
        }
    }
}
