//! The drift history on a store: each closed window appended as its report's Arrow rows in
//! Parquet (with the window's id, start, end and rows), its JSON and its HTML page, under
//! Hive-style partitions that DuckDB, pandas and Spark read as they are
//! (`pandas.read_parquet("<root>/rows")`, DuckDB's
//! `read_parquet('<root>/rows/**/*.parquet', hive_partitioning = true)`):
//!
//! ```text
//! <root>/rows/model=<name>/version=<version>/date=<YYYY-MM-DD>/<window id>.parquet
//! <root>/reports/model=<name>/version=<version>/date=<YYYY-MM-DD>/<window id>.json
//!                                                               /<window id>.html
//! ```
//!
//! Every object is written whole, create-if-absent (a window id is never reused); the
//! Parquet file goes last, so a window that [`History::list`] sees has its JSON and HTML.
//! The partition values are not repeated inside the files (Hive readers add them from the
//! path; a duplicate column would conflict).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampMillisecondType, UInt64Type};
use arrow_array::{ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use bytes::Bytes;
use futures::TryStreamExt;
use mlops_core::{ArtifactPath, StoreRoot, Timestamp, put_if_absent};
use mlops_drift::DriftReport;
use object_store::ObjectStoreExt;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};

use crate::capture::WindowSink;
use crate::error::{MonitorError, Result};
use crate::window::{VersionKey, WindowReport};

/// The folder of the Parquet rows.
const ROWS: &str = "rows";

/// The folder of the JSON and HTML reports.
const REPORTS: &str = "reports";

/// The largest history Parquet file read back.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// Where a window's files went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryLocation {
    /// The Parquet rows.
    pub parquet: String,
    /// The JSON report.
    pub json: String,
    /// The HTML page.
    pub html: String,
}

/// One window as the history lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryRow {
    /// The model.
    pub model: String,
    /// The version.
    pub version: String,
    /// The window id.
    pub window: String,
    /// The time of its first row.
    pub start: Timestamp,
    /// The time of its last row.
    pub end: Timestamp,
    /// Its rows.
    pub rows: u64,
    /// The share of drifted features.
    pub share_drifted: f64,
    /// The dataset verdict.
    pub dataset_drift: bool,
    /// The drifted features, in report order.
    pub drifted_features: Vec<String>,
    /// The Parquet file.
    pub location: String,
}

/// A drift history under a store root (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct History {
    root: StoreRoot,
}

impl History {
    /// The history under `root`.
    pub fn new(root: StoreRoot) -> Self {
        Self { root }
    }

    fn folder(tree: &str, key: &VersionKey, date: &str) -> Result<ArtifactPath> {
        let version = if key.version.is_empty() {
            "none"
        } else {
            key.version.as_str()
        };
        Ok(ArtifactPath::from_segments([
            tree.to_owned(),
            format!("model={}", key.model),
            format!("version={version}"),
            format!("date={date}"),
        ])?)
    }

    /// Appends one window (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// A model or version that cannot be a path segment, a store error, or an encoding error.
    pub async fn append(&self, window: &WindowReport) -> Result<HistoryLocation> {
        let date = window.start.to_datetime().format("%Y-%m-%d").to_string();
        let rows = Self::folder(ROWS, &window.key, &date)?;
        let reports = Self::folder(REPORTS, &window.key, &date)?;
        let file = |folder: &ArtifactPath, ext: &str| -> Result<ArtifactPath> {
            Ok(folder.join(&ArtifactPath::parse(format!("{}.{ext}", window.id))?)?)
        };
        let (json, html) = (file(&reports, "json")?, file(&reports, "html")?);
        let parquet = file(&rows, "parquet")?;
        let title = format!(
            "Drift: {} v{} window {} ({} rows)",
            window.key.model, window.key.version, window.id, window.rows
        );
        let parquet_bytes = to_parquet(window)?;
        for (path, bytes) in [
            (&json, Bytes::from(window.report.to_json() + "\n")),
            (&html, Bytes::from(window.report.to_html(&title))),
            (&parquet, parquet_bytes),
        ] {
            let key = self.root.key(path);
            put_if_absent(self.root.store().as_ref(), &key, bytes)
                .await
                .map_err(|e| MonitorError::store(&key, e))?;
        }
        Ok(HistoryLocation {
            parquet: self.root.key(&parquet).to_string(),
            json: self.root.key(&json).to_string(),
            html: self.root.key(&html).to_string(),
        })
    }

    /// The windows of `model` (every version), oldest first, from `since` on.
    ///
    /// # Errors
    ///
    /// A store error, or a history file that is not one (naming it).
    pub async fn list(&self, model: &str, since: Option<Timestamp>) -> Result<Vec<HistoryRow>> {
        let folder = ArtifactPath::from_segments([ROWS.to_owned(), format!("model={model}")])?;
        let prefix = self.root.key(&folder);
        let since_date = since.map(|t| t.to_datetime().format("%Y-%m-%d").to_string());
        let objects: Vec<object_store::ObjectMeta> = self
            .root
            .store()
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| MonitorError::store(&prefix, e))?;
        let mut rows = Vec::new();
        for meta in objects {
            let key = meta.location.to_string();
            if !key.ends_with(".parquet") {
                continue;
            }
            let mut parts = meta.location.parts().map(|p| p.as_ref().to_owned());
            let partition = |name: &str, part: Option<String>| {
                part.and_then(|p| p.strip_prefix(&format!("{name}=")).map(str::to_owned))
            };
            // .../model=M/version=V/date=D/file
            let tail: Vec<String> = parts.by_ref().collect();
            let n = tail.len();
            if n < 4 {
                continue;
            }
            let version = partition("version", tail.get(n - 3).cloned());
            let date = partition("date", tail.get(n - 2).cloned());
            let (Some(version), Some(date)) = (version, date) else {
                continue;
            };
            if since_date.as_ref().is_some_and(|s| date < *s) {
                continue;
            }
            if meta.size > MAX_FILE_BYTES {
                return Err(MonitorError::Corrupt {
                    key,
                    reason: format!("{} bytes, over the limit of {MAX_FILE_BYTES}", meta.size),
                });
            }
            let bytes = self
                .root
                .store()
                .get(&meta.location)
                .await
                .map_err(|e| MonitorError::store(&meta.location, e))?
                .bytes()
                .await
                .map_err(|e| MonitorError::store(&meta.location, e))?;
            let row = read_row(model, &version, &key, bytes)?;
            if since.is_none_or(|s| row.start >= s) {
                rows.push(row);
            }
        }
        rows.sort_by(|a, b| (a.start, &a.window).cmp(&(b.start, &b.window)));
        Ok(rows)
    }
}

