//! ONNX models through [`tract-onnx`](https://crates.io/crates/tract-onnx) (feature `onnx`):
//! pure Rust, nothing downloaded or compiled from the artifact, no code executed from it.
//!
//! [`load`] reads an `.onnx` file, takes the model metadata from the ONNX graph, and builds an
//! optimized tract plan once. The plan is shared by every call: each inference runs on its
//! own state, so concurrent calls are safe. States are kept in small pools and reused
//! (tract resets them after each run): building one allocates per graph node, which cost
//! more than the whole inference of a small model. Each thread takes from and returns to
//! its own pool (one per thread shard): one shared pool moved its lock's cache line between the
//! worker cores twice per call. A small batchable model also gets a
//! second plan optimized for exactly one row, which single-row requests (the common case of
//! online serving) run on: with every dimension known, tract settles at load time what the
//! symbolic plan works out on each call.
//!
//! Small dense FP32 graphs (linear models, perceptrons: `MatMul`, `Gemm`, element-wise ops,
//! `Softmax`, `ai.onnx.ml.LinearRegressor`; the list is in the `dense_graph` module) also get
//! a straight-line program of plain loops, which answers requests of up to 65,536
//! multiply-adds without tract: on a one-row request tract's fixed cost per call was ten times
//! the arithmetic. The program is used only after it answered a probe input as the tract plan
//! did; any other graph, datatype or larger request runs on tract. [`OnnxModel::has_dense_program`]
//! tells which.
//!
//! # Metadata
//!
//! - Inputs are the graph inputs that are not initializers, outputs the graph outputs, both
//!   in graph order and with their ONNX names.
//! - Datatypes map one to one: `FLOAT`→`FP32`, `DOUBLE`→`FP64`, `FLOAT16`→`FP16`, the
//!   integers, `BOOL`, and `STRING`→`BYTES` (UTF-8 only). Other element types (complex,
//!   bfloat16, float8) are refused at load time.
//! - A dimension without a fixed value (a `dim_param` such as `"batch"`, or no value at all,
//!   as skl2onnx writes for the batch dimension) is `-1`. Unnamed variable dimensions 0 of all
//!   inputs are the same symbol, the batch dimension, so models whose inputs and outputs all
//!   start with `-1` are batched by the server. Output shapes come from tract's shape
//!   inference, so an output is `[-1, 1]` when the graph only says `[?, 1]` or nothing.
//! - The platform is `"onnx_onnxv1"`.
//!
//! External tensor data (`location` in the model) is read only from files inside the model's
//! directory, as tract enforces.
//!
//! ```no_run
//! use mlops_serve::runtime::onnx;
//!
//! let model = onnx::load(std::path::Path::new("model.onnx"), "iris", Some("1"))?;
//! let meta = model.metadata();
//! println!("{} takes {:?}", meta.name, meta.inputs);
//! # Ok::<(), mlops_serve::Error>(())
//! ```

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use ndarray::ArrayD;
use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as DimValue;
use tract_onnx::pb::type_proto::Value as TypeValue;
use tract_onnx::prelude::{
    Datum, DatumType, Framework, InferenceFact, InferenceModelExt, IntoRunnable, IntoTValue,
    IntoTensor, TDim, TValue, TVec, Tensor as TractTensor, ToDim, TypedRunnableModel,
    TypedSimpleState, tvec,
};

use crate::error::{Error, Result};
use crate::model::{Model, ModelMetadata};

mod dense;
mod dense_graph;
#[cfg(test)]
mod dense_tests;

use crate::shard::{self, Padded};
use crate::tensor::{Bytes, Datatype, Element, Tensor, TensorData, TensorSpec, f16};
use dense::Program;

/// The platform reported in the model metadata.
pub const PLATFORM: &str = "onnx_onnxv1";

/// Models at most this large (in initializer elements and graph nodes) run inline on the
/// async thread for small requests: their inference takes microseconds.
const CHEAP_PARAMETERS: usize = 1 << 16;
const CHEAP_NODES: usize = 64;
/// Requests with at most this many input elements count as small (see [`Model::is_cheap`]).
const CHEAP_ELEMENTS: usize = 4096;

