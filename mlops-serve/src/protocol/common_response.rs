//! The common inference response written by hand: every output found, every name plain
//! (nothing to escape), numeric or BOOL data (or any datatype as binary data).
//!
//! Why a second encoder: the general one (`response::encode_general`) goes through serde for
//! every string, shape and data array; on a one-row answer its dispatch costs more than the
//! few bytes it writes. This one writes the same bytes straight into the buffer: numbers
//! through serde_json's own `CompactFormatter` (the formatting serde_json itself uses, so
//! the digits cannot differ), strings as they are once [`plain_len`] says no byte needs an
//! escape.
//!
//! Anything else (a missing output, a name or id to escape, BYTES data as JSON) makes
//! [`encode`] return `None`, and the general encoder writes the answer or names the error.
//! The differential test in `protocol/tests.rs` holds the two to the same bytes.

use half::f16;
use serde_json::ser::{CompactFormatter, Formatter};

use super::common_request::plain_len;
use super::request::OutputChoice;
use super::response::{Encoded, append_binary, binary_len};
use crate::model::ModelMetadata;
use crate::tensor::{ArrayD, Tensor, TensorData};

/// Up to this many outputs are looked up once (kept on the stack); more are looked up again
/// when written.
const FEW: usize = 4;

/// Encodes the outputs of one request, or `None` when the general encoder must.
pub(crate) fn encode(
    metadata: &ModelMetadata,
    id: Option<&str>,
    choices: &[OutputChoice],
    outputs: &[Tensor],
) -> Option<Encoded> {
    if !plain(&metadata.name)
        || !metadata.version.as_deref().is_none_or(plain)
        || !id.is_none_or(plain)
    {
        return None;
    }
    let mut found: [Option<&Tensor>; FEW] = [None; FEW];
    let mut binary_total = 0usize;
    let mut any_binary = false;
    let mut estimate = 96 + metadata.name.len() + id.map_or(0, str::len);
    for (i, choice) in choices.iter().enumerate() {
        let name = &metadata.outputs.get(choice.index)?.name;
        let tensor = chosen(name, outputs)?;
        if !plain(name) {
            return None;
        }
        if choice.binary {
            any_binary = true;
            binary_total += binary_len(&tensor.data);
        } else {
            if matches!(tensor.data, TensorData::Bytes(_)) {
                return None;
            }
            // A JSON number takes a few bytes; a longer one only costs a reallocation.
            estimate += 8 * tensor.data.len();
        }
        estimate += 64 + name.len();
        if let Some(slot) = found.get_mut(i) {
            *slot = Some(tensor);
        }
    }
    // Plain strings are written between the constant parts: `"` joins them (fewer, longer
    // writes into the buffer).
    let mut body = Vec::with_capacity(estimate + binary_total);
    body.extend_from_slice(b"{\"model_name\":\"");
    body.extend_from_slice(metadata.name.as_bytes());
    if let Some(version) = &metadata.version {
        body.extend_from_slice(b"\",\"model_version\":\"");
        body.extend_from_slice(version.as_bytes());
    }
    if let Some(id) = id {
        body.extend_from_slice(b"\",\"id\":\"");
        body.extend_from_slice(id.as_bytes());
    }
    body.extend_from_slice(b"\",\"outputs\":[");
    for (i, choice) in choices.iter().enumerate() {
        let name = &metadata.outputs[choice.index].name;
        let tensor = match found.get(i) {
            Some(Some(tensor)) => tensor,
            _ => chosen(name, outputs)?,
        };
        body.extend_from_slice(if i > 0 {
            b",{\"name\":\""
        } else {
            b"{\"name\":\""
        });
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(b"\",\"datatype\":\"");
        // OIP datatype names are plain ASCII: nothing to escape.
        body.extend_from_slice(tensor.data.datatype().as_str().as_bytes());
        body.extend_from_slice(b"\",\"shape\":[");
        for (d, &dim) in tensor.data.shape().iter().enumerate() {
            if d > 0 {
                body.push(b',');
            }
            unsigned(&mut body, dim);
        }
        if choice.binary {
            body.extend_from_slice(b"],\"parameters\":{\"binary_data_size\":");
            unsigned(&mut body, binary_len(&tensor.data));
            body.extend_from_slice(b"}}");
        } else {
            body.extend_from_slice(b"],\"data\":[");
            data(&mut body, &tensor.data)?;
            body.extend_from_slice(b"]}");
        }
    }
    body.extend_from_slice(b"]}");
    if !any_binary {
        return Some(Encoded {
            body,
            header_len: None,
        });
    }
    let header_len = body.len();
    for (i, choice) in choices.iter().enumerate().filter(|(_, c)| c.binary) {
        let tensor = match found.get(i) {
            Some(Some(tensor)) => tensor,
            _ => chosen(&metadata.outputs[choice.index].name, outputs)?,
        };
        append_binary(&tensor.data, &mut body);
    }
    Some(Encoded {
        body,
        header_len: Some(header_len),
    })
}

