//! `LocalStore` beyond the shared suite: the on-disk format, compaction, damaged and partial
//! state, leases and stale runs, checkpoints, and concurrent writers to one run.

// Tests report their figures and losses on stderr.
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use mlops_core::{
    ExperimentName, Metric, MetricKey, Param, RunId, RunStatus, StoreUri, Tag, Timestamp,
};
use mlops_track::TrackingStoreExt;
use mlops_track::local::{LocalStoreOptions, StaleReason};
use mlops_track::{
    ExperimentQuery, LocalStore, NewRun, RunQuery, TrackError, TrackingStore, ViewType,
};

use crate::support::{T0, point};

async fn open_folder(dir: &Path) -> LocalStore {
    let uri = StoreUri::parse(dir.to_str().unwrap()).unwrap();
    LocalStore::open_uri(&uri).await.unwrap()
}

async fn open_folder_with(dir: &Path, options: LocalStoreOptions) -> LocalStore {
    let root = StoreUri::parse(dir.to_str().unwrap())
        .unwrap()
        .open()
        .unwrap();
    LocalStore::open_with_options(root, options).await.unwrap()
}

async fn experiment_and_run(store: &LocalStore, name: &str) -> RunId {
    let experiment = store
        .create_experiment(&ExperimentName::parse(name).unwrap(), &[])
        .await
        .unwrap();
    store
        .create_run(NewRun {
            experiment_id: experiment,
            run_name: None,
            user_id: "test".into(),
            start_time: Timestamp::now(),
            tags: vec![],
        })
        .await
        .unwrap()
        .info
        .run_id
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect()
}

