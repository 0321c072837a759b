//! Reading Arrow columns the way drift tests need them: numbers as `f64`, categories as text.
//!
//! # Why this module exists
//!
//! Drift detection compares a reference column with a current column. The statistical tests
//! (Kolmogorov–Smirnov, Wasserstein, PSI, chi-squared, …) work on two shapes of data only: a
//! list of finite `f64` values for numeric columns, and a count per category for categorical
//! ones. Arrow, on the other hand, has dozens of physical types, dictionary encoding, slices
//! with non-zero offsets and validity bitmaps. This module is the single place that bridges
//! the two, so that every drift test sees the same values for the same data.
//!
//! Before testing, Evidently drops nulls, NaN and ±infinity from a column. These helpers do
//! the same, and return what they dropped in a [`ValueCounts`], so that a report can say "the
//! current column has 12 % nulls" next to the test result instead of hiding it.
//!
//! # Performance
//!
//! Columns are often a million rows long. Every function here matches on the Arrow type once
//! per array, downcasts once, and then runs a monomorphised loop over the typed value slice and
//! the validity bitmap: no dynamic dispatch and no allocation per row. Dictionary arrays are
//! resolved through a per-dictionary-entry table built once per array, so the per-row work is
//! one key lookup. Category keys are allocated once per *distinct* value, never per row.
//!
//! # Conventions
//!
//! * Integers above 2⁵³ in magnitude lose precision when converted to `f64`; distribution
//!   tests do not care.
//! * Temporal types are read as their raw integer in their own unit (days for `Date32`,
//!   milliseconds for `Date64`, the declared unit for times, timestamps and durations); the
//!   time zone of a timestamp is ignored since the stored instant is UTC-based. Comparing two
//!   columns therefore only makes sense when they have the same unit, which the caller checks.
//! * A column of Arrow type `Null` (every row null, as produced by type inference over an
//!   all-missing column) is accepted by both [`numeric_values`] and [`count_categories`]: all of
//!   its rows are counted as nulls.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::hash::Hash;
use std::ops::AddAssign;

use arrow_array::types::{
    ArrowDictionaryKeyType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type,
    Decimal256Type, DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType,
    DurationSecondType, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrowPrimitiveType, BooleanArray, DictionaryArray, Float64Array, Int32Array, Int64Array,
    LargeStringArray, PrimitiveArray, RecordBatch, StringArray, StringViewArray,
};
use arrow_buffer::{ArrowNativeType, NullBuffer, i256};
use arrow_schema::{ArrowError, DataType, TimeUnit};
use serde::{Deserialize, Serialize, Serializer};

use crate::{Error, Result, Rule};

/// What [`numeric_values`] accepts, as named in [`Error::UnsupportedColumn`].
const NUMERIC: &str = "a numeric type";
/// What [`count_categories`] accepts, as named in [`Error::UnsupportedColumn`].
const CATEGORICAL: &str = "a string, boolean or integer type";

/// How many rows of a column were seen, and how many of them were dropped and why.
///
/// Null, NaN and infinite values are exactly what Evidently removes before running a drift
/// test; [`valid`](Self::valid) is what remains. Counts from several batches of the same
/// column add up with [`merge`](Self::merge) or `+=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ValueCounts {
    /// Rows seen, whatever their value.
    pub rows: u64,
    /// Null rows (for a dictionary column: a null key, or a key pointing at a null value).
    pub nulls: u64,
    /// Floating-point NaN values (any NaN bit pattern).
    pub nan: u64,
    /// `+∞` values.
    pub pos_inf: u64,
    /// `-∞` values.
    pub neg_inf: u64,
}

impl ValueCounts {
    /// Rows that were kept: `rows - nulls - nan - pos_inf - neg_inf`.
    pub fn valid(&self) -> u64 {
        self.rows.saturating_sub(self.dropped())
    }

    /// Rows that were dropped: `nulls + nan + pos_inf + neg_inf`.
    pub fn dropped(&self) -> u64 {
        self.nulls
            .saturating_add(self.nan)
            .saturating_add(self.pos_inf)
            .saturating_add(self.neg_inf)
    }

    /// Adds the counts of another part of the same column (for example the next batch).
    pub fn merge(&mut self, other: &ValueCounts) {
        self.rows = self.rows.saturating_add(other.rows);
        self.nulls = self.nulls.saturating_add(other.nulls);
        self.nan = self.nan.saturating_add(other.nan);
        self.pos_inf = self.pos_inf.saturating_add(other.pos_inf);
        self.neg_inf = self.neg_inf.saturating_add(other.neg_inf);
    }

    /// Counts one non-null value that is not finite, or returns it when it is finite.
    #[inline]
    fn keep_finite(&mut self, v: f64) -> Option<f64> {
        if v.is_finite() {
            Some(v)
        } else {
            if v.is_nan() {
                self.nan += 1;
            } else if v > 0.0 {
                self.pos_inf += 1;
            } else {
                self.neg_inf += 1;
            }
            None
        }
    }
}

