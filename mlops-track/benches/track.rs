//! Criterion benches of mlops-track: the hot-loop cost of `log_metric`, 100k points logged and
//! flushed to an embedded store in a local folder, and a filtered search over 10,000 runs.
//! The side-by-side comparison with MLflow's Python client is
//! `benches/compare/track_vs_mlflow.py` at the workspace root.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mlops_core::StoreUri;
use mlops_track::{
    ActiveRun, ExperimentId, ExperimentName, LocalStore, Metric, MetricKey, NewRun, Overflow,
    Param, RunOptions, RunQuery, RunStatus, Timestamp, TrackingStore,
};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn store_and_experiment(uri: &str) -> (Arc<LocalStore>, ExperimentId) {
    let store = Arc::new(
        LocalStore::open_uri(&StoreUri::parse(uri).unwrap())
            .await
            .unwrap(),
    );
    let exp = store
        .create_experiment(&ExperimentName::parse("bench").unwrap(), &[])
        .await
        .unwrap();
    (store, exp)
}

/// One `log_metric` call while the background task drains the buffer into memory.
fn log_metric(c: &mut Criterion) {
    let rt = runtime();
    let _guard = rt.enter();
    let (store, exp) = rt.block_on(store_and_experiment("memory://"));
    let run = rt
        .block_on(ActiveRun::start(
            store,
            &exp,
            None,
            RunOptions::default()
                .without_system_tags()
                .with_buffer_capacity(1 << 22),
        ))
        .unwrap();
    let key = MetricKey::parse("loss").unwrap();
    let mut step = 0i64;
    c.bench_function("log_metric/one_call", |b| {
        b.iter(|| {
            step += 1;
            run.log_metric(black_box(&key), black_box(0.5), step);
        });
    });
    rt.block_on(run.finish(RunStatus::Finished)).unwrap();
}

/// 100,000 points logged and flushed (durable, fsync) to a folder store.
fn log_100k_local(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let (store, exp) = rt.block_on(store_and_experiment(dir.path().to_str().unwrap()));
    let key = MetricKey::parse("loss").unwrap();
    let mut group = c.benchmark_group("log_100k");
    group.sample_size(10);
    group.bench_function("local_folder", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let run = ActiveRun::start(
                        store.clone(),
                        &exp,
                        None,
                        RunOptions::default()
                            .without_system_tags()
                            .with_overflow(Overflow::Block),
                    )
                    .await
                    .unwrap();
                    let t = Instant::now();
                    for step in 0..100_000 {
                        run.log_metric(&key, 1.0 / (step as f64 + 1.0), step);
                    }
                    run.flush().await.unwrap();
                    total += t.elapsed();
                    run.finish(RunStatus::Finished).await.unwrap();
                }
                total
            })
        });
    });
    group.finish();
}

/// `metrics.rmse < 0.5 and params.alpha = '0.1'` over 10,000 runs of one experiment (first
/// page of 1000, as MLflow's client asks), the store's cache warm.
fn search_10k(c: &mut Criterion) {
    let rt = runtime();
    let (store, exp) = rt.block_on(store_and_experiment("memory://"));
    let rmse = MetricKey::parse("rmse").unwrap();
    rt.block_on(async {
        for i in 0..10_000usize {
            let run = store
                .create_run(NewRun {
                    experiment_id: exp.clone(),
                    run_name: None,
                    user_id: "bench".into(),
                    start_time: Timestamp::from_millis(1_700_000_000_000 + i as i64).unwrap(),
                    tags: vec![],
                })
                .await
                .unwrap();
            let point = Metric::new(rmse.clone(), (i % 100) as f64 / 100.0, Timestamp::now(), 0);
            let alpha = Param::parse("alpha", ["0.1", "0.2", "0.5"][i % 3]).unwrap();
            store
                .log_batch(&run.info.run_id, &[point], &[alpha], &[])
                .await
                .unwrap();
        }
    });
    let query = RunQuery {
        experiment_ids: vec![exp],
        filter: Some("metrics.rmse < 0.5 and params.alpha = '0.1'".to_owned()),
        max_results: Some(1000),
        ..RunQuery::default()
    };
    let found = rt.block_on(store.search_runs(&query)).unwrap().items.len();
    assert_eq!(found, 1000);
    let mut group = c.benchmark_group("search_10k_runs");
    group.sample_size(20);
    group.bench_function("filter_first_page", |b| {
        b.iter(|| rt.block_on(store.search_runs(black_box(&query))).unwrap());
    });
    group.finish();
}

criterion_group!(benches, log_metric, log_100k_local, search_10k);
criterion_main!(benches);
