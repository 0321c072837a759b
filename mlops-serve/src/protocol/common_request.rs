//! The common inference request decoded in one pass, straight into the tensor buffers:
//! `{"id": "...", "inputs": [{"name", "shape", "datatype", "data"}, ...]}` with numeric
//! data, flat or nested, and `data` after the other three fields of its input.
//!
//! Why a second decoder: the general one (`request::decode_general`) reads the request with
//! serde into borrowed fields and raw `data` text, then parses that text again for each
//! tensor; on a one-row request that is most of the server's own work per request.
//!
//! This decoder never answers a bad request: anything else (parameters, outputs, binary
//! data, escapes, strings, `null`, an unknown or repeated field, a value the metadata does
//! not accept, any syntax error) makes [`decode`] return `None`, and the general decoder
//! reads the request and names what is wrong. So an error message never depends on which
//! decoder saw the request first, and this one only accepts what the general one accepts,
//! with the same result (the differential fuzz test in `protocol/tests.rs` holds it to that).

use super::elements::Codec;
use super::request::{InferRequest, MAX_TENSORS, all_outputs};
use crate::model::ModelMetadata;
use crate::tensor::{Datatype, Tensor, TensorData, TensorSpec, f16};

/// The powers of ten that are exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Decodes `json` (the whole body, no binary part) for `metadata`, or `None` when the
/// general decoder must read it.
pub(crate) fn decode(json: &[u8], metadata: &ModelMetadata) -> Option<InferRequest> {
    let mut c = Cursor { bytes: json, at: 0 };
    let mut id: Option<String> = None;
    let mut slots: Vec<Option<Tensor>> = Vec::with_capacity(metadata.inputs.len());
    slots.resize_with(metadata.inputs.len(), || None);
    let mut seen_inputs = false;
    c.eat(b'{')?;
    loop {
        let key = c.string()?;
        c.eat(b':')?;
        match key {
            b"id" if id.is_none() => {
                id = Some(std::str::from_utf8(c.string()?).ok()?.to_owned());
            }
            b"inputs" if !seen_inputs => {
                seen_inputs = true;
                c.eat(b'[')?;
                let mut given = 0usize;
                if !c.next_is(b']') {
                    loop {
                        given += 1;
                        if given > MAX_TENSORS {
                            return None;
                        }
                        let (position, tensor) = input(&mut c, metadata)?;
                        let slot = slots.get_mut(position)?;
                        if slot.is_some() {
                            return None;
                        }
                        *slot = Some(tensor);
                        if !c.comma_or(b']')? {
                            break;
                        }
                    }
                }
            }
            _ => return None,
        }
        if !c.comma_or(b'}')? {
            break;
        }
    }
    c.skip_ws();
    if !seen_inputs || c.at != json.len() {
        return None;
    }
    // Collected in place: `Option<Tensor>` and `Tensor` have the same layout, so the slots'
    // buffer becomes the inputs' (one allocation per request less).
    let inputs: Vec<Tensor> = slots.into_iter().collect::<Option<_>>()?;
    let rows = inputs
        .first()
        .map_or(1, |t| t.data.shape().first().copied().unwrap_or(1));
    let outputs = all_outputs(metadata.outputs.len(), false);
    Some(InferRequest {
        id,
        inputs,
        outputs,
        rows,
    })
}

/// The highest rank this decoder reads (on the stack, no allocation per request).
const FAST_RANK: usize = 8;

/// A request shape of at most [`FAST_RANK`] dimensions.
struct Dims {
    len: usize,
    dims: [usize; FAST_RANK],
}

impl Dims {
    fn as_slice(&self) -> &[usize] {
        &self.dims[..self.len]
    }
}

/// One input object: its position among the metadata's inputs and its tensor.
fn input(c: &mut Cursor<'_>, metadata: &ModelMetadata) -> Option<(usize, Tensor)> {
    let mut spec: Option<(usize, &TensorSpec)> = None;
    let mut shape: Option<Dims> = None;
    let mut datatype: Option<Datatype> = None;
    let mut data: Option<TensorData> = None;
    c.eat(b'{')?;
    loop {
        let key = c.string()?;
        c.eat(b':')?;
        match key {
            b"name" if spec.is_none() => {
                let name = c.string()?;
                spec = metadata
                    .inputs
                    .iter()
                    .enumerate()
                    .find(|(_, s)| s.name.as_bytes() == name);
                spec?;
            }
            b"shape" if shape.is_none() => shape = Some(c.shape()?),
            b"datatype" if datatype.is_none() => {
                let text = c.string()?;
                datatype = Some(
                    Datatype::ALL
                        .into_iter()
                        .find(|d| d.as_str().as_bytes() == text)?,
                );
            }
            // The metadata's checks before the data, so that the data is read once, into a
            // buffer of the size the shape says.
            b"data" if data.is_none() => {
                let ((_, spec), shape, datatype) = (spec?, shape.as_ref()?.as_slice(), datatype?);
                if datatype != spec.datatype || !spec.accepts_shape(shape) {
                    return None;
                }
                let count = shape
                    .iter()
                    .try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
                data = Some(tensor_data(c, datatype, shape, count)?);
            }
            _ => return None,
        }
        if !c.comma_or(b'}')? {
            break;
        }
    }
    let (position, spec) = spec?;
    Some((
        position,
        Tensor {
            name: spec.name.clone(),
            data: data?,
        },
    ))
}

