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
    let mut inputs: Option<Vec<Tensor>> = None;
    c.eat(b'{')?;
    loop {
        match c.key()? {
            Key::Id if id.is_none() => {
                id = Some(std::str::from_utf8(c.string()?).ok()?.to_owned());
            }
            Key::Inputs if inputs.is_none() => inputs = Some(input_list(&mut c, metadata)?),
            _ => return None,
        }
        if !c.comma_or(b'}')? {
            break;
        }
    }
    c.skip_ws();
    let inputs = inputs?;
    if c.at != json.len() {
        return None;
    }
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

/// The `inputs` array: one tensor per metadata input, each given once, in metadata order.
fn input_list(c: &mut Cursor<'_>, metadata: &ModelMetadata) -> Option<Vec<Tensor>> {
    let mut inputs = Inputs {
        tensors: Vec::with_capacity(metadata.inputs.len()),
        in_order: true,
    };
    c.eat(b'[')?;
    if !c.next_is(b']') {
        loop {
            if inputs.tensors.len() == MAX_TENSORS {
                return None;
            }
            input(c, metadata, &mut inputs)?;
            if !c.comma_or(b']')? {
                break;
            }
        }
    }
    let Inputs {
        mut tensors,
        in_order,
    } = inputs;
    // No repeat and every position valid: as many as the metadata's is all of them.
    if tensors.len() != metadata.inputs.len() {
        return None;
    }
    if !in_order {
        tensors.sort_by_cached_key(|t| metadata.inputs.iter().position(|s| s.name == t.name));
    }
    Some(tensors)
}

/// The tensors read so far, pushed as they come (no `Option` slot per input to collect
/// afterwards, and no move of a tensor through the readers).
///
/// While they come in metadata order, a position equal to the count read so far cannot
/// repeat one; after the first one out of order, each is checked against those read, and
/// the list is sorted at the end.
struct Inputs {
    tensors: Vec<Tensor>,
    in_order: bool,
}

/// The highest rank this decoder reads (on the stack, no allocation per request).
const FAST_RANK: usize = 8;

/// The keys this decoder reads; any other key is the general decoder's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    Inputs,
    Name,
    Shape,
    Datatype,
    Data,
}

/// One input object, its tensor pushed onto `inputs`.
///
/// The tensor is pushed as soon as its data is read: if the rest of the object is not as
/// expected, the whole request is the general decoder's and the list is dropped anyway.
fn input(c: &mut Cursor<'_>, metadata: &ModelMetadata, inputs: &mut Inputs) -> Option<()> {
    let mut spec: Option<(usize, &TensorSpec)> = None;
    let mut dims = [0usize; FAST_RANK];
    let mut rank: Option<usize> = None;
    let mut datatype: Option<Datatype> = None;
    let mut pushed = false;
    c.eat(b'{')?;
    loop {
        match c.key()? {
            Key::Name if spec.is_none() => {
                let name = c.string()?;
                spec = Some(
                    metadata
                        .inputs
                        .iter()
                        .enumerate()
                        .find(|(_, s)| s.name.as_bytes() == name)?,
                );
            }
            Key::Shape if rank.is_none() => rank = Some(c.shape(&mut dims)?),
            Key::Datatype if datatype.is_none() => {
                // The model's own datatype, when the name came first, is compared as it is
                // (with its closing quote: the string is exactly that name); anything else
                // is scanned and looked up.
                let expected = spec.map(|(_, s)| s.datatype);
                datatype = Some(match expected {
                    Some(expected) if c.quoted(expected) => expected,
                    _ => datatype_of(c.string()?)?,
                });
            }
            // The metadata's checks before the data, so that the data is read once, into a
            // buffer of the size the shape says.
            Key::Data if !pushed => {
                let ((position, spec), shape, datatype) = (spec?, dims.get(..rank?)?, datatype?);
                if datatype != spec.datatype || !spec.accepts_shape(shape) {
                    return None;
                }
                if !(inputs.in_order && position == inputs.tensors.len()) {
                    inputs.in_order = false;
                    if inputs.tensors.iter().any(|t| t.name == spec.name) {
                        return None;
                    }
                }
                let count = shape
                    .iter()
                    .try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
                inputs.tensors.push(Tensor {
                    name: spec.name.clone(),
                    data: tensor_data(c, datatype, shape, count)?,
                });
                pushed = true;
            }
            _ => return None,
        }
        if !c.comma_or(b'}')? {
            break;
        }
    }
    pushed.then_some(())
}

