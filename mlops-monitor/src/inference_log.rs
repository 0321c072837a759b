//! The inference log: every observed request's rows (request id, time, inputs, outputs) as
//! Parquet files on a store, rolled by rows, bytes and age, each written whole
//! (create-if-absent), with bounded memory; the capture worker appends, so requests never
//! wait on it.
//!
//! ```text
//! <root>/model=<name>/version=<version>/date=<YYYY-MM-DD>/<uuid v7>.parquet
//! ```
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `id` | Utf8 | the row's id, to join labels on: the request id for a one-row request, `<request id>:<row>` otherwise |
//! | `request_id` | Utf8 | the OIP request `id`, or a generated UUID v7 when it had none |
//! | `row` | UInt64 | the row's index in its request |
//! | `time` | Timestamp(ms, UTC) | when the request arrived |
//! | `in.<tensor>` / `in.<tensor>[j]` | per datatype | input values (`[j]`: column j of a `[-1, k]` tensor) |
//! | `out.<tensor>` / `out.<tensor>[j]` | per datatype | output values |
//!
//! Tensors of rank 3 or more are not logged. Model and version are the partitions. The log
//! takes the requests the capture samples (`--monitor-sample`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use futures::TryStreamExt;
use mlops_core::{ArtifactPath, StoreRoot, Timestamp, put_if_absent};
use mlops_serve::Tensor;
use object_store::ObjectStoreExt;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{MonitorError, Result};
use crate::features::column_array;
use crate::window::VersionKey;

/// The largest log file read back.
const MAX_FILE_BYTES: u64 = 256 << 20;

/// When a log file is rolled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogOptions {
    /// Rows per file at most.
    pub max_rows: usize,
    /// In-memory bytes per model version at most (Arrow buffers).
    pub max_bytes: usize,
    /// Age of the oldest buffered row at most.
    pub max_age: Duration,
}

impl Default for LogOptions {
    /// 50 000 rows, 32 MiB, 60 s.
    fn default() -> Self {
        Self {
            max_rows: 50_000,
            max_bytes: 32 << 20,
            max_age: Duration::from_secs(60),
        }
    }
}

/// A rolled file, encoded, to store with [`InferenceLog::store`].
#[derive(Clone, Debug)]
pub struct LogFile {
    path: ArtifactPath,
    bytes: Bytes,
    rows: usize,
}

impl LogFile {
    /// Rows in it.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

#[derive(Debug)]
struct Buffer {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    rows: usize,
    bytes: usize,
    oldest: Timestamp,
}

/// The inference log's writer (see the [module docs](self)).
#[derive(Debug)]
pub struct InferenceLog {
    root: StoreRoot,
    options: LogOptions,
    buffers: HashMap<VersionKey, Buffer>,
}

impl InferenceLog {
    /// A log under `root`.
    pub fn new(root: StoreRoot, options: LogOptions) -> Self {
        Self {
            root,
            options,
            buffers: HashMap::new(),
        }
    }

    /// Buffers one request's rows; returns the files this rolled.
    ///
    /// # Errors
    ///
    /// Tensors that disagree on rows, or an encoding error.
    pub fn append(
        &mut self,
        key: &VersionKey,
        request_id: Option<&str>,
        time: Timestamp,
        inputs: &[Tensor],
        outputs: &[Tensor],
    ) -> Result<Vec<LogFile>> {
        let batch = rows_of(request_id, time, inputs, outputs)?;
        if batch.num_rows() == 0 {
            return Ok(Vec::new());
        }
        let mut rolled = Vec::new();
        // A changed schema (a `[-1, -1]` tensor of another width) starts a new file.
        if self
            .buffers
            .get(key)
            .is_some_and(|b| b.schema != batch.schema())
        {
            rolled.extend(self.roll(key)?);
        }
        let buffer = self.buffers.entry(key.clone()).or_insert_with(|| Buffer {
            schema: batch.schema(),
            batches: Vec::new(),
            rows: 0,
            bytes: 0,
            oldest: time,
        });
        buffer.rows += batch.num_rows();
        buffer.bytes += batch.get_array_memory_size();
        buffer.batches.push(batch);
        if buffer.rows >= self.options.max_rows || buffer.bytes >= self.options.max_bytes {
            rolled.extend(self.roll(key)?);
        }
        Ok(rolled)
    }

    /// Rolls the buffers whose oldest row is older than the age limit at `now`.
    ///
    /// # Errors
    ///
    /// An encoding error.
    pub fn tick(&mut self, now: Timestamp) -> Result<Vec<LogFile>> {
        let max = i64::try_from(self.options.max_age.as_millis()).unwrap_or(i64::MAX);
        let due: Vec<VersionKey> = self
            .buffers
            .iter()
            .filter(|(_, b)| now.as_millis().saturating_sub(b.oldest.as_millis()) >= max)
            .map(|(k, _)| k.clone())
            .collect();
        let mut rolled = Vec::new();
        for key in due {
            rolled.extend(self.roll(&key)?);
        }
        Ok(rolled)
    }

    /// Rolls every buffer.
    ///
    /// # Errors
    ///
    /// An encoding error.
    pub fn close(&mut self) -> Result<Vec<LogFile>> {
        let keys: Vec<VersionKey> = self.buffers.keys().cloned().collect();
        let mut rolled = Vec::new();
        for key in keys {
            rolled.extend(self.roll(&key)?);
        }
        Ok(rolled)
    }

