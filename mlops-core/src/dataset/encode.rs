//! The per-type row encodings that a column's hash is fed (the table on
//! [`DatasetDigest`](super::DatasetDigest)): one typed loop per Arrow type, dictionary values
//! encoded once per dictionary.

use std::sync::Arc;

use arrow_array::types::{
    ArrowDictionaryKeyType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type,
    Decimal256Type, DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType,
    DurationSecondType, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, IntervalDayTimeType, IntervalMonthDayNanoType, IntervalYearMonthType,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BinaryArray, BinaryViewArray, BooleanArray,
    DictionaryArray, FixedSizeBinaryArray, LargeBinaryArray, LargeStringArray, PrimitiveArray,
    StringArray, StringViewArray,
};
use arrow_buffer::{ArrowNativeType, NullBuffer, i256};
use arrow_schema::{ArrowError, DataType, IntervalUnit, TimeUnit};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// What the digest accepts, as named in [`Error::UnsupportedColumn`].
pub(super) const SUPPORTED: &str = "a primitive, string, binary or dictionary type";
/// Encoded rows are handed to SHA-256 in chunks of about this many bytes.
pub(super) const CHUNK_BYTES: usize = 64 * 1024;

/// Where encoded rows go: the column hasher, or a dictionary [`Table`].
trait RowSink {
    /// The buffer to append the current row's bytes to.
    fn bytes(&mut self) -> &mut Vec<u8>;
    /// Marks the end of the current row.
    fn end_row(&mut self);
}

/// Feeds encoded rows to a hasher in chunks of about [`CHUNK_BYTES`].
struct Hashing<'a> {
    hasher: &'a mut Sha256,
    buf: &'a mut Vec<u8>,
}

impl RowSink for Hashing<'_> {
    #[inline]
    fn bytes(&mut self) -> &mut Vec<u8> {
        self.buf
    }

    #[inline]
    fn end_row(&mut self) {
        if self.buf.len() >= CHUNK_BYTES {
            self.flush();
        }
    }
}

impl Hashing<'_> {
    fn flush(&mut self) {
        self.hasher.update(self.buf.as_slice());
        self.buf.clear();
    }
}

/// The row encodings of a dictionary's values, looked up by key.
#[derive(Clone, Default)]
pub(super) struct Table {
    /// All encodings, back to back.
    buf: Vec<u8>,
    /// Where each encoding ends in `buf`.
    ends: Vec<usize>,
}

impl RowSink for Table {
    fn bytes(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    fn end_row(&mut self) {
        self.ends.push(self.buf.len());
    }
}

impl Table {
    /// Encodes every value of a dictionary.
    fn of(values: &dyn Array) -> Result<Self> {
        let mut table = Self {
            buf: Vec::new(),
            ends: Vec::with_capacity(values.len()),
        };
        encode(values, &mut table, None)?;
        Ok(table)
    }