/// Loads the ONNX model at `path` and serves it as `name` (and `version`).
///
/// This is what [`crate::runtime::load`] calls for `.onnx` files.
pub fn load(path: &Path, name: &str, version: Option<&str>) -> Result<Arc<dyn Model>> {
    Ok(Arc::new(OnnxModel::load(path, name, version)?))
}

/// Loads an ONNX model from the bytes of an `.onnx` file (`hint` is its name, for errors).
/// External tensor data cannot be read this way (there is no folder to read it from).
pub fn load_bytes(
    bytes: &[u8],
    hint: &str,
    name: &str,
    version: Option<&str>,
) -> Result<Arc<dyn Model>> {
    let model =
        OnnxModel::from_bytes(bytes, None, name, version).map_err(|reason| Error::Load {
            path: hint.into(),
            reason,
        })?;
    Ok(Arc::new(model))
}

/// Idle run states kept per pool (a pool per thread shard): more states than this only exist
/// while that many calls of one shard's threads run at once.
const POOLED_STATES: usize = 4;

/// An ONNX model with its optimized tract plans.
pub struct OnnxModel {
    metadata: ModelMetadata,
    /// The plan for any batch size.
    plan: Plan,
    /// The plan for single-row requests (small batchable models only).
    single_row: Option<Plan>,
    /// The dense evaluator's program, for small dense FP32 graphs it translates and that
    /// answered the probe as tract did.
    dense: Option<Program>,
    small: bool,
}

/// An optimized tract plan and its idle run states.
struct Plan {
    runnable: Arc<TypedRunnableModel>,
    /// Idle states of `runnable`, reset, ready for the next call: one pool per thread shard.
    states: Box<[Padded<Mutex<Vec<TypedSimpleState>>>]>,
}

impl Plan {
    fn new(runnable: Arc<TypedRunnableModel>) -> Self {
        Self {
            runnable,
            states: (0..shard::SHARDS).map(|_| Padded::default()).collect(),
        }
    }

    /// Runs the plan on a state from the calling thread's pool (or a new one when it has
    /// none). A state whose run failed is dropped, not pooled: tract resets a state only
    /// after a successful run.
    fn run(&self, values: TVec<TValue>) -> Result<TVec<TValue>, String> {
        // The call is synchronous: it ends on the thread (so the pool) it began on.
        let pool = &self.states[shard::index()].0;
        let pooled = pool.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut state = match pooled {
            Some(state) => state,
            None => self.runnable.spawn().map_err(|e| format!("{e:#}"))?,
        };
        let results = state.run(values).map_err(|e| format!("{e:#}"))?;
        let mut pool = pool.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < POOLED_STATES {
            pool.push(state);
        }
        Ok(results)
    }
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("metadata", &self.metadata)
            .field("small", &self.small)
            .finish_non_exhaustive()
    }
}

