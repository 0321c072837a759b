//! [`numeric_values`]: any numeric Arrow array as finite `f64` values, nulls, NaN and
//! infinities dropped and counted.

use arrow_array::types::{
    ArrowDictionaryKeyType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type,
    Decimal256Type, DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType,
    DurationSecondType, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrowPrimitiveType, DictionaryArray, Float64Array, Int32Array, Int64Array,
    PrimitiveArray, RecordBatch,
};
use arrow_buffer::{ArrowNativeType, i256};
use arrow_schema::{DataType, TimeUnit};

use super::{NUMERIC, ValueCounts, column, downcast, key_out_of_range, unsupported};
use crate::error::{DriftError, Result};

/// Appends the finite values of a numeric column to `out` as `f64`, in row order.
///
/// Nulls, NaN and ±infinity are not appended but counted in the returned [`ValueCounts`].
/// Accepted types: every integer type, `Float16/32/64`, `Decimal32/64/128/256` (the value
/// divided by 10^scale), `Date32/64`, `Time32/64`, `Timestamp` and `Duration` of any unit (the
/// raw integer in that unit), `Null`, and `Dictionary` whose values are any of these (a row
/// whose key or value is null counts as null). Integers beyond ±2⁵³ are rounded to the
/// nearest `f64`; a timestamp's time zone is ignored (the stored instant is UTC-based), so
/// only columns of the same unit are comparable, which the caller checks.
///
/// The type is matched once per array, then a typed loop runs over the value slice and the
/// validity bitmap (dictionaries: over the keys, through a table of converted values), with
/// no allocation per row beyond growing `out`.
///
/// # Errors
///
/// [`DriftError::UnsupportedArray`] naming the type for any other type;
/// [`DriftError::Arrow`] if the array is malformed (a dictionary key out of range). On error `out`
/// is left as it was.
pub fn numeric_values(array: &dyn Array, out: &mut Vec<f64>) -> Result<ValueCounts> {
    let mut counts = ValueCounts {
        rows: array.len() as u64,
        ..ValueCounts::default()
    };
    let before = out.len();
    let done = if let DataType::Dictionary(key, _) = array.data_type() {
        numeric_dictionary(array, key, out, &mut counts)
    } else if array.logical_null_count() == 0 && dense_numbers(array, out, &mut counts) {
        Ok(())
    } else {
        out.reserve(array.len() - array.logical_null_count());
        counts.nulls = array.logical_null_count() as u64;
        visit_numbers(array, |_, v| {
            if let Some(v) = counts.keep_finite(v) {
                out.push(v);
            }
        })
    };
    match done {
        Ok(()) => Ok(counts),
        Err(e) => {
            out.truncate(before);
            Err(e)
        }
    }
}

/// The fast path of [`numeric_values`] for arrays without nulls of the common types: blocks
/// of values checked finite without a branch per value are copied whole (integers are
/// always finite), and only a block holding NaN or an infinity is filtered value by value.
/// Returns `false`, having done nothing, for any other type.
fn dense_numbers(array: &dyn Array, out: &mut Vec<f64>, counts: &mut ValueCounts) -> bool {
    const BLOCK: usize = 1024;
    match array.data_type() {
        DataType::Float64 => {
            let Some(array) = array.as_any().downcast_ref::<Float64Array>() else {
                return false;
            };
            out.reserve(array.len());
            for block in array.values().chunks(BLOCK) {
                if block.iter().fold(true, |ok, v| ok & v.is_finite()) {
                    out.extend_from_slice(block);
                } else {
                    out.extend(block.iter().filter_map(|&v| counts.keep_finite(v)));
                }
            }
            true
        }
        DataType::Int64 => {
            let Some(array) = array.as_any().downcast_ref::<Int64Array>() else {
                return false;
            };
            out.extend(array.values().iter().map(|&v| v as f64));
            true
        }
        DataType::Int32 => {
            let Some(array) = array.as_any().downcast_ref::<Int32Array>() else {
                return false;
            };
            out.extend(array.values().iter().map(|&v| f64::from(v)));
            true
        }
        _ => false,
    }
}

