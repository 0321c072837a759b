//! What a local store's readers skip is reported through `TrackingStore::damage`, never
//! just left out (issue 17, finding 4): an emptied experiments log, unreadable records and
//! metric files.

use std::path::Path;

use mlops_core::{ExperimentName, Metric, MetricKey, RunId, StoreUri, Timestamp};
use mlops_track::{ExperimentQuery, LocalStore, NewRun, RunQuery, TrackingStore, ViewType};

async fn open(dir: &Path) -> LocalStore {
    let uri = StoreUri::parse(dir.to_str().unwrap()).unwrap();
    LocalStore::open_uri(&uri).await.unwrap()
}

async fn one_run(dir: &Path) -> RunId {
    let store = open(dir).await;
    let experiment = store
        .create_experiment(&ExperimentName::parse("damage").unwrap(), &[])
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
        .unwrap();
    let key = MetricKey::parse("loss").unwrap();
    store
        .log_batch(
            &run.info.run_id,
            &[Metric::new(key, 0.5, Timestamp::now(), 0)],
            &[],
            &[],
        )
        .await
        .unwrap();
    run.info.run_id
}

async fn experiments(store: &LocalStore) -> usize {
    store
        .search_experiments(&ExperimentQuery {
            view: ViewType::All,
            ..ExperimentQuery::default()
        })
        .await
        .unwrap()
        .items
        .len()
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[tokio::test]
async fn a_clean_store_reports_no_damage() {
    let dir = tempfile::tempdir().unwrap();
    let run = one_run(dir.path()).await;
    let store = open(dir.path()).await;
    assert_eq!(experiments(&store).await, 1);
    store.get_run(&run).await.unwrap();
    assert_eq!(store.damage(), vec![]);
}

#[tokio::test]
async fn an_emptied_experiments_log_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    one_run(dir.path()).await;
    for file in files(&dir.path().join("experiments/log")) {
        std::fs::remove_file(file).unwrap();
    }
    let store = open(dir.path()).await;
    assert_eq!(experiments(&store).await, 0);
    let damage = store.damage();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert!(damage[0].reason.contains("emptied"), "{damage:?}");
}

#[tokio::test]
async fn truncated_experiments_records_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    one_run(dir.path()).await;
    for file in files(&dir.path().join("experiments/log")) {
        std::fs::write(file, b"").unwrap();
    }
    let store = open(dir.path()).await;
    assert_eq!(experiments(&store).await, 0);
    assert!(!store.damage().is_empty());
}

#[tokio::test]
async fn unreadable_run_records_and_segments_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let run = one_run(dir.path()).await;
    let run_dir = dir.path().join("runs").join(run.as_str());
    for file in files(&run_dir.join("metrics")) {
        std::fs::write(file, b"{\"mlops\":\"metric-segment\"").unwrap();
    }
    let store = open(dir.path()).await;
    let got = store.get_run(&run).await.unwrap();
    assert_eq!(got.data.metric("loss"), None);
    let damage = store.damage();
    assert!(
        damage.iter().any(|d| d.key.contains("/metrics/")),
        "{damage:?}"
    );

    // A creation record that cannot be read: the run is left out of searches, and said so.
    std::fs::write(run_dir.join("meta/0000000000.jsonl"), b"garbage").unwrap();
    let store = open(dir.path()).await;
    let page = store
        .search_runs(&RunQuery {
            experiment_ids: vec![got.info.experiment_id.clone()],
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert!(page.items.is_empty());
    assert!(
        store.damage().iter().any(|d| d.key.contains(run.as_str())),
        "{:?}",
        store.damage()
    );
}

#[tokio::test]
async fn a_damaged_compaction_record_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let run = one_run(dir.path()).await;
    let store = open(dir.path()).await;
    store.compact_run(&run, true).await.unwrap().unwrap();
    let meta = dir.path().join("runs").join(run.as_str()).join("meta");
    let mut records = files(&meta);
    records.sort();
    let last = records.pop().unwrap();
    std::fs::write(&last, b"{\"mlops\":\"run-record\"").unwrap();

    let store = open(dir.path()).await;
    let got = store.get_run(&run).await.unwrap();
    assert_eq!(
        got.data.metric("loss"),
        None,
        "the compacted points are lost"
    );
    let damage = store.damage();
    let name = last.file_name().unwrap().to_str().unwrap();
    assert!(damage.iter().any(|d| d.key.ends_with(name)), "{damage:?}");
}
