//! [`CurrentAccumulator`]: the current side of every column of a profile, built batch by
//! batch, mergeable.

use arrow_array::{Array, RecordBatch};
use rayon::prelude::*;

use crate::column::{CategorySample, NumericSample};
use crate::error::{DriftError, Result};
use crate::kind::TypeFamily;
use crate::profile::{ProfileData, ReferenceProfile};

/// The current data of every column of a [`ReferenceProfile`], accumulated batch by batch:
/// the valid values of numerical columns, the category counts of categorical ones, and the
/// dropped-row counts.
///
/// Accumulators of parts of the data merge ([`CurrentAccumulator::merge`]), so batches can
/// be read in parallel and windows combined; whatever the split and the merge order,
/// [`ReferenceProfile::compare_accumulated`] gives the identical report (numerical values
/// are sorted before testing, counts add up). Column problems (a missing column, a type the
/// column's kind cannot take) are recorded and become that column's error.
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Float64Array, RecordBatch};
/// use arrow_schema::{DataType, Field, Schema};
/// use mlops_drift::{DriftOptions, ReferenceProfile};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
/// let batch = |from: i32| {
///     let values: Vec<f64> = (from..from + 500).map(f64::from).collect();
///     RecordBatch::try_new(schema.clone(), vec![Arc::new(Float64Array::from(values))]).unwrap()
/// };
/// let options = DriftOptions::default();
/// let profile = ReferenceProfile::build(&[batch(0), batch(500)], &options)?;
/// let (mut monday, mut tuesday) = (profile.accumulator(), profile.accumulator());
/// monday.push(&batch(100))?;
/// tuesday.push(&batch(600))?;
/// monday.merge(tuesday)?;
/// let report = profile.compare_accumulated(&monday, &options)?;
/// assert_eq!(report, profile.compare(&[batch(600), batch(100)], &options)?);
/// # Ok::<(), mlops_drift::DriftError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CurrentAccumulator {
    columns: Vec<CurrentColumn>,
}

/// One column of an accumulator.
#[derive(Clone, Debug)]
pub(crate) struct CurrentColumn {
    name: String,
    state: CurrentState,
    error: Option<ColumnError>,
}

/// A recorded column problem.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ColumnError {
    /// A missing column wins over every other problem (`false < true`, hence `Reverse`).
    missing: std::cmp::Reverse<bool>,
    message: String,
}

/// What a column accumulates.
#[derive(Clone, Debug)]
pub(crate) enum CurrentState {
    /// Valid values (unsorted until [`CurrentAccumulator::finish`]) and whether every array
    /// had an integer type.
    Numeric {
        sample: NumericSample,
        integer: bool,
    },
    Categorical(CategorySample),
    /// The profile cannot test the column: only its presence is checked.
    Unused,
}

impl ReferenceProfile {
    /// An empty accumulator for this profile's columns and kinds.
    pub fn accumulator(&self) -> CurrentAccumulator {
        let columns = self
            .columns()
            .iter()
            .map(|c| CurrentColumn {
                name: c.name().to_owned(),
                state: match c.data() {
                    ProfileData::Numerical { .. } | ProfileData::NumericalSketch(_) => {
                        CurrentState::Numeric {
                            sample: NumericSample::new(),
                            integer: true,
                        }
                    }
                    ProfileData::Categorical(_) => CurrentState::Categorical(CategorySample::new()),
                    ProfileData::Unusable { .. } => CurrentState::Unused,
                },
                error: None,
            })
            .collect();
        CurrentAccumulator { columns }
    }

    /// Accumulates `batches`: in parallel over chunks of batches when there are fewer
    /// columns than threads (then merged), else batch by batch with columns in parallel.
    pub(crate) fn accumulate(&self, batches: &[RecordBatch]) -> CurrentAccumulator {
        let threads = rayon::current_num_threads();
        let chunks = (threads / self.columns().len().max(1)).clamp(1, batches.len().max(1));
        let one = |part: &[RecordBatch]| {
            let mut acc = self.accumulator();
            acc.reserve(part.iter().map(RecordBatch::num_rows).sum());
            for batch in part {
                acc.push_batch(batch);
            }
            acc
        };
        if chunks <= 1 {
            return one(batches);
        }
        let size = batches.len().div_ceil(chunks);
        let parts: Vec<CurrentAccumulator> = batches.par_chunks(size).map(one).collect();
        CurrentAccumulator::merge_all(self.accumulator(), parts)
    }
}

