//! Decoding `$inference_request` (JSON, with or without the binary tensor data extension)
//! against a model's metadata.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::{self, Visitor};
use serde_json::value::RawValue;

use super::common_request;
use super::elements::{binary_tensor, json_tensor};
use crate::error::{Error, Result};
use crate::model::ModelMetadata;
use crate::tensor::{Datatype, Tensor, TensorData};

/// At most this many input tensors per request.
pub(crate) const MAX_TENSORS: usize = 256;
/// At most this many dimensions per tensor.
pub(crate) const MAX_RANK: usize = 32;

/// The request parameters the server acts on; others are accepted and ignored.
#[derive(Deserialize, Default)]
pub(crate) struct Params {
    #[serde(default)]
    binary_data_output: Option<bool>,
    #[serde(default)]
    binary_data_size: Option<u64>,
    #[serde(default)]
    binary_data: Option<bool>,
}

#[derive(Deserialize)]
struct RawRequest<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(default)]
    parameters: Option<Params>,
    inputs: Vec<RawInput<'a>>,
    #[serde(borrow, default)]
    outputs: Option<Vec<RawOutput<'a>>>,
}

#[derive(Deserialize)]
struct RawInput<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    shape: Shape,
    #[serde(borrow)]
    datatype: Cow<'a, str>,
    #[serde(default)]
    parameters: Option<Params>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawOutput<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default)]
    parameters: Option<Params>,
}

/// A request shape: non-negative integers only.
struct Shape(Vec<usize>);

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;
        impl<'v> Visitor<'v> for ShapeVisitor {
            type Value = Shape;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of non-negative integer dimensions")
            }
            fn visit_seq<A: de::SeqAccess<'v>>(self, mut seq: A) -> Result<Shape, A::Error> {
                let mut dims = Vec::with_capacity(4);
                while let Some(dim) = seq.next_element::<Dim>()? {
                    if dims.len() == MAX_RANK {
                        return Err(de::Error::custom(format!(
                            "shape has more than {MAX_RANK} dimensions"
                        )));
                    }
                    dims.push(dim.0);
                }
                Ok(Shape(dims))
            }
        }
        deserializer.deserialize_seq(ShapeVisitor)
    }
}

struct Dim(usize);

