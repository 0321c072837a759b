//! Metric points: immutable segments, one per `log_batch` (`runs/<id>/metrics/<uuid7>.jsonl`),
//! compacted into Parquet files (`runs/<id>/metrics/<uuid7>.parquet`) that any Parquet engine
//! reads.
//!
//! A compaction writes the Parquet file first, then records it in the run's meta log (which
//! segments it covers, which earlier Parquet files it replaces, and the latest point of each
//! metric), and only then deletes what it covers. A crash between the steps leaves an orphan
//! Parquet file or segments that are both covered and present; readers go by the meta log and
//! de-duplicate points on (key, value, timestamp, step), so neither shows.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use mlops_core::{Metric, MetricKey, RunId, Timestamp};
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
    RowFilter,
};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::keys::new_metrics_name;
use super::records::{Compaction, RunOp, decode_segment, encode_segment};
use super::run_state::RunState;
use super::runs::Fresh;
use super::{Claim, Inner, limits, or_damage};

/// A compacted-metrics file, as errors name it.
const COMPACTED: &str = "a compacted-metrics file";
use crate::entities::latest_point;
use crate::error::{Result, TrackError};
use crate::store::MetricColumns;

/// The points of one segment, with the latest point of each metric in it.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) points: Vec<Metric>,
    pub(crate) latest: HashMap<String, Metric>,
}

impl Segment {
    pub(crate) fn new(points: Vec<Metric>) -> Self {
        let latest = latest_by_key(&points);
        Self { points, latest }
    }
}

fn latest_by_key(points: &[Metric]) -> HashMap<String, Metric> {
    let mut latest: HashMap<String, Metric> = HashMap::new();
    for point in points {
        match latest.get_mut(point.key.as_str()) {
            Some(best) => {
                if latest_point([&*best, point]).is_some_and(|p| std::ptr::eq(p, point)) {
                    *best = point.clone();
                }
            }
            None => {
                latest.insert(point.key.as_str().to_owned(), point.clone());
            }
        }
    }
    latest
}

/// What a compaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompactionReport {
    /// The Parquet file written, relative to the run's `metrics/` folder.
    pub file: String,
    /// Segments folded in.
    pub segments: usize,
    /// Earlier Parquet files merged in.
    pub replaced: usize,
    /// Points in the new file (after de-duplication).
    pub points: u64,
}

/// Identity of a point under MLflow's de-duplication rule (NaNs are all one value).
fn point_id(point: &Metric) -> (u64, i64, i64) {
    id_of(point.value, point.timestamp.as_millis(), point.step)
}

/// [`point_id`] from a point's parts (column reads have no `Metric`).
fn id_of(value: f64, timestamp: i64, step: i64) -> (u64, i64, i64) {
    let bits = if value.is_nan() {
        f64::NAN.to_bits()
    } else {
        value.to_bits()
    };
    (bits, timestamp, step)
}

/// Keeps the first of each (key, value, timestamp, step).
fn dedup(points: Vec<Metric>) -> Vec<Metric> {
    let keep: Vec<bool> = {
        let mut seen: HashSet<(&str, (u64, i64, i64))> = HashSet::with_capacity(points.len());
        points
            .iter()
            .map(|p| seen.insert((p.key.as_str(), point_id(p))))
            .collect()
    };
    points
        .into_iter()
        .zip(keep)
        .filter_map(|(point, keep)| keep.then_some(point))
        .collect()
}

/// The Arrow schema of the Parquet files (documented in `docs/FORMAT.md`).
fn parquet_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
        Field::new("timestamp", DataType::Int64, false),
        Field::new("step", DataType::Int64, false),
    ]))
}

/// Rows per Arrow batch and per row group when writing: a row group's key statistics let a
/// reader of one metric skip the groups that hold only other metrics.
const ROWS_PER_BATCH: usize = 64 * 1024;