#[async_trait::async_trait]
impl WindowSink for History {
    async fn window(&self, window: &WindowReport) -> Result<()> {
        self.append(window).await.map(|_| ())
    }
}

/// The window's columns added to the report's rows.
fn window_fields() -> [Field; 4] {
    [
        Field::new("window_id", DataType::Utf8, false),
        Field::new(
            "window_start",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new(
            "window_end",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("window_rows", DataType::UInt64, false),
    ]
}

/// The report's rows with the window's columns appended, as one Parquet file.
fn to_parquet(window: &WindowReport) -> Result<Bytes> {
    let report = window.report.to_record_batch()?;
    let n = report.num_rows();
    let mut fields: Vec<Field> = report
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend(window_fields());
    let mut columns: Vec<ArrayRef> = report.columns().to_vec();
    let time = |t: Timestamp| {
        Arc::new(TimestampMillisecondArray::from(vec![t.as_millis(); n]).with_timezone("UTC"))
            as ArrayRef
    };
    columns.push(Arc::new(StringArray::from(vec![window.id.as_str(); n])));
    columns.push(time(window.start));
    columns.push(time(window.end));
    columns.push(Arc::new(UInt64Array::from(vec![window.rows; n])));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| MonitorError::encode("history rows", e))?;
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), None)
        .map_err(|e| MonitorError::encode("history Parquet", e))?;
    writer
        .write(&batch)
        .and_then(|()| writer.close().map(|_| ()))
        .map_err(|e| MonitorError::encode("history Parquet", e))?;
    Ok(Bytes::from(out))
}

/// One window's summary from its Parquet rows.
fn read_row(model: &str, version: &str, key: &str, bytes: Bytes) -> Result<HistoryRow> {
    let corrupt = |reason: String| MonitorError::Corrupt {
        key: key.to_owned(),
        reason,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.build())
        .map_err(|e| corrupt(e.to_string()))?;
    let mut row: Option<HistoryRow> = None;
    for batch in reader {
        let batch = batch.map_err(|e| corrupt(e.to_string()))?;
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| corrupt(format!("no column {name:?}")))
        };
        let names = column("column")?;
        let names = names
            .as_string_opt::<i32>()
            .ok_or_else(|| corrupt("column \"column\" is not text".into()))?;
        let deciding = column("deciding")?;
        let deciding = deciding
            .as_boolean_opt()
            .ok_or_else(|| corrupt("column \"deciding\" is not boolean".into()))?;
        let drifted = column("drifted")?;
        let drifted = drifted
            .as_boolean_opt()
            .ok_or_else(|| corrupt("column \"drifted\" is not boolean".into()))?;
        let share = column("share_drifted")?;
        let share = share
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| corrupt("share_drifted is not Float64".into()))?;
        let dataset = column("dataset_drift")?;
        let dataset = dataset
            .as_boolean_opt()
            .ok_or_else(|| corrupt("dataset_drift is not boolean".into()))?;
        let ids = column("window_id")?;
        let ids = ids
            .as_string_opt::<i32>()
            .ok_or_else(|| corrupt("window_id is not text".into()))?;
        let start = column("window_start")?;
        let start = start
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or_else(|| corrupt("window_start is not a timestamp".into()))?;
        let end = column("window_end")?;
        let end = end
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or_else(|| corrupt("window_end is not a timestamp".into()))?;
        let count = column("window_rows")?;
        let count = count
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(|| corrupt("window_rows is not UInt64".into()))?;
        for i in 0..batch.num_rows() {
            let summary = match &mut row {
                Some(summary) => summary,
                None => row.insert(HistoryRow {
                    model: model.to_owned(),
                    version: version.to_owned(),
                    window: ids.value(i).to_owned(),
                    start: Timestamp::from_millis(start.value(i))?,
                    end: Timestamp::from_millis(end.value(i))?,
                    rows: count.value(i),
                    share_drifted: share.value(i),
                    dataset_drift: dataset.value(i),
                    drifted_features: Vec::new(),
                    location: key.to_owned(),
                }),
            };
            if deciding.value(i) && drifted.value(i) {
                summary.drifted_features.push(names.value(i).to_owned());
            }
        }
    }
    row.ok_or_else(|| corrupt("no rows".into()))
}

/// The report of a window from its JSON file.
///
/// # Errors
///
/// [`MonitorError::Corrupt`] when it is not a report.
pub fn report_from_json(key: &str, text: &str) -> Result<DriftReport> {
    DriftReport::from_json(text).map_err(|e| MonitorError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}
