//! [`RowBuffer`]: the rows of many inferences gathered column by column, then handed to a
//! window's accumulator as one record batch per block.
//!
//! Why: a request of 64 rows is too small a batch. Building an Arrow batch per request (a
//! schema, named fields, one array per feature) and pushing it into mlops-drift's
//! accumulator (a parallel job over the columns) cost more than the values themselves. The
//! buffer keeps one growing vector per feature, so a request costs a copy of its values,
//! and a block of [`RowBuffer::BLOCK`] rows becomes one batch. The batches hold the same
//! rows, in the same order and with the same Arrow types, as one batch per request would:
//! the accumulated window, and so its report, is identical.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, UInt64Array};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use mlops_serve::TensorData;
use ndarray::{Axis, Slice};

/// The Arrow type a tensor datatype is monitored as (see [`crate::FeatureMap::batch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `FP16`, `FP32`, `FP64` as `Float64`.
    Float,
    /// Signed integers and `UINT8`..`UINT32` as `Int64`.
    Int,
    /// `UINT64` as `UInt64`.
    UInt,
    /// `BOOL` as `Boolean`.
    Bool,
    /// `BYTES` as `Utf8` (invalid UTF-8 as null).
    Utf8,
}

impl Kind {
    /// The kind of `data`; an error for a datatype that is not monitored.
    pub(crate) fn of(data: &TensorData) -> Result<Self, String> {
        Ok(match data {
            TensorData::Fp64(_) | TensorData::Fp32(_) | TensorData::Fp16(_) => Self::Float,
            TensorData::Int64(_)
            | TensorData::Int32(_)
            | TensorData::Int16(_)
            | TensorData::Int8(_)
            | TensorData::Uint32(_)
            | TensorData::Uint16(_)
            | TensorData::Uint8(_) => Self::Int,
            TensorData::Uint64(_) => Self::UInt,
            TensorData::Bool(_) => Self::Bool,
            TensorData::Bytes(_) => Self::Utf8,
            other => {
                return Err(format!(
                    "datatype {} is not monitored",
                    other.datatype().as_str()
                ));
            }
        })
    }

    fn data_type(self) -> DataType {
        match self {
            Self::Float => DataType::Float64,
            Self::Int => DataType::Int64,
            Self::UInt => DataType::UInt64,
            Self::Bool => DataType::Boolean,
            Self::Utf8 => DataType::Utf8,
        }
    }
}

/// The rows of column `column` of a `[n, k]` tensor (or of a `[n]` one when `None`), after
/// checking its datatype and rank.
pub(crate) fn rows_of(data: &TensorData, column: Option<usize>) -> Result<usize, String> {
    Kind::of(data)?;
    let shape = data.shape();
    match (shape.len(), column) {
        (1, None) => Ok(shape[0]),
        (2, Some(j)) if j < shape[1] => Ok(shape[0]),
        (2, Some(j)) => Err(format!("has {} columns, column {j} expected", shape[1])),
        (n, _) => Err(format!(
            "has rank {n}, which the feature map does not expect"
        )),
    }
}

/// One feature's buffered values.
#[derive(Debug)]
enum Column {
    Float(Vec<f64>),
    Int(Vec<i64>),
    UInt(Vec<u64>),
    Bool(Vec<bool>),
    Utf8(StringBuilder),
}

impl Column {
    fn new(kind: Kind) -> Self {
        let n = RowBuffer::BLOCK;
        match kind {
            Kind::Float => Self::Float(Vec::with_capacity(n)),
            Kind::Int => Self::Int(Vec::with_capacity(n)),
            Kind::UInt => Self::UInt(Vec::with_capacity(n)),
            Kind::Bool => Self::Bool(Vec::with_capacity(n)),
            Kind::Utf8 => Self::Utf8(StringBuilder::new()),
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Self::Float(_) => Kind::Float,
            Self::Int(_) => Kind::Int,
            Self::UInt(_) => Kind::UInt,
            Self::Bool(_) => Kind::Bool,
            Self::Utf8(_) => Kind::Utf8,
        }
    }

