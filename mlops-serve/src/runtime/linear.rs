//! The built-in linear and logistic regression runtime.
//!
//! # File format
//!
//! A small JSON object (UTF-8, usually with the `.json` extension):
//!
//! ```json
//! {
//!   "format": "mlops-linear/1",
//!   "kind": "linear",
//!   "datatype": "FP32",
//!   "input": "input",
//!   "output": "output",
//!   "coefficients": [[0.5, -1.0, 2.0]],
//!   "intercept": [0.25]
//! }
//! ```
//!
//! - `format` (required): `"mlops-linear/1"`.
//! - `kind`: `"linear"` (`y = x·Wᵀ + b`, the default) or `"logistic"` (`y = σ(x·Wᵀ + b)`,
//!   the probability of the positive class, one column per output).
//! - `datatype`: `"FP32"` (default) or `"FP64"`, for both input and output.
//! - `input`, `output`: tensor names (defaults `"input"` and `"output"`).
//! - `coefficients`: `n_outputs` rows of `n_features` numbers (scikit-learn's `coef_`; a
//!   flat list is one output).
//! - `intercept`: `n_outputs` numbers, or one number (default zeros).
//!
//! Metadata: input `[-1, n_features]`, output `[-1, n_outputs]`, platform `"mlops_linear"`.

use std::path::Path;

use ndarray::{Array2, ArrayD, Ix2};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The largest model file read (a linear model of a million coefficients is ~20 MB of JSON).
const MAX_FILE: u64 = 256 * 1024 * 1024;
use crate::model::{Model, ModelMetadata};
use crate::tensor::{Datatype, Tensor, TensorData, TensorSpec};

/// The `format` tag of the file.
pub const FORMAT: &str = "mlops-linear/1";

/// The link function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `y = x·Wᵀ + b`.
    #[default]
    Linear,
    /// `y = 1 / (1 + exp(-(x·Wᵀ + b)))`.
    Logistic,
}

/// The JSON file, as read and written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// Linear or logistic.
    #[serde(default)]
    pub kind: Kind,
    /// `"FP32"` or `"FP64"`.
    #[serde(default = "default_datatype")]
    pub datatype: String,
    /// The input tensor name.
    #[serde(default = "default_input")]
    pub input: String,
    /// The output tensor name.
    #[serde(default = "default_output")]
    pub output: String,
    /// `n_outputs × n_features` weights.
    pub coefficients: Coefficients,
    /// `n_outputs` intercepts.
    #[serde(default)]
    pub intercept: Option<Intercept>,
}

/// Weights: one row per output, or a flat list for a single output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Coefficients {
    /// A single output.
    Flat(Vec<f64>),
    /// One row per output.
    Rows(Vec<Vec<f64>>),
}

/// Intercepts: one per output, or one number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Intercept {
    /// The same for a single output.
    Scalar(f64),
    /// One per output.
    PerOutput(Vec<f64>),
}

fn default_datatype() -> String {
    "FP32".into()
}
fn default_input() -> String {
    "input".into()
}
fn default_output() -> String {
    "output".into()
}

impl LinearFile {
    /// A linear model file from weights (`n_outputs` rows) and intercepts, FP32, with the
    /// default tensor names.
    pub fn linear(coefficients: Vec<Vec<f64>>, intercept: Vec<f64>) -> Self {
        Self {
            format: FORMAT.into(),
            kind: Kind::Linear,
            datatype: default_datatype(),
            input: default_input(),
            output: default_output(),
            coefficients: Coefficients::Rows(coefficients),
            intercept: Some(Intercept::PerOutput(intercept)),
        }
    }

    /// Writes the file as JSON.
    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Config(format!("cannot encode the linear model: {e}")))?;
        std::fs::write(path, json).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// A linear or logistic regression model.
#[derive(Debug)]
pub struct LinearModel {
    metadata: ModelMetadata,
    kind: Kind,
    /// `n_features × n_outputs` (transposed once at load).
    weights: Array2<f64>,
    weights_f32: Array2<f32>,
    intercept: Vec<f64>,
    intercept_f32: Vec<f32>,
}

impl LinearModel {
    /// Reads the JSON file at `path` and serves it as `name`/`version`.
    pub fn load(path: &Path, name: &str, version: Option<&str>) -> Result<Self> {
        let bytes = super::read_model_file(path, MAX_FILE)?;
        Self::parse(&bytes, path, name, version)
    }

    /// Reads the JSON of a model file from memory (`hint` is its name, for errors) and serves
    /// it as `name`/`version`.
    pub fn from_bytes(bytes: &[u8], hint: &str, name: &str, version: Option<&str>) -> Result<Self> {
        Self::parse(bytes, Path::new(hint), name, version)
    }

