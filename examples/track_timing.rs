//! In-process timings of `mlops-track`, printed as one JSON object; used by
//! `benches/compare/track_vs_mlflow.py` (build with `cargo build --release --example
//! track_timing`).
//!
//! ```text
//! track_timing log-metric   [--calls N]                          the hot-loop cost of ActiveRun::log_metric
//! track_timing local        --dir DIR [--points N] [--repeat R]  N points logged + flushed to an embedded store
//! track_timing mlflow       --uri URL [--points N] [--repeat R]  N points logged + flushed to an MLflow server
//! track_timing build-runs   --dir DIR [--runs N]                 an embedded store with N runs to search
//! track_timing search-local --dir DIR [--repeat R]               search those runs with a filter
//! ```
//!
//! `log-metric` times blocks of 1000 calls on a multi-thread runtime while the background
//! task drains the buffer into an in-memory store, and reports the median and mean per call.
//! `local` and `mlflow` time `ActiveRun::start` excluded: from the first `log_metric` to the
//! end of `flush().await` (everything durable), with MLflow's batch size (1000) and 4 batches
//! in flight. `search-local` runs `metrics.rmse < 0.5 and params.alpha = '0.1'` (first page
//! of 1000, newest first, as MLflow's client) in a freshly opened store (every run read
//! from disk: a new process), again once the default refresh interval (2 s) has passed
//! (every run's folders listed again), and in a store whose cache is within its refresh
//! interval (a long-lived process searching again: no I/O for unchanged runs).
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mlops::core::StoreUri;
use mlops::track::mlflow::MlflowStore;
use mlops::track::{
    ActiveRun, ExperimentName, LocalStore, LocalStoreOptions, Metric, MetricKey, NewRun, Overflow,
    Param, RunOptions, RunQuery, RunStatus, Tag, Timestamp, TrackingStore, TrackingStoreExt,
};
use serde_json::json;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The filter both sides search with.
const FILTER: &str = "metrics.rmse < 0.5 and params.alpha = '0.1'";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn number(args: &[String], name: &str, default: usize) -> Result<usize, Error> {
    Ok(match arg(args, name) {
        Some(text) => text.parse()?,
        None => default,
    })
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn quiet_options() -> RunOptions {
    RunOptions::default()
        .without_system_tags()
        .with_overflow(Overflow::Block)
}

async fn experiment(
    store: &dyn TrackingStore,
    name: &str,
) -> Result<mlops::track::ExperimentId, Error> {
    // Race-safe: another timing process creating it in between is fine.
    Ok(store
        .get_or_create_experiment(&ExperimentName::parse(name)?)
        .await?)
}

async fn log_metric_cost(calls: usize) -> Result<serde_json::Value, Error> {
    let store: Arc<dyn TrackingStore> =
        Arc::new(LocalStore::open_uri(&StoreUri::parse("memory://")?).await?);
    let exp = experiment(store.as_ref(), "timing").await?;
    let run = ActiveRun::start(
        Arc::clone(&store),
        &exp,
        None,
        RunOptions::default()
            .without_system_tags()
            .with_buffer_capacity(calls + 1),
    )
    .await?;
    let key = MetricKey::parse("loss")?;
    let block = 1000;
    let mut per_call = Vec::with_capacity(calls / block);
    let started = Instant::now();
    for b in 0..calls / block {
        let t = Instant::now();
        for i in 0..block {
            run.log_metric(&key, i as f64, (b * block + i) as i64);
        }
        per_call.push(t.elapsed().as_nanos() as f64 / block as f64);
    }
    let total = started.elapsed();
    let dropped = run.dropped();
    run.finish(RunStatus::Finished).await?;
    Ok(json!({
        "calls": calls,
        "median_ns": median(&mut per_call),
        "mean_ns": total.as_nanos() as f64 / calls as f64,
        "dropped": dropped,
    }))
}

async fn log_points(
    store: Arc<dyn TrackingStore>,
    points: usize,
    repeat: usize,
) -> Result<serde_json::Value, Error> {
    let exp = experiment(store.as_ref(), "timing").await?;
    let key = MetricKey::parse("loss")?;
    let mut seconds = Vec::new();
    for _ in 0..repeat {
        let run = ActiveRun::start(
            Arc::clone(&store),
            &exp,
            None,
            quiet_options().with_buffer_capacity(points + 1),
        )
        .await?;
        let t = Instant::now();
        for step in 0..points {
            run.log_metric(&key, 1.0 / (step as f64 + 1.0), step as i64);
        }
        run.flush().await?;
        seconds.push(t.elapsed().as_secs_f64());
        let id = run.run_id().clone();
        run.finish(RunStatus::Finished).await?;
        let logged = store.get_metric_history(&id, &key).await?.len();
        if logged != points {
            return Err(format!("run {id} holds {logged} points, not {points}").into());
        }
    }
    let all = seconds.clone();
    Ok(json!({
        "points": points,
        "seconds": all,
        "median_s": median(&mut seconds),
    }))
}

async fn build_runs(dir: &str, runs: usize) -> Result<serde_json::Value, Error> {
    let store = Arc::new(LocalStore::open_uri(&StoreUri::parse(dir)?).await?);
    let exp = experiment(store.as_ref(), "search").await?;
    let t = Instant::now();
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
            store
                .update_run(&id, Some(RunStatus::Finished), Some(Timestamp::now()), None)
                .await?;
            Ok::<(), Error>(())
        });
        // Bounded concurrency: 32 runs in flight.
        while tasks.len() >= 32 {
            if let Some(done) = tasks.join_next().await {
                done??;
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(json!({"runs": runs, "build_s": t.elapsed().as_secs_f64()}))
}

async fn search_once(
    store: &LocalStore,
    exp: &mlops::track::ExperimentId,
) -> Result<(Duration, usize), Error> {
    let t = Instant::now();
    let page = store
        .search_runs(&RunQuery {
            experiment_ids: vec![exp.clone()],
            filter: Some(FILTER.to_owned()),
            max_results: Some(1000),
            ..RunQuery::default()
        })
        .await?;
    Ok((t.elapsed(), page.items.len()))
}

async fn search_local(dir: &str, repeat: usize) -> Result<serde_json::Value, Error> {
    let uri = StoreUri::parse(dir)?;
    let (mut cold, mut relist, mut cached, mut found) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for _ in 0..repeat {
        // A new process: open, then search (every run read from disk).
        let t = Instant::now();
        let store = LocalStore::open_uri(&uri).await?;
        let exp = experiment(&store, "search").await?;
        let open = t.elapsed();
        let (first, n) = search_once(&store, &exp).await?;
        cold.push((open + first).as_secs_f64() * 1000.0);
        found = n;
        // The default refresh interval (2 s) elapsed: every run's folders are listed again.
        tokio::time::sleep(LocalStoreOptions::default().refresh_interval()).await;
        let (again, _) = search_once(&store, &exp).await?;
        relist.push(again.as_secs_f64() * 1000.0);
        // Within the refresh interval: the cached view, no I/O for unchanged runs.
        let options = LocalStoreOptions::default().with_refresh_interval(Duration::from_secs(600));
        let store = LocalStore::open_with_options(uri.open()?, options).await?;
        search_once(&store, &exp).await?;
        let (warm, _) = search_once(&store, &exp).await?;
        cached.push(warm.as_secs_f64() * 1000.0);
    }
    Ok(json!({
        "filter": FILTER,
        "found": found,
        "cold_ms": median(&mut cold),
        "relist_ms": median(&mut relist),
        "warm_ms": median(&mut cached),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().cloned().unwrap_or_default();
    let repeat = number(&args, "--repeat", 3)?;
    let points = number(&args, "--points", 100_000)?;
    let need = |name: &str| arg(&args, name).ok_or_else(|| format!("{command} needs {name}"));
    let result = match command.as_str() {
        "log-metric" => log_metric_cost(number(&args, "--calls", 1_000_000)?).await?,
        "local" => {
            let dir = need("--dir")?;
            let store = Arc::new(LocalStore::open_uri(&StoreUri::parse(&dir)?).await?);
            log_points(store, points, repeat).await?
        }
        "mlflow" => {
            let store = Arc::new(MlflowStore::new(&need("--uri")?)?);
            log_points(store, points, repeat).await?
        }
        "build-runs" => build_runs(&need("--dir")?, number(&args, "--runs", 10_000)?).await?,
        "search-local" => search_local(&need("--dir")?, repeat).await?,
        other => {
            return Err(format!(
                "unknown command {other:?}: log-metric, local, mlflow, build-runs, search-local"
            )
            .into());
        }
    };
    println!("{result}");
    Ok(())
}
