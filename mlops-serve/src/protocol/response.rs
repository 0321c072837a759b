//! Encoding `$inference_response`: JSON, or a JSON header followed by binary tensors.

use bytes::Bytes;
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

use super::common_response;
use super::elements::Codec;
use super::request::OutputChoice;
use crate::error::{Error, Result};
use crate::model::ModelMetadata;
use crate::tensor::{ArrayD, Tensor, TensorData, each_variant};

/// An encoded response body.
#[derive(Debug)]
pub(crate) struct Encoded {
    /// The whole body.
    pub(crate) body: Vec<u8>,
    /// The length of the JSON header when binary outputs follow it.
    pub(crate) header_len: Option<usize>,
}

#[derive(Serialize)]
struct BinarySize {
    binary_data_size: usize,
}

/// Tensor values as a flat JSON array.
struct JsonData<'a>(&'a TensorData);

impl Serialize for JsonData<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            TensorData::Fp16(a) => flat(serializer, a, |v| F32(v.to_f32())),
            TensorData::Bytes(a) => {
                let mut seq = serializer.serialize_seq(Some(a.len()))?;
                for v in a {
                    let text = std::str::from_utf8(v).map_err(|_| {
                        serde::ser::Error::custom(
                            "a BYTES output holds non-UTF-8 bytes; request it as binary data",
                        )
                    })?;
                    seq.serialize_element(text)?;
                }
                seq.end()
            }
            TensorData::Bool(a) => flat(serializer, a, |v| *v),
            TensorData::Uint8(a) => flat(serializer, a, |v| *v),
            TensorData::Uint16(a) => flat(serializer, a, |v| *v),
            TensorData::Uint32(a) => flat(serializer, a, |v| *v),
            TensorData::Uint64(a) => flat(serializer, a, |v| *v),
            TensorData::Int8(a) => flat(serializer, a, |v| *v),
            TensorData::Int16(a) => flat(serializer, a, |v| *v),
            TensorData::Int32(a) => flat(serializer, a, |v| *v),
            TensorData::Int64(a) => flat(serializer, a, |v| *v),
            TensorData::Fp32(a) => flat(serializer, a, |v| F32(*v)),
            TensorData::Fp64(a) => flat(serializer, a, |v| F64(*v)),
        }
    }
}

/// A float as JSON: a number when finite, else the string `"NaN"`, `"Infinity"` or
/// `"-Infinity"` (serde_json would write `null`, which reads back as a missing value).
/// Requests accept the same strings.
struct F32(f32);

/// See [`F32`].
struct F64(f64);

impl Serialize for F32 {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            serializer.serialize_f32(self.0)
        } else {
            serializer.serialize_str(non_finite(f64::from(self.0)))
        }
    }
}

impl Serialize for F64 {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            serializer.serialize_f64(self.0)
        } else {
            serializer.serialize_str(non_finite(self.0))
        }
    }
}

