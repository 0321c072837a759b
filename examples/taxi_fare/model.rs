//! The model: a linear regression on the fitted transform's outputs, and how training code
//! predicts with a model and its transform: the same transform code and the same serving
//! runtime `mlops serve` runs, so a served prediction equals the training code's bit for bit.

use std::sync::Arc;

use mlops::drift::arrow_array::RecordBatch;
use mlops::serve::Model;
use mlops::serve::runtime::linear::{Coefficients, Intercept, LinearFile};
use mlops::serve::{Tensor, TensorData};
use mlops::transform::FittedTransform;
use ndarray::{Array1, Array2};

use crate::Error;

/// The model file inside a version (and under `model/` in the run's artifacts).
pub(crate) const MODEL_FILE: &str = "model.json";
/// The fitted transform beside it.
pub(crate) const TRANSFORM_FILE: &str = "transform.json";

/// `fare = intercept + coefficients · x`, `x` the transform's outputs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Fit {
    pub(crate) coefficients: Array1<f64>,
    pub(crate) intercept: f64,
}

impl Fit {
    /// The model in the built-in linear format `mlops serve` loads (FP64).
    pub(crate) fn to_file(&self) -> LinearFile {
        LinearFile {
            datatype: "FP64".into(),
            ..LinearFile::linear(vec![self.coefficients.to_vec()], vec![self.intercept])
        }
    }

    /// A model back from its file.
    pub(crate) fn from_file(file: &LinearFile) -> Result<Self, Error> {
        let coefficients = match &file.coefficients {
            Coefficients::Flat(c) => c.clone(),
            Coefficients::Rows(rows) if rows.len() == 1 => rows[0].clone(),
            Coefficients::Rows(rows) => return Err(format!("{} outputs, not 1", rows.len()).into()),
        };
        let intercept = match &file.intercept {
            None => 0.0,
            Some(Intercept::Scalar(b)) => *b,
            Some(Intercept::PerOutput(b)) => *b.first().ok_or("an empty intercept")?,
        };
        Ok(Self {
            coefficients: Array1::from(coefficients),
            intercept,
        })
    }
}

/// A model behind its fitted transform, as training code uses it: raw trips in, fares out.
pub(crate) struct Predictor {
    transform: FittedTransform,
    model: Arc<dyn Model>,
}

impl Predictor {
    /// The model file's bytes (`model.json`) behind `transform`; their widths must agree.
    pub(crate) fn new(transform: FittedTransform, model_file: &[u8]) -> Result<Self, Error> {
        let model = mlops::serve::runtime::load_bytes(model_file, MODEL_FILE, "taxi-fare", None)?;
        let fit = Fit::from_file(&serde_json::from_slice(model_file)?)?;
        if fit.coefficients.len() != transform.width() {
            let (k, w) = (fit.coefficients.len(), transform.width());
            return Err(format!("{k} coefficients for a transform of {w} outputs").into());
        }
        Ok(Self { transform, model })
    }

    /// A registered version's two files.
    pub(crate) fn from_files(model_file: &[u8], transform_file: &[u8]) -> Result<Self, Error> {
        Self::new(FittedTransform::from_json(transform_file)?, model_file)
    }

    /// The fare of every row of `batches` (raw columns; the transform reads the ones it needs).
    pub(crate) fn predict(&self, batches: &[RecordBatch]) -> Result<Array1<f64>, Error> {
        if batches.iter().all(|b| b.num_rows() == 0) {
            return Ok(Array1::zeros(0));
        }
        self.predict_matrix(&self.transform.apply_batches(batches)?)
    }

    /// The model's answer for transformed rows `x`, through the serving runtime.
    fn predict_matrix(&self, x: &Array2<f64>) -> Result<Array1<f64>, Error> {
        let (rows, cols) = x.dim();
        let input = TensorData::from_vec(&[rows, cols], x.iter().copied().collect())?;
        let inputs = &self.model.metadata().inputs;
        let name = inputs.first().ok_or("the model has no input")?.name.clone();
        let output = self.model.infer(vec![Tensor::new(name, input)])?;
        let values = (output.first().and_then(|t| t.data.as_array::<f64>()))
            .ok_or("the model answers one FP64 output")?;
        Ok(values.iter().copied().collect())
    }
}
