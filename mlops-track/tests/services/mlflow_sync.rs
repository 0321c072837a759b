//! Sync from an embedded store to the real MLflow server, read back through MLflow's own
//! Python client.

use std::collections::BTreeMap;

use mlops_core::StoreUri;
use mlops_core::testing::{MLFLOW_URI, PYTHON, require_env};
use mlops_track::mlflow::MlflowStore;
use mlops_track::sync::{SOURCE_RUN_TAG, SyncOptions, sync};
use mlops_track::{ExperimentName, LocalStore, RunId, RunStatus, Tag, TrackingStore};

use crate::support::offline::{nothing_written, point, populate, ts};

/// Every run of one experiment as MLflow's Python client sees it.
const READ_EXPERIMENT: &str = r#"
import json, math, sys, tempfile
from mlflow import MlflowClient

uri, name = sys.argv[1], sys.argv[2]
client = MlflowClient(tracking_uri=uri)
experiment = client.get_experiment_by_name(name)

def value(v):
    if math.isnan(v):
        return "NaN"
    return v

def walk(run_id, path, dst):
    out = {}
    for f in client.list_artifacts(run_id, path):
        if f.is_dir:
            out.update(walk(run_id, f.path, dst))
        else:
            local = client.download_artifacts(run_id, f.path, dst)
            with open(local, "rb") as fh:
                out[f.path] = fh.read().hex()
    return out

runs = {}
for run in client.search_runs([experiment.experiment_id], run_view_type=3, max_results=1000):
    with tempfile.TemporaryDirectory() as dst:
        artifacts = walk(run.info.run_id, None, dst)
    source = run.data.tags.get("mlops.sync.source_run_id")
    assert source not in runs, f"two copies of {source}"
    runs[source] = {
        "status": run.info.status,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "run_name": run.info.run_name,
        "user_id": run.info.user_id,
        "lifecycle_stage": run.info.lifecycle_stage,
        "params": run.data.params,
        "tags": run.data.tags,
        "metrics": {
            key: [[m.step, m.timestamp, value(m.value)] for m in client.get_metric_history(run.info.run_id, key)]
            for key in run.data.metrics
        },
        "inputs": [
            {
                "name": i.dataset.name, "digest": i.dataset.digest,
                "source_type": i.dataset.source_type, "source": i.dataset.source,
                "schema": i.dataset.schema, "profile": i.dataset.profile,
                "tags": {t.key: t.value for t in i.tags},
            }
            for i in run.inputs.dataset_inputs
        ],
        "artifacts": artifacts,
    }
print(json.dumps({"tags": experiment.tags, "runs": runs}))
"#;