    /// The encoding of entry `key`, or the error for a key out of range.
    #[inline]
    fn entry(&self, key: usize) -> Result<&[u8]> {
        let start = match key.checked_sub(1) {
            None => 0,
            Some(previous) => self.ends.get(previous).copied().unwrap_or(usize::MAX),
        };
        self.ends
            .get(key)
            .and_then(|&end| self.buf.get(start..end))
            .ok_or_else(|| key_out_of_range(key, self.ends.len()))
    }
}

/// Appends one column of one batch to the column's hash.
pub(super) fn encode_column(
    array: &dyn Array,
    hasher: &mut Sha256,
    dictionary: &mut Option<(ArrayRef, Table)>,
    scratch: &mut Vec<u8>,
) -> Result<()> {
    scratch.clear();
    let mut sink = Hashing {
        hasher,
        buf: scratch,
    };
    encode(array, &mut sink, Some(dictionary))?;
    sink.flush();
    Ok(())
}

/// Encodes every row of `array` into `sink`. The type is matched once per array; each arm
/// runs a monomorphised loop over the typed values.
fn encode<S: RowSink>(
    array: &dyn Array,
    sink: &mut S,
    cache: Option<&mut Option<(ArrayRef, Table)>>,
) -> Result<()> {
    use TimeUnit::{Microsecond, Millisecond, Nanosecond, Second};
    match array.data_type() {
        DataType::Null => {
            for _ in 0..array.len() {
                sink.bytes().push(0);
                sink.end_row();
            }
            Ok(())
        }
        DataType::Boolean => {
            let a = downcast::<BooleanArray>(array)?;
            let values = a.values();
            each_row(a.len(), a.nulls(), sink, |i, b| {
                b.push(u8::from(values.value(i)));
            })
        }
        DataType::Int8 => fixed::<Int8Type, 1, _>(array, sink, i8::to_le_bytes),
        DataType::Int16 => fixed::<Int16Type, 2, _>(array, sink, i16::to_le_bytes),
        DataType::Int32 => fixed::<Int32Type, 4, _>(array, sink, i32::to_le_bytes),
        DataType::Int64 => fixed::<Int64Type, 8, _>(array, sink, i64::to_le_bytes),
        DataType::UInt8 => fixed::<UInt8Type, 1, _>(array, sink, u8::to_le_bytes),
        DataType::UInt16 => fixed::<UInt16Type, 2, _>(array, sink, u16::to_le_bytes),
        DataType::UInt32 => fixed::<UInt32Type, 4, _>(array, sink, u32::to_le_bytes),
        DataType::UInt64 => fixed::<UInt64Type, 8, _>(array, sink, u64::to_le_bytes),
        DataType::Float16 => fixed::<Float16Type, 2, _>(array, sink, |v| {
            if v.is_nan() {
                [0x00, 0x7E]
            } else {
                v.to_le_bytes()
            }
        }),
        DataType::Float32 => fixed::<Float32Type, 4, _>(array, sink, |v| {
            if v.is_nan() {
                0x7FC0_0000_u32.to_le_bytes()
            } else {
                v.to_le_bytes()
            }
        }),
        DataType::Float64 => fixed::<Float64Type, 8, _>(array, sink, |v| {
            if v.is_nan() {
                0x7FF8_0000_0000_0000_u64.to_le_bytes()
            } else {
                v.to_le_bytes()
            }
        }),
        DataType::Decimal32(..) => fixed::<Decimal32Type, 32, _>(array, sink, |v| {
            i256::from_i128(i128::from(v)).to_le_bytes()
        }),
        DataType::Decimal64(..) => fixed::<Decimal64Type, 32, _>(array, sink, |v| {
            i256::from_i128(i128::from(v)).to_le_bytes()
        }),
        DataType::Decimal128(..) => {
            fixed::<Decimal128Type, 32, _>(array, sink, |v| i256::from_i128(v).to_le_bytes())
        }
        DataType::Decimal256(..) => fixed::<Decimal256Type, 32, _>(array, sink, i256::to_le_bytes),
        DataType::Date32 => fixed::<Date32Type, 4, _>(array, sink, i32::to_le_bytes),
        DataType::Date64 => fixed::<Date64Type, 8, _>(array, sink, i64::to_le_bytes),
        DataType::Time32(Second) => fixed::<Time32SecondType, 4, _>(array, sink, i32::to_le_bytes),
        DataType::Time32(Millisecond) => {
            fixed::<Time32MillisecondType, 4, _>(array, sink, i32::to_le_bytes)
        }
        DataType::Time64(Microsecond) => {
            fixed::<Time64MicrosecondType, 8, _>(array, sink, i64::to_le_bytes)
        }
        DataType::Time64(Nanosecond) => {
            fixed::<Time64NanosecondType, 8, _>(array, sink, i64::to_le_bytes)
        }
        DataType::Timestamp(unit, _) => match unit {
            Second => fixed::<TimestampSecondType, 8, _>(array, sink, i64::to_le_bytes),
            Millisecond => fixed::<TimestampMillisecondType, 8, _>(array, sink, i64::to_le_bytes),
            Microsecond => fixed::<TimestampMicrosecondType, 8, _>(array, sink, i64::to_le_bytes),
            Nanosecond => fixed::<TimestampNanosecondType, 8, _>(array, sink, i64::to_le_bytes),
        },
        DataType::Duration(unit) => match unit {
            Second => fixed::<DurationSecondType, 8, _>(array, sink, i64::to_le_bytes),
            Millisecond => fixed::<DurationMillisecondType, 8, _>(array, sink, i64::to_le_bytes),
            Microsecond => fixed::<DurationMicrosecondType, 8, _>(array, sink, i64::to_le_bytes),
            Nanosecond => fixed::<DurationNanosecondType, 8, _>(array, sink, i64::to_le_bytes),
        },
        DataType::Interval(IntervalUnit::YearMonth) => {
            fixed::<IntervalYearMonthType, 4, _>(array, sink, i32::to_le_bytes)
        }
        DataType::Interval(IntervalUnit::DayTime) => {
            fixed::<IntervalDayTimeType, 8, _>(array, sink, |v| {
                let mut b = [0u8; 8];
                b[..4].copy_from_slice(&v.days.to_le_bytes());
                b[4..].copy_from_slice(&v.milliseconds.to_le_bytes());
                b
            })
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            fixed::<IntervalMonthDayNanoType, 16, _>(array, sink, |v| {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&v.months.to_le_bytes());
                b[4..8].copy_from_slice(&v.days.to_le_bytes());
                b[8..].copy_from_slice(&v.nanoseconds.to_le_bytes());
                b
            })
        }
        DataType::Utf8 => {
            let a = downcast::<StringArray>(array)?;
            each_row(a.len(), a.nulls(), sink, |i, b| {
                bytes(b, a.value(i).as_bytes());
            })
        }
        DataType::LargeUtf8 => {
            let a = downcast::<LargeStringArray>(array)?;
            each_row(a.len(), a.nulls(), sink, |i, b| {
                bytes(b, a.value(i).as_bytes());
            })
        }
        DataType::Utf8View => {
            let a = downcast::<StringViewArray>(array)?;
            each_row(a.len(), a.nulls(), sink, |i, b| {
                bytes(b, a.value(i).as_bytes());
            })
        }
        DataType::Binary => {
            let a = downcast::<BinaryArray>(array)?;
            each_row(a.len(), a.nulls(), sink, |i, b| bytes(b, a.value(i)))
        }
        DataType::LargeBinary => {
            let a = downcast::<LargeBinaryArray>(array)?;
            each_row(a.len(), a.nulls(), sink, |i, b| bytes(b, a.value(i)))
        }
        DataType::BinaryView => {
            let a = downcast::<BinaryViewArray>(array)?;
            each_row(a.len(), a.nulls(), sink, |i, b| bytes(b, a.value(i)))
        }
        DataType::FixedSizeBinary(_) => {
            let a = downcast::<FixedSizeBinaryArray>(array)?;
            each_row(a.len(), a.nulls(), sink, |i, b| bytes(b, a.value(i)))
        }
        DataType::Dictionary(key, _) => match key.as_ref() {
            DataType::Int8 => dictionary::<Int8Type, S>(array, sink, cache),
            DataType::Int16 => dictionary::<Int16Type, S>(array, sink, cache),
            DataType::Int32 => dictionary::<Int32Type, S>(array, sink, cache),
            DataType::Int64 => dictionary::<Int64Type, S>(array, sink, cache),
            DataType::UInt8 => dictionary::<UInt8Type, S>(array, sink, cache),
            DataType::UInt16 => dictionary::<UInt16Type, S>(array, sink, cache),
            DataType::UInt32 => dictionary::<UInt32Type, S>(array, sink, cache),
            DataType::UInt64 => dictionary::<UInt64Type, S>(array, sink, cache),
            _ => Err(unsupported(array.data_type())),
        },
        other => Err(unsupported(other)),
    }
}