impl<'de> Deserialize<'de> for Dim {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DimVisitor;
        impl<'de> Visitor<'de> for DimVisitor {
            type Value = Dim;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer dimension")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dim, E> {
                usize::try_from(v)
                    .map(Dim)
                    .map_err(|_| E::custom(format!("dimension {v} is too large")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dim, E> {
                Err(E::custom(format!("negative dimension {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dim, E> {
                Err(E::custom(format!("dimension {v} is not an integer")))
            }
        }
        deserializer.deserialize_any(DimVisitor)
    }
}

/// Which outputs to return, and how.
#[derive(Clone, Debug)]
pub(crate) struct OutputChoice {
    /// Index into the model's metadata outputs.
    pub(crate) index: usize,
    /// Return as binary data.
    pub(crate) binary: bool,
}

/// A decoded, validated request.
#[derive(Debug)]
pub(crate) struct InferRequest {
    /// The request id to echo.
    pub(crate) id: Option<String>,
    /// One tensor per metadata input, in metadata order.
    pub(crate) inputs: Vec<Tensor>,
    /// The outputs to return, in the order to return them.
    pub(crate) outputs: Cow<'static, [OutputChoice]>,
    /// Rows along dimension 0 (1 for rank-0 inputs).
    pub(crate) rows: usize,
}

/// Decodes `body` for `metadata`. `header_len` is `Inference-Header-Content-Length`, if sent.
///
/// A plain JSON request in the common shape takes [`common_request::decode`] (one pass);
/// everything else, every error included, the general decoder.
pub(crate) fn decode(
    body: &Bytes,
    header_len: Option<usize>,
    metadata: &ModelMetadata,
) -> Result<InferRequest> {
    if header_len.is_none()
        && let Some(request) = common_request::decode(body, metadata)
    {
        return Ok(request);
    }
    decode_general(body, header_len, metadata)
}

/// Decodes any request, and names what is wrong with a bad one.
pub(crate) fn decode_general(
    body: &Bytes,
    header_len: Option<usize>,
    metadata: &ModelMetadata,
) -> Result<InferRequest> {
    let (json, mut binary) = match header_len {
        Some(len) if len > body.len() => {
            return Err(Error::invalid(format!(
                "Inference-Header-Content-Length {len} is larger than the body of {} bytes",
                body.len()
            )));
        }
        Some(len) => (&body[..len], body.slice(len..)),
        None => (&body[..], Bytes::new()),
    };
    // serde reads a struct from a JSON array too (fields by position): only an object is an
    // inference request.
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::invalid(
            "malformed inference request: expected a JSON object",
        ));
    }
    let raw: RawRequest<'_> = serde_json::from_slice(json)
        .map_err(|e| Error::invalid(format!("malformed inference request: {e}")))?;
    if raw.inputs.len() > MAX_TENSORS {
        return Err(Error::invalid(format!(
            "{} inputs is more than the limit of {MAX_TENSORS}",
            raw.inputs.len()
        )));
    }
    let mut slots: Vec<Option<Tensor>> = Vec::with_capacity(metadata.inputs.len());
    slots.resize_with(metadata.inputs.len(), || None);
    for input in &raw.inputs {
        let Some(position) = metadata.inputs.iter().position(|s| s.name == input.name) else {
            return Err(Error::invalid(format!(
                "unexpected input {:?} for model {:?}",
                input.name, metadata.name
            )));
        };
        let spec = &metadata.inputs[position];
        let Some(datatype) = Datatype::parse(&input.datatype) else {
            return Err(Error::invalid(format!(
                "input {:?} has unknown datatype {:?}",
                input.name, input.datatype
            )));
        };
        if datatype != spec.datatype {
            return Err(Error::invalid(format!(
                "input {:?} has datatype {datatype}, model {:?} expects {}",
                input.name, metadata.name, spec.datatype
            )));
        }
        let shape = &input.shape.0;
        if !spec.accepts_shape(shape) {
            return Err(Error::invalid(format!(
                "input {:?} has shape {shape:?}, model {:?} expects {:?}",
                input.name, metadata.name, spec.shape
            )));
        }
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "shape {shape:?} of input {:?} overflows",
                    input.name
                ))
            })?;
        let binary_size = input.parameters.as_ref().and_then(|p| p.binary_data_size);
        let data = match (input.data, binary_size) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(format!(
                    "input {:?} has both data and binary_data_size",
                    input.name
                )));
            }
            (None, None) => {
                return Err(Error::invalid(format!(
                    "input {:?} has no data",
                    input.name
                )));
            }
            (Some(raw), None) => decode_json(raw.get(), datatype, shape, count)?,
            (None, Some(size)) => {
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                if size > binary.len() {
                    return Err(Error::invalid(format!(
                        "input {:?} has binary_data_size {size} but only {} binary bytes remain",
                        input.name,
                        binary.len()
                    )));
                }
                if let Some(element) = datatype.element_size()
                    && count.checked_mul(element) != Some(size)
                {
                    {
                        return Err(Error::invalid(format!(
                            "input {:?} has binary_data_size {size}, shape {shape:?} of {datatype} needs {}",
                            input.name,
                            count.saturating_mul(element)
                        )));
                    }
                }
                let bytes = binary.split_to(size);
                decode_binary(&bytes, datatype, shape, count)?
            }
        };
        if slots[position].is_some() {
            return Err(Error::invalid(format!(
                "input {:?} is given twice",
                input.name
            )));
        }
        slots[position] = Some(Tensor {
            name: spec.name.clone(),
            data,
        });
    }
    if !binary.is_empty() {
        return Err(Error::invalid(format!(
            "{} binary bytes are not claimed by any input's binary_data_size",
            binary.len()
        )));
    }
    let mut inputs = Vec::with_capacity(slots.len());
    for (slot, spec) in slots.into_iter().zip(&metadata.inputs) {
        match slot {
            Some(tensor) => inputs.push(tensor),
            None => {
                return Err(Error::invalid(format!(
                    "missing input {:?} for model {:?}",
                    spec.name, metadata.name
                )));
            }
        }
    }
    let rows = inputs
        .first()
        .map_or(1, |t| t.data.shape().first().copied().unwrap_or(1));
    let default_binary = raw
        .parameters
        .as_ref()
        .and_then(|p| p.binary_data_output)
        .unwrap_or(false);
    let outputs = match &raw.outputs {
        None => all_outputs(metadata.outputs.len(), default_binary),
        Some(requested) => {
            let mut chosen = Vec::with_capacity(requested.len());
            for output in requested {
                let Some(index) = metadata.outputs.iter().position(|s| s.name == output.name)
                else {
                    return Err(Error::invalid(format!(
                        "unexpected output {:?} for model {:?}",
                        output.name, metadata.name
                    )));
                };
                if chosen.iter().any(|c: &OutputChoice| c.index == index) {
                    return Err(Error::invalid(format!(
                        "output {:?} is requested more than once",
                        output.name
                    )));
                }
                let binary = output
                    .parameters
                    .as_ref()
                    .and_then(|p| p.binary_data)
                    .unwrap_or(default_binary);
                chosen.push(OutputChoice { index, binary });
            }
            Cow::Owned(chosen)
        }
    };
    Ok(InferRequest {
        id: raw.id.map(Cow::into_owned),
        inputs,
        outputs,
        rows,
    })
}