/// Writes the points grouped by key (stably: each key's points stay in the order logged),
/// in row groups of [`ROWS_PER_BATCH`] rows with exact key statistics, so that reading one
/// metric's history decodes only the row groups that may hold it (see [`decode_parquet_key`]).
fn encode_parquet(points: &[Metric], run: &RunId) -> std::result::Result<Vec<u8>, String> {
    let mut sorted: Vec<&Metric> = points.iter().collect();
    sorted.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    let schema = parquet_schema();
    let column = |name: &str| ColumnPath::from(name);
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROWS_PER_BATCH))
        // Keys are at most 250 characters: keep their statistics whole.
        .set_statistics_truncate_length(None)
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        // Steps and times mostly grow by a constant: delta encoding stores them in a few bits
        // each and decodes fast; a dictionary of values rarely pays. (Any Parquet reader
        // reads these encodings; the key column keeps its dictionary.)
        .set_column_dictionary_enabled(column("value"), false)
        .set_column_dictionary_enabled(column("timestamp"), false)
        .set_column_dictionary_enabled(column("step"), false)
        .set_column_encoding(column("timestamp"), Encoding::DELTA_BINARY_PACKED)
        .set_column_encoding(column("step"), Encoding::DELTA_BINARY_PACKED)
        .set_key_value_metadata(Some(vec![
            KeyValue::new(
                "mlops.format".to_owned(),
                "mlops-track metrics v1".to_owned(),
            ),
            KeyValue::new("mlops.run_id".to_owned(), run.to_string()),
        ]))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, Arc::clone(&schema), Some(props))
        .map_err(|e| e.to_string())?;
    for chunk in sorted.chunks(ROWS_PER_BATCH) {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                chunk.iter().map(|p| p.key.as_str()),
            )),
            Arc::new(Float64Array::from_iter_values(
                chunk.iter().map(|p| p.value),
            )),
            Arc::new(Int64Array::from_iter_values(
                chunk.iter().map(|p| p.timestamp.as_millis()),
            )),
            Arc::new(Int64Array::from_iter_values(chunk.iter().map(|p| p.step))),
        ];
        let batch =
            RecordBatch::try_new(Arc::clone(&schema), columns).map_err(|e| e.to_string())?;
        writer.write(&batch).map_err(|e| e.to_string())?;
    }
    writer.close().map_err(|e| e.to_string())?;
    Ok(out)
}

fn decode_parquet(bytes: Bytes) -> std::result::Result<Vec<Metric>, String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    let mut keys: HashMap<String, MetricKey> = HashMap::new();
    let mut out = Vec::new();
    for batch in reader {
        batch_points(&batch.map_err(|e| e.to_string())?, &mut keys, &mut out)?;
    }
    Ok(out)
}

/// One metric's points of a compacted file, and what reading them cost.
#[derive(Debug, Default)]
pub(crate) struct KeyScan {
    pub(crate) points: MetricColumns,
    /// Row groups in the file.
    pub(crate) row_groups: usize,
    /// Row groups read (the others cannot hold the key).
    pub(crate) row_groups_read: usize,
    /// Rows of those groups.
    pub(crate) rows_scanned: u64,
    /// Whether the key column was decoded to filter rows of some group (one that may hold
    /// other keys too; a group whose statistics say it holds only this key is read whole).
    pub(crate) filtered: bool,
}