impl AddAssign for ValueCounts {
    fn add_assign(&mut self, other: ValueCounts) {
        self.merge(&other);
    }
}

impl AddAssign<&ValueCounts> for ValueCounts {
    fn add_assign(&mut self, other: &ValueCounts) {
        self.merge(other);
    }
}

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
/// [`Error::UnsupportedColumn`] naming the type (with an empty `column`) for any other type;
/// [`Error::Arrow`] if the array is malformed (a dictionary key out of range). On error `out`
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
/// [`Error::Invalid`] with kind `"column name"` and [`Rule::Format`] when the batch has no
/// such column; otherwise as [`numeric_values`], with `column` set to `name`.
pub fn numeric_column(batch: &RecordBatch, name: &str, out: &mut Vec<f64>) -> Result<ValueCounts> {
    let array = column(batch, name)?;
    numeric_values(array.as_ref(), out).map_err(|e| with_column(e, name))
}

/// The column `name` of `batch`, or the error that says it is missing.
fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a arrow_array::ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| {
        Error::invalid(
            "column name",
            name,
            Rule::Format {
                expected: "the name of a column in the batch",
            },
        )
    })
}

/// Fills the column name into an [`Error::UnsupportedColumn`].
fn with_column(error: Error, name: &str) -> Error {
    match error {
        Error::UnsupportedColumn {
            data_type,
            expected,
            ..
        } => Error::UnsupportedColumn {
            column: name.to_owned(),
            data_type,
            expected,
        },
        other => other,
    }
}

/// The error for a type that a conversion does not take.
fn unsupported(data_type: &DataType, expected: &'static str) -> Error {
    Error::UnsupportedColumn {
        column: String::new(),
        data_type: data_type.clone(),
        expected,
    }
}

/// Downcasts once, turning a mismatch (which would be an Arrow bug) into an error.
pub(crate) fn downcast<T: 'static>(array: &dyn Array) -> Result<&T> {
    array.as_any().downcast_ref::<T>().ok_or_else(|| {
        Error::Arrow(ArrowError::InvalidArgumentError(format!(
            "array of type {} does not have the expected layout",
            array.data_type()
        )))
    })
}

