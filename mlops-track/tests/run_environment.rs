//! The run environment (issue 16 item 5): compiler and target with every run; features,
//! `Cargo.lock` and the training configuration with `log_environment`.

use std::sync::Arc;

use mlops_core::{ArtifactPath, ExperimentName, RunStatus};
use mlops_track::{ActiveRun, LocalStore, RunEnvironment, RunOptions, TrackingStore, environment};

#[tokio::test]
async fn a_run_records_what_rebuilds_it() {
    let store = Arc::new(
        LocalStore::open_uri(&"memory://".parse().unwrap())
            .await
            .unwrap(),
    );
    let exp = store
        .create_experiment(&ExperimentName::parse("env").unwrap(), &[])
        .await
        .unwrap();
    let run = ActiveRun::start(
        store.clone(),
        &exp,
        None,
        RunOptions::default().with_git_dirty_check(false),
    )
    .await
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let lock = tmp.path().join("Cargo.lock");
    std::fs::write(&lock, "# a lock file\nversion = 4\n").unwrap();
    let env = RunEnvironment::new()
        .with_features(["onnx", "cloud", "onnx"])
        .with_cargo_lock(&lock)
        .with_config("train.toml", "epochs = 3\n");
    run.log_environment(&env).await.unwrap();
    let id = run.run_id().clone();
    run.finish(RunStatus::Finished).await.unwrap();

    let got = store.get_run(&id).await.unwrap();
    let tag = |key: &str| {
        got.data
            .tags
            .iter()
            .find(|t| t.key().as_str() == key)
            .map(|t| t.value().to_owned())
    };
    let rustc = tag(environment::RUSTC).unwrap();
    assert!(rustc.starts_with("rustc "), "{rustc}");
    assert!(!tag(environment::TARGET).unwrap().is_empty());
    assert_eq!(tag(environment::FEATURES).as_deref(), Some("cloud,onnx"));
    // sha256("# a lock file\nversion = 4\n")
    let lock_sha = tag(environment::CARGO_LOCK_SHA256).unwrap();
    assert_eq!(lock_sha.len(), 64);
    let stored = store
        .download_artifact(&id, &ArtifactPath::parse("environment/Cargo.lock").unwrap())
        .await
        .unwrap();
    assert_eq!(&stored[..], b"# a lock file\nversion = 4\n");
    let config = store
        .download_artifact(
            &id,
            &ArtifactPath::parse("environment/config/train.toml").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(&config[..], b"epochs = 3\n");
    assert_eq!(tag(environment::CONFIG_NAME).as_deref(), Some("train.toml"));

    // A lock file named but missing is an error, not a silent gap.
    let run = ActiveRun::start(
        store.clone(),
        &exp,
        None,
        RunOptions::default().with_git_dirty_check(false),
    )
    .await
    .unwrap();
    let missing = RunEnvironment::new().with_cargo_lock(tmp.path().join("nope.lock"));
    assert!(run.log_environment(&missing).await.is_err());
    let bad_name = RunEnvironment::new().with_config("../escape", "x");
    assert!(run.log_environment(&bad_name).await.is_err());
    run.finish(RunStatus::Finished).await.unwrap();
}
