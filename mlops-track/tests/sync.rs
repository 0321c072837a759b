//! Sync from an embedded store to another store: to a second embedded store (fast, every
//! rule), and to the real MLflow server, read back through MLflow's own Python client.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use mlops_core::testing::{MLFLOW_URI, PYTHON, require_env};
use mlops_core::{ArtifactPath, StoreUri};
use mlops_track::TrackingStoreExt;
use mlops_track::mlflow::MlflowStore;
use mlops_track::sync::{SOURCE_RUN_TAG, SyncOptions, SyncReport, sync};
use mlops_track::{
    DatasetInput, DatasetRef, ExperimentId, ExperimentName, LocalStore, Metric, MetricKey, NewRun,
    Param, RunId, RunName, RunQuery, RunStatus, Tag, Timestamp, TrackError, TrackingStore,
    ViewType,
};

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap()
}

fn point(key: &str, value: f64, ms: i64, step: i64) -> Metric {
    Metric::new(MetricKey::parse(key).unwrap(), value, ts(ms), step)
}

fn path(p: &str) -> ArtifactPath {
    ArtifactPath::parse(p).unwrap()
}

async fn memory() -> LocalStore {
    LocalStore::open_uri(&StoreUri::parse("memory://").unwrap())
        .await
        .unwrap()
}

async fn new_run(store: &dyn TrackingStore, experiment: &ExperimentId, name: &str) -> RunId {
    store
        .create_run(NewRun {
            experiment_id: experiment.clone(),
            run_name: Some(RunName::parse(name).unwrap()),
            user_id: "ada".into(),
            start_time: ts(1_700_000_000_000),
            tags: vec![Tag::parse("team", "search").unwrap()],
        })
        .await
        .unwrap()
        .info
        .run_id
}

fn input(name: &str) -> DatasetInput {
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(Float64Array::from(vec![1.0, 2.5, -3.0]))],
    )
    .unwrap();
    let data = DatasetRef::from_batches(name, "/data/train.parquet", schema, [&batch]).unwrap();
    DatasetInput::from_ref(&data, Some("training")).unwrap()
}

/// A finished run with everything a run can hold, and a running one.
async fn populate(store: &LocalStore, experiment: &ExperimentId) -> (RunId, RunId) {
    let done = new_run(store, experiment, "done").await;
    let mut loss: Vec<Metric> = (0..2500)
        .map(|i| {
            point(
                "loss",
                1.0 / (f64::from(i) + 1.0),
                1_700_000_000_000 + i64::from(i),
                i64::from(i),
            )
        })
        .collect();
    loss[3].value = f64::NAN;
    loss[4].value = f64::INFINITY;
    loss[5].value = f64::NEG_INFINITY;
    loss[6].value = -0.0;
    // Same step and timestamp, two values; and a point logged twice at another time.
    loss.push(point("loss", 0.5, 1_700_000_000_000, 0));
    loss.push(point("loss", 0.25, 1_700_000_009_000, 0));
    for chunk in loss.chunks(1000) {
        store.log_batch(&done, chunk, &[], &[]).await.unwrap();
    }
    let acc = [
        point("val/acc", 0.5, 1_700_000_000_500, 0),
        point("val/acc", 0.75, 1_700_000_000_600, 1),
    ];
    let params = [
        Param::parse("learning_rate", "0.01").unwrap(),
        Param::parse("config", "line one\nline \"two\" ünïcode").unwrap(),
    ];
    let tags = [
        Tag::parse("stage", "offline").unwrap(),
        Tag::parse("mlflow.user", "ada").unwrap(),
    ];
    store.log_batch(&done, &acc, &params, &tags).await.unwrap();
    store.log_inputs(&done, &[input("train")]).await.unwrap();
    for (p, bytes) in [
        ("model/weights.bin", &[0u8, 159, 146, 150, 255][..]),
        ("model/config/params.json", b"{\"lr\": 0.01}"),
        ("notes.txt", b"hello from an offline node"),
    ] {
        store
            .log_artifact(&done, &path(p), Bytes::copy_from_slice(bytes))
            .await
            .unwrap();
    }
    store
        .update_run(
            &done,
            Some(RunStatus::Finished),
            Some(ts(1_700_000_500_000)),
            None,
        )
        .await
        .unwrap();

    let running = new_run(store, experiment, "running").await;
    let first: Vec<Metric> = (0..10)
        .map(|i| {
            point(
                "loss",
                f64::from(i),
                1_700_000_100_000 + i64::from(i),
                i64::from(i),
            )
        })
        .collect();
    store.log_batch(&running, &first, &[], &[]).await.unwrap();
    (done, running)
}