/// The error for a type the digest refuses.
fn unsupported(data_type: &DataType) -> Error {
    Error::UnsupportedColumn {
        column: String::new(),
        data_type: data_type.clone(),
        expected: SUPPORTED,
    }
}

/// Downcasts once, turning a mismatch (which would be an Arrow bug) into an error.
fn downcast<T: 'static>(array: &dyn Array) -> Result<&T> {
    array.as_any().downcast_ref::<T>().ok_or_else(|| {
        Error::Arrow(ArrowError::InvalidArgumentError(format!(
            "array of type {} does not have the expected layout",
            array.data_type()
        )))
    })
}

/// The error for a dictionary key that points outside its dictionary.
fn key_out_of_range(key: usize, len: usize) -> Error {
    Error::Arrow(ArrowError::InvalidArgumentError(format!(
        "dictionary key {key} is out of range for a dictionary of {len} values"
    )))
}

/// Appends `u64le(len) ‖ value`.
#[inline]
fn bytes(buf: &mut Vec<u8>, value: &[u8]) {
    buf.extend_from_slice(&(value.len() as u64).to_le_bytes());
    buf.extend_from_slice(value);
}

/// The row loop: `0x00` for a null row, else `0x01` and what `value` appends. Never fails;
/// returns a `Result` so that the arms of [`encode`] read alike.
#[inline]
fn each_row<S: RowSink>(
    len: usize,
    nulls: Option<&NullBuffer>,
    sink: &mut S,
    mut value: impl FnMut(usize, &mut Vec<u8>),
) -> Result<()> {
    match nulls.filter(|n| n.null_count() > 0) {
        None => {
            for i in 0..len {
                let buf = sink.bytes();
                buf.push(1);
                value(i, buf);
                sink.end_row();
            }
        }
        Some(nulls) => {
            for i in 0..len {
                let buf = sink.bytes();
                if nulls.is_valid(i) {
                    buf.push(1);
                    value(i, buf);
                } else {
                    buf.push(0);
                }
                sink.end_row();
            }
        }
    }
    Ok(())
}

