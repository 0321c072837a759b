//! C1, C4 and C5: several processes write one local folder at once.
//!
//! Four child processes (this test binary, re-run on the ignored test
//! `local_multiprocess::writer_child`) start together, race to create one experiment name
//! (C4: exactly one wins, all get its id), then each creates `MLOPS_MP_RUNS` runs (50 by
//! default) with 1000 metric points, params and a tag, and finishes them. Meanwhile the
//! parent searches and reads the store without pause (C5: readers never fail on partial
//! state). At the end every run is present, complete and well-formed (C1).

// Tests report their figures and losses on stderr.
#![allow(clippy::print_stderr)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mlops_core::{ExperimentName, Metric, MetricKey, Param, RunStatus, StoreUri, Tag, Timestamp};
use mlops_track::{ExperimentQuery, LocalStore, NewRun, RunQuery, TrackError, TrackingStore};
use serde::{Deserialize, Serialize};

const CHILD_DIR: &str = "MLOPS_MP_CHILD_DIR";
const CHILD_INDEX: &str = "MLOPS_MP_CHILD_INDEX";
const CHILD_RUNS: &str = "MLOPS_MP_CHILD_RUNS";
const EXPERIMENT: &str = "shared by four processes";
const PROCESSES: usize = 4;
const POINTS: i64 = 1000;

#[derive(Serialize, Deserialize, Debug)]
struct ChildReport {
    won: bool,
    experiment: String,
    runs: Vec<String>,
    seconds: f64,
    log_batch_p99_ms: f64,
}