impl OnnxModel {
    /// Reads, checks and optimizes the ONNX model at `path`.
    pub fn load(path: &Path, name: &str, version: Option<&str>) -> Result<Self> {
        // Protobuf caps a message at 2 GiB (larger models keep tensors in external data), so
        // no valid ONNX file is larger; a FIFO or device is refused, not waited on.
        let bytes = super::read_model_file(path, 2 << 30)?;
        let dir = path.parent().and_then(Path::to_str);
        Self::from_bytes(&bytes, dir, name, version).map_err(|reason| Error::Load {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Builds the model from the bytes of an ONNX file. External tensor data, if any, is read
    /// from `model_dir` (and only from inside it).
    fn from_bytes(
        bytes: &[u8],
        model_dir: Option<&str>,
        name: &str,
        version: Option<&str>,
    ) -> Result<Self, String> {
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut &*bytes)
            .map_err(|e| format!("not an ONNX model: {e:#}"))?;
        Self::from_proto(&proto, model_dir, name, version)
    }

    /// Builds the model from a decoded ONNX file.
    fn from_proto(
        proto: &pb::ModelProto,
        model_dir: Option<&str>,
        name: &str,
        version: Option<&str>,
    ) -> Result<Self, String> {
        let onnx = tract_onnx::onnx();
        let graph = proto.graph.as_ref().ok_or("the ONNX model has no graph")?;
        let initializers: HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let graph_inputs: Vec<&pb::ValueInfoProto> = graph
            .input
            .iter()
            .filter(|i| !initializers.contains(i.name.as_str()))
            .collect();
        let parameters: usize = graph
            .initializer
            .iter()
            .map(|t| {
                t.dims
                    .iter()
                    .map(|&d| usize::try_from(d).unwrap_or(0))
                    .product::<usize>()
            })
            .sum();
        let nodes = graph.node.len();

        let parsed = onnx
            .parse(proto, model_dir)
            .map_err(|e| format!("cannot translate the ONNX graph: {e:#}"))?;
        if !parsed.unresolved_inputs.is_empty() {
            return Err(format!(
                "the ONNX graph uses undefined values {:?}",
                parsed.unresolved_inputs
            ));
        }
        let mut model = parsed.model;
        let small = parameters <= CHEAP_PARAMETERS && nodes <= CHEAP_NODES;
        let mut single_row_model = small.then(|| model.clone());
        if model.inputs.len() != graph_inputs.len() {
            return Err(format!(
                "the ONNX graph has {} inputs but tract sees {}",
                graph_inputs.len(),
                model.inputs.len()
            ));
        }

        // Input facts: fixed dims stay, named dims become their symbol, unnamed dims become the
        // shared batch symbol (dim 0) or a symbol of their own.
        let batch = model.symbols.sym("batch");
        let mut inputs = Vec::with_capacity(graph_inputs.len());
        for (ix, input) in graph_inputs.iter().enumerate() {
            let (elem_type, dims) = tensor_type(input)?;
            let datatype = datatype_of(elem_type, &input.name)?;
            let mut spec_shape = Vec::with_capacity(dims.len());
            let mut fact_shape: TVec<TDim> = TVec::new();
            for (d, dim) in dims.iter().enumerate() {
                match dim {
                    Some(DimValue::DimValue(v)) if *v >= 0 => {
                        spec_shape.push(*v);
                        fact_shape.push(
                            usize::try_from(*v)
                                .map_err(|_| {
                                    format!("dimension {v} of {} is too large", input.name)
                                })?
                                .to_dim(),
                        );
                    }
                    Some(DimValue::DimParam(p)) if !p.is_empty() && p != "?" => {
                        spec_shape.push(-1);
                        fact_shape.push(model.symbols.sym(&symbol_name(p)).to_dim());
                    }
                    _ if d == 0 => {
                        spec_shape.push(-1);
                        fact_shape.push(batch.to_dim());
                    }
                    _ => {
                        spec_shape.push(-1);
                        fact_shape.push(model.symbols.sym(&format!("in{ix}_d{d}")).to_dim());
                    }
                }
            }
            if single_row_model.is_some() {
                // The same facts with one row; no plan of its own unless dimension 0 varies.
                let mut one_row = fact_shape.clone();
                match (spec_shape.first(), one_row.first_mut()) {
                    (Some(-1), Some(first)) => *first = 1.to_dim(),
                    _ => single_row_model = None,
                }
                if let Some(single) = single_row_model.as_mut() {
                    let fact = InferenceFact::dt_shape(datum_type_of(datatype), one_row);
                    if single.set_input_fact(ix, fact).is_err() {
                        single_row_model = None;
                    }
                }
            }
            let fact = InferenceFact::dt_shape(datum_type_of(datatype), fact_shape);
            model
                .set_input_fact(ix, fact)
                .map_err(|e| format!("input {:?}: {e:#}", input.name))?;
            inputs.push(TensorSpec::new(input.name.clone(), datatype, spec_shape));
        }

        let typed = model
            .into_optimized()
            .map_err(|e| format!("cannot optimize the ONNX graph: {e:#}"))?;
        let output_outlets = typed
            .output_outlets()
            .map_err(|e| format!("{e:#}"))?
            .to_vec();
        if output_outlets.len() != graph.output.len() {
            return Err(format!(
                "the ONNX graph has {} outputs but tract sees {}",
                graph.output.len(),
                output_outlets.len()
            ));
        }
        let mut outputs = Vec::with_capacity(output_outlets.len());
        for (outlet, output) in output_outlets.iter().zip(&graph.output) {
            let fact = typed.outlet_fact(*outlet).map_err(|e| format!("{e:#}"))?;
            let datatype = datatype_of_datum(fact.datum_type).ok_or_else(|| {
                format!(
                    "output {:?} has element type {:?}, which has no OIP datatype",
                    output.name, fact.datum_type
                )
            })?;
            let shape = fact
                .shape
                .iter()
                .map(|d| match d.to_i64() {
                    Ok(v) if v >= 0 => v,
                    _ => -1,
                })
                .collect::<Vec<i64>>();
            outputs.push(TensorSpec::new(output.name.clone(), datatype, shape));
        }
        let plan = typed
            .into_runnable()
            .map_err(|e| format!("cannot plan the ONNX graph: {e:#}"))?;
        let metadata = ModelMetadata {
            name: name.to_owned(),
            version: version.map(str::to_owned),
            platform: PLATFORM.to_owned(),
            inputs,
            outputs,
        };
        // Only worth it (and only valid to split by rows) for a batchable model; a graph that
        // cannot be planned for one row keeps the general plan alone.
        let single_row = single_row_model
            .filter(|_| metadata.batchable())
            .and_then(|model| {
                model
                    .into_optimized()
                    .and_then(|typed| typed.into_runnable())
                    .map_err(|e| tracing::debug!(model = name, "no single-row plan: {e:#}"))
                    .ok()
            })
            .map(Plan::new);
        let plan = Plan::new(plan);
        let dense = if small {
            dense_program(graph, &metadata, &plan)
                .map_err(|reason| {
                    tracing::debug!(model = name, "ONNX graph runs on tract alone: {reason}");
                })
                .ok()
        } else {
            None
        };
        Ok(Self {
            metadata,
            plan,
            single_row,
            dense,
            small,
        })
    }

    /// Whether this model runs small requests on the dense evaluator rather than tract.
    pub fn has_dense_program(&self) -> bool {
        self.dense.is_some()
    }

    /// The dense evaluator's outputs for `inputs`, or `None` when they are not for it (not one
    /// FP32 `[rows, k]` tensor the model accepts, or too much work, where tract's kernels win).
    fn run_dense(&self, inputs: &[Tensor]) -> Option<Vec<Tensor>> {
        let program = self.dense.as_ref()?;
        let [input] = inputs else { return None };
        let TensorData::Fp32(x) = &input.data else {
            return None;
        };
        let &[rows, width] = x.shape() else {
            return None;
        };
        if width != program.input_width()
            || rows.saturating_mul(program.cost_per_row()) > DENSE_MAX_WORK
            || !self.metadata.inputs[0].accepts_shape(x.shape())
        {
            return None;
        }
        let values = x.as_slice()?;
        let outputs = program.run(values, rows);
        let mut tensors = Vec::with_capacity(outputs.len());
        for ((values, spec), width) in outputs
            .into_iter()
            .zip(&self.metadata.outputs)
            .zip(program.output_widths())
        {
            // The shape always fits (rows · width values); a failure would be a bug, so the
            // call falls back to tract rather than answer an error.
            let data = TensorData::from_vec(&[rows, width], values).ok()?;
            tensors.push(Tensor::new(spec.name.clone(), data));
        }
        Some(tensors)
    }

    /// Whether this model has a plan for single-row requests.
    pub fn has_single_row_plan(&self) -> bool {
        self.single_row.is_some()
    }

    fn inference_error(&self, message: impl std::fmt::Display) -> Error {
        Error::inference(&self.metadata.name, message.to_string())
    }
}

impl Model for OnnxModel {
    fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }

    fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        if inputs.len() != self.metadata.inputs.len() {
            return Err(Error::invalid(format!(
                "model {:?} takes {} inputs, got {}",
                self.metadata.name,
                self.metadata.inputs.len(),
                inputs.len()
            )));
        }
        if let Some(outputs) = self.run_dense(&inputs) {
            return Ok(outputs);
        }
        let one_row = inputs.iter().all(|t| t.data.shape().first() == Some(&1));
        let plan = match &self.single_row {
            Some(single) if one_row => single,
            _ => &self.plan,
        };
        let mut values: TVec<TValue> = TVec::with_capacity(inputs.len());
        for (tensor, spec) in inputs.into_iter().zip(&self.metadata.inputs) {
            if tensor.data.datatype() != spec.datatype {
                return Err(Error::invalid(format!(
                    "input {:?} must be {}, got {}",
                    spec.name,
                    spec.datatype.as_str(),
                    tensor.data.datatype().as_str()
                )));
            }
            values.push(to_tract(tensor.data, &spec.name)?);
        }
        let results = plan.run(values).map_err(|e| self.inference_error(e))?;
        if results.len() != self.metadata.outputs.len() {
            return Err(self.inference_error(format!(
                "the plan returned {} outputs, expected {}",
                results.len(),
                self.metadata.outputs.len()
            )));
        }
        results
            .into_iter()
            .zip(&self.metadata.outputs)
            .map(|(value, spec)| {
                from_tract(value)
                    .map(|data| Tensor::new(spec.name.clone(), data))
                    .map_err(|e| self.inference_error(format!("output {:?}: {e}", spec.name)))
            })
            .collect()
    }

