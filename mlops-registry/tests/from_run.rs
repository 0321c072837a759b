//! Registering a version from a run's artifacts: files copied with digests, the run linked,
//! its metrics snapshotted.

use bytes::Bytes;
use mlops_core::{ArtifactPath, ExperimentName, Metric, MetricKey, ModelName, Timestamp};
use mlops_registry::{ModelRegistry, NewVersion, RegistryExt};
use mlops_track::{LocalStore, NewRun, TrackingStore};

use crate::util::folder_registry;

#[tokio::test]
async fn a_version_from_a_run_records_the_run_and_its_metrics() {
    let tracking = LocalStore::open_uri(&"memory://".parse().unwrap())
        .await
        .unwrap();
    let experiment = tracking
        .create_experiment(&ExperimentName::parse("churn").unwrap(), &[])
        .await
        .unwrap();
    let run = tracking
        .create_run(NewRun {
            experiment_id: experiment.clone(),
            run_name: None,
            user_id: "ada".into(),
            start_time: Timestamp::now(),
            tags: vec![],
        })
        .await
        .unwrap()
        .info
        .run_id;
    let acc = MetricKey::parse("accuracy").unwrap();
    let points: Vec<Metric> = (0..5)
        .map(|s| Metric::new(acc.clone(), 0.5 + s as f64 / 10.0, Timestamp::now(), s))
        .collect();
    tracking.log_batch(&run, &points, &[], &[]).await.unwrap();
    for (path, bytes) in [
        ("model/weights.bin", "w"),
        ("model/sub/config.json", "{}"),
        ("plots/roc.svg", "<svg/>"),
    ] {
        tracking
            .log_artifact(
                &run,
                &ArtifactPath::parse(path).unwrap(),
                Bytes::from(bytes),
            )
            .await
            .unwrap();
    }

    let new = NewVersion::from_run(
        &tracking,
        &run,
        Some(&ArtifactPath::parse("model").unwrap()),
    )
    .await
    .unwrap();
    let (registry, _dir) = folder_registry();
    let name = ModelName::parse("churn").unwrap();
    registry.create_model(&name, None, &[]).await.unwrap();
    let info = registry.create_version(&name, new).await.unwrap();
    let paths: Vec<&str> = info.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["sub/config.json", "weights.bin"],
        "paths relative to the run folder; plots/ left out"
    );
    let link = info.run.as_ref().unwrap();
    assert_eq!(link.run_id, run);
    assert_eq!(link.experiment_id, experiment);
    assert_eq!(
        link.artifact_path.as_ref().map(ArtifactPath::as_str),
        Some("model")
    );
    assert_eq!(
        info.metric("accuracy"),
        Some(0.9),
        "the latest point is snapshotted"
    );
    let all = registry.download_all(&name, info.version).await.unwrap();
    assert_eq!(all.len(), 2);

    // The whole run, and a source URI.
    let whole = NewVersion::from_run(&tracking, &run, None).await.unwrap();
    assert_eq!(whole.artifacts.len(), 3);
    let from_uri = NewVersion::from_source(
        &tracking,
        &format!("runs:/{run}/plots"),
        Some(&run),
        Some(&experiment),
    )
    .await
    .unwrap();
    assert_eq!(from_uri.artifacts[0].0.as_str(), "roc.svg");
}
