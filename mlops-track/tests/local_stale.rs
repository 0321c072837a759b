//! Runs whose writer died are found (`stale_run`) and ended with a chosen status and a tag
//! saying why (`mark_stale_runs`) (issue 17, finding 6).

use std::time::Duration;

use mlops_core::{ExperimentName, RunStatus, StoreUri, Timestamp};
use mlops_track::local::{STALE_TAG, StaleReason};
use mlops_track::{LocalStore, NewRun, TrackingStore};

#[tokio::test]
async fn a_run_whose_lease_expired_is_marked_failed_with_a_tag() {
    let dir = tempfile::tempdir().unwrap();
    let uri = StoreUri::parse(dir.path().to_str().unwrap()).unwrap();
    let store = LocalStore::open_uri(&uri).await.unwrap();
    let experiment = store
        .create_experiment(&ExperimentName::parse("stale").unwrap(), &[])
        .await
        .unwrap();
    let run = store
        .create_run(NewRun {
            experiment_id: experiment,
            run_name: None,
            user_id: "ada".into(),
            start_time: Timestamp::now(),
            tags: vec![],
        })
        .await
        .unwrap()
        .info
        .run_id;
    let max_age = Duration::from_secs(600);
    assert!(store.stale_run(&run, max_age).await.unwrap().is_none());

    // The writer was on another host and stopped renewing an hour ago.
    let lease_path = dir
        .path()
        .join("runs")
        .join(run.as_str())
        .join("lease.json");
    let mut lease: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&lease_path).unwrap()).unwrap();
    let hour_ago = Timestamp::now().as_millis() - 3_600_000;
    lease["host"] = "another-host".into();
    lease["renewed"] = hour_ago.into();
    std::fs::write(&lease_path, serde_json::to_vec(&lease).unwrap()).unwrap();

    let stale = store.stale_run(&run, max_age).await.unwrap().unwrap();
    assert_eq!(stale.reason, StaleReason::LeaseExpired);
    assert!(
        store
            .mark_stale_runs(max_age, RunStatus::Running)
            .await
            .is_err()
    );
    let marked = store
        .mark_stale_runs(max_age, RunStatus::Failed)
        .await
        .unwrap();
    assert_eq!(marked.len(), 1);
    let got = store.get_run(&run).await.unwrap();
    assert_eq!(got.info.status, RunStatus::Failed);
    assert_eq!(got.info.end_time.unwrap().as_millis(), hour_ago);
    assert_eq!(got.data.tag(STALE_TAG), Some("lease-expired"));
    // Marked once: the run is no longer stale.
    assert!(store.stale_run(&run, max_age).await.unwrap().is_none());
    assert!(
        store
            .mark_stale_runs(max_age, RunStatus::Killed)
            .await
            .unwrap()
            .is_empty()
    );
}
