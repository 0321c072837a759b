//! [`ReferenceProfile`]: what the tests need from the reference data, built once, stored,
//! merged.
//!
//! A profile holds, per column, its kind and the counts of dropped rows, and:
//!
//! * for a numerical column with at most [`ProfileOptions::exact_cap`] valid values, the
//!   sorted values ([`ProfileData::Numerical`]): comparing current data with the profile
//!   gives exactly the numbers that comparing it with the raw reference gives
//!   ([`crate::detect_drift`] is a profile without a cap, built on the fly);
//! * for a larger numerical column, a [`NumericSketch`] ([`ProfileData::NumericalSketch`]):
//!   exact count, minimum, maximum, mean and `M2`, a KLL quantile sketch, and the exact value
//!   counts while there are few distinct values. The tests run from the sketch, exactly when
//!   the value counts are there and approximately otherwise (within the documented bounds);
//! * for a categorical column, the category counts ([`ProfileData::Categorical`]).
//!
//! Profiles are built from batches in one call ([`ReferenceProfile::build_with`]), streamed
//! batch by batch ([`ProfileBuilder`]), or merged from profiles of partitions
//! ([`ReferenceProfile::merge`]). They are stored as JSON ([`ReferenceProfile::to_json`]) or
//! Parquet ([`ReferenceProfile::to_parquet`]); `docs/DRIFT-PROFILE.md` documents both.

mod check;
mod error;
mod numeric;
mod options;
mod parquet;
pub(crate) mod sketch;

use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use error::ProfileFormatError;
pub(crate) use numeric::{Finished, NumericBuilder};
pub use numeric::{NumericSketch, NumericSummary};
pub use options::{DEFAULT_EXACT_CAP, DEFAULT_SKETCH_K, DEFAULT_VALUE_COUNT_LIMIT, ProfileOptions};

use crate::arrow_columns::ValueCounts;
use crate::column::{CategorySample, NumericSample};
use crate::error::{DriftError, Result};
use crate::kind::{ColumnKind, INTEGER_CARDINALITY_LIMIT, TypeFamily};
use crate::options::DriftOptions;

/// The format version this crate writes and reads (JSON `version`, Parquet
/// `format_version`).
pub const PROFILE_FORMAT_VERSION: u32 = 1;

/// The reference side of every column, ready to compare current data with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferenceProfile {
    /// Absent in profiles written before versioning, which had this version's layout.
    #[serde(default = "first_version")]
    version: u32,
    /// Absent in profiles written before the cap existed, which were exact.
    #[serde(default = "ProfileOptions::exact")]
    options: ProfileOptions,
    columns: Vec<ColumnProfile>,
}

fn first_version() -> u32 {
    PROFILE_FORMAT_VERSION
}

/// The reference side of one column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    name: String,
    data_type: DataType,
    /// Whether the kind was forced by the options rather than inferred.
    #[serde(default)]
    kind_forced: bool,
    data: ProfileData,
}

/// What a column profile holds. More representations may be added.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum ProfileData {
    /// A numerical column within the exact cap: its valid values, sorted.
    Numerical {
        /// The values and dropped-row counts.
        sample: NumericSample,
        /// Whether the Arrow type is an integer type (numpy's binning treats integers
        /// differently).
        integer: bool,
    },
    /// A numerical column beyond the exact cap: summaries and a quantile sketch.
    #[serde(rename = "numerical_sketch")]
    NumericalSketch(NumericSketch),
    /// A categorical column: its category counts.
    Categorical(CategorySample),
    /// A column that cannot be tested, and why.
    Unusable {
        /// The reason, shown as the column's error.
        reason: String,
    },
}

impl ReferenceProfile {
    /// Builds an exact profile from reference batches (any number, any split): every
    /// numerical column keeps all its values, as [`crate::detect_drift`] does. The columns
    /// and kind overrides of `options` apply; the other options matter only when comparing.
    pub fn build(batches: &[RecordBatch], options: &DriftOptions) -> Result<Self> {
        Self::build_with(batches, options, &ProfileOptions::exact())
    }

