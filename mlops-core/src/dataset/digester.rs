//! [`DatasetDigester`]: the streaming computation of a [`DatasetDigest`], batch by batch,
//! one SHA-256 state per column; the schema's part of the hash and its type texts.

use std::fmt;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, IntervalUnit, Schema, SchemaRef, TimeUnit};
use sha2::{Digest, Sha256};

use super::digest::DatasetDigest;
use super::encode::{CHUNK_BYTES, SUPPORTED, Table, encode_column};
use crate::{Error, Result};

/// The first bytes hashed; a new algorithm gets a new tag.
const VERSION_TAG: &[u8] = b"mlops-dataset-digest-v1\0";

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
        (DatasetDigest::from_bytes(digest), self.rows)
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
pub(super) fn type_text(data_type: &DataType) -> Option<String> {
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