/// Fixed-width values: one downcast, then `encode` on each value of the typed slice.
#[inline]
fn fixed<T: ArrowPrimitiveType, const N: usize, S: RowSink>(
    array: &dyn Array,
    sink: &mut S,
    encode: impl Fn(T::Native) -> [u8; N],
) -> Result<()> {
    let a = downcast::<PrimitiveArray<T>>(array)?;
    let values = a.values();
    each_row(a.len(), a.nulls(), sink, |i, b| {
        b.extend_from_slice(&encode(values[i]));
    })
}

/// Dictionary arrays: the values are encoded once into a [`Table`] (kept in `cache` while
/// later batches share the same dictionary), then each row copies its key's encoding.
fn dictionary<K: ArrowDictionaryKeyType, S: RowSink>(
    array: &dyn Array,
    sink: &mut S,
    cache: Option<&mut Option<(ArrayRef, Table)>>,
) -> Result<()> {
    let dict = downcast::<DictionaryArray<K>>(array)?;
    let values = dict.values();
    let fresh;
    let table = match cache {
        Some(cache) => {
            let hit = cache.as_ref().is_some_and(|(cached, _)| {
                std::ptr::addr_eq(Arc::as_ptr(cached), Arc::as_ptr(values))
            });
            if !hit {
                *cache = None;
            }
            match cache {
                Some((_, table)) => &*table,
                None => {
                    &cache
                        .insert((Arc::clone(values), Table::of(values.as_ref())?))
                        .1
                }
            }
        }
        None => {
            fresh = Table::of(values.as_ref())?;
            &fresh
        }
    };
    let keys = dict.keys();
    let key_nulls = keys.nulls().filter(|n| n.null_count() > 0);
    for (i, &key) in keys.values().iter().enumerate() {
        if key_nulls.is_some_and(|n| n.is_null(i)) {
            sink.bytes().push(0);
        } else {
            sink.bytes().extend_from_slice(table.entry(key.as_usize())?);
        }
        sink.end_row();
    }
    Ok(())
}
