//! A store written by the first release (`tests/fixtures/store-v1`, frozen) opens with this
//! code and reads identically: experiments, runs, every metric's history and the artifact
//! listing equal what the first release read (`expected/library.json`). Every field of the
//! expected JSON must be there with the same value; fields added since may be present too.

use std::path::{Path, PathBuf};

use mlops_track::{
    ExperimentQuery, OpenOptions, RunOptions, RunQuery, RunStatus, TrackingStore, TrackingStoreExt,
    ViewType,
};
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/store-v1")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Asserts that `actual` holds everything `expected` holds: the same keys with the same
/// values in objects (more keys are fine), the same number of items in arrays.
fn assert_contains(expected: &Value, actual: &Value, at: &str) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let Some(found) = a.get(key) else {
                    panic!("{at}.{key} is missing (expected {value})");
                };
                assert_contains(value, found, &format!("{at}.{key}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(
                e.len(),
                a.len(),
                "{at}: {} items, expected {}",
                a.len(),
                e.len()
            );
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                assert_contains(e, a, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(expected, actual, "{at}"),
    }
}

#[tokio::test]
async fn a_store_of_the_first_release_reads_identically() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    // A read may take leases or repair: work on a copy, never on the fixture.
    copy_dir(&fixture().join("store"), &root);
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture().join("expected/library.json")).unwrap(),
    )
    .unwrap();
    let store = mlops_track::open_with(
        root.to_str().unwrap(),
        OpenOptions::default().create_if_missing(false),
    )
    .await
    .unwrap();

    let experiments = store
        .search_all_experiments(&ExperimentQuery {
            view: ViewType::All,
            ..ExperimentQuery::default()
        })
        .await
        .unwrap();
    let runs = store
        .search_all_runs(&RunQuery {
            experiment_ids: experiments
                .iter()
                .map(|e| e.experiment_id.clone())
                .collect(),
            view: ViewType::All,
            order_by: vec!["attributes.start_time ASC".into()],
            ..RunQuery::default()
        })
        .await
        .unwrap();
    let mut runs_read = Vec::new();
    for run in &runs {
        let id = &run.info.run_id;
        let mut histories = serde_json::Map::new();
        for latest in &run.data.metrics {
            let history = store.get_metric_history(id, &latest.key).await.unwrap();
            histories.insert(
                latest.key.to_string(),
                serde_json::to_value(&history).unwrap(),
            );
        }
        let artifacts = store.list_artifacts(id, None).await.unwrap();
        runs_read.push(serde_json::json!({
            "run": store.get_run(id).await.unwrap(),
            "metric_history": histories,
            "artifacts": format!("{artifacts:?}"),
        }));
    }
    let read = serde_json::json!({ "experiments": experiments, "runs": runs_read });

    // Where the store lives is part of two fields: the fixture was read at /tmp/fx/store.
    let here = url_of(&root);
    let expected = serde_json::to_string(&serde_json::json!({
        "experiments": expected["experiments"],
        "runs": expected["runs"],
    }))
    .unwrap()
    .replace("file:///tmp/fx/store", &here);
    let expected: Value = serde_json::from_str(&expected).unwrap();
    assert_eq!(expected["runs"].as_array().map(Vec::len), Some(2));
    assert_contains(&expected, &read, "library");

    // This code writes to the old store (a new run, its lease and records), and the old
    // runs still read the same beside it.
    let experiment = experiments[0].experiment_id.clone();
    let run = store
        .start_run(
            &experiment,
            None,
            RunOptions::default().without_system_tags(),
        )
        .await
        .unwrap();
    run.log_artifact("notes.txt", b"written after the upgrade".to_vec())
        .await
        .unwrap();
    run.finish(RunStatus::Finished).await.unwrap();
    let again = store
        .search_all_runs(&RunQuery {
            experiment_ids: vec![experiment],
            view: ViewType::All,
            order_by: vec!["attributes.start_time ASC".into()],
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(again.len(), 3);
    for (i, old) in again.iter().take(2).enumerate() {
        assert_contains(
            &expected["runs"][i]["run"],
            &serde_json::to_value(old).unwrap(),
            &format!("after a write, run {i}"),
        );
    }
}

/// The `file://` URL the embedded store gives a folder (its path as given).
fn url_of(root: &Path) -> String {
    format!("file://{}", root.display())
}

#[tokio::test]
async fn the_trait_objects_read_the_same_as_the_store_itself() {
    // `open` answers an `Arc<dyn TrackingStore>`; the blanket `TrackingStoreExt` and the
    // `Arc` forwarding must not change what a read returns.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    copy_dir(&fixture().join("store"), &root);
    let uri = mlops_core::StoreUri::parse(root.to_str().unwrap()).unwrap();
    let direct = mlops_track::LocalStore::open_uri(&uri).await.unwrap();
    let opened = mlops_track::open(root.to_str().unwrap()).await.unwrap();
    let query = ExperimentQuery {
        view: ViewType::All,
        ..ExperimentQuery::default()
    };
    assert_eq!(
        direct.search_experiments(&query).await.unwrap(),
        opened.search_experiments(&query).await.unwrap()
    );
}
