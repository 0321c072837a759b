//! [`DatasetRef`]: which data a run read, identified by a digest of the data itself.
//!
//! # Why
//!
//! A run records its inputs (MLflow's `log_input`): a dataset name, where the data came from,
//! its schema, its size, and a digest. The digest is what lets anyone ask "were these two
//! models trained on the same data?" or "is this the reference data the drift monitor
//! used?". So it must be a function of the *data*, not of how the data happened to be read:
//! the same rows must give the same digest whether they arrived in one record batch or in a
//! thousand, whether an array was a slice of a bigger one, and whether strings were
//! dictionary-encoded (pandas categoricals, Parquet dictionary pages) or plain, 32-bit or
//! 64-bit offsets, or views (Polars). And any change to a value, a null, a column name or a
//! column type must change it.
//!
//! The digest is 32 lowercase hex digits (128 bits): MLflow caps a dataset digest at 36
//! characters, and 128 bits of SHA-256 are plenty against accidental collisions.
//!
//! The algorithm is specified, as a contract that another language can reimplement, on
//! [`DatasetDigest`].

use std::fmt;
use std::str::FromStr;
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
    RecordBatch, StringArray, StringViewArray,
};
use arrow_buffer::{ArrowNativeType, NullBuffer, i256};
use arrow_schema::{ArrowError, DataType, IntervalUnit, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::arrow_columns::{downcast, key_out_of_range};
use crate::{Error, Result, Rule};

/// The first bytes hashed; a new algorithm gets a new tag.
const VERSION_TAG: &[u8] = b"mlops-dataset-digest-v1\0";
/// The longest dataset name, in bytes (MLflow's limit).
const MAX_NAME_BYTES: usize = 500;
/// The longest dataset source, in bytes.
const MAX_SOURCE_BYTES: usize = 8000;
/// What the digest accepts, as named in [`Error::UnsupportedColumn`].
const SUPPORTED: &str = "a primitive, string, binary or dictionary type";
/// Encoded rows are handed to SHA-256 in chunks of about this many bytes.
const CHUNK_BYTES: usize = 64 * 1024;

/// The digest of a dataset's data: the first 128 bits of the SHA-256 specified below, shown
/// as 32 lowercase hex digits (MLflow caps a dataset digest at 36 characters).
///
/// Parses (with [`FromStr`]), displays and (de)serialises as that hex string; parsing accepts
/// exactly `^[0-9a-f]{32}$`. Compute one with [`DatasetDigester`] or
/// [`DatasetRef::from_batches`].
///
/// # The digest algorithm, version 1
///
/// This is a specification: it can be reimplemented in another language (Python with
/// `hashlib` and `struct`), and any change to it must change the version tag. A golden test
/// pins the output for a fixed table. Notation: `u8(x)`, `u64le(x)` are the little-endian
/// encodings; `str(s)` is `u64le(byte length of s) ‖ UTF-8 bytes of s`; `‖` concatenates.
///
/// ```text
/// digest = hex( SHA-256( "mlops-dataset-digest-v1" ‖ 0x00
///                      ‖ u64le(number of fields)
///                      ‖ for each field, in order: str(name) ‖ str(type text) ‖ u8(nullable)
///                      ‖ u64le(total number of rows)
///                      ‖ for each column, in order: SHA-256(column stream) )  -- 32 bytes each
///               [first 16 bytes] )
/// ```
///
/// Schema and field metadata are not hashed. The *column stream* is, for every row of the
/// column in row order across all batches, `0x00` if the row is null, else `0x01` followed by
/// the value's encoding:
///
/// | Arrow type | type text | value encoding |
/// |---|---|---|
/// | `Null` | `null` | (every row is null: `0x00`) |
/// | `Boolean` | `bool` | one byte, `0x00` or `0x01` |
/// | `Int8`…`Int64`, `UInt8`…`UInt64` | `int8`…`int64`, `uint8`…`uint64` | the integer, 1–8 bytes LE |
/// | `Float16/32/64` | `float16/32/64` | IEEE 754 LE; every NaN as `0x7E00` / `0x7FC00000` / `0x7FF8000000000000`; `-0.0` stays distinct |
/// | `Decimal32/64/128/256(p, s)` | `decimal(p,s)` e.g. `decimal(10,2)`, `decimal(5,-1)` | the unscaled integer, sign-extended to 32 bytes LE |
/// | `Date32`, `Date64` | `date32`, `date64` | `i32` days, `i64` milliseconds, LE |
/// | `Time32(u)`, `Time64(u)` | `time32[s]`, `time32[ms]`, `time64[us]`, `time64[ns]` | `i32` / `i64` LE |
/// | `Timestamp(u, tz)` | `timestamp[u]` or `timestamp[u, tz=<tz as declared>]`, `u` ∈ `s ms us ns` | `i64` LE |
/// | `Duration(u)` | `duration[u]` | `i64` LE |
/// | `Interval(YearMonth)` | `interval[year_month]` | `i32` months LE |
/// | `Interval(DayTime)` | `interval[day_time]` | `i32` days ‖ `i32` milliseconds, LE |
/// | `Interval(MonthDayNano)` | `interval[month_day_nano]` | `i32` months ‖ `i32` days ‖ `i64` nanoseconds, LE |
/// | `Utf8`, `LargeUtf8`, `Utf8View` | `string` | `u64le(byte length)` ‖ UTF-8 bytes |
/// | `Binary`, `LargeBinary`, `BinaryView` | `binary` | `u64le(byte length)` ‖ bytes |
/// | `FixedSizeBinary(n)` | `fixed_size_binary[n]` | `u64le(n)` ‖ the n bytes |
/// | `Dictionary(k, v)` | the type text of `v` | the encoding of the value the key points at; null if the key or that value is null |
///
/// # Decisions
///
/// * **Logical, not physical.** The type text names the logical type: `Utf8`, `LargeUtf8`,
///   `Utf8View` and any `Dictionary(_, Utf8…)` are all `string`; the binary types likewise;
///   the four decimal widths are one `decimal(p,s)` (the width is storage, the precision is the
///   type). So re-encoding data never changes its digest. Integer and float widths, temporal
///   units and time zones *are* part of the type: `Int32` and `Int64` of the same numbers
///   differ, and so do `timestamp[ms, tz=UTC]` and `timestamp[ms, tz=+00:00]`.
/// * **Nullability is part of the schema text**, as declared by the schema.
/// * **Column-major**, one hasher per column: streaming batches never buffer data, and the
///   per-column hashes are independent of batch boundaries by construction.
/// * **Nested types** (`List`, `LargeList`, `FixedSizeList`, `ListView`, `Struct`, `Map`,
///   `Union`, `RunEndEncoded`) are refused with [`Error::UnsupportedColumn`] (expected "a
///   primitive, string, binary or dictionary type"). Adding them later cannot change any digest
///   that version 1 produces, since no such digest exists.
/// * Batches are checked against the declared schema by field count, names, nullability and
///   *type text*: a batch may use `Utf8View` where the schema says `Utf8`, but not `Int64`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatasetDigest([u8; 16]);

impl DatasetDigest {
    /// The digest with these bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The 16 bytes of the digest.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl FromStr for DatasetDigest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = || {
            Error::invalid(
                "dataset digest",
                s,
                Rule::Format {
                    expected: "32 lowercase hexadecimal digits",
                },
            )
        };
        let hex = s.as_bytes();
        if hex.len() != 32 {
            return Err(invalid());
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            let (Some(high), Some(low)) = (nibble(pair[0]), nibble(pair[1])) else {
                return Err(invalid());
            };
            *byte = (high << 4) | low;
        }
        Ok(Self(bytes))
    }
}