fn tensor_data(
    c: &mut Cursor<'_>,
    datatype: Datatype,
    shape: &[usize],
    count: usize,
) -> Option<TensorData> {
    match datatype {
        Datatype::Uint8 => elements::<u8>(c, shape, count),
        Datatype::Uint16 => elements::<u16>(c, shape, count),
        Datatype::Uint32 => elements::<u32>(c, shape, count),
        Datatype::Uint64 => elements::<u64>(c, shape, count),
        Datatype::Int8 => elements::<i8>(c, shape, count),
        Datatype::Int16 => elements::<i16>(c, shape, count),
        Datatype::Int32 => elements::<i32>(c, shape, count),
        Datatype::Int64 => elements::<i64>(c, shape, count),
        Datatype::Fp16 => elements::<f16>(c, shape, count),
        Datatype::Fp32 => elements::<f32>(c, shape, count),
        Datatype::Fp64 => elements::<f64>(c, shape, count),
        // Literals and strings: the general decoder.
        Datatype::Bool | Datatype::Bytes => None,
    }
}

/// `data`: a flat array of `count` numbers, or arrays nested exactly as `shape`.
fn elements<T: Codec>(c: &mut Cursor<'_>, shape: &[usize], count: usize) -> Option<TensorData> {
    // As the general decoder: never reserve more than the text could hold (`1,` per element).
    let room = (c.bytes.len() - c.at) / 2 + 1;
    let mut out: Vec<T> = Vec::with_capacity(count.min(room));
    c.eat(b'[')?;
    if c.peek() == Some(b'[') {
        if shape.len() < 2 {
            return None;
        }
        nested(c, shape, &mut out)?;
    } else {
        flat(c, count, &mut out)?;
    }
    if out.len() != count {
        return None;
    }
    TensorData::from_vec(shape, out).ok()
}

/// The rest of a flat array (its `[` read), at most `limit` numbers.
fn flat<T: Codec>(c: &mut Cursor<'_>, limit: usize, out: &mut Vec<T>) -> Option<()> {
    if c.next_is(b']') {
        return Some(());
    }
    loop {
        if out.len() == limit {
            return None;
        }
        out.push(c.number()?);
        if !c.comma_or(b']')? {
            return Some(());
        }
    }
}

/// The rest of a nested array (its `[` read) of `shape[0]` items, each an array of
/// `shape[1..]`, numbers at the last dimension.
fn nested<T: Codec>(c: &mut Cursor<'_>, shape: &[usize], out: &mut Vec<T>) -> Option<()> {
    let (&len, inner) = shape.split_first()?;
    for i in 0..len {
        if inner.is_empty() {
            out.push(c.number()?);
        } else {
            c.eat(b'[')?;
            nested(c, inner, out)?;
        }
        let more = c.comma_or(b']')?;
        if more != (i + 1 < len) {
            return None;
        }
    }
    // An empty dimension: the array must be `[]`.
    if len == 0 { c.eat(b']') } else { Some(()) }
}