    fn is_cheap(&self, inputs: &[Tensor]) -> bool {
        self.small && inputs.iter().map(|t| t.data.len()).sum::<usize>() <= CHEAP_ELEMENTS
    }
}

/// Requests up to this many multiply-adds (rows × the program's work per row, ~10 µs) run on
/// the dense evaluator; above it tract's packed kernels win and its fixed cost is amortized.
const DENSE_MAX_WORK: usize = 1 << 16;

/// Rows of the probe input that a dense program must answer as tract does before it serves.
const PROBE_ROWS: usize = 3;

/// The dense program of `graph`, if it translates and answers a probe input as `plan` does.
fn dense_program(
    graph: &pb::GraphProto,
    metadata: &ModelMetadata,
    plan: &Plan,
) -> Result<Program, String> {
    let ([input], [_, ..]) = (metadata.inputs.as_slice(), metadata.outputs.as_slice()) else {
        return Err("not one input".into());
    };
    let width = match input.shape.as_slice() {
        [_, w] if *w > 0 && input.datatype == Datatype::Fp32 => {
            usize::try_from(*w).map_err(|_| format!("width {w}"))?
        }
        shape => {
            return Err(format!(
                "input {} {shape:?} is not FP32 [rows, k]",
                input.datatype.as_str()
            ));
        }
    };
    // A program that could not run even one row within the budget is never used; refusing
    // it before translating also bounds the probe below (a file may declare any width).
    if width > DENSE_MAX_WORK {
        return Err(format!("input width {width} is over the dense budget"));
    }
    if !input.accepts_shape(&[PROBE_ROWS, width]) {
        return Err(format!("input shape {:?} takes no probe", input.shape));
    }
    let program = dense_graph::translate(graph, &input.name, width, DENSE_MAX_WORK)?;
    // Values in [-2, 2) that are exact in FP32 and differ from row to row and column to column.
    let probe: Vec<f32> = (0..PROBE_ROWS * width)
        .map(|i| ((i * 37 + 11) % 64) as f32 / 16.0 - 2.0)
        .collect();
    let tensor = ArrayD::from_shape_vec(vec![PROBE_ROWS, width], probe.clone())
        .map_err(|e| e.to_string())?;
    let expected = plan
        .run(tvec![tensor.into_tvalue()])
        .map_err(|e| format!("tract failed on the probe: {e}"))?
        .into_iter()
        .map(|value| match from_tract(value)? {
            TensorData::Fp32(a) if a.ndim() == 2 && a.shape()[0] == PROBE_ROWS => {
                Ok(a.iter().copied().collect())
            }
            other => Err(format!(
                "a tract output of {} {:?}",
                other.datatype().as_str(),
                other.shape()
            )),
        })
        .collect::<Result<Vec<Vec<f32>>, String>>()?;
    // Also checks that each output has the program's width: sizes must match.
    if !program.agrees_with(&probe, PROBE_ROWS, &expected) {
        return Err("the dense program does not answer the probe as tract does".into());
    }
    Ok(program)
}

