//! Dataset lineage fixtures: a table of most column kinds as Arrow batches and as Parquet,
//! and a run that logs it as an input (`dataset.rs`, and the MLflow variant in the service
//! tests).

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, DictionaryArray, Float64Array, Int64Array, RecordBatch,
    StringArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use mlops_core::{ArtifactPath, StoreUri};
use mlops_track::{
    ActiveRun, DatasetRef, ExperimentName, RunId, RunOptions, RunStatus, TrackingStore, dataset,
};
use object_store::ObjectStoreExt;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

/// A table of most column kinds, nulls and NaN included, in three batches.
pub(crate) fn table() -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Float64, true),
        Field::new("label", DataType::Utf8, true),
        Field::new(
            "city",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        ),
        Field::new("ok", DataType::Boolean, true),
        Field::new("day", DataType::Date32, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
    ]));
    let batches = (0..3)
        .map(|b| {
            let n = 1000 + b * 7;
            let base = (b * 10_000) as i64;
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from_iter_values(
                    (0..n as i64).map(|i| base + i),
                )),
                Arc::new(Float64Array::from_iter((0..n).map(|i| match i % 97 {
                    0 => None,
                    1 => Some(f64::NAN),
                    _ => Some(i as f64 * 0.25 - 3.0),
                }))),
                Arc::new(StringArray::from_iter(
                    (0..n).map(|i| (i % 13 != 0).then(|| format!("label-{}", i % 29))),
                )),
                Arc::new(
                    (0..n)
                        .map(|i| (i % 11 != 0).then(|| ["Lyon", "Oslo", "Kyoto"][i % 3]))
                        .collect::<DictionaryArray<Int32Type>>(),
                ),
                Arc::new(BooleanArray::from_iter(
                    (0..n).map(|i| (i % 5 != 0).then_some(i % 2 == 0)),
                )),
                Arc::new(Date32Array::from_iter(
                    (0..n).map(|i| Some(19_000 + i as i32)),
                )),
                Arc::new(
                    TimestampMillisecondArray::from_iter_values(
                        (0..n as i64).map(|i| 1_700_000_000_000 + i * 1000),
                    )
                    .with_timezone("UTC"),
                ),
            ];
            RecordBatch::try_new(Arc::clone(&schema), columns).unwrap()
        })
        .collect();
    (schema, batches)
}

/// The table as Parquet, in small row groups with dictionary pages, as writers do.
pub(crate) fn parquet_bytes(schema: &SchemaRef, batches: &[RecordBatch]) -> Bytes {
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(700))
        .set_dictionary_enabled(true)
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, Arc::clone(schema), Some(props)).unwrap();
    for batch in batches {
        writer.write(batch).unwrap();
    }
    writer.close().unwrap();
    Bytes::from(out)
}

/// Logs the table, stored as Parquet, as the training input of a new run (twice: it is
/// recorded once).
pub(crate) async fn log_parquet_input(
    store: Arc<dyn TrackingStore>,
    test: &str,
) -> (RunId, DatasetRef) {
    let (schema, batches) = table();
    let root = StoreUri::parse("memory://lineage").unwrap().open().unwrap();
    let path = ArtifactPath::parse("train.parquet").unwrap();
    root.store()
        .put(&root.key(&path), parquet_bytes(&schema, &batches).into())
        .await
        .unwrap();
    let data = dataset::from_parquet("train", &root, &path, "s3://bucket/lineage/train.parquet")
        .await
        .unwrap();
    let name = ExperimentName::parse(format!("dataset/{test}-{}", RunId::generate())).unwrap();
    let experiment = store.create_experiment(&name, &[]).await.unwrap();
    let run = ActiveRun::start(
        Arc::clone(&store),
        &experiment,
        None,
        RunOptions::default().without_system_tags(),
    )
    .await
    .unwrap();
    run.log_input(&data, Some("training")).await.unwrap();
    // Logging the same dataset again records it once.
    run.log_input(&data, Some("training")).await.unwrap();
    let id = run.run_id().clone();
    run.finish(RunStatus::Finished).await.unwrap();
    (id, data)
}