fn nothing_written(report: &SyncReport) {
    assert!(report.is_complete(), "{:?}", report.failures);
    assert_eq!(
        (
            report.experiments_created,
            report.runs_created,
            report.runs_written,
            report.params,
            report.tags,
            report.metric_points,
            report.inputs,
            report.artifacts
        ),
        (0, 0, 0, 0, 0, 0, 0, 0),
        "{report:?}"
    );
}

async fn target_of(target: &dyn TrackingStore, experiment: &ExperimentId, source: &RunId) -> RunId {
    let runs = target
        .search_runs(&RunQuery {
            experiment_ids: vec![experiment.clone()],
            filter: Some(format!("tags.`{SOURCE_RUN_TAG}` = '{source}'")),
            view: ViewType::All,
            ..RunQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(runs.len(), 1, "exactly one copy of {source}");
    runs[0].info.run_id.clone()
}

fn same_history(a: &[Metric], b: &[Metric]) -> bool {
    let key = |m: &Metric| (m.step, m.timestamp.as_millis(), m.value.to_bits());
    let mut a: Vec<_> = a.iter().map(key).collect();
    let mut b: Vec<_> = b.iter().map(key).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

#[tokio::test]
async fn sync_between_embedded_stores_copies_everything_once() {
    let (source, target) = (memory().await, memory().await);
    let name = ExperimentName::parse("offline").unwrap();
    let tag = Tag::parse("owner", "ml-team").unwrap();
    let experiment = source
        .create_experiment(&name, std::slice::from_ref(&tag))
        .await
        .unwrap();
    let (done, running) = populate(&source, &experiment).await;

    let first = sync(&source, &target, &SyncOptions::default())
        .await
        .unwrap();
    assert!(first.is_complete(), "{:?}", first.failures);
    assert_eq!(
        (
            first.experiments_created,
            first.runs_created,
            first.runs_written
        ),
        (1, 2, 2)
    );
    assert_eq!(first.params, 2);
    assert_eq!(first.metric_points, 2502 + 2 + 10);
    assert_eq!((first.inputs, first.artifacts), (1, 3));

    let copy = target.get_experiment_by_name(&name).await.unwrap().unwrap();
    assert_eq!(copy.tags, [tag]);
    let target_done = target_of(&target, &copy.experiment_id, &done).await;
    let (a, b) = (
        source.get_run(&done).await.unwrap(),
        target.get_run(&target_done).await.unwrap(),
    );
    assert_eq!(b.info.status, RunStatus::Finished);
    assert_eq!(
        (b.info.start_time, b.info.end_time),
        (a.info.start_time, a.info.end_time)
    );
    assert_eq!(b.info.run_name, a.info.run_name);
    assert_eq!(b.data.params, a.data.params);
    for t in &a.data.tags {
        assert_eq!(b.data.tag(t.key().as_str()), Some(t.value()), "{}", t.key());
    }
    assert_eq!(b.data.tag(SOURCE_RUN_TAG), Some(done.as_str()));
    assert_eq!(b.inputs, a.inputs);
    for key in ["loss", "val/acc"] {
        let key = MetricKey::parse(key).unwrap();
        let (ha, hb) = (
            source.get_metric_history(&done, &key).await.unwrap(),
            target.get_metric_history(&target_done, &key).await.unwrap(),
        );
        assert!(same_history(&ha, &hb), "{key}");
    }
    let weights = target
        .download_artifact(&target_done, &path("model/weights.bin"))
        .await
        .unwrap();
    assert_eq!(&weights[..], &[0u8, 159, 146, 150, 255]);

    // Again: nothing is copied twice.
    nothing_written(
        &sync(&source, &target, &SyncOptions::default())
            .await
            .unwrap(),
    );

    // The running run goes on and ends; the next sync appends only what is new.
    let more: Vec<Metric> = (10..15)
        .map(|i| {
            point(
                "loss",
                f64::from(i),
                1_700_000_100_000 + i64::from(i),
                i64::from(i),
            )
        })
        .collect();
    source.log_batch(&running, &more, &[], &[]).await.unwrap();
    source
        .update_run(
            &running,
            Some(RunStatus::Failed),
            Some(ts(1_700_000_200_000)),
            None,
        )
        .await
        .unwrap();
    let third = sync(&source, &target, &SyncOptions::default())
        .await
        .unwrap();
    assert!(third.is_complete(), "{:?}", third.failures);
    assert_eq!(
        (third.runs_created, third.runs_written, third.metric_points),
        (0, 1, 5)
    );
    let target_running = target_of(&target, &copy.experiment_id, &running).await;
    let info = target.get_run(&target_running).await.unwrap().info;
    assert_eq!(
        (info.status, info.end_time),
        (RunStatus::Failed, Some(ts(1_700_000_200_000)))
    );
    let history = target
        .get_metric_history(&target_running, &MetricKey::parse("loss").unwrap())
        .await
        .unwrap();
    assert_eq!(history.len(), 15);

    // A param changed on the target is a conflict for that run only.
    let other = new_run(&source, &experiment, "third").await;
    source
        .log_batch(&other, &[], &[Param::parse("seed", "1").unwrap()], &[])
        .await
        .unwrap();
    target
        .log_batch(
            &target_done,
            &[],
            &[Param::parse("seed", "7").unwrap()],
            &[],
        )
        .await
        .unwrap();
    source
        .log_batch(&done, &[], &[Param::parse("seed", "1").unwrap()], &[])
        .await
        .unwrap();
    let fourth = sync(&source, &target, &SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(fourth.failures.len(), 1, "{:?}", fourth.failures);
    assert_eq!(fourth.failures[0].source_run.as_ref(), Some(&done));
    assert!(matches!(
        fourth.failures[0].error,
        TrackError::ParamConflict { .. }
    ));
    assert_eq!(fourth.runs_created, 1, "the other run is still synced");
}

#[tokio::test]
async fn deleted_runs_follow_with_include_deleted_and_experiments_can_be_chosen() {
    let (source, target) = (memory().await, memory().await);
    let keep = source
        .create_experiment(&ExperimentName::parse("keep").unwrap(), &[])
        .await
        .unwrap();
    let skip = source
        .create_experiment(&ExperimentName::parse("skip").unwrap(), &[])
        .await
        .unwrap();
    let gone = new_run(&source, &keep, "gone").await;
    source
        .log_batch(&gone, &[point("m", 1.0, 5, 0)], &[], &[])
        .await
        .unwrap();
    new_run(&source, &skip, "other").await;
    source.delete_run(&gone).await.unwrap();

    let only_keep = SyncOptions::default().with_experiment(ExperimentName::parse("keep").unwrap());
    let report = sync(&source, &target, &only_keep).await.unwrap();
    assert_eq!(
        (report.experiments_created, report.runs_created),
        (1, 0),
        "deleted runs stay out"
    );
    assert!(
        target
            .get_experiment_by_name(&ExperimentName::parse("skip").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    let with_deleted = only_keep.include_deleted(true);
    let report = sync(&source, &target, &with_deleted).await.unwrap();
    assert!(report.is_complete(), "{:?}", report.failures);
    assert_eq!((report.runs_created, report.metric_points), (1, 1));
    let target_keep = target
        .get_experiment_by_name(&ExperimentName::parse("keep").unwrap())
        .await
        .unwrap()
        .unwrap();
    let copy = target_of(&target, &target_keep.experiment_id, &gone).await;
    assert_eq!(
        target.get_run(&copy).await.unwrap().info.lifecycle_stage,
        mlops_track::LifecycleStage::Deleted
    );
    nothing_written(&sync(&source, &target, &with_deleted).await.unwrap());

    // Restored at the source: restored on the target.
    source.restore_run(&gone).await.unwrap();
    let report = sync(&source, &target, &with_deleted).await.unwrap();
    assert_eq!((report.runs_written, report.metric_points), (1, 0));
    assert_eq!(
        target.get_run(&copy).await.unwrap().info.lifecycle_stage,
        mlops_track::LifecycleStage::Active
    );

    let missing = SyncOptions::default().with_experiment(ExperimentName::parse("nope").unwrap());
    assert!(matches!(
        sync(&source, &target, &missing).await.unwrap_err(),
        TrackError::NotFound {
            what: "experiment",
            ..
        }
    ));
}

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