    /// Appends rows `rows` of column `column` of `data` (checked by [`rows_of`], of this
    /// column's kind).
    fn extend(
        &mut self,
        data: &TensorData,
        column: Option<usize>,
        rows: &Range<usize>,
    ) -> Result<(), String> {
        let n = rows_of(data, column)?;
        if rows.start > rows.end || rows.end > n {
            return Err(format!("internal: rows {rows:?} of a tensor of {n} rows"));
        }
        // The rows of one column, as an iterator of `&T` (no copy of the tensor).
        macro_rules! put {
            ($array:expr, $push:expr) => {{
                let view = $array.slice_axis(Axis(0), Slice::from(rows.clone()));
                match column {
                    Some(j) => view.index_axis(Axis(1), j).iter().for_each($push),
                    None => view.iter().for_each($push),
                }
            }};
        }
        match (self, data) {
            (Self::Float(out), TensorData::Fp64(a)) => put!(a, |v: &f64| out.push(*v)),
            (Self::Float(out), TensorData::Fp32(a)) => put!(a, |v: &f32| out.push(f64::from(*v))),
            (Self::Float(out), TensorData::Fp16(a)) => {
                put!(a, |v: &mlops_serve::tensor::f16| out.push(v.to_f64()));
            }
            (Self::Int(out), TensorData::Int64(a)) => put!(a, |v: &i64| out.push(*v)),
            (Self::Int(out), TensorData::Int32(a)) => put!(a, |v: &i32| out.push(i64::from(*v))),
            (Self::Int(out), TensorData::Int16(a)) => put!(a, |v: &i16| out.push(i64::from(*v))),
            (Self::Int(out), TensorData::Int8(a)) => put!(a, |v: &i8| out.push(i64::from(*v))),
            (Self::Int(out), TensorData::Uint32(a)) => put!(a, |v: &u32| out.push(i64::from(*v))),
            (Self::Int(out), TensorData::Uint16(a)) => put!(a, |v: &u16| out.push(i64::from(*v))),
            (Self::Int(out), TensorData::Uint8(a)) => put!(a, |v: &u8| out.push(i64::from(*v))),
            (Self::UInt(out), TensorData::Uint64(a)) => put!(a, |v: &u64| out.push(*v)),
            (Self::Bool(out), TensorData::Bool(a)) => put!(a, |v: &bool| out.push(*v)),
            (Self::Utf8(out), TensorData::Bytes(a)) => {
                put!(a, |v: &mlops_serve::Bytes| match std::str::from_utf8(v) {
                    Ok(s) => out.append_value(s),
                    Err(_) => out.append_null(),
                });
            }
            (column, data) => {
                return Err(format!(
                    "internal: datatype {} in a {:?} column",
                    data.datatype().as_str(),
                    column.kind()
                ));
            }
        }
        Ok(())
    }

    /// The values as an Arrow array; the column is left empty, with room for a block.
    fn take(&mut self) -> ArrayRef {
        let fresh = Self::new(self.kind());
        match std::mem::replace(self, fresh) {
            Self::Float(v) => Arc::new(Float64Array::from(v)),
            Self::Int(v) => Arc::new(Int64Array::from(v)),
            Self::UInt(v) => Arc::new(UInt64Array::from(v)),
            Self::Bool(v) => Arc::new(BooleanArray::from(v)),
            Self::Utf8(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Buffered rows of a feature map's columns (see the [module docs](self)).
#[derive(Debug, Default)]
pub(crate) struct RowBuffer {
    columns: Vec<Column>,
    schema: Option<SchemaRef>,
    rows: usize,
}

impl RowBuffer {
    /// The rows a window's accumulator receives at once (unless the window closes first).
    pub(crate) const BLOCK: usize = 2048;

    /// The rows buffered.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Whether the buffered columns have these kinds, in order (`None`: no kind).
    pub(crate) fn has_kinds(&self, mut kinds: impl ExactSizeIterator<Item = Option<Kind>>) -> bool {
        self.schema.is_some()
            && kinds.len() == self.columns.len()
            && self
                .columns
                .iter()
                .all(|c| kinds.next() == Some(Some(c.kind())))
    }

    /// Starts over (the buffer must be empty) with columns of these names and kinds.
    pub(crate) fn reset<'a>(&mut self, columns: impl Iterator<Item = (&'a str, Kind)>) {
        let (fields, columns): (Vec<Field>, Vec<Column>) = columns
            .map(|(name, kind)| (Field::new(name, kind.data_type(), true), Column::new(kind)))
            .unzip();
        self.schema = Some(Arc::new(Schema::new(fields)));
        self.columns = columns;
        self.rows = 0;
    }

    /// Appends rows `rows` of column `index`'s tensor; call it for every column, then
    /// [`RowBuffer::added`].
    pub(crate) fn extend(
        &mut self,
        index: usize,
        data: &TensorData,
        column: Option<usize>,
        rows: &Range<usize>,
    ) -> Result<(), String> {
        match self.columns.get_mut(index) {
            Some(buffer) => buffer.extend(data, column, rows),
            None => Err(format!("internal: no buffered column {index}")),
        }
    }

    /// Records that every column received `rows` more rows.
    pub(crate) fn added(&mut self, rows: usize) {
        self.rows += rows;
    }

    /// The buffered rows as one batch (none before the first [`RowBuffer::reset`]); the
    /// buffer is left empty with the same columns.
    pub(crate) fn take(&mut self) -> Option<Result<RecordBatch, ArrowError>> {
        let schema = self.schema.clone()?;
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(Column::take).collect();
        self.rows = 0;
        Some(RecordBatch::try_new(schema, arrays))
    }
}
