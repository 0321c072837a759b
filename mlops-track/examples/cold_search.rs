//! A new process's search of an embedded store, with and without the run index; one JSON
//! object on stdout per call. Used by `benches/compare/cold_search.py`, which starts a new
//! process for every search (build with `cargo build --release -p mlops-track --example
//! cold_search`).
//!
//! ```text
//! cold_search build   --dir DIR [--runs N] [--ended-now] [--points P]
//!                     an embedded store with N ended runs (experiment "search", and 100
//!                     more ended one at a time, for the cost of an ending alone); with
//!                     --ended-now written with the index on, so each run's ender writes its
//!                     summary (the runs just ended); with --points one more run whose metric
//!                     `loss` has P points, ended (its id is printed as "long_run")
//! cold_search index   --dir DIR              build its run index (no grace period: one writer)
//! cold_search search  --dir DIR [--no-index] open the store and search it once
//! cold_search history --dir DIR --run ID     open the store, read run ID and its `loss`
//!                                            history as columns (the chart's read)
//! ```
//!
//! The data and the filter are `track_vs_mlflow.py`'s: run i has `rmse = (i mod 100)/100`,
//! `alpha` = 0.1/0.2/0.5 by `i mod 3`, tag `team`; the search is `metrics.rmse < 0.5 and
//! params.alpha = '0.1'`, first page of 1000, newest first. `--no-index` reads every run from
//! its records (and writes nothing); otherwise runs the index covers are served from it, with
//! the default grace period (runs ended within it are served from their summaries).
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mlops_core::StoreUri;
use mlops_track::local::LocalStoreOptions;
use mlops_track::{
    ExperimentName, LocalStore, Metric, MetricKey, NewRun, Param, RunQuery, RunStatus, Tag,
    Timestamp, TrackingStore, TrackingStoreExt,
};
use serde_json::json;

type Error = Box<dyn std::error::Error + Send + Sync>;

const FILTER: &str = "metrics.rmse < 0.5 and params.alpha = '0.1'";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A store process: the index on or off; `no_grace` for the builder (one writer here).
async fn open(dir: &str, index: bool, no_grace: bool) -> Result<LocalStore, Error> {
    let mut options = LocalStoreOptions::default().with_run_index(index);
    if no_grace {
        options = options.with_index_grace(Duration::ZERO);
    }
    Ok(LocalStore::open_with_options(StoreUri::parse(dir)?.open()?, options).await?)
}

