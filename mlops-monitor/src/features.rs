//! [`FeatureMap`]: which tensor column of a model's inputs and outputs is which feature of
//! the reference profile, and the conversion of an inference's tensors to an Arrow batch.
//!
//! The names come, in order of preference, from the version's registered signature (an
//! Arrow schema per side), from the tensor names (one tensor per feature, shape `[-1]` or
//! `[-1, 1]`), or for a single `[-1, k]` input without a signature of `k` fields, from the
//! reference profile's column order. Outputs are monitored (prediction drift) only when
//! the profile has a column of their name.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use arrow_schema::Schema;
use mlops_drift::ReferenceProfile;
use mlops_serve::{ModelMetadata, Tensor, TensorData, TensorSpec};

use crate::error::{MonitorError, Result};
use crate::row_buffer::{self, Kind, RowBuffer};

/// One monitored feature: where its values are.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Source {
    /// The feature (profile column) name.
    feature: String,
    /// Whether it is an output tensor.
    output: bool,
    /// The tensor's position among the inputs or outputs.
    tensor: usize,
    /// The column of a `[-1, k]` tensor; `None` for a `[-1]` one.
    column: Option<usize>,
}

/// The mapping of one model version's tensors to the profile's feature names (see the
/// [module docs](self)).
#[derive(Clone, Debug)]
pub struct FeatureMap {
    model: String,
    sources: Vec<Source>,
}

/// The signature's schemas, when the version has one.
#[derive(Clone, Copy, Debug, Default)]
pub struct SignatureSchemas<'a> {
    /// The input schema.
    pub inputs: Option<&'a Schema>,
    /// The output schema.
    pub outputs: Option<&'a Schema>,
}

