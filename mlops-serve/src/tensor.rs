//! Tensors as models see them: OIP datatypes over `ndarray` arrays.
//!
//! **Why ndarray and not Arrow.** OIP tensors are dense, row-major, n-dimensional arrays
//! with one datatype: exactly `ndarray::ArrayD<T>`. Arrow arrays are one-dimensional
//! columns with validity bitmaps that OIP has no use for, so every tensor would need a
//! shape carried beside it. `ndarray` 0.17 is also what `tract` (the ONNX runtime behind
//! the `onnx` feature) uses, so ONNX tensors convert without copying, and concatenating
//! requests along the batch dimension is `ndarray::concatenate`. BYTES elements are
//! [`bytes::Bytes`], which slice the request body without copying.

use std::fmt;
use std::str::FromStr;

pub use bytes::Bytes;
pub use half::f16;
use ndarray::{Array0, Array1, Array2, Array3, Axis, Slice};
pub use ndarray::{ArrayD, IxDyn};

use crate::error::{Error, Result};

/// An Open Inference Protocol tensor datatype (`"FP32"`, `"INT64"`, `"BYTES"`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Datatype {
    /// `BOOL`: one byte, 0 or 1.
    Bool,
    /// `UINT8`.
    Uint8,
    /// `UINT16`.
    Uint16,
    /// `UINT32`.
    Uint32,
    /// `UINT64`.
    Uint64,
    /// `INT8`.
    Int8,
    /// `INT16`.
    Int16,
    /// `INT32`.
    Int32,
    /// `INT64`.
    Int64,
    /// `FP16`: IEEE 754 half precision.
    Fp16,
    /// `FP32`.
    Fp32,
    /// `FP64`.
    Fp64,
    /// `BYTES`: variable-length byte strings (UTF-8 text in JSON).
    Bytes,
}

impl Datatype {
    /// Every datatype, in the order of the OIP table.
    pub const ALL: [Datatype; 13] = [
        Datatype::Bool,
        Datatype::Uint8,
        Datatype::Uint16,
        Datatype::Uint32,
        Datatype::Uint64,
        Datatype::Int8,
        Datatype::Int16,
        Datatype::Int32,
        Datatype::Int64,
        Datatype::Fp16,
        Datatype::Fp32,
        Datatype::Fp64,
        Datatype::Bytes,
    ];

    /// The OIP spelling, for example `"FP32"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Datatype::Bool => "BOOL",
            Datatype::Uint8 => "UINT8",
            Datatype::Uint16 => "UINT16",
            Datatype::Uint32 => "UINT32",
            Datatype::Uint64 => "UINT64",
            Datatype::Int8 => "INT8",
            Datatype::Int16 => "INT16",
            Datatype::Int32 => "INT32",
            Datatype::Int64 => "INT64",
            Datatype::Fp16 => "FP16",
            Datatype::Fp32 => "FP32",
            Datatype::Fp64 => "FP64",
            Datatype::Bytes => "BYTES",
        }
    }

    /// Parses the OIP spelling (case-sensitive, as the protocol says).
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == value)
    }

    /// Bytes per element in the binary encoding, `None` for `BYTES` (variable length).
    pub fn element_size(self) -> Option<usize> {
        match self {
            Datatype::Bool | Datatype::Uint8 | Datatype::Int8 => Some(1),
            Datatype::Uint16 | Datatype::Int16 | Datatype::Fp16 => Some(2),
            Datatype::Uint32 | Datatype::Int32 | Datatype::Fp32 => Some(4),
            Datatype::Uint64 | Datatype::Int64 | Datatype::Fp64 => Some(8),
            Datatype::Bytes => None,
        }
    }
}

impl fmt::Display for Datatype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Datatype {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        Self::parse(value).ok_or_else(|| Error::invalid(format!("unknown datatype {value:?}")))
    }
}

/// Calls `$body` with `$a` bound to the array inside any [`TensorData`] variant.
macro_rules! each_variant {
    ($value:expr, $a:ident => $body:expr) => {
        match $value {
            TensorData::Bool($a) => $body,
            TensorData::Uint8($a) => $body,
            TensorData::Uint16($a) => $body,
            TensorData::Uint32($a) => $body,
            TensorData::Uint64($a) => $body,
            TensorData::Int8($a) => $body,
            TensorData::Int16($a) => $body,
            TensorData::Int32($a) => $body,
            TensorData::Int64($a) => $body,
            TensorData::Fp16($a) => $body,
            TensorData::Fp32($a) => $body,
            TensorData::Fp64($a) => $body,
            TensorData::Bytes($a) => $body,
        }
    };
}
pub(crate) use each_variant;