impl CurrentAccumulator {
    /// Adds one batch of current data (columns in parallel).
    ///
    /// # Errors
    ///
    /// None at present: problems are per column and reported by the comparison. The
    /// `Result` is kept for future checks.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        self.push_batch(batch);
        Ok(())
    }

    fn push_batch(&mut self, batch: &RecordBatch) {
        self.columns.par_iter_mut().for_each(|c| c.push(batch));
    }

    /// Adds everything an accumulator of other current data (for the same profile) holds.
    ///
    /// # Errors
    ///
    /// [`DriftError::Profile`] when the accumulators were made for different profiles.
    pub fn merge(&mut self, other: Self) -> Result<()> {
        self.check_aligned(other.columns.iter().map(|c| c.name.as_str()))?;
        let mine = std::mem::take(&mut self.columns);
        self.columns = mine
            .into_par_iter()
            .zip(other.columns.into_par_iter())
            .map(|(mut a, b)| {
                a.merge(b);
                a
            })
            .collect();
        Ok(())
    }

    /// Sorts the numerical values in place (columns in parallel), so that comparing copies
    /// nothing.
    /// Optional: [`ReferenceProfile::compare_accumulated`] sorts copies of unsorted columns.
    pub fn finish(&mut self) {
        // One scratch buffer per rayon job, reused across its columns.
        self.columns
            .par_iter_mut()
            .for_each_init(Vec::new, |scratch, c| {
                if let CurrentState::Numeric { sample, .. } = &mut c.state {
                    sample.sort_with(scratch);
                }
            });
    }

    /// Merges accumulators of chunks of the same data, reserving each column once.
    fn merge_all(empty: Self, parts: Vec<Self>) -> Self {
        let mut per_column: Vec<Vec<CurrentColumn>> = empty
            .columns
            .into_iter()
            .map(|c| {
                let mut v = Vec::with_capacity(parts.len() + 1);
                v.push(c);
                v
            })
            .collect();
        for part in parts {
            for (slot, column) in per_column.iter_mut().zip(part.columns) {
                slot.push(column);
            }
        }
        let columns = per_column
            .into_par_iter()
            .filter_map(|parts| {
                let mut it = parts.into_iter();
                let mut first = it.next()?;
                let rest: Vec<CurrentColumn> = it.collect();
                first.reserve(rest.iter().map(CurrentColumn::len).sum());
                for column in rest {
                    first.merge(column);
                }
                Some(first)
            })
            .collect();
        Self { columns }
    }

    /// A size hint: reserves room for the values of `rows` more rows per numerical column,
    /// so that pushing them never grows (and copies) the buffers. A reader that knows its
    /// row count up front (a Parquet file's metadata) calls it once before the first
    /// [`push`](Self::push).
    pub fn reserve(&mut self, rows: usize) {
        for column in &mut self.columns {
            column.reserve(rows);
        }
    }

    fn check_aligned<'a>(&self, names: impl ExactSizeIterator<Item = &'a str>) -> Result<()> {
        if names.len() != self.columns.len()
            || self.columns.iter().zip(names).any(|(c, n)| c.name != n)
        {
            return Err(DriftError::Profile(
                "the current-data accumulators were made for different profiles".to_owned(),
            ));
        }
        Ok(())
    }

    /// The columns, aligned with the profile's, after checking that they are.
    pub(crate) fn columns_for(&self, profile: &ReferenceProfile) -> Result<&[CurrentColumn]> {
        self.check_aligned(profile.columns().iter().map(|c| c.name()))?;
        Ok(&self.columns)
    }
}

impl CurrentColumn {
    fn push(&mut self, batch: &RecordBatch) {
        let Some(array) = batch.column_by_name(&self.name) else {
            let missing = DriftError::MissingColumn {
                column: self.name.clone(),
                side: "current",
            };
            self.fail(ColumnError {
                missing: std::cmp::Reverse(true),
                message: missing.to_string(),
            });
            return;
        };
        if self.error.is_some() {
            return;
        }
        let array: &dyn Array = array.as_ref();
        let result = match &mut self.state {
            CurrentState::Numeric { sample, integer } => {
                *integer &= TypeFamily::of(array.data_type()) == TypeFamily::Integer;
                sample.push(array)
            }
            CurrentState::Categorical(sample) => sample.push(array),
            CurrentState::Unused => Ok(()),
        };
        if let Err(e) = result {
            // The samples read a bare array: the column's name is added here.
            let message = e.in_column(&self.name).to_string();
            self.fail(ColumnError {
                missing: std::cmp::Reverse(false),
                message,
            });
        }
    }

    /// Records a problem; the one kept does not depend on the order of batches or merges.
    fn fail(&mut self, error: ColumnError) {
        if self.error.as_ref().is_none_or(|e| error < *e) {
            self.error = Some(error);
        }
        if let CurrentState::Numeric { sample, .. } = &mut self.state {
            sample.clear_values();
        }
    }

    fn merge(&mut self, other: Self) {
        if let Some(error) = other.error {
            self.fail(error);
        }
        match (&mut self.state, other.state) {
            (
                CurrentState::Numeric { sample, integer },
                CurrentState::Numeric {
                    sample: b,
                    integer: ib,
                },
            ) => {
                *integer &= ib;
                if self.error.is_none() {
                    sample.append(b);
                }
            }
            (CurrentState::Categorical(a), CurrentState::Categorical(b)) => a.merge(&b),
            _ => {}
        }
    }

    fn len(&self) -> usize {
        match &self.state {
            CurrentState::Numeric { sample, .. } => sample.values().len(),
            _ => 0,
        }
    }

    fn reserve(&mut self, rows: usize) {
        if let CurrentState::Numeric { sample, .. } = &mut self.state {
            sample.reserve(rows);
        }
    }

    /// The error message, when the column cannot be tested.
    pub(crate) fn error(&self) -> Option<&str> {
        self.error.as_ref().map(|e| e.message.as_str())
    }

    pub(crate) fn state(&self) -> &CurrentState {
        &self.state
    }
}