/// The points of `key` in a compacted file, in file order, as columns: row groups whose key
/// statistics exclude it are skipped; a group whose statistics say it holds only that key
/// (min = max = key: all but the first and last groups of a long metric) is decoded whole,
/// without its key column; the others through a row filter on the key column that decodes
/// the value, timestamp and step columns only for rows whose key matches. Files written
/// before keys were grouped still read correctly; their statistics just exclude less.
fn decode_parquet_key(bytes: &Bytes, key: &MetricKey) -> std::result::Result<KeyScan, String> {
    let metadata = ArrowReaderMetadata::load(bytes, ArrowReaderOptions::default())
        .map_err(|e| e.to_string())?;
    let schema = metadata.parquet_schema();
    let leaf = |name: &str| {
        (0..schema.num_columns())
            .find(|&i| schema.column(i).name() == name)
            .ok_or_else(|| format!("no column {name:?}"))
    };
    let key_leaf = leaf("key")?;
    let data_leaves = [leaf("value")?, leaf("timestamp")?, leaf("step")?];
    let wanted = key.as_str().as_bytes();
    let file = metadata.metadata();
    // The groups that may hold the key, each with whether it holds nothing else.
    let groups: Vec<(usize, bool)> = (0..file.num_row_groups())
        .filter_map(|i| {
            let stats = file.row_group(i).column(key_leaf).statistics();
            match stats.and_then(|s| Some((s.min_bytes_opt()?, s.max_bytes_opt()?))) {
                Some((min, max)) if min <= wanted && wanted <= max => {
                    Some((i, min == wanted && max == wanted))
                }
                Some(_) => None,
                None => Some((i, false)),
            }
        })
        .collect();
    let mut scan = KeyScan {
        row_groups: file.num_row_groups(),
        row_groups_read: groups.len(),
        rows_scanned: groups
            .iter()
            .map(|&(i, _)| u64::try_from(file.row_group(i).num_rows()).unwrap_or(0))
            .sum(),
        ..KeyScan::default()
    };
    // Consecutive groups alike are read together, in file order.
    for run in groups.chunk_by(|a, b| a.1 == b.1) {
        let pure = run[0].1;
        let builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(bytes.clone(), metadata.clone())
                .with_batch_size(ROWS_PER_BATCH)
                .with_row_groups(run.iter().map(|&(i, _)| i).collect())
                .with_projection(ProjectionMask::leaves(schema, data_leaves));
        let reader = if pure {
            builder.build()
        } else {
            scan.filtered = true;
            let owned = key.as_str().to_owned();
            let predicate = ArrowPredicateFn::new(
                ProjectionMask::leaves(schema, [key_leaf]),
                move |batch: RecordBatch| {
                    let column = batch
                        .column(0)
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .ok_or_else(|| {
                            ArrowError::SchemaError("column \"key\" is not UTF-8".to_owned())
                        })?;
                    Ok(column
                        .iter()
                        .map(|k| Some(k == Some(owned.as_str())))
                        .collect::<BooleanArray>())
                },
            );
            builder
                .with_row_filter(RowFilter::new(vec![Box::new(predicate)]))
                .build()
        }
        .map_err(|e| e.to_string())?;
        for batch in reader {
            batch_columns(&batch.map_err(|e| e.to_string())?, &mut scan.points)?;
        }
    }
    Ok(scan)
}

/// Appends the value, timestamp and step columns of one decoded batch (no nulls; every
/// timestamp in [`Timestamp`]'s range, checked on the batch's extremes).
fn batch_columns(batch: &RecordBatch, out: &mut MetricColumns) -> std::result::Result<(), String> {
    fn column<'a, T: 'static>(
        batch: &'a RecordBatch,
        name: &str,
        kind: &str,
    ) -> std::result::Result<&'a T, String> {
        let array = batch
            .column_by_name(name)
            .ok_or_else(|| format!("no column {name:?}"))?;
        if array.null_count() > 0 {
            return Err(format!("column {name:?} has nulls"));
        }
        array
            .as_any()
            .downcast_ref::<T>()
            .ok_or_else(|| format!("column {name:?} is not {kind}"))
    }
    let value = column::<Float64Array>(batch, "value", "float64")?;
    let ts = column::<Int64Array>(batch, "timestamp", "int64")?;
    let step = column::<Int64Array>(batch, "step", "int64")?;
    let (lo, hi) = ts
        .values()
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
    if !ts.is_empty() {
        for extreme in [lo, hi] {
            Timestamp::from_millis(extreme).map_err(|e| e.to_string())?;
        }
    }
    out.value.extend_from_slice(value.values());
    out.timestamp.extend_from_slice(ts.values());
    out.step.extend_from_slice(step.values());
    Ok(())
}

