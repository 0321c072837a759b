//! Tensor elements: JSON values (flat or nested arrays) and little-endian binary, both ways.

use std::fmt;

use bytes::Bytes;
use half::f16;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};

use crate::error::{Error, Result};
use crate::tensor::{Element, TensorData};

/// An element type as the codecs see it.
pub(crate) trait Codec: Element + Sized {
    /// From a JSON unsigned integer.
    fn from_u64(_v: u64) -> Option<Self> {
        None
    }
    /// From a JSON negative integer.
    fn from_i64(_v: i64) -> Option<Self> {
        None
    }
    /// From a JSON float.
    fn from_f64(_v: f64) -> Option<Self> {
        None
    }
    /// From a JSON bool.
    fn from_bool(_v: bool) -> Option<Self> {
        None
    }
    /// From a JSON string.
    fn from_str(_v: &str) -> Option<Self> {
        None
    }
    /// Decodes `bytes` (a whole tensor, little-endian) into elements.
    fn decode_le(bytes: &Bytes, out: &mut Vec<Self>) -> Result<()>;
    /// Appends the little-endian encoding of `self`.
    fn encode_le(&self, out: &mut Vec<u8>);
}

macro_rules! int_codec {
    ($t:ty) => {
        impl Codec for $t {
            fn from_u64(v: u64) -> Option<Self> {
                <$t>::try_from(v).ok()
            }
            fn from_i64(v: i64) -> Option<Self> {
                <$t>::try_from(v).ok()
            }
            fn decode_le(bytes: &Bytes, out: &mut Vec<Self>) -> Result<()> {
                const N: usize = std::mem::size_of::<$t>();
                out.extend(
                    bytes
                        .chunks_exact(N)
                        .map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or([0; N]))),
                );
                Ok(())
            }
            fn encode_le(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
int_codec!(u8);
int_codec!(u16);
int_codec!(u32);
int_codec!(u64);
int_codec!(i8);
int_codec!(i16);
int_codec!(i32);
int_codec!(i64);

macro_rules! float_codec {
    ($t:ty, $from_f64:expr, $from_bits:expr) => {
        impl Codec for $t {
            #[allow(clippy::cast_precision_loss)]
            fn from_u64(v: u64) -> Option<Self> {
                <Self as Codec>::from_f64(v as f64)
            }
            #[allow(clippy::cast_precision_loss)]
            fn from_i64(v: i64) -> Option<Self> {
                <Self as Codec>::from_f64(v as f64)
            }
            fn from_f64(v: f64) -> Option<Self> {
                let x: $t = $from_f64(v);
                // A finite JSON number beyond the type's range is refused, not made infinite.
                (!v.is_finite() || x.is_finite()).then_some(x)
            }
            /// The string forms responses use for non-finite values.
            fn from_str(v: &str) -> Option<Self> {
                match v {
                    "NaN" => Some($from_f64(f64::NAN)),
                    "Infinity" => Some($from_f64(f64::INFINITY)),
                    "-Infinity" => Some($from_f64(f64::NEG_INFINITY)),
                    _ => None,
                }
            }
            fn decode_le(bytes: &Bytes, out: &mut Vec<Self>) -> Result<()> {
                const N: usize = std::mem::size_of::<$t>();
                out.extend(
                    bytes
                        .chunks_exact(N)
                        .map(|c| $from_bits(c.try_into().unwrap_or([0; N]))),
                );
                Ok(())
            }
            fn encode_le(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
#[allow(clippy::cast_possible_truncation)]
fn f64_to_f32(v: f64) -> f32 {
    v as f32
}
float_codec!(f32, f64_to_f32, f32::from_le_bytes);
float_codec!(f64, |v: f64| v, f64::from_le_bytes);
float_codec!(f16, f16::from_f64, f16::from_le_bytes);

impl Codec for bool {
    fn from_bool(v: bool) -> Option<Self> {
        Some(v)
    }
    fn decode_le(bytes: &Bytes, out: &mut Vec<Self>) -> Result<()> {
        for &b in bytes.iter() {
            match b {
                0 => out.push(false),
                1 => out.push(true),
                other => {
                    return Err(Error::invalid(format!(
                        "BOOL binary data holds byte {other}, not 0 or 1"
                    )));
                }
            }
        }
        Ok(())
    }
    fn encode_le(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl Codec for Bytes {
    fn from_str(v: &str) -> Option<Self> {
        Some(Bytes::copy_from_slice(v.as_bytes()))
    }
    fn decode_le(bytes: &Bytes, out: &mut Vec<Self>) -> Result<()> {
        let mut at = 0;
        while at < bytes.len() {
            let Some(prefix) = bytes.get(at..at + 4) else {
                return Err(Error::invalid(
                    "BYTES binary data ends inside a 4-byte length prefix",
                ));
            };
            let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
            let start = at + 4;
            let end = start
                .checked_add(len)
                .filter(|&e| e <= bytes.len())
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "BYTES element of {len} bytes overruns the binary data"
                    ))
                })?;
            out.push(bytes.slice(start..end));
            at = end;
        }
        Ok(())
    }
    fn encode_le(&self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(self);
    }
}

/// Collects the elements of a flat or nested JSON array (or one scalar) into `out`, refusing
/// more than `limit` elements. Nested data must follow `shape` exactly: every element at
/// the same depth, that depth the shape's rank, each array as long as its dimension
/// (`[[1,2],[3,4,5,6]]` holds 6 elements but is not a `[2, 3]` tensor).
struct Flatten<'v, T> {
    out: &'v mut Vec<T>,
    limit: usize,
    shape: &'v [usize],
    /// The depth of the value being read (0: the whole `data`).
    depth: usize,
    /// The depth of the first element met; every other element must be as deep.
    leaf: &'v mut Option<usize>,
}

impl<'de, T: Codec> DeserializeSeed<'de> for Flatten<'_, T> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<T: Codec> Flatten<'_, T> {
    fn push<E: de::Error>(self, value: Option<T>, what: fmt::Arguments<'_>) -> Result<(), E> {
        match *self.leaf {
            None => *self.leaf = Some(self.depth),
            Some(leaf) if leaf != self.depth => {
                return Err(E::custom(format!(
                    "ragged nested data: elements at depths {leaf} and {}",
                    self.depth
                )));
            }
            Some(_) => {}
        }
        match value {
            Some(v) if self.out.len() < self.limit => {
                self.out.push(v);
                Ok(())
            }
            Some(_) => Err(E::custom(format!(
                "more than the {} elements the shape holds",
                self.limit
            ))),
            None => Err(E::custom(format!(
                "{what} is not a valid {} element",
                T::DATATYPE
            ))),
        }
    }
}

impl<'de, T: Codec> Visitor<'de> for Flatten<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} elements, flat or nested", T::DATATYPE)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.push(T::from_u64(v), format_args!("{v}"))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.push(T::from_i64(v), format_args!("{v}"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.push(T::from_f64(v), format_args!("{v}"))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.push(T::from_bool(v), format_args!("{v}"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.push(T::from_str(v), format_args!("string {v:?}"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(format!(
            "null is not a valid {} element",
            T::DATATYPE
        )))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut len = 0usize;
        while seq
            .next_element_seed(Flatten {
                out: &mut *self.out,
                limit: self.limit,
                shape: self.shape,
                depth: self.depth + 1,
                leaf: &mut *self.leaf,
            })?
            .is_some()
        {
            len += 1;
        }
        // Depth 1 is the flat form, valid for any shape; deeper is the nested form.
        match *self.leaf {
            Some(leaf) if leaf > 1 => {
                let expected = (leaf == self.shape.len())
                    .then(|| self.shape.get(self.depth).copied())
                    .flatten();
                if expected != Some(len) {
                    return Err(de::Error::custom(format!(
                        "nested data does not follow shape {:?}: an array of {len} at depth {}",
                        self.shape, self.depth
                    )));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Parses JSON `data` of `count` elements of type `T` into a tensor of `shape`.
pub(crate) fn json_tensor<T: Codec>(
    raw: &str,
    shape: &[usize],
    count: usize,
) -> Result<TensorData> {
    // Each JSON element takes at least 2 bytes (`1,`): never reserve more than the text allows.
    let mut out: Vec<T> = Vec::with_capacity(count.min(raw.len() / 2 + 1));
    let mut de = serde_json::Deserializer::from_str(raw);
    let mut leaf = None;
    Flatten {
        out: &mut out,
        limit: count,
        shape,
        depth: 0,
        leaf: &mut leaf,
    }
    .deserialize(&mut de)
    .map_err(|e| Error::invalid(format!("invalid {} data: {e}", T::DATATYPE)))?;
    if out.len() != count {
        return Err(Error::invalid(format!(
            "{} elements do not match shape {shape:?} ({count} elements)",
            out.len()
        )));
    }
    TensorData::from_vec(shape, out)
}

/// Decodes binary `bytes` of `count` elements of type `T` into a tensor of `shape`.
pub(crate) fn binary_tensor<T: Codec>(
    bytes: &Bytes,
    shape: &[usize],
    count: usize,
) -> Result<TensorData> {
    let mut out: Vec<T> = Vec::with_capacity(count.min(bytes.len()));
    T::decode_le(bytes, &mut out)?;
    if out.len() != count {
        return Err(Error::invalid(format!(
            "binary data holds {} elements, shape {shape:?} needs {count}",
            out.len()
        )));
    }
    TensorData::from_vec(shape, out)
}
