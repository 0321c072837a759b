//! Reading one raw Arrow column as the values a chain starts from: numbers (missing = NaN),
//! categories (missing = None) or instants (microseconds since the epoch, UTC).

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TransformError};

/// What a feature's chain reads from its raw column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Numbers: any integer, float or boolean column.
    Number,
    /// Categories: strings (plain, large, view or dictionary-encoded), or numbers and
    /// booleans taken by their canonical text (`3`, `2.5`, `true`).
    Category,
    /// Instants: timestamps, dates, or strings in RFC 3339 or `YYYY-MM-DD[ HH:MM:SS[.f]]`.
    Time,
}

impl InputKind {
    /// The kind's name in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Number => "a number column (integer, float or boolean)",
            Self::Category => "a category column (string, number or boolean)",
            Self::Time => "a time column (timestamp, date or date-time string)",
        }
    }
}

/// One column's values, in the form its chain starts from.
#[derive(Debug, Clone)]
pub(crate) enum Values {
    /// Numbers; NaN is missing.
    Num(Vec<f64>),
    /// Categories; None is missing.
    Cat(Vec<Option<String>>),
    /// Microseconds since the Unix epoch; None is missing.
    Time(Vec<Option<i64>>),
}

/// Reads `array` (the column `column`, for step `step`) as `kind`.
pub(crate) fn read(array: &dyn Array, kind: InputKind, column: &str, step: &str) -> Result<Values> {
    let wrong = || TransformError::ColumnType {
        column: column.to_owned(),
        step: step.to_owned(),
        expected: kind.as_str(),
        found: array.data_type().to_string(),
    };
    match kind {
        InputKind::Number => numbers(array).map(Values::Num).ok_or_else(wrong),
        InputKind::Category => categories(array).map(Values::Cat).ok_or_else(wrong),
        InputKind::Time => match instants(array, column)? {
            Some(v) => Ok(Values::Time(v)),
            None => Err(wrong()),
        },
    }
}

fn prim<T: ArrowPrimitiveType>(array: &dyn Array, f: impl Fn(T::Native) -> f64) -> Vec<f64> {
    let a = array.as_primitive::<T>();
    (0..a.len())
        .map(|i| {
            if a.is_null(i) {
                f64::NAN
            } else {
                f(a.value(i))
            }
        })
        .collect()
}

/// Numbers as f64 (nulls and NaN both missing); None for a non-numeric type.
#[allow(clippy::cast_precision_loss)] // 64-bit integers beyond 2^53 round, as in numpy
fn numbers(array: &dyn Array) -> Option<Vec<f64>> {
    Some(match array.data_type() {
        DataType::Float64 => prim::<Float64Type>(array, |v| v),
        DataType::Float32 => prim::<Float32Type>(array, f64::from),
        DataType::Int8 => prim::<Int8Type>(array, f64::from),
        DataType::Int16 => prim::<Int16Type>(array, f64::from),
        DataType::Int32 => prim::<Int32Type>(array, f64::from),
        DataType::Int64 => prim::<Int64Type>(array, |v| v as f64),
        DataType::UInt8 => prim::<UInt8Type>(array, f64::from),
        DataType::UInt16 => prim::<UInt16Type>(array, f64::from),
        DataType::UInt32 => prim::<UInt32Type>(array, f64::from),
        DataType::UInt64 => prim::<UInt64Type>(array, |v| v as f64),
        DataType::Boolean => {
            let a = array.as_boolean();
            (0..a.len())
                .map(|i| {
                    if a.is_null(i) {
                        f64::NAN
                    } else {
                        f64::from(u8::from(a.value(i)))
                    }
                })
                .collect()
        }
        _ => return None,
    })
}

/// The canonical text of a number taken as a category: integral values without a fraction
/// (`3`, not `3.0`), so an Int64 column at training and an FP64 tensor at serving agree.
pub(crate) fn number_text(v: f64) -> Option<String> {
    if v.is_nan() {
        None
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        Some(format!("{v:.0}"))
    } else {
        Some(format!("{v}"))
    }
}

fn strings<'a>(it: impl Iterator<Item = Option<&'a str>>) -> Vec<Option<String>> {
    it.map(|s| s.map(str::to_owned)).collect()
}

/// Categories as text; None for a type that is neither text, number nor boolean.
fn categories(array: &dyn Array) -> Option<Vec<Option<String>>> {
    Some(match array.data_type() {
        DataType::Utf8 => strings(array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => strings(array.as_string::<i64>().iter()),
        DataType::Utf8View => strings(array.as_string_view().iter()),
        DataType::Dictionary(_, value)
            if matches!(
                **value,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) =>
        {
            let dict = array.as_any_dictionary_opt()?;
            let values = categories(dict.values().as_ref())?;
            let keys = dict.normalized_keys();
            (0..array.len())
                .map(|i| {
                    if array.is_null(i) {
                        None
                    } else {
                        values.get(keys[i]).cloned().flatten()
                    }
                })
                .collect()
        }
        DataType::Boolean => {
            let a = array.as_boolean();
            (0..a.len())
                .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
                .collect()
        }
        _ => numbers(array)?.into_iter().map(number_text).collect(),
    })
}

fn micros<T: ArrowPrimitiveType>(
    array: &dyn Array,
    f: impl Fn(T::Native) -> Option<i64>,
) -> Vec<Option<i64>> {
    let a = array.as_primitive::<T>();
    (0..a.len())
        .map(|i| if a.is_null(i) { None } else { f(a.value(i)) })
        .collect()
}

/// Instants in microseconds (UTC); Ok(None) for a type that holds no time; an error for a
/// string that is not a date-time.
fn instants(array: &dyn Array, column: &str) -> Result<Option<Vec<Option<i64>>>> {
    Ok(Some(match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            micros::<TimestampSecondType>(array, |v| v.checked_mul(1_000_000))
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            micros::<TimestampMillisecondType>(array, |v| v.checked_mul(1_000))
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            micros::<TimestampMicrosecondType>(array, Some)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            micros::<TimestampNanosecondType>(array, |v| Some(v.div_euclid(1_000)))
        }
        DataType::Date32 => {
            micros::<Date32Type>(array, |d| i64::from(d).checked_mul(86_400_000_000))
        }
        DataType::Date64 => micros::<Date64Type>(array, |v| v.checked_mul(1_000)),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let Some(texts) = categories(array) else {
                return Ok(None);
            };
            let mut out = Vec::with_capacity(texts.len());
            for (row, text) in texts.iter().enumerate() {
                out.push(match text {
                    None => None,
                    Some(t) => Some(parse_instant(t).ok_or_else(|| {
                        TransformError::Input(format!(
                            "column {column:?} row {row}: {t:?} is not a date-time (RFC 3339 or YYYY-MM-DD[ HH:MM:SS])"
                        ))
                    })?),
                });
            }
            out
        }
        _ => return Ok(None),
    }))
}

/// A date-time string as microseconds since the epoch (zoned: the UTC instant; naive: the
/// wall-clock time as if UTC).
pub(crate) fn parse_instant(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_micros());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(dt.and_utc().timestamp_micros());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp_micros())
}
