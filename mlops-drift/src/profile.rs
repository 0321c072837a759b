//! [`ReferenceProfile`]: what the tests need from the reference data, built once.
//!
//! A profile holds, per column, its kind and either the sorted valid values (numerical) or
//! the category counts (categorical), with the counts of dropped rows. Comparing current
//! data with a profile gives exactly the numbers that comparing it with the raw reference
//! gives: [`crate::detect_drift`] is a profile built on the fly.

use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::column::{CategorySample, NumericSample, distinct_in_sorted};
use crate::error::{DriftError, Result};
use crate::kind::{ColumnKind, INTEGER_CARDINALITY_LIMIT, TypeFamily};
use crate::options::DriftOptions;

/// The reference side of every column, ready to compare current data with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferenceProfile {
    columns: Vec<ColumnProfile>,
}

/// The reference side of one column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    name: String,
    data_type: DataType,
    data: ProfileData,
}

/// What a column profile holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProfileData {
    /// A numerical column: its valid values, sorted.
    Numerical {
        /// The values and dropped-row counts.
        sample: NumericSample,
        /// Whether the Arrow type is an integer type (numpy's binning treats integers
        /// differently).
        integer: bool,
    },
    /// A categorical column: its category counts.
    Categorical(CategorySample),
    /// A column that cannot be tested, and why.
    Unusable {
        /// The reason, shown as the column's error.
        reason: String,
    },
}

impl ReferenceProfile {
    /// Builds a profile from reference batches (any number, any split). The columns and
    /// kind overrides of `options` apply; the other options matter only when comparing.
    pub fn build(batches: &[RecordBatch], options: &DriftOptions) -> Result<Self> {
        options.validate()?;
        let names = column_names(batches, options)?;
        let columns = names
            .par_iter()
            .map(|name| ColumnProfile::build(name, batches, options.kind_for(name)))
            .collect();
        Ok(Self { columns })
    }

    /// The column profiles, in order.
    pub fn columns(&self) -> &[ColumnProfile] {
        &self.columns
    }

    /// The profile of one column.
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The profile as JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| DriftError::Profile(e.to_string()))
    }

    /// A profile from its JSON form.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| DriftError::Profile(e.to_string()))
    }
}

impl ColumnProfile {
    fn build(name: &str, batches: &[RecordBatch], forced: Option<ColumnKind>) -> Self {
        let data_type = batches
            .first()
            .and_then(|b| {
                b.schema()
                    .field_with_name(name)
                    .ok()
                    .map(|f| f.data_type().clone())
            })
            .unwrap_or(DataType::Null);
        let data = match read_reference(name, &data_type, batches, forced) {
            Ok(data) => data,
            Err(e) => ProfileData::Unusable {
                reason: e.to_string(),
            },
        };
        Self {
            name: name.to_owned(),
            data_type,
            data,
        }
    }

    /// The column name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Arrow type of the reference column.
    pub fn data_type(&self) -> &DataType {
        &self.data_type
    }

    /// How the column is tested, unless it is unusable.
    pub fn kind(&self) -> Option<ColumnKind> {
        match &self.data {
            ProfileData::Numerical { .. } => Some(ColumnKind::Numerical),
            ProfileData::Categorical(_) => Some(ColumnKind::Categorical),
            ProfileData::Unusable { .. } => None,
        }
    }

    /// What the profile holds.
    pub fn data(&self) -> &ProfileData {
        &self.data
    }
}

/// The columns to profile: those requested, or every column of the first batch.
fn column_names(batches: &[RecordBatch], options: &DriftOptions) -> Result<Vec<String>> {
    if let Some(columns) = options.columns() {
        return Ok(columns.to_vec());
    }
    Ok(batches
        .first()
        .map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        })
        .unwrap_or_default())
}

/// The arrays of column `name` in every batch.
pub(crate) fn arrays<'a>(
    name: &str,
    batches: &'a [RecordBatch],
    side: &'static str,
) -> Result<Vec<&'a dyn Array>> {
    batches
        .iter()
        .map(|b| {
            b.column_by_name(name)
                .map(|a| a.as_ref())
                .ok_or_else(|| DriftError::MissingColumn {
                    column: name.to_owned(),
                    side,
                })
        })
        .collect()
}

fn read_reference(
    name: &str,
    data_type: &DataType,
    batches: &[RecordBatch],
    forced: Option<ColumnKind>,
) -> Result<ProfileData> {
    let arrays = arrays(name, batches, "reference")?;
    let family = TypeFamily::of(data_type);
    let unsupported = |kind: ColumnKind| DriftError::UnsupportedType {
        column: name.to_owned(),
        data_type: data_type.clone(),
        kind: kind.as_str(),
    };
    let kind = match (forced, family) {
        (_, TypeFamily::Unsupported) => {
            return Err(unsupported(forced.unwrap_or(ColumnKind::Numerical)));
        }
        (Some(ColumnKind::Numerical), TypeFamily::Category) => {
            return Err(unsupported(ColumnKind::Numerical));
        }
        (Some(kind), _) => kind,
        (None, TypeFamily::Category) => ColumnKind::Categorical,
        (None, _) => ColumnKind::Numerical,
    };
    if kind == ColumnKind::Categorical {
        return categories_of(&arrays).map(ProfileData::Categorical);
    }
    let mut sample = NumericSample::new();
    for array in &arrays {
        sample.push(*array)?;
    }
    sample.sort();
    // Evidently: an integer column with few distinct values is categorical.
    let integer = family == TypeFamily::Integer;
    if integer
        && forced.is_none()
        && distinct_in_sorted(sample.values()) <= INTEGER_CARDINALITY_LIMIT
    {
        return categories_of(&arrays).map(ProfileData::Categorical);
    }
    Ok(ProfileData::Numerical { sample, integer })
}

/// Category counts over every array of a column.
pub(crate) fn categories_of(arrays: &[&dyn Array]) -> Result<CategorySample> {
    let mut sample = CategorySample::new();
    for array in arrays {
        sample.push(*array)?;
    }
    Ok(sample)
}