/// [`numeric_values`] for the column `name` of `batch`, with the name filled in errors.
///
/// # Errors
///
/// [`DriftError::MissingColumn`] when the batch has no such column; otherwise as
/// [`numeric_values`], with a type error as [`DriftError::UnsupportedType`] naming the column.
pub fn numeric_column(batch: &RecordBatch, name: &str, out: &mut Vec<f64>) -> Result<ValueCounts> {
    let array = column(batch, name)?;
    numeric_values(array.as_ref(), out).map_err(|e| e.in_column(name))
}

/// Calls `f(index, value)` for every non-null row of a non-dictionary numeric array.
///
/// The type is matched once; each arm runs a monomorphised loop.
fn visit_numbers(array: &dyn Array, mut f: impl FnMut(usize, f64)) -> Result<()> {
    use TimeUnit::{Microsecond, Millisecond, Nanosecond, Second};
    let f = &mut f;
    match array.data_type() {
        DataType::Null => Ok(()),
        DataType::Int8 => visit::<Int8Type>(array, f64::from, f),
        DataType::Int16 => visit::<Int16Type>(array, f64::from, f),
        DataType::Int32 => visit::<Int32Type>(array, f64::from, f),
        DataType::Int64 => visit::<Int64Type>(array, |v| v as f64, f),
        DataType::UInt8 => visit::<UInt8Type>(array, f64::from, f),
        DataType::UInt16 => visit::<UInt16Type>(array, f64::from, f),
        DataType::UInt32 => visit::<UInt32Type>(array, f64::from, f),
        DataType::UInt64 => visit::<UInt64Type>(array, |v| v as f64, f),
        DataType::Float16 => visit::<Float16Type>(array, |v| v.to_f64(), f),
        DataType::Float32 => visit::<Float32Type>(array, f64::from, f),
        DataType::Float64 => visit::<Float64Type>(array, |v| v, f),
        DataType::Decimal32(_, s) => {
            let scale = Scale::new(*s);
            visit::<Decimal32Type>(array, |v| scale.apply(f64::from(v)), f)
        }
        DataType::Decimal64(_, s) => {
            let scale = Scale::new(*s);
            visit::<Decimal64Type>(array, |v| scale.apply(v as f64), f)
        }
        DataType::Decimal128(_, s) => {
            let scale = Scale::new(*s);
            visit::<Decimal128Type>(array, |v| scale.apply(v as f64), f)
        }
        DataType::Decimal256(_, s) => {
            let scale = Scale::new(*s);
            visit::<Decimal256Type>(array, |v| scale.apply(i256_to_f64(v)), f)
        }
        DataType::Date32 => visit::<Date32Type>(array, f64::from, f),
        DataType::Date64 => visit::<Date64Type>(array, |v| v as f64, f),
        DataType::Time32(Second) => visit::<Time32SecondType>(array, f64::from, f),
        DataType::Time32(Millisecond) => visit::<Time32MillisecondType>(array, f64::from, f),
        DataType::Time64(Microsecond) => visit::<Time64MicrosecondType>(array, |v| v as f64, f),
        DataType::Time64(Nanosecond) => visit::<Time64NanosecondType>(array, |v| v as f64, f),
        DataType::Timestamp(unit, _) => match unit {
            Second => visit::<TimestampSecondType>(array, |v| v as f64, f),
            Millisecond => visit::<TimestampMillisecondType>(array, |v| v as f64, f),
            Microsecond => visit::<TimestampMicrosecondType>(array, |v| v as f64, f),
            Nanosecond => visit::<TimestampNanosecondType>(array, |v| v as f64, f),
        },
        DataType::Duration(unit) => match unit {
            Second => visit::<DurationSecondType>(array, |v| v as f64, f),
            Millisecond => visit::<DurationMillisecondType>(array, |v| v as f64, f),
            Microsecond => visit::<DurationMicrosecondType>(array, |v| v as f64, f),
            Nanosecond => visit::<DurationNanosecondType>(array, |v| v as f64, f),
        },
        other => Err(unsupported(other, NUMERIC)),
    }
}

