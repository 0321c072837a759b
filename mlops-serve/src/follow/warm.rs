//! Warm-up: one inference on a row built from the model's metadata before it takes traffic,
//! so that a model that loads but cannot answer is caught before a request meets it, and the
//! first request does not pay for lazy initialisation.

use ndarray::{ArrayD, IxDyn};

use crate::error::{Error, Result};
use crate::model::{ModelMetadata, Servable};
use crate::tensor::{Bytes, Datatype, Tensor, TensorData, TensorSpec};

/// One input of the warm-up row: the declared datatype and shape, every variable dimension
/// 1, every value zero (empty for `BYTES`).
fn zeros(spec: &TensorSpec) -> Tensor {
    let shape: Vec<usize> = spec
        .shape
        .iter()
        .map(|&d| usize::try_from(d).unwrap_or(1))
        .collect();
    let shape = IxDyn(&shape);
    let data = match spec.datatype {
        Datatype::Bool => TensorData::Bool(ArrayD::default(shape)),
        Datatype::Uint8 => TensorData::Uint8(ArrayD::default(shape)),
        Datatype::Uint16 => TensorData::Uint16(ArrayD::default(shape)),
        Datatype::Uint32 => TensorData::Uint32(ArrayD::default(shape)),
        Datatype::Uint64 => TensorData::Uint64(ArrayD::default(shape)),
        Datatype::Int8 => TensorData::Int8(ArrayD::default(shape)),
        Datatype::Int16 => TensorData::Int16(ArrayD::default(shape)),
        Datatype::Int32 => TensorData::Int32(ArrayD::default(shape)),
        Datatype::Int64 => TensorData::Int64(ArrayD::default(shape)),
        Datatype::Fp16 => TensorData::Fp16(ArrayD::default(shape)),
        Datatype::Fp32 => TensorData::Fp32(ArrayD::default(shape)),
        Datatype::Fp64 => TensorData::Fp64(ArrayD::default(shape)),
        Datatype::Bytes => TensorData::Bytes(ArrayD::from_elem(shape, Bytes::default())),
    };
    Tensor::new(spec.name.clone(), data)
}

/// Whether every floating-point value of `data` is finite (other datatypes always are).
fn finite(data: &TensorData) -> bool {
    match data {
        TensorData::Fp16(a) => a.iter().all(|v| v.is_finite()),
        TensorData::Fp32(a) => a.iter().all(|v| v.is_finite()),
        TensorData::Fp64(a) => a.iter().all(|v| v.is_finite()),
        _ => true,
    }
}

/// Runs one inference on the all-zero row and checks the answer against the metadata: every
/// declared output present with its datatype and shape, and no NaN or infinity. A model that
/// answers the row with an error of its own (5xx) fails; one that refuses the row as invalid
/// input (4xx: it is synthetic) passes, having at least loaded (a model
/// that answers a neutral row with them, such as weights that overflow FP32, would answer
/// real rows the same way).
pub(crate) async fn warm_up(model: &Servable) -> Result<()> {
    let metadata: &ModelMetadata = model.metadata();
    let fail = |why: String| Error::inference(&metadata.name, format!("warm-up failed: {why}"));
    let inputs: Vec<Tensor> = metadata.inputs.iter().map(zeros).collect();
    let outputs = match model.infer(inputs).await {
        Ok(outputs) => outputs,
        // The model refuses the synthetic row as input (a date column given "", a category
        // it never saw): the row proves nothing either way, so the version is not held back.
        Err(error) if error.status().is_client_error() => {
            tracing::debug!(model = %metadata.name, %error, "the warm-up row is not valid input for this model; skipped");
            return Ok(());
        }
        Err(error) => return Err(fail(error.to_string())),
    };
    for spec in &metadata.outputs {
        let Some(out) = outputs.iter().find(|t| t.name == spec.name) else {
            return Err(fail(format!("no output {:?}", spec.name)));
        };
        if out.data.datatype() != spec.datatype {
            return Err(fail(format!(
                "output {:?} is {}, declared {}",
                spec.name,
                out.data.datatype(),
                spec.datatype
            )));
        }
        if !spec.accepts_shape(out.data.shape()) {
            return Err(fail(format!(
                "output {:?} has shape {:?}, declared {:?}",
                spec.name,
                out.data.shape(),
                spec.shape
            )));
        }
        if !finite(&out.data) {
            return Err(fail(format!(
                "output {:?} is not finite (NaN or infinity)",
                spec.name
            )));
        }
    }
    Ok(())
}
