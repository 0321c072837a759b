//! Reading the weekly partitions, and the model's features as a transform spec
//! (`mlops::transform`) fit on the training trips and registered with the model, so `mlops
//! serve` computes them from the raw columns a client sends exactly as training did.
//!
//! The model sees only what is known when a trip starts: the distance (from the route), the
//! pickup hour and weekday, the passengers and the rate code (the JFK flat rate). Drop-off time is not a feature: it is
//! only known after.

use std::ops::Range;
use std::path::{Path, PathBuf};

use mlops::drift::arrow_array::cast::AsArray;
use mlops::drift::arrow_array::types::{Float64Type, TimestampMicrosecondType};
use mlops::drift::arrow_array::{BooleanArray, RecordBatch};
use mlops::drift::arrow_schema::{ArrowError, Schema};
use mlops::transform::{DatePart, FeatureSpec, Impute, Step, TransformSpec, Unknown};
use ndarray::Array1;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter};

use crate::Error;

/// What the model predicts.
pub(crate) const TARGET: &str = "fare_amount";
/// The pickup time column.
pub(crate) const PICKUP: &str = "tpep_pickup_datetime";
/// The columns the drift profile watches: the model's numeric raw inputs and the fare (a
/// change in trips and a change in prices both show). The pickup time moves every week by
/// construction, so it is watched through the model, not as a column.
pub(crate) const MONITORED: [&str; 4] = ["trip_distance", "passenger_count", "RatecodeID", TARGET];

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The template's feature spec: what `train` fits when no `--spec FILE` is given.
///
/// The distance, the pickup hour and weekday (calendar parts of the pickup time, UTC) and the
/// passengers are standardised (gradient descent then needs one step size for all); a
/// missing passenger count is the training median. The rate code is one-hot encoded, with a
/// missing code its own category and a code training never saw all zeros (the TLC publishes
/// 1 to 6 and 99; a week may bring a new one).
///
/// Hour bands (one indicator per traffic change) were tried and fit worse: the evening rush
/// is a weekday thing, and a sum of per-column terms cannot tell a weekday's 17h from a
/// Sunday's, so a model trained on weekdays overcharges weekend evenings.
pub(crate) fn default_spec() -> TransformSpec {
    let pickup = |part: DatePart| {
        FeatureSpec::new(PICKUP)
            .named(format!("pickup_{}", part.as_str()))
            .then(Step::DatePart { part })
            .then(Step::Standardize)
    };
    let features = vec![
        FeatureSpec::new("trip_distance").then(Step::Standardize),
        pickup(DatePart::Hour),
        pickup(DatePart::Weekday),
        FeatureSpec::new("passenger_count")
            .then(Step::Impute {
                strategy: Impute::Median,
            })
            .then(Step::Standardize),
        FeatureSpec::new("RatecodeID")
            .then(Step::FillCategory {
                value: "missing".into(),
            })
            .then(Step::OneHot {
                unknown: Unknown::Ignore,
            }),
    ];
    TransformSpec { features }
}

/// The spec in the JSON file `path` (a [`TransformSpec`]), checked before any data is read.
pub(crate) fn read_spec(path: &Path) -> Result<TransformSpec, Error> {
    let text = std::fs::read(path)
        .map_err(|e| format!("cannot read the feature spec {}: {e}", path.display()))?;
    let spec: TransformSpec = serde_json::from_slice(&text)
        .map_err(|e| format!("the feature spec {} is not valid: {e}", path.display()))?;
    spec.check()?;
    if spec.features.iter().any(|f| f.column == TARGET) {
        return Err(format!(
            "the feature spec {} reads the target {TARGET}",
            path.display()
        )
        .into());
    }
    Ok(spec)
}

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

/// Every batch of a Parquet file, every row.
pub(crate) fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>, Error> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

/// The raw trips of a week file usable for training and scoring (a positive fare, as the TLC
/// data needs: refunds and voids are negative or zero) picked up on a weekday in `days`
/// (0 = Monday), every column as the file has it. The filter runs while reading.
pub(crate) fn read_trips(path: &Path, days: Range<i64>) -> Result<Vec<RecordBatch>, Error> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), [PICKUP, TARGET]);
    let usable = move |batch: RecordBatch| -> Result<BooleanArray, ArrowError> {
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| ArrowError::SchemaError(format!("no column {name:?}")))
        };
        let pickup = column(PICKUP)?;
        let pickup = pickup.as_primitive_opt::<TimestampMicrosecondType>();
        let pickup = pickup.ok_or_else(|| ArrowError::SchemaError(format!("{PICKUP} type")))?;
        let fare = column(TARGET)?.as_primitive_opt::<Float64Type>();
        let fare = fare.ok_or_else(|| ArrowError::SchemaError(format!("{TARGET} type")))?;
        Ok((pickup.iter().zip(fare.iter()))
            .map(|(at, fare)| {
                let weekday = at.map(|t| (t.div_euclid(MICROS_PER_DAY) + 3).rem_euclid(7)); // 1970-01-01 was a Thursday
                Some(weekday.is_some_and(|d| days.contains(&d)) && fare.is_some_and(|f| f > 0.0))
            })
            .collect())
    };
    let filter = RowFilter::new(vec![Box::new(ArrowPredicateFn::new(mask, usable))]);
    let reader = builder.with_row_filter(filter).build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

/// The fares of `batches`, in row order.
pub(crate) fn target(batches: &[RecordBatch]) -> Result<Array1<f64>, Error> {
    let mut fares = Vec::new();
    for batch in batches {
        let column = batch
            .column_by_name(TARGET)
            .ok_or_else(|| format!("the data has no column {TARGET:?}"))?;
        let column = (column.as_primitive_opt::<Float64Type>())
            .ok_or_else(|| format!("column {TARGET:?} has type {}", column.data_type()))?;
        fares.extend(column.iter().map(|v| v.unwrap_or(f64::NAN)));
    }
    Ok(Array1::from(fares))
}

/// The [`MONITORED`] columns of `batches`: what the drift profile is built from and compared
/// with.
pub(crate) fn monitored(batches: &[RecordBatch]) -> Result<Vec<RecordBatch>, Error> {
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches {
        let schema = batch.schema();
        let indices = (MONITORED.iter())
            .map(|name| {
                (schema.index_of(name)).map_err(|_| format!("the data has no column {name:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(batch.project(&indices)?);
    }
    Ok(out)
}

/// The raw columns `inputs` names, with their types in the data (`schema`): the registered
/// version's input signature.
pub(crate) fn input_schema(schema: &Schema, inputs: &[&str]) -> Result<Schema, Error> {
    let fields = (inputs.iter())
        .map(|name| {
            (schema.field_with_name(name).cloned())
                .map_err(|_| format!("the data has no column {name:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Schema::new(fields))
}