async fn build(
    dir: &str,
    runs: usize,
    ended_now: bool,
    points: usize,
) -> Result<serde_json::Value, Error> {
    let store = Arc::new(open(dir, ended_now, false).await?);
    let exp = store
        .get_or_create_experiment(&ExperimentName::parse("search")?)
        .await?;
    let t = Instant::now();
    let mut endings: Vec<f64> = Vec::with_capacity(runs);
    let mut tasks = tokio::task::JoinSet::new();
    let rmse = MetricKey::parse("rmse")?;
    for i in 0..runs {
        let (store, exp, rmse) = (Arc::clone(&store), exp.clone(), rmse.clone());
        tasks.spawn(async move {
            let run = store
                .create_run(NewRun {
                    experiment_id: exp,
                    run_name: None,
                    user_id: "bench".into(),
                    start_time: Timestamp::from_millis(1_700_000_000_000 + i as i64)?,
                    tags: vec![Tag::parse("team", if i % 2 == 0 { "a" } else { "b" })?],
                })
                .await?;
            let id = run.info.run_id;
            let point = Metric::new(rmse, (i % 100) as f64 / 100.0, Timestamp::now(), 0);
            let alpha = ["0.1", "0.2", "0.5"][i % 3];
            store
                .log_batch(&id, &[point], &[Param::parse("alpha", alpha)?], &[])
                .await?;
            let ending = Instant::now();
            store
                .update_run(&id, Some(RunStatus::Finished), Some(Timestamp::now()), None)
                .await?;
            Ok::<f64, Error>(ending.elapsed().as_secs_f64() * 1000.0)
        });
        while tasks.len() >= 32 {
            if let Some(done) = tasks.join_next().await {
                endings.push(done??);
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        endings.push(done??);
    }
    let build_s = t.elapsed().as_secs_f64();
    endings.sort_by(f64::total_cmp);
    // 100 more, one at a time: an ending's own cost, without 31 others at once.
    let mut alone: Vec<f64> = Vec::with_capacity(100);
    let rmse = MetricKey::parse("rmse")?;
    for i in 0..100 {
        let id = store
            .create_run(NewRun {
                experiment_id: exp.clone(),
                run_name: None,
                user_id: "bench".into(),
                start_time: Timestamp::from_millis(1_600_000_000_000 + i)?,
                tags: vec![],
            })
            .await?
            .info
            .run_id;
        let point = Metric::new(rmse.clone(), 0.5, Timestamp::now(), 0);
        store.log_batch(&id, &[point], &[], &[]).await?;
        let ending = Instant::now();
        store
            .update_run(&id, Some(RunStatus::Finished), Some(Timestamp::now()), None)
            .await?;
        alone.push(ending.elapsed().as_secs_f64() * 1000.0);
    }
    alone.sort_by(f64::total_cmp);
    let long_run = if points > 0 {
        Some(long_run(&store, &exp, points).await?)
    } else {
        None
    };
    Ok(json!({
        "runs": runs,
        "build_s": build_s,
        "ended_now": ended_now,
        "end_run_ms_median": endings.get(endings.len() / 2),
        "end_run_ms_p99": endings.get(endings.len() * 99 / 100),
        "end_run_alone_ms_median": alone.get(alone.len() / 2),
        "end_run_alone_ms_max": alone.last(),
        "long_run": long_run,
    }))
}

/// One more run whose metric `loss` has `points` points, logged 1,000 at a time, then ended.
async fn long_run(
    store: &LocalStore,
    exp: &mlops_track::ExperimentId,
    points: usize,
) -> Result<String, Error> {
    let run = store
        .create_run(NewRun {
            experiment_id: exp.clone(),
            run_name: None,
            user_id: "bench".into(),
            start_time: Timestamp::from_millis(1_700_000_000_000)?,
            tags: vec![],
        })
        .await?
        .info
        .run_id;
    let loss = MetricKey::parse("loss")?;
    for start in (0..points).step_by(1000) {
        let batch = (start..(start + 1000).min(points))
            .map(|s| {
                let value = 1.0 / (1.0 + s as f64) + (s % 7) as f64 * 1e-3;
                Ok(Metric::new(
                    loss.clone(),
                    value,
                    Timestamp::from_millis(1_700_000_000_000 + s as i64)?,
                    s as i64,
                ))
            })
            .collect::<Result<Vec<_>, mlops_core::Error>>()?;
        store.log_batch(&run, &batch, &[], &[]).await?;
    }
    store.set_terminated(&run, RunStatus::Finished).await?;
    Ok(run.as_str().to_owned())
}

async fn history(dir: &str, run: &str) -> Result<serde_json::Value, Error> {
    let t = Instant::now();
    let store = open(dir, true, false).await?;
    let run = mlops_track::RunId::parse(run)?;
    let opened = t.elapsed();
    let got = store.get_run(&run).await?;
    let read_run = t.elapsed();
    let columns = store
        .get_metric_columns(&run, &MetricKey::parse("loss")?)
        .await?;
    let total = t.elapsed();
    // Again in this process: the decode alone (no cold caches, no first thread hand-off).
    let again = Instant::now();
    store
        .get_metric_columns(&run, &MetricKey::parse("loss")?)
        .await?;
    let again = again.elapsed();
    Ok(json!({
        "again_ms": again.as_secs_f64() * 1000.0,
        "points": columns.len(),
        "metrics": got.data.metrics.len(),
        "open_ms": opened.as_secs_f64() * 1000.0,
        "get_run_ms": (read_run - opened).as_secs_f64() * 1000.0,
        "columns_ms": (total - read_run).as_secs_f64() * 1000.0,
        "total_ms": total.as_secs_f64() * 1000.0,
    }))
}

async fn index(dir: &str) -> Result<serde_json::Value, Error> {
    let t = Instant::now();
    let report = open(dir, true, true).await?.build_run_index().await?;
    Ok(json!({
        "index_s": t.elapsed().as_secs_f64(),
        "runs_indexed": report.runs_indexed,
        "runs_read": report.runs_read,
    }))
}

async fn search(dir: &str, index: bool) -> Result<serde_json::Value, Error> {
    let t = Instant::now();
    let store = open(dir, index, false).await?;
    let exp = store
        .get_experiment_by_name(&ExperimentName::parse("search")?)
        .await?
        .ok_or("no experiment \"search\": run `build` first")?;
    let opened = t.elapsed();
    let page = store
        .search_runs(&RunQuery {
            experiment_ids: vec![exp.experiment_id],
            filter: Some(FILTER.to_owned()),
            max_results: Some(1000),
            ..RunQuery::default()
        })
        .await?;
    let total = t.elapsed();
    Ok(json!({
        "index": index,
        "found": page.items.len(),
        "open_ms": opened.as_secs_f64() * 1000.0,
        "search_ms": (total - opened).as_secs_f64() * 1000.0,
        "total_ms": total.as_secs_f64() * 1000.0,
        "damage": store.damage().len(),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().cloned().unwrap_or_default();
    let dir = arg(&args, "--dir").ok_or_else(|| format!("{command} needs --dir"))?;
    let out = match command.as_str() {
        "build" => {
            let runs = arg(&args, "--runs").map_or(Ok(10_000), |n| n.parse())?;
            let points = arg(&args, "--points").map_or(Ok(0), |n| n.parse())?;
            let ended_now = args.iter().any(|a| a == "--ended-now");
            build(&dir, runs, ended_now, points).await?
        }
        "index" => index(&dir).await?,
        "search" => search(&dir, !args.iter().any(|a| a == "--no-index")).await?,
        "history" => {
            let run = arg(&args, "--run").ok_or("history needs --run")?;
            history(&dir, &run).await?
        }
        other => {
            return Err(format!("unknown command {other:?}: build, index, search, history").into());
        }
    };
    println!("{out}");
    Ok(())
}
