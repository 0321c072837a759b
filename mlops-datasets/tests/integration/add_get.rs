//! add, versions, get: content addressing, digests, tampering.

use mlops_core::{DatasetRef, StoreUri};
use mlops_data::{AddOptions, DataError, DatasetName, Datasets, Location};

use super::support::{bytes_under, files_under, write_parquet};

fn open(dir: &std::path::Path) -> Datasets {
    Datasets::new(
        &StoreUri::parse(dir.to_str().unwrap())
            .unwrap()
            .open()
            .unwrap(),
    )
}

#[tokio::test]
async fn the_same_content_is_one_version_and_one_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let data = write_parquet(&tmp.path().join("in/a.parquet"), 5000, 0.0, false);
    let datasets = open(&store);
    let name = DatasetName::parse("trips").unwrap();
    let first = datasets
        .add(&name, std::slice::from_ref(&data), AddOptions::default())
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.manifest.version, 1);
    assert_eq!(first.manifest.rows, 5000);
    let file_size = std::fs::metadata(&data).unwrap().len();
    assert_eq!(first.bytes_written, file_size);
    let after_first = bytes_under(&store);
    assert!(after_first >= file_size);

    let again = datasets
        .add(&name, std::slice::from_ref(&data), AddOptions::default())
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.manifest.version, 1);
    assert_eq!(again.bytes_written, 0);
    assert_eq!(bytes_under(&store), after_first, "a second add wrote bytes");

    // The same file under another dataset shares the object: only a manifest is written.
    let other = DatasetName::parse("trips-copy").unwrap();
    let copy = datasets
        .add(&other, std::slice::from_ref(&data), AddOptions::default())
        .await
        .unwrap();
    assert!(copy.created);
    assert_eq!(copy.bytes_written, 0);
    assert_eq!(
        files_under(&store, "objects/sha256").len(),
        2,
        "one data object and one profile"
    );

    // The digest is mlops-core's over the rows: equal to the one runs record.
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&data).unwrap(),
    )
    .unwrap();
    let schema = reader.schema().clone();
    let batches: Vec<_> = reader.build().unwrap().map(Result::unwrap).collect();
    let reference = DatasetRef::from_batches("trips", "x", schema, &batches).unwrap();
    assert_eq!(first.manifest.digest, reference.digest());
    assert!(first.manifest.profile.is_some());
    assert!(datasets.profile(&first.manifest).await.unwrap().is_some());
}

#[tokio::test]
async fn versions_are_numbered_and_get_returns_the_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let datasets = open(&tmp.path().join("store"));
    let name = DatasetName::parse("trips").unwrap();
    let folder = tmp.path().join("day1");
    write_parquet(&folder.join("part-0.parquet"), 100, 0.0, false);
    write_parquet(&folder.join("sub/part-1.parquet"), 50, 1.0, false);
    std::fs::write(folder.join("README.txt"), "not data").unwrap();
    let v1 = datasets
        .add(&name, std::slice::from_ref(&folder), AddOptions::default())
        .await
        .unwrap();
    let paths: Vec<&str> = v1.manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["day1/part-0.parquet", "day1/sub/part-1.parquet"]);
    assert_eq!(v1.manifest.rows, 150);

    let single = write_parquet(&tmp.path().join("day2.parquet"), 70, 2.0, false);
    let options = AddOptions {
        description: Some("second day".into()),
        tags: [("source".to_owned(), "test".to_owned())].into(),
    };
    let v2 = datasets
        .add(&name, std::slice::from_ref(&single), options)
        .await
        .unwrap();
    assert_eq!(v2.manifest.version, 2);
    assert_eq!(v2.manifest.description.as_deref(), Some("second day"));

    let all = datasets.versions(&name).await.unwrap();
    assert_eq!(all.iter().map(|m| m.version).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(all[1], v2.manifest);
    let latest = datasets.resolve(&"trips".parse().unwrap()).await.unwrap();
    assert_eq!(latest.version, 2);
    let list = datasets.list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].versions, 2);

    let out = tmp.path().join("out");
    let got = datasets.get(&all[0], &out).await.unwrap();
    assert_eq!(got, all[0].bytes());
    assert_eq!(
        std::fs::read(out.join("day1/sub/part-1.parquet")).unwrap(),
        std::fs::read(folder.join("sub/part-1.parquet")).unwrap()
    );
    let found = datasets.find_digest(v2.manifest.digest).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].version, 2);

    let missing = datasets
        .resolve(&"trips@3".parse().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(missing, DataError::NotFound { .. }), "{missing}");
}

