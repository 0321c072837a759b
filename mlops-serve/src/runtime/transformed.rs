//! A model behind its fitted feature transform (`mlops-transform`): clients send the raw
//! columns by name and the server applies the same code, with the same learned statistics,
//! that training applied, so predictions match training's bit for bit.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use mlops_transform::{FittedTransform, InputKind};

use crate::error::{Error, Result};
use crate::model::{Model, ModelMetadata};
use crate::tensor::{Datatype, Tensor, TensorData, TensorSpec};

/// The `format` tag that marks a version's file as a fitted transform.
pub const FORMAT: &str = mlops_transform::FORMAT;

/// Rows up to which a call runs on the async worker when the inner model is cheap: the
/// transform of a few rows costs microseconds.
const CHEAP_ROWS: usize = 64;

/// A model whose input tensor is built by a [`FittedTransform`] from raw named columns.
///
/// Its metadata lists one input per raw column, shape `[-1]`: `FP64` for columns read as
/// numbers, `BYTES` (UTF-8) for categories and date-times. The outputs are the inner model's.
pub struct Transformed {
    metadata: ModelMetadata,
    transform: FittedTransform,
    inner: Arc<dyn Model>,
    input: TensorSpec,
}

impl std::fmt::Debug for Transformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transformed")
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

impl Transformed {
    /// Puts `transform` in front of `inner`, which must take one `FP32` or `FP64` input of
    /// shape `[-1, k]` with `k` the transform's width.
    pub fn new(inner: Arc<dyn Model>, transform: FittedTransform) -> Result<Self> {
        let meta = inner.metadata();
        let width = transform.width();
        let input = match meta.inputs.as_slice() {
            [one]
                if matches!(one.datatype, Datatype::Fp32 | Datatype::Fp64)
                    && one.shape.len() == 2
                    && one.shape[0] == -1
                    && (one.shape[1] == -1
                        || usize::try_from(one.shape[1]).ok() == Some(width)) =>
            {
                one.clone()
            }
            other => {
                return Err(Error::Load {
                    path: std::path::PathBuf::new(),
                    reason: format!(
                        "model {:?} does not fit its feature transform: it needs one FP32/FP64 input of shape [-1, {width}] (the transform's {width} outputs), it has {}",
                        meta.name,
                        other
                            .iter()
                            .map(|s| format!("{} {} {:?}", s.name, s.datatype.as_str(), s.shape))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        };
        let inputs = transform
            .inputs()
            .into_iter()
            .map(|(column, kind)| {
                let datatype = match kind {
                    InputKind::Number => Datatype::Fp64,
                    _ => Datatype::Bytes,
                };
                TensorSpec::new(column, datatype, [-1])
            })
            .collect();
        let metadata = ModelMetadata {
            inputs,
            ..meta.clone()
        };
        Ok(Self {
            metadata,
            transform,
            inner,
            input,
        })
    }

    /// The fitted transform.
    pub fn transform(&self) -> &FittedTransform {
        &self.transform
    }

    /// The raw columns as an Arrow batch, in metadata order.
    fn batch(&self, inputs: &[Tensor]) -> Result<RecordBatch> {
        let mut columns: Vec<(&str, ArrayRef)> = Vec::with_capacity(inputs.len());
        for (spec, tensor) in self.metadata.inputs.iter().zip(inputs) {
            let array: ArrayRef = match &tensor.data {
                TensorData::Fp64(a) => Arc::new(Float64Array::from_iter_values(a.iter().copied())),
                TensorData::Bytes(a) => {
                    let mut texts = Vec::with_capacity(a.len());
                    for (row, b) in a.iter().enumerate() {
                        texts.push(std::str::from_utf8(b).map_err(|_| {
                            Error::invalid(format!(
                                "input {:?} row {row} is not UTF-8 text",
                                spec.name
                            ))
                        })?);
                    }
                    Arc::new(StringArray::from(texts))
                }
                other => {
                    return Err(Error::invalid(format!(
                        "input {:?} must be {}, got {}",
                        spec.name,
                        spec.datatype.as_str(),
                        other.datatype().as_str()
                    )));
                }
            };
            columns.push((spec.name.as_str(), array));
        }
        RecordBatch::try_from_iter(columns)
            .map_err(|e| Error::invalid(format!("inputs of different lengths: {e}")))
    }
}

impl Model for Transformed {
    fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }

    fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let batch = self.batch(&inputs)?;
        // A missing value or an unseen category names its column and row: the client's error.
        let x = self
            .transform
            .apply(&batch)
            .map_err(|e| Error::invalid(e.to_string()))?;
        let (rows, cols) = x.dim();
        let (values, _) = x.into_raw_vec_and_offset();
        let data = match self.input.datatype {
            #[allow(clippy::cast_possible_truncation)]
            // the model takes FP32: round as training did
            Datatype::Fp32 => TensorData::from_vec(
                &[rows, cols],
                values.into_iter().map(|v| v as f32).collect(),
            )?,
            _ => TensorData::from_vec(&[rows, cols], values)?,
        };
        self.inner
            .infer(vec![Tensor::new(self.input.name.clone(), data)])
    }

    fn is_cheap(&self, inputs: &[Tensor]) -> bool {
        let rows = inputs
            .first()
            .map_or(0, |t| t.data.shape().first().copied().unwrap_or(0));
        if rows > CHEAP_ROWS {
            return false;
        }
        // Ask the inner model about an input of the same size, without building it.
        let probe = TensorData::from_vec(
            &[rows, self.transform.width()],
            vec![0.0f64; rows * self.transform.width()],
        );
        probe.is_ok_and(|data| {
            self.inner
                .is_cheap(&[Tensor::new(self.input.name.clone(), data)])
        })
    }
}
