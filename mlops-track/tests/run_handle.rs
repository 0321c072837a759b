//! The run handle ([`ActiveRun`]) on `LocalStore`, over `memory://` and a temp folder:
//! buffering and flushing, finishing, dropping, overflow, error reporting and system tags.

// Tests report their figures on stderr.
#![allow(clippy::print_stderr)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlops_core::{ExperimentId, ExperimentName, MetricKey, RunStatus, StoreUri, Tag};
use mlops_track::TrackingStoreExt;
use mlops_track::{
    ActiveRun, LocalStore, Overflow, RunOptions, TrackError, TrackingStore, system_tags,
};

async fn memory() -> Arc<LocalStore> {
    Arc::new(
        LocalStore::open_uri(&"memory://".parse().unwrap())
            .await
            .unwrap(),
    )
}

async fn folder(dir: &Path) -> Arc<LocalStore> {
    let uri = StoreUri::parse(dir.to_str().unwrap()).unwrap();
    Arc::new(LocalStore::open_uri(&uri).await.unwrap())
}

async fn experiment(store: &LocalStore, name: &str) -> ExperimentId {
    store
        .create_experiment(&ExperimentName::parse(name).unwrap(), &[])
        .await
        .unwrap()
}

/// Quiet, fast options for tests: no git process.
fn options() -> RunOptions {
    RunOptions::default().with_git_dirty_check(false)
}