/// Every output of a model with `count` outputs, in order: what a request that names none
/// gets. Up to four need no allocation.
pub(crate) fn all_outputs(count: usize, binary: bool) -> Cow<'static, [OutputChoice]> {
    const fn each(binary: bool) -> [OutputChoice; 4] {
        [
            OutputChoice { index: 0, binary },
            OutputChoice { index: 1, binary },
            OutputChoice { index: 2, binary },
            OutputChoice { index: 3, binary },
        ]
    }
    const JSON: [OutputChoice; 4] = each(false);
    const BINARY: [OutputChoice; 4] = each(true);
    let table: &'static [OutputChoice; 4] = if binary { &BINARY } else { &JSON };
    match table.get(..count) {
        Some(first) => Cow::Borrowed(first),
        None => Cow::Owned(
            (0..count)
                .map(|index| OutputChoice { index, binary })
                .collect(),
        ),
    }
}

fn decode_json(raw: &str, datatype: Datatype, shape: &[usize], count: usize) -> Result<TensorData> {
    match datatype {
        Datatype::Bool => json_tensor::<bool>(raw, shape, count),
        Datatype::Uint8 => json_tensor::<u8>(raw, shape, count),
        Datatype::Uint16 => json_tensor::<u16>(raw, shape, count),
        Datatype::Uint32 => json_tensor::<u32>(raw, shape, count),
        Datatype::Uint64 => json_tensor::<u64>(raw, shape, count),
        Datatype::Int8 => json_tensor::<i8>(raw, shape, count),
        Datatype::Int16 => json_tensor::<i16>(raw, shape, count),
        Datatype::Int32 => json_tensor::<i32>(raw, shape, count),
        Datatype::Int64 => json_tensor::<i64>(raw, shape, count),
        Datatype::Fp16 => json_tensor::<half::f16>(raw, shape, count),
        Datatype::Fp32 => json_tensor::<f32>(raw, shape, count),
        Datatype::Fp64 => json_tensor::<f64>(raw, shape, count),
        Datatype::Bytes => json_tensor::<Bytes>(raw, shape, count),
    }
}

fn decode_binary(
    bytes: &Bytes,
    datatype: Datatype,
    shape: &[usize],
    count: usize,
) -> Result<TensorData> {
    match datatype {
        Datatype::Bool => binary_tensor::<bool>(bytes, shape, count),
        Datatype::Uint8 => binary_tensor::<u8>(bytes, shape, count),
        Datatype::Uint16 => binary_tensor::<u16>(bytes, shape, count),
        Datatype::Uint32 => binary_tensor::<u32>(bytes, shape, count),
        Datatype::Uint64 => binary_tensor::<u64>(bytes, shape, count),
        Datatype::Int8 => binary_tensor::<i8>(bytes, shape, count),
        Datatype::Int16 => binary_tensor::<i16>(bytes, shape, count),
        Datatype::Int32 => binary_tensor::<i32>(bytes, shape, count),
        Datatype::Int64 => binary_tensor::<i64>(bytes, shape, count),
        Datatype::Fp16 => binary_tensor::<half::f16>(bytes, shape, count),
        Datatype::Fp32 => binary_tensor::<f32>(bytes, shape, count),
        Datatype::Fp64 => binary_tensor::<f64>(bytes, shape, count),
        Datatype::Bytes => binary_tensor::<Bytes>(bytes, shape, count),
    }
}
