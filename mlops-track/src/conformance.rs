//! The conformance suite every [`TrackingStore`] backend must pass (feature `conformance`),
//! in the manner of object_store's `integration` module: a backend's tests open a store and
//! call [`run_all`] (or the checks one by one), and each check panics with a message that
//! says what differed.
//!
//! ```no_run
//! # async fn demo() -> mlops_track::Result<()> {
//! use mlops_track::{LocalStore, conformance};
//! let store = LocalStore::open_uri(&"memory://".parse()?).await?;
//! conformance::run_all(&store).await;
//! // Several handles on one store (separate processes, in spirit) racing on one name:
//! let other = LocalStore::open(store.root().clone()).await?;
//! conformance::concurrent_create_by_name(&[&store, &other]).await;
//! # Ok(()) }
//! ```
//!
//! The checks assume nothing about the backend beyond the trait's contract, so they also run
//! against a shared MLflow tracking server: every name they create is unique (a random
//! suffix), searches are scoped to what the check created, experiment ids are opaque (MLflow's
//! are decimal), and no check expects an empty store. Where MLflow and the trait leave the
//! exact error open (renaming onto a taken name, logging to a deleted run, a malformed
//! filter), a check asks only for an error; where the trait names the error (`NotFound`,
//! `AlreadyExists`, `ParamConflict`, `TooMany`, `DuplicateKey`), it asks for that variant.

// A test suite: failing loudly, with the values that differ, is the point.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use mlops_core::{
    ArtifactPath, ExperimentId, ExperimentName, LifecycleStage, Metric, MetricKey, Param, ParamKey,
    RunId, RunName, RunStatus, Tag, TagKey, Timestamp,
};

use crate::error::TrackError;
use crate::model::{DATASET_CONTEXT_TAG, Dataset, DatasetInput, RUN_NAME_TAG, Run};
use crate::store::{ExperimentQuery, NewRun, RunQuery, TrackingStore, ViewType};

/// Runs every check that needs one store handle, in turn.
pub async fn run_all(store: &dyn TrackingStore) {
    experiments(store).await;
    experiment_search(store).await;
    run_lifecycle(store).await;
    log_batch_semantics(store).await;
    batch_limits(store).await;
    non_finite_metrics(store).await;
    metric_history(store).await;
    inputs(store).await;
    artifacts(store).await;
    search_runs(store).await;
    bad_input(store).await;
}

/// A name no other check (or earlier run of the suite) uses.
fn unique(label: &str) -> String {
    format!("conformance-{label}-{}", uuid::Uuid::now_v7().simple())
}

fn experiment_name(text: &str) -> ExperimentName {
    ExperimentName::parse(text).unwrap()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::parse(key, value).unwrap()
}

fn param(key: &str, value: &str) -> Param {
    Param::parse(key, value).unwrap()
}

fn metric_key(key: &str) -> MetricKey {
    MetricKey::parse(key).unwrap()
}

fn point(key: &str, value: f64, millis: i64, step: i64) -> Metric {
    Metric::new(
        metric_key(key),
        value,
        Timestamp::from_millis(millis).unwrap(),
        step,
    )
}

/// A fixed instant (2023-11-14) that metric timestamps count from.
const T0: i64 = 1_700_000_000_000;

async fn new_experiment(store: &dyn TrackingStore, label: &str) -> ExperimentId {
    let name = experiment_name(&unique(label));
    store
        .create_experiment(&name, &[])
        .await
        .unwrap_or_else(|e| panic!("create_experiment({name}) failed: {e}"))
}

fn new_run_request(experiment: &ExperimentId, start: i64) -> NewRun {
    NewRun {
        experiment_id: experiment.clone(),
        run_name: None,
        user_id: "conformance".to_owned(),
        start_time: Timestamp::from_millis(start).unwrap(),
        tags: Vec::new(),
    }
}

async fn new_run(store: &dyn TrackingStore, experiment: &ExperimentId) -> Run {
    store
        .create_run(new_run_request(experiment, Timestamp::now().as_millis()))
        .await
        .unwrap_or_else(|e| panic!("create_run in {experiment} failed: {e}"))
}

async fn get_run(store: &dyn TrackingStore, id: &RunId) -> Run {
    store
        .get_run(id)
        .await
        .unwrap_or_else(|e| panic!("get_run({id}) failed: {e}"))
}

fn ids(runs: &[Run]) -> Vec<RunId> {
    runs.iter().map(|r| r.info.run_id.clone()).collect()
}

fn assert_tag(run: &Run, key: &str, value: Option<&str>) {
    assert_eq!(
        run.data.tag(key),
        value,
        "run {}: tag {key} is {:?}, expected {value:?} (tags: {:?})",
        run.info.run_id,
        run.data.tag(key),
        run.data.tags
    );
}

/// An experiment id that no backend has: decimal, so MLflow takes it as an id.
fn missing_experiment_id() -> ExperimentId {
    ExperimentId::parse("999999999999999999").unwrap()
}