async fn ten_thousand_points(store: Arc<LocalStore>, label: &str) {
    let exp = experiment(&store, "ten-k").await;
    let run = ActiveRun::start(store.clone(), &exp, None, options())
        .await
        .unwrap();
    let loss = MetricKey::parse("loss").unwrap();
    let acc = MetricKey::parse("acc").unwrap();
    let started = Instant::now();
    for step in 0..10_000 {
        run.log_metric(&loss, 1.0 / (step as f64 + 1.0), step);
        if step % 10 == 0 {
            run.log_metrics([(&acc, step as f64 / 10_000.0)], step);
        }
    }
    let logged = started.elapsed();
    run.flush().await.unwrap();
    let flushed = started.elapsed();
    eprintln!("{label}: 11,000 points logged in {logged:?}, flushed (durable) after {flushed:?}");
    assert_eq!(run.dropped(), 0);
    let id = run.run_id().clone();
    let history = store.get_metric_history(&id, &loss).await.unwrap();
    assert_eq!(history.len(), 10_000);
    // History order is logging order, although batches were written concurrently.
    for (i, point) in history.iter().enumerate() {
        assert_eq!(point.step, i as i64);
        assert_eq!(point.value, 1.0 / (i as f64 + 1.0));
    }
    let acc_history = store.get_metric_history(&id, &acc).await.unwrap();
    assert_eq!(acc_history.len(), 1_000);
    assert!(acc_history.windows(2).all(|w| w[0].step < w[1].step));
    run.finish(RunStatus::Finished).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_points_memory() {
    ten_thousand_points(memory().await, "memory://").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_points_folder() {
    let dir = tempfile::tempdir().unwrap();
    ten_thousand_points(folder(dir.path()).await, "folder").await;
}

#[tokio::test]
async fn finish_sets_status_and_end_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = folder(dir.path()).await;
    let exp = experiment(&store, "finish").await;
    let run = ActiveRun::start(store.clone(), &exp, None, options())
        .await
        .unwrap();
    let id = run.run_id().clone();
    assert_eq!(run.info().status, RunStatus::Running);
    let loss = MetricKey::parse("loss").unwrap();
    run.log_metric(&loss, 0.5, 0);
    run.log_param("lr", "0.1").await.unwrap();
    run.set_tag("team", "a").await.unwrap();
    run.set_tag("team", "b").await.unwrap();
    run.finish(RunStatus::Killed).await.unwrap();

    let got = store.get_run(&id).await.unwrap();
    assert_eq!(got.info.status, RunStatus::Killed);
    let end = got.info.end_time.expect("an end time");
    assert!(end >= got.info.start_time);
    assert_eq!(got.data.metric("loss"), Some(0.5));
    assert_eq!(got.data.param("lr"), Some("0.1"));
    assert_eq!(got.data.tag("team"), Some("b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_without_finish_flushes_and_marks() {
    let store = memory().await;
    let exp = experiment(&store, "dropped").await;
    let loss = MetricKey::parse("loss").unwrap();
    let run = ActiveRun::start(
        store.clone(),
        &exp,
        None,
        options().with_flush_interval(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    let id = run.run_id().clone();
    for step in 0..2_500 {
        run.log_metric(&loss, step as f64, step);
    }
    drop(run);
    // On a multi-thread runtime the drop waited for the final flush and the mark.
    let got = store.get_run(&id).await.unwrap();
    assert_eq!(got.info.status, RunStatus::Finished);
    assert!(got.info.end_time.is_some());
    assert_eq!(
        store.get_metric_history(&id, &loss).await.unwrap().len(),
        2_500
    );
}

#[tokio::test]
async fn drop_on_a_current_thread_runtime_completes_in_the_background() {
    let store = memory().await;
    let exp = experiment(&store, "dropped-ct").await;
    let loss = MetricKey::parse("loss").unwrap();
    let run = ActiveRun::start(store.clone(), &exp, None, options())
        .await
        .unwrap();
    let id = run.run_id().clone();
    for step in 0..1_500 {
        run.log_metric(&loss, step as f64, step);
    }
    drop(run);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = store.get_run(&id).await.unwrap();
        if got.info.status == RunStatus::Finished {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dropped run was never marked"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        store.get_metric_history(&id, &loss).await.unwrap().len(),
        1_500
    );
}

#[tokio::test]
async fn overflow_drop_and_count() {
    let store = memory().await;
    let exp = experiment(&store, "overflow").await;
    let loss = MetricKey::parse("loss").unwrap();
    let run = ActiveRun::start(
        store.clone(),
        &exp,
        None,
        options()
            .with_batch_size(10)
            .with_buffer_capacity(10)
            .with_flush_interval(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    // A current-thread runtime: the background task cannot run until we await, so exactly
    // the first 10 points fit.
    for step in 0..1_000 {
        run.log_metric(&loss, step as f64, step);
    }
    run.log_metrics([(&loss, -1.0), (&loss, -2.0)], 2_000);
    assert_eq!(run.dropped(), 992);
    assert_eq!(run.buffered(), 10);
    run.flush().await.unwrap();
    let history = store.get_metric_history(run.run_id(), &loss).await.unwrap();
    let steps: Vec<i64> = history.iter().map(|p| p.step).collect();
    assert_eq!(steps, (0..10).collect::<Vec<_>>());
    run.finish(RunStatus::Finished).await.unwrap();
}

#[tokio::test]
async fn log_metric_wait_never_drops() {
    let store = memory().await;
    let exp = experiment(&store, "wait").await;
    let loss = MetricKey::parse("loss").unwrap();
    let run = ActiveRun::start(
        store.clone(),
        &exp,
        None,
        options().with_batch_size(10).with_buffer_capacity(10),
    )
    .await
    .unwrap();
    for step in 0..500 {
        run.log_metric_wait(&loss, step as f64, step).await.unwrap();
    }
    run.flush().await.unwrap();
    assert_eq!(run.dropped(), 0);
    let history = store.get_metric_history(run.run_id(), &loss).await.unwrap();
    assert_eq!(history.len(), 500);
    assert!(history.iter().enumerate().all(|(i, p)| p.step == i as i64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_block_waits_for_space() {
    let store = memory().await;
    let exp = experiment(&store, "block").await;
    let loss = MetricKey::parse("loss").unwrap();
    let run = ActiveRun::start(
        store.clone(),
        &exp,
        None,
        options()
            .with_batch_size(10)
            .with_buffer_capacity(10)
            .with_overflow(Overflow::Block),
    )
    .await
    .unwrap();
    for step in 0..500 {
        run.log_metric(&loss, step as f64, step);
    }
    run.flush().await.unwrap();
    assert_eq!(run.dropped(), 0);
    let history = store.get_metric_history(run.run_id(), &loss).await.unwrap();
    assert_eq!(history.len(), 500);
}

#[tokio::test]
async fn store_errors_reach_flush_and_the_caller() {
    let store = memory().await;
    let exp = experiment(&store, "errors").await;
    let loss = MetricKey::parse("loss").unwrap();
    let run = ActiveRun::start(store.clone(), &exp, None, options())
        .await
        .unwrap();

    // Params and tags go straight to the store: a conflict is the call's own error.
    run.log_param("lr", "0.1").await.unwrap();
    run.log_param("lr", "0.1").await.unwrap();
    let conflict = run.log_param("lr", "0.2").await.unwrap_err();
    assert!(
        matches!(conflict, TrackError::ParamConflict { .. }),
        "{conflict:?}"
    );

    // Metrics are written in the background: a failed batch is reported by the next flush.
    run.log_metric(&loss, 1.0, 0);
    run.flush().await.unwrap();
    store.delete_run(run.run_id()).await.unwrap();
    run.log_metric(&loss, 2.0, 1);
    let err = run.flush().await.unwrap_err();
    assert!(matches!(err, TrackError::InvalidState(_)), "{err:?}");
    // Reported once.
    run.flush().await.unwrap();

    // Finishing still tries to mark the run, and reports what failed.
    run.log_metric(&loss, 3.0, 2);
    assert!(run.finish(RunStatus::Finished).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_after_an_unreported_error_marks_failed() {
    let store = memory().await;
    let exp = experiment(&store, "failed").await;
    let run = ActiveRun::start(
        store.clone(),
        &exp,
        None,
        options().with_flush_interval(Duration::from_millis(20)),
    )
    .await
    .unwrap();
    let id = run.run_id().clone();
    // A batch the store refuses (the run is deleted), written by the interval flush and
    // never reported; the run is restored before the handle is dropped.
    store.delete_run(&id).await.unwrap();
    run.log_metric(&MetricKey::parse("loss").unwrap(), 1.0, 0);
    // Room for the 20 ms interval flush to fire and fail even on a loaded 2-core machine;
    // not a timing assertion (nothing is measured), only an ordering wait.
    tokio::time::sleep(Duration::from_secs(2)).await;
    store.restore_run(&id).await.unwrap();
    drop(run);
    let got = store.get_run(&id).await.unwrap();
    assert_eq!(got.info.status, RunStatus::Failed);
    assert!(got.info.end_time.is_some());
}

#[tokio::test]
async fn system_tags_are_recorded_and_configurable() {
    let store = memory().await;
    let exp = experiment(&store, "tags").await;

    // The defaults, with the dirty check (the tests run inside the project's repository).
    let run = ActiveRun::start(store.clone(), &exp, None, RunOptions::default())
        .await
        .unwrap();
    let got = store.get_run(run.run_id()).await.unwrap();
    let tag = |k: &str| got.data.tag(k).map(str::to_owned);
    assert_eq!(tag(system_tags::SOURCE_TYPE).as_deref(), Some("LOCAL"));
    assert_eq!(
        tag(system_tags::VERSION).as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    let user = tag(system_tags::USER).unwrap();
    assert_eq!(got.info.user_id, user);
    assert!(tag(system_tags::SOURCE_NAME).is_some_and(|s| !s.is_empty()));
    assert!(tag(system_tags::HOST).is_some_and(|s| !s.is_empty()));
    let commit = tag(system_tags::GIT_COMMIT).expect("the tests run in a git checkout");
    assert!(
        commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
        "{commit}"
    );
    if let Some(dirty) = tag(system_tags::GIT_DIRTY) {
        assert!(dirty == "true" || dirty == "false", "{dirty}");
    }
    run.finish(RunStatus::Finished).await.unwrap();

    // Overridden, dropped, extended.
    let run = ActiveRun::start(
        store.clone(),
        &exp,
        None,
        options()
            .with_user("ada")
            .without_tag(system_tags::HOST)
            .with_tag(Tag::parse(system_tags::SOURCE_NAME, "train.rs").unwrap())
            .with_tag(Tag::parse("team", "search").unwrap()),
    )
    .await
    .unwrap();
    let got = store.get_run(run.run_id()).await.unwrap();
    assert_eq!(got.info.user_id, "ada");
    assert_eq!(got.data.tag(system_tags::USER), Some("ada"));
    assert_eq!(got.data.tag(system_tags::HOST), None);
    assert_eq!(got.data.tag(system_tags::GIT_DIRTY), None);
    assert_eq!(got.data.tag(system_tags::SOURCE_NAME), Some("train.rs"));
    assert_eq!(got.data.tag("team"), Some("search"));
    run.finish(RunStatus::Finished).await.unwrap();

    // Off.
    let run = ActiveRun::start(
        store.clone(),
        &exp,
        None,
        RunOptions::default().without_system_tags(),
    )
    .await
    .unwrap();
    let got = store.get_run(run.run_id()).await.unwrap();
    assert!(
        got.data
            .tags
            .iter()
            .all(|t| !t.key().as_str().starts_with("mlflow.source")
                && t.key().as_str() != system_tags::VERSION),
        "{:?}",
        got.data.tags
    );
    run.finish(RunStatus::Finished).await.unwrap();
}

/// The hot-path cost of one `log_metric` call and the time to flush 10,000 points to a
/// folder. Run with `cargo test --release -p mlops-track --test integration -- --ignored
/// --nocapture run_handle::measure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run in release"]
async fn measure_log_metric_and_flush() {
    let store = memory().await;
    let exp = experiment(&store, "measure").await;
    let run = ActiveRun::start(
        store.clone(),
        &exp,
        None,
        options().with_buffer_capacity(10_000_000),
    )
    .await
    .unwrap();
    let loss = MetricKey::parse("loss").unwrap();
    const CHUNK: usize = 100;
    let mut per_call = Vec::with_capacity(5_000);
    let mut step = 0_i64;
    for _ in 0..5_000 {
        let t = Instant::now();
        for _ in 0..CHUNK {
            run.log_metric(&loss, step as f64, step);
            step += 1;
        }
        per_call.push(t.elapsed().as_nanos() as f64 / CHUNK as f64);
    }
    per_call.sort_by(f64::total_cmp);
    let median = per_call[per_call.len() / 2];
    let p99 = per_call[per_call.len() * 99 / 100];
    run.flush().await.unwrap();
    assert_eq!(run.dropped(), 0);
    eprintln!(
        "log_metric: median {median:.0} ns/call, p99 {p99:.0} ns/call (chunks of {CHUNK}, {step} calls)"
    );
    run.finish(RunStatus::Finished).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = folder(dir.path()).await;
    let exp = experiment(&store, "measure").await;
    let mut flushes = Vec::new();
    for _ in 0..5 {
        let run = ActiveRun::start(store.clone(), &exp, None, options())
            .await
            .unwrap();
        let t = Instant::now();
        for step in 0..10_000 {
            run.log_metric(&loss, step as f64, step);
        }
        run.flush().await.unwrap();
        flushes.push(t.elapsed());
        assert_eq!(
            store
                .get_metric_history(run.run_id(), &loss)
                .await
                .unwrap()
                .len(),
            10_000
        );
        run.finish(RunStatus::Finished).await.unwrap();
    }
    flushes.sort();
    eprintln!(
        "10,000 points logged and flushed to a folder: median {:?} (min {:?}, max {:?})",
        flushes[2], flushes[0], flushes[4]
    );
}