/// A position in the JSON text. Every reader skips the whitespace before what it reads.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.at).copied()
    }

    /// Reads `byte` (after whitespace).
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Whether `byte` comes next; reads it if so.
    fn next_is(&mut self, byte: u8) -> bool {
        self.eat(byte).is_some()
    }

    /// Reads `,` (`Some(true)`) or `close` (`Some(false)`).
    fn comma_or(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => {
                self.at += 1;
                Some(true)
            }
            b if b == close => {
                self.at += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// A string's bytes, or `None` for one with an escape or a control character (the
    /// general decoder reads those).
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.at;
        let len = self.bytes[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        // The byte that ended the scan must be the closing quote itself (no whitespace skip).
        if self.bytes[start + len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        Some(&self.bytes[start..start + len])
    }

    /// The digits of a JSON integer without sign: `0` or `[1-9][0-9]*`, at most 19 digits
    /// (so it fits a `u64`; longer ones are the general decoder's).
    fn digits(&mut self) -> Option<u64> {
        let start = self.at;
        let mut value = 0u64;
        while let Some(&b @ b'0'..=b'9') = self.bytes.get(self.at) {
            if self.at - start == 19 {
                return None;
            }
            value = value * 10 + u64::from(b - b'0');
            self.at += 1;
        }
        let len = self.at - start;
        (len == 1 || (len > 1 && self.bytes[start] != b'0')).then_some(value)
    }

    /// A shape: an array of at most [`FAST_RANK`] plain non-negative integers (a higher rank
    /// is the general decoder's, which allows up to its `MAX_RANK`).
    fn shape(&mut self) -> Option<Dims> {
        let mut dims = Dims {
            len: 0,
            dims: [0; FAST_RANK],
        };
        self.eat(b'[')?;
        if self.next_is(b']') {
            return Some(dims);
        }
        loop {
            self.skip_ws();
            let dim = self.digits()?;
            if self.at_fraction() {
                return None;
            }
            *dims.dims.get_mut(dims.len)? = usize::try_from(dim).ok()?;
            dims.len += 1;
            if !self.comma_or(b']')? {
                return Some(dims);
            }
        }
    }

    /// Whether a fraction or an exponent follows (the number is a float).
    fn at_fraction(&self) -> bool {
        matches!(self.bytes.get(self.at), Some(b'.' | b'e' | b'E'))
    }

    /// A JSON number as an element of `T`, converted as the general decoder converts it:
    /// serde_json reads an integer without fraction or exponent as `u64` (or `i64` when
    /// negative; `-0` and integers below `i64::MIN` as `f64`), anything else as the nearest
    /// `f64`, and the element type's [`Codec`] does the rest.
    fn number<T: Codec>(&mut self) -> Option<T> {
        self.skip_ws();
        let start = self.at;
        let negative = self.bytes.get(self.at) == Some(&b'-');
        if negative {
            self.at += 1;
        }
        let mut significand = self.digits()?;
        if !self.at_fraction() {
            if !negative {
                return T::from_u64(significand);
            }
            #[allow(clippy::cast_possible_wrap)]
            let value = (significand as i64).wrapping_neg();
            #[allow(clippy::cast_precision_loss)]
            return if value >= 0 {
                T::from_f64(-(significand as f64))
            } else {
                T::from_i64(value)
            };
        }
        // The decimal significand (up to 19 digits) and its power of ten, for the exact case.
        let mut digits = self.at - start - usize::from(negative);
        let mut exponent: i32 = 0;
        let mut exact = true;
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            let from = self.at;
            while let Some(&b @ b'0'..=b'9') = self.bytes.get(self.at) {
                if digits < 19 {
                    significand = significand * 10 + u64::from(b - b'0');
                    exponent -= 1;
                    digits += 1;
                } else {
                    exact = false;
                }
                self.at += 1;
            }
            if self.at == from {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            let sign = match self.bytes.get(self.at) {
                Some(b'-') => -1,
                Some(b'+') => 1,
                _ => 0,
            };
            if sign != 0 {
                self.at += 1;
            }
            let from = self.at;
            let mut power: i32 = 0;
            while let Some(&b @ b'0'..=b'9') = self.bytes.get(self.at) {
                if power < 10_000 {
                    power = power * 10 + i32::from(b - b'0');
                } else {
                    exact = false;
                }
                self.at += 1;
            }
            if self.at == from {
                return None;
            }
            exponent += if sign < 0 { -power } else { power };
        }
        // Clinger's fast path: a significand below 2^53 and a power of ten up to 10^22 are
        // both exact in an f64, so one multiplication or division rounds once, to the
        // nearest f64: what serde_json (and `str::parse`) give.
        if exact && significand <= 1 << 53 && exponent.unsigned_abs() <= 22 {
            #[allow(clippy::cast_precision_loss)]
            let magnitude = significand as f64;
            let power = POW10[exponent.unsigned_abs() as usize];
            let value = if exponent < 0 {
                magnitude / power
            } else {
                magnitude * power
            };
            return T::from_f64(if negative { -value } else { value });
        }
        let text = std::str::from_utf8(&self.bytes[start..self.at]).ok()?;
        let value: f64 = text.parse().ok()?;
        // Out of range (serde_json refuses it) or an underflow to zero (serde_json's rounding
        // of those is its own business): the general decoder's.
        let zero_digits = text
            .bytes()
            .take_while(|b| !matches!(b, b'e' | b'E'))
            .all(|b| !matches!(b, b'1'..=b'9'));
        if !value.is_finite() || (value == 0.0 && !zero_digits) {
            return None;
        }
        T::from_f64(value)
    }
}
