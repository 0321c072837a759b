//! The invariants of a stored profile, checked when one is read (JSON or Parquet).
//!
//! A profile is data from outside: a file that was edited, damaged, or written by something
//! else. Comparing with one whose parts disagree would give a report that looks fine and
//! means nothing (a column stored twice is tested twice, a negative `M2` gives a NaN norm,
//! text categories under an integer type never match the current data). So a profile is
//! refused on read, with an error naming the column, unless:
//!
//! * every column name appears once;
//! * counts add up (dropped ≤ rows; as many values or category counts as valid rows);
//! * exact values are finite and sorted; a sketch's summary is finite, `min ≤ max`,
//!   `M2 ≥ 0`, and agrees with the sketch;
//! * the data agrees with the recorded Arrow type, as a build from data of that type would
//!   have produced it: numbers only for numeric types (`Null` for a column without valid
//!   values), the `integer` flag only for integer types and then with integral values,
//!   categories only for string, boolean, integer and dictionary types, `"true"`/`"false"`
//!   for booleans and decimal integers for integer types.

use std::collections::HashSet;

use arrow_schema::DataType;

use super::error::ProfileFormatError;
use super::{ColumnProfile, PROFILE_FORMAT_VERSION, ProfileData, ReferenceProfile};
use crate::arrow_columns::{CategoryCounts, ValueCounts};
use crate::kind::TypeFamily;

type Checked = std::result::Result<(), ProfileFormatError>;

impl ReferenceProfile {
    /// The invariants of a stored profile (see the module documentation).
    pub(crate) fn check(&self) -> Checked {
        if self.version != PROFILE_FORMAT_VERSION {
            return Err(ProfileFormatError::Version {
                found: self.version.to_string(),
                supported: PROFILE_FORMAT_VERSION,
            });
        }
        self.options
            .validate()
            .map_err(|e| ProfileFormatError::Options(e.to_string()))?;
        let mut names = HashSet::with_capacity(self.columns.len());
        for column in &self.columns {
            if !names.insert(column.name.as_str()) {
                return Err(ProfileFormatError::Invalid {
                    column: column.name.clone(),
                    reason: "the column appears more than once in the profile".to_owned(),
                });
            }
            column.check()?;
        }
        Ok(())
    }
}

impl ColumnProfile {
    fn invalid(&self, reason: impl Into<String>) -> ProfileFormatError {
        ProfileFormatError::Invalid {
            column: self.name.clone(),
            reason: reason.into(),
        }
    }

    fn check(&self) -> Checked {
        match &self.data {
            ProfileData::Numerical { sample, integer } => {
                let values = sample.values();
                self.check_counts(sample.counts())?;
                if values.len() as u64 != sample.counts().valid() {
                    return Err(ProfileFormatError::LengthMismatch {
                        column: self.name.clone(),
                        field: "values",
                        expected: sample.counts().valid(),
                        found: values.len() as u64,
                    });
                }
                if !sample.is_sorted()
                    || values.iter().any(|v| !v.is_finite())
                    || values.windows(2).any(|w| w[0] > w[1])
                {
                    return Err(self.invalid("the values are not finite and sorted"));
                }
                self.check_numeric_type(*integer, sample.counts().valid())?;
                if *integer && values.iter().any(|v| v.fract() != 0.0) {
                    return Err(self.integer_mismatch());
                }
                Ok(())
            }
            ProfileData::NumericalSketch(sketch) => {
                sketch.check().map_err(|reason| self.invalid(reason))?;
                self.check_numeric_type(sketch.integer(), sketch.counts().valid())?;
                let summary = sketch.summary();
                let integral = [summary.min(), summary.max()]
                    .into_iter()
                    .chain(
                        sketch
                            .value_counts()
                            .unwrap_or_default()
                            .iter()
                            .map(|p| p.0),
                    )
                    .all(|v| v.fract() == 0.0);
                if sketch.integer() && !integral {
                    return Err(self.integer_mismatch());
                }
                Ok(())
            }
            ProfileData::Categorical(sample) => {
                self.check_counts(sample.counts())?;
                let total = sample.categories().total();
                if total != sample.counts().valid() {
                    return Err(ProfileFormatError::LengthMismatch {
                        column: self.name.clone(),
                        field: "category counts",
                        expected: sample.counts().valid(),
                        found: total,
                    });
                }
                self.check_categorical_type(sample.categories())
            }
            ProfileData::Unusable { .. } => Ok(()),
        }
    }

    fn check_counts(&self, counts: ValueCounts) -> Checked {
        if counts.dropped() > counts.rows {
            return Err(self.invalid("more dropped rows than rows"));
        }
        Ok(())
    }

    /// Numbers are stored only for numeric types, and `integer` only for integer types.
    fn check_numeric_type(&self, integer: bool, valid: u64) -> Checked {
        let family = TypeFamily::of(&self.data_type);
        let numeric = matches!(family, TypeFamily::Integer | TypeFamily::Number);
        // An all-null column read as `Null` has no valid value to store.
        let null_with_values = self.data_type == DataType::Null && valid > 0;
        if !numeric || null_with_values {
            return Err(self.type_mismatch("numerical values"));
        }
        if integer && family != TypeFamily::Integer {
            return Err(self.type_mismatch("integer values"));
        }
        Ok(())
    }

    /// Categories are stored only for types that are counted as text, in their canonical
    /// text: `"true"`/`"false"` for booleans, decimal integers for integer types.
    fn check_categorical_type(&self, categories: &CategoryCounts) -> Checked {
        let value_type = match &self.data_type {
            DataType::Dictionary(_, values) => values.as_ref(),
            other => other,
        };
        let keys_fit = match TypeFamily::of(value_type) {
            TypeFamily::Integer => categories
                .sorted()
                .iter()
                .all(|(key, _)| key.parse::<i128>().is_ok()),
            TypeFamily::Category if *value_type == DataType::Boolean => categories
                .sorted()
                .iter()
                .all(|(key, _)| matches!(*key, "true" | "false")),
            TypeFamily::Category => true,
            // An all-null column counted as categories has none.
            TypeFamily::Number if *value_type == DataType::Null => categories.is_empty(),
            TypeFamily::Number | TypeFamily::Unsupported => false,
        };
        if !keys_fit {
            return Err(self.type_mismatch("these categories"));
        }
        Ok(())
    }

    fn type_mismatch(&self, what: &str) -> ProfileFormatError {
        self.invalid(format!(
            "its data_type {} cannot hold {what}: the type disagrees with the data",
            self.data_type
        ))
    }

    fn integer_mismatch(&self) -> ProfileFormatError {
        self.invalid(format!(
            "its data_type {} is an integer type but the values are not integers",
            self.data_type
        ))
    }
}