/// The values of one tensor: an n-dimensional array of one OIP datatype.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TensorData {
    /// `BOOL` values.
    Bool(ArrayD<bool>),
    /// `UINT8` values.
    Uint8(ArrayD<u8>),
    /// `UINT16` values.
    Uint16(ArrayD<u16>),
    /// `UINT32` values.
    Uint32(ArrayD<u32>),
    /// `UINT64` values.
    Uint64(ArrayD<u64>),
    /// `INT8` values.
    Int8(ArrayD<i8>),
    /// `INT16` values.
    Int16(ArrayD<i16>),
    /// `INT32` values.
    Int32(ArrayD<i32>),
    /// `INT64` values.
    Int64(ArrayD<i64>),
    /// `FP16` values.
    Fp16(ArrayD<f16>),
    /// `FP32` values.
    Fp32(ArrayD<f32>),
    /// `FP64` values.
    Fp64(ArrayD<f64>),
    /// `BYTES` values.
    Bytes(ArrayD<Bytes>),
}

impl TensorData {
    /// Builds a tensor of shape `shape` from row-major values.
    ///
    /// ```
    /// use mlops_serve::{Datatype, TensorData};
    /// let t = TensorData::from_vec(&[2, 2], vec![1.0f32, 2.0, 3.0, 4.0])?;
    /// assert_eq!(t.datatype(), Datatype::Fp32);
    /// assert_eq!(t.shape(), &[2, 2]);
    /// assert!(TensorData::from_vec(&[3], vec![1.0f32]).is_err());
    /// # Ok::<(), mlops_serve::Error>(())
    /// ```
    pub fn from_vec<T: Element>(shape: &[usize], values: Vec<T>) -> Result<Self> {
        let count = values.len();
        // Ranks up to 3 through ndarray's fixed dimensions (strides and checks unrolled, no
        // loop over an `IxDyn`), then made dynamic: the same array, at a fraction of the
        // cost on a one-row request.
        let array = match *shape {
            [] => Array0::from_shape_vec((), values).map(Array0::into_dyn),
            [a] => Array1::from_shape_vec(a, values).map(Array1::into_dyn),
            [a, b] => Array2::from_shape_vec((a, b), values).map(Array2::into_dyn),
            [a, b, c] => Array3::from_shape_vec((a, b, c), values).map(Array3::into_dyn),
            _ => ArrayD::from_shape_vec(IxDyn(shape), values),
        };
        array.map(T::wrap).map_err(|_| {
            Error::invalid(format!(
                "{count} {} values do not fill shape {shape:?}",
                T::DATATYPE
            ))
        })
    }

    /// The OIP datatype.
    pub fn datatype(&self) -> Datatype {
        match self {
            TensorData::Bool(_) => Datatype::Bool,
            TensorData::Uint8(_) => Datatype::Uint8,
            TensorData::Uint16(_) => Datatype::Uint16,
            TensorData::Uint32(_) => Datatype::Uint32,
            TensorData::Uint64(_) => Datatype::Uint64,
            TensorData::Int8(_) => Datatype::Int8,
            TensorData::Int16(_) => Datatype::Int16,
            TensorData::Int32(_) => Datatype::Int32,
            TensorData::Int64(_) => Datatype::Int64,
            TensorData::Fp16(_) => Datatype::Fp16,
            TensorData::Fp32(_) => Datatype::Fp32,
            TensorData::Fp64(_) => Datatype::Fp64,
            TensorData::Bytes(_) => Datatype::Bytes,
        }
    }

    /// The shape (one entry per dimension).
    pub fn shape(&self) -> &[usize] {
        each_variant!(self, a => a.shape())
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        each_variant!(self, a => a.len())
    }

    /// Whether the tensor has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The array, if the tensor holds elements of type `T`.
    pub fn as_array<T: Element>(&self) -> Option<&ArrayD<T>> {
        T::unwrap_ref(self)
    }

    /// Concatenates tensors of one datatype along dimension 0 (the batch dimension).
    pub fn concat_rows(parts: &[&TensorData]) -> Result<TensorData> {
        let Some(first) = parts.first() else {
            return Err(Error::invalid("nothing to concatenate"));
        };
        macro_rules! cat {
            ($variant:ident) => {{
                let mut views = Vec::with_capacity(parts.len());
                for part in parts {
                    match part {
                        TensorData::$variant(a) => views.push(a.view()),
                        other => {
                            return Err(Error::invalid(format!(
                                "cannot batch {} with {}",
                                first.datatype(),
                                other.datatype()
                            )));
                        }
                    }
                }
                ndarray::concatenate(Axis(0), &views)
                    .map(TensorData::$variant)
                    .map_err(|e| Error::invalid(format!("cannot batch tensors: {e}")))
            }};
        }
        match first {
            TensorData::Bool(_) => cat!(Bool),
            TensorData::Uint8(_) => cat!(Uint8),
            TensorData::Uint16(_) => cat!(Uint16),
            TensorData::Uint32(_) => cat!(Uint32),
            TensorData::Uint64(_) => cat!(Uint64),
            TensorData::Int8(_) => cat!(Int8),
            TensorData::Int16(_) => cat!(Int16),
            TensorData::Int32(_) => cat!(Int32),
            TensorData::Int64(_) => cat!(Int64),
            TensorData::Fp16(_) => cat!(Fp16),
            TensorData::Fp32(_) => cat!(Fp32),
            TensorData::Fp64(_) => cat!(Fp64),
            TensorData::Bytes(_) => cat!(Bytes),
        }
    }

