//! [`DatasetDigest`]: the 128-bit digest of a dataset's data, and the specification of the
//! algorithm that computes it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result, Rule};

/// The digest of a dataset's data: the first 128 bits of the SHA-256 specified below, shown
/// as 32 lowercase hex digits (MLflow caps a dataset digest at 36 characters).
///
/// Parses (with [`FromStr`]), displays and (de)serialises as that hex string; parsing accepts
/// exactly `^[0-9a-f]{32}$`. Compute one with [`DatasetDigester`](crate::DatasetDigester) or
/// [`DatasetRef::from_batches`](crate::DatasetRef::from_batches).
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
