//! Reading the weekly partitions and engineering the model's features from the raw trips.
//!
//! The model sees only what is known when a trip starts: distance (from the route), the
//! pickup hour and weekday, passengers, and three flags the tariff depends on (weekday rush
//! hour, night, the JFK flat rate). Drop-off time is not a feature: it is only known after.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mlops::drift::arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, TimestampMicrosecondArray,
};
use mlops::drift::arrow_schema::{DataType, Field, Schema};
use ndarray::{Array1, Array2};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::Error;

/// The model's inputs, in the order of its coefficients.
pub(crate) const FEATURES: [&str; 7] = [
    "trip_distance",
    "pickup_hour",
    "pickup_weekday",
    "passenger_count",
    "rush_hour",
    "night",
    "airport",
];
/// What the model predicts.
pub(crate) const TARGET: &str = "fare_amount";

const MICROS_PER_DAY: i64 = 86_400_000_000;
const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// The week partitions under `root` (`week=YYYY-MM-DD/*.parquet`), oldest first.
pub(crate) fn partitions(root: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut weeks = Vec::new();
    let entries = std::fs::read_dir(root)
        .map_err(|e| format!("cannot list the data folder {}: {e}", root.display()))?;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("week=") && entry.file_type()?.is_dir() {
            let file = entry.path().join("part-0.parquet");
            if file.is_file() {
                weeks.push(file);
            }
        }
    }
    weeks.sort(); // ISO dates sort in time order
    Ok(weeks)
}

/// A partition's week, `YYYY-MM-DD` (its folder's date).
pub(crate) fn week_of(file: &Path) -> String {
    let folder = file.parent().and_then(Path::file_name);
    let folder = folder.map(|f| f.to_string_lossy().into_owned());
    let folder = folder.unwrap_or_default();
    folder.trim_start_matches("week=").to_owned()
}

/// Every batch of a Parquet file.
pub(crate) fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>, Error> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

/// The features and the target as Arrow (all FP64), one row per usable trip (trips with a
/// missing passenger count or rate code, or a non-positive fare, are left out, as the TLC
/// data needs). `keep(weekday)` picks rows by pickup weekday (0 = Monday).
pub(crate) fn feature_batch(
    batches: &[RecordBatch],
    keep: impl Fn(i64) -> bool,
) -> Result<RecordBatch, Error> {
    let mut table = FeatureTable::default();
    table.add(batches, keep)?;
    table.finish()
}

/// Feature rows gathered from several files, then made one batch.
#[derive(Debug)]
pub(crate) struct FeatureTable {
    columns: Vec<Vec<f64>>,
}

impl Default for FeatureTable {
    fn default() -> Self {
        Self {
            columns: vec![Vec::new(); FEATURES.len() + 1],
        }
    }
}

impl FeatureTable {
    /// Adds the usable trips of `batches` whose pickup weekday passes `keep`.
    pub(crate) fn add(
        &mut self,
        batches: &[RecordBatch],
        keep: impl Fn(i64) -> bool,
    ) -> Result<(), Error> {
        for batch in batches {
            add_batch(&mut self.columns, batch, &keep)?;
        }
        Ok(())
    }

    /// The rows as one batch of [`feature_schema`]`(true)`.
    pub(crate) fn finish(self) -> Result<RecordBatch, Error> {
        let arrays: Vec<ArrayRef> = (self.columns.into_iter())
            .map(|c| Arc::new(Float64Array::from(c)) as ArrayRef)
            .collect();
        Ok(RecordBatch::try_new(
            Arc::new(feature_schema(true)),
            arrays,
        )?)
    }
}

fn add_batch(
    columns: &mut [Vec<f64>],
    batch: &RecordBatch,
    keep: &impl Fn(i64) -> bool,
) -> Result<(), Error> {
    {
        let pickup = column::<TimestampMicrosecondArray>(batch, "tpep_pickup_datetime")?;
        let distance = column::<Float64Array>(batch, "trip_distance")?;
        let passengers = column::<Int64Array>(batch, "passenger_count")?;
        let ratecode = column::<Int64Array>(batch, "RatecodeID")?;
        let fare = column::<Float64Array>(batch, TARGET)?;
        for row in 0..batch.num_rows() {
            if passengers.is_null(row) || ratecode.is_null(row) || fare.value(row) <= 0.0 {
                continue;
            }
            let micros = pickup.value(row);
            let days = micros.div_euclid(MICROS_PER_DAY);
            let weekday = (days + 3).rem_euclid(7); // 1970-01-01 was a Thursday
            if !keep(weekday) {
                continue;
            }
            let hour = micros.rem_euclid(MICROS_PER_DAY) / MICROS_PER_HOUR;
            let rush = weekday < 5 && (16..20).contains(&hour);
            let night = !(6..20).contains(&hour);
            let values = [
                distance.value(row),
                hour as f64,
                weekday as f64,
                passengers.value(row) as f64,
                f64::from(u8::from(rush)),
                f64::from(u8::from(night)),
                f64::from(u8::from(ratecode.value(row) == 2)),
                fare.value(row),
            ];
            for (column, value) in columns.iter_mut().zip(values) {
                column.push(value);
            }
        }
    }
    Ok(())
}

/// The feature table's schema; with `target`, the fare as the last column.
pub(crate) fn feature_schema(target: bool) -> Schema {
    let names = FEATURES.iter().chain(target.then_some(&TARGET));
    Schema::new(
        names
            .map(|n| Field::new(*n, DataType::Float64, false))
            .collect::<Vec<_>>(),
    )
}

/// The feature matrix and the target vector of a feature batch.
pub(crate) fn matrix(batch: &RecordBatch) -> Result<(Array2<f64>, Array1<f64>), Error> {
    let rows = batch.num_rows();
    let mut x = Array2::<f64>::zeros((rows, FEATURES.len()));
    for (j, name) in FEATURES.iter().enumerate() {
        let values = column::<Float64Array>(batch, name)?;
        for (i, v) in values.values().iter().enumerate() {
            x[[i, j]] = *v;
        }
    }
    let y = Array1::from(column::<Float64Array>(batch, TARGET)?.values().to_vec());
    Ok((x, y))
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T, Error> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| format!("the data has no column {name:?}"))?;
    (array.as_any().downcast_ref::<T>())
        .ok_or_else(|| format!("column {name:?} has type {}", array.data_type()).into())
}
