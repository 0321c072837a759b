//! [`count_categories`]: the categories of a string, boolean, integer or dictionary array,
//! as canonical text, each distinct value turned into text once.

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;

use arrow_array::types::{
    ArrowDictionaryKeyType, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrowPrimitiveType, BooleanArray, DictionaryArray, LargeStringArray, PrimitiveArray,
    RecordBatch, StringArray, StringViewArray,
};
use arrow_buffer::{ArrowNativeType, NullBuffer};
use arrow_schema::DataType;

use super::{
    CATEGORICAL, CategoryCounts, ValueCounts, column, downcast, key_out_of_range, unsupported,
};
#[cfg(doc)]
use crate::error::DriftError;
use crate::error::Result;

/// Counts the categories of a column into `counts`, and returns the row and null counts.
///
/// The category of a value is its canonical text: the string itself for `Utf8`, `LargeUtf8`
/// and `Utf8View`; `"true"` or `"false"` for `Boolean`; the decimal digits with a leading `-`
/// when negative for every integer type (so `-3i8` and `"-3"` are the same category). A
/// `Dictionary` of any of these is counted per key first and each used key is turned into
/// text once. Nulls (a null key or a key pointing at a null value, for dictionaries) are
/// counted in the returned [`ValueCounts`] and never as a category; `nan` and the infinity
/// counts are always zero here. A `Null` column counts all of its rows as nulls.
///
/// ```
/// use arrow_array::{DictionaryArray, types::Int32Type};
/// use mlops_drift::{CategoryCounts, count_categories};
///
/// let column: DictionaryArray<Int32Type> =
///     vec![Some("b"), None, Some("a"), Some("b")].into_iter().collect();
/// let mut counts = CategoryCounts::new();
/// let rows = count_categories(&column, &mut counts)?;
/// assert_eq!(counts.sorted(), [("a", 1), ("b", 2)]);
/// assert_eq!((rows.rows, rows.nulls, counts.total()), (4, 1, 3));
/// # Ok::<(), mlops_drift::DriftError>(())
/// ```
///
/// # Errors
///
/// [`DriftError::UnsupportedArray`] naming the type for any other type;
/// [`DriftError::Arrow`] if the array is malformed (a dictionary key out of range). On error
/// `counts` is left as it was.
pub fn count_categories(array: &dyn Array, counts: &mut CategoryCounts) -> Result<ValueCounts> {
    let mut vc = ValueCounts {
        rows: array.len() as u64,
        ..ValueCounts::default()
    };
    match array.data_type() {
        DataType::Dictionary(key, _) => {
            vc.nulls = categories_dictionary(array, key, counts)?;
            return Ok(vc);
        }
        DataType::Null => {}
        DataType::Utf8 => downcast::<StringArray>(array)?
            .iter()
            .flatten()
            .for_each(|s| counts.add_one(s)),
        DataType::LargeUtf8 => downcast::<LargeStringArray>(array)?
            .iter()
            .flatten()
            .for_each(|s| counts.add_one(s)),
        DataType::Utf8View => downcast::<StringViewArray>(array)?
            .iter()
            .flatten()
            .for_each(|s| counts.add_one(s)),
        DataType::Boolean => {
            let array = downcast::<BooleanArray>(array)?;
            counts.add("false", array.false_count() as u64);
            counts.add("true", array.true_count() as u64);
        }
        DataType::Int8 => count_ints::<Int8Type>(array, counts)?,
        DataType::Int16 => count_ints::<Int16Type>(array, counts)?,
        DataType::Int32 => count_ints::<Int32Type>(array, counts)?,
        DataType::Int64 => count_ints::<Int64Type>(array, counts)?,
        DataType::UInt8 => count_ints::<UInt8Type>(array, counts)?,
        DataType::UInt16 => count_ints::<UInt16Type>(array, counts)?,
        DataType::UInt32 => count_ints::<UInt32Type>(array, counts)?,
        DataType::UInt64 => count_ints::<UInt64Type>(array, counts)?,
        other => return Err(unsupported(other, CATEGORICAL)),
    }
    vc.nulls = array.logical_null_count() as u64;
    Ok(vc)
}

/// [`count_categories`] for the column `name` of `batch`, with the name filled in errors.
///
/// # Errors
///
/// As [`numeric_column`](crate::numeric_column) for a missing column; otherwise as
/// [`count_categories`], with a type error as [`DriftError::UnsupportedType`] naming the
/// column.
pub fn categories_column(
    batch: &RecordBatch,
    name: &str,
    counts: &mut CategoryCounts,
) -> Result<ValueCounts> {
    let array = column(batch, name)?;
    count_categories(array.as_ref(), counts).map_err(|e| e.in_column(name))
}

/// Integers: counted by native value first, so each distinct value is formatted once.
fn count_ints<T>(array: &dyn Array, counts: &mut CategoryCounts) -> Result<()>
where
    T: ArrowPrimitiveType,
    T::Native: Hash + Eq + Display,
{
    let array = downcast::<PrimitiveArray<T>>(array)?;
    let values = array.values();
    let mut by_value: HashMap<T::Native, u64, ahash::RandomState> = HashMap::default();
    let mut bump = |v: T::Native| *by_value.entry(v).or_insert(0) += 1;
    match array.nulls().filter(|n| n.null_count() > 0) {
        None => values.iter().for_each(|&v| bump(v)),
        Some(nulls) => nulls.valid_indices().for_each(|i| bump(values[i])),
    }
    for (v, n) in by_value {
        counts.add(&v.to_string(), n);
    }
    Ok(())
}