/// The element type and dims of a graph input, which must be a tensor with a known rank.
fn tensor_type(input: &pb::ValueInfoProto) -> Result<(i32, Vec<Option<DimValue>>), String> {
    let Some(TypeValue::TensorType(tensor)) = input.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(format!("input {:?} is not a tensor", input.name));
    };
    let shape = tensor
        .shape
        .as_ref()
        .ok_or_else(|| format!("input {:?} has no shape (unknown rank)", input.name))?;
    Ok((
        tensor.elem_type,
        shape.dim.iter().map(|d| d.value.clone()).collect(),
    ))
}

/// A tract symbol name for an ONNX `dim_param` (letters, digits and `_` only).
fn symbol_name(param: &str) -> String {
    let cleaned: String = param
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if cleaned.starts_with(|c: char| c.is_ascii_alphabetic()) {
        cleaned
    } else {
        format!("p_{cleaned}")
    }
}

/// The OIP datatype of an ONNX element type.
fn datatype_of(elem_type: i32, name: &str) -> Result<Datatype, String> {
    let datatype = match DataType::try_from(elem_type) {
        Ok(DataType::Float) => Datatype::Fp32,
        Ok(DataType::Double) => Datatype::Fp64,
        Ok(DataType::Float16) => Datatype::Fp16,
        Ok(DataType::Uint8) => Datatype::Uint8,
        Ok(DataType::Uint16) => Datatype::Uint16,
        Ok(DataType::Uint32) => Datatype::Uint32,
        Ok(DataType::Uint64) => Datatype::Uint64,
        Ok(DataType::Int8) => Datatype::Int8,
        Ok(DataType::Int16) => Datatype::Int16,
        Ok(DataType::Int32) => Datatype::Int32,
        Ok(DataType::Int64) => Datatype::Int64,
        Ok(DataType::Bool) => Datatype::Bool,
        Ok(DataType::String) => Datatype::Bytes,
        Ok(other) => {
            return Err(format!(
                "input {name:?} has ONNX element type {other:?}, which has no OIP datatype"
            ));
        }
        Err(_) => {
            return Err(format!(
                "input {name:?} has unknown ONNX element type {elem_type}"
            ));
        }
    };
    Ok(datatype)
}