fn read_through_python(uri: &str, experiment: &ExperimentName) -> serde_json::Value {
    let output = std::process::Command::new(require_env(PYTHON))
        .arg("-c")
        .arg(READ_EXPERIMENT)
        .arg(uri)
        .arg(experiment.as_str())
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// What MLflow's client should show for a run of the local store.
async fn expected_json(store: &LocalStore, id: &RunId) -> serde_json::Value {
    let run = store.get_run(id).await.unwrap();
    let mut metrics = serde_json::Map::new();
    for latest in &run.data.metrics {
        let history = store.get_metric_history(id, &latest.key).await.unwrap();
        let mut points: Vec<(i64, i64, serde_json::Value)> = history
            .iter()
            .map(|m| {
                let value = if m.value.is_nan() {
                    serde_json::json!("NaN")
                } else if m.value.is_infinite() {
                    // MLflow's SQL store keeps ±infinity as ±f64::MAX.
                    serde_json::json!(f64::MAX.copysign(m.value))
                } else {
                    serde_json::json!(m.value)
                };
                (m.step, m.timestamp.as_millis(), value)
            })
            .collect();
        points.sort_by(|a, b| {
            (a.0, a.1)
                .cmp(&(b.0, b.1))
                .then_with(|| a.2.to_string().cmp(&b.2.to_string()))
        });
        metrics.insert(latest.key.to_string(), serde_json::json!(points));
    }
    let mut artifacts = BTreeMap::new();
    let mut folders = vec![None];
    while let Some(folder) = folders.pop() {
        for entry in store.list_artifacts(id, folder.as_ref()).await.unwrap() {
            if entry.is_dir {
                folders.push(Some(entry.path));
            } else {
                let bytes = store.download_artifact(id, &entry.path).await.unwrap();
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                artifacts.insert(entry.path.to_string(), hex);
            }
        }
    }
    let params: BTreeMap<_, _> = run
        .data
        .params
        .iter()
        .map(|p| (p.key().to_string(), p.value()))
        .collect();
    serde_json::json!({
        "status": run.info.status.to_string(),
        "start_time": run.info.start_time.as_millis(),
        "end_time": run.info.end_time.map(|t| t.as_millis()),
        "run_name": run.info.run_name.as_ref().map(|n| n.as_str()),
        "user_id": run.info.user_id,
        "params": params,
        "metrics": metrics,
        "inputs": run.inputs.iter().map(|i| serde_json::json!({
            "name": i.dataset.name, "digest": i.dataset.digest,
            "source_type": i.dataset.source_type, "source": i.dataset.source,
            "schema": i.dataset.schema, "profile": i.dataset.profile,
            "tags": i.tags.iter().map(|t| (t.key().to_string(), t.value().to_owned())).collect::<BTreeMap<_, _>>(),
        })).collect::<Vec<_>>(),
        "artifacts": artifacts,
    })
}

/// MLflow's JSON sorts numbers within a point list by its own rules; compare point sets
/// independent of how ties were ordered.
fn normalise(mut run: serde_json::Value) -> serde_json::Value {
    if let Some(metrics) = run.get_mut("metrics").and_then(|m| m.as_object_mut()) {
        for points in metrics.values_mut() {
            if let Some(list) = points.as_array_mut() {
                list.sort_by_key(|p| p.to_string());
            }
        }
    }
    run
}

#[tokio::test]
async fn sync_to_mlflow_reads_back_identically_through_mlflows_client_and_twice_copies_nothing() {
    let uri = require_env(MLFLOW_URI);
    let dir = tempfile::tempdir().unwrap();
    let source = LocalStore::open_uri(&StoreUri::parse(dir.path().to_str().unwrap()).unwrap())
        .await
        .unwrap();
    let name = ExperimentName::parse(format!("sync/offline-{}", RunId::generate())).unwrap();
    let experiment = source
        .create_experiment(&name, &[Tag::parse("owner", "hpc").unwrap()])
        .await
        .unwrap();
    let (done, running) = populate(&source, &experiment).await;
    let target = MlflowStore::new(&uri).unwrap();
    let options = SyncOptions::default().with_experiment(name.clone());

    let first = sync(&source, &target, &options).await.unwrap();
    assert!(first.is_complete(), "{:?}", first.failures);
    assert_eq!((first.experiments_created, first.runs_created), (1, 2));
    let second = sync(&source, &target, &options).await.unwrap();
    nothing_written(&second);
    assert_eq!(second.runs.len(), 2);

    // The running run ends offline; a third sync copies just that.
    let more = [point("loss", 99.0, 1_700_000_100_050, 50)];
    source.log_batch(&running, &more, &[], &[]).await.unwrap();
    source
        .update_run(
            &running,
            Some(RunStatus::Finished),
            Some(ts(1_700_000_300_000)),
            None,
        )
        .await
        .unwrap();
    let third = sync(&source, &target, &options).await.unwrap();
    assert!(third.is_complete(), "{:?}", third.failures);
    assert_eq!(
        (third.runs_written, third.metric_points, third.runs_created),
        (1, 1, 0)
    );
    nothing_written(&sync(&source, &target, &options).await.unwrap());

    let seen = read_through_python(&uri, &name);
    assert_eq!(seen["tags"]["owner"], "hpc");
    let runs = seen["runs"].as_object().unwrap();
    assert_eq!(runs.len(), 2, "one copy per source run: {:?}", runs.keys());
    for id in [&done, &running] {
        let mut theirs = runs[id.as_str()].clone();
        assert_eq!(theirs["lifecycle_stage"], "active");
        let tags = theirs.as_object_mut().unwrap().remove("tags").unwrap();
        theirs.as_object_mut().unwrap().remove("lifecycle_stage");
        let ours = source.get_run(id).await.unwrap();
        for t in &ours.data.tags {
            assert_eq!(tags[t.key().as_str()], t.value(), "{id} tag {}", t.key());
        }
        assert_eq!(tags[SOURCE_RUN_TAG], id.as_str());
        assert_eq!(
            normalise(theirs),
            normalise(expected_json(&source, id).await),
            "{id}"
        );
    }
}
