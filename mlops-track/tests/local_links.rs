//! A local store never follows links and never trusts a record found in the wrong place:
//! a record linked or copied from another run's log must not make one run read as another,
//! and a link loop must not break reads (issue 17, finding 4).

use std::path::Path;

use mlops_core::{ExperimentName, RunId, StoreUri, Timestamp};
use mlops_track::{LocalStore, NewRun, RunQuery, TrackingStore, ViewType};

async fn open(dir: &Path) -> LocalStore {
    let uri = StoreUri::parse(dir.to_str().unwrap()).unwrap();
    LocalStore::open_uri(&uri).await.unwrap()
}

/// A store with two runs in one experiment; returns the store's experiment id and the runs.
async fn two_runs(dir: &Path) -> (mlops_core::ExperimentId, RunId, RunId) {
    let store = open(dir).await;
    let experiment = store
        .create_experiment(&ExperimentName::parse("links").unwrap(), &[])
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let run = store
            .create_run(NewRun {
                experiment_id: experiment.clone(),
                run_name: None,
                user_id: "ada".into(),
                start_time: Timestamp::now(),
                tags: vec![],
            })
            .await
            .unwrap();
        ids.push(run.info.run_id);
    }
    let b = ids.pop().unwrap();
    let a = ids.pop().unwrap();
    (experiment, a, b)
}

fn record0(dir: &Path, run: &RunId) -> std::path::PathBuf {
    dir.join("runs")
        .join(run.as_str())
        .join("meta")
        .join("0000000000.jsonl")
}

async fn listed(store: &LocalStore, experiment: &mlops_core::ExperimentId) -> Vec<RunId> {
    let page = store
        .search_runs(&RunQuery {
            experiment_ids: vec![experiment.clone()],
            view: ViewType::All,
            ..RunQuery::default()
        })
        .await
        .unwrap();
    let mut ids: Vec<RunId> = page.items.into_iter().map(|r| r.info.run_id).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_record_linked_from_another_run_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let (experiment, a, b) = two_runs(dir.path()).await;
    std::fs::remove_file(record0(dir.path(), &a)).unwrap();
    std::os::unix::fs::symlink(record0(dir.path(), &b), record0(dir.path(), &a)).unwrap();

    let store = open(dir.path()).await;
    if let Ok(run) = store.get_run(&a).await {
        assert_eq!(run.info.run_id, a, "runs show A printed another run");
    }
    assert_eq!(listed(&store, &experiment).await, vec![b.clone()]);
    let report = store.check().await.unwrap();
    assert!(report.links >= 1, "{report:?}");
    assert!(!report.is_clean());
}

#[tokio::test]
async fn a_record_copied_from_another_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (experiment, a, b) = two_runs(dir.path()).await;
    std::fs::copy(record0(dir.path(), &b), record0(dir.path(), &a)).unwrap();

    let store = open(dir.path()).await;
    let err = store.get_run(&a).await.unwrap_err();
    assert!(err.to_string().contains(a.as_str()), "{err}");
    assert_eq!(listed(&store, &experiment).await, vec![b.clone()]);
    let report = store.check().await.unwrap();
    assert_eq!(report.unreadable_runs, vec![a], "{report:?}");
}

#[tokio::test]
async fn a_link_loop_does_not_break_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (experiment, a, b) = two_runs(dir.path()).await;
    let runs = dir.path().join("runs");
    std::os::unix::fs::symlink(&runs, runs.join(a.as_str()).join("meta").join("loop")).unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("experiments").join("loop")).unwrap();

    let store = open(dir.path()).await;
    assert_eq!(store.get_run(&a).await.unwrap().info.run_id, a);
    let mut both = vec![a, b];
    both.sort();
    assert_eq!(listed(&store, &experiment).await, both);
    let report = store.check().await.unwrap();
    assert!(report.links >= 1, "{report:?}");
}

/// Keys no listing gives (a run's lease, the root's `FORMAT.json`) are read by name; a link
/// there, or on the way there, is refused and reported, never followed (issue 17).
#[tokio::test]
async fn a_linked_lease_or_format_marker_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let (_, a, b) = two_runs(dir.path()).await;
    let runs = dir.path().join("runs");
    let lease_a = runs.join(a.as_str()).join("lease.json");
    assert!(lease_a.exists());
    std::fs::remove_file(&lease_a).unwrap();
    std::os::unix::fs::symlink(runs.join(b.as_str()).join("lease.json"), &lease_a).unwrap();
    let store = open(dir.path()).await;
    assert!(
        store
            .stale_run(&a, std::time::Duration::from_secs(3600))
            .await
            .is_ok()
    );
    let damage = store.damage();
    assert!(
        damage
            .iter()
            .any(|d| d.key.ends_with("lease.json") && d.reason.contains("symbolic link")),
        "{damage:?}"
    );

    // FORMAT.json linked to another store's marker: the store does not open.
    let other = tempfile::tempdir().unwrap();
    open(other.path()).await;
    let marker = dir.path().join("FORMAT.json");
    std::fs::remove_file(&marker).unwrap();
    std::os::unix::fs::symlink(other.path().join("FORMAT.json"), &marker).unwrap();
    let uri = StoreUri::parse(dir.path().to_str().unwrap()).unwrap();
    let err = LocalStore::open_uri(&uri).await.err().unwrap();
    assert!(err.to_string().contains("symbolic link"), "{err}");
}