    /// Builds a profile to store: numerical columns beyond `profile.exact_cap()` valid
    /// values are sketched (see [`ProfileOptions`]). Columns are built in parallel, and so
    /// are chunks of batches when there are fewer columns than threads.
    pub fn build_with(
        batches: &[RecordBatch],
        options: &DriftOptions,
        profile: &ProfileOptions,
    ) -> Result<Self> {
        options.validate()?;
        profile.validate()?;
        let names = column_names(batches, options);
        let schema = batches.first().map(RecordBatch::schema);
        let mut builder = ProfileBuilder::with_names(&names, schema.as_deref(), options, *profile);
        let threads = rayon::current_num_threads();
        let chunks = (threads / names.len().max(1)).clamp(1, batches.len().max(1));
        if chunks <= 1 {
            builder.reserve(batches);
            for batch in batches {
                builder.push_batch(batch);
            }
        } else {
            let size = batches.len().div_ceil(chunks);
            let parts: Vec<ProfileBuilder> = batches
                .par_chunks(size)
                .map(|part| {
                    let mut b = builder.empty_like();
                    b.reserve(part);
                    for batch in part {
                        b.push_batch(batch);
                    }
                    b
                })
                .collect();
            for part in parts {
                builder.merge(part)?;
            }
        }
        Ok(builder.finish())
    }

    /// A streaming builder for reference data with this schema (see [`ProfileBuilder`]).
    pub fn builder(
        schema: &Schema,
        options: &DriftOptions,
        profile: &ProfileOptions,
    ) -> Result<ProfileBuilder> {
        ProfileBuilder::new(schema, options, profile)
    }

