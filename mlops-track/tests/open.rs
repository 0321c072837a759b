//! `mlops_track::open`: a backend from a URI, and the run handle it starts.

use std::sync::Arc;

use mlops_core::ArtifactPath;
use mlops_track::{
    ExperimentName, LocalStore, OpenOptions, RunOptions, RunStatus, TrackError, TrackingStore,
    TrackingStoreExt,
};

#[tokio::test]
async fn folders_open_as_the_embedded_store_and_missing_ones_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("runs");
    let path = folder.to_str().unwrap();
    let refused = mlops_track::open_with(path, OpenOptions::default().create_if_missing(false))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, TrackError::NotFound { what: "tracking store", id } if id == path),
        "{refused:?}"
    );
    assert!(!folder.exists(), "a refused open creates nothing");

    let store = mlops_track::open(path).await.unwrap();
    assert!(format!("{store:?}").contains("LocalStore"), "{store:?}");
    let name = ExperimentName::parse("churn").unwrap();
    let id = store.get_or_create_experiment(&name).await.unwrap();
    assert!(folder.join("FORMAT.json").is_file());

    // Now it exists: opening without creating finds what was written.
    let again = mlops_track::open_with(
        &format!("file://{path}"),
        OpenOptions::default().create_if_missing(false),
    )
    .await
    .unwrap();
    assert_eq!(again.get_or_create_experiment(&name).await.unwrap(), id);
}

#[tokio::test]
async fn http_urls_are_mlflow_servers_and_nothing_is_sent_until_asked() {
    for url in ["http://127.0.0.1:1", "HTTP://localhost:5000/mlflow"] {
        let store = mlops_track::open_with(
            url,
            OpenOptions::default()
                .credentials_from_env(false)
                .with_token("s3cret"),
        )
        .await
        .unwrap();
        let shown = format!("{store:?}");
        assert!(shown.contains("MlflowStore"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
    // A URL MLflow's client refuses is refused here too, before any request.
    let refused = mlops_track::open("http://user:pw@127.0.0.1:1")
        .await
        .unwrap_err();
    assert!(matches!(refused, TrackError::Invalid(_)), "{refused:?}");
    let refused = mlops_track::open("ftp://somewhere/").await.unwrap_err();
    assert!(matches!(refused, TrackError::Invalid(_)), "{refused:?}");
}

#[tokio::test]
async fn a_run_started_from_any_store_handle_logs_artifacts() {
    let local = Arc::new(
        LocalStore::open_uri(&"memory://".parse().unwrap())
            .await
            .unwrap(),
    );
    let opened: Arc<dyn TrackingStore> = local.clone();
    let experiment = opened
        .get_or_create_experiment(&ExperimentName::parse("artifacts").unwrap())
        .await
        .unwrap();
    // From the concrete store and from the trait object alike.
    for (i, run) in [
        local
            .start_run(
                &experiment,
                None,
                RunOptions::default().without_system_tags(),
            )
            .await
            .unwrap(),
        opened
            .start_run(
                &experiment,
                None,
                RunOptions::default().without_system_tags(),
            )
            .await
            .unwrap(),
    ]
    .into_iter()
    .enumerate()
    {
        let body = format!("weights {i}");
        run.log_artifact("model/weights.txt", body.clone().into_bytes())
            .await
            .unwrap();
        let refused = run.log_artifact("../escape.txt", b"x".to_vec()).await;
        assert!(
            matches!(refused, Err(TrackError::Invalid(_))),
            "{refused:?}"
        );
        let id = run.run_id().clone();
        run.finish(RunStatus::Finished).await.unwrap();
        let bytes = local
            .download_artifact(&id, &ArtifactPath::parse("model/weights.txt").unwrap())
            .await
            .unwrap();
        assert_eq!(bytes, body.as_bytes());
        assert_eq!(
            local.get_run(&id).await.unwrap().info.status,
            RunStatus::Finished
        );
    }
}