/// The string form of a non-finite float.
fn non_finite(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

fn flat<S: Serializer, T, U: Serialize>(
    serializer: S,
    array: &ArrayD<T>,
    map: impl Fn(&T) -> U,
) -> std::result::Result<S::Ok, S::Error> {
    if let Some(slice) = array.as_slice() {
        serializer.collect_seq(slice.iter().map(map))
    } else {
        serializer.collect_seq(array.iter().map(map))
    }
}

pub(super) fn binary_len(data: &TensorData) -> usize {
    match data {
        TensorData::Bytes(a) => a.iter().map(|b| 4 + b.len()).sum(),
        other => other.len() * other.datatype().element_size().unwrap_or(0),
    }
}

pub(super) fn append_binary(data: &TensorData, out: &mut Vec<u8>) {
    fn put<T: Codec>(array: &ArrayD<T>, out: &mut Vec<u8>) {
        for v in array {
            v.encode_le(out);
        }
    }
    each_variant!(data, a => put(a, out));
}

/// Encodes the outputs of one request.
///
/// `outputs` are the model's results (matched to `choices` by name). The common answer
/// takes [`common_response::encode`] (written by hand); everything else, every error
/// included, the general encoder.
pub(crate) fn encode(
    metadata: &ModelMetadata,
    id: Option<&str>,
    choices: &[OutputChoice],
    outputs: &[Tensor],
) -> Result<Encoded> {
    match common_response::encode(metadata, id, choices, outputs) {
        Some(encoded) => Ok(encoded),
        None => encode_general(metadata, id, choices, outputs),
    }
}

/// Encodes any answer, and names what is wrong with one that cannot be encoded.
///
/// The JSON header is written field by field into one buffer sized for the answer (serde
/// only for strings and the data arrays): the same bytes serde's derived `Header` would
/// give, without the list of output entries it needed.
pub(crate) fn encode_general(
    metadata: &ModelMetadata,
    id: Option<&str>,
    choices: &[OutputChoice],
    outputs: &[Tensor],
) -> Result<Encoded> {
    // Every output is found before anything is written: a missing one is the error reported.
    let mut binary_total = 0usize;
    let mut estimate = 96 + metadata.name.len() + id.map_or(0, str::len);
    for choice in choices {
        let data = &chosen(metadata, choice, outputs)?.data;
        if choice.binary {
            binary_total += binary_len(data);
        } else {
            // A JSON number takes a few bytes; a longer one only costs a reallocation.
            estimate += 8 * data.len();
        }
        estimate += 64 + metadata.outputs[choice.index].name.len();
    }
    let mut body = Vec::with_capacity(estimate + binary_total);
    let failed = |e: serde_json::Error| {
        if e.is_data() {
            Error::invalid(e.to_string())
        } else {
            Error::inference(&metadata.name, format!("cannot encode the response: {e}"))
        }
    };
    body.extend_from_slice(b"{\"model_name\":");
    serde_json::to_writer(&mut body, &metadata.name).map_err(failed)?;
    if let Some(version) = &metadata.version {
        body.extend_from_slice(b",\"model_version\":");
        serde_json::to_writer(&mut body, version).map_err(failed)?;
    }
    if let Some(id) = id {
        body.extend_from_slice(b",\"id\":");
        serde_json::to_writer(&mut body, id).map_err(failed)?;
    }
    body.extend_from_slice(b",\"outputs\":[");
    for (i, choice) in choices.iter().enumerate() {
        let tensor = chosen(metadata, choice, outputs)?;
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"{\"name\":");
        serde_json::to_writer(&mut body, &metadata.outputs[choice.index].name).map_err(failed)?;
        body.extend_from_slice(b",\"datatype\":\"");
        // OIP datatype names are plain ASCII: nothing to escape.
        body.extend_from_slice(tensor.data.datatype().as_str().as_bytes());
        body.extend_from_slice(b"\",\"shape\":");
        serde_json::to_writer(&mut body, tensor.data.shape()).map_err(failed)?;
        if choice.binary {
            body.extend_from_slice(b",\"parameters\":");
            let size = BinarySize {
                binary_data_size: binary_len(&tensor.data),
            };
            serde_json::to_writer(&mut body, &size).map_err(failed)?;
        } else {
            body.extend_from_slice(b",\"data\":");
            serde_json::to_writer(&mut body, &JsonData(&tensor.data)).map_err(failed)?;
        }
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    if choices.iter().all(|c| !c.binary) {
        return Ok(Encoded {
            body,
            header_len: None,
        });
    }
    let header_len = body.len();
    for choice in choices.iter().filter(|c| c.binary) {
        append_binary(&chosen(metadata, choice, outputs)?.data, &mut body);
    }
    Ok(Encoded {
        body,
        header_len: Some(header_len),
    })
}

/// The model's output for `choice`, or the error naming the one it did not return.
fn chosen<'a>(
    metadata: &ModelMetadata,
    choice: &OutputChoice,
    outputs: &'a [Tensor],
) -> Result<&'a Tensor> {
    let spec = &metadata.outputs[choice.index];
    outputs.iter().find(|t| t.name == spec.name).ok_or_else(|| {
        Error::inference(
            &metadata.name,
            format!("the model returned no output {:?}", spec.name),
        )
    })
}

/// `{"error": message}`.
pub(crate) fn error_body(message: &str) -> Bytes {
    #[derive(Serialize)]
    struct ErrorBody<'a> {
        error: &'a str,
    }
    Bytes::from(
        serde_json::to_vec(&ErrorBody { error: message })
            .unwrap_or_else(|_| b"{\"error\":\"internal error\"}".to_vec()),
    )
}