/// The OIP datatype of a tract datum type, if it has one.
fn datatype_of_datum(datum: DatumType) -> Option<Datatype> {
    Some(match datum {
        DatumType::Bool => Datatype::Bool,
        DatumType::U8 => Datatype::Uint8,
        DatumType::U16 => Datatype::Uint16,
        DatumType::U32 => Datatype::Uint32,
        DatumType::U64 => Datatype::Uint64,
        DatumType::I8 => Datatype::Int8,
        DatumType::I16 => Datatype::Int16,
        DatumType::I32 => Datatype::Int32,
        DatumType::I64 => Datatype::Int64,
        DatumType::F16 => Datatype::Fp16,
        DatumType::F32 => Datatype::Fp32,
        DatumType::F64 => Datatype::Fp64,
        DatumType::String => Datatype::Bytes,
        _ => return None,
    })
}

/// The tract datum type of an OIP datatype.
fn datum_type_of(datatype: Datatype) -> DatumType {
    match datatype {
        Datatype::Bool => DatumType::Bool,
        Datatype::Uint8 => DatumType::U8,
        Datatype::Uint16 => DatumType::U16,
        Datatype::Uint32 => DatumType::U32,
        Datatype::Uint64 => DatumType::U64,
        Datatype::Int8 => DatumType::I8,
        Datatype::Int16 => DatumType::I16,
        Datatype::Int32 => DatumType::I32,
        Datatype::Int64 => DatumType::I64,
        Datatype::Fp16 => DatumType::F16,
        Datatype::Fp32 => DatumType::F32,
        Datatype::Fp64 => DatumType::F64,
        Datatype::Bytes => DatumType::String,
    }
}