impl fmt::Display for DatasetDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for DatasetDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatasetDigest({self})")
    }
}

impl Serialize for DatasetDigest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DatasetDigest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Computes a [`DatasetDigest`] from record batches, one batch at a time.
///
/// Memory use is constant: each column keeps one SHA-256 state, so a dataset of any size can
/// be streamed through. Splitting the same rows into batches differently gives the same
/// digest.
pub struct DatasetDigester {
    /// The declared schema, hashed in [`finish`](Self::finish).
    schema: SchemaRef,
    /// The type text of each field.
    types: Vec<String>,
    /// The running hash of each column.
    hashers: Vec<Sha256>,
    /// The encoding of the last dictionary seen in each column, with the dictionary it
    /// encodes: batches from one Parquet row group share one dictionary, which is then
    /// encoded once rather than once per batch. A pure memo, keyed by the identity of the
    /// (immutable, kept alive) values array.
    dictionaries: Vec<Option<(ArrayRef, Table)>>,
    /// Reused buffer of encoded rows.
    scratch: Vec<u8>,
    /// Rows seen so far.
    rows: u64,
}

impl fmt::Debug for DatasetDigester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatasetDigester")
            .field("types", &self.types)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl DatasetDigester {
    /// Starts a digest of data with this schema.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedColumn`] naming the first field whose type the digest does not
    /// cover (nested types, see [`DatasetDigest`]).
    pub fn new(schema: impl Into<SchemaRef>) -> Result<Self> {
        let schema = schema.into();
        let types = schema
            .fields()
            .iter()
            .map(|field| {
                type_text(field.data_type()).ok_or_else(|| Error::UnsupportedColumn {
                    column: field.name().clone(),
                    data_type: field.data_type().clone(),
                    expected: SUPPORTED,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            schema,
            hashers: vec![Sha256::new(); types.len()],
            dictionaries: vec![None; types.len()],
            types,
            scratch: Vec::with_capacity(CHUNK_BYTES + 1024),
            rows: 0,
        })
    }

    /// The declared schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The number of rows hashed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Hashes the rows of `batch`, which come after the rows of earlier batches.
    ///
    /// All or nothing: after an error the digester is as it was before the call.
    ///
    /// # Errors
    ///
    /// [`Error::Arrow`] with [`ArrowError::SchemaError`] naming the first difference when the
    /// batch's fields differ from the declared ones in number, name, nullability or type text
    /// (metadata is ignored); [`Error::Arrow`] when an array is malformed.
    pub fn update(&mut self, batch: &RecordBatch) -> Result<()> {
        self.check_schema(batch.schema_ref())?;
        // Hash into copies (a SHA-256 state is about 100 bytes), committed only on success.
        let mut hashers = self.hashers.clone();
        let columns = hashers.iter_mut().zip(&mut self.dictionaries);
        for ((hasher, dictionary), array) in columns.zip(batch.columns()) {
            encode_column(array.as_ref(), hasher, dictionary, &mut self.scratch)?;
        }
        self.hashers = hashers;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// The digest of all rows passed to [`update`](Self::update), and their number.
    pub fn finish(self) -> (DatasetDigest, u64) {
        let mut hasher = Sha256::new();
        hasher.update(VERSION_TAG);
        hasher.update((self.types.len() as u64).to_le_bytes());
        for (field, text) in self.schema.fields().iter().zip(&self.types) {
            hash_str(&mut hasher, field.name());
            hash_str(&mut hasher, text);
            hasher.update([u8::from(field.is_nullable())]);
        }
        hasher.update(self.rows.to_le_bytes());
        for column in self.hashers {
            hasher.update(column.finalize());
        }
        let full: [u8; 32] = hasher.finalize().into();
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&full[..16]);
        (DatasetDigest(digest), self.rows)
    }

    /// Checks a batch's fields against the declared ones.
    fn check_schema(&self, batch: &Schema) -> Result<()> {
        let mismatch = |text: String| Err(Error::Arrow(ArrowError::SchemaError(text)));
        let declared = self.schema.fields();
        if batch.fields().len() != declared.len() {
            return mismatch(format!(
                "the batch has {} columns, the dataset schema has {}",
                batch.fields().len(),
                declared.len()
            ));
        }
        let fields = declared.iter().zip(batch.fields().iter()).zip(&self.types);
        for (i, ((want, got), want_type)) in fields.enumerate() {
            if got.name() != want.name() {
                return mismatch(format!(
                    "column {i} is named {:?} in the batch, {:?} in the dataset schema",
                    got.name(),
                    want.name()
                ));
            }
            let got_type = type_text(got.data_type());
            if got_type.as_ref() != Some(want_type) {
                return mismatch(format!(
                    "column {i} {:?} has type {} in the batch, {} in the dataset schema",
                    got.name(),
                    got.data_type(),
                    want.data_type()
                ));
            }
            if got.is_nullable() != want.is_nullable() {
                let null = |yes: bool| if yes { "nullable" } else { "non-nullable" };
                return mismatch(format!(
                    "column {i} {:?} is {} in the batch, {} in the dataset schema",
                    got.name(),
                    null(got.is_nullable()),
                    null(want.is_nullable())
                ));
            }
        }
        Ok(())
    }
}

/// Hashes `str(s)`: the byte length as `u64` LE, then the bytes.
fn hash_str(hasher: &mut Sha256, s: &str) {
    hasher.update((s.len() as u64).to_le_bytes());
    hasher.update(s.as_bytes());
}

/// The type text of the specification table, or `None` for a type the digest refuses.
fn type_text(data_type: &DataType) -> Option<String> {
    use TimeUnit::{Microsecond, Millisecond, Nanosecond, Second};
    let unit = |u: &TimeUnit| match u {
        Second => "s",
        Millisecond => "ms",
        Microsecond => "us",
        Nanosecond => "ns",
    };
    let text = match data_type {
        DataType::Null => "null".to_owned(),
        DataType::Boolean => "bool".to_owned(),
        DataType::Int8 => "int8".to_owned(),
        DataType::Int16 => "int16".to_owned(),
        DataType::Int32 => "int32".to_owned(),
        DataType::Int64 => "int64".to_owned(),
        DataType::UInt8 => "uint8".to_owned(),
        DataType::UInt16 => "uint16".to_owned(),
        DataType::UInt32 => "uint32".to_owned(),
        DataType::UInt64 => "uint64".to_owned(),
        DataType::Float16 => "float16".to_owned(),
        DataType::Float32 => "float32".to_owned(),
        DataType::Float64 => "float64".to_owned(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::Date32 => "date32".to_owned(),
        DataType::Date64 => "date64".to_owned(),
        DataType::Time32(u @ (Second | Millisecond)) => format!("time32[{}]", unit(u)),
        DataType::Time64(u @ (Microsecond | Nanosecond)) => format!("time64[{}]", unit(u)),
        DataType::Timestamp(u, None) => format!("timestamp[{}]", unit(u)),
        DataType::Timestamp(u, Some(tz)) => format!("timestamp[{}, tz={tz}]", unit(u)),
        DataType::Duration(u) => format!("duration[{}]", unit(u)),
        DataType::Interval(IntervalUnit::YearMonth) => "interval[year_month]".to_owned(),
        DataType::Interval(IntervalUnit::DayTime) => "interval[day_time]".to_owned(),
        DataType::Interval(IntervalUnit::MonthDayNano) => "interval[month_day_nano]".to_owned(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".to_owned(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "binary".to_owned(),
        DataType::FixedSizeBinary(n) => format!("fixed_size_binary[{n}]"),
        DataType::Dictionary(key, value) if key.is_dictionary_key_type() => {
            return type_text(value);
        }
        _ => return None,
    };
    Some(text)
}

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
struct Table {
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
fn encode_column(
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

/// A dataset that a run read: its name, where it came from, its schema, its row count and
/// the [`DatasetDigest`] of its data.
///
/// Built from the data with [`from_batches`](Self::from_batches), or from known parts with
/// [`new`](Self::new). Both validate the name and the source, and so does deserialisation.
///
/// ```
/// use std::sync::Arc;
///
/// use arrow_array::{Int64Array, RecordBatch, StringArray};
/// use arrow_schema::{DataType, Field, Schema};
/// use mlops_core::DatasetRef;
///
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("id", DataType::Int64, false),
///     Field::new("city", DataType::Utf8, true),
/// ]));
/// let batch = RecordBatch::try_new(Arc::clone(&schema), vec![
///     Arc::new(Int64Array::from(vec![1, 2])),
///     Arc::new(StringArray::from(vec![Some("Oslo"), None])),
/// ])?;
/// let two_batches = [batch.slice(0, 1), batch.slice(1, 1)];
///
/// let source = "file:///data/cities.parquet";
/// let one = DatasetRef::from_batches("cities", source, Arc::clone(&schema), [&batch])?;
/// let two = DatasetRef::from_batches("cities", source, schema, &two_batches)?;
/// assert_eq!(one.digest(), two.digest());
/// assert_eq!(one.digest().to_string().len(), 32);
/// assert_eq!(one.rows(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "DatasetRefRepr")]
pub struct DatasetRef {
    name: String,
    digest: DatasetDigest,
    source: String,
    schema: SchemaRef,
    rows: u64,
}

impl DatasetRef {
    /// A dataset reference from known parts, for example read back from a tracking store.
    ///
    /// The name must be non-empty, at most 500 bytes, free of control characters and of
    /// leading or trailing whitespace. The source (a URI or a path saying where the data came
    /// from) must be non-empty, at most 8000 bytes and free of control characters.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with kind `"dataset name"` or `"dataset source"` and the rule broken.
    pub fn new(
        name: impl Into<String>,
        source: impl Into<String>,
        schema: impl Into<SchemaRef>,
        digest: DatasetDigest,
        rows: u64,
    ) -> Result<Self> {
        let (name, source) = (name.into(), source.into());
        check_name(&name)?;
        check_source(&source)?;
        Ok(Self {
            name,
            digest,
            source,
            schema: schema.into(),
            rows,
        })
    }

    /// A dataset reference whose digest and row count are computed from `batches`, which
    /// must all have `schema` (see [`DatasetDigester::update`]).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new) for the name and source (checked before any data is read), and
    /// as [`DatasetDigester::new`] and [`DatasetDigester::update`].
    pub fn from_batches<'a>(
        name: impl Into<String>,
        source: impl Into<String>,
        schema: impl Into<SchemaRef>,
        batches: impl IntoIterator<Item = &'a RecordBatch>,
    ) -> Result<Self> {
        let (name, source) = (name.into(), source.into());
        check_name(&name)?;
        check_source(&source)?;
        let mut digester = DatasetDigester::new(schema)?;
        for batch in batches {
            digester.update(batch)?;
        }
        let schema = Arc::clone(digester.schema());
        let (digest, rows) = digester.finish();
        Ok(Self {
            name,
            digest,
            source,
            schema,
            rows,
        })
    }

    /// The dataset name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The digest of the data.
    pub fn digest(&self) -> DatasetDigest {
        self.digest
    }

    /// Where the data came from: a URI or a path.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The schema of the data.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The number of rows.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

/// The serde form of [`DatasetRef`], validated on the way in.
#[derive(Deserialize)]
struct DatasetRefRepr {
    name: String,
    digest: DatasetDigest,
    source: String,
    schema: Schema,
    rows: u64,
}

/// The serde form of [`DatasetRef`], borrowed on the way out.
#[derive(Serialize)]
struct DatasetRefOut<'a> {
    name: &'a str,
    digest: DatasetDigest,
    source: &'a str,
    schema: &'a Schema,
    rows: u64,
}

impl TryFrom<DatasetRefRepr> for DatasetRef {
    type Error = Error;

    fn try_from(r: DatasetRefRepr) -> Result<Self> {
        Self::new(r.name, r.source, r.schema, r.digest, r.rows)
    }
}

impl Serialize for DatasetRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        DatasetRefOut {
            name: &self.name,
            digest: self.digest,
            source: &self.source,
            schema: &self.schema,
            rows: self.rows,
        }
        .serialize(serializer)
    }
}

/// Checks a dataset name.
fn check_name(name: &str) -> Result<()> {
    check_text("dataset name", name, MAX_NAME_BYTES)?;
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Err(Error::invalid(
            "dataset name",
            name,
            Rule::SurroundingWhitespace,
        ));
    }
    Ok(())
}

/// Checks a dataset source.
fn check_source(source: &str) -> Result<()> {
    check_text("dataset source", source, MAX_SOURCE_BYTES)
}

/// Non-empty, at most `max` bytes, no control characters.
fn check_text(kind: &'static str, value: &str, max: usize) -> Result<()> {
    let rule = if value.is_empty() {
        Rule::Empty
    } else if value.len() > max {
        Rule::TooLong {
            max,
            len: value.len(),
            unit: "bytes",
        }
    } else if let Some(ch) = value.chars().find(|c| c.is_control()) {
        Rule::ControlCharacter { ch }
    } else {
        return Ok(());
    };
    Err(Error::invalid(kind, value, rule))
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use arrow_array::types::{DurationMillisecondType, Time32SecondType};
    use arrow_array::{
        BinaryViewArray, Date32Array, Date64Array, Decimal32Array, Decimal64Array, Decimal128Array,
        Decimal256Array, Float16Array, Float32Array, Float64Array, Int8Array, Int16Array,
        Int32Array, Int64Array, IntervalDayTimeArray, IntervalMonthDayNanoArray,
        IntervalYearMonthArray, LargeBinaryArray, NullArray, Time32MillisecondArray,
        Time64MicrosecondArray, Time64NanosecondArray, TimestampMillisecondArray,
        TimestampNanosecondArray, TimestampSecondArray, UInt8Array, UInt16Array, UInt32Array,
        UInt64Array,
    };
    use arrow_buffer::{IntervalDayTime, IntervalMonthDayNano};
    use arrow_schema::Field;
    use half::f16;

    use super::*;

    fn schema(fields: Vec<Field>) -> SchemaRef {
        Arc::new(Schema::new(fields))
    }

    fn batch(schema: &SchemaRef, columns: Vec<ArrayRef>) -> RecordBatch {
        RecordBatch::try_new(Arc::clone(schema), columns).unwrap()
    }

    /// One column, declared nullable, with the field type taken from the array.
    fn one(name: &str, array: ArrayRef) -> RecordBatch {
        let s = schema(vec![Field::new(name, array.data_type().clone(), true)]);
        batch(&s, vec![array])
    }

    fn digest_of<'a>(batches: impl IntoIterator<Item = &'a RecordBatch>) -> DatasetDigest {
        let batches: Vec<&RecordBatch> = batches.into_iter().collect();
        let mut d = DatasetDigester::new(batches[0].schema()).unwrap();
        for b in &batches {
            d.update(b).unwrap();
        }
        d.finish().0
    }

    fn digest1(name: &str, array: ArrayRef) -> DatasetDigest {
        digest_of([&one(name, array)])
    }

    /// The small table of the golden test, in the given number of batches.
    fn golden_table() -> (SchemaRef, Vec<ArrayRef>) {
        let s = schema(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("score", DataType::Float64, true),
            Field::new("city", DataType::Utf8, true),
            Field::new("ok", DataType::Boolean, true),
            Field::new("price", DataType::Decimal128(10, 2), true),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ),
        ]);
        // A negative NaN with a payload: canonicalised to 0x7FF8000000000000.
        let odd_nan = f64::from_bits(0xFFF8_0000_0000_0001);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(Float64Array::from(vec![Some(0.5), None, Some(odd_nan)])),
            Arc::new(StringArray::from(vec![Some("Oslo"), None, Some("Zürich")])),
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
            Arc::new(
                Decimal128Array::from(vec![Some(12345), Some(-1), None])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
            Arc::new(
                TimestampMillisecondArray::from(vec![Some(0), Some(1_700_000_000_000), None])
                    .with_timezone("UTC"),
            ),
        ];
        (s, columns)
    }

    /// Pins version 1. This Python, written from the [`DatasetDigest`] documentation alone,
    /// prints the same value; if this test fails, the algorithm changed and needs a new version tag.
    ///
    /// ```text
    /// import hashlib, struct
    /// u64 = lambda x: struct.pack('<Q', x)
    /// s = lambda x: u64(len(x.encode())) + x.encode()
    /// fields = [("id", "int64", 0), ("score", "float64", 1), ("city", "string", 1),
    ///           ("ok", "bool", 1), ("price", "decimal(10,2)", 1),
    ///           ("ts", "timestamp[ms, tz=UTC]", 1)]
    /// i256 = lambda v: v.to_bytes(32, 'little', signed=True)
    /// cols = [b''.join(b'\x01' + struct.pack('<q', v) for v in [1, 2, 3]),
    ///         b'\x01' + struct.pack('<d', 0.5) + b'\x00'
    ///             + b'\x01' + bytes.fromhex('000000000000f87f'),
    ///         b'\x01' + s('Oslo') + b'\x00' + b'\x01' + s('Zürich'),
    ///         b'\x01\x01' + b'\x01\x00' + b'\x00',
    ///         b'\x01' + i256(12345) + b'\x01' + i256(-1) + b'\x00',
    ///         b'\x01' + struct.pack('<q', 0)
    ///             + b'\x01' + struct.pack('<q', 1700000000000) + b'\x00']
    /// h = hashlib.sha256(b"mlops-dataset-digest-v1\0" + u64(6)
    ///     + b''.join(s(n) + s(t) + bytes([nl]) for n, t, nl in fields) + u64(3)
    ///     + b''.join(hashlib.sha256(c).digest() for c in cols))
    /// print(h.hexdigest()[:32])
    /// ```
    #[test]
    fn golden_digest_of_a_small_table() {
        let (s, columns) = golden_table();
        let whole = batch(&s, columns.clone());
        let r = DatasetRef::from_batches("golden", "memory://golden", Arc::clone(&s), [&whole])
            .unwrap();
        assert_eq!(r.digest().to_string(), "a3b1258d7ac0e7280c6a7e2721d43dfb");
        assert_eq!(r.rows(), 3);

        // The empty dataset with no columns.
        let (empty, rows) = DatasetDigester::new(Schema::empty()).unwrap().finish();
        assert_eq!(empty.to_string(), "66cc5aaed6e7cb27fbaa6a641e9deafd");
        assert_eq!(rows, 0);
    }

    #[test]
    fn batch_boundaries_do_not_matter() {
        let (s, columns) = golden_table();
        let whole = batch(&s, columns.clone());
        let want = digest_of([&whole]);
        let part = |offset, len| {
            let sliced = columns.iter().map(|c| c.slice(offset, len)).collect();
            batch(&s, sliced)
        };
        let splits = [
            vec![part(0, 1), part(1, 2)],
            vec![part(0, 2), part(2, 1)],
            vec![part(0, 1), part(1, 1), part(2, 1)],
            vec![part(0, 0), part(0, 3), part(3, 0)],
        ];
        for batches in &splits {
            assert_eq!(digest_of(batches), want);
        }
        // Rows are counted across batches.
        let mut d = DatasetDigester::new(Arc::clone(&s)).unwrap();
        for b in &splits[2] {
            d.update(b).unwrap();
        }
        assert_eq!(d.rows(), 3);
        assert_eq!(d.finish(), (want, 3));
    }

    #[test]
    fn sliced_arrays_hash_like_fresh_ones() {
        let parent = Int32Array::from(vec![Some(9), None, Some(1), None, Some(2), Some(9)]);
        let fresh = Int32Array::from(vec![Some(1), None, Some(2)]);
        assert_eq!(
            digest1("x", Arc::new(parent.slice(2, 3))),
            digest1("x", Arc::new(fresh))
        );
        let parent = StringArray::from(vec![Some("zz"), Some("a"), None, Some("bc"), None]);
        let fresh = StringArray::from(vec![Some("a"), None, Some("bc")]);
        assert_eq!(
            digest1("s", Arc::new(parent.slice(1, 3))),
            digest1("s", Arc::new(fresh))
        );
        let parent = BooleanArray::from(vec![Some(false), Some(true), None, Some(false)]);
        let fresh = BooleanArray::from(vec![Some(true), None, Some(false)]);
        assert_eq!(
            digest1("b", Arc::new(parent.slice(1, 3))),
            digest1("b", Arc::new(fresh))
        );
    }

    #[test]
    fn encodings_of_the_same_strings_agree() {
        let values = vec![Some("red"), None, Some("green"), Some("red"), Some("")];
        let plain = digest1("c", Arc::new(StringArray::from(values.clone())));
        let large = digest1("c", Arc::new(LargeStringArray::from(values.clone())));
        let view = digest1("c", Arc::new(StringViewArray::from(values.clone())));
        let dict: DictionaryArray<Int32Type> = values.iter().copied().collect();
        let dict = digest1("c", Arc::new(dict));
        // A null row through a null *value* rather than a null key; an unused entry.
        let dict_values: ArrayRef = Arc::new(StringArray::from(vec![
            Some("unused"),
            Some("red"),
            None,
            Some("green"),
            Some(""),
        ]));
        let keys = UInt8Array::from(vec![1, 2, 3, 1, 4]);
        let by_value = DictionaryArray::<UInt8Type>::try_new(keys, dict_values).unwrap();
        let by_value = digest1("c", Arc::new(by_value));
        let view_dict = DictionaryArray::<Int8Type>::try_new(
            Int8Array::from(vec![Some(0), None, Some(1), Some(0), Some(2)]),
            Arc::new(StringViewArray::from(vec!["red", "green", ""])),
        )
        .unwrap();
        let view_dict = digest1("c", Arc::new(view_dict));
        for other in [large, view, dict, by_value, view_dict] {
            assert_eq!(other, plain);
        }

        let bytes: Vec<Option<&[u8]>> = vec![Some(b"\x00\x01"), None, Some(b"")];
        let binary = digest1("b", Arc::new(BinaryArray::from(bytes.clone())));
        let large = digest1("b", Arc::new(LargeBinaryArray::from(bytes.clone())));
        let view = digest1("b", Arc::new(BinaryViewArray::from(bytes)));
        assert_eq!(binary, large);
        assert_eq!(binary, view);
    }

    #[test]
    fn decimal_widths_with_the_same_type_agree() {
        let d32 = Decimal32Array::from(vec![Some(-5), None, Some(12345)])
            .with_precision_and_scale(9, 2)
            .unwrap();
        let d64 = Decimal64Array::from(vec![Some(-5), None, Some(12345)])
            .with_precision_and_scale(9, 2)
            .unwrap();
        let d128 = Decimal128Array::from(vec![Some(-5), None, Some(12345)])
            .with_precision_and_scale(9, 2)
            .unwrap();
        let d256 = Decimal256Array::from(vec![
            Some(i256::from_i128(-5)),
            None,
            Some(i256::from_i128(12345)),
        ])
        .with_precision_and_scale(9, 2)
        .unwrap();
        let want = digest1("d", Arc::new(d32));
        assert_eq!(digest1("d", Arc::new(d64)), want);
        assert_eq!(digest1("d", Arc::new(d128.clone())), want);
        assert_eq!(digest1("d", Arc::new(d256)), want);
        // A different scale is a different type.
        let rescaled = d128.with_precision_and_scale(9, 3).unwrap();
        assert_ne!(digest1("d", Arc::new(rescaled)), want);
    }

    #[test]
    fn dictionaries_shared_across_batches_are_reused_correctly() {
        let s = schema(vec![Field::new(
            "c",
            DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8)),
            true,
        )]);
        let shared: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c"]));
        let dict = |keys: Vec<Option<i16>>, values: &ArrayRef| -> RecordBatch {
            let d = DictionaryArray::<Int16Type>::try_new(keys.into(), Arc::clone(values));
            batch(&s, vec![Arc::new(d.unwrap())])
        };
        let other: ArrayRef = Arc::new(StringArray::from(vec!["c", "a"]));
        let batches = [
            dict(vec![Some(0), Some(1)], &shared),
            dict(vec![None, Some(2)], &shared),
            dict(vec![Some(1), Some(0)], &other), // "a", "c"
            dict(vec![Some(0)], &shared),
        ];
        let plain = one(
            "c",
            Arc::new(StringArray::from(vec![
                Some("a"),
                Some("b"),
                None,
                Some("c"),
                Some("a"),
                Some("c"),
                Some("a"),
            ])),
        );
        assert_eq!(digest_of(&batches), digest_of([&plain]));
    }

    #[test]
    fn nan_payloads_agree_but_signed_zeros_differ() {
        let nan = |bits: u64| {
            digest1(
                "f",
                Arc::new(Float64Array::from(vec![f64::from_bits(bits)])),
            )
        };
        assert_eq!(nan(0x7FF8_0000_0000_0000), nan(0xFFF8_0000_0000_0000));
        assert_eq!(nan(0x7FF8_0000_0000_0000), nan(0x7FF0_0000_0000_0001));
        let nan32 = |bits: u32| {
            digest1(
                "f",
                Arc::new(Float32Array::from(vec![f32::from_bits(bits)])),
            )
        };
        assert_eq!(nan32(0x7FC0_0000), nan32(0xFFC0_0001));
        let nan16 = |bits: u16| {
            digest1(
                "f",
                Arc::new(Float16Array::from(vec![f16::from_bits(bits)])),
            )
        };
        assert_eq!(nan16(0x7E00), nan16(0xFE01));
        let zero = |z: f64| digest1("f", Arc::new(Float64Array::from(vec![z])));
        assert_ne!(zero(0.0), zero(-0.0));
    }

    #[test]
    fn every_single_value_change_changes_the_digest() {
        let s = schema(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]);
        let base_n = vec![Some(1), Some(2), None, Some(4)];
        let base_s = vec![Some("a"), None, Some("bc"), Some("")];
        let make = |n: &[Option<i64>], t: &[Option<&str>]| {
            batch(
                &s,
                vec![
                    Arc::new(Int64Array::from(n.to_vec())),
                    Arc::new(StringArray::from(t.to_vec())),
                ],
            )
        };
        let mut seen = HashSet::new();
        assert!(seen.insert(digest_of([&make(&base_n, &base_s)])));
        for row in 0..4 {
            for new in [Some(0), Some(-1), None, Some(1 << 40)] {
                let mut n = base_n.clone();
                if n[row] == new {
                    continue;
                }
                n[row] = new;
                assert!(
                    seen.insert(digest_of([&make(&n, &base_s)])),
                    "n[{row}] = {new:?}"
                );
            }
            for new in [Some("x"), None, Some("a "), Some("")] {
                let mut t = base_s.clone();
                if t[row] == new {
                    continue;
                }
                t[row] = new;
                assert!(
                    seen.insert(digest_of([&make(&base_n, &t)])),
                    "s[{row}] = {new:?}"
                );
            }
        }
        // A null moving, and bytes moving between adjacent strings.
        let moved = [None, Some(1), Some(1)];
        assert_ne!(
            digest1(
                "n",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(1)]))
            ),
            digest1("n", Arc::new(Int64Array::from(moved.to_vec())))
        );
        assert_ne!(
            digest1("s", Arc::new(StringArray::from(vec!["ab", "c"]))),
            digest1("s", Arc::new(StringArray::from(vec!["a", "bc"])))
        );
        // Appending a row.
        assert_ne!(
            digest1("n", Arc::new(Int64Array::from(vec![1]))),
            digest1("n", Arc::new(Int64Array::from(vec![1, 1])))
        );
    }

    #[test]
    fn schema_changes_change_the_digest() {
        let ints = || -> ArrayRef { Arc::new(Int64Array::from(vec![1, 2])) };
        let base = digest1("x", ints());
        assert_ne!(digest1("y", ints()), base, "renamed");
        assert_ne!(
            digest1("x", Arc::new(Int32Array::from(vec![1, 2]))),
            base,
            "int32"
        );
        assert_ne!(
            digest1("x", Arc::new(UInt64Array::from(vec![1, 2]))),
            base,
            "uint64"
        );
        assert_ne!(
            digest1("x", Arc::new(Date64Array::from(vec![1, 2]))),
            base,
            "date64"
        );
        let non_null = schema(vec![Field::new("x", DataType::Int64, false)]);
        assert_ne!(
            digest_of([&batch(&non_null, vec![ints()])]),
            base,
            "nullability"
        );
        let ts = |tz: Option<&str>| {
            let a = TimestampSecondArray::from(vec![1, 2]).with_timezone_opt(tz);
            digest1("x", Arc::new(a))
        };
        let distinct: HashSet<_> = [base, ts(None), ts(Some("UTC")), ts(Some("+00:00"))].into();
        assert_eq!(distinct.len(), 4, "time zones");
        let units = [
            digest1("x", Arc::new(TimestampMillisecondArray::from(vec![1, 2]))),
            digest1("x", Arc::new(TimestampNanosecondArray::from(vec![1, 2]))),
            digest1(
                "x",
                Arc::new(PrimitiveArray::<DurationMillisecondType>::from(vec![1, 2])),
            ),
            digest1("x", Arc::new(Time64MicrosecondArray::from(vec![1, 2]))),
            digest1("x", Arc::new(Time64NanosecondArray::from(vec![1, 2]))),
        ];
        assert_eq!(units.iter().collect::<HashSet<_>>().len(), units.len());
        assert!(!units.contains(&base));

        // Column order.
        let a = schema(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, true),
        ]);
        let b = schema(vec![
            Field::new("b", DataType::Int64, true),
            Field::new("a", DataType::Int64, true),
        ]);
        assert_ne!(
            digest_of([&batch(&a, vec![ints(), ints()])]),
            digest_of([&batch(&b, vec![ints(), ints()])])
        );
        // Metadata is not hashed.
        let meta: HashMap<String, String> = [("k".to_owned(), "v".to_owned())].into();
        let with_meta = Arc::new(
            Schema::new(vec![
                Field::new("x", DataType::Int64, true).with_metadata(meta.clone()),
            ])
            .with_metadata(meta),
        );
        assert_eq!(digest_of([&batch(&with_meta, vec![ints()])]), base);
    }

    #[test]
    fn every_supported_type_digests() {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(NullArray::new(2)),
            Arc::new(BooleanArray::from(vec![Some(true), None])),
            Arc::new(Int8Array::from(vec![Some(-1), None])),
            Arc::new(Int16Array::from(vec![Some(-1), None])),
            Arc::new(Int32Array::from(vec![Some(-1), None])),
            Arc::new(Int64Array::from(vec![Some(-1), None])),
            Arc::new(UInt8Array::from(vec![Some(1), None])),
            Arc::new(UInt16Array::from(vec![Some(1), None])),
            Arc::new(UInt32Array::from(vec![Some(1), None])),
            Arc::new(UInt64Array::from(vec![Some(1), None])),
            Arc::new(Float16Array::from(vec![Some(f16::ONE), None])),
            Arc::new(Float32Array::from(vec![Some(1.0), None])),
            Arc::new(Date32Array::from(vec![Some(1), None])),
            Arc::new(PrimitiveArray::<Time32SecondType>::from(vec![
                Some(1),
                None,
            ])),
            Arc::new(Time32MillisecondArray::from(vec![Some(1), None])),
            Arc::new(IntervalYearMonthArray::from(vec![Some(13), None])),
            Arc::new(IntervalDayTimeArray::from(vec![
                Some(IntervalDayTime::new(1, 2)),
                None,
            ])),
            Arc::new(IntervalMonthDayNanoArray::from(vec![
                Some(IntervalMonthDayNano::new(1, 2, 3)),
                None,
            ])),
            Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                    vec![Some(b"abcd".to_vec()), None].into_iter(),
                    4,
                )
                .unwrap(),
            ),
            Arc::new(BinaryArray::from(vec![Some(b"ab".as_ref()), None])),
        ];
        let fields: Vec<Field> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
            .collect();
        let texts: Vec<String> = fields
            .iter()
            .map(|f| type_text(f.data_type()).unwrap())
            .collect();
        assert_eq!(
            texts,
            [
                "null",
                "bool",
                "int8",
                "int16",
                "int32",
                "int64",
                "uint8",
                "uint16",
                "uint32",
                "uint64",
                "float16",
                "float32",
                "date32",
                "time32[s]",
                "time32[ms]",
                "interval[year_month]",
                "interval[day_time]",
                "interval[month_day_nano]",
                "fixed_size_binary[4]",
                "binary",
            ]
        );
        let s = schema(fields);
        let b = batch(&s, columns);
        let first = digest_of([&b]);
        // Stable, and batch boundaries do not matter for any of these types either.
        let halves = [b.slice(0, 1), b.slice(1, 1)];
        assert_eq!(digest_of(&halves), first);
        // Pinned; also checked against a Python implementation of the specification, as in
        // `golden_digest_of_a_small_table` (row 0 valid, row 1 null in every column).
        assert_eq!(first.to_string(), "cdb814465d16ae889e34b54bc0a8e679");

        // Interval fields are not interchangeable.
        let dt = |days, ms| {
            let a = IntervalDayTimeArray::from(vec![IntervalDayTime::new(days, ms)]);
            digest1("i", Arc::new(a))
        };
        assert_ne!(dt(1, 2), dt(2, 1));
    }

    #[test]
    fn nested_types_are_refused_by_name() {
        let list = DataType::List(Arc::new(Field::new("item", DataType::Int32, true)));
        let s = schema(vec![
            Field::new("ok", DataType::Int32, true),
            Field::new("tags", list.clone(), true),
        ]);
        match DatasetDigester::new(s).unwrap_err() {
            Error::UnsupportedColumn {
                column,
                data_type,
                expected,
            } => {
                assert_eq!(column, "tags");
                assert_eq!(data_type, list);
                assert_eq!(expected, "a primitive, string, binary or dictionary type");
            }
            other => panic!("{other:?}"),
        }
        let dict_of_list = DataType::Dictionary(Box::new(DataType::Int32), Box::new(list));
        assert!(type_text(&dict_of_list).is_none());
        assert!(type_text(&DataType::Time32(TimeUnit::Nanosecond)).is_none());
    }

    #[test]
    fn batches_must_match_the_declared_schema() {
        let declared = schema(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
        ]);
        let mut d = DatasetDigester::new(Arc::clone(&declared)).unwrap();
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![1]));
        let texts: ArrayRef = Arc::new(StringArray::from(vec!["x"]));
        let check =
            |d: &mut DatasetDigester, b: RecordBatch, needle: &str| match d.update(&b).unwrap_err()
            {
                Error::Arrow(ArrowError::SchemaError(text)) => {
                    assert!(text.contains(needle), "{text:?} lacks {needle:?}");
                }
                other => panic!("{other:?}"),
            };
        let only_a = schema(vec![Field::new("a", DataType::Int64, true)]);
        check(&mut d, batch(&only_a, vec![Arc::clone(&ints)]), "1 columns");
        let renamed = schema(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("B", DataType::Utf8, true),
        ]);
        check(
            &mut d,
            batch(&renamed, vec![Arc::clone(&ints), Arc::clone(&texts)]),
            "\"B\"",
        );
        let retyped = schema(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Utf8, true),
        ]);
        let i32s: ArrayRef = Arc::new(Int32Array::from(vec![1]));
        check(
            &mut d,
            batch(&retyped, vec![i32s, Arc::clone(&texts)]),
            "Int32",
        );
        let non_null = schema(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Utf8, true),
        ]);
        check(
            &mut d,
            batch(&non_null, vec![Arc::clone(&ints), Arc::clone(&texts)]),
            "non-nullable",
        );
        assert_eq!(d.rows(), 0, "refused batches change nothing");

        // The same logical type in another encoding is accepted, with the same digest.
        let viewed = schema(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8View, true),
        ]);
        let view: ArrayRef = Arc::new(StringViewArray::from(vec!["x"]));
        d.update(&batch(&viewed, vec![Arc::clone(&ints), view]))
            .unwrap();
        let plain = batch(&declared, vec![ints, texts]);
        assert_eq!(d.finish().0, digest_of([&plain]));
    }

    #[test]
    fn dataset_ref_getters_and_serde_round_trip() {
        let (s, columns) = golden_table();
        let whole = batch(&s, columns);
        let r = DatasetRef::from_batches(
            "golden",
            "s3://bucket/golden.parquet",
            s.as_ref().clone(),
            [&whole],
        )
        .unwrap();
        assert_eq!(r.name(), "golden");
        assert_eq!(r.source(), "s3://bucket/golden.parquet");
        assert_eq!(r.schema(), &s);
        assert_eq!(r.rows(), 3);
        let json = serde_json::to_string(&r).unwrap();
        assert!(
            json.starts_with(r#"{"name":"golden","digest":"a3b1258d7ac0e7280c6a7e2721d43dfb","#),
            "{json}"
        );
        let back: DatasetRef = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);

        let known = DatasetRef::new("n", "/data/x.csv", Schema::empty(), r.digest(), 7).unwrap();
        assert_eq!((known.digest(), known.rows()), (r.digest(), 7));

        // Deserialisation validates.
        let bad_name = json.replace(r#""name":"golden""#, r#""name":" golden""#);
        let err = serde_json::from_str::<DatasetRef>(&bad_name).unwrap_err();
        assert!(err.to_string().contains("dataset name"), "{err}");
        let bad_digest = json.replace("a3b1258d", "A3B1258D");
        let err = serde_json::from_str::<DatasetRef>(&bad_digest).unwrap_err();
        assert!(err.to_string().contains("dataset digest"), "{err}");
        let bad_source = json.replace("s3://bucket", "s3://bu\\u0000cket");
        assert!(serde_json::from_str::<DatasetRef>(&bad_source).is_err());
    }

    #[test]
    fn digests_parse_display_and_serde_as_hex() {
        let text = "00ff10a3b1258d7ac0e7280c6a7e2721";
        let d: DatasetDigest = text.parse().unwrap();
        assert_eq!(d.to_string(), text);
        assert_eq!(d.as_bytes()[..3], [0x00, 0xff, 0x10]);
        assert_eq!(DatasetDigest::from_bytes(*d.as_bytes()), d);
        assert_eq!(format!("{d:?}"), format!("DatasetDigest({text})"));
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{text}\""));
        assert_eq!(
            serde_json::from_str::<DatasetDigest>(&format!("\"{text}\"")).unwrap(),
            d
        );
        for bad in [
            "",
            "00FF10A3B1258D7AC0E7280C6A7E2721",
            "00ff10a3b1258d7ac0e7280c6a7e272",
            "00ff10a3b1258d7ac0e7280c6a7e27210",
            "00ff10a3b1258d7ac0e7280c6a7e272g",
            "0x00ff10a3b1258d7ac0e7280c6a7e27",
            " 0ff10a3b1258d7ac0e7280c6a7e2721",
            "éééééééééééééééé",
            "a3b1258d7ac0e7280c6a7e2721d43dfb00000000000000000000000000000000",
        ] {
            let err = bad.parse::<DatasetDigest>().unwrap_err();
            assert!(
                matches!(&err, Error::Invalid { kind: "dataset digest", value, rule }
                    if value == bad && matches!(rule, Rule::Format { .. })),
                "{bad:?}: {err:?}"
            );
        }
        assert!(serde_json::from_str::<DatasetDigest>("\"abc\"").is_err());
        assert!(serde_json::from_str::<DatasetDigest>("42").is_err());
    }

    #[test]
    fn invalid_names_and_sources_are_refused() {
        let d = DatasetDigest::from_bytes([0; 16]);
        let rule = |name: &str, source: &str| {
            let err = DatasetRef::new(name, source, Schema::empty(), d, 0).unwrap_err();
            match err {
                Error::Invalid { kind, rule, .. } => (kind, rule),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(rule("", "s"), ("dataset name", Rule::Empty));
        let long = "n".repeat(501);
        assert_eq!(
            rule(&long, "s"),
            (
                "dataset name",
                Rule::TooLong {
                    max: 500,
                    len: 501,
                    unit: "bytes"
                }
            )
        );
        assert!(DatasetRef::new("n".repeat(500), "s", Schema::empty(), d, 0).is_ok());
        assert_eq!(
            rule("a\nb", "s"),
            ("dataset name", Rule::ControlCharacter { ch: '\n' })
        );
        assert_eq!(
            rule("a\u{85}", "s"),
            ("dataset name", Rule::ControlCharacter { ch: '\u{85}' })
        );
        assert_eq!(
            rule(" a", "s"),
            ("dataset name", Rule::SurroundingWhitespace)
        );
        assert_eq!(
            rule("a\u{3000}", "s"),
            ("dataset name", Rule::SurroundingWhitespace)
        );
        assert_eq!(rule("a", ""), ("dataset source", Rule::Empty));
        let long = "s".repeat(8001);
        assert_eq!(
            rule("a", &long),
            (
                "dataset source",
                Rule::TooLong {
                    max: 8000,
                    len: 8001,
                    unit: "bytes"
                }
            )
        );
        assert_eq!(
            rule("a", "x\u{0}"),
            ("dataset source", Rule::ControlCharacter { ch: '\0' })
        );
        // Inner spaces and non-ASCII are fine; sources may have surrounding spaces (paths can).
        assert!(
            DatasetRef::new(
                "Iris — train split",
                " /data/ä b.csv ",
                Schema::empty(),
                d,
                0
            )
            .is_ok()
        );

        // from_batches checks the name before reading any data.
        let s = schema(vec![Field::new("x", DataType::Int64, true)]);
        let wrong = one("y", Arc::new(Int64Array::from(vec![1])));
        let err = DatasetRef::from_batches("", "s", s, [&wrong]).unwrap_err();
        assert_eq!(err.rule(), Some(&Rule::Empty));
    }
}