/// Appends the points of one decoded batch.
fn batch_points(
    batch: &RecordBatch,
    keys: &mut HashMap<String, MetricKey>,
    out: &mut Vec<Metric>,
) -> std::result::Result<(), String> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| format!("no column {name:?}"))
    };
    let key_col = column("key")?
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or("column \"key\" is not UTF-8")?;
    let value_col = column("value")?
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or("column \"value\" is not float64")?;
    let ts_col = column("timestamp")?
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or("column \"timestamp\" is not int64")?;
    let step_col = column("step")?
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or("column \"step\" is not int64")?;
    for row in 0..batch.num_rows() {
        let text = key_col.value(row);
        let key = match keys.get(text) {
            Some(key) => key.clone(),
            None => {
                let key = MetricKey::parse(text).map_err(|e| e.to_string())?;
                keys.insert(text.to_owned(), key.clone());
                key
            }
        };
        let timestamp = Timestamp::from_millis(ts_col.value(row)).map_err(|e| e.to_string())?;
        out.push(Metric::new(
            key,
            value_col.value(row),
            timestamp,
            step_col.value(row),
        ));
    }
    Ok(())
}

impl Inner {
    /// Writes one segment, named `name`.
    pub(crate) async fn write_segment(
        &self,
        run: &RunId,
        name: &str,
        metrics: &[Metric],
    ) -> Result<Arc<Segment>> {
        let key = self.keys.metrics_file(run, name);
        let bytes = encode_segment(metrics);
        Self::check_size(&key, &bytes, "a metric segment", limits::SEGMENT)?;
        match self.claim(&key, bytes).await? {
            Claim::Won => Ok(Arc::new(Segment::new(metrics.to_vec()))),
            Claim::Taken => Err(TrackError::InvalidState(format!(
                "metric segment {key} exists already"
            ))),
        }
    }

    /// Lists a run's metric files and reads new segments. Returns `false` when a segment this
    /// process knew has gone (a compaction it has not folded yet): list the meta log again.
    pub(crate) async fn refresh_run_metrics(&self, run: &RunId, st: &mut RunState) -> Result<bool> {
        let listed = self.list(&self.keys.metrics_dir(run), None).await?;
        let names: HashSet<String> = listed
            .iter()
            .filter_map(|m| m.location.filename())
            .filter(|n| n.ends_with(".jsonl"))
            .map(str::to_owned)
            .collect();
        self.fold_metric_files(run, st, names).await
    }

    /// Reads the segments among `names` (a listing of the run's segment files) that this
    /// process has not read. Returns `false` when a segment it knew is not among them (a
    /// compaction it has not folded yet) or vanished before it was read.
    pub(crate) async fn fold_metric_files(
        &self,
        run: &RunId,
        st: &mut RunState,
        names: HashSet<String>,
    ) -> Result<bool> {
        if st.segments.keys().any(|n| !names.contains(n)) {
            return Ok(false);
        }
        let mut new: Vec<String> = names
            .into_iter()
            .filter(|n| {
                !st.covered.contains(n)
                    && !st.segments.contains_key(n)
                    && !st.bad_segments.contains(n)
            })
            .collect();
        new.sort();
        let fetched: Vec<(String, Option<std::result::Result<Bytes, String>>)> =
            futures::stream::iter(new)
                .map(|name| async move {
                    let key = self.keys.metrics_file(run, &name);
                    let bytes = or_damage(
                        self.get_opt(&key, "a metric segment", limits::SEGMENT)
                            .await,
                    )?;
                    Ok::<_, TrackError>((name, bytes))
                })
                .buffered(self.options.concurrency)
                .try_collect()
                .await?;
        let mut consistent = true;
        for (name, bytes) in fetched {
            let Some(bytes) = bytes else {
                consistent = false;
                continue;
            };
            match bytes.and_then(|bytes| decode_segment(&bytes)) {
                Ok(points) => {
                    st.add_segment(name, Arc::new(Segment::new(points)));
                }
                Err(reason) => {
                    self.note_damage(
                        self.keys.metrics_file(run, &name).as_ref(),
                        &format!("an unreadable metric segment: {reason}"),
                    );
                    st.bad_segments.insert(name);
                }
            }
        }
        Ok(consistent)
    }