/// Moves a request tensor into tract. BYTES elements must be UTF-8 (tract strings).
fn to_tract(data: TensorData, name: &str) -> Result<TValue> {
    Ok(match data {
        TensorData::Bool(a) => a.into_tvalue(),
        TensorData::Uint8(a) => a.into_tvalue(),
        TensorData::Uint16(a) => a.into_tvalue(),
        TensorData::Uint32(a) => a.into_tvalue(),
        TensorData::Uint64(a) => a.into_tvalue(),
        TensorData::Int8(a) => a.into_tvalue(),
        TensorData::Int16(a) => a.into_tvalue(),
        TensorData::Int32(a) => a.into_tvalue(),
        TensorData::Int64(a) => a.into_tvalue(),
        TensorData::Fp16(a) => a.into_tvalue(),
        TensorData::Fp32(a) => a.into_tvalue(),
        TensorData::Fp64(a) => a.into_tvalue(),
        TensorData::Bytes(a) => {
            let mut strings = Vec::with_capacity(a.len());
            for (i, element) in a.iter().enumerate() {
                let s = std::str::from_utf8(element).map_err(|_| {
                    Error::invalid(format!(
                        "element {i} of BYTES input {name:?} is not UTF-8, which ONNX strings must be"
                    ))
                })?;
                strings.push(s.to_owned());
            }
            ArrayD::from_shape_vec(a.raw_dim(), strings)
                .map_err(|e| Error::invalid(format!("input {name:?}: {e}")))?
                .into_tvalue()
        }
    })
}

/// Moves a tract output into a response tensor.
fn from_tract(value: TValue) -> Result<TensorData, String> {
    let tensor: TractTensor = value.into_tensor();
    let datum = tensor.datum_type();
    // A copy of the values into a plain vector (tract's storage is aligned its own way):
    // cheaper than going through an ndarray view of the tensor.
    fn array<T: Datum + Element>(tensor: &TractTensor) -> Result<TensorData, String> {
        let values = tensor
            .try_as_plain_ram()
            .and_then(|plain| plain.as_slice::<T>().map(<[T]>::to_vec))
            .map_err(|e| format!("{e:#}"))?;
        TensorData::from_vec(tensor.shape(), values).map_err(|e| e.to_string())
    }
    match datum {
        DatumType::Bool => array::<bool>(&tensor),
        DatumType::U8 => array::<u8>(&tensor),
        DatumType::U16 => array::<u16>(&tensor),
        DatumType::U32 => array::<u32>(&tensor),
        DatumType::U64 => array::<u64>(&tensor),
        DatumType::I8 => array::<i8>(&tensor),
        DatumType::I16 => array::<i16>(&tensor),
        DatumType::I32 => array::<i32>(&tensor),
        DatumType::I64 => array::<i64>(&tensor),
        DatumType::F16 => array::<f16>(&tensor),
        DatumType::F32 => array::<f32>(&tensor),
        DatumType::F64 => array::<f64>(&tensor),
        DatumType::String => {
            let strings = tensor
                .into_plain_array::<String>()
                .map_err(|e| format!("{e:#}"))?;
            Ok(TensorData::Bytes(strings.mapv(Bytes::from)))
        }
        other => Err(format!("element type {other:?} has no OIP datatype")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datatypes_round_trip_through_tract() {
        for datatype in Datatype::ALL {
            assert_eq!(datatype_of_datum(datum_type_of(datatype)), Some(datatype));
        }
    }

    #[test]
    fn dim_params_become_valid_symbol_names() {
        assert_eq!(symbol_name("batch_size"), "batch_size");
        assert_eq!(symbol_name("N"), "N");
        assert_eq!(symbol_name("1st dim"), "p_1st_dim");
        assert_eq!(symbol_name("a+b"), "a_b");
    }

    #[test]
    fn garbage_is_not_an_onnx_model() {
        let err = OnnxModel::from_bytes(b"\x08\x07garbage that is not protobuf", None, "m", None)
            .expect_err("garbage must not load");
        assert!(!err.is_empty());
        let err =
            OnnxModel::from_bytes(&[], None, "m", None).expect_err("an empty file has no graph");
        assert!(err.contains("no graph"), "{err}");
    }
}