/// The model's output named `name`: the first one, as the general encoder finds it.
fn chosen<'a>(name: &str, outputs: &'a [Tensor]) -> Option<&'a Tensor> {
    outputs.iter().find(|t| t.name == name)
}

/// Whether `text` is written as it is between quotes (no byte to escape).
fn plain(text: &str) -> bool {
    plain_len(text.as_bytes()).is_none()
}

/// A non-negative integer in decimal (as serde_json writes a `usize`: its shortest form).
#[inline(always)]
fn unsigned(out: &mut Vec<u8>, mut value: usize) {
    // Most dimensions (a batch of one, one output column) are one digit.
    if value < 10 {
        #[allow(clippy::cast_possible_truncation)]
        out.push(b'0' + value as u8);
        return;
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        // A digit: the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (value % 10) as u8;
        digits[at] = b'0' + digit;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Tensor values as the inside of a flat JSON array, or `None` for BYTES (the general
/// encoder's).
fn data(out: &mut Vec<u8>, data: &TensorData) -> Option<()> {
    match data {
        TensorData::Bool(a) => array(out, a),
        TensorData::Uint8(a) => array(out, a),
        TensorData::Uint16(a) => array(out, a),
        TensorData::Uint32(a) => array(out, a),
        TensorData::Uint64(a) => array(out, a),
        TensorData::Int8(a) => array(out, a),
        TensorData::Int16(a) => array(out, a),
        TensorData::Int32(a) => array(out, a),
        TensorData::Int64(a) => array(out, a),
        TensorData::Fp16(a) => array(out, a),
        TensorData::Fp32(a) => array(out, a),
        TensorData::Fp64(a) => array(out, a),
        TensorData::Bytes(_) => None,
    }
}

/// The elements of `values` in logical (row-major) order, comma-separated.
fn array<T: JsonValue>(out: &mut Vec<u8>, values: &ArrayD<T>) -> Option<()> {
    if let Some(slice) = values.as_slice() {
        for (i, v) in slice.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            v.write(out)?;
        }
    } else {
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            v.write(out)?;
        }
    }
    Some(())
}

/// An element as JSON, written as the general encoder writes it.
trait JsonValue {
    /// Appends the element (`None` only if the buffer refuses it, which a `Vec` does not).
    fn write(&self, out: &mut Vec<u8>) -> Option<()>;
}

macro_rules! integer_value {
    ($t:ty, $method:ident) => {
        impl JsonValue for $t {
            fn write(&self, out: &mut Vec<u8>) -> Option<()> {
                CompactFormatter.$method(out, *self).ok()
            }
        }
    };
}
integer_value!(u8, write_u8);
integer_value!(u16, write_u16);
integer_value!(u32, write_u32);
integer_value!(u64, write_u64);
integer_value!(i8, write_i8);
integer_value!(i16, write_i16);
integer_value!(i32, write_i32);
integer_value!(i64, write_i64);
integer_value!(bool, write_bool);

/// A non-finite float as the general encoder writes it (see `response::F32`).
fn non_finite(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(if v.is_nan() {
        b"\"NaN\""
    } else if v > 0.0 {
        b"\"Infinity\""
    } else {
        b"\"-Infinity\""
    });
}

impl JsonValue for f32 {
    fn write(&self, out: &mut Vec<u8>) -> Option<()> {
        if self.is_finite() {
            CompactFormatter.write_f32(out, *self).ok()
        } else {
            non_finite(out, f64::from(*self));
            Some(())
        }
    }
}

impl JsonValue for f64 {
    fn write(&self, out: &mut Vec<u8>) -> Option<()> {
        if self.is_finite() {
            CompactFormatter.write_f64(out, *self).ok()
        } else {
            non_finite(out, *self);
            Some(())
        }
    }
}

impl JsonValue for f16 {
    fn write(&self, out: &mut Vec<u8>) -> Option<()> {
        self.to_f32().write(out)
    }
}