/// The error for a dictionary key that points outside its dictionary.
pub(crate) fn key_out_of_range(key: usize, len: usize) -> Error {
    Error::Arrow(ArrowError::InvalidArgumentError(format!(
        "dictionary key {key} is out of range for a dictionary of {len} values"
    )))
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
        Error::UnsupportedColumn { .. } => unsupported(array.data_type(), NUMERIC),
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

/// How often each category occurs in a column, keyed by the canonical text of the value.
///
/// Mergeable across batches with [`merge`](Self::merge). Lookups are hashed, but nothing
/// here exposes the hash order: [`sorted`](Self::sorted) and
/// [`most_common`](Self::most_common) are deterministic, and the serde form is a JSON object
/// with keys in byte order. Categories with a count of zero are never stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "HashMap<String, u64>")]
pub struct CategoryCounts {
    /// Count per category, all non-zero. aHash, not SipHash: counting hashes every row, and
    /// the keys are data, not attacker-chosen table sizes (aHash is still randomly keyed).
    counts: HashMap<String, u64, ahash::RandomState>,
    /// The sum of `counts`.
    total: u64,
}

impl CategoryCounts {
    /// No categories.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` occurrences of `category`. Adding zero changes nothing.
    pub fn add(&mut self, category: &str, n: u64) {
        if n == 0 {
            return;
        }
        // `get_mut` first: no key allocation for a category already seen.
        match self.counts.get_mut(category) {
            Some(count) => *count = count.saturating_add(n),
            None => {
                self.counts.insert(category.to_owned(), n);
            }
        }
        self.total = self.total.saturating_add(n);
    }

    /// The count of `category`; zero when it never occurred.
    pub fn get(&self, category: &str) -> u64 {
        self.counts.get(category).copied().unwrap_or(0)
    }

    /// The number of distinct categories.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether no category has occurred.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The number of (non-null) values counted: the sum of all counts.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Adds the counts of another part of the same column.
    pub fn merge(&mut self, other: &CategoryCounts) {
        for (category, &n) in &other.counts {
            self.add(category, n);
        }
    }

    /// The categories and their counts, in byte order of the category text.
    pub fn sorted(&self) -> Vec<(&str, u64)> {
        let mut all: Vec<(&str, u64)> = self.counts.iter().map(|(k, &n)| (k.as_str(), n)).collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all
    }

    /// The categories from most to least frequent; ties in byte order of the category text.
    pub fn most_common(&self) -> Vec<(&str, u64)> {
        let mut all = self.sorted();
        all.sort_by_key(|&(_, n)| std::cmp::Reverse(n)); // stable: ties keep byte order
        all
    }

    /// Adds one occurrence of `category`, allocating only when it is new.
    #[inline]
    fn add_one(&mut self, category: &str) {
        match self.counts.get_mut(category) {
            Some(count) => *count += 1,
            None => {
                self.counts.insert(category.to_owned(), 1);
            }
        }
        self.total += 1;
    }
}

impl From<HashMap<String, u64>> for CategoryCounts {
    fn from(counts: HashMap<String, u64>) -> Self {
        let counts: HashMap<String, u64, ahash::RandomState> =
            counts.into_iter().filter(|(_, n)| *n > 0).collect();
        let total = counts.values().fold(0u64, |t, &n| t.saturating_add(n));
        Self { counts, total }
    }
}

impl Serialize for CategoryCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let sorted: BTreeMap<&str, u64> =
            self.counts.iter().map(|(k, &n)| (k.as_str(), n)).collect();
        sorted.serialize(serializer)
    }
}

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
/// use mlops_core::{CategoryCounts, count_categories};
///
/// let column: DictionaryArray<Int32Type> =
///     vec![Some("b"), None, Some("a"), Some("b")].into_iter().collect();
/// let mut counts = CategoryCounts::new();
/// let rows = count_categories(&column, &mut counts)?;
/// assert_eq!(counts.sorted(), [("a", 1), ("b", 2)]);
/// assert_eq!((rows.rows, rows.nulls, counts.total()), (4, 1, 3));
/// # Ok::<(), mlops_core::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::UnsupportedColumn`] naming the type (with an empty `column`) for any other type;
/// [`Error::Arrow`] if the array is malformed (a dictionary key out of range). On error
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
/// As [`numeric_column`] for a missing column; otherwise as [`count_categories`], with
/// `column` set to `name`.
pub fn categories_column(
    batch: &RecordBatch,
    name: &str,
    counts: &mut CategoryCounts,
) -> Result<ValueCounts> {
    let array = column(batch, name)?;
    count_categories(array.as_ref(), counts).map_err(|e| with_column(e, name))
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::{
        DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType,
    };
    use arrow_array::{
        ArrayRef, BinaryArray, Date32Array, Date64Array, Decimal32Array, Decimal64Array,
        Decimal128Array, Decimal256Array, DurationSecondArray, Float16Array, Float32Array,
        Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, LargeStringArray, ListArray,
        NullArray, StringViewArray, Time32MillisecondArray, Time32SecondArray,
        Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray,
        TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt8Array,
        UInt16Array, UInt32Array, UInt64Array,
    };
    use arrow_schema::{Field, Schema};
    use half::f16;

    use super::*;

    fn numbers(array: &dyn Array) -> (Vec<f64>, ValueCounts) {
        let mut out = Vec::new();
        let counts = numeric_values(array, &mut out).unwrap();
        (out, counts)
    }

    fn counts(rows: u64, nulls: u64) -> ValueCounts {
        ValueCounts {
            rows,
            nulls,
            ..ValueCounts::default()
        }
    }

    fn categories(array: &dyn Array) -> (Vec<(String, u64)>, ValueCounts) {
        let mut cats = CategoryCounts::new();
        let vc = count_categories(array, &mut cats).unwrap();
        let sorted = cats
            .sorted()
            .into_iter()
            .map(|(k, n)| (k.to_owned(), n))
            .collect();
        (sorted, vc)
    }

    fn cats(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
        pairs.iter().map(|&(k, n)| (k.to_owned(), n)).collect()
    }

    fn assert_unsupported(err: Error, want: &DataType, expected_text: &str) {
        match err {
            Error::UnsupportedColumn {
                column,
                data_type,
                expected,
            } => {
                assert_eq!(column, "");
                assert_eq!(&data_type, want);
                assert_eq!(expected, expected_text);
            }
            other => panic!("expected UnsupportedColumn, got {other:?}"),
        }
    }

    #[test]
    fn value_counts_add_up() {
        let mut a = ValueCounts {
            rows: 10,
            nulls: 1,
            nan: 2,
            pos_inf: 3,
            neg_inf: 1,
        };
        assert_eq!(a.valid(), 3);
        assert_eq!(a.dropped(), 7);
        let b = counts(5, 5);
        a.merge(&b);
        assert_eq!(a.rows, 15);
        assert_eq!(a.nulls, 6);
        assert_eq!(a.valid(), 3);
        a += b;
        a += &b;
        assert_eq!(a.rows, 25);
        assert_eq!(a.valid(), 3);
        // Never underflows, even for inconsistent counts.
        assert_eq!(counts(1, 5).valid(), 0);
    }

    #[test]
    fn value_counts_serde_round_trip() {
        let c = ValueCounts {
            rows: 4,
            nulls: 1,
            nan: 1,
            pos_inf: 1,
            neg_inf: 0,
        };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"rows":4,"nulls":1,"nan":1,"pos_inf":1,"neg_inf":0}"#
        );
        assert_eq!(serde_json::from_str::<ValueCounts>(&json).unwrap(), c);
    }

    #[test]
    fn every_integer_type_with_nulls() {
        let want = vec![1.0, 3.0];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int8Array::from(vec![Some(1), None, Some(3)])),
            Arc::new(Int16Array::from(vec![Some(1), None, Some(3)])),
            Arc::new(Int32Array::from(vec![Some(1), None, Some(3)])),
            Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])),
            Arc::new(UInt8Array::from(vec![Some(1), None, Some(3)])),
            Arc::new(UInt16Array::from(vec![Some(1), None, Some(3)])),
            Arc::new(UInt32Array::from(vec![Some(1), None, Some(3)])),
            Arc::new(UInt64Array::from(vec![Some(1), None, Some(3)])),
        ];
        for array in arrays {
            let (out, c) = numbers(array.as_ref());
            assert_eq!(out, want, "{}", array.data_type());
            assert_eq!(c, counts(3, 1), "{}", array.data_type());
        }
        let (out, _) = numbers(&Int64Array::from(vec![i64::MIN, -1, i64::MAX]));
        assert_eq!(out, vec![i64::MIN as f64, -1.0, i64::MAX as f64]);
        let (out, _) = numbers(&UInt64Array::from(vec![u64::MAX]));
        assert_eq!(out, vec![u64::MAX as f64]);
    }

    #[test]
    fn floats_drop_and_count_nan_and_infinities() {
        let values = [
            Some(1.5),
            None,
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
            Some(-0.0),
            Some(f64::INFINITY),
        ];
        let want_counts = ValueCounts {
            rows: 7,
            nulls: 1,
            nan: 1,
            pos_inf: 2,
            neg_inf: 1,
        };
        let f64s = Float64Array::from(values.to_vec());
        let f32s: Float32Array = values.iter().map(|v| v.map(|v| v as f32)).collect();
        let f16s: Float16Array = values.iter().map(|v| v.map(f16::from_f64)).collect();
        for array in [&f64s as &dyn Array, &f32s, &f16s] {
            let (out, c) = numbers(array);
            assert_eq!(out, vec![1.5, -0.0], "{}", array.data_type());
            assert_eq!(c, want_counts, "{}", array.data_type());
            assert_eq!(c.valid(), 2);
        }
    }

    #[test]
    fn dense_arrays_take_the_block_path_with_the_same_result() {
        // 3000 values without nulls: NaN and infinities in the first and last blocks only.
        let mut values: Vec<f64> = (0..3000).map(|i| f64::from(i) - 1500.5).collect();
        values[5] = f64::NAN;
        values[2999] = f64::NEG_INFINITY;
        values[1023] = f64::INFINITY;
        let want: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let floats = Float64Array::from(values.clone());
        let (out, c) = numbers(&floats);
        assert_eq!(out, want);
        let want_counts = ValueCounts {
            rows: 3000,
            nulls: 0,
            nan: 1,
            pos_inf: 1,
            neg_inf: 1,
        };
        assert_eq!(c, want_counts);
        // A slice at an offset, past the non-finite values.
        let (out, c) = numbers(&floats.slice(6, 1000));
        assert_eq!(out, values[6..1006].to_vec());
        assert_eq!(c, counts(1000, 0));
        let ints = Int64Array::from((0..3000).map(|i| i * 3 - 7).collect::<Vec<i64>>());
        let (out, c) = numbers(&ints.slice(10, 20));
        assert_eq!(
            out,
            (10..30).map(|i| f64::from(i * 3 - 7)).collect::<Vec<_>>()
        );
        assert_eq!(c, counts(20, 0));
        let ints = Int32Array::from(vec![i32::MIN, 0, i32::MAX]);
        let (out, _) = numbers(&ints);
        assert_eq!(out, vec![f64::from(i32::MIN), 0.0, f64::from(i32::MAX)]);
    }

    #[test]
    fn decimals_are_divided_by_their_scale() {
        let d32 = Decimal32Array::from(vec![Some(12345), None, Some(-5)])
            .with_precision_and_scale(9, 2)
            .unwrap();
        let d64 = Decimal64Array::from(vec![Some(12345), None, Some(-5)])
            .with_precision_and_scale(18, 2)
            .unwrap();
        let d128 = Decimal128Array::from(vec![Some(12345), None, Some(-5)])
            .with_precision_and_scale(38, 2)
            .unwrap();
        let d256 = Decimal256Array::from(vec![
            Some(i256::from_i128(12345)),
            None,
            Some(i256::from_i128(-5)),
        ])
        .with_precision_and_scale(76, 2)
        .unwrap();
        for array in [&d32 as &dyn Array, &d64, &d128, &d256] {
            let (out, c) = numbers(array);
            assert_eq!(out, vec![123.45, -0.05], "{}", array.data_type());
            assert_eq!(c, counts(3, 1));
        }
        // A negative scale multiplies; scale zero keeps the integer.
        let neg = Decimal128Array::from(vec![7])
            .with_precision_and_scale(10, -3)
            .unwrap();
        assert_eq!(numbers(&neg).0, vec![7000.0]);
        let zero = Decimal64Array::from(vec![-42])
            .with_precision_and_scale(10, 0)
            .unwrap();
        assert_eq!(numbers(&zero).0, vec![-42.0]);
        // Beyond i128: still close.
        let huge = i256::from_i128(i128::MAX).wrapping_mul(i256::from_i128(1000));
        let big = Decimal256Array::from(vec![huge])
            .with_precision_and_scale(76, 0)
            .unwrap();
        let got = numbers(&big).0[0];
        let want = i128::MAX as f64 * 1000.0;
        assert!(((got - want) / want).abs() < 1e-12, "{got} vs {want}");
        let big_neg = Decimal256Array::from(vec![huge.wrapping_neg()])
            .with_precision_and_scale(76, 0)
            .unwrap();
        let got = numbers(&big_neg).0[0];
        assert!(((got + want) / want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn temporal_types_give_their_raw_integer() {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Date32Array::from(vec![Some(19_000), None])),
            Arc::new(Date64Array::from(vec![Some(19_000), None])),
            Arc::new(Time32SecondArray::from(vec![Some(19_000), None])),
            Arc::new(Time32MillisecondArray::from(vec![Some(19_000), None])),
            Arc::new(Time64MicrosecondArray::from(vec![Some(19_000), None])),
            Arc::new(Time64NanosecondArray::from(vec![Some(19_000), None])),
            Arc::new(TimestampSecondArray::from(vec![Some(19_000), None])),
            Arc::new(TimestampMillisecondArray::from(vec![Some(19_000), None])),
            Arc::new(
                TimestampMicrosecondArray::from(vec![Some(19_000), None]).with_timezone("UTC"),
            ),
            Arc::new(TimestampNanosecondArray::from(vec![Some(19_000), None])),
            Arc::new(DurationSecondArray::from(vec![Some(19_000), None])),
            Arc::new(PrimitiveArray::<DurationMillisecondType>::from(vec![
                Some(19_000),
                None,
            ])),
            Arc::new(PrimitiveArray::<DurationMicrosecondType>::from(vec![
                Some(19_000),
                None,
            ])),
            Arc::new(PrimitiveArray::<DurationNanosecondType>::from(vec![
                Some(19_000),
                None,
            ])),
        ];
        for array in arrays {
            let (out, c) = numbers(array.as_ref());
            assert_eq!(out, vec![19_000.0], "{}", array.data_type());
            assert_eq!(c, counts(2, 1), "{}", array.data_type());
        }
    }

    #[test]
    fn sliced_arrays_respect_their_offset() {
        let ints = Int32Array::from(vec![Some(1), None, Some(3), Some(4), None, Some(6)]);
        let sliced = ints.slice(2, 3); // 3, 4, null
        let (out, c) = numbers(&sliced);
        assert_eq!(out, vec![3.0, 4.0]);
        assert_eq!(c, counts(3, 1));

        let floats = Float64Array::from(vec![Some(f64::NAN), None, Some(2.0), Some(f64::NAN)]);
        let (out, c) = numbers(&floats.slice(1, 2)); // null, 2.0
        assert_eq!(out, vec![2.0]);
        assert_eq!(c, counts(2, 1));

        // No nulls inside the slice, though the parent has some.
        let (out, c) = numbers(&ints.slice(2, 2));
        assert_eq!(out, vec![3.0, 4.0]);
        assert_eq!(c, counts(2, 0));
    }

    #[test]
    fn empty_and_null_typed_arrays() {
        let (out, c) = numbers(&Float64Array::from(Vec::<f64>::new()));
        assert!(out.is_empty());
        assert_eq!(c, ValueCounts::default());
        let (out, c) = numbers(&NullArray::new(4));
        assert!(out.is_empty());
        assert_eq!(c, counts(4, 4));
        let (k, c) = categories(&NullArray::new(3));
        assert!(k.is_empty());
        assert_eq!(c, counts(3, 3));
        let (k, c) = categories(&StringArray::from(Vec::<&str>::new()));
        assert!(k.is_empty());
        assert_eq!(c, ValueCounts::default());
    }

    #[test]
    fn appends_after_existing_values() {
        let mut out = vec![-1.0];
        numeric_values(&Int8Array::from(vec![5, 6]), &mut out).unwrap();
        assert_eq!(out, vec![-1.0, 5.0, 6.0]);
    }

    #[test]
    fn numeric_dictionaries_map_through_keys() {
        // Values: 10.0, null, NaN, +inf, 20.0 (never used).
        let values: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(10.0),
            None,
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(20.0),
        ]));
        let keys = Int8Array::from(vec![Some(0), None, Some(1), Some(2), Some(3), Some(0)]);
        let dict = DictionaryArray::<Int8Type>::try_new(keys, Arc::clone(&values)).unwrap();
        let (out, c) = numbers(&dict);
        assert_eq!(out, vec![10.0, 10.0]);
        assert_eq!(
            c,
            ValueCounts {
                rows: 6,
                nulls: 2,
                nan: 1,
                pos_inf: 1,
                neg_inf: 0,
            }
        );

        // Sliced: rows 3.. are NaN, +inf, 10.0.
        let (out, c) = numbers(&dict.slice(3, 3));
        assert_eq!(out, vec![10.0]);
        assert_eq!(c.rows, 3);
        assert_eq!((c.nulls, c.nan, c.pos_inf), (0, 1, 1));

        // Other key types and integer values.
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![7, 8]));
        let keys = UInt32Array::from(vec![1, 0, 1]);
        let dict = DictionaryArray::<UInt32Type>::try_new(keys, ints).unwrap();
        assert_eq!(numbers(&dict), (vec![8.0, 7.0, 8.0], counts(3, 0)));
        let dec: ArrayRef = Arc::new(
            Decimal128Array::from(vec![150])
                .with_precision_and_scale(5, 2)
                .unwrap(),
        );
        let keys = UInt64Array::from(vec![Some(0), None]);
        let dict = DictionaryArray::<UInt64Type>::try_new(keys, dec).unwrap();
        assert_eq!(numbers(&dict), (vec![1.5], counts(2, 1)));
    }

    #[test]
    fn unsupported_numeric_types_are_named() {
        let mut out = Vec::new();
        let err = numeric_values(&StringArray::from(vec!["a"]), &mut out).unwrap_err();
        assert_unsupported(err, &DataType::Utf8, "a numeric type");
        let err = numeric_values(&BooleanArray::from(vec![true]), &mut out).unwrap_err();
        assert_unsupported(err, &DataType::Boolean, "a numeric type");
        let dict: DictionaryArray<Int32Type> = vec!["a", "b"].into_iter().collect();
        let err = numeric_values(&dict, &mut out).unwrap_err();
        assert_unsupported(err, dict.data_type(), "a numeric type");
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1)])]);
        let err = numeric_values(&list, &mut out).unwrap_err();
        assert_unsupported(err, list.data_type(), "a numeric type");
        assert!(out.is_empty());
        let text = numeric_values(&BinaryArray::from(vec![b"x".as_ref()]), &mut out)
            .unwrap_err()
            .to_string();
        assert!(text.contains("Binary"), "{text}");
    }

    fn batch() -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("x", DataType::Float32, true),
            Field::new("city", DataType::Utf8, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Float32Array::from(vec![Some(1.0), None])),
                Arc::new(StringArray::from(vec![Some("Oslo"), Some("Oslo")])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn columns_by_name_fill_the_name_in_errors() {
        let batch = batch();
        let mut out = Vec::new();
        assert_eq!(numeric_column(&batch, "x", &mut out).unwrap(), counts(2, 1));
        assert_eq!(out, vec![1.0]);

        match numeric_column(&batch, "city", &mut out).unwrap_err() {
            Error::UnsupportedColumn {
                column, data_type, ..
            } => {
                assert_eq!(column, "city");
                assert_eq!(data_type, DataType::Utf8);
            }
            other => panic!("{other:?}"),
        }
        let err = numeric_column(&batch, "nope", &mut out).unwrap_err();
        assert!(matches!(
            &err,
            Error::Invalid { kind: "column name", value, rule }
                if value == "nope" && matches!(rule, Rule::Format { .. })
        ));
        assert!(err.to_string().contains("\"nope\""), "{err}");

        let mut cats = CategoryCounts::new();
        assert_eq!(
            categories_column(&batch, "city", &mut cats).unwrap(),
            counts(2, 0)
        );
        assert_eq!(cats.get("Oslo"), 2);
        match categories_column(&batch, "x", &mut cats).unwrap_err() {
            Error::UnsupportedColumn {
                column, expected, ..
            } => {
                assert_eq!(column, "x");
                assert_eq!(expected, "a string, boolean or integer type");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            categories_column(&batch, "", &mut cats)
                .unwrap_err()
                .rule()
                .is_some()
        );
    }

    #[test]
    fn strings_of_every_kind() {
        let values = vec![Some("b"), None, Some("a"), Some("b"), Some(""), Some("b")];
        let want = cats(&[("", 1), ("a", 1), ("b", 3)]);
        let utf8 = StringArray::from(values.clone());
        let large = LargeStringArray::from(values.clone());
        let view = StringViewArray::from(values);
        for array in [&utf8 as &dyn Array, &large, &view] {
            let (k, c) = categories(array);
            assert_eq!(k, want, "{}", array.data_type());
            assert_eq!(c, counts(6, 1));
            // Sliced: "a", "b", "".
            let (k, c) = categories(array.slice(2, 3).as_ref());
            assert_eq!(k, cats(&[("", 1), ("a", 1), ("b", 1)]));
            assert_eq!(c, counts(3, 0));
        }
        // A long (non-inlined) view string.
        let long = "x".repeat(40);
        let (k, _) = categories(&StringViewArray::from(vec![long.as_str(), long.as_str()]));
        assert_eq!(k, vec![(long, 2)]);
    }

    #[test]
    fn booleans_count_as_true_and_false() {
        let b = BooleanArray::from(vec![Some(true), None, Some(false), Some(true), None]);
        let (k, c) = categories(&b);
        assert_eq!(k, cats(&[("false", 1), ("true", 2)]));
        assert_eq!(c, counts(5, 2));
        let (k, c) = categories(&b.slice(1, 2)); // null, false
        assert_eq!(k, cats(&[("false", 1)]));
        assert_eq!(c, counts(2, 1));
    }

    #[test]
    fn integers_count_as_decimal_text() {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int8Array::from(vec![Some(-3), None, Some(7), Some(-3)])),
            Arc::new(Int16Array::from(vec![Some(-3), None, Some(7), Some(-3)])),
            Arc::new(Int32Array::from(vec![Some(-3), None, Some(7), Some(-3)])),
            Arc::new(Int64Array::from(vec![Some(-3), None, Some(7), Some(-3)])),
        ];
        for array in arrays {
            let (k, c) = categories(array.as_ref());
            assert_eq!(k, cats(&[("-3", 2), ("7", 1)]), "{}", array.data_type());
            assert_eq!(c, counts(4, 1));
            let (k, c) = categories(array.slice(1, 2).as_ref());
            assert_eq!(k, cats(&[("7", 1)]));
            assert_eq!(c, counts(2, 1));
        }
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(UInt8Array::from(vec![Some(3), None, Some(255)])),
            Arc::new(UInt16Array::from(vec![Some(3), None, Some(255)])),
            Arc::new(UInt32Array::from(vec![Some(3), None, Some(255)])),
            Arc::new(UInt64Array::from(vec![Some(3), None, Some(255)])),
        ];
        for array in arrays {
            let (k, c) = categories(array.as_ref());
            assert_eq!(k, cats(&[("255", 1), ("3", 1)]), "{}", array.data_type());
            assert_eq!(c, counts(3, 1));
        }
        let (k, _) = categories(&UInt64Array::from(vec![u64::MAX]));
        assert_eq!(k, cats(&[("18446744073709551615", 1)]));
        let (k, _) = categories(&Int64Array::from(vec![i64::MIN]));
        assert_eq!(k, cats(&[("-9223372036854775808", 1)]));
    }

    #[test]
    fn string_dictionaries_with_nulls_in_keys_and_values() {
        // Values: "a", null, "b", "unused".
        let values: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a"),
            None,
            Some("b"),
            Some("unused"),
        ]));
        let keys = Int32Array::from(vec![Some(0), None, Some(1), Some(2), Some(0), Some(2)]);
        let dict = DictionaryArray::<Int32Type>::try_new(keys, values).unwrap();
        let (k, c) = categories(&dict);
        assert_eq!(k, cats(&[("a", 2), ("b", 2)]));
        assert_eq!(c, counts(6, 2));

        let (k, c) = categories(&dict.slice(1, 3)); // null key, null value, "b"
        assert_eq!(k, cats(&[("b", 1)]));
        assert_eq!(c, counts(3, 2));

        // The same as plain strings.
        let plain = StringArray::from(vec![Some("a"), None, None, Some("b"), Some("a"), Some("b")]);
        assert_eq!(categories(&plain), categories(&dict));
    }

    #[test]
    fn dictionaries_of_every_value_kind() {
        let keys = || UInt8Array::from(vec![Some(1), Some(0), None, Some(1)]);
        let value_arrays: Vec<(ArrayRef, [&str; 2])> = vec![
            (Arc::new(LargeStringArray::from(vec!["x", "y"])), ["x", "y"]),
            (Arc::new(StringViewArray::from(vec!["x", "y"])), ["x", "y"]),
            (
                Arc::new(BooleanArray::from(vec![false, true])),
                ["false", "true"],
            ),
            (Arc::new(Int8Array::from(vec![-1, 2])), ["-1", "2"]),
            (Arc::new(Int16Array::from(vec![-1, 2])), ["-1", "2"]),
            (Arc::new(Int32Array::from(vec![-1, 2])), ["-1", "2"]),
            (Arc::new(Int64Array::from(vec![-1, 2])), ["-1", "2"]),
            (Arc::new(UInt8Array::from(vec![1, 2])), ["1", "2"]),
            (Arc::new(UInt16Array::from(vec![1, 2])), ["1", "2"]),
            (Arc::new(UInt32Array::from(vec![1, 2])), ["1", "2"]),
            (Arc::new(UInt64Array::from(vec![1, 2])), ["1", "2"]),
        ];
        for (values, [first, second]) in value_arrays {
            let data_type = values.data_type().clone();
            let dict = DictionaryArray::<UInt8Type>::try_new(keys(), values).unwrap();
            let (k, c) = categories(&dict);
            assert_eq!(k, cats(&[(first, 1), (second, 2)]), "{data_type}");
            assert_eq!(c, counts(4, 1));
        }
        // Every key type.
        let v = || -> ArrayRef { Arc::new(StringArray::from(vec!["p", "q"])) };
        let dicts: Vec<ArrayRef> = vec![
            Arc::new(DictionaryArray::<Int8Type>::try_new(vec![1, 1, 0].into(), v()).unwrap()),
            Arc::new(DictionaryArray::<Int16Type>::try_new(vec![1, 1, 0].into(), v()).unwrap()),
            Arc::new(DictionaryArray::<Int64Type>::try_new(vec![1, 1, 0].into(), v()).unwrap()),
            Arc::new(DictionaryArray::<UInt16Type>::try_new(vec![1, 1, 0].into(), v()).unwrap()),
            Arc::new(DictionaryArray::<UInt32Type>::try_new(vec![1, 1, 0].into(), v()).unwrap()),
            Arc::new(DictionaryArray::<UInt64Type>::try_new(vec![1, 1, 0].into(), v()).unwrap()),
        ];
        for dict in dicts {
            let (k, c) = categories(dict.as_ref());
            assert_eq!(k, cats(&[("p", 1), ("q", 2)]), "{}", dict.data_type());
            assert_eq!(c, counts(3, 0));
        }
        // A dictionary of nulls.
        let nulls: ArrayRef = Arc::new(NullArray::new(2));
        let dict = DictionaryArray::<Int8Type>::try_new(vec![0, 1].into(), nulls).unwrap();
        assert_eq!(categories(&dict), (vec![], counts(2, 2)));
    }

    #[test]
    fn unsupported_categorical_types_are_named() {
        let mut cats = CategoryCounts::new();
        let err = count_categories(&Float64Array::from(vec![1.0]), &mut cats).unwrap_err();
        assert_unsupported(err, &DataType::Float64, "a string, boolean or integer type");
        let values: ArrayRef = Arc::new(Float64Array::from(vec![1.0]));
        let dict = DictionaryArray::<Int32Type>::try_new(vec![0].into(), values).unwrap();
        let err = count_categories(&dict, &mut cats).unwrap_err();
        assert_unsupported(err, dict.data_type(), "a string, boolean or integer type");
        let err = count_categories(&Date32Array::from(vec![1]), &mut cats).unwrap_err();
        assert!(err.to_string().contains("Date32"), "{err}");
        assert!(cats.is_empty());
    }

    #[test]
    fn category_counts_merge_and_sort_deterministically() {
        let mut a = CategoryCounts::new();
        count_categories(&StringArray::from(vec!["b", "a", "b", "c"]), &mut a).unwrap();
        let mut b = CategoryCounts::new();
        count_categories(&StringArray::from(vec!["c", "c", "d"]), &mut b).unwrap();
        a.merge(&b);
        assert_eq!(a.len(), 4);
        assert_eq!(a.total(), 7);
        assert_eq!(a.get("c"), 3);
        assert_eq!(a.get("zzz"), 0);
        assert_eq!(a.sorted(), vec![("a", 1), ("b", 2), ("c", 3), ("d", 1)]);
        assert_eq!(
            a.most_common(),
            vec![("c", 3), ("b", 2), ("a", 1), ("d", 1)]
        );
        a.add("e", 0);
        assert_eq!(a.len(), 4);
        a.add("e", 5);
        assert_eq!(a.total(), 12);
        // Counting into the same `CategoryCounts` twice is a merge.
        count_categories(&StringArray::from(vec!["a"]), &mut a).unwrap();
        assert_eq!(a.get("a"), 2);
    }

    #[test]
    fn category_counts_serde_is_a_sorted_object() {
        let mut a = CategoryCounts::new();
        for (k, n) in [("zeta", 1), ("alpha", 3), ("mu", 2), ("Beta", 4)] {
            a.add(k, n);
        }
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"{"Beta":4,"alpha":3,"mu":2,"zeta":1}"#);
        let back: CategoryCounts = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.total(), 10);
        let zeros: CategoryCounts = serde_json::from_str(r#"{"a":0,"b":2}"#).unwrap();
        assert_eq!(zeros.len(), 1);
        assert_eq!(zeros.total(), 2);
    }
}
