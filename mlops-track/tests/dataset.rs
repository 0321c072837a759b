//! Dataset lineage: `DatasetRef`s from Parquet files, with the digest of the same data as
//! Arrow batches, logged as run inputs on both backends and read back by MLflow's client.

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, DictionaryArray, Float64Array, Int64Array, RecordBatch,
    StringArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use mlops_core::testing::{MLFLOW_URI, PYTHON, require_env};
use mlops_core::{ArtifactPath, StoreUri};
use mlops_track::mlflow::MlflowStore;
use mlops_track::{
    ActiveRun, DATASET_CONTEXT_TAG, DatasetInput, DatasetRef, ExperimentName, LocalStore, RunId,
    RunOptions, RunStatus, TrackError, TrackingStore, dataset,
};
use object_store::ObjectStoreExt;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

/// A table of most column kinds, nulls and NaN included, in three batches.
fn table() -> (SchemaRef, Vec<RecordBatch>) {
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
fn parquet_bytes(schema: &SchemaRef, batches: &[RecordBatch]) -> Bytes {
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

#[tokio::test]
async fn a_parquet_file_has_the_digest_of_its_batches() {
    let (schema, batches) = table();
    let expected =
        DatasetRef::from_batches("train", "anywhere", Arc::clone(&schema), &batches).unwrap();
    let root = StoreUri::parse("memory://data").unwrap().open().unwrap();
    let path = ArtifactPath::parse("sets/train.parquet").unwrap();
    root.store()
        .put(&root.key(&path), parquet_bytes(&schema, &batches).into())
        .await
        .unwrap();

    let read = dataset::from_parquet("train", &root, &path, "memory://data/sets/train.parquet")
        .await
        .unwrap();
    assert_eq!(read.digest(), expected.digest());
    assert_eq!(read.rows(), 3 * 1000 + 7 + 14);
    assert_eq!(read.source(), "memory://data/sets/train.parquet");
    let names: Vec<&str> = read
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["id", "x", "label", "city", "ok", "day", "at"]);
    assert!(!read.schema().field(0).is_nullable());

    // One changed value changes the digest.
    let mut changed = batches.clone();
    let mut ids: Vec<i64> = (0..1000).collect();
    ids[500] = -1;
    changed[0] = RecordBatch::try_new(
        Arc::clone(&schema),
        std::iter::once(Arc::new(Int64Array::from(ids)) as ArrayRef)
            .chain(batches[0].columns()[1..].iter().cloned())
            .collect(),
    )
    .unwrap();
    let other = ArtifactPath::parse("sets/changed.parquet").unwrap();
    root.store()
        .put(&root.key(&other), parquet_bytes(&schema, &changed).into())
        .await
        .unwrap();
    let read_changed = dataset::from_parquet("train", &root, &other, "x")
        .await
        .unwrap();
    assert_ne!(read_changed.digest(), expected.digest());
}

#[tokio::test]
async fn parquet_uris_name_files_and_bad_ones_get_typed_errors() {
    let (schema, batches) = table();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("train.parquet");
    std::fs::write(&file, parquet_bytes(&schema, &batches)).unwrap();
    let expected = DatasetRef::from_batches("t", "s", schema, &batches).unwrap();

    let read = dataset::from_parquet_uri("train", file.to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(read.digest(), expected.digest());
    assert_eq!(read.source(), file.display().to_string());
    let url = format!("file://{}", file.display());
    let read = dataset::from_parquet_uri("train", &url).await.unwrap();
    assert_eq!(read.digest(), expected.digest());

    let missing = dir.path().join("nope.parquet");
    let err = dataset::from_parquet_uri("train", missing.to_str().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TrackError::NotFound { what: "dataset file", id } if id.ends_with("nope.parquet")),
        "{err:?}"
    );
    let missing_dir = dir.path().join("no/such/dir/x.parquet");
    let err = dataset::from_parquet_uri("train", missing_dir.to_str().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, TrackError::NotFound { .. }), "{err:?}");
    assert!(!dir.path().join("no").exists(), "nothing was created");

    let text = dir.path().join("notes.parquet");
    std::fs::write(&text, "not parquet at all").unwrap();
    let err = dataset::from_parquet_uri("train", text.to_str().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TrackError::Corrupt { reason, .. } if reason.contains("Parquet")),
        "{err:?}"
    );

    for bad in ["s3://bucket", "memory://", "data/"] {
        let err = dataset::from_parquet_uri("train", bad).await.unwrap_err();
        assert!(matches!(err, TrackError::Invalid(_)), "{bad}: {err:?}");
    }
    let err = dataset::from_parquet_uri("", file.to_str().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, TrackError::Invalid(_)), "{err:?}");
}

async fn log_parquet_input(store: Arc<dyn TrackingStore>, test: &str) -> (RunId, DatasetRef) {
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

#[tokio::test]
async fn parquet_inputs_are_recorded_on_the_local_store() {
    let store: Arc<dyn TrackingStore> = Arc::new(
        LocalStore::open_uri(&StoreUri::parse("memory://").unwrap())
            .await
            .unwrap(),
    );
    let (id, data) = log_parquet_input(Arc::clone(&store), "local").await;
    let run = store.get_run(&id).await.unwrap();
    let expected = DatasetInput::from_ref(&data, Some("training")).unwrap();
    assert_eq!(run.inputs, [expected]);
    assert_eq!(run.inputs[0].dataset.source_type, "s3");
    assert_eq!(
        run.inputs[0].dataset.profile.as_deref(),
        Some(r#"{"num_rows":3021}"#)
    );
}

const READ_INPUTS: &str = r#"
import json, sys
from mlflow import MlflowClient
run = MlflowClient(tracking_uri=sys.argv[1]).get_run(sys.argv[2])
print(json.dumps([
    {
        "name": i.dataset.name, "digest": i.dataset.digest,
        "source_type": i.dataset.source_type, "source": i.dataset.source,
        "schema": json.loads(i.dataset.schema), "profile": json.loads(i.dataset.profile),
        "tags": {t.key: t.value for t in i.tags},
    }
    for i in run.inputs.dataset_inputs
]))
"#;

#[tokio::test]
async fn parquet_inputs_read_back_through_mlflows_python_client() {
    let uri = require_env(MLFLOW_URI);
    let store: Arc<dyn TrackingStore> = Arc::new(MlflowStore::new(&uri).unwrap());
    let (id, data) = log_parquet_input(store, "mlflow").await;

    let output = std::process::Command::new(require_env(PYTHON))
        .arg("-c")
        .arg(READ_INPUTS)
        .arg(&uri)
        .arg(id.as_str())
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let colspec = |name: &str, ty: &str, required: bool| serde_json::json!({"type": ty, "name": name, "required": required});
    assert_eq!(
        seen,
        serde_json::json!([{
            "name": "train",
            "digest": data.digest().to_string(),
            "source_type": "s3",
            "source": "s3://bucket/lineage/train.parquet",
            "schema": {"mlflow_colspec": [
                colspec("id", "long", true),
                colspec("x", "double", false),
                colspec("label", "string", false),
                colspec("city", "string", false),
                colspec("ok", "boolean", false),
                colspec("day", "datetime", false),
                colspec("at", "datetime", false),
            ]},
            "profile": {"num_rows": 3021},
            "tags": {DATASET_CONTEXT_TAG: "training"},
        }])
    );
}
