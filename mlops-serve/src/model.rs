//! The `Model` trait (synchronous, CPU-bound models) and `AsyncModel` (models that await),
//! and [`Servable`], the one handle the server keeps for either.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;

use crate::error::{Error, Result};
use crate::tensor::{Tensor, TensorSpec};

/// What the server reports about a model (`GET /v2/models/{name}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelMetadata {
    /// The model name, as it appears in URLs. Must be a valid `mlops_core::ModelName`.
    pub name: String,
    /// The version served, if the model is versioned (`/versions/{v}` routes).
    pub version: Option<String>,
    /// The platform, `<framework>_<format>`, for example `"mlops_linear"` or `"onnx_onnxv1"`.
    pub platform: String,
    /// The inputs, in the order the model receives them.
    pub inputs: Vec<TensorSpec>,
    /// The outputs, in the order the model returns them.
    pub outputs: Vec<TensorSpec>,
}

impl ModelMetadata {
    /// Whether requests to this model can be batched: dimension 0 of every input and output is
    /// `-1` (variable).
    pub fn batchable(&self) -> bool {
        !self.inputs.is_empty()
            && self
                .inputs
                .iter()
                .chain(&self.outputs)
                .all(|spec| spec.shape.first() == Some(&-1))
    }
}

/// A synchronous model: CPU-bound inference that may take a while.
///
/// The server never calls [`Model::infer`] on an async worker thread unless
/// [`Model::is_cheap`] says the call takes microseconds: otherwise it runs on tokio's blocking
/// pool (`spawn_blocking`), so health checks and other models keep answering.
///
/// Contract: `inputs` arrive validated against [`ModelMetadata::inputs`] (same names, in
/// the same order, matching datatypes, ranks and fixed dimensions). The result must hold one
/// tensor per entry of [`ModelMetadata::outputs`], by name; for a batchable model
/// (see [`ModelMetadata::batchable`]) dimension 0 of every output must equal dimension 0 of
/// the inputs, because the server splits batched outputs back per request along that
/// dimension.
///
/// ```
/// use mlops_serve::{Datatype, Model, ModelMetadata, Result, Tensor, TensorData, TensorSpec};
///
/// /// Doubles its input.
/// struct Double(ModelMetadata);
///
/// impl Model for Double {
///     fn metadata(&self) -> &ModelMetadata {
///         &self.0
///     }
///     fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
///         let x = inputs[0].data.as_array::<f32>().ok_or_else(|| mlops_serve::Error::invalid("x must be FP32"))?;
///         Ok(vec![Tensor::new("y", x.mapv(|v| v * 2.0))])
///     }
///     fn is_cheap(&self, _inputs: &[Tensor]) -> bool {
///         true
///     }
/// }
///
/// let model = Double(ModelMetadata {
///     name: "double".into(),
///     version: None,
///     platform: "custom".into(),
///     inputs: vec![TensorSpec::new("x", Datatype::Fp32, [-1])],
///     outputs: vec![TensorSpec::new("y", Datatype::Fp32, [-1])],
/// });
/// let out = model.infer(vec![Tensor::new("x", TensorData::from_vec(&[2], vec![1.0f32, 2.0])?)])?;
/// assert_eq!(out[0].data, TensorData::from_vec(&[2], vec![2.0f32, 4.0])?);
/// # Ok::<(), mlops_serve::Error>(())
/// ```
pub trait Model: Send + Sync + 'static {
    /// Name, version, platform, inputs and outputs.
    fn metadata(&self) -> &ModelMetadata;

    /// Runs inference. Errors built with [`Error::invalid`] become HTTP 400, any other 500.
    fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>>;

    /// Whether this call is cheap enough (a few microseconds) to run on the async worker thread
    /// instead of the blocking pool, saving a thread hand-off. Default `false`.
    fn is_cheap(&self, inputs: &[Tensor]) -> bool {
        let _ = inputs;
        false
    }
}

/// An asynchronous model: inference that awaits (a remote call, a GPU queue, a channel).
///
/// Same contract as [`Model`]. Its future runs on the async runtime, so it must not block.
#[async_trait::async_trait]
pub trait AsyncModel: Send + Sync + 'static {
    /// Name, version, platform, inputs and outputs.
    fn metadata(&self) -> &ModelMetadata;

    /// Runs inference.
    async fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>>;
}

/// A model as the server holds it: synchronous or asynchronous.
#[derive(Clone)]
pub enum Servable {
    /// A synchronous model.
    Sync(Arc<dyn Model>),
    /// An asynchronous model.
    Async(Arc<dyn AsyncModel>),
}

impl std::fmt::Debug for Servable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Servable::Sync(_) => "Sync",
            Servable::Async(_) => "Async",
        };
        f.debug_struct("Servable")
            .field("kind", &kind)
            .field("metadata", self.metadata())
            .finish()
    }
}

impl Servable {
    /// The model's metadata.
    pub fn metadata(&self) -> &ModelMetadata {
        match self {
            Servable::Sync(m) => m.metadata(),
            Servable::Async(m) => m.metadata(),
        }
    }

    /// Runs inference without blocking the async runtime: a synchronous model runs on the
    /// blocking pool unless [`Model::is_cheap`]; a panic inside the model becomes an error.
    pub async fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        match self {
            Servable::Sync(model) => {
                if model.is_cheap(&inputs) {
                    std::panic::catch_unwind(AssertUnwindSafe(|| model.infer(inputs)))
                        .unwrap_or_else(|_| Err(panicked(model.metadata())))
                } else {
                    let model = Arc::clone(model);
                    match tokio::task::spawn_blocking(move || model.infer(inputs)).await {
                        Ok(result) => result,
                        Err(_) => Err(panicked(self.metadata())),
                    }
                }
            }
            Servable::Async(model) => AssertUnwindSafe(model.infer(inputs))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err(panicked(model.metadata()))),
        }
    }
}

fn panicked(metadata: &ModelMetadata) -> Error {
    Error::inference(&metadata.name, "the model panicked")
}

impl From<Arc<dyn Model>> for Servable {
    fn from(model: Arc<dyn Model>) -> Self {
        Servable::Sync(model)
    }
}

impl From<Arc<dyn AsyncModel>> for Servable {
    fn from(model: Arc<dyn AsyncModel>) -> Self {
        Servable::Async(model)
    }
}