    /// Merges the profile of another partition of the same reference data into this one,
    /// as if both had been built together: counts add up, exact values concatenate until
    /// the cap and then become a sketch, sketches merge, category counts add up, and an
    /// integer column inferred as categorical in both parts becomes numerical again when the
    /// union has more than [`crate::INTEGER_CARDINALITY_LIMIT`] distinct values. The merged
    /// profile keeps this profile's [`ProfileOptions`].
    ///
    /// Exact parts merge exactly (in any order); merging sketches is as accurate as the
    /// sketches, and the merged sketch depends on the order (KLL compaction is randomized).
    ///
    /// A profile of no batches (no columns) merges with anything as the identity.
    ///
    /// # Errors
    ///
    /// [`DriftError::Profile`] when the profiles do not have the same columns in the same
    /// order, with the same types (a `Null`-typed, all-null part merges with any type) and
    /// the same forced kinds.
    pub fn merge(&mut self, other: Self) -> Result<()> {
        if other.columns.is_empty() {
            return Ok(());
        }
        let options = self.options;
        if self.columns.is_empty() {
            // Under this profile's options (its cap may be lower).
            self.columns = other
                .columns
                .into_par_iter()
                .map(|c| ColumnBuilder::from_profile(c, options).map(|b| b.finish(&mut Vec::new())))
                .collect::<Result<Vec<_>>>()?;
            return Ok(());
        }
        if self.columns.len() != other.columns.len()
            || self
                .columns
                .iter()
                .zip(&other.columns)
                .any(|(a, b)| a.name != b.name)
        {
            return Err(DriftError::Profile(
                "cannot merge profiles of different columns".to_owned(),
            ));
        }
        let mine = std::mem::take(&mut self.columns);
        self.columns = mine
            .into_par_iter()
            .zip(other.columns.into_par_iter())
            .map(|(a, b)| {
                let mut left = ColumnBuilder::from_profile(a, options)?;
                left.merge(ColumnBuilder::from_profile(b, options)?, true)?;
                Ok(left.finish(&mut Vec::new()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(())
    }

    /// The column profiles, in order.
    pub fn columns(&self) -> &[ColumnProfile] {
        &self.columns
    }

    /// The profile of one column.
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// How numerical columns were stored.
    pub fn options(&self) -> &ProfileOptions {
        &self.options
    }

    /// The format version ([`PROFILE_FORMAT_VERSION`]).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Whether comparing with this profile gives the numbers of the raw reference: no
    /// column is sketched without its exact value counts.
    pub fn is_exact(&self) -> bool {
        self.columns.iter().all(|c| match &c.data {
            ProfileData::NumericalSketch(s) => s.is_exact(),
            _ => true,
        })
    }

    /// The profile as JSON (layout in `docs/DRIFT-PROFILE.md`).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| DriftError::Profile(e.to_string()))
    }

    /// A profile from its JSON form, checked for consistency.
    ///
    /// # Errors
    ///
    /// [`ProfileFormatError::Version`] for another format version,
    /// [`ProfileFormatError::Json`] for text that is not a profile, and the other variants
    /// for a profile whose parts disagree (see [`ProfileFormatError`]).
    pub fn from_json(text: &str) -> std::result::Result<Self, ProfileFormatError> {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(default)]
            version: Option<serde_json::Value>,
        }
        let probe: Probe =
            serde_json::from_str(text).map_err(|e| ProfileFormatError::Json(e.to_string()))?;
        if let Some(version) = probe.version
            && version.as_u64() != Some(u64::from(PROFILE_FORMAT_VERSION))
        {
            return Err(ProfileFormatError::Version {
                found: version.to_string(),
                supported: PROFILE_FORMAT_VERSION,
            });
        }
        let profile: Self = sketch::guarded("the JSON profile", || {
            serde_json::from_str(text).map_err(|e| e.to_string())
        })
        .map_err(ProfileFormatError::Json)?;
        profile.check()?;
        Ok(profile)
    }

    pub(crate) fn from_parts(options: ProfileOptions, columns: Vec<ColumnProfile>) -> Self {
        Self {
            version: PROFILE_FORMAT_VERSION,
            options,
            columns,
        }
    }
}

impl ColumnProfile {
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
            ProfileData::Numerical { .. } | ProfileData::NumericalSketch(_) => {
                Some(ColumnKind::Numerical)
            }
            ProfileData::Categorical(_) => Some(ColumnKind::Categorical),
            ProfileData::Unusable { .. } => None,
        }
    }

    /// Whether the kind was forced by [`DriftOptions::with_kind`] rather than inferred.
    pub fn kind_forced(&self) -> bool {
        self.kind_forced
    }

    /// What the profile holds.
    pub fn data(&self) -> &ProfileData {
        &self.data
    }

    pub(crate) fn from_parts(
        name: String,
        data_type: DataType,
        kind_forced: bool,
        data: ProfileData,
    ) -> Self {
        Self {
            name,
            data_type,
            kind_forced,
            data,
        }
    }
}

/// Builds a [`ReferenceProfile`] from reference batches pushed one at a time, so the
/// reference never has to be in memory at once; builders of parts of the data merge.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Float64Array, RecordBatch};
/// use arrow_schema::{DataType, Field, Schema};
/// use mlops_drift::{DriftOptions, ProfileOptions, ReferenceProfile};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
/// let options = ProfileOptions::default().with_exact_cap(1000);
/// let mut builder = ReferenceProfile::builder(&schema, &DriftOptions::default(), &options)?;
/// for part in 0..5 {
///     let values: Vec<f64> = (0..500).map(|i| f64::from(part * 500 + i)).collect();
///     builder.push(&RecordBatch::try_new(schema.clone(), vec![Arc::new(Float64Array::from(values))])?)?;
/// }
/// let profile = builder.finish();
/// assert!(!profile.is_exact()); // 2500 distinct values: beyond the cap, sketched
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ProfileBuilder {
    options: ProfileOptions,
    columns: Vec<ColumnBuilder>,
}

impl ProfileBuilder {
    /// A builder for the columns of `schema` (or those `options` name; a named column
    /// absent from the schema is reported missing), with `options`' kind overrides.
    ///
    /// # Errors
    ///
    /// [`DriftError::InvalidOption`] when an option is out of range.
    pub fn new(schema: &Schema, options: &DriftOptions, profile: &ProfileOptions) -> Result<Self> {
        options.validate()?;
        profile.validate()?;
        let names: Vec<String> = match options.columns() {
            Some(columns) => columns.to_vec(),
            None => schema.fields().iter().map(|f| f.name().clone()).collect(),
        };
        Ok(Self::with_names(&names, Some(schema), options, *profile))
    }