/// Experiments: create (with tags), get by id and by name, duplicate names, tags, rename,
/// delete and restore, and their effect on names.
pub async fn experiments(store: &dyn TrackingStore) {
    let name = experiment_name(&unique("exp"));
    let id = store
        .create_experiment(&name, &[tag("team", "a"), tag("stage", "dev")])
        .await
        .expect("create_experiment");
    let e = store.get_experiment(&id).await.expect("get_experiment");
    assert_eq!(e.experiment_id, id);
    assert_eq!(e.name, name);
    assert_eq!(e.lifecycle_stage, LifecycleStage::Active);
    assert!(e.creation_time.is_some(), "creation_time missing: {e:?}");
    for (key, value) in [("team", "a"), ("stage", "dev")] {
        assert!(
            e.tags
                .iter()
                .any(|t| t.key().as_str() == key && t.value() == value),
            "experiment tag {key}={value} missing: {:?}",
            e.tags
        );
    }
    let by_name = store
        .get_experiment_by_name(&name)
        .await
        .expect("get_experiment_by_name")
        .expect("the experiment by its name");
    assert_eq!(by_name.experiment_id, id);
    let nobody = experiment_name(&unique("nobody"));
    assert!(
        store
            .get_experiment_by_name(&nobody)
            .await
            .expect("get_experiment_by_name")
            .is_none(),
        "an unknown name must give None"
    );
    match store.get_experiment(&missing_experiment_id()).await {
        Err(TrackError::NotFound { .. }) => {}
        other => panic!("get_experiment of an unknown id: expected NotFound, got {other:?}"),
    }
    match store.create_experiment(&name, &[]).await {
        Err(TrackError::AlreadyExists { .. }) => {}
        other => panic!("creating {name} twice: expected AlreadyExists, got {other:?}"),
    }

    // Tags: last write wins.
    store
        .set_experiment_tag(&id, &tag("team", "b"))
        .await
        .expect("set_experiment_tag");
    store
        .set_experiment_tag(&id, &tag("new", "1"))
        .await
        .expect("set_experiment_tag");
    let e = store.get_experiment(&id).await.expect("get_experiment");
    let team: Vec<&str> = e
        .tags
        .iter()
        .filter(|t| t.key().as_str() == "team")
        .map(Tag::value)
        .collect();
    assert_eq!(team, ["b"], "experiment tag overwrite: {:?}", e.tags);
    assert!(e.tags.iter().any(|t| t.key().as_str() == "new"));

    // Rename: the new name finds it, the old one is free.
    let renamed = experiment_name(&unique("renamed"));
    store
        .rename_experiment(&id, &renamed)
        .await
        .expect("rename_experiment");
    assert_eq!(store.get_experiment(&id).await.expect("get").name, renamed);
    let found = store
        .get_experiment_by_name(&renamed)
        .await
        .expect("by name");
    assert_eq!(found.map(|e| e.experiment_id), Some(id.clone()));
    assert!(
        store
            .get_experiment_by_name(&name)
            .await
            .expect("by name")
            .is_none(),
        "the old name must be free after a rename"
    );
    let other = new_experiment(store, "other").await;
    let other_name = store.get_experiment(&other).await.expect("get").name;
    assert!(
        store.rename_experiment(&id, &other_name).await.is_err(),
        "renaming onto a taken name must fail"
    );
    assert_eq!(store.get_experiment(&id).await.expect("get").name, renamed);
    // The old name can be taken again.
    let reuse = store
        .create_experiment(&name, &[])
        .await
        .expect("create with a freed name");
    assert_ne!(reuse, id);

    // Delete and restore.
    store
        .delete_experiment(&id)
        .await
        .expect("delete_experiment");
    let e = store
        .get_experiment(&id)
        .await
        .expect("get a deleted experiment");
    assert_eq!(e.lifecycle_stage, LifecycleStage::Deleted);
    let e = store
        .get_experiment_by_name(&renamed)
        .await
        .expect("by name")
        .expect("a deleted experiment is still found by name");
    assert_eq!(e.lifecycle_stage, LifecycleStage::Deleted);
    match store.create_experiment(&renamed, &[]).await {
        Err(TrackError::AlreadyExists { .. }) => {}
        other => panic!("the name of a deleted experiment stays taken: got {other:?}"),
    }
    assert!(
        store
            .rename_experiment(&id, &experiment_name(&unique("x")))
            .await
            .is_err(),
        "renaming a deleted experiment must fail"
    );
    store
        .restore_experiment(&id)
        .await
        .expect("restore_experiment");
    assert_eq!(
        store
            .get_experiment(&id)
            .await
            .expect("get")
            .lifecycle_stage,
        LifecycleStage::Active
    );
}