    /// Rows `start..end` of dimension 0, as a new owned tensor.
    pub fn slice_rows(&self, start: usize, end: usize) -> Result<TensorData> {
        let rows = self.shape().first().copied().unwrap_or(0);
        if start > end || end > rows {
            return Err(Error::invalid(format!(
                "rows {start}..{end} are outside a batch of {rows}"
            )));
        }
        macro_rules! slice {
            ($variant:ident, $a:expr) => {
                TensorData::$variant($a.slice_axis(Axis(0), Slice::from(start..end)).to_owned())
            };
        }
        Ok(match self {
            TensorData::Bool(a) => slice!(Bool, a),
            TensorData::Uint8(a) => slice!(Uint8, a),
            TensorData::Uint16(a) => slice!(Uint16, a),
            TensorData::Uint32(a) => slice!(Uint32, a),
            TensorData::Uint64(a) => slice!(Uint64, a),
            TensorData::Int8(a) => slice!(Int8, a),
            TensorData::Int16(a) => slice!(Int16, a),
            TensorData::Int32(a) => slice!(Int32, a),
            TensorData::Int64(a) => slice!(Int64, a),
            TensorData::Fp16(a) => slice!(Fp16, a),
            TensorData::Fp32(a) => slice!(Fp32, a),
            TensorData::Fp64(a) => slice!(Fp64, a),
            TensorData::Bytes(a) => slice!(Bytes, a),
        })
    }
}

/// A Rust element type that has an OIP datatype: `bool`, the integers, `f16`, `f32`, `f64`
/// and [`Bytes`].
pub trait Element: Clone + Send + Sync + 'static {
    /// The OIP datatype of this element type.
    const DATATYPE: Datatype;
    /// Wraps an array into the matching [`TensorData`] variant.
    fn wrap(array: ArrayD<Self>) -> TensorData;
    /// The array inside `data`, if it has this element type.
    fn unwrap_ref(data: &TensorData) -> Option<&ArrayD<Self>>;
    /// The array inside `data`, if it has this element type.
    fn unwrap(data: TensorData) -> Option<ArrayD<Self>>;
}

macro_rules! element {
    ($t:ty, $variant:ident) => {
        impl Element for $t {
            const DATATYPE: Datatype = Datatype::$variant;
            fn wrap(array: ArrayD<Self>) -> TensorData {
                TensorData::$variant(array)
            }
            fn unwrap_ref(data: &TensorData) -> Option<&ArrayD<Self>> {
                match data {
                    TensorData::$variant(a) => Some(a),
                    _ => None,
                }
            }
            fn unwrap(data: TensorData) -> Option<ArrayD<Self>> {
                match data {
                    TensorData::$variant(a) => Some(a),
                    _ => None,
                }
            }
        }
        impl From<ArrayD<$t>> for TensorData {
            fn from(array: ArrayD<$t>) -> Self {
                TensorData::$variant(array)
            }
        }
    };
}
element!(bool, Bool);
element!(u8, Uint8);
element!(u16, Uint16);
element!(u32, Uint32);
element!(u64, Uint64);
element!(i8, Int8);
element!(i16, Int16);
element!(i32, Int32);
element!(i64, Int64);
element!(f16, Fp16);
element!(f32, Fp32);
element!(f64, Fp64);
element!(Bytes, Bytes);

/// A named tensor: one model input or output.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// The input or output name from the model metadata.
    pub name: String,
    /// The values.
    pub data: TensorData,
}

impl Tensor {
    /// A tensor named `name`.
    pub fn new(name: impl Into<String>, data: impl Into<TensorData>) -> Self {
        Self {
            name: name.into(),
            data: data.into(),
        }
    }
}

/// The declared name, datatype and shape of a model input or output (model metadata).
///
/// A dimension of `-1` is variable. When dimension 0 of every input and output is `-1`, it is
/// the batch dimension and the server may batch requests together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// The tensor name.
    pub name: String,
    /// The datatype.
    pub datatype: Datatype,
    /// The shape; `-1` marks a variable dimension.
    pub shape: Vec<i64>,
}

impl TensorSpec {
    /// A spec; `shape` may use `-1` for variable dimensions.
    pub fn new(name: impl Into<String>, datatype: Datatype, shape: impl Into<Vec<i64>>) -> Self {
        Self {
            name: name.into(),
            datatype,
            shape: shape.into(),
        }
    }

    /// Whether `shape` (a concrete shape) fits this spec: same rank, equal fixed dimensions.
    pub fn accepts_shape(&self, shape: &[usize]) -> bool {
        self.shape.len() == shape.len()
            && self.shape.iter().zip(shape).all(|(&want, &got)| {
                want < 0 || u64::try_from(want).ok() == u64::try_from(got).ok()
            })
    }
}