    pub(crate) async fn compact_run(
        &self,
        run: &RunId,
        full: bool,
    ) -> Result<Option<CompactionReport>> {
        let slot = self.run_slot(run);
        let mut st = slot.state.lock().await;
        self.load_run(run, &mut st, Fresh::Full).await?;
        self.compact_locked(run, &mut st, full).await
    }

    /// Folds the run's uncovered segments (and, when `full`, its Parquet files) into one new
    /// Parquet file, records it, then deletes what it covers.
    pub(crate) async fn compact_locked(
        &self,
        run: &RunId,
        st: &mut RunState,
        full: bool,
    ) -> Result<Option<CompactionReport>> {
        // Segments still being written by this process bound what is covered (see
        // `RunSlot::first_in_flight`).
        let bound = self.run_slot(run).first_in_flight();
        let segments: Vec<(String, Arc<Segment>)> = st
            .segments
            .iter()
            .take_while(|(name, _)| bound.as_ref().is_none_or(|b| *name < b))
            .map(|(name, seg)| (name.clone(), Arc::clone(seg)))
            .collect();
        let live = st.live_parquet();
        let worth_it = if full {
            !segments.is_empty() || live.len() > 1
        } else {
            segments.len() >= self.options.compact_after_segments
        };
        if !worth_it {
            return Ok(None);
        }
        let replaces = if full { live } else { Vec::new() };
        let mut points = Vec::new();
        for file in &replaces {
            let key = self.keys.metrics_file(run, file);
            let bytes = self
                .get_opt(&key, COMPACTED, limits::PARQUET)
                .await?
                .ok_or_else(|| {
                    TrackError::InvalidState(format!("{key} vanished (a concurrent compaction?)"))
                })?;
            points.extend(decode_parquet(bytes).map_err(|reason| Self::corrupt(&key, reason))?);
        }
        for (_, segment) in &segments {
            points.extend(segment.points.iter().cloned());
        }
        let points = dedup(points);
        let file = new_metrics_name("parquet");
        let key = self.keys.metrics_file(run, &file);
        let encoded = encode_parquet(&points, run).map_err(|reason| Self::corrupt(&key, reason))?;
        if let Claim::Taken = self.claim(&key, encoded).await? {
            return Err(TrackError::InvalidState(format!("{key} exists already")));
        }
        let mut latest: Vec<Metric> = latest_by_key(&points).into_values().collect();
        latest.sort_by(|a, b| a.key.cmp(&b.key));
        let compaction = Compaction {
            file: file.clone(),
            segments: segments.iter().map(|(name, _)| name.clone()).collect(),
            replaces: replaces.clone(),
            points: points.len() as u64,
            latest,
        };
        self.append_run(run, st, |_, _| {
            Ok(Some(RunOp::Compacted(compaction.clone())))
        })
        .await?;
        let garbage = segments
            .iter()
            .map(|(name, _)| name)
            .chain(&replaces)
            .map(|name| self.keys.metrics_file(run, name))
            .collect();
        self.delete_quietly(garbage).await;
        Ok(Some(CompactionReport {
            file,
            segments: segments.len(),
            replaced: replaces.len(),
            points: compaction.points,
        }))
    }