/// The typed loop behind [`visit_numbers`]: one downcast, then the value slice and bitmap.
#[inline]
fn visit<T: ArrowPrimitiveType>(
    array: &dyn Array,
    conv: impl Fn(T::Native) -> f64,
    f: &mut impl FnMut(usize, f64),
) -> Result<()> {
    let array = downcast::<PrimitiveArray<T>>(array)?;
    let values = array.values();
    match array.nulls().filter(|n| n.null_count() > 0) {
        None => values.iter().enumerate().for_each(|(i, &v)| f(i, conv(v))),
        Some(nulls) => nulls.valid_indices().for_each(|i| f(i, conv(values[i]))),
    }
    Ok(())
}

/// Division by 10^scale, exact in the power of ten for the usual scales (≤ 22).
#[derive(Clone, Copy)]
struct Scale {
    /// 10^|scale|.
    factor: f64,
    /// Whether the scale is negative, so that the factor multiplies.
    negative: bool,
}

impl Scale {
    fn new(scale: i8) -> Self {
        Self {
            factor: 10f64.powi(i32::from(scale.unsigned_abs())),
            negative: scale < 0,
        }
    }

    #[inline]
    fn apply(self, unscaled: f64) -> f64 {
        if self.negative {
            unscaled * self.factor
        } else {
            unscaled / self.factor
        }
    }
}

/// Converts a 256-bit integer, exactly rounded whenever it fits in an `i128`.
fn i256_to_f64(v: i256) -> f64 {
    match v.to_i128() {
        Some(small) => small as f64,
        None => {
            let (low, high) = v.to_parts();
            (high as f64).mul_add(2f64.powi(128), low as f64)
        }
    }
}

/// [`numeric_values`] for a dictionary array: the values are converted once, then each row
/// is one table lookup.
fn numeric_dictionary(
    array: &dyn Array,
    key: &DataType,
    out: &mut Vec<f64>,
    counts: &mut ValueCounts,
) -> Result<()> {
    match key {
        DataType::Int8 => numeric_dict::<Int8Type>(array, out, counts),
        DataType::Int16 => numeric_dict::<Int16Type>(array, out, counts),
        DataType::Int32 => numeric_dict::<Int32Type>(array, out, counts),
        DataType::Int64 => numeric_dict::<Int64Type>(array, out, counts),
        DataType::UInt8 => numeric_dict::<UInt8Type>(array, out, counts),
        DataType::UInt16 => numeric_dict::<UInt16Type>(array, out, counts),
        DataType::UInt32 => numeric_dict::<UInt32Type>(array, out, counts),
        DataType::UInt64 => numeric_dict::<UInt64Type>(array, out, counts),
        _ => Err(unsupported(array.data_type(), NUMERIC)),
    }
}

fn numeric_dict<K: ArrowDictionaryKeyType>(
    array: &dyn Array,
    out: &mut Vec<f64>,
    counts: &mut ValueCounts,
) -> Result<()> {
    let dict = downcast::<DictionaryArray<K>>(array)?;
    let values = dict.values();
    // `None` marks a null dictionary value.
    let mut table: Vec<Option<f64>> = vec![None; values.len()];
    visit_numbers(values.as_ref(), |i, v| table[i] = Some(v)).map_err(|e| match e {
        DriftError::UnsupportedArray { .. } => unsupported(array.data_type(), NUMERIC),
        other => other,
    })?;
    out.reserve(dict.len());
    let mut row = |key: K::Native| -> Result<()> {
        let k = key.as_usize();
        match table.get(k) {
            Some(Some(v)) => {
                if let Some(v) = counts.keep_finite(*v) {
                    out.push(v);
                }
                Ok(())
            }
            Some(None) => {
                counts.nulls += 1;
                Ok(())
            }
            None => Err(key_out_of_range(k, table.len())),
        }
    };
    let keys = dict.keys();
    let null_keys = match keys.nulls().filter(|n| n.null_count() > 0) {
        None => {
            keys.values().iter().try_for_each(|&k| row(k))?;
            0
        }
        Some(nulls) => {
            let values = keys.values();
            nulls.valid_indices().try_for_each(|i| row(values[i]))?;
            nulls.null_count()
        }
    };
    counts.nulls += null_keys as u64;
    Ok(())
}