    /// A name absent from `schema` is a missing column; without a schema (no batches at
    /// all) every column is typed `Null` and empty.
    fn with_names(
        names: &[String],
        schema: Option<&Schema>,
        options: &DriftOptions,
        profile: ProfileOptions,
    ) -> Self {
        let columns = names
            .iter()
            .map(|name| {
                let data_type = match schema {
                    None => Some(DataType::Null),
                    Some(s) => s.field_with_name(name).ok().map(|f| f.data_type().clone()),
                };
                ColumnBuilder::new(name, data_type, options.kind_for(name), profile)
            })
            .collect();
        Self {
            options: profile,
            columns,
        }
    }

    /// A builder for the same columns with nothing pushed yet.
    fn empty_like(&self) -> Self {
        Self {
            options: self.options,
            columns: self.columns.iter().map(ColumnBuilder::empty_like).collect(),
        }
    }

    /// Reserves exact-value room for these batches' rows.
    fn reserve(&mut self, batches: &[RecordBatch]) {
        self.reserve_rows(batches.iter().map(RecordBatch::num_rows).sum());
    }

    /// A size hint: reserves room for the values of `rows` more rows per numerical column
    /// (at most the exact cap), so that pushing them never grows (and copies) the buffers.
    /// A reader that knows its row count up front (a Parquet file's metadata) calls it once
    /// before the first [`push`](Self::push).
    pub fn reserve_rows(&mut self, rows: usize) {
        let cap = self.options.exact_cap().saturating_add(1);
        for column in &mut self.columns {
            column.reserve(rows.min(cap));
        }
    }

    /// Adds one batch (columns in parallel). A column missing from the batch, or of a type
    /// its kind cannot take, becomes unusable; the other columns go on.
    ///
    /// # Errors
    ///
    /// None at present: problems are per column. The `Result` is kept for future checks.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        self.push_batch(batch);
        Ok(())
    }

    fn push_batch(&mut self, batch: &RecordBatch) {
        self.columns.par_iter_mut().for_each(|c| c.push(batch));
    }

    /// Adds everything a builder of other batches of the same data (same schema and
    /// options) holds.
    ///
    /// # Errors
    ///
    /// [`DriftError::Profile`] when the builders have different columns.
    pub fn merge(&mut self, other: Self) -> Result<()> {
        if self.columns.len() != other.columns.len()
            || self
                .columns
                .iter()
                .zip(&other.columns)
                .any(|(a, b)| a.name != b.name)
        {
            return Err(DriftError::Profile(
                "cannot merge builders of different columns".to_owned(),
            ));
        }
        let mine = std::mem::take(&mut self.columns);
        self.columns = mine
            .into_par_iter()
            .zip(other.columns.into_par_iter())
            .map(|(mut a, b)| a.merge(b, false).map(|()| a))
            .collect::<Result<Vec<_>>>()?;
        Ok(())
    }

    /// The profile (columns finished in parallel: the exact values are sorted).
    pub fn finish(self) -> ReferenceProfile {
        let columns = self
            .columns
            .into_par_iter()
            // One sort buffer per rayon job, reused across its columns.
            .map_init(Vec::new, |scratch, column| column.finish(scratch))
            .collect();
        ReferenceProfile::from_parts(self.options, columns)
    }
}