impl FeatureMap {
    /// The map for `metadata`'s tensors against `profile`, with the signature's names when
    /// given.
    ///
    /// # Errors
    ///
    /// [`MonitorError::Mapping`] when a `[-1, k]` tensor's columns cannot be named (no
    /// signature of `k` fields, and the profile's input columns are not `k`), or when no
    /// profile column is fed by any tensor.
    pub fn new(
        metadata: &ModelMetadata,
        signature: SignatureSchemas<'_>,
        profile: &ReferenceProfile,
    ) -> Result<Self> {
        let fail = |reason: String| MonitorError::Mapping {
            model: metadata.name.clone(),
            reason,
        };
        let in_profile = |name: &str| profile.column(name).is_some();
        let mut sources = Vec::new();
        // Outputs first: their names are taken out of the profile's input candidates.
        let output_names = side(&metadata.outputs, signature.outputs, None, true, &fail)?;
        let taken: Vec<String> = output_names.iter().map(|s| s.feature.clone()).collect();
        let candidates: Vec<String> = profile
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .filter(|n| !taken.contains(n))
            .filter(|n| {
                signature
                    .outputs
                    .is_none_or(|s| s.field_with_name(n).is_err())
            })
            .collect();
        let input_names = side(
            &metadata.inputs,
            signature.inputs,
            Some(&candidates),
            false,
            &fail,
        )?;
        for source in input_names.into_iter().chain(output_names) {
            if in_profile(&source.feature)
                && !sources.iter().any(|s: &Source| s.feature == source.feature)
            {
                sources.push(source);
            }
        }
        if sources.is_empty() {
            return Err(fail(format!(
                "none of the tensors ({}) names a column of the reference profile",
                metadata
                    .inputs
                    .iter()
                    .chain(&metadata.outputs)
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(Self {
            model: metadata.name.clone(),
            sources,
        })
    }

    /// The monitored feature names, inputs first.
    pub fn features(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().map(|s| s.feature.as_str())
    }

    /// One inference's monitored columns as a record batch (one row per request row):
    /// floating-point tensors as `Float64`, signed and small unsigned integers as `Int64`,
    /// `UINT64` as `UInt64`, `BOOL` as `Boolean`, `BYTES` as `Utf8` (invalid UTF-8 as null).
    ///
    /// # Errors
    ///
    /// [`MonitorError::Mapping`] when a tensor is missing, has another rank than the map
    /// expects, or the tensors disagree on the row count.
    pub fn batch(&self, inputs: &[Tensor], outputs: &[Tensor]) -> Result<RecordBatch> {
        let rows = self.check(inputs, outputs)?;
        let mut buffer = RowBuffer::default();
        self.append(&mut buffer, inputs, outputs, 0..rows)?;
        match buffer.take() {
            Some(batch) => batch.map_err(|e| self.fail(e.to_string())),
            None => Err(self.fail("internal: no columns".into())),
        }
    }

    /// Checks one inference's tensors against the map (each mapped tensor present, of a
    /// monitored datatype and the expected rank, all of the same row count); the rows.
    ///
    /// # Errors
    ///
    /// [`MonitorError::Mapping`], as [`FeatureMap::batch`].
    pub(crate) fn check(&self, inputs: &[Tensor], outputs: &[Tensor]) -> Result<usize> {
        let mut rows = None;
        for source in &self.sources {
            let tensor = self.tensor(source, inputs, outputs)?;
            let n = row_buffer::rows_of(&tensor.data, source.column)
                .map_err(|reason| self.fail(format!("tensor {:?}: {reason}", tensor.name)))?;
            if *rows.get_or_insert(n) != n {
                return Err(self.fail(format!(
                    "tensor {:?} has {n} rows, other tensors {}",
                    tensor.name,
                    rows.unwrap_or(0)
                )));
            }
        }
        Ok(rows.unwrap_or(0))
    }

    /// Appends rows `rows` of an inference that [`FeatureMap::check`] accepted to `buffer`.
    /// An empty buffer is first set to this map's columns with the tensors' types; a buffer
    /// holding rows of other types is left alone and `false` returned: take its rows, then
    /// append again.
    ///
    /// # Errors
    ///
    /// [`MonitorError::Mapping`] for tensors [`FeatureMap::check`] would refuse.
    pub(crate) fn append(
        &self,
        buffer: &mut RowBuffer,
        inputs: &[Tensor],
        outputs: &[Tensor],
        rows: Range<usize>,
    ) -> Result<bool> {
        let kind = |source: &Source| -> Result<Kind> {
            let tensor = self.tensor(source, inputs, outputs)?;
            Kind::of(&tensor.data)
                .map_err(|reason| self.fail(format!("tensor {:?}: {reason}", tensor.name)))
        };
        if !buffer.has_kinds(self.sources.iter().map(|s| kind(s).ok())) {
            if buffer.rows() > 0 {
                return Ok(false);
            }
            let columns = self
                .sources
                .iter()
                .map(|s| Ok((s.feature.as_str(), kind(s)?)))
                .collect::<Result<Vec<_>>>()?;
            buffer.reset(columns.into_iter());
        }
        for (index, source) in self.sources.iter().enumerate() {
            let tensor = self.tensor(source, inputs, outputs)?;
            buffer
                .extend(index, &tensor.data, source.column, &rows)
                .map_err(|reason| self.fail(format!("tensor {:?}: {reason}", tensor.name)))?;
        }
        buffer.added(rows.len());
        Ok(true)
    }

    /// The tensor `source` reads.
    fn tensor<'t>(
        &self,
        source: &Source,
        inputs: &'t [Tensor],
        outputs: &'t [Tensor],
    ) -> Result<&'t Tensor> {
        let tensors = if source.output { outputs } else { inputs };
        tensors.get(source.tensor).ok_or_else(|| {
            self.fail(format!(
                "{} tensor #{} is missing",
                if source.output { "output" } else { "input" },
                source.tensor
            ))
        })
    }

    fn fail(&self, reason: String) -> MonitorError {
        MonitorError::Mapping {
            model: self.model.clone(),
            reason,
        }
    }
}

/// The sources of one side's tensors. `candidates` (inputs only) are the profile's names
/// for a single `[-1, k]` tensor without a signature of `k` fields.
fn side(
    specs: &[TensorSpec],
    schema: Option<&Schema>,
    candidates: Option<&[String]>,
    output: bool,
    fail: &dyn Fn(String) -> MonitorError,
) -> Result<Vec<Source>> {
    let mut sources = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let width = match spec.shape.as_slice() {
            [_] => None,
            [_, 1] => None,
            [_, k] => Some(*k),
            // Images and sequences are not tabular features: not monitored.
            _ => continue,
        };
        let Some(width) = width else {
            let column = (spec.shape.len() == 2).then_some(0);
            sources.push(Source {
                feature: spec.name.clone(),
                output,
                tensor: index,
                column,
            });
            continue;
        };
        // `-1` columns: any count the names give.
        let fits = |n: usize| usize::try_from(width).map_or(true, |k| k == n);
        let names: Vec<String> = match (schema, candidates) {
            (Some(schema), _) if specs.len() == 1 && fits(schema.fields().len()) => {
                schema.fields().iter().map(|f| f.name().clone()).collect()
            }
            (_, Some(candidates)) if specs.len() == 1 && fits(candidates.len()) => {
                candidates.to_vec()
            }
            // A wide output without names is not monitored; a wide input must be named.
            _ if output => continue,
            _ => {
                return Err(fail(format!(
                    "input {:?} has {width} columns; give a signature with {width} input fields, \
                     or a reference profile with {width} input columns (it has {})",
                    spec.name,
                    candidates.map_or(0, <[String]>::len)
                )));
            }
        };
        sources.extend(
            names
                .into_iter()
                .enumerate()
                .map(|(column, feature)| Source {
                    feature,
                    output,
                    tensor: index,
                    column: Some(column),
                }),
        );
    }
    Ok(sources)
}

/// Column `column` of a `[n, k]` tensor (or the whole of a `[n]` one) as an Arrow array.
pub(crate) fn column_array(
    data: &TensorData,
    column: Option<usize>,
) -> std::result::Result<ArrayRef, String> {
    macro_rules! values {
        ($array:expr, $map:expr) => {{
            let array = $array;
            match (array.ndim(), column) {
                (1, None) => array.iter().map($map).collect::<Vec<_>>(),
                (2, Some(j)) if j < array.shape()[1] => array
                    .index_axis(ndarray::Axis(1), j)
                    .iter()
                    .map($map)
                    .collect::<Vec<_>>(),
                (2, Some(j)) => {
                    return Err(format!(
                        "has {} columns, column {j} expected",
                        array.shape()[1]
                    ));
                }
                (n, _) => {
                    return Err(format!(
                        "has rank {n}, which the feature map does not expect"
                    ));
                }
            }
        }};
    }
    let array: ArrayRef = match data {
        TensorData::Fp64(a) => Arc::new(Float64Array::from(values!(a, |v: &f64| *v))),
        TensorData::Fp32(a) => Arc::new(Float64Array::from(values!(a, |v: &f32| f64::from(*v)))),
        TensorData::Fp16(a) => Arc::new(Float64Array::from(values!(
            a,
            |v: &mlops_serve::tensor::f16| v.to_f64()
        ))),
        TensorData::Int64(a) => Arc::new(Int64Array::from(values!(a, |v: &i64| *v))),
        TensorData::Int32(a) => Arc::new(Int64Array::from(values!(a, |v: &i32| i64::from(*v)))),
        TensorData::Int16(a) => Arc::new(Int64Array::from(values!(a, |v: &i16| i64::from(*v)))),
        TensorData::Int8(a) => Arc::new(Int64Array::from(values!(a, |v: &i8| i64::from(*v)))),
        TensorData::Uint32(a) => Arc::new(Int64Array::from(values!(a, |v: &u32| i64::from(*v)))),
        TensorData::Uint16(a) => Arc::new(Int64Array::from(values!(a, |v: &u16| i64::from(*v)))),
        TensorData::Uint8(a) => Arc::new(Int64Array::from(values!(a, |v: &u8| i64::from(*v)))),
        TensorData::Uint64(a) => Arc::new(UInt64Array::from(values!(a, |v: &u64| *v))),
        TensorData::Bool(a) => Arc::new(BooleanArray::from(values!(a, |v: &bool| *v))),
        TensorData::Bytes(a) => {
            Arc::new(StringArray::from(values!(a, |v: &mlops_serve::Bytes| {
                std::str::from_utf8(v).ok().map(str::to_owned)
            })))
        }
        other => {
            return Err(format!(
                "datatype {} is not monitored",
                other.datatype().as_str()
            ));
        }
    };
    Ok(array)
}
