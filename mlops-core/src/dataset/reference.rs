//! [`DatasetRef`]: a dataset a run read, with its validated name and source.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use serde::{Deserialize, Serialize, Serializer};

use super::digest::DatasetDigest;
use super::digester::DatasetDigester;
use crate::{Error, Result, Rule};

/// The longest dataset name, in bytes (MLflow's limit).
const MAX_NAME_BYTES: usize = 500;
/// The longest dataset source, in bytes.
const MAX_SOURCE_BYTES: usize = 8000;

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