fn runs_per_child() -> usize {
    std::env::var("MLOPS_MP_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

async fn open(dir: &Path) -> LocalStore {
    LocalStore::open_uri(&StoreUri::parse(dir.to_str().unwrap()).unwrap())
        .await
        .unwrap()
}

fn value(index: usize, run: usize, step: i64) -> f64 {
    (index * 1_000_000 + run * 1000) as f64 + step as f64
}

#[test]
#[ignore = "a child process of several_processes_write_one_folder"]
fn writer_child() {
    let (Ok(dir), Ok(index), Ok(runs)) = (
        std::env::var(CHILD_DIR),
        std::env::var(CHILD_INDEX),
        std::env::var(CHILD_RUNS),
    ) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(child_main(
        PathBuf::from(&dir),
        index.parse().unwrap(),
        runs.parse().unwrap(),
    ));
    std::fs::write(
        Path::new(&dir).join(format!("report-{index}.json")),
        serde_json::to_vec(&report).unwrap(),
    )
    .unwrap();
}

async fn child_main(dir: PathBuf, index: usize, runs: usize) -> ChildReport {
    let store = open(&dir.join("store")).await;
    // Start together: the parent creates `go` once every child is spawned.
    while !dir.join("go").exists() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let started = Instant::now();
    let name = ExperimentName::parse(EXPERIMENT).unwrap();
    let (won, experiment) = match store.create_experiment(&name, &[]).await {
        Ok(id) => (true, id),
        Err(TrackError::AlreadyExists { .. }) => (
            false,
            store
                .get_experiment_by_name(&name)
                .await
                .unwrap()
                .unwrap()
                .experiment_id,
        ),
        Err(e) => panic!("create_experiment: {e}"),
    };
    let key = MetricKey::parse("m").unwrap();
    let mut ids = Vec::new();
    let mut latencies = Vec::new();
    for r in 0..runs {
        let run = store
            .create_run(NewRun {
                experiment_id: experiment.clone(),
                run_name: None,
                user_id: format!("process-{index}"),
                start_time: Timestamp::now(),
                tags: vec![],
            })
            .await
            .unwrap()
            .info
            .run_id;
        let points: Vec<Metric> = (0..POINTS)
            .map(|step| {
                Metric::new(
                    key.clone(),
                    value(index, r, step),
                    Timestamp::from_millis(1_700_000_000_000 + step).unwrap(),
                    step,
                )
            })
            .collect();
        store
            .log_batch(
                &run,
                &[],
                &[
                    Param::parse("process", index.to_string()).unwrap(),
                    Param::parse("run", r.to_string()).unwrap(),
                ],
                &[Tag::parse("writer", format!("process-{index}")).unwrap()],
            )
            .await
            .unwrap();
        let t = Instant::now();
        store.log_batch(&run, &points, &[], &[]).await.unwrap();
        latencies.push(t.elapsed());
        store
            .update_run(
                &run,
                Some(RunStatus::Finished),
                Some(Timestamp::now()),
                None,
            )
            .await
            .unwrap();
        ids.push(run.to_string());
    }
    latencies.sort();
    ChildReport {
        won,
        experiment: experiment.to_string(),
        runs: ids,
        seconds: started.elapsed().as_secs_f64(),
        log_batch_p99_ms: latencies
            .get(latencies.len() * 99 / 100)
            .or(latencies.last())
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_processes_write_one_folder() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let runs = runs_per_child();
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<_> = (0..PROCESSES)
        .map(|index| {
            Command::new(&exe)
                .args([
                    "local_multiprocess::writer_child",
                    "--exact",
                    "--ignored",
                    "--test-threads",
                    "1",
                    "--quiet",
                ])
                .env(CHILD_DIR, dir.path())
                .env(CHILD_INDEX, index.to_string())
                .env(CHILD_RUNS, runs.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    // Let them open the store, then start them together.
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(dir.path().join("go"), b"").unwrap();
    let started = Instant::now();

    // C5: read while they write.
    let reader = open(&store_dir).await;
    let name = ExperimentName::parse(EXPERIMENT).unwrap();
    let (mut reads, mut reader_errors) = (0usize, Vec::new());
    loop {
        let running = children.iter_mut().any(|c| c.try_wait().unwrap().is_none());
        match reader.get_experiment_by_name(&name).await {
            Ok(Some(experiment)) => {
                let query = RunQuery {
                    experiment_ids: vec![experiment.experiment_id],
                    filter: Some("metrics.m >= 0".to_owned()),
                    ..RunQuery::default()
                };
                match reader.search_runs(&query).await {
                    Ok(page) => {
                        reads += 1;
                        if let Some(run) = page.items.first()
                            && let Err(e) = reader.get_run(&run.info.run_id).await
                        {
                            reader_errors.push(e.to_string());
                        }
                    }
                    Err(e) => reader_errors.push(e.to_string()),
                }
            }
            Ok(None) => {}
            Err(e) => reader_errors.push(e.to_string()),
        }
        if let Err(e) = reader.search_experiments(&ExperimentQuery::default()).await {
            reader_errors.push(e.to_string());
        }
        if !running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = started.elapsed();
    for child in &mut children {
        assert!(child.wait().unwrap().success(), "a writer failed");
    }
    assert!(reader_errors.is_empty(), "reader errors: {reader_errors:?}");

    // C4: one id for the shared name, created once.
    let reports: Vec<ChildReport> = (0..PROCESSES)
        .map(|i| {
            serde_json::from_slice(
                &std::fs::read(dir.path().join(format!("report-{i}.json"))).unwrap(),
            )
            .unwrap()
        })
        .collect();
    assert_eq!(reports.iter().filter(|r| r.won).count(), 1, "{reports:?}");
    let ids: HashSet<&str> = reports.iter().map(|r| r.experiment.as_str()).collect();
    assert_eq!(ids.len(), 1, "{reports:?}");

    // C1: every run present, complete, well-formed.
    let store = open(&store_dir).await;
    let experiment = store.get_experiment_by_name(&name).await.unwrap().unwrap();
    assert_eq!(
        experiment.experiment_id.as_str(),
        *ids.iter().next().unwrap()
    );
    let page = store
        .search_runs(&RunQuery {
            experiment_ids: vec![experiment.experiment_id.clone()],
            max_results: Some(50_000),
            ..RunQuery::default()
        })
        .await
        .unwrap();
    let found: HashSet<String> = page
        .items
        .iter()
        .map(|r| r.info.run_id.to_string())
        .collect();
    let written: HashSet<String> = reports
        .iter()
        .flat_map(|r| r.runs.iter().cloned())
        .collect();
    assert_eq!(written.len(), PROCESSES * runs, "duplicate run ids");
    assert_eq!(found, written, "runs lost or extra");
    let key = MetricKey::parse("m").unwrap();
    let mut points = 0;
    for run in &page.items {
        assert_eq!(run.info.status, RunStatus::Finished);
        let index: usize = run.data.param("process").unwrap().parse().unwrap();
        let r: usize = run.data.param("run").unwrap().parse().unwrap();
        assert_eq!(
            run.data.tag("writer"),
            Some(format!("process-{index}").as_str())
        );
        assert_eq!(run.data.metric("m"), Some(value(index, r, POINTS - 1)));
        let history = store
            .get_metric_history(&run.info.run_id, &key)
            .await
            .unwrap();
        assert_eq!(history.len(), POINTS as usize);
        assert!(
            history
                .iter()
                .enumerate()
                .all(|(step, p)| p.value == value(index, r, step as i64))
        );
        points += history.len();
    }
    let report = store.check().await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.runs, PROCESSES * runs);
    assert_eq!(report.incomplete_runs, 0);
    let total_runs = PROCESSES * runs;
    eprintln!(
        "multi-process: {PROCESSES} processes x {runs} runs x {POINTS} points into one folder in \
         {:.2} s: {total_runs} runs present (0 lost, 0 duplicated, 0 malformed), {points} points; \
         {:.0} runs/s, {:.0} points/s overall; log_batch p99 per process (ms): {:?}; \
         one experiment id for the shared name (1 create won, {} got AlreadyExists); \
         reader passes during the writes: {reads}, reader errors: 0",
        wall.as_secs_f64(),
        total_runs as f64 / wall.as_secs_f64(),
        points as f64 / wall.as_secs_f64(),
        reports
            .iter()
            .map(|r| (r.log_batch_p99_ms * 10.0).round() / 10.0)
            .collect::<Vec<_>>(),
        PROCESSES - 1,
    );
}