    /// Every point of one metric: compacted points in compaction order, then the uncovered
    /// segments in the order they were written; duplicates removed.
    pub(crate) async fn metric_history(&self, run: &RunId, key: &MetricKey) -> Result<Vec<Metric>> {
        let columns = self.metric_columns(run, key).await?;
        let mut points = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            // Checked on reading (segments are decoded into `Metric`s, compacted files'
            // timestamps are range-checked per batch).
            let timestamp = Timestamp::from_millis(columns.timestamp[i])
                .map_err(|e| TrackError::InvalidState(e.to_string()))?;
            points.push(Metric::new(
                key.clone(),
                columns.value[i],
                timestamp,
                columns.step[i],
            ));
        }
        Ok(points)
    }

    /// [`Self::metric_history`] as columns. A compacted file holds no duplicate points (a
    /// compaction de-duplicates what it writes), so a metric read from one file alone (a
    /// finished run's) is taken as it is; points from several files or segments are
    /// de-duplicated, first kept.
    pub(crate) async fn metric_columns(
        &self,
        run: &RunId,
        key: &MetricKey,
    ) -> Result<MetricColumns> {
        'attempt: for _ in 0..8 {
            let (files, segments) = {
                let slot = self.run_slot(run);
                let mut st = slot.state.lock().await;
                self.load_run(run, &mut st, Fresh::Full).await?;
                let segments: Vec<Arc<Segment>> = st.segments.values().cloned().collect();
                (st.live_parquet(), segments)
            };
            let mut out = MetricColumns::default();
            let mut sources = 0;
            for file in files {
                let object = self.keys.metrics_file(run, &file);
                let read = self.get_opt(&object, COMPACTED, limits::PARQUET).await;
                let Some(bytes) = or_damage(read)? else {
                    // Replaced by a compaction this process has not folded yet.
                    continue 'attempt;
                };
                // Decoding a million points is CPU work: off the async workers.
                let owned = key.clone();
                let scan = tokio::task::spawn_blocking(move || {
                    bytes.and_then(|bytes| decode_parquet_key(&bytes, &owned))
                })
                .await
                .map_err(|e| TrackError::InvalidState(format!("decoding {object}: {e}")))?;
                match scan {
                    Ok(scan) => {
                        tracing::debug!(
                            run = %run,
                            file,
                            key = %key,
                            row_groups = scan.row_groups,
                            row_groups_read = scan.row_groups_read,
                            rows_scanned = scan.rows_scanned,
                            filtered = scan.filtered,
                            "one metric read from a compacted file"
                        );
                        if !scan.points.is_empty() {
                            sources += 1;
                            append(&mut out, scan.points);
                        }
                    }
                    Err(reason) => {
                        self.note_damage(
                            object.as_ref(),
                            &format!("an unreadable compacted-metrics file: {reason}"),
                        );
                    }
                }
            }
            for segment in segments {
                let mut any = false;
                for p in segment.points.iter().filter(|p| &p.key == key) {
                    any = true;
                    out.step.push(p.step);
                    out.timestamp.push(p.timestamp.as_millis());
                    out.value.push(p.value);
                }
                // A segment may repeat a point within itself.
                sources += if any { 2 } else { 0 };
            }
            if sources > 1 {
                dedup_columns(&mut out);
            }
            return Ok(out);
        }
        Err(TrackError::InvalidState(format!(
            "the metric files of run {run} kept changing while being read"
        )))
    }
}

/// Appends `more` to `out` (moved whole when `out` is empty).
fn append(out: &mut MetricColumns, more: MetricColumns) {
    if out.is_empty() {
        *out = more;
        return;
    }
    out.step.extend_from_slice(&more.step);
    out.timestamp.extend_from_slice(&more.timestamp);
    out.value.extend_from_slice(&more.value);
}

/// Keeps the first of each (value, timestamp, step), NaNs all one value ([`point_id`]).
fn dedup_columns(columns: &mut MetricColumns) {
    let mut seen: HashSet<(u64, i64, i64)> = HashSet::with_capacity(columns.len());
    let keep: Vec<bool> = (0..columns.len())
        .map(|i| {
            seen.insert(id_of(
                columns.value[i],
                columns.timestamp[i],
                columns.step[i],
            ))
        })
        .collect();
    if keep.iter().all(|k| *k) {
        return;
    }
    retain_by(&mut columns.step, &keep);
    retain_by(&mut columns.timestamp, &keep);
    retain_by(&mut columns.value, &keep);
}