#[tokio::test]
async fn a_tampered_object_is_refused_and_leaves_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let datasets = open(&store);
    let name = DatasetName::parse("trips").unwrap();
    let data = write_parquet(&tmp.path().join("a.parquet"), 1000, 0.0, false);
    let added = datasets
        .add(&name, &[data], AddOptions::default())
        .await
        .unwrap();
    let Location::Stored { sha256 } = &added.manifest.files[0].location else {
        panic!("stored");
    };
    let object = files_under(&store, sha256).pop().unwrap();
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&object, bytes).unwrap();

    let out = tmp.path().join("out");
    let err = datasets.get(&added.manifest, &out).await.unwrap_err();
    match &err {
        DataError::DigestMismatch { expected, path, .. } => {
            assert_eq!(expected, sha256);
            assert_eq!(path, "a.parquet");
        }
        other => panic!("expected a digest mismatch, got {other}"),
    }
    assert!(!out.join("a.parquet").exists());
    let leftovers = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(leftovers, 0, "a temporary file was left behind");
}

#[tokio::test]
async fn bad_inputs_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let datasets = open(&store);
    let name = DatasetName::parse("trips").unwrap();
    let text = tmp.path().join("notes.parquet");
    std::fs::write(&text, "this is not parquet at all").unwrap();
    let err = datasets
        .add(&name, &[text], AddOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, DataError::Parquet { .. }), "{err}");
    assert!(files_under(&store, "objects").is_empty());
    assert!(files_under(&store, "versions").is_empty());
    // The failed add released its claim of the content: a retry does not wait for it.
    assert!(files_under(&store, "content").is_empty());

    // Two files with other schemas cannot be one version.
    let a = write_parquet(&tmp.path().join("x/a.parquet"), 10, 0.0, false);
    let b = write_parquet(&tmp.path().join("y/b.parquet"), 10, 0.0, true);
    let err = datasets
        .add(&name, &[a.clone(), b], AddOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, DataError::Parquet { .. }), "{err}");
    // Two inputs that would have the same path in the version.
    let a2 = write_parquet(&tmp.path().join("z/a.parquet"), 10, 0.0, false);
    let err = datasets
        .add(&name, &[a, a2], AddOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, DataError::Argument { .. }), "{err}");
    assert!(DatasetName::parse("../up").is_err());
    assert!("trips@01".parse::<mlops_data::DatasetSpec>().is_err());
}

#[tokio::test]
async fn concurrent_adds_of_different_content_get_distinct_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let name = DatasetName::parse("trips").unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let file = write_parquet(
            &tmp.path().join(format!("in{i}/part.parquet")),
            200,
            f64::from(i),
            false,
        );
        let datasets = open(&store);
        let name = name.clone();
        tasks.push(tokio::spawn(async move {
            datasets
                .add(&name, &[file], AddOptions::default())
                .await
                .unwrap()
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        let added = task.await.unwrap();
        assert!(added.created);
        versions.push(added.manifest.version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=8).collect::<Vec<_>>());
    assert_eq!(open(&store).versions(&name).await.unwrap().len(), 8);
}

#[tokio::test]
async fn concurrent_adds_of_the_same_content_make_one_version() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let name = DatasetName::parse("trips").unwrap();
    let file = write_parquet(&tmp.path().join("same.parquet"), 20_000, 0.0, false);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let datasets = open(&store);
        let (name, file) = (name.clone(), file.clone());
        tasks.push(tokio::spawn(async move {
            datasets
                .add(&name, &[file], AddOptions::default())
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    for task in tasks {
        let added = task.await.unwrap();
        assert_eq!(added.manifest.version, 1);
        created += usize::from(added.created);
    }
    assert_eq!(created, 1);
    assert_eq!(open(&store).versions(&name).await.unwrap().len(), 1);
}