/// The columns to profile: those requested, or every column of the first batch.
fn column_names(batches: &[RecordBatch], options: &DriftOptions) -> Vec<String> {
    if let Some(columns) = options.columns() {
        return columns.to_vec();
    }
    batches
        .first()
        .map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The category counts an inferred integer column keeps beside its numbers, in case it has
/// at most [`INTEGER_CARDINALITY_LIMIT`] distinct values (then it is categorical).
#[derive(Clone, Debug)]
enum SmallCategories {
    /// Not an inferred integer column.
    Off,
    Counting(CategorySample),
    /// More categories than worth keeping: the column is numerical.
    TooMany,
    Failed(String),
}

impl SmallCategories {
    fn merge(&mut self, other: Self, limit: usize) {
        let mine = std::mem::replace(self, Self::Off);
        *self = match (mine, other) {
            (Self::Failed(e), _) | (_, Self::Failed(e)) => Self::Failed(e),
            (Self::TooMany, _) | (_, Self::TooMany) => Self::TooMany,
            (Self::Counting(mut a), Self::Counting(b)) => {
                a.merge(&b);
                if a.categories().len() > limit {
                    Self::TooMany
                } else {
                    Self::Counting(a)
                }
            }
            (Self::Off, other) | (other, Self::Off) => other,
        };
    }
}

/// What a column builder holds.
#[derive(Debug)]
enum ColumnState {
    Numeric {
        builder: NumericBuilder,
        categories: SmallCategories,
    },
    Categorical(CategorySample),
    Failed {
        reason: String,
        /// A missing column wins over every other problem, as when comparing raw data.
        missing: bool,
    },
}

/// One column of a [`ProfileBuilder`].
#[derive(Debug)]
struct ColumnBuilder {
    name: String,
    data_type: DataType,
    forced: Option<ColumnKind>,
    options: ProfileOptions,
    state: ColumnState,
    /// Reused for the values of each array once sketched.
    scratch: Vec<f64>,
}

impl ColumnBuilder {
    /// `data_type`: `None` when the column is missing from the reference schema.
    fn new(
        name: &str,
        data_type: Option<DataType>,
        forced: Option<ColumnKind>,
        options: ProfileOptions,
    ) -> Self {
        let (data_type, state) = match data_type {
            None => (
                DataType::Null,
                ColumnState::Failed {
                    reason: missing(name).to_string(),
                    missing: true,
                },
            ),
            Some(t) => {
                let state = Self::initial_state(name, &t, forced, options);
                (t, state)
            }
        };
        Self {
            name: name.to_owned(),
            data_type,
            forced,
            options,
            state,
            scratch: Vec::new(),
        }
    }

    fn initial_state(
        name: &str,
        data_type: &DataType,
        forced: Option<ColumnKind>,
        options: ProfileOptions,
    ) -> ColumnState {
        let family = TypeFamily::of(data_type);
        let unsupported = |kind: ColumnKind| ColumnState::Failed {
            reason: DriftError::UnsupportedType {
                column: name.to_owned(),
                data_type: data_type.clone(),
                kind: kind.as_str(),
            }
            .to_string(),
            missing: false,
        };
        let kind = match (forced, family) {
            (_, TypeFamily::Unsupported) => {
                return unsupported(forced.unwrap_or(ColumnKind::Numerical));
            }
            (Some(ColumnKind::Numerical), TypeFamily::Category) => {
                return unsupported(ColumnKind::Numerical);
            }
            (Some(kind), _) => kind,
            (None, TypeFamily::Category) => ColumnKind::Categorical,
            (None, _) => ColumnKind::Numerical,
        };
        let integer = family == TypeFamily::Integer;
        match kind {
            ColumnKind::Categorical => ColumnState::Categorical(CategorySample::new()),
            ColumnKind::Numerical => ColumnState::Numeric {
                builder: NumericBuilder::new(options, integer),
                // Evidently: an integer column with few distinct values is categorical.
                categories: if integer && forced.is_none() {
                    SmallCategories::Counting(CategorySample::new())
                } else {
                    SmallCategories::Off
                },
            },
        }
    }

    fn empty_like(&self) -> Self {
        let state = match &self.state {
            ColumnState::Failed { reason, missing } => ColumnState::Failed {
                reason: reason.clone(),
                missing: *missing,
            },
            _ => Self::initial_state(&self.name, &self.data_type, self.forced, self.options),
        };
        Self {
            name: self.name.clone(),
            data_type: self.data_type.clone(),
            forced: self.forced,
            options: self.options,
            state,
            scratch: Vec::new(),
        }
    }

    fn reserve(&mut self, rows: usize) {
        if let ColumnState::Numeric { builder, .. } = &mut self.state {
            builder.reserve(rows);
        }
    }

    fn fail(&mut self, reason: String, missing: bool) {
        match &self.state {
            ColumnState::Failed { missing: true, .. } => {}
            ColumnState::Failed { .. } if !missing => {}
            _ => self.state = ColumnState::Failed { reason, missing },
        }
    }

    fn push(&mut self, batch: &RecordBatch) {
        let Some(array) = batch.column_by_name(&self.name) else {
            let reason = missing(&self.name).to_string();
            self.fail(reason, true);
            return;
        };
        let array: &dyn Array = array.as_ref();
        let limit = self.options.value_count_limit();
        let failure = match &mut self.state {
            ColumnState::Failed { .. } => None,
            ColumnState::Categorical(sample) => sample.push(array).err(),
            ColumnState::Numeric {
                builder,
                categories,
            } => match builder.push(array, &mut self.scratch) {
                Err(e) => Some(e),
                Ok(()) => {
                    if let SmallCategories::Counting(sample) = categories {
                        match sample.push(array) {
                            Err(e) => {
                                let reason = e.in_column(&self.name).to_string();
                                *categories = SmallCategories::Failed(reason);
                            }
                            Ok(()) if sample.categories().len() > limit => {
                                *categories = SmallCategories::TooMany;
                            }
                            Ok(()) => {}
                        }
                    }
                    None
                }
            },
        };
        if let Some(e) = failure {
            // The builders read a bare array: the column's name is added here.
            let reason = e.in_column(&self.name).to_string();
            self.fail(reason, false);
        }
    }

    /// Merges `other` (the same column, later data). `profiles`: the parts are finished
    /// profiles, which may differ in type (`Null` for an all-null part) and in inferred kind.
    fn merge(&mut self, other: Self, profiles: bool) -> Result<()> {
        if self.data_type != other.data_type {
            if self.data_type == DataType::Null {
                self.data_type = other.data_type.clone();
            } else if other.data_type != DataType::Null {
                return Err(DriftError::Profile(format!(
                    "cannot merge column {:?}: it is {} in one part and {} in the other",
                    self.name, self.data_type, other.data_type
                )));
            }
        }
        if profiles && self.forced != other.forced {
            return Err(DriftError::Profile(format!(
                "cannot merge column {:?}: its kind is forced in one part only",
                self.name
            )));
        }
        let limit = self.options.value_count_limit();
        let mine = std::mem::replace(
            &mut self.state,
            ColumnState::Failed {
                reason: String::new(),
                missing: false,
            },
        );
        self.state = match (mine, other.state) {
            (
                ColumnState::Failed {
                    reason: a,
                    missing: ma,
                },
                ColumnState::Failed {
                    reason: b,
                    missing: mb,
                },
            ) => {
                if ma || !mb {
                    ColumnState::Failed {
                        reason: a,
                        missing: ma,
                    }
                } else {
                    ColumnState::Failed {
                        reason: b,
                        missing: mb,
                    }
                }
            }
            (failed @ ColumnState::Failed { .. }, _) | (_, failed @ ColumnState::Failed { .. }) => {
                failed
            }
            (
                ColumnState::Numeric {
                    builder: mut a,
                    categories: mut ca,
                },
                ColumnState::Numeric {
                    builder: b,
                    categories: cb,
                },
            ) => {
                a.merge(b)?;
                ca.merge(cb, limit);
                ColumnState::Numeric {
                    builder: a,
                    categories: ca,
                }
            }
            (ColumnState::Categorical(mut a), ColumnState::Categorical(b)) => {
                a.merge(&b);
                ColumnState::Categorical(a)
            }
            _ => {
                return Err(DriftError::Profile(format!(
                    "cannot merge column {:?}: it is numerical in one part and categorical in \
                     the other",
                    self.name
                )));
            }
        };
        Ok(())
    }

    /// A builder holding a finished column profile again.
    fn from_profile(profile: ColumnProfile, options: ProfileOptions) -> Result<Self> {
        let ColumnProfile {
            name,
            data_type,
            kind_forced,
            data,
        } = profile;
        let inferred_integer = !kind_forced && TypeFamily::of(&data_type) == TypeFamily::Integer;
        let forced = match (&data, kind_forced) {
            (_, false) => None,
            (ProfileData::Categorical(_), true) => Some(ColumnKind::Categorical),
            (_, true) => Some(ColumnKind::Numerical),
        };
        let state = match data {
            ProfileData::Numerical { sample, integer } => ColumnState::Numeric {
                builder: NumericBuilder::from_exact(options, sample, integer),
                categories: if inferred_integer {
                    SmallCategories::TooMany
                } else {
                    SmallCategories::Off
                },
            },
            ProfileData::NumericalSketch(sketch) => ColumnState::Numeric {
                builder: NumericBuilder::from_sketch(options, sketch),
                categories: if inferred_integer {
                    SmallCategories::TooMany
                } else {
                    SmallCategories::Off
                },
            },
            ProfileData::Categorical(sample) if inferred_integer => {
                // An integer column with few distinct values: numbers again, so that it can
                // merge with parts where it had more.
                let mut builder = NumericBuilder::new(options, true);
                for (key, count) in sample.categories().sorted() {
                    let value: i128 = key.parse().map_err(|_| {
                        DriftError::Profile(format!(
                            "column {name:?}: category {key:?} of an integer column is not \
                             an integer"
                        ))
                    })?;
                    builder.push_repeated(value as f64, count);
                }
                let counts = sample.counts();
                builder.add_counts(ValueCounts {
                    rows: counts.dropped(),
                    ..counts
                });
                ColumnState::Numeric {
                    builder,
                    categories: SmallCategories::Counting(sample),
                }
            }
            ProfileData::Categorical(sample) => ColumnState::Categorical(sample),
            ProfileData::Unusable { reason } => ColumnState::Failed {
                reason,
                missing: false,
            },
        };
        Ok(Self {
            name,
            data_type,
            forced,
            options,
            state,
            scratch: Vec::new(),
        })
    }

    fn finish(self, scratch: &mut Vec<f64>) -> ColumnProfile {
        let data = match self.state {
            ColumnState::Failed { reason, .. } => ProfileData::Unusable { reason },
            ColumnState::Categorical(sample) => ProfileData::Categorical(sample),
            ColumnState::Numeric {
                mut builder,
                categories,
            } => {
                let few = !matches!(categories, SmallCategories::Off)
                    && builder
                        .distinct(scratch, INTEGER_CARDINALITY_LIMIT + 1)
                        .is_some_and(|n| n <= INTEGER_CARDINALITY_LIMIT);
                match (few, categories) {
                    (true, SmallCategories::Counting(sample)) => ProfileData::Categorical(sample),
                    (true, SmallCategories::Failed(reason)) => ProfileData::Unusable { reason },
                    (true, _) => ProfileData::Unusable {
                        reason: format!(
                            "column {:?}: its category counts were not kept",
                            self.name
                        ),
                    },
                    (false, _) => match builder.finish(scratch) {
                        Finished::Exact(sample, integer) => {
                            ProfileData::Numerical { sample, integer }
                        }
                        Finished::Sketch(sketch) => ProfileData::NumericalSketch(*sketch),
                    },
                }
            }
        };
        ColumnProfile {
            name: self.name,
            data_type: self.data_type,
            kind_forced: self.forced.is_some(),
            data,
        }
    }
}

fn missing(name: &str) -> DriftError {
    DriftError::MissingColumn {
        column: name.to_owned(),
        side: "reference",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_written_before_versioning_still_read() {
        let legacy = r#"{"columns":[{"name":"x","data_type":"Float64","data":{"kind":"numerical",
            "sample":{"values":[1.0,2.5],"sorted":true,"counts":{"rows":3,"nulls":1,"nan":0,
            "pos_inf":0,"neg_inf":0}},"integer":false}}]}"#;
        let profile = ReferenceProfile::from_json(legacy).unwrap();
        assert_eq!(profile.version(), PROFILE_FORMAT_VERSION);
        assert_eq!(profile.options(), &ProfileOptions::exact());
        assert!(profile.is_exact());
        assert!(!profile.columns()[0].kind_forced());
    }
}
