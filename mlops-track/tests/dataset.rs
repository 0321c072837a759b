//! Dataset lineage: `DatasetRef`s from Parquet files, with the digest of the same data as
//! Arrow batches, logged as run inputs on the embedded store (MLflow's client reads them
//! back in the service tests).

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use mlops_core::{ArtifactPath, StoreUri};
use mlops_track::{DatasetInput, DatasetRef, LocalStore, TrackError, TrackingStore, dataset};
use object_store::ObjectStoreExt;

use crate::support::lineage::{log_parquet_input, parquet_bytes, table};

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