/// The datatype spelled `text` (as [`Datatype::parse`], on bytes: one comparison of a
/// known length per candidate, no loop over the names).
pub(super) fn datatype_of(text: &[u8]) -> Option<Datatype> {
    Some(match text {
        b"FP32" => Datatype::Fp32,
        b"FP64" => Datatype::Fp64,
        b"INT64" => Datatype::Int64,
        b"INT32" => Datatype::Int32,
        b"FP16" => Datatype::Fp16,
        b"UINT8" => Datatype::Uint8,
        b"INT8" => Datatype::Int8,
        b"INT16" => Datatype::Int16,
        b"UINT16" => Datatype::Uint16,
        b"UINT32" => Datatype::Uint32,
        b"UINT64" => Datatype::Uint64,
        b"BOOL" => Datatype::Bool,
        b"BYTES" => Datatype::Bytes,
        _ => return None,
    })
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

/// The bytes a JSON string holds as they are: not `"`, `\` or a control character.
static PLAIN: [bool; 256] = {
    let mut table = [true; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = false;
        byte += 1;
    }
    table[b'"' as usize] = false;
    table[b'\\' as usize] = false;
    table
};

/// A position in the JSON text. Every reader skips the whitespace before what it reads.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn skip_ws(&mut self) {
        let mut at = self.at;
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes.get(at) {
            at += 1;
        }
        self.at = at;
    }

    /// The next byte after whitespace. A byte above the space is no whitespace: most
    /// tokens are found with one comparison.
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        let byte = *self.bytes.get(self.at)?;
        if byte > b' ' {
            return Some(byte);
        }
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
    #[inline(always)]
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let bytes = self.bytes;
        let start = self.at;
        let end = start + plain_len(bytes.get(start..)?)?;
        // The byte that ended the scan must be the closing quote itself.
        if bytes.get(end) != Some(&b'"') {
            return None;
        }
        self.at = end + 1;
        bytes.get(start..end)
    }

    /// Reads the string `"DATATYPE"` (`datatype`'s name) if it comes next, after
    /// whitespace; nothing otherwise. One comparison of a known length per datatype.
    #[inline(always)]
    fn quoted(&mut self, datatype: Datatype) -> bool {
        if self.peek() != Some(b'"') {
            return false;
        }
        let Some(rest) = self.bytes.get(self.at..) else {
            return false;
        };
        let quoted: &[u8] = match datatype {
            Datatype::Fp32 => b"\"FP32\"",
            Datatype::Fp64 => b"\"FP64\"",
            Datatype::Fp16 => b"\"FP16\"",
            Datatype::Int64 => b"\"INT64\"",
            Datatype::Int32 => b"\"INT32\"",
            Datatype::Int16 => b"\"INT16\"",
            Datatype::Int8 => b"\"INT8\"",
            Datatype::Uint64 => b"\"UINT64\"",
            Datatype::Uint32 => b"\"UINT32\"",
            Datatype::Uint16 => b"\"UINT16\"",
            Datatype::Uint8 => b"\"UINT8\"",
            Datatype::Bool => b"\"BOOL\"",
            Datatype::Bytes => b"\"BYTES\"",
        };
        let matched = rest.starts_with(quoted);
        if matched {
            self.at += quoted.len();
        }
        matched
    }

    /// An object key and the `:` after it.
    ///
    /// The text is compared with each key and its closing quote (one comparison of a known
    /// length each) rather than scanned first: if it starts with `name"`, the key is `name`.
    #[inline(always)]
    fn key(&mut self) -> Option<Key> {
        self.eat(b'"')?;
        let rest = self.bytes.get(self.at..)?;
        let (key, len) = if rest.starts_with(b"name\"") {
            (Key::Name, 5)
        } else if rest.starts_with(b"shape\"") {
            (Key::Shape, 6)
        } else if rest.starts_with(b"datatype\"") {
            (Key::Datatype, 9)
        } else if rest.starts_with(b"data\"") {
            (Key::Data, 5)
        } else if rest.starts_with(b"inputs\"") {
            (Key::Inputs, 7)
        } else if rest.starts_with(b"id\"") {
            (Key::Id, 3)
        } else {
            return None;
        };
        self.at += len;
        self.eat(b':')?;
        Some(key)
    }

    /// The digits of a JSON integer without sign: `0` or `[1-9][0-9]*`, at most 19 digits
    /// (so it fits a `u64`; longer ones are the general decoder's).
    fn digits(&mut self) -> Option<u64> {
        let (value, end) = digits(self.bytes, self.at)?;
        self.at = end;
        Some(value)
    }

    /// A shape into `dims`, its rank returned: an array of at most [`FAST_RANK`] plain
    /// non-negative integers (a higher rank is the general decoder's, which allows up to
    /// its `MAX_RANK`).
    fn shape(&mut self, dims: &mut [usize; FAST_RANK]) -> Option<usize> {
        self.eat(b'[')?;
        if self.next_is(b']') {
            return Some(0);
        }
        let mut rank = 0;
        loop {
            self.skip_ws();
            let dim = self.digits()?;
            if self.at_fraction() {
                return None;
            }
            *dims.get_mut(rank)? = usize::try_from(dim).ok()?;
            rank += 1;
            if !self.comma_or(b']')? {
                return Some(rank);
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
    ///
    /// One pass with a local position (kept in a register), inlined into the array loops.
    #[inline(always)]
    fn number<T: Codec>(&mut self) -> Option<T> {
        let bytes = self.bytes;
        let mut at = self.at;
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = bytes.get(at) {
            at += 1;
        }
        let start = at;
        let negative = bytes.get(at) == Some(&b'-');
        at += usize::from(negative);
        // The integer part: `0` or `[1-9][0-9]*`, at most 19 digits (so it fits a `u64`;
        // longer ones are the general decoder's).
        let int_start = at;
        let (mut significand, end) = digits(bytes, at)?;
        at = end;
        let int_len = at - int_start;
        let next = bytes.get(at).copied();
        if !matches!(next, Some(b'.' | b'e' | b'E')) {
            self.at = at;
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
        // The decimal significand and its power of ten, for the exact case: up to 19 digits
        // in all (more and the text is parsed below).
        let mut exponent: i32 = 0;
        let mut exact = true;
        if next == Some(b'.') {
            at += 1;
            let from = at;
            (significand, at) = digit_run(bytes, at, significand);
            let fraction_len = at - from;
            if fraction_len == 0 {
                return None;
            }
            exact = int_len + fraction_len <= 19;
            // Used only when exact (at most 19 digits); bounded so the cast cannot wrap.
            #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
            {
                exponent = -(fraction_len.min(20) as i32);
            }
        }
        if let Some(b'e' | b'E') = bytes.get(at) {
            at += 1;
            let sign = match bytes.get(at) {
                Some(b'-') => -1,
                Some(b'+') => 1,
                _ => 0,
            };
            if sign != 0 {
                at += 1;
            }
            let from = at;
            let mut power: i32 = 0;
            while let Some(&b @ b'0'..=b'9') = bytes.get(at) {
                if power < 10_000 {
                    power = power * 10 + i32::from(b - b'0');
                } else {
                    exact = false;
                }
                at += 1;
            }
            if at == from {
                return None;
            }
            exponent = exponent.saturating_add(if sign < 0 { -power } else { power });
        }
        self.at = at;
        // Clinger's fast path: a significand below 2^53 and a power of ten up to 10^22 are
        // both exact in an f64, so one multiplication or division rounds once, to the
        // nearest f64: what serde_json (and `str::parse`) give.
        if exact
            && significand <= 1 << 53
            && let Some(&power) = POW10.get(exponent.unsigned_abs() as usize)
        {
            #[allow(clippy::cast_precision_loss)]
            let magnitude = significand as f64;
            let value = if exponent < 0 {
                magnitude / power
            } else {
                magnitude * power
            };
            return T::from_f64(if negative { -value } else { value });
        }
        let text = std::str::from_utf8(&bytes[start..at]).ok()?;
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

/// The length of the run of [`PLAIN`] bytes that `bytes` starts with, or `None` when they
/// all are (the string does not end).
///
/// Eight bytes at a time: in a word, the lowest byte equal to `"` or `\` or below 0x20 is
/// found with the usual carry tricks (exact for the lowest flagged byte, which is all that is
/// used), so a short string costs one word instead of a look-up per byte.
#[inline]
pub(super) fn plain_len(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        let word = u64::from_le_bytes(*chunk);
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let flagged = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(ONES * 0x20) & !word);
        let flagged = flagged & HIGHS;
        if flagged != 0 {
            return Some(at + (flagged.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = bytes.get(at..)?;
    tail.iter()
        .position(|&b| !PLAIN[usize::from(b)])
        .map(|len| at + len)
}

/// The digits of a JSON integer without sign at `at` in `bytes` (see [`Cursor::digits`]):
/// its value and the position after it.
#[inline(always)]
fn digits(bytes: &[u8], start: usize) -> Option<(u64, usize)> {
    let (value, at) = digit_run(bytes, start, 0);
    let len = at - start;
    // 19 digits always fit a `u64`, so the run's wrapping arithmetic did not wrap.
    (len == 1 || ((2..=19).contains(&len) && bytes[start] != b'0')).then_some((value, at))
}

/// The run of ASCII digits at `at` in `bytes` appended to `value` (`value · 10 + digit` for
/// each, wrapping: a caller uses the value only for runs short enough not to wrap), and the
/// position after the run.
#[inline(always)]
fn digit_run(bytes: &[u8], mut at: usize, mut value: u64) -> (u64, usize) {
    while let Some(&b) = bytes.get(at) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
        at += 1;
    }
    (value, at)
}
