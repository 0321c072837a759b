//! Artifacts.

use super::support::*;

/// Artifacts: upload, overwrite, download, and listing one folder at a time.
pub async fn artifacts(store: &dyn TrackingStore) {
    let experiment = new_experiment(store, "artifacts").await;
    let id = new_run(store, &experiment).await.info.run_id;
    let files = [
        ("model/weights.bin", Bytes::from(vec![0u8, 1, 2, 255])),
        ("model/config.json", Bytes::from_static(b"{\"layers\": 3}")),
        ("readme.txt", Bytes::from_static(b"hello")),
        ("plots/roc curve.svg", Bytes::from_static(b"<svg/>")),
        ("plots/deep/er.txt", Bytes::from_static(b"")),
    ];
    for (path, bytes) in &files {
        store
            .log_artifact(&id, &artifact_path(path), bytes.clone())
            .await
            .unwrap_or_else(|e| panic!("log_artifact {path}: {e}"));
    }
    for (path, bytes) in &files {
        let got = store
            .download_artifact(&id, &artifact_path(path))
            .await
            .unwrap_or_else(|e| panic!("download_artifact {path}: {e}"));
        assert_eq!(&got, bytes, "{path}");
    }
    let root = store
        .list_artifacts(&id, None)
        .await
        .expect("list_artifacts");
    let summary: Vec<(String, bool, Option<u64>)> = root
        .iter()
        .map(|a| (a.path.to_string(), a.is_dir, a.size))
        .collect();
    assert_eq!(
        summary,
        [
            ("model".to_owned(), true, None),
            ("plots".to_owned(), true, None),
            ("readme.txt".to_owned(), false, Some(5)),
        ],
        "the root folder"
    );
    let model = store
        .list_artifacts(&id, Some(&artifact_path("model")))
        .await
        .expect("list model/");
    let summary: Vec<(String, bool, Option<u64>)> = model
        .iter()
        .map(|a| (a.path.to_string(), a.is_dir, a.size))
        .collect();
    assert_eq!(
        summary,
        [
            ("model/config.json".to_owned(), false, Some(13)),
            ("model/weights.bin".to_owned(), false, Some(4)),
        ],
        "paths are relative to the run's artifact root"
    );
    let plots = store
        .list_artifacts(&id, Some(&artifact_path("plots")))
        .await
        .expect("list plots/");
    let summary: Vec<(String, bool)> = plots
        .iter()
        .map(|a| (a.path.to_string(), a.is_dir))
        .collect();
    assert_eq!(
        summary,
        [
            ("plots/deep".to_owned(), true),
            ("plots/roc curve.svg".to_owned(), false)
        ]
    );
    assert!(
        store
            .list_artifacts(&id, Some(&artifact_path("no/such/folder")))
            .await
            .expect("listing a missing folder")
            .is_empty()
    );

    store
        .log_artifact(
            &id,
            &artifact_path("readme.txt"),
            Bytes::from_static(b"hello again"),
        )
        .await
        .expect("overwrite");
    assert_eq!(
        store
            .download_artifact(&id, &artifact_path("readme.txt"))
            .await
            .expect("download"),
        Bytes::from_static(b"hello again")
    );
    match store
        .download_artifact(&id, &artifact_path("missing.bin"))
        .await
    {
        Err(TrackError::NotFound { .. }) => {}
        other => panic!("downloading a missing artifact: expected NotFound, got {other:?}"),
    }
    assert!(
        store
            .log_artifact(&RunId::generate(), &artifact_path("x.txt"), Bytes::new())
            .await
            .is_err(),
        "log_artifact to an unknown run must fail"
    );
}