/// Dictionary categories; returns the number of null rows.
fn categories_dictionary(
    array: &dyn Array,
    key: &DataType,
    counts: &mut CategoryCounts,
) -> Result<u64> {
    match key {
        DataType::Int8 => categories_dict::<Int8Type>(array, counts),
        DataType::Int16 => categories_dict::<Int16Type>(array, counts),
        DataType::Int32 => categories_dict::<Int32Type>(array, counts),
        DataType::Int64 => categories_dict::<Int64Type>(array, counts),
        DataType::UInt8 => categories_dict::<UInt8Type>(array, counts),
        DataType::UInt16 => categories_dict::<UInt16Type>(array, counts),
        DataType::UInt32 => categories_dict::<UInt32Type>(array, counts),
        DataType::UInt64 => categories_dict::<UInt64Type>(array, counts),
        _ => Err(unsupported(array.data_type(), CATEGORICAL)),
    }
}

fn categories_dict<K: ArrowDictionaryKeyType>(
    array: &dyn Array,
    counts: &mut CategoryCounts,
) -> Result<u64> {
    let dict = downcast::<DictionaryArray<K>>(array)?;
    let values = dict.values().as_ref();

    // Pass 1, per row: count each key index.
    let mut per_key = vec![0u64; values.len()];
    let mut nulls = 0u64;
    let keys = dict.keys();
    let mut bump = |key: K::Native| -> Result<()> {
        let k = key.as_usize();
        let len = per_key.len();
        let slot = per_key.get_mut(k).ok_or_else(|| key_out_of_range(k, len))?;
        *slot += 1;
        Ok(())
    };
    match keys.nulls().filter(|n| n.null_count() > 0) {
        None => keys.values().iter().try_for_each(|&k| bump(k))?,
        Some(key_nulls) => {
            nulls = key_nulls.null_count() as u64;
            key_nulls
                .valid_indices()
                .try_for_each(|i| bump(keys.values()[i]))?;
        }
    }

    // Pass 2, per used dictionary entry: its text, once.
    let value_nulls = values.logical_nulls();
    let used = Used {
        per_key: &per_key,
        value_nulls: value_nulls.as_ref(),
    };
    let nulls = &mut nulls;
    match values.data_type() {
        // Every entry of a `Null` dictionary is null, so the text is never asked for.
        DataType::Null => used.add(counts, nulls, |_| ""),
        DataType::Utf8 => {
            let v = downcast::<StringArray>(values)?;
            used.add(counts, nulls, |i| v.value(i));
        }
        DataType::LargeUtf8 => {
            let v = downcast::<LargeStringArray>(values)?;
            used.add(counts, nulls, |i| v.value(i));
        }
        DataType::Utf8View => {
            let v = downcast::<StringViewArray>(values)?;
            used.add(counts, nulls, |i| v.value(i));
        }
        DataType::Boolean => {
            let v = downcast::<BooleanArray>(values)?;
            used.add(counts, nulls, |i| if v.value(i) { "true" } else { "false" });
        }
        DataType::Int8 => used.add_ints::<Int8Type>(values, counts, nulls)?,
        DataType::Int16 => used.add_ints::<Int16Type>(values, counts, nulls)?,
        DataType::Int32 => used.add_ints::<Int32Type>(values, counts, nulls)?,
        DataType::Int64 => used.add_ints::<Int64Type>(values, counts, nulls)?,
        DataType::UInt8 => used.add_ints::<UInt8Type>(values, counts, nulls)?,
        DataType::UInt16 => used.add_ints::<UInt16Type>(values, counts, nulls)?,
        DataType::UInt32 => used.add_ints::<UInt32Type>(values, counts, nulls)?,
        DataType::UInt64 => used.add_ints::<UInt64Type>(values, counts, nulls)?,
        _ => return Err(unsupported(array.data_type(), CATEGORICAL)),
    }
    Ok(*nulls)
}

/// The dictionary entries that a dictionary array uses, with how often each is used.
struct Used<'a> {
    /// Rows per dictionary entry (zero for unused entries).
    per_key: &'a [u64],
    /// The logical validity of the dictionary values.
    value_nulls: Option<&'a NullBuffer>,
}

impl Used<'_> {
    /// Adds each used entry under `text(entry)`, or to `nulls` when the entry is null.
    fn add<S: AsRef<str>>(
        &self,
        counts: &mut CategoryCounts,
        nulls: &mut u64,
        text: impl Fn(usize) -> S,
    ) {
        for (i, &n) in self.per_key.iter().enumerate() {
            if n == 0 {
                continue;
            }
            if self.value_nulls.is_some_and(|v| v.is_null(i)) {
                *nulls += n;
            } else {
                counts.add(text(i).as_ref(), n);
            }
        }
    }

    /// [`add`](Self::add) for integer dictionary values.
    fn add_ints<T>(
        &self,
        values: &dyn Array,
        counts: &mut CategoryCounts,
        nulls: &mut u64,
    ) -> Result<()>
    where
        T: ArrowPrimitiveType,
        T::Native: Display,
    {
        let v = downcast::<PrimitiveArray<T>>(values)?;
        self.add(counts, nulls, |i| v.value(i).to_string());
        Ok(())
    }
}