/// Keeps the items whose flag in `keep` (one per item, in order) is set.
fn retain_by<T>(items: &mut Vec<T>, keep: &[bool]) {
    let mut flags = keep.iter();
    items.retain(|_| flags.next().copied().unwrap_or(true));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(key: &str, value: f64, ts: i64, step: i64) -> Metric {
        Metric::new(
            MetricKey::parse(key).unwrap(),
            value,
            Timestamp::from_millis(ts).unwrap(),
            step,
        )
    }

    #[test]
    fn parquet_round_trips_grouped_by_key_in_order() {
        let run = RunId::generate();
        let points: Vec<Metric> = (0..70_000)
            .map(|i| point(if i % 2 == 0 { "b" } else { "a" }, i as f64 / 3.0, i, i))
            .chain([point("b", f64::NAN, 1, 1)])
            .collect();
        let back = decode_parquet(Bytes::from(encode_parquet(&points, &run).unwrap())).unwrap();
        assert_eq!(back.len(), points.len());
        // Each key's points in the order logged, keys one after the other.
        let of = |key: &str, list: &[Metric]| -> Vec<Metric> {
            list.iter()
                .filter(|p| p.key.as_str() == key)
                .cloned()
                .collect()
        };
        let expected: Vec<Metric> = [of("a", &points), of("b", &points)].concat();
        assert!(expected.iter().zip(&back).all(|(a, b)| a.same_point(b)));
        assert!(decode_parquet(Bytes::from_static(b"PAR1 not really")).is_err());
    }

    /// Eight metrics of 40,000 points each, logged interleaved (as a training loop does).
    fn interleaved() -> Vec<Metric> {
        (0..320_000)
            .map(|i| point(&format!("m{}", i % 8), i as f64, i, i / 8))
            .collect()
    }

    #[test]
    fn one_metric_decodes_only_its_row_groups_and_equals_the_unfiltered_read() {
        let run = RunId::generate();
        let points = interleaved();
        let bytes = Bytes::from(encode_parquet(&points, &run).unwrap());
        let all = decode_parquet(bytes.clone()).unwrap();
        for key in ["m0", "m3", "m7", "absent"] {
            let key = MetricKey::parse(key).unwrap();
            let scan = decode_parquet_key(&bytes, &key).unwrap();
            let unfiltered: Vec<Metric> = all.iter().filter(|p| p.key == key).cloned().collect();
            assert_eq!(
                scan.points,
                MetricColumns::from_points(&unfiltered),
                "{key}"
            );
            // 320,000 rows make 5 row groups of 65,536; one metric's 40,000 rows lie in one
            // or two of them.
            assert_eq!(scan.row_groups, 5);
            assert!(scan.row_groups_read <= 2, "{key}: {scan:?}");
            assert!(
                scan.rows_scanned <= 2 * 65_536,
                "{key}: {:?}",
                scan.rows_scanned
            );
        }
        let absent = decode_parquet_key(&bytes, &MetricKey::parse("absent").unwrap()).unwrap();
        assert_eq!((absent.row_groups_read, absent.rows_scanned), (0, 0));
    }

    #[test]
    fn files_written_in_log_order_still_filter_correctly() {
        // A file as earlier releases wrote it: rows in the order logged, one row group.
        let points = interleaved();
        let schema = parquet_schema();
        let mut bytes = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut bytes, Arc::clone(&schema), None).unwrap();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                points.iter().map(|p| p.key.as_str()),
            )),
            Arc::new(Float64Array::from_iter_values(
                points.iter().map(|p| p.value),
            )),
            Arc::new(Int64Array::from_iter_values(
                points.iter().map(|p| p.timestamp.as_millis()),
            )),
            Arc::new(Int64Array::from_iter_values(points.iter().map(|p| p.step))),
        ];
        writer
            .write(&RecordBatch::try_new(schema, columns).unwrap())
            .unwrap();
        writer.close().unwrap();
        let key = MetricKey::parse("m5").unwrap();
        let scan = decode_parquet_key(&Bytes::from(bytes), &key).unwrap();
        let expected: Vec<Metric> = points.iter().filter(|p| p.key == key).cloned().collect();
        assert_eq!(scan.points.len(), 40_000);
        assert_eq!(scan.points, MetricColumns::from_points(&expected));
        assert_eq!(scan.row_groups_read, 1);
        assert!(scan.filtered);
    }

    #[test]
    fn a_metric_filling_its_row_groups_is_read_without_its_key_column() {
        // A long metric (two whole row groups and part of a third) between two short ones.
        let run = RunId::generate();
        let points: Vec<Metric> = (0..200_000)
            .map(|i| point("loss", 1.0 / (i as f64 + 1.0), i, i))
            .chain((0..10).map(|i| point("acc", 0.5, i, i)))
            .chain((0..10).map(|i| point("lr", 0.1, i, i)))
            .collect();
        let bytes = Bytes::from(encode_parquet(&points, &run).unwrap());
        let loss = MetricKey::parse("loss").unwrap();
        let scan = decode_parquet_key(&bytes, &loss).unwrap();
        let expected: Vec<Metric> = points.iter().filter(|p| p.key == loss).cloned().collect();
        assert_eq!(scan.points, MetricColumns::from_points(&expected));
        // Groups: [acc.., loss..], [loss], [loss], [loss.., lr..]: the first and last hold
        // other keys too, so the key column is decoded to filter them.
        assert!(scan.filtered, "{scan:?}");
        let lr = MetricKey::parse("lr").unwrap();
        let scan = decode_parquet_key(&bytes, &lr).unwrap();
        assert_eq!(scan.points.len(), 10);
        assert_eq!(scan.row_groups_read, 1);
        // One metric alone (a run that logged one): every group holds only it.
        let alone: Vec<Metric> = (0..150_000).map(|i| point("loss", 0.5, i, i)).collect();
        let bytes = Bytes::from(encode_parquet(&alone, &run).unwrap());
        let scan = decode_parquet_key(&bytes, &loss).unwrap();
        assert!(!scan.filtered, "{scan:?}");
        assert_eq!(scan.points, MetricColumns::from_points(&alone));
    }

    #[test]
    fn column_dedup_keeps_the_first_and_treats_nans_alike() {
        let points = vec![
            point("a", 1.0, 1, 1),
            point("a", 1.0, 1, 1),
            point("a", 2.0, 1, 1),
            point("a", f64::NAN, 1, 1),
            point("a", -f64::NAN, 1, 1),
        ];
        let mut columns = MetricColumns::from_points(&points);
        dedup_columns(&mut columns);
        assert_eq!(columns.step, [1, 1, 1]);
        assert_eq!(columns.value[..2], [1.0, 2.0]);
        assert!(columns.value[2].is_nan());
    }

    #[test]
    fn dedup_keeps_the_first_and_treats_nans_alike() {
        let points = vec![
            point("a", 1.0, 1, 1),
            point("a", 1.0, 1, 1),
            point("b", 1.0, 1, 1),
            point("a", f64::NAN, 1, 1),
            point("a", -f64::NAN, 1, 1),
        ];
        assert_eq!(dedup(points).len(), 3);
    }

    #[test]
    fn latest_follows_mlflow() {
        let seg = Segment::new(vec![
            point("a", 5.0, 9, 1),
            point("a", 1.0, 1, 2),
            point("b", 0.0, 0, 0),
        ]);
        assert_eq!(seg.latest["a"].value, 1.0);
        assert_eq!(seg.latest["b"].value, 0.0);
    }
}