    fn roll(&mut self, key: &VersionKey) -> Result<Option<LogFile>> {
        let Some(buffer) = self.buffers.remove(key) else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(buffer.bytes / 2);
        let mut writer = ArrowWriter::try_new(&mut out, Arc::clone(&buffer.schema), None)
            .map_err(|e| MonitorError::encode("inference log", e))?;
        for batch in &buffer.batches {
            writer
                .write(batch)
                .map_err(|e| MonitorError::encode("inference log", e))?;
        }
        writer
            .close()
            .map_err(|e| MonitorError::encode("inference log", e))?;
        let version = if key.version.is_empty() {
            "none"
        } else {
            key.version.as_str()
        };
        let date = buffer.oldest.to_datetime().format("%Y-%m-%d");
        let path = ArtifactPath::from_segments([
            format!("model={}", key.model),
            format!("version={version}"),
            format!("date={date}"),
            format!("{}.parquet", uuid::Uuid::now_v7().simple()),
        ])?;
        Ok(Some(LogFile {
            path,
            bytes: Bytes::from(out),
            rows: buffer.rows,
        }))
    }

    /// Writes a rolled file; returns its key.
    ///
    /// # Errors
    ///
    /// A store error.
    pub async fn store(&self, file: LogFile) -> Result<String> {
        let key = self.root.key(&file.path);
        put_if_absent(self.root.store().as_ref(), &key, file.bytes)
            .await
            .map_err(|e| MonitorError::store(&key, e))?;
        Ok(key.to_string())
    }
}

/// One request's rows as a batch (see the [module docs](self) for the columns).
fn rows_of(
    request_id: Option<&str>,
    time: Timestamp,
    inputs: &[Tensor],
    outputs: &[Tensor],
) -> Result<RecordBatch> {
    let fail = |reason: String| MonitorError::InvalidArgument(format!("inference log: {reason}"));
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (prefix, tensors) in [("in", inputs), ("out", outputs)] {
        for tensor in tensors {
            let shape = tensor.data.shape();
            let columns: Vec<(String, Option<usize>)> = match shape {
                [_] => vec![(format!("{prefix}.{}", tensor.name), None)],
                [_, 1] => vec![(format!("{prefix}.{}", tensor.name), Some(0))],
                [_, k] => (0..*k)
                    .map(|j| (format!("{prefix}.{}[{j}]", tensor.name), Some(j)))
                    .collect(),
                _ => continue,
            };
            for (name, column) in columns {
                let array = column_array(&tensor.data, column)
                    .map_err(|e| fail(format!("tensor {:?}: {e}", tensor.name)))?;
                fields.push(Field::new(name, array.data_type().clone(), true));
                arrays.push(array);
            }
        }
    }
    let rows = arrays.first().map_or(0, |a| a.len());
    if let Some(bad) = arrays.iter().find(|a| a.len() != rows) {
        return Err(fail(format!("tensors of {rows} and {} rows", bad.len())));
    }
    let request = request_id.map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    let ids: Vec<String> = if rows == 1 {
        vec![request.clone()]
    } else {
        (0..rows).map(|r| format!("{request}:{r}")).collect()
    };
    let mut all_fields = vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("request_id", DataType::Utf8, false),
        Field::new("row", DataType::UInt64, false),
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
    ];
    all_fields.extend(fields);
    let mut all: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(ids)),
        Arc::new(StringArray::from(vec![request.as_str(); rows])),
        Arc::new(UInt64Array::from_iter_values(0..rows as u64)),
        Arc::new(
            TimestampMillisecondArray::from(vec![time.as_millis(); rows]).with_timezone("UTC"),
        ),
    ];
    all.extend(arrays);
    RecordBatch::try_new(Arc::new(Schema::new(all_fields)), all).map_err(|e| fail(e.to_string()))
}

/// Every logged batch of `model` (or of every model) under `root`, each with its model
/// version (from the partitions).
///
/// # Errors
///
/// A store error, or a file that is not a log file (naming it).
pub async fn read_log(
    root: &StoreRoot,
    model: Option<&str>,
) -> Result<Vec<(VersionKey, RecordBatch)>> {
    let prefix = match model {
        Some(model) => root.key(&ArtifactPath::from_segments([format!("model={model}")])?),
        None => root.prefix().clone(),
    };
    let objects: Vec<object_store::ObjectMeta> = root
        .store()
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| MonitorError::store(&prefix, e))?;
    let mut out = Vec::new();
    for meta in objects {
        let key = meta.location.to_string();
        if !key.ends_with(".parquet") {
            continue;
        }
        let parts: Vec<String> = meta
            .location
            .parts()
            .map(|p| p.as_ref().to_owned())
            .collect();
        let n = parts.len();
        let value = |i: usize, name: &str| {
            parts
                .get(i)
                .and_then(|p| p.strip_prefix(&format!("{name}=")))
                .map(str::to_owned)
        };
        let (Some(model), Some(version)) = (
            n.checked_sub(4).and_then(|i| value(i, "model")),
            n.checked_sub(3).and_then(|i| value(i, "version")),
        ) else {
            continue;
        };
        if meta.size > MAX_FILE_BYTES {
            return Err(MonitorError::Corrupt {
                key,
                reason: format!("{} bytes, over the limit of {MAX_FILE_BYTES}", meta.size),
            });
        }
        let bytes = root
            .store()
            .get(&meta.location)
            .await
            .map_err(|e| MonitorError::store(&meta.location, e))?
            .bytes()
            .await
            .map_err(|e| MonitorError::store(&meta.location, e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .and_then(|b| b.build())
            .map_err(|e| MonitorError::Corrupt {
                key: key.clone(),
                reason: e.to_string(),
            })?;
        let version = if version == "none" {
            String::new()
        } else {
            version
        };
        for batch in reader {
            let batch = batch.map_err(|e| MonitorError::Corrupt {
                key: key.clone(),
                reason: e.to_string(),
            })?;
            out.push((
                VersionKey {
                    model: model.clone(),
                    version: version.clone(),
                },
                batch,
            ));
        }
    }
    Ok(out)
}