/// Reads a Parquet file the way an outside engine would: the file alone.
fn read_parquet_file(path: &Path) -> Vec<(String, f64, i64, i64)> {
    use arrow_array::{Float64Array, Int64Array, StringArray};
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["key", "value", "timestamp", "step"]);
        let col = |i: usize| batch.column(i).clone();
        let keys = col(0);
        let keys = keys.as_any().downcast_ref::<StringArray>().unwrap();
        let values = col(1);
        let values = values.as_any().downcast_ref::<Float64Array>().unwrap();
        let ts = col(2);
        let ts = ts.as_any().downcast_ref::<Int64Array>().unwrap();
        let steps = col(3);
        let steps = steps.as_any().downcast_ref::<Int64Array>().unwrap();
        for i in 0..batch.num_rows() {
            rows.push((
                keys.value(i).to_owned(),
                values.value(i),
                ts.value(i),
                steps.value(i),
            ));
        }
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layout_is_the_documented_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_folder(dir.path()).await;
    let run = experiment_and_run(&store, "layout").await;
    store
        .log_batch(
            &run,
            &[point("loss", 0.5, 0)],
            &[Param::parse("lr", "0.1").unwrap()],
            &[],
        )
        .await
        .unwrap();
    store
        .log_artifact(
            &run,
            &mlops_core::ArtifactPath::parse("model/w.bin").unwrap(),
            Bytes::from_static(b"w"),
        )
        .await
        .unwrap();
    let root = dir.path();
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("FORMAT.json")).unwrap()).unwrap();
    assert_eq!(marker["format"], "mlops-track");
    assert_eq!(marker["version"], 1);
    assert!(root.join("experiments/log/0000000000.jsonl").is_file());
    let run_dir = root.join("runs").join(run.as_str());
    assert!(run_dir.join("meta/0000000000.jsonl").is_file());
    assert!(run_dir.join("meta/0000000001.jsonl").is_file());
    assert!(run_dir.join("lease.json").is_file());
    assert_eq!(
        std::fs::read(run_dir.join("artifacts/model/w.bin")).unwrap(),
        b"w"
    );
    assert_eq!(with_ext(&run_dir.join("metrics"), "jsonl").len(), 1);
    let markers = files_under(&root.join("experiments/runs"));
    assert_eq!(markers.len(), 1);
    assert!(markers[0].ends_with(run.as_str()));
    // A record: a header line with length and CRC-32C, then the JSON.
    let record = std::fs::read_to_string(run_dir.join("meta/0000000001.jsonl")).unwrap();
    let mut lines = record.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["mlops"], "run-record");
    let body: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(body["op"], "data");
    assert_eq!(body["params"][0]["key"], "lr");
    // No staging files are left behind.
    assert!(
        files_under(root)
            .iter()
            .all(|p| !p.to_string_lossy().contains('#'))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_compact_into_parquet_that_outside_readers_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_folder_with(
        dir.path(),
        LocalStoreOptions::default().with_compact_after_segments(8),
    )
    .await;
    let run = experiment_and_run(&store, "compaction").await;
    let metrics_dir = dir.path().join("runs").join(run.as_str()).join("metrics");
    let mut logged = Vec::new();
    for batch in 0..20 {
        let points: Vec<Metric> = (0..50)
            .map(|i| {
                let step = batch * 50 + i;
                let value = if step == 77 { f64::NAN } else { step as f64 };
                point("loss", value, step)
            })
            .collect();
        store.log_batch(&run, &points, &[], &[]).await.unwrap();
        logged.extend(points);
    }
    // Two automatic compactions of 8 segments; 4 segments wait.
    assert_eq!(with_ext(&metrics_dir, "parquet").len(), 2);
    assert_eq!(with_ext(&metrics_dir, "jsonl").len(), 4);
    let key = MetricKey::parse("loss").unwrap();
    let history = store.get_metric_history(&run, &key).await.unwrap();
    assert_eq!(history.len(), logged.len());
    assert!(history.iter().zip(&logged).all(|(a, b)| a.same_point(b)));
    // A fresh process reads the same.
    let other = open_folder(dir.path()).await;
    let history = other.get_metric_history(&run, &key).await.unwrap();
    assert_eq!(history.len(), logged.len());

    // Ending the run folds everything into one Parquet file.
    store
        .update_run(&run, Some(RunStatus::Finished), None, None)
        .await
        .unwrap();
    let files = with_ext(&metrics_dir, "parquet");
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(with_ext(&metrics_dir, "jsonl").is_empty());
    let rows = read_parquet_file(&files[0]);
    assert_eq!(rows.len(), logged.len());
    for (row, want) in rows.iter().zip(&logged) {
        assert_eq!(row.0, want.key.as_str());
        assert!(row.1.to_bits() == want.value.to_bits() || (row.1.is_nan() && want.value.is_nan()));
        assert_eq!(row.2, want.timestamp.as_millis());
        assert_eq!(row.3, want.step);
    }
    // The other handle folds the compaction (its cached segments are gone) and agrees.
    let history = other.get_metric_history(&run, &key).await.unwrap();
    assert_eq!(history.len(), logged.len());
    assert_eq!(
        other.get_run(&run).await.unwrap().data.metric("loss"),
        Some(999.0)
    );
    assert!(store.check().await.unwrap().is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_reads_the_compacted_metrics() {
    let Ok(python) = std::env::var(mlops_core::testing::PYTHON) else {
        eprintln!(
            "skipped: {} is not set (scripts/test.sh sets it)",
            mlops_core::testing::PYTHON
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = open_folder(dir.path()).await;
    let run = experiment_and_run(&store, "pyarrow").await;
    let points = [
        point("loss", 0.25, 0),
        point("loss", f64::NAN, 1),
        point("loss", f64::INFINITY, 2),
        point("acc", f64::NEG_INFINITY, 0),
    ];
    store.log_batch(&run, &points, &[], &[]).await.unwrap();
    store
        .update_run(&run, Some(RunStatus::Finished), None, None)
        .await
        .unwrap();
    let metrics = dir.path().join("runs").join(run.as_str()).join("metrics");
    let script = r#"
import sys, math, pyarrow.dataset as ds
t = ds.dataset(sys.argv[1], format="parquet").to_table()
assert t.schema.names == ["key", "value", "timestamp", "step"], t.schema
rows = t.to_pylist()
assert len(rows) == 4, rows
# Rows are grouped by key (so one key's history skips other row groups), each key's points
# in logged order.
loss = [r for r in rows if r["key"] == "loss"]
acc = [r for r in rows if r["key"] == "acc"]
assert loss[0] == {"key": "loss", "value": 0.25, "timestamp": 1700000000000, "step": 0}, loss[0]
assert math.isnan(loss[1]["value"]) and loss[2]["value"] == math.inf
assert len(acc) == 1 and acc[0]["value"] == -math.inf
print("ok")
"#;
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(&metrics)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pyarrow failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_and_partial_state_is_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_folder(dir.path()).await;
    let run = experiment_and_run(&store, "damage").await;
    store
        .log_batch(
            &run,
            &[point("m", 1.0, 0)],
            &[Param::parse("a", "1").unwrap()],
            &[],
        )
        .await
        .unwrap();
    let run_dir = dir.path().join("runs").join(run.as_str());

    // A record with a bad checksum in the next slot, a torn (truncated) one after it, and a
    // damaged metric segment.
    let good = std::fs::read(run_dir.join("meta/0000000001.jsonl")).unwrap();
    let mut flipped = good.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0x20;
    std::fs::write(run_dir.join("meta/0000000002.jsonl"), &flipped).unwrap();
    std::fs::write(
        run_dir.join("meta/0000000003.jsonl"),
        &good[..good.len() / 2],
    )
    .unwrap();
    std::fs::write(
        run_dir.join("metrics/00000000000000000000000000000000.jsonl"),
        b"{\"mlops\":\"metric-segment\"",
    )
    .unwrap();
    // A run folder whose creation never finished, and an orphan Parquet file (a compaction
    // that crashed before it was recorded).
    let orphan_run = RunId::generate();
    std::fs::create_dir_all(
        dir.path()
            .join("runs")
            .join(orphan_run.as_str())
            .join("meta"),
    )
    .unwrap();
    std::fs::write(
        run_dir.join("metrics/ffffffffffffffffffffffffffffffff.parquet"),
        b"not parquet",
    )
    .unwrap();

    let fresh = open_folder(dir.path()).await;
    let got = fresh.get_run(&run).await.unwrap();
    assert_eq!(got.data.param("a"), Some("1"));
    assert_eq!(got.data.metric("m"), Some(1.0));
    let report = fresh.check().await.unwrap();
    assert_eq!(report.runs, 1);
    assert_eq!(report.unreadable_records, 2, "{report:?}");
    assert_eq!(report.unreadable_segments, 1, "{report:?}");
    assert_eq!(report.incomplete_runs, 1, "{report:?}");
    assert!(!report.is_clean());
    // Writes go on after the damaged slots.
    fresh
        .log_batch(&run, &[], &[Param::parse("b", "2").unwrap()], &[])
        .await
        .unwrap();
    assert!(run_dir.join("meta/0000000004.jsonl").is_file());
    assert_eq!(
        open_folder(dir.path())
            .await
            .get_run(&run)
            .await
            .unwrap()
            .data
            .param("b"),
        Some("2")
    );
    // Searching is not disturbed.
    let experiment = got.info.experiment_id.clone();
    let page = fresh
        .search_runs(&RunQuery {
            experiment_ids: vec![experiment],
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    // A damaged creation record makes only that run unreadable.
    std::fs::write(run_dir.join("meta/0000000000.jsonl"), b"garbage").unwrap();
    let fresh = open_folder(dir.path()).await;
    assert!(matches!(
        fresh.get_run(&run).await,
        Err(TrackError::Corrupt { .. })
    ));
    assert_eq!(fresh.check().await.unwrap().unreadable_runs, vec![run]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_inside_a_compaction_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_folder(dir.path()).await;
    let run = experiment_and_run(&store, "half-compacted").await;
    let metrics_dir = dir.path().join("runs").join(run.as_str()).join("metrics");
    for b in 0..3 {
        store
            .log_batch(&run, &[point("m", f64::from(b), i64::from(b))], &[], &[])
            .await
            .unwrap();
    }
    let segments: Vec<(PathBuf, Vec<u8>)> = with_ext(&metrics_dir, "jsonl")
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    store.compact_run(&run, true).await.unwrap().unwrap();
    // Put the compacted segments back: as if the process died after recording the
    // compaction but before deleting what it covers.
    for (path, bytes) in &segments {
        std::fs::write(path, bytes).unwrap();
    }
    let fresh = open_folder(dir.path()).await;
    let key = MetricKey::parse("m").unwrap();
    let history = fresh.get_metric_history(&run, &key).await.unwrap();
    assert_eq!(history.len(), 3, "{history:?}");
    assert!(fresh.check().await.unwrap().is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_left_running_by_a_dead_writer_are_found_and_killed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_folder(dir.path()).await;
    let mine = experiment_and_run(&store, "stale").await;
    let experiment = store.get_run(&mine).await.unwrap().info.experiment_id;
    let new_run = || NewRun {
        experiment_id: experiment.clone(),
        run_name: None,
        user_id: "test".into(),
        start_time: Timestamp::now(),
        tags: vec![],
    };
    let dead = store.create_run(new_run()).await.unwrap().info.run_id;
    let remote = store.create_run(new_run()).await.unwrap().info.run_id;
    let finished = store.create_run(new_run()).await.unwrap().info.run_id;
    store
        .log_batch(&dead, &[point("m", 1.0, 0)], &[], &[])
        .await
        .unwrap();
    store
        .update_run(&finished, Some(RunStatus::Finished), None, None)
        .await
        .unwrap();
    // Rewrite two leases: a process of this host that has exited (a child we waited for),
    // and a writer on another host that stopped renewing an hour ago.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let lease_path = |run: &RunId| {
        dir.path()
            .join("runs")
            .join(run.as_str())
            .join("lease.json")
    };
    let mut lease: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lease_path(&dead)).unwrap()).unwrap();
    lease["pid"] = dead_pid.into();
    std::fs::write(lease_path(&dead), serde_json::to_vec(&lease).unwrap()).unwrap();
    let hour_ago = Timestamp::now().as_millis() - 3_600_000;
    lease["host"] = "another-host".into();
    lease["renewed"] = hour_ago.into();
    std::fs::write(lease_path(&remote), serde_json::to_vec(&lease).unwrap()).unwrap();

    let stale = store.stale_runs(Duration::from_secs(600)).await.unwrap();
    let reasons: Vec<(RunId, StaleReason)> =
        stale.iter().map(|s| (s.run_id.clone(), s.reason)).collect();
    let mut expected = vec![
        (dead.clone(), StaleReason::WriterExited),
        (remote.clone(), StaleReason::LeaseExpired),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(reasons, expected);
    // A shorter allowed age does not make a live writer stale.
    let stale = store.stale_runs(Duration::ZERO).await.unwrap();
    assert!(stale.iter().all(|s| s.run_id != mine));

    let mut marked = store
        .mark_stale_runs_killed(Duration::from_secs(600))
        .await
        .unwrap();
    marked.sort();
    assert_eq!(
        marked,
        expected.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>()
    );
    let killed = store.get_run(&remote).await.unwrap();
    assert_eq!(killed.info.status, RunStatus::Killed);
    assert_eq!(killed.info.end_time.unwrap().as_millis(), hour_ago);
    assert_eq!(
        store.get_run(&dead).await.unwrap().data.metric("m"),
        Some(1.0)
    );
    assert_eq!(
        store.get_run(&mine).await.unwrap().info.status,
        RunStatus::Running
    );
    assert!(
        store
            .stale_runs(Duration::from_secs(600))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment_checkpoints_spare_new_readers_the_replay() {
    let uri = StoreUri::parse("memory://").unwrap();
    let root = uri.open().unwrap();
    let store = LocalStore::open(root.clone()).await.unwrap();
    for i in 0..510 {
        let id = store
            .create_experiment(&ExperimentName::parse(format!("e{i}")).unwrap(), &[])
            .await
            .unwrap();
        if i == 3 {
            store
                .set_experiment_tag(&id, &Tag::parse("k", "v").unwrap())
                .await
                .unwrap();
            store
                .rename_experiment(&id, &ExperimentName::parse("renamed").unwrap())
                .await
                .unwrap();
            store.delete_experiment(&id).await.unwrap();
        }
    }
    let checkpoints: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(root.store().list(
        Some(&object_store::path::Path::from("experiments/checkpoints")),
    ))
    .await
    .unwrap();
    assert_eq!(checkpoints.len(), 1);
    let fresh = LocalStore::open(root).await.unwrap();
    let all = fresh
        .search_experiments(&ExperimentQuery {
            view: ViewType::All,
            max_results: Some(1000),
            ..ExperimentQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.items.len(), 510);
    let renamed = fresh
        .get_experiment_by_name(&ExperimentName::parse("renamed").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.lifecycle_stage, mlops_core::LifecycleStage::Deleted);
    assert_eq!(renamed.tags.len(), 1);
    assert!(
        fresh
            .get_experiment_by_name(&ExperimentName::parse("e3").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_on_one_run_never_give_a_param_two_values() {
    let dir = tempfile::tempdir().unwrap();
    let a = open_folder(dir.path()).await;
    let b = open_folder(dir.path()).await;
    let run = experiment_and_run(&a, "two-writers").await;
    b.get_run(&run).await.unwrap();
    // Interleaved writes through two caches: each claim that loses its slot folds the
    // other's record and checks again.
    for i in 0..20 {
        let (pa, pb) = (
            [Param::parse(&format!("a{i}"), "1").unwrap()],
            [Param::parse(&format!("b{i}"), "1").unwrap()],
        );
        let (ma, mb) = ([point("a", 1.0, i)], [point("b", 1.0, i)]);
        let (ta, tb) = (
            [Tag::parse("last", "a").unwrap()],
            [Tag::parse("last", "b").unwrap()],
        );
        let (x, y) = tokio::join!(
            a.log_batch(&run, &ma, &pa, &ta),
            b.log_batch(&run, &mb, &pb, &tb),
        );
        x.unwrap();
        y.unwrap();
    }
    // Both race on one key with different values: exactly one wins.
    let (from_a, from_b) = (
        [Param::parse("shared", "from-a").unwrap()],
        [Param::parse("shared", "from-b").unwrap()],
    );
    let (x, y) = tokio::join!(
        a.log_batch(&run, &[], &from_a, &[]),
        b.log_batch(&run, &[], &from_b, &[]),
    );
    let conflicts = [&x, &y]
        .iter()
        .filter(|r| matches!(r, Err(TrackError::ParamConflict { .. })))
        .count();
    assert_eq!(conflicts, 1, "{x:?} {y:?}");
    let winner = if x.is_ok() { "from-a" } else { "from-b" };
    for store in [&a, &b, &open_folder(dir.path()).await] {
        let got = store.get_run(&run).await.unwrap();
        assert_eq!(got.data.params.len(), 41);
        assert_eq!(got.data.param("shared"), Some(winner));
        for key in ["a", "b"] {
            let history = store
                .get_metric_history(&run, &MetricKey::parse(key).unwrap())
                .await
                .unwrap();
            assert_eq!(history.len(), 20);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_holding_something_else_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("FORMAT.json"),
        br#"{"format":"something-else","version":1}"#,
    )
    .unwrap();
    let uri = StoreUri::parse(dir.path().to_str().unwrap()).unwrap();
    assert!(matches!(
        LocalStore::open_uri(&uri).await,
        Err(TrackError::Corrupt { .. })
    ));
    std::fs::write(
        dir.path().join("FORMAT.json"),
        br#"{"format":"mlops-track","version":99}"#,
    )
    .unwrap();
    assert!(matches!(
        LocalStore::open_uri(&uri).await,
        Err(TrackError::InvalidState(_))
    ));
}

/// Logging throughput, points/s logged and flushed (durable) to a local folder, in batches
/// of 1000: one call at a time, and 8 calls in flight (as a buffered logger can issue them;
/// their writes and fsyncs overlap). Run with `cargo test --release -p mlops-track --test
/// integration -- --ignored --nocapture throughput`; `MLOPS_THROUGHPUT_POINTS` sets the
/// number of points (100 000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run it in release mode"]
async fn throughput() {
    use futures::{StreamExt, TryStreamExt};
    let total: i64 = std::env::var("MLOPS_THROUGHPUT_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let batches: Vec<Vec<Metric>> = (0..total / 1000)
        .map(|b| {
            (0..1000)
                .map(|i| point("loss", 1.0 / ((b * 1000 + i) as f64 + 1.0), b * 1000 + i))
                .collect()
        })
        .collect();
    for in_flight in [1, 8] {
        let dir = tempfile::tempdir().unwrap();
        let store = open_folder(dir.path()).await;
        let run = experiment_and_run(&store, "throughput").await;
        let started = std::time::Instant::now();
        futures::stream::iter(&batches)
            .map(|batch| store.log_batch(&run, batch, &[], &[]))
            .buffered(in_flight)
            .try_collect::<Vec<()>>()
            .await
            .unwrap();
        let logged = started.elapsed();
        store
            .update_run(&run, Some(RunStatus::Finished), None, None)
            .await
            .unwrap();
        let finished = started.elapsed();
        let history_started = std::time::Instant::now();
        let history = store
            .get_metric_history(&run, &MetricKey::parse("loss").unwrap())
            .await
            .unwrap();
        let history_time = history_started.elapsed();
        assert_eq!(history.len() as i64, total);
        assert!(
            history.windows(2).all(|w| w[0].step < w[1].step),
            "logged order"
        );
        eprintln!(
            "throughput, {in_flight} call(s) in flight: {total} points in {:.3} s = {:.0} \
             points/s logged and fsynced; {:.0} points/s with the final compaction into \
             Parquet ({:.3} s); history read back in {:.3} s",
            logged.as_secs_f64(),
            total as f64 / logged.as_secs_f64(),
            total as f64 / finished.as_secs_f64(),
            finished.as_secs_f64(),
            history_time.as_secs_f64(),
        );
    }
}

/// Search over many runs (`MLOPS_SEARCH_RUNS`, 10 000 by default), cold (a new handle reads
/// every run) and warm (cached). Run with `cargo test --release -p mlops-track --test
/// integration -- --ignored --nocapture search_many_runs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run it in release mode"]
async fn search_many_runs() {
    use futures::{StreamExt, TryStreamExt};
    let runs: usize = std::env::var("MLOPS_SEARCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let store = open_folder(dir.path()).await;
    let experiment = store
        .create_experiment(&ExperimentName::parse("search").unwrap(), &[])
        .await
        .unwrap();
    let started = std::time::Instant::now();
    futures::stream::iter(0..runs)
        .map(|i| {
            let store = store.clone();
            let experiment = experiment.clone();
            async move {
                let run = store
                    .create_run(NewRun {
                        experiment_id: experiment,
                        run_name: None,
                        user_id: "bench".into(),
                        start_time: Timestamp::from_millis(T0 + i as i64).unwrap(),
                        tags: vec![],
                    })
                    .await?
                    .info
                    .run_id;
                let alpha = if i % 2 == 0 { "0.1" } else { "0.5" };
                store
                    .log_batch(
                        &run,
                        &[point("rmse", (i % 100) as f64 / 100.0, 0)],
                        &[Param::parse("alpha", alpha).unwrap()],
                        &[],
                    )
                    .await?;
                store
                    .update_run(&run, Some(RunStatus::Finished), None, None)
                    .await
                    .map(drop)
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
    let created = started.elapsed();
    let query = RunQuery {
        experiment_ids: vec![experiment],
        filter: Some("metrics.rmse < 0.5 and params.alpha = '0.1'".into()),
        max_results: Some(50_000),
        ..RunQuery::default()
    };
    let cold_store = open_folder(dir.path()).await;
    let t = std::time::Instant::now();
    let page = cold_store.search_runs(&query).await.unwrap();
    let cold = t.elapsed();
    assert_eq!(page.items.len(), runs / 4);
    let mut warm = Duration::MAX;
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let page = cold_store.search_runs(&query).await.unwrap();
        warm = warm.min(t.elapsed());
        assert_eq!(page.items.len(), runs / 4);
    }
    let cached = open_folder_with(
        dir.path(),
        LocalStoreOptions::default().with_refresh_interval(Duration::from_secs(3600)),
    )
    .await;
    cached.search_runs(&query).await.unwrap();
    let mut in_memory = Duration::MAX;
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let page = cached.search_runs(&query).await.unwrap();
        in_memory = in_memory.min(t.elapsed());
        assert_eq!(page.items.len(), runs / 4);
    }
    let t = std::time::Instant::now();
    let report = cold_store.check().await.unwrap();
    let check = t.elapsed();
    assert!(report.is_clean());
    let t = std::time::Instant::now();
    let report = open_folder(dir.path()).await.check().await.unwrap();
    let recovery = t.elapsed();
    assert_eq!(report.runs, runs);
    eprintln!(
        "search: {runs} runs created (and finished) in {:.1} s; search with a filter: cold (new \
         handle reads every run) {:.3} s, warm (best of 3) {:.3} s, warm without re-listing \
         {:.3} s; check of a warm handle {:.3} s; open + check of a new handle (recovery) \
         {:.3} s",
        created.as_secs_f64(),
        cold.as_secs_f64(),
        warm.as_secs_f64(),
        in_memory.as_secs_f64(),
        check.as_secs_f64(),
        recovery.as_secs_f64()
    );
}