    fn parse(bytes: &[u8], path: &Path, name: &str, version: Option<&str>) -> Result<Self> {
        let file: LinearFile = serde_json::from_slice(bytes).map_err(|e| Error::Load {
            path: path.to_path_buf(),
            reason: format!("not a linear model file: {e}"),
        })?;
        Self::from_file(file, name, version).map_err(|e| Error::Load {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// Builds the model from a parsed file.
    pub fn from_file(file: LinearFile, name: &str, version: Option<&str>) -> Result<Self> {
        mlops_core::ModelName::parse(name)?;
        if file.format != FORMAT {
            return Err(Error::Config(format!(
                "format {:?} is not {FORMAT:?}",
                file.format
            )));
        }
        let Some(datatype @ (Datatype::Fp32 | Datatype::Fp64)) = Datatype::parse(&file.datatype)
        else {
            return Err(Error::Config(format!(
                "datatype {:?} is not FP32 or FP64",
                file.datatype
            )));
        };
        let rows = match file.coefficients {
            Coefficients::Flat(row) => vec![row],
            Coefficients::Rows(rows) => rows,
        };
        let n_outputs = rows.len();
        let n_features = rows.first().map_or(0, Vec::len);
        if n_outputs == 0 || n_features == 0 || rows.iter().any(|r| r.len() != n_features) {
            return Err(Error::Config(
                "coefficients must be a non-empty rectangle of numbers".into(),
            ));
        }
        let intercept = match file.intercept {
            None => vec![0.0; n_outputs],
            Some(Intercept::Scalar(b)) => vec![b; n_outputs],
            Some(Intercept::PerOutput(b)) => b,
        };
        if intercept.len() != n_outputs {
            return Err(Error::Config(format!(
                "{} intercepts for {n_outputs} outputs",
                intercept.len()
            )));
        }
        if rows
            .iter()
            .flatten()
            .chain(&intercept)
            .any(|v| !v.is_finite())
        {
            return Err(Error::Config("coefficients must be finite".into()));
        }
        let weights = Array2::from_shape_fn((n_features, n_outputs), |(f, o)| rows[o][f]);
        let width = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let metadata = ModelMetadata {
            name: name.to_owned(),
            version: version.map(str::to_owned),
            platform: "mlops_linear".into(),
            inputs: vec![TensorSpec::new(
                file.input,
                datatype,
                [-1, width(n_features)],
            )],
            outputs: vec![TensorSpec::new(
                file.output,
                datatype,
                [-1, width(n_outputs)],
            )],
        };
        #[allow(clippy::cast_possible_truncation)]
        let weights_f32 = weights.mapv(|v| v as f32);
        #[allow(clippy::cast_possible_truncation)]
        let intercept_f32 = intercept.iter().map(|&v| v as f32).collect();
        Ok(Self {
            metadata,
            kind: file.kind,
            weights,
            weights_f32,
            intercept,
            intercept_f32,
        })
    }
}

/// Up to this many multiply-adds a call runs inline on the async worker (about a microsecond
/// per thousand on one core); larger batches go to the blocking pool.
const CHEAP_FLOPS: usize = 64 * 1024;

impl Model for LinearModel {
    fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }

    fn is_cheap(&self, inputs: &[Tensor]) -> bool {
        inputs
            .first()
            .is_some_and(|t| t.data.len().saturating_mul(self.weights.ncols()) <= CHEAP_FLOPS)
    }

    fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let Some(input) = inputs.into_iter().next() else {
            return Err(Error::invalid("the linear model takes one input"));
        };
        let output_name = self.metadata.outputs[0].name.clone();
        let data = match input.data {
            TensorData::Fp32(x) => TensorData::Fp32(predict(
                x,
                &self.weights_f32,
                &self.intercept_f32,
                self.kind,
            )?),
            TensorData::Fp64(x) => {
                TensorData::Fp64(predict(x, &self.weights, &self.intercept, self.kind)?)
            }
            other => {
                return Err(Error::invalid(format!(
                    "the linear model takes FP32 or FP64, not {}",
                    other.datatype()
                )));
            }
        };
        Ok(vec![Tensor {
            name: output_name,
            data,
        }])
    }
}

/// `x · W + b`, then the link, for a `[rows, n_features]` input.
fn predict<T>(x: ArrayD<T>, weights: &Array2<T>, intercept: &[T], kind: Kind) -> Result<ArrayD<T>>
where
    T: ndarray::LinalgScalar + num_float::Float,
{
    let x = x
        .into_dimensionality::<Ix2>()
        .map_err(|_| Error::invalid("the linear model takes a 2-D input"))?;
    if x.ncols() != weights.nrows() {
        return Err(Error::invalid(format!(
            "expected {} features, got {}",
            weights.nrows(),
            x.ncols()
        )));
    }
    let mut y = x.dot(weights);
    for mut row in y.rows_mut() {
        for (v, &b) in row.iter_mut().zip(intercept) {
            let z = *v + b;
            *v = match kind {
                Kind::Linear => z,
                Kind::Logistic => z.sigmoid(),
            };
        }
    }
    Ok(y.into_dyn())
}

/// The one float operation the link needs, for `f32` and `f64`.
mod num_float {
    /// `f32` or `f64`.
    pub(super) trait Float: Copy {
        /// `1 / (1 + e^-x)`.
        fn sigmoid(self) -> Self;
    }
    impl Float for f32 {
        fn sigmoid(self) -> Self {
            1.0 / (1.0 + (-self).exp())
        }
    }
    impl Float for f64 {
        fn sigmoid(self) -> Self {
            1.0 / (1.0 + (-self).exp())
        }
    }
}