/// Experiment search: filters on name and tags, default and explicit order, view types and
/// paging.
pub async fn experiment_search(store: &dyn TrackingStore) {
    let prefix = unique("xsearch");
    let mut created = Vec::new();
    for (i, team) in ["a", "b", "a", "b", "a"].iter().enumerate() {
        let name = experiment_name(&format!("{prefix}-{i}"));
        let id = store
            .create_experiment(&name, &[tag("team", team)])
            .await
            .expect("create_experiment");
        created.push(id);
        // Distinct creation times make the default order (newest first) unambiguous.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    store
        .delete_experiment(&created[4])
        .await
        .expect("delete_experiment");
    let query = |filter: String, view: ViewType| ExperimentQuery {
        filter: Some(filter),
        view,
        ..ExperimentQuery::default()
    };
    let by_prefix = format!("name LIKE '{prefix}-%'");

    let page = store
        .search_experiments(&query(by_prefix.clone(), ViewType::ActiveOnly))
        .await
        .expect("search_experiments");
    let found: Vec<ExperimentId> = page.items.iter().map(|e| e.experiment_id.clone()).collect();
    let newest_first: Vec<ExperimentId> = created[..4].iter().rev().cloned().collect();
    assert_eq!(found, newest_first, "default order is creation_time DESC");
    assert!(page.next_page_token.is_none());

    let page = store
        .search_experiments(&query(
            format!("{by_prefix} AND tags.team = 'a'"),
            ViewType::ActiveOnly,
        ))
        .await
        .expect("search_experiments with a tag filter");
    let found: BTreeSet<ExperimentId> =
        page.items.iter().map(|e| e.experiment_id.clone()).collect();
    let expected: BTreeSet<ExperimentId> = [created[0].clone(), created[2].clone()].into();
    assert_eq!(found, expected, "tags.team = 'a'");

    let page = store
        .search_experiments(&ExperimentQuery {
            order_by: vec!["name ASC".to_owned()],
            ..query(by_prefix.clone(), ViewType::ActiveOnly)
        })
        .await
        .expect("search_experiments ordered by name");
    let names: Vec<String> = page.items.iter().map(|e| e.name.to_string()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "order_by name ASC");

    let deleted = store
        .search_experiments(&query(by_prefix.clone(), ViewType::DeletedOnly))
        .await
        .expect("search deleted");
    assert_eq!(
        deleted
            .items
            .iter()
            .map(|e| &e.experiment_id)
            .collect::<Vec<_>>(),
        [&created[4]],
        "DeletedOnly"
    );
    let all = store
        .search_experiments(&query(by_prefix.clone(), ViewType::All))
        .await
        .expect("search all");
    assert_eq!(all.items.len(), 5, "ViewType::All");

    // Paging: 2 + 2, no duplicates, same order as one page.
    let mut paged = Vec::new();
    let mut token = None;
    for _ in 0..10 {
        let page = store
            .search_experiments(&ExperimentQuery {
                max_results: Some(2),
                page_token: token.clone(),
                ..query(by_prefix.clone(), ViewType::ActiveOnly)
            })
            .await
            .expect("search_experiments page");
        assert!(page.items.len() <= 2);
        paged.extend(page.items.into_iter().map(|e| e.experiment_id));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(
        paged, newest_first,
        "pages of 2 concatenate to the full result"
    );

    assert!(
        store
            .search_experiments(&query("name LIKE".to_owned(), ViewType::All))
            .await
            .is_err(),
        "a malformed filter must be refused"
    );
}

/// Runs: creation, names, status lifecycle, update, delete and restore (also through their
/// experiment), and the errors around them.
pub async fn run_lifecycle(store: &dyn TrackingStore) {
    let experiment = new_experiment(store, "runs").await;
    let start = Timestamp::now().as_millis() - 60_000;
    let name = RunName::parse("conformance-run").unwrap();
    let run = store
        .create_run(NewRun {
            run_name: Some(name.clone()),
            tags: vec![tag("team", "a")],
            ..new_run_request(&experiment, start)
        })
        .await
        .expect("create_run");
    let id = run.info.run_id.clone();
    assert_eq!(run.info.experiment_id, experiment);
    assert_eq!(run.info.status, RunStatus::Running);
    assert_eq!(run.info.lifecycle_stage, LifecycleStage::Active);
    assert_eq!(run.info.start_time.as_millis(), start);
    assert_eq!(run.info.end_time, None);
    assert_eq!(run.info.user_id, "conformance");
    assert_eq!(run.info.run_name.as_ref(), Some(&name));
    assert_tag(&run, RUN_NAME_TAG, Some("conformance-run"));
    assert_tag(&run, "team", Some("a"));

    let fetched = get_run(store, &id).await;
    assert_eq!(
        fetched.info, run.info,
        "get_run returns what create_run did"
    );

    // A run without a name gets one, under MLflow's tag.
    let unnamed = new_run(store, &experiment).await;
    let generated = unnamed.info.run_name.clone().expect("a generated run name");
    assert_tag(&unnamed, RUN_NAME_TAG, Some(generated.as_str()));

    // A name given both ways must agree.
    assert!(
        store
            .create_run(NewRun {
                run_name: Some(name.clone()),
                tags: vec![tag(RUN_NAME_TAG, "something-else")],
                ..new_run_request(&experiment, start)
            })
            .await
            .is_err(),
        "run_name and a different mlflow.runName tag must be refused"
    );

    // Status and end time.
    let end = Timestamp::from_millis(start + 30_000).unwrap();
    let info = store
        .update_run(&id, Some(RunStatus::Finished), Some(end), None)
        .await
        .expect("update_run");
    assert_eq!(info.status, RunStatus::Finished);
    assert_eq!(info.end_time, Some(end));
    let fetched = get_run(store, &id).await;
    assert_eq!(fetched.info.status, RunStatus::Finished);
    assert_eq!(fetched.info.end_time, Some(end));
    for status in [RunStatus::Failed, RunStatus::Killed, RunStatus::Running] {
        let info = store
            .update_run(&id, Some(status), None, None)
            .await
            .expect("update_run status");
        assert_eq!(info.status, status);
    }
    // Rename: the attribute and the tag follow.
    let new_name = RunName::parse("renamed-run").unwrap();
    let info = store
        .update_run(&id, None, None, Some(&new_name))
        .await
        .expect("update_run name");
    assert_eq!(info.run_name.as_ref(), Some(&new_name));
    assert_tag(
        &get_run(store, &id).await,
        RUN_NAME_TAG,
        Some("renamed-run"),
    );
    // Logging to a finished run is allowed (as in MLflow).
    store
        .update_run(&id, Some(RunStatus::Finished), None, None)
        .await
        .expect("finish");
    store
        .log_batch(&id, &[point("late", 1.0, T0, 0)], &[], &[])
        .await
        .expect("logging to a finished run");

    // Delete and restore.
    let active = |view| RunQuery {
        experiment_ids: vec![experiment.clone()],
        view,
        ..RunQuery::default()
    };
    store.delete_run(&id).await.expect("delete_run");
    let deleted = get_run(store, &id).await;
    assert_eq!(deleted.info.lifecycle_stage, LifecycleStage::Deleted);
    let live = store
        .search_runs(&active(ViewType::ActiveOnly))
        .await
        .expect("search");
    assert!(
        !ids(&live.items).contains(&id),
        "a deleted run is not in ActiveOnly"
    );
    let trash = store
        .search_runs(&active(ViewType::DeletedOnly))
        .await
        .expect("search");
    assert_eq!(ids(&trash.items), std::slice::from_ref(&id), "DeletedOnly");
    assert!(
        store
            .log_batch(&id, &[point("m", 1.0, T0, 0)], &[], &[])
            .await
            .is_err(),
        "logging to a deleted run must fail"
    );
    assert!(
        store
            .update_run(&id, Some(RunStatus::Failed), None, None)
            .await
            .is_err(),
        "updating a deleted run must fail"
    );
    store.restore_run(&id).await.expect("restore_run");
    assert_eq!(
        get_run(store, &id).await.info.lifecycle_stage,
        LifecycleStage::Active
    );

    // Deleting an experiment deletes its runs; restoring it restores them.
    store
        .delete_experiment(&experiment)
        .await
        .expect("delete_experiment");
    assert_eq!(
        get_run(store, &id).await.info.lifecycle_stage,
        LifecycleStage::Deleted,
        "runs of a deleted experiment are deleted"
    );
    assert!(
        store
            .create_run(new_run_request(&experiment, start))
            .await
            .is_err(),
        "creating a run in a deleted experiment must fail"
    );
    store
        .restore_experiment(&experiment)
        .await
        .expect("restore_experiment");
    assert_eq!(
        get_run(store, &id).await.info.lifecycle_stage,
        LifecycleStage::Active,
        "restoring an experiment restores its runs"
    );

    // Unknown ids.
    match store.get_run(&RunId::generate()).await {
        Err(TrackError::NotFound { .. }) => {}
        other => panic!("get_run of an unknown id: expected NotFound, got {other:?}"),
    }
    match store
        .create_run(new_run_request(&missing_experiment_id(), start))
        .await
    {
        Err(TrackError::NotFound { .. }) => {}
        other => panic!("create_run in an unknown experiment: expected NotFound, got {other:?}"),
    }
}

/// `log_batch`: params write-once (same value a no-op, another a `ParamConflict` that writes
/// nothing of its batch), tags last-write-wins and deletable, metric points de-duplicated.
pub async fn log_batch_semantics(store: &dyn TrackingStore) {
    let experiment = new_experiment(store, "batch").await;
    let id = new_run(store, &experiment).await.info.run_id;

    store
        .log_batch(&id, &[], &[param("lr", "0.1"), param("layers", "3")], &[])
        .await
        .expect("log params");
    store
        .log_batch(&id, &[], &[param("lr", "0.1")], &[])
        .await
        .expect("the same param value again is a no-op");
    match store
        .log_batch(
            &id,
            &[point("conflict_metric", 1.0, T0, 0)],
            &[param("fresh", "1"), param("lr", "0.2")],
            &[tag("conflict_tag", "x")],
        )
        .await
    {
        Err(TrackError::ParamConflict {
            key, existing, new, ..
        }) => {
            assert_eq!(
                (key.as_str(), existing.as_str(), new.as_str()),
                ("lr", "0.1", "0.2")
            );
        }
        other => panic!("changing a param: expected ParamConflict, got {other:?}"),
    }
    let run = get_run(store, &id).await;
    assert_eq!(
        run.data.param("lr"),
        Some("0.1"),
        "a param keeps its first value"
    );
    assert_eq!(run.data.param("layers"), Some("3"));
    assert_eq!(
        run.data.param("fresh"),
        None,
        "a refused batch writes no param"
    );
    assert_eq!(
        run.data.metric("conflict_metric"),
        None,
        "a refused batch writes no metric"
    );
    assert_tag(&run, "conflict_tag", None);

    match store
        .log_batch(&id, &[], &[param("dup", "1"), param("dup", "1")], &[])
        .await
    {
        Err(TrackError::DuplicateKey { .. }) => {}
        other => panic!("one param key twice in a batch: expected DuplicateKey, got {other:?}"),
    }
    assert_eq!(get_run(store, &id).await.data.param("dup"), None);

    // Tags: last write wins, deletable.
    store
        .log_batch(&id, &[], &[], &[tag("t", "1"), tag("keep", "k")])
        .await
        .expect("tags");
    store
        .log_batch(&id, &[], &[], &[tag("t", "2")])
        .await
        .expect("tag overwrite");
    let run = get_run(store, &id).await;
    assert_tag(&run, "t", Some("2"));
    assert_tag(&run, "keep", Some("k"));
    let multiline = "line one\nline two\ttabbed";
    store
        .log_batch(&id, &[], &[], &[tag("note", multiline)])
        .await
        .expect("a multi-line tag value");
    assert_tag(&get_run(store, &id).await, "note", Some(multiline));
    store
        .delete_tag(&id, &TagKey::parse("t").unwrap())
        .await
        .expect("delete_tag");
    let run = get_run(store, &id).await;
    assert_tag(&run, "t", None);
    assert_tag(&run, "keep", Some("k"));
    match store.delete_tag(&id, &TagKey::parse("t").unwrap()).await {
        Err(TrackError::NotFound { .. }) => {}
        other => panic!("deleting a missing tag: expected NotFound, got {other:?}"),
    }
    // Setting the run-name tag renames the run.
    store
        .log_batch(&id, &[], &[], &[tag(RUN_NAME_TAG, "tag-named")])
        .await
        .expect("set mlflow.runName");
    let run = get_run(store, &id).await;
    assert_eq!(
        run.info.run_name.as_ref().map(RunName::as_str),
        Some("tag-named")
    );

    // Metric points are de-duplicated on (key, value, timestamp, step), so a retried batch
    // is harmless.
    let batch = [
        point("dedup", 1.0, T0, 0),
        point("dedup", 1.0, T0, 0),
        point("dedup", 2.0, T0, 0),
        point("dedup", 1.0, T0 + 1, 0),
        point("dedup", 1.0, T0, 1),
    ];
    store
        .log_batch(&id, &batch, &[], &[])
        .await
        .expect("metrics");
    store
        .log_batch(&id, &batch, &[], &[])
        .await
        .expect("the same batch again");
    let history = store
        .get_metric_history(&id, &metric_key("dedup"))
        .await
        .expect("get_metric_history");
    assert_eq!(history.len(), 4, "de-duplicated history: {history:?}");
    store
        .log_batch(&id, &[], &[], &[])
        .await
        .expect("an empty batch");

    // Unknown runs.
    match store
        .log_batch(&RunId::generate(), &[point("m", 1.0, T0, 0)], &[], &[])
        .await
    {
        Err(TrackError::NotFound { .. }) => {}
        other => panic!("log_batch to an unknown run: expected NotFound, got {other:?}"),
    }
}

/// MLflow's batch limits: over 1000 metrics, 100 params, 100 tags or 1000 items in all is
/// refused with `TooMany`, and nothing of the batch is written; the limits themselves pass.
pub async fn batch_limits(store: &dyn TrackingStore) {
    let experiment = new_experiment(store, "limits").await;
    let id = new_run(store, &experiment).await.info.run_id;
    let metrics: Vec<Metric> = (0..1001)
        .map(|i| point("bulk", f64::from(i), T0, i64::from(i)))
        .collect();
    let params: Vec<Param> = (0..101).map(|i| param(&format!("p{i}"), "v")).collect();
    let tags: Vec<Tag> = (0..101).map(|i| tag(&format!("t{i}"), "v")).collect();
    let too_many = [
        (&metrics[..], &params[..0], &tags[..0], "metrics"),
        (&metrics[..0], &params[..], &tags[..0], "params"),
        (&metrics[..0], &params[..0], &tags[..], "tags"),
        (&metrics[..900], &params[..100], &tags[..1], "all items"),
    ];
    for (m, p, t, what) in too_many {
        match store.log_batch(&id, m, p, t).await {
            Err(TrackError::TooMany { .. }) => {}
            other => panic!("a batch over the {what} limit: expected TooMany, got {other:?}"),
        }
    }
    let run = get_run(store, &id).await;
    assert!(
        run.data.metrics.is_empty(),
        "refused batches wrote metrics: {:?}",
        run.data.metrics
    );
    assert!(run.data.params.is_empty(), "refused batches wrote params");
    assert!(
        run.data
            .tags
            .iter()
            .all(|t| !t.key().as_str().starts_with('t') || t.key().as_str() == "team"),
        "refused batches wrote tags: {:?}",
        run.data.tags
    );
    store
        .log_batch(&id, &metrics[..1000], &[], &[])
        .await
        .expect("1000 metrics is within the limit");
    store
        .log_batch(&id, &metrics[1000..], &params[..100], &[])
        .await
        .expect("100 params is within the limit");
    store
        .log_batch(&id, &[], &[], &tags[..100])
        .await
        .expect("100 tags is within the limit");
    let run = get_run(store, &id).await;
    assert_eq!(run.data.params.len(), 100);
    assert_eq!(run.data.metric("bulk"), Some(1000.0));
    let history = store
        .get_metric_history(&id, &metric_key("bulk"))
        .await
        .expect("history");
    assert_eq!(history.len(), 1001);
}

/// NaN and ±infinity are stored losslessly, as the latest value and in the history.
pub async fn non_finite_metrics(store: &dyn TrackingStore) {
    let experiment = new_experiment(store, "nonfinite").await;
    let id = new_run(store, &experiment).await.info.run_id;
    let values = [
        ("nan", f64::NAN),
        ("inf", f64::INFINITY),
        ("neg_inf", f64::NEG_INFINITY),
        ("tiny", 5e-324),
        ("big", 1e300),
        ("negative", -2.5),
        ("zero", 0.0),
    ];
    let batch: Vec<Metric> = values
        .iter()
        .map(|(key, value)| point(key, *value, T0, 0))
        .collect();
    store
        .log_batch(&id, &batch, &[], &[])
        .await
        .expect("log non-finite values");
    let run = get_run(store, &id).await;
    for (key, value) in values {
        let got = run
            .data
            .metric(key)
            .unwrap_or_else(|| panic!("metric {key} missing"));
        assert!(
            got.to_bits() == value.to_bits() || (got.is_nan() && value.is_nan()),
            "latest {key}: got {got:?}, logged {value:?}"
        );
        let history = store
            .get_metric_history(&id, &metric_key(key))
            .await
            .expect("history");
        assert_eq!(history.len(), 1, "{key}");
        assert!(
            history[0].same_point(&point(key, value, T0, 0)),
            "history of {key}: {history:?}"
        );
    }
    // A key whose history mixes finite and non-finite values.
    let mixed = [
        point("mixed", 1.0, T0, 0),
        point("mixed", f64::NAN, T0 + 1, 1),
        point("mixed", f64::INFINITY, T0 + 2, 2),
        point("mixed", f64::NEG_INFINITY, T0 + 3, 3),
    ];
    store.log_batch(&id, &mixed, &[], &[]).await.expect("mixed");
    let history = store
        .get_metric_history(&id, &metric_key("mixed"))
        .await
        .expect("history");
    assert_eq!(history.len(), 4);
    for (got, want) in history.iter().zip(&mixed) {
        assert!(got.same_point(want), "history: {history:?}");
    }
    assert_eq!(run.data.metric("missing"), None);
}

/// Metric history: every point of one key, in order (here steps and timestamps rise
/// together, so logging order and MLflow's (timestamp, step) order agree), across batches;
/// the latest value follows MLflow's rule (highest step, then timestamp, then value).
pub async fn metric_history(store: &dyn TrackingStore) {
    let experiment = new_experiment(store, "history").await;
    let id = new_run(store, &experiment).await.info.run_id;
    let mut logged = Vec::new();
    for chunk in 0..3 {
        let batch: Vec<Metric> = (0..900)
            .map(|i| {
                let step = chunk * 900 + i;
                point("loss", 1.0 / (step as f64 + 1.0), T0 + step, step)
            })
            .chain((0..50).map(|i| {
                point(
                    "acc",
                    f64::from(i) / 50.0,
                    T0 + i64::from(i),
                    i64::from(i) + chunk * 50,
                )
            }))
            .collect();
        store.log_batch(&id, &batch, &[], &[]).await.expect("log");
        logged.extend(batch.into_iter().filter(|m| m.key.as_str() == "loss"));
    }
    let history = store
        .get_metric_history(&id, &metric_key("loss"))
        .await
        .expect("history");
    assert_eq!(history.len(), logged.len());
    for (i, (got, want)) in history.iter().zip(&logged).enumerate() {
        assert!(
            got.same_point(want),
            "point {i}: got {got:?}, logged {want:?}"
        );
    }
    let acc = store
        .get_metric_history(&id, &metric_key("acc"))
        .await
        .expect("history");
    assert_eq!(acc.len(), 150);
    assert!(
        store
            .get_metric_history(&id, &metric_key("never_logged"))
            .await
            .expect("history of an unknown key")
            .is_empty()
    );
    assert!(
        store
            .get_metric_history(&RunId::generate(), &metric_key("loss"))
            .await
            .is_err(),
        "history of an unknown run must fail"
    );

    // The latest value: highest step wins over later time; then latest time; then the
    // largest value.
    store
        .log_batch(
            &id,
            &[
                point("latest", 1.0, T0 + 10, 5),
                point("latest", 9.0, T0 + 99, 3),
                point("tie", 1.0, T0, 1),
                point("tie", 3.0, T0, 1),
                point("tie", 2.0, T0, 1),
                point("time", 1.0, T0 + 5, 1),
                point("time", 7.0, T0 + 1, 1),
            ],
            &[],
            &[],
        )
        .await
        .expect("log");
    let run = get_run(store, &id).await;
    assert_eq!(run.data.metric("latest"), Some(1.0), "highest step wins");
    assert_eq!(
        run.data.metric("tie"),
        Some(3.0),
        "same step and time: largest value"
    );
    assert_eq!(
        run.data.metric("time"),
        Some(1.0),
        "same step: latest timestamp"
    );
    assert_eq!(run.data.metric("loss"), Some(1.0 / 2700.0));
}

fn dataset(name: &str, digest: &str) -> Dataset {
    Dataset {
        name: name.to_owned(),
        digest: digest.to_owned(),
        source_type: "local".to_owned(),
        source: format!("/data/{name}.parquet"),
        schema: Some(
            r#"{"mlflow_colspec": [{"type": "double", "name": "x", "required": true}]}"#.to_owned(),
        ),
        profile: Some(r#"{"num_rows": 10}"#.to_owned()),
    }
}

/// Dataset inputs: recorded with their input tags, de-duplicated on (name, digest).
pub async fn inputs(store: &dyn TrackingStore) {
    let experiment = new_experiment(store, "inputs").await;
    let id = new_run(store, &experiment).await.info.run_id;
    let train = DatasetInput {
        dataset: dataset("train", "0123456789abcdef"),
        tags: vec![tag(DATASET_CONTEXT_TAG, "training")],
    };
    let eval = DatasetInput {
        dataset: dataset("eval", "fedcba9876543210"),
        tags: vec![tag(DATASET_CONTEXT_TAG, "eval")],
    };
    store
        .log_inputs(&id, std::slice::from_ref(&train))
        .await
        .expect("log_inputs");
    store
        .log_inputs(&id, &[train.clone(), eval.clone()])
        .await
        .expect("log_inputs again");
    let run = get_run(store, &id).await;
    assert_eq!(
        run.inputs.len(),
        2,
        "inputs de-duplicated on name and digest: {:?}",
        run.inputs
    );
    for want in [&train, &eval] {
        let got = run
            .inputs
            .iter()
            .find(|i| i.dataset.name == want.dataset.name)
            .unwrap_or_else(|| panic!("input {} missing", want.dataset.name));
        assert_eq!(got.dataset.digest, want.dataset.digest);
        assert_eq!(got.dataset.source, want.dataset.source);
        assert_eq!(got.dataset.source_type, want.dataset.source_type);
        let json = |s: &Option<String>| {
            s.as_deref()
                .map(|s| serde_json::from_str::<serde_json::Value>(s).expect("JSON"))
        };
        assert_eq!(json(&got.dataset.schema), json(&want.dataset.schema));
        assert_eq!(json(&got.dataset.profile), json(&want.dataset.profile));
        assert!(
            got.tags.iter().any(|t| want.tags.contains(t)),
            "input tags of {}: {:?}",
            want.dataset.name,
            got.tags
        );
    }
    assert!(
        store
            .log_inputs(&RunId::generate(), &[train])
            .await
            .is_err(),
        "log_inputs to an unknown run must fail"
    );
}

fn artifact_path(text: &str) -> ArtifactPath {
    ArtifactPath::parse(text).unwrap()
}

/// Artifacts: upload, overwrite, download, and listing one folder at a time.
pub async fn artifacts(store: &dyn TrackingStore) {
    let experiment = new_experiment(store, "artifacts").await;
    let id = new_run(store, &experiment).await.info.run_id;
    let files = [
        ("model/weights.bin", Bytes::from(vec![0u8, 1, 2, 255])),
        ("model/config.json", Bytes::from_static(b"{\"layers\": 3}")),
        ("readme.txt", Bytes::from_static(b"hello")),
        ("plots/roc curve.svg", Bytes::from_static(b"<svg/>")),
        ("plots/deep/er.txt", Bytes::from_static(b"")),
    ];
    for (path, bytes) in &files {
        store
            .log_artifact(&id, &artifact_path(path), bytes.clone())
            .await
            .unwrap_or_else(|e| panic!("log_artifact {path}: {e}"));
    }
    for (path, bytes) in &files {
        let got = store
            .download_artifact(&id, &artifact_path(path))
            .await
            .unwrap_or_else(|e| panic!("download_artifact {path}: {e}"));
        assert_eq!(&got, bytes, "{path}");
    }
    let root = store
        .list_artifacts(&id, None)
        .await
        .expect("list_artifacts");
    let summary: Vec<(String, bool, Option<u64>)> = root
        .iter()
        .map(|a| (a.path.to_string(), a.is_dir, a.size))
        .collect();
    assert_eq!(
        summary,
        [
            ("model".to_owned(), true, None),
            ("plots".to_owned(), true, None),
            ("readme.txt".to_owned(), false, Some(5)),
        ],
        "the root folder"
    );
    let model = store
        .list_artifacts(&id, Some(&artifact_path("model")))
        .await
        .expect("list model/");
    let summary: Vec<(String, bool, Option<u64>)> = model
        .iter()
        .map(|a| (a.path.to_string(), a.is_dir, a.size))
        .collect();
    assert_eq!(
        summary,
        [
            ("model/config.json".to_owned(), false, Some(13)),
            ("model/weights.bin".to_owned(), false, Some(4)),
        ],
        "paths are relative to the run's artifact root"
    );
    let plots = store
        .list_artifacts(&id, Some(&artifact_path("plots")))
        .await
        .expect("list plots/");
    let summary: Vec<(String, bool)> = plots
        .iter()
        .map(|a| (a.path.to_string(), a.is_dir))
        .collect();
    assert_eq!(
        summary,
        [
            ("plots/deep".to_owned(), true),
            ("plots/roc curve.svg".to_owned(), false)
        ]
    );
    assert!(
        store
            .list_artifacts(&id, Some(&artifact_path("no/such/folder")))
            .await
            .expect("listing a missing folder")
            .is_empty()
    );

    store
        .log_artifact(
            &id,
            &artifact_path("readme.txt"),
            Bytes::from_static(b"hello again"),
        )
        .await
        .expect("overwrite");
    assert_eq!(
        store
            .download_artifact(&id, &artifact_path("readme.txt"))
            .await
            .expect("download"),
        Bytes::from_static(b"hello again")
    );
    match store
        .download_artifact(&id, &artifact_path("missing.bin"))
        .await
    {
        Err(TrackError::NotFound { .. }) => {}
        other => panic!("downloading a missing artifact: expected NotFound, got {other:?}"),
    }
    assert!(
        store
            .log_artifact(&RunId::generate(), &artifact_path("x.txt"), Bytes::new())
            .await
            .is_err(),
        "log_artifact to an unknown run must fail"
    );
}

/// Run search: MLflow's filters on metrics, params, tags and attributes, order-by, the
/// default order (start time descending), several experiments, and paging.
pub async fn search_runs(store: &dyn TrackingStore) {
    let first = new_experiment(store, "rsearch-a").await;
    let second = new_experiment(store, "rsearch-b").await;
    let base = Timestamp::now().as_millis() - 3_600_000;
    // (experiment, rmse, alpha, team, finished)
    let specs = [
        (&first, 0.30, "0.1", "a", true),
        (&first, 0.60, "0.1", "b", true),
        (&first, 0.20, "0.5", "a", false),
        (&first, 0.45, "0.1", "a", true),
        (&second, 0.10, "0.1", "b", true),
        (&second, f64::NAN, "0.1", "a", false),
    ];
    let mut runs = Vec::new();
    for (i, (experiment, rmse, alpha, team, finished)) in specs.iter().enumerate() {
        let run = store
            .create_run(NewRun {
                run_name: Some(RunName::parse(format!("search-{i}")).unwrap()),
                ..new_run_request(experiment, base + i as i64 * 1000)
            })
            .await
            .expect("create_run");
        let id = run.info.run_id;
        store
            .log_batch(
                &id,
                &[point("rmse", *rmse, T0, 0)],
                &[param("alpha", alpha)],
                &[tag("team", team)],
            )
            .await
            .expect("log_batch");
        if *finished {
            store
                .update_run(&id, Some(RunStatus::Finished), Some(Timestamp::now()), None)
                .await
                .expect("finish");
        }
        runs.push(id);
    }
    let both = vec![first.clone(), second.clone()];
    let search = |filter: &str, order_by: &[&str]| RunQuery {
        experiment_ids: both.clone(),
        filter: (!filter.is_empty()).then(|| filter.to_owned()),
        order_by: order_by.iter().map(|s| (*s).to_owned()).collect(),
        ..RunQuery::default()
    };
    let found = |page: crate::store::Page<Run>| ids(&page.items);
    let pick =
        |indices: &[usize]| -> Vec<RunId> { indices.iter().map(|&i| runs[i].clone()).collect() };

    // Default order: start time, newest first.
    let all = found(
        store
            .search_runs(&search("", &[]))
            .await
            .expect("search all"),
    );
    assert_eq!(
        all,
        pick(&[5, 4, 3, 2, 1, 0]),
        "default order is start_time DESC"
    );
    let only_first = store
        .search_runs(&RunQuery {
            experiment_ids: vec![first.clone()],
            ..RunQuery::default()
        })
        .await
        .expect("one experiment");
    assert_eq!(ids(&only_first.items), pick(&[3, 2, 1, 0]));

    for (filter, expected) in [
        (
            "metrics.rmse < 0.5 and params.alpha = '0.1'",
            pick(&[4, 3, 0]),
        ),
        ("tags.team = 'a'", pick(&[5, 3, 2, 0])),
        ("attributes.status = 'FINISHED'", pick(&[4, 3, 1, 0])),
        ("attributes.status != 'FINISHED'", pick(&[5, 2])),
        (
            "params.alpha LIKE '0.%' AND metrics.rmse >= 0.45",
            pick(&[3, 1]),
        ),
        ("attributes.run_name ILIKE 'SEARCH-1'", pick(&[1])),
        ("metrics.rmse != 0.3", pick(&[5, 4, 3, 2, 1])),
        ("tags.team = 'c'", Vec::new()),
    ] {
        let got = found(store.search_runs(&search(filter, &[])).await.expect(filter));
        assert_eq!(got, expected, "filter {filter:?}");
    }
    let in_list = format!("attributes.run_id IN ('{}', '{}')", runs[1], runs[4]);
    assert_eq!(
        found(store.search_runs(&search(&in_list, &[])).await.expect("IN")),
        pick(&[4, 1])
    );

    // Order by a metric: NaN after the numbers, in both directions.
    let asc = found(
        store
            .search_runs(&search("", &["metrics.rmse ASC"]))
            .await
            .expect("asc"),
    );
    assert_eq!(asc, pick(&[4, 2, 0, 3, 1, 5]), "metrics.rmse ASC");
    let desc = found(
        store
            .search_runs(&search("", &["metrics.rmse DESC"]))
            .await
            .expect("desc"),
    );
    assert_eq!(desc, pick(&[1, 3, 0, 2, 4, 5]), "metrics.rmse DESC");

    // Paging reproduces the full order.
    let mut paged = Vec::new();
    let mut token = None;
    for _ in 0..10 {
        let page = store
            .search_runs(&RunQuery {
                max_results: Some(2),
                page_token: token.clone(),
                ..search("", &["metrics.rmse ASC"])
            })
            .await
            .expect("page");
        assert!(page.items.len() <= 2);
        paged.extend(ids(&page.items));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, asc, "pages of 2 concatenate to the full result");

    // Deleted runs only in their view.
    store.delete_run(&runs[0]).await.expect("delete_run");
    let live = found(store.search_runs(&search("", &[])).await.expect("search"));
    assert_eq!(live, pick(&[5, 4, 3, 2, 1]));
    let deleted = found(
        store
            .search_runs(&RunQuery {
                view: ViewType::DeletedOnly,
                ..search("", &[])
            })
            .await
            .expect("search deleted"),
    );
    assert_eq!(deleted, pick(&[0]));

    assert!(
        store
            .search_runs(&search("metrics.rmse <", &[]))
            .await
            .is_err(),
        "a malformed filter must be refused"
    );
    assert!(
        store
            .search_runs(&search("", &["metrics.rmse SIDEWAYS"]))
            .await
            .is_err(),
        "a malformed order-by must be refused"
    );
}

/// Every artifact-path payload of the project's bad-input checklist (RELIABILITY §1.4).
pub const BAD_ARTIFACT_PATHS: &[&str] = &[
    "..",
    "a/../b",
    "../x",
    "a/..",
    "a/b/..",
    ".",
    "a/./b",
    "a//b",
    "/a",
    "a/",
    "",
    "/etc/passwd",
    "C:\\x",
    "C:/x",
    "\\\\server\\share",
    "//server/share",
    "a\\..\\b",
    "%2e%2e/",
    "%2E%2E%2F",
    "..%2f",
    "%252e%252e%252f",
    "..%5c",
    "%c0%ae%c0%ae/",
    "a%00b",
    "\u{ff0e}\u{ff0e}/x",
    "\u{2024}\u{2024}/x",
    "a\0b",
    "a\nb",
    "a\rb",
    "a\tb",
    "a\u{7f}b",
    "a\u{85}b",
    "a#1",
    "a?b",
    "a;b",
    "http:///#/../../etc/",
    "file://localhost/etc/passwd",
    "cafe\u{301}",
];

/// Bad input: every name, key, value and path beyond MLflow's limits or the checklist is
/// refused before it reaches a store (the types cannot hold it), and the store refuses what
/// only it can check, writing nothing.
pub async fn bad_input(store: &dyn TrackingStore) {
    for path in BAD_ARTIFACT_PATHS {
        assert!(
            ArtifactPath::parse(*path).is_err(),
            "artifact path {path:?} must be refused"
        );
    }
    let long_segment = "a".repeat(256);
    assert!(
        ArtifactPath::parse(long_segment.as_str()).is_err(),
        "a segment over 255 bytes"
    );
    let long_path = vec!["abcdefgh"; 130].join("/");
    assert!(
        ArtifactPath::parse(long_path).is_err(),
        "a path over 1024 bytes"
    );
    assert!(
        ExperimentName::parse("x".repeat(501)).is_err(),
        "experiment name over 500"
    );
    assert!(ExperimentName::parse("a/../b").is_err());
    assert!(ExperimentName::parse(" padded ").is_err());
    assert!(ParamKey::parse("k".repeat(251)).is_err(), "key over 250");
    assert!(MetricKey::parse("../loss").is_err());
    assert!(TagKey::parse("a\nb").is_err());
    assert!(
        Param::parse("k", "v".repeat(6001)).is_err(),
        "param value over 6000"
    );
    assert!(
        Tag::parse("k", "v".repeat(8001)).is_err(),
        "tag value over 8000"
    );
    assert!(Tag::parse("k", "a\0b").is_err());
    assert!(RunId::parse("../0123456789abcdef0123456789abcd").is_err());
    assert!(RunId::parse("0123456789ABCDEF0123456789ABCDEF").is_err());
    assert!(ExperimentId::parse("1/2").is_err());
    assert!(Timestamp::from_millis(-1).is_err());
    assert!(RunName::parse("a\nb").is_err());

    // What only the store can check: refused, and nothing written.
    let experiment = new_experiment(store, "bad").await;
    let id = new_run(store, &experiment).await.info.run_id;
    let before = get_run(store, &id).await;
    let metrics: Vec<Metric> = (0..1001).map(|i| point("m", 1.0, T0, i)).collect();
    assert!(matches!(
        store
            .log_batch(&id, &metrics, &[param("p", "1")], &[])
            .await,
        Err(TrackError::TooMany { .. })
    ));
    assert!(matches!(
        store
            .log_batch(
                &id,
                &metrics[..1],
                &[param("p", "1"), param("p", "2")],
                &[tag("t", "1")]
            )
            .await,
        Err(TrackError::DuplicateKey { .. })
    ));
    let after = get_run(store, &id).await;
    assert_eq!(
        before.data, after.data,
        "refused batches must write nothing"
    );
    assert!(
        store
            .list_artifacts(&id, None)
            .await
            .expect("list")
            .is_empty(),
        "no artifact was written"
    );
}

/// Several handles on one store (separate processes, in spirit: each with its own cache)
/// create the same experiment name at once: exactly one succeeds, the others get
/// `AlreadyExists`, and every handle then finds the one id by name.
pub async fn concurrent_create_by_name(stores: &[&dyn TrackingStore]) {
    assert!(!stores.is_empty(), "give at least one store handle");
    let name = experiment_name(&unique("race"));
    let attempts = stores
        .iter()
        .cycle()
        .take(stores.len().max(4))
        .map(|store| store.create_experiment(&name, &[]));
    let results = futures::future::join_all(attempts).await;
    let mut winners = Vec::new();
    for result in results {
        match result {
            Ok(id) => winners.push(id),
            Err(TrackError::AlreadyExists { .. }) => {}
            Err(e) => panic!("a racing create_experiment failed: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create wins: {winners:?}");
    for store in stores {
        let found = store
            .get_experiment_by_name(&name)
            .await
            .expect("get_experiment_by_name")
            .expect("the experiment exists");
        assert_eq!(
            found.experiment_id, winners[0],
            "every handle sees the winner's id"
        );
    }
}
