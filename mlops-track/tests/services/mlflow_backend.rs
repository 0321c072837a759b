//! The MLflow backend against the real MLflow server that `scripts/test.sh` starts
//! (`MLOPS_TEST_MLFLOW_URI`), plus MLflow's own Python client for interop and a loopback
//! TCP proxy that loses answers or stalls, for retries.
//!
//! The server is shared by every test: each one works in experiments with unique names.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use mlops_core::testing::{LossyProxy, MLFLOW_URI, PYTHON, ProxyMode, require_env};
use mlops_core::{ArtifactPath, DatasetDigest};
use mlops_track::TrackingStoreExt;
use mlops_track::mlflow::{CLIENT_REQUEST_ID_TAG, MlflowStore};
use mlops_track::{
    DATASET_CONTEXT_TAG, Dataset, DatasetInput, DatasetRef, ExperimentId, ExperimentName,
    ExperimentQuery, LifecycleStage, Metric, MetricKey, NewRun, Param, Run, RunId, RunName,
    RunQuery, RunStatus, Tag, TagKey, Timestamp, TrackError, TrackingStore, ViewType,
};

// --- helpers --------------------------------------------------------------------------------

fn uri() -> String {
    require_env(MLFLOW_URI)
}

fn store() -> MlflowStore {
    MlflowStore::new(&uri()).unwrap()
}

fn unique_name(test: &str) -> ExperimentName {
    ExperimentName::parse(format!("mlflow-backend/{test}-{}", RunId::generate())).unwrap()
}

async fn new_experiment(store: &MlflowStore, test: &str) -> ExperimentId {
    store
        .create_experiment(&unique_name(test), &[])
        .await
        .unwrap()
}

fn new_run_spec(experiment: &ExperimentId) -> NewRun {
    NewRun {
        experiment_id: experiment.clone(),
        run_name: None,
        user_id: "ada".into(),
        start_time: Timestamp::from_millis(1_700_000_000_000).unwrap(),
        tags: vec![],
    }
}

async fn new_run(store: &MlflowStore, test: &str) -> Run {
    let experiment = new_experiment(store, test).await;
    store.create_run(new_run_spec(&experiment)).await.unwrap()
}

fn key(k: &str) -> MetricKey {
    MetricKey::parse(k).unwrap()
}

fn point(k: &str, value: f64, ts: i64, step: i64) -> Metric {
    Metric::new(key(k), value, Timestamp::from_millis(ts).unwrap(), step)
}

fn path(p: &str) -> ArtifactPath {
    ArtifactPath::parse(p).unwrap()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::parse(k, v).unwrap()
}

fn param(k: &str, v: &str) -> Param {
    Param::parse(k, v).unwrap()
}

fn same_points(a: &[Metric], b: &[Metric]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_point(y))
}

fn dataset_input(name: &str) -> DatasetInput {
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("label", DataType::Utf8, true),
    ]));
    let dataset = DatasetRef::new(
        name,
        "s3://bucket/train.parquet",
        schema,
        DatasetDigest::from_bytes([7; 16]),
        42,
    )
    .unwrap();
    DatasetInput {
        dataset: Dataset::from_ref(&dataset),
        tags: vec![tag(DATASET_CONTEXT_TAG, "training")],
    }
}

// --- experiments ----------------------------------------------------------------------------

#[tokio::test]
async fn experiments_lifecycle() {
    let store = store();
    let name = unique_name("experiments");
    let id = store
        .create_experiment(&name, &[tag("team", "a")])
        .await
        .unwrap();

    let err = store.create_experiment(&name, &[]).await.unwrap_err();
    assert!(
        matches!(&err, TrackError::AlreadyExists { what: "experiment", name: n } if n == name.as_str()),
        "{err:?}"
    );

    let got = store.get_experiment(&id).await.unwrap();
    assert_eq!(got.name, name);
    assert_eq!(got.lifecycle_stage, LifecycleStage::Active);
    assert_eq!(
        got.tags,
        vec![tag("team", "a")],
        "the client tag is not shown"
    );
    assert_eq!(got.artifact_location, format!("mlflow-artifacts:/{id}"));
    assert!(got.creation_time.is_some());
    assert_eq!(
        store.get_experiment_by_name(&name).await.unwrap().unwrap(),
        got
    );
    let missing = unique_name("never-created");
    assert!(
        store
            .get_experiment_by_name(&missing)
            .await
            .unwrap()
            .is_none()
    );
    let unknown = ExperimentId::parse("987654321").unwrap();
    let err = store.get_experiment(&unknown).await.unwrap_err();
    assert!(
        matches!(&err, TrackError::NotFound { what: "experiment", id } if id == "987654321"),
        "{err:?}"
    );

    store
        .set_experiment_tag(&id, &tag("team", "b"))
        .await
        .unwrap();
    store
        .set_experiment_tag(&id, &tag("owner", "ada"))
        .await
        .unwrap();
    let tags: BTreeMap<String, String> = store
        .get_experiment(&id)
        .await
        .unwrap()
        .tags
        .into_iter()
        .map(|t| (t.key().to_string(), t.value().to_owned()))
        .collect();
    assert_eq!(
        tags,
        BTreeMap::from([
            ("owner".to_owned(), "ada".to_owned()),
            ("team".to_owned(), "b".to_owned())
        ])
    );

    let renamed = unique_name("renamed");
    store.rename_experiment(&id, &renamed).await.unwrap();
    assert_eq!(store.get_experiment(&id).await.unwrap().name, renamed);
    assert!(store.get_experiment_by_name(&name).await.unwrap().is_none());
    let other = new_experiment(&store, "other").await;
    let err = store.rename_experiment(&other, &renamed).await.unwrap_err();
    assert!(
        matches!(
            &err,
            TrackError::AlreadyExists {
                what: "experiment",
                ..
            }
        ),
        "{err:?}"
    );

    store.delete_experiment(&id).await.unwrap();
    assert_eq!(
        store.get_experiment(&id).await.unwrap().lifecycle_stage,
        LifecycleStage::Deleted
    );
    // Already deleted: MLflow says "does not exist"; this store says it is done.
    store.delete_experiment(&id).await.unwrap();
    // Deleted experiments are still found by name.
    let by_name = store
        .get_experiment_by_name(&renamed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_name.lifecycle_stage, LifecycleStage::Deleted);
    let err = store.create_run(new_run_spec(&id)).await.unwrap_err();
    assert!(matches!(err, TrackError::InvalidState(_)), "{err:?}");

    store.restore_experiment(&id).await.unwrap();
    store.restore_experiment(&id).await.unwrap();
    assert_eq!(
        store.get_experiment(&id).await.unwrap().lifecycle_stage,
        LifecycleStage::Active
    );
    let err = store.delete_experiment(&unknown).await.unwrap_err();
    assert!(matches!(err, TrackError::NotFound { .. }), "{err:?}");
    let err = store.restore_experiment(&unknown).await.unwrap_err();
    assert!(matches!(err, TrackError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn experiments_search_pages_through_every_match() {
    let store = store();
    let prefix = format!("mlflow-backend/search-{}", RunId::generate());
    let mut created = Vec::new();
    for i in 0..5 {
        let name = ExperimentName::parse(format!("{prefix}/{i}")).unwrap();
        created.push(store.create_experiment(&name, &[]).await.unwrap());
    }
    store.delete_experiment(&created[4]).await.unwrap();

    let mut query = ExperimentQuery {
        filter: Some(format!("name LIKE '{prefix}/%'")),
        order_by: vec!["name ASC".into()],
        max_results: Some(2),
        ..ExperimentQuery::default()
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.search_experiments(&query).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|e| e.experiment_id));
        match page.next_page_token {
            Some(token) => query.page_token = Some(token),
            None => break,
        }
    }
    assert_eq!(seen, created[..4]);
    assert!(pages >= 2, "{pages} pages");

    let deleted = store
        .search_experiments(&ExperimentQuery {
            filter: Some(format!("name LIKE '{prefix}/%'")),
            view: ViewType::DeletedOnly,
            ..ExperimentQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        deleted
            .items
            .iter()
            .map(|e| e.experiment_id.clone())
            .collect::<Vec<_>>(),
        [created[4].clone()]
    );
}

// --- runs -----------------------------------------------------------------------------------

#[tokio::test]
async fn runs_lifecycle() {
    let store = store();
    let experiment = new_experiment(&store, "runs").await;
    let name = RunName::parse("bright-owl-1").unwrap();
    let run = store
        .create_run(NewRun {
            run_name: Some(name.clone()),
            tags: vec![tag("team", "a"), tag("mlflow.user", "ada")],
            ..new_run_spec(&experiment)
        })
        .await
        .unwrap();
    let info = &run.info;
    assert_eq!(info.run_name.as_ref(), Some(&name));
    assert_eq!(info.experiment_id, experiment);
    assert_eq!(info.user_id, "ada");
    assert_eq!(info.status, RunStatus::Running);
    assert_eq!(info.start_time.as_millis(), 1_700_000_000_000);
    assert_eq!(info.end_time, None);
    assert_eq!(
        info.artifact_uri,
        format!("mlflow-artifacts:/{experiment}/{}/artifacts", info.run_id)
    );
    assert_eq!(run.data.tag("team"), Some("a"));
    assert_eq!(run.data.tag("mlflow.runName"), Some("bright-owl-1"));
    assert_eq!(run.data.tag(CLIENT_REQUEST_ID_TAG), None, "hidden");

    let got = store.get_run(&info.run_id).await.unwrap();
    assert_eq!(got, run);
    let err = store
        .create_run(NewRun {
            run_name: Some(RunName::parse("one").unwrap()),
            tags: vec![tag("mlflow.runName", "other")],
            ..new_run_spec(&experiment)
        })
        .await
        .unwrap_err();
    assert!(matches!(err, TrackError::InvalidArgument(_)), "{err:?}");

    let renamed = RunName::parse("calm-fox-2").unwrap();
    let end = Timestamp::from_millis(1_700_000_100_000).unwrap();
    let updated = store
        .update_run(
            &info.run_id,
            Some(RunStatus::Finished),
            Some(end),
            Some(&renamed),
        )
        .await
        .unwrap();
    assert_eq!(updated.status, RunStatus::Finished);
    assert_eq!(updated.end_time, Some(end));
    assert_eq!(updated.run_name.as_ref(), Some(&renamed));
    let got = store.get_run(&info.run_id).await.unwrap();
    assert_eq!(got.info, updated);
    assert_eq!(got.data.tag("mlflow.runName"), Some("calm-fox-2"));
    // Nothing to change is fine too.
    let same = store
        .update_run(&info.run_id, None, None, None)
        .await
        .unwrap();
    assert_eq!(same, updated);

    store
        .log_batch(&info.run_id, &[], &[], &[tag("to-delete", "x")])
        .await
        .unwrap();
    store
        .delete_tag(&info.run_id, &TagKey::parse("to-delete").unwrap())
        .await
        .unwrap();
    assert_eq!(
        store
            .get_run(&info.run_id)
            .await
            .unwrap()
            .data
            .tag("to-delete"),
        None
    );
    let err = store
        .delete_tag(&info.run_id, &TagKey::parse("to-delete").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TrackError::NotFound { what: "tag", id } if id == "to-delete"),
        "{err:?}"
    );

    store.delete_run(&info.run_id).await.unwrap();
    store.delete_run(&info.run_id).await.unwrap();
    let got = store.get_run(&info.run_id).await.unwrap();
    assert_eq!(got.info.lifecycle_stage, LifecycleStage::Deleted);
    let err = store
        .log_batch(&info.run_id, &[point("m", 1.0, 1, 0)], &[], &[])
        .await
        .unwrap_err();
    assert!(matches!(err, TrackError::InvalidState(_)), "{err:?}");
    store.restore_run(&info.run_id).await.unwrap();
    store.restore_run(&info.run_id).await.unwrap();
    assert_eq!(
        store
            .get_run(&info.run_id)
            .await
            .unwrap()
            .info
            .lifecycle_stage,
        LifecycleStage::Active
    );

    // Unknown runs are NotFound on every call that names one.
    let unknown = RunId::generate();
    let not_found = |e: TrackError| {
        assert!(
            matches!(&e, TrackError::NotFound { what: "run", id } if id == unknown.as_str()),
            "{e:?}"
        );
    };
    not_found(store.get_run(&unknown).await.unwrap_err());
    not_found(
        store
            .update_run(&unknown, Some(RunStatus::Killed), None, None)
            .await
            .unwrap_err(),
    );
    not_found(store.delete_run(&unknown).await.unwrap_err());
    not_found(
        store
            .log_batch(&unknown, &[point("m", 1.0, 1, 0)], &[], &[])
            .await
            .unwrap_err(),
    );
    not_found(
        store
            .get_metric_history(&unknown, &key("m"))
            .await
            .unwrap_err(),
    );
    not_found(
        store
            .delete_tag(&unknown, &TagKey::parse("t").unwrap())
            .await
            .unwrap_err(),
    );
    not_found(store.list_artifacts(&unknown, None).await.unwrap_err());
    let err = store
        .create_run(new_run_spec(&ExperimentId::parse("987654321").unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            TrackError::NotFound {
                what: "experiment",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn log_batch_splits_beyond_the_server_limits() {
    let store = MlflowStore::builder(&uri())
        .metric_history_page_size(700)
        .build()
        .unwrap();
    let run = new_run(&store, "batching").await;
    let id = &run.info.run_id;
    let metrics: Vec<Metric> = (0..2500)
        .map(|i| {
            point(
                "loss",
                1.0 / f64::from(i + 1),
                1_000 + i64::from(i),
                i64::from(i),
            )
        })
        .chain((0..300).map(|i| point("acc", f64::from(i) / 300.0, 5_000, i64::from(i))))
        .collect();
    let params: Vec<Param> = (0..250)
        .map(|i| param(&format!("p{i:03}"), &format!("v{i}")))
        .collect();
    // Tag values near MLflow's limit: 150 of them are 1.2 MB, more than one request holds.
    let tags: Vec<Tag> = (0..150)
        .map(|i| tag(&format!("t{i:03}"), &format!("w{i}-{}", "é\"".repeat(3990))))
        .collect();
    // The trait's log_batch is one request: over the limits it refuses, writing nothing.
    for (m, p, t) in [
        (&metrics[..1001], &params[..0], &tags[..0]),
        (&metrics[..0], &params[..101], &tags[..0]),
        (&metrics[..0], &params[..0], &tags[..101]),
        (&metrics[..901], &params[..50], &tags[..50]),
    ] {
        let err = store.log_batch(id, m, p, t).await.unwrap_err();
        assert!(matches!(err, TrackError::TooMany { .. }), "{err:?}");
    }
    let untouched = store.get_run(id).await.unwrap();
    assert!(untouched.data.metrics.is_empty() && untouched.data.params.is_empty());
    // log_batch_chunked splits any size into requests within the limits.
    store
        .log_batch_chunked(id, &metrics, &params, &tags)
        .await
        .unwrap();
    // Everything again: a no-op (points de-duplicated, same params, same tags).
    store
        .log_batch_chunked(id, &metrics, &params, &tags)
        .await
        .unwrap();
    // At the limits exactly, log_batch takes one request.
    store
        .log_batch(id, &metrics[..900], &params[..50], &tags[..50])
        .await
        .unwrap();

    let got = store.get_run(id).await.unwrap();
    assert_eq!(got.data.params.len(), 250);
    for p in &params {
        assert_eq!(got.data.param(p.key().as_str()), Some(p.value()));
    }
    for t in &tags {
        assert_eq!(got.data.tag(t.key().as_str()), Some(t.value()));
    }
    assert_eq!(got.data.metric("loss"), Some(1.0 / 2500.0));
    assert_eq!(got.data.metric("acc"), Some(299.0 / 300.0));

    // 2500 points come back over 4 pages of 700, in the server's order (timestamp, step).
    let loss = store.get_metric_history(id, &key("loss")).await.unwrap();
    assert!(
        same_points(&loss, &metrics[..2500]),
        "{} points",
        loss.len()
    );
    let mut acc = store.get_metric_history(id, &key("acc")).await.unwrap();
    acc.sort_by_key(|m| m.step);
    assert!(same_points(&acc, &metrics[2500..]));
    assert!(
        store
            .get_metric_history(id, &key("never-logged"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn nan_and_infinities_round_trip() {
    let store = store();
    let run = new_run(&store, "non-finite").await;
    let id = &run.info.run_id;
    let points = [
        point("x", f64::NAN, 10, 0),
        point("x", f64::INFINITY, 11, 1),
        point("x", f64::NEG_INFINITY, 12, 2),
        point("x", -0.5, 13, 3),
        point("x", f64::MIN_POSITIVE, 14, 4),
        point("x", f64::NAN, 15, 5),
    ];
    store.log_batch(id, &points, &[], &[]).await.unwrap();
    // NaN points de-duplicate like any other.
    store.log_batch(id, &points, &[], &[]).await.unwrap();
    let history = store.get_metric_history(id, &key("x")).await.unwrap();
    assert!(same_points(&history, &points), "{history:?}");
    let latest = store.get_run(id).await.unwrap().data.metric("x").unwrap();
    assert!(latest.is_nan());

    store
        .log_batch(id, &[point("y", f64::INFINITY, 1, 0)], &[], &[])
        .await
        .unwrap();
    let run = store.get_run(id).await.unwrap();
    assert_eq!(run.data.metric("y"), Some(f64::INFINITY));
}

#[tokio::test]
async fn params_are_write_once() {
    let store = store();
    let run = new_run(&store, "params").await;
    let id = &run.info.run_id;
    store
        .log_batch(id, &[], &[param("lr", "0.1")], &[])
        .await
        .unwrap();
    store
        .log_batch(id, &[], &[param("lr", "0.1")], &[])
        .await
        .unwrap();
    let err = store
        .log_batch(id, &[point("m", 1.0, 1, 0)], &[param("lr", "0.2")], &[])
        .await
        .unwrap_err();
    match &err {
        TrackError::ParamConflict {
            run,
            key,
            existing,
            new,
        } => {
            assert_eq!(run, id.as_str());
            assert_eq!(
                (key.as_str(), existing.as_str(), new.as_str()),
                ("lr", "0.1", "0.2")
            );
        }
        other => panic!("{other:?}"),
    }
    // A conflict in a batch of several requests is found before anything is written.
    let mut many: Vec<Param> = (0..150).map(|i| param(&format!("k{i}"), "v")).collect();
    many.push(param("lr", "0.3"));
    let err = store
        .log_batch_chunked(id, &[point("m", 1.0, 1, 0)], &many, &[tag("t", "v")])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TrackError::ParamConflict { new, .. } if new == "0.3"),
        "{err:?}"
    );
    let got = store.get_run(id).await.unwrap();
    assert_eq!(got.data.params.len(), 1);
    assert_eq!(got.data.metric("m"), None);
    assert_eq!(got.data.tag("t"), None);
    // One key twice in one batch is refused, as MLflow does, even with one value.
    for second in ["1", "2"] {
        let err = store
            .log_batch(id, &[], &[param("a", "1"), param("a", second)], &[])
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TrackError::DuplicateKey { what: "param", key } if key == "a"),
            "{err:?}"
        );
    }
    assert_eq!(store.get_run(id).await.unwrap().data.param("a"), None);
}

#[tokio::test]
async fn inputs_are_logged_once() {
    let store = store();
    let run = new_run(&store, "inputs").await;
    let id = &run.info.run_id;
    let input = dataset_input("train");
    store
        .log_inputs(id, std::slice::from_ref(&input))
        .await
        .unwrap();
    store
        .log_inputs(id, std::slice::from_ref(&input))
        .await
        .unwrap();
    store.log_inputs(id, &[]).await.unwrap();
    let got = store.get_run(id).await.unwrap();
    assert_eq!(got.inputs, vec![input]);
}

#[tokio::test]
async fn search_runs_filters_orders_and_pages() {
    let store = store();
    let experiment = new_experiment(&store, "search-runs").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let run = store.create_run(new_run_spec(&experiment)).await.unwrap();
        let alpha = if i % 2 == 0 { "0.1" } else { "0.2" };
        store
            .log_batch(
                &run.info.run_id,
                &[point("rmse", f64::from(i) / 10.0, 1, 0)],
                &[param("alpha", alpha)],
                &[tag("team", "a")],
            )
            .await
            .unwrap();
        ids.push(run.info.run_id);
    }
    store
        .update_run(&ids[6], Some(RunStatus::Finished), None, None)
        .await
        .unwrap();
    store.delete_run(&ids[4]).await.unwrap();

    // rmse < 0.65 and alpha 0.1: runs 0, 2, (4 deleted), 6 — ordered by rmse descending.
    let mut query = RunQuery {
        experiment_ids: vec![experiment.clone()],
        filter: Some("metrics.rmse < 0.65 and params.alpha = '0.1' and tags.team = 'a'".into()),
        order_by: vec!["metrics.rmse DESC".into()],
        max_results: Some(1),
        ..RunQuery::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.search_runs(&query).await.unwrap();
        assert!(page.items.len() <= 1);
        seen.extend(page.items.into_iter().map(|r| r.info.run_id));
        match page.next_page_token {
            Some(token) => query.page_token = Some(token),
            None => break,
        }
    }
    assert_eq!(seen, [ids[6].clone(), ids[2].clone(), ids[0].clone()]);

    let finished = store
        .search_runs(&RunQuery {
            experiment_ids: vec![experiment.clone()],
            filter: Some("attributes.status = 'FINISHED'".into()),
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(finished.items.len(), 1);
    assert_eq!(finished.items[0].info.run_id, ids[6]);
    assert_eq!(finished.items[0].data.param("alpha"), Some("0.1"));

    let all = store
        .search_runs(&RunQuery {
            experiment_ids: vec![experiment.clone()],
            view: ViewType::All,
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.items.len(), 7);
    let deleted = store
        .search_runs(&RunQuery {
            experiment_ids: vec![experiment.clone()],
            view: ViewType::DeletedOnly,
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(deleted.items.len(), 1);
    assert_eq!(deleted.items[0].info.run_id, ids[4]);

    // A bad filter is refused here, with its position, before any request.
    let err = store
        .search_runs(&RunQuery {
            experiment_ids: vec![experiment],
            filter: Some("metrics.rmse <".into()),
            ..RunQuery::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, TrackError::Search(_)), "{err:?}");
}

// --- artifacts ------------------------------------------------------------------------------

#[tokio::test]
async fn artifacts_upload_list_download() {
    let store = store();
    let run = new_run(&store, "artifacts").await;
    let id = &run.info.run_id;
    let files = [
        ("model/weights.bin", Bytes::from(vec![0u8, 1, 2, 255, 254])),
        (
            "model/conf/config (1).json",
            Bytes::from_static(b"{\"a\": 1}"),
        ),
        ("a b+c=d,e@f.txt", Bytes::from_static(b"odd but allowed")),
        ("plots/roc.svg", Bytes::from(vec![b'x'; 300_000])),
        ("empty.txt", Bytes::new()),
    ];
    for (p, bytes) in &files {
        store
            .log_artifact(id, &path(p), bytes.clone())
            .await
            .unwrap();
    }
    for (p, bytes) in &files {
        assert_eq!(
            &store.download_artifact(id, &path(p)).await.unwrap(),
            bytes,
            "{p}"
        );
    }
    // Uploading again replaces.
    store
        .log_artifact(id, &path("empty.txt"), Bytes::from_static(b"now full"))
        .await
        .unwrap();
    assert_eq!(
        store
            .download_artifact(id, &path("empty.txt"))
            .await
            .unwrap(),
        Bytes::from_static(b"now full")
    );

    let root = store.list_artifacts(id, None).await.unwrap();
    let listed: Vec<(String, bool, Option<u64>)> = root
        .iter()
        .map(|a| (a.path.to_string(), a.is_dir, a.size))
        .collect();
    assert_eq!(
        listed,
        [
            ("a b+c=d,e@f.txt".to_owned(), false, Some(15)),
            ("empty.txt".to_owned(), false, Some(8)),
            ("model".to_owned(), true, None),
            ("plots".to_owned(), true, None),
        ]
    );
    let model = store
        .list_artifacts(id, Some(&path("model")))
        .await
        .unwrap();
    let listed: Vec<(String, bool)> = model
        .iter()
        .map(|a| (a.path.to_string(), a.is_dir))
        .collect();
    assert_eq!(
        listed,
        [
            ("model/conf".to_owned(), true),
            ("model/weights.bin".to_owned(), false)
        ]
    );
    assert!(
        store
            .list_artifacts(id, Some(&path("nothing/here")))
            .await
            .unwrap()
            .is_empty()
    );

    for missing in ["missing.txt", "model"] {
        let err = store
            .download_artifact(id, &path(missing))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TrackError::NotFound { what: "artifact", id } if id == missing),
            "{missing}: {err:?}"
        );
    }
    let unknown = RunId::generate();
    let err = store
        .log_artifact(&unknown, &path("x"), Bytes::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, TrackError::NotFound { what: "run", .. }),
        "{err:?}"
    );
}

// --- errors and transport -------------------------------------------------------------------

#[tokio::test]
async fn non_mlflow_answers_and_dead_servers_are_transport_errors() {
    let store = MlflowStore::new(&format!("{}/not-mlflow", uri())).unwrap();
    let err = store
        .get_experiment(&ExperimentId::parse("0").unwrap())
        .await
        .unwrap_err();
    let TrackError::Transport { url, reason } = &err else {
        panic!("{err:?}")
    };
    assert!(
        url.contains("/not-mlflow/api/2.0/mlflow/experiments/get"),
        "{url}"
    );
    assert!(
        reason.contains("HTTP 404") && reason.contains("base URL"),
        "{reason}"
    );

    // A port nobody listens on: connection refused, retried, then given up quickly.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let store = MlflowStore::builder(&format!("http://127.0.0.1:{port}"))
        .max_retries(3)
        .backoff(Duration::from_millis(10), Duration::from_millis(40))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = store.get_run(&RunId::generate()).await.unwrap_err();
    let TrackError::Transport { reason, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(reason.contains("gave up after 4 attempts"), "{reason}");
    assert!(reason.contains("connect"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(5));

    for bad in [
        "ftp://127.0.0.1/",
        "http://user:secret@127.0.0.1:5000",
        "127.0.0.1:5000",
    ] {
        assert!(
            matches!(MlflowStore::new(bad), Err(TrackError::Invalid(_))),
            "{bad}"
        );
    }
}

// --- retries through a lossy proxy ------------------------------------------------------------

fn fast_retries(url: &str) -> MlflowStore {
    MlflowStore::builder(url)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_create_run_whose_answer_is_lost_does_not_create_two_runs() {
    let direct = store();
    let experiment = new_experiment(&direct, "lost-create").await;
    let proxy = LossyProxy::start(
        &uri(),
        ProxyMode::LoseAnswers { times: 1 },
        "POST /api/2.0/mlflow/runs/create",
    )
    .await;
    let through = fast_retries(&proxy.url());
    let run = through.create_run(new_run_spec(&experiment)).await.unwrap();
    assert_eq!(proxy.lost(), 1, "the answer was lost");
    assert_eq!(
        proxy.seen(),
        1,
        "the lookup found the run, so the create was not sent again"
    );
    let all = direct
        .search_runs(&RunQuery {
            experiment_ids: vec![experiment.clone()],
            view: ViewType::All,
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1, "exactly one run");
    assert_eq!(all.items[0].info.run_id, run.info.run_id);
    assert_eq!(run, direct.get_run(&run.info.run_id).await.unwrap());

    // The same for experiments: the lost create is found by name and request id.
    let proxy = LossyProxy::start(
        &uri(),
        ProxyMode::LoseAnswers { times: 1 },
        "POST /api/2.0/mlflow/experiments/create",
    )
    .await;
    let through = fast_retries(&proxy.url());
    let name = unique_name("lost-experiment");
    let id = through.create_experiment(&name, &[]).await.unwrap();
    assert_eq!(proxy.lost(), 1);
    assert_eq!(
        direct
            .get_experiment_by_name(&name)
            .await
            .unwrap()
            .unwrap()
            .experiment_id,
        id
    );
    // ... while a name someone else took stays taken.
    let err = through.create_experiment(&name, &[]).await.unwrap_err();
    assert!(matches!(err, TrackError::AlreadyExists { .. }), "{err:?}");
}

#[tokio::test]
async fn a_create_run_whose_request_is_lost_is_sent_again_once() {
    let direct = store();
    let experiment = new_experiment(&direct, "dropped-create").await;
    let marker = "POST /api/2.0/mlflow/runs/create";
    let proxy = LossyProxy::start(&uri(), ProxyMode::DropRequests { times: 2 }, marker).await;
    let through = fast_retries(&proxy.url());
    let run = through.create_run(new_run_spec(&experiment)).await.unwrap();
    assert_eq!(proxy.lost(), 2);
    assert_eq!(
        proxy.seen(),
        3,
        "sent again only after the lookup found nothing"
    );
    let all = direct
        .search_runs(&RunQuery {
            experiment_ids: vec![experiment],
            view: ViewType::All,
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1, "exactly one run");
    assert_eq!(all.items[0].info.run_id, run.info.run_id);
}

#[tokio::test]
async fn a_log_batch_whose_answer_is_lost_is_retried_without_duplicates() {
    let direct = store();
    let run = new_run(&direct, "lost-batch").await;
    let id = &run.info.run_id;
    let proxy = LossyProxy::start(
        &uri(),
        ProxyMode::LoseAnswers { times: 2 },
        "POST /api/2.0/mlflow/runs/log-batch",
    )
    .await;
    let through = fast_retries(&proxy.url());
    let metrics: Vec<Metric> = (0..1500)
        .map(|i| point("loss", f64::from(i), i64::from(i), i64::from(i)))
        .collect();
    let params = [param("lr", "0.1"), param("epochs", "10")];
    through
        .log_batch_chunked(id, &metrics, &params, &[tag("t", "v")])
        .await
        .unwrap();
    assert_eq!(proxy.lost(), 2);
    assert!(proxy.seen() >= 3, "retried");
    let history = direct.get_metric_history(id, &key("loss")).await.unwrap();
    assert!(same_points(&history, &metrics), "{} points", history.len());
    let got = direct.get_run(id).await.unwrap();
    assert_eq!(got.data.param("lr"), Some("0.1"));
    assert_eq!(got.data.tag("t"), Some("v"));
}

#[tokio::test]
async fn a_stalled_server_ends_each_call_within_its_deadline() {
    let direct = store();
    let experiment = new_experiment(&direct, "stalled").await;
    let proxy =
        LossyProxy::start(&uri(), ProxyMode::Stall, "POST /api/2.0/mlflow/runs/create").await;
    let deadline = Duration::from_millis(1500);
    let through = MlflowStore::builder(&proxy.url())
        .timeout(deadline)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    let margin = Duration::from_millis(700);

    let started = Instant::now();
    let err = through.get_experiment(&experiment).await.unwrap_err();
    assert!(
        started.elapsed() < deadline + margin,
        "{:?}",
        started.elapsed()
    );
    let TrackError::Transport { reason, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(reason.contains("timed out"), "{reason}");

    let started = Instant::now();
    let err = through
        .create_run(new_run_spec(&experiment))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < deadline + margin,
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, TrackError::Transport { .. }), "{err:?}");
    assert_eq!(
        proxy.seen(),
        1,
        "a create with an unknown outcome is never sent blindly again"
    );
}

// --- interop with MLflow's Python client ------------------------------------------------------

const READ_BACK: &str = r#"
import json, math, os, sys, tempfile
from mlflow import MlflowClient

uri, run_id = sys.argv[1], sys.argv[2]
client = MlflowClient(tracking_uri=uri)
run = client.get_run(run_id)

def value(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v

def walk(path, dst):
    out = {}
    for f in client.list_artifacts(run_id, path):
        if f.is_dir:
            out.update(walk(f.path, dst))
        else:
            local = client.download_artifacts(run_id, f.path, dst)
            with open(local, "rb") as fh:
                out[f.path] = fh.read().hex()
    return out

with tempfile.TemporaryDirectory() as dst:
    artifacts = walk(None, dst)

print(json.dumps({
    "status": run.info.status,
    "start_time": run.info.start_time,
    "end_time": run.info.end_time,
    "run_name": run.info.run_name,
    "params": run.data.params,
    "tags": run.data.tags,
    "metrics": {
        key: [[m.step, m.timestamp, value(m.value)] for m in client.get_metric_history(run_id, key)]
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
}))
"#;

#[tokio::test]
async fn runs_written_here_read_back_identically_with_mlflows_python_client() {
    let store = store();
    let experiment = new_experiment(&store, "interop").await;
    let run = store
        .create_run(NewRun {
            run_name: Some(RunName::parse("interop-run").unwrap()),
            tags: vec![tag("mlflow.source.name", "tracking.rs")],
            ..new_run_spec(&experiment)
        })
        .await
        .unwrap();
    let id = &run.info.run_id;
    let params = [
        param("learning_rate", "0.01"),
        param("epochs", "10"),
        param("config", "line one\nline \"two\" ünïcode"),
    ];
    let tags = [tag("team", "ml"), tag("mlflow.user", "ada")];
    let mut loss: Vec<Metric> = (0..1200)
        .map(|i| {
            point(
                "loss",
                1.0 / f64::from(i + 1),
                1_000 + i64::from(i) * 7,
                i64::from(i),
            )
        })
        .collect();
    loss[5].value = f64::NAN;
    loss[6].value = f64::INFINITY;
    loss[7].value = f64::NEG_INFINITY;
    let acc = [
        point("val/acc", 0.5, 2_000, 0),
        point("val/acc", 0.75, 2_000, 1),
    ];
    let metrics: Vec<Metric> = loss.iter().chain(&acc).cloned().collect();
    store
        .log_batch_chunked(id, &metrics, &params, &tags)
        .await
        .unwrap();
    let input = dataset_input("train");
    store
        .log_inputs(id, std::slice::from_ref(&input))
        .await
        .unwrap();
    let files = [
        ("model/weights.bin", vec![0u8, 159, 146, 150, 255]),
        ("notes.txt", b"hello from rust".to_vec()),
    ];
    for (p, bytes) in &files {
        store
            .log_artifact(id, &path(p), Bytes::from(bytes.clone()))
            .await
            .unwrap();
    }
    let end = Timestamp::from_millis(1_700_000_500_000).unwrap();
    store
        .update_run(id, Some(RunStatus::Finished), Some(end), None)
        .await
        .unwrap();

    let python = require_env(PYTHON);
    let output = std::process::Command::new(&python)
        .arg("-c")
        .arg(READ_BACK)
        .arg(uri())
        .arg(id.as_str())
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    assert_eq!(seen["status"], "FINISHED");
    assert_eq!(seen["start_time"], 1_700_000_000_000_i64);
    assert_eq!(seen["end_time"], end.as_millis());
    assert_eq!(seen["run_name"], "interop-run");
    let expected_params: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|p| (p.key().to_string(), p.value().into()))
        .collect();
    assert_eq!(seen["params"], serde_json::Value::Object(expected_params));
    let seen_tags = seen["tags"].as_object().unwrap();
    let ours = store.get_run(id).await.unwrap();
    for t in tags.iter().chain(&ours.data.tags) {
        assert_eq!(seen_tags[t.key().as_str()], t.value(), "{}", t.key());
    }
    assert_eq!(seen_tags["mlflow.runName"], "interop-run");
    // MLflow's client also sees this client's request id, which reads here leave out.
    assert!(seen_tags.contains_key(CLIENT_REQUEST_ID_TAG));
    assert_eq!(seen_tags.len(), ours.data.tags.len() + 1);

    // Histories: steps, timestamps and values, NaN included. MLflow's SQL store keeps
    // ±infinity as ±f64::MAX, which its Python client shows as such.
    for (name, points) in [("loss", &loss[..]), ("val/acc", &acc[..])] {
        let mut history: Vec<(i64, i64, serde_json::Value)> = seen["metrics"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_i64().unwrap(), p[1].as_i64().unwrap(), p[2].clone()))
            .collect();
        history.sort_by_key(|(step, ts, _)| (*step, *ts));
        assert_eq!(history.len(), points.len(), "{name}");
        for (m, (step, ts, value)) in points.iter().zip(&history) {
            assert_eq!((m.step, m.timestamp.as_millis()), (*step, *ts), "{name}");
            let expected = if m.value.is_nan() {
                serde_json::json!("NaN")
            } else if m.value.is_infinite() {
                serde_json::json!(f64::MAX.copysign(m.value))
            } else {
                serde_json::json!(m.value)
            };
            assert_eq!(value, &expected, "{name} step {step}");
        }
    }

    let dataset = &input.dataset;
    assert_eq!(
        seen["inputs"],
        serde_json::json!([{
            "name": dataset.name, "digest": dataset.digest,
            "source_type": dataset.source_type, "source": dataset.source,
            "schema": dataset.schema, "profile": dataset.profile,
            "tags": {DATASET_CONTEXT_TAG: "training"},
        }])
    );

    let expected_artifacts: serde_json::Map<String, serde_json::Value> = files
        .iter()
        .map(|(p, bytes)| {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            ((*p).to_owned(), hex.into())
        })
        .collect();
    assert_eq!(
        seen["artifacts"],
        serde_json::Value::Object(expected_artifacts)
    );
}

// --- the shared conformance suite ------------------------------------------------------------

#[tokio::test]
async fn the_conformance_suite_passes_on_mlflow() {
    mlops_track::conformance::run_all(&store()).await;
}

#[tokio::test]
async fn racing_creates_of_one_experiment_name_agree_on_mlflow() {
    let (a, b) = (store(), store());
    mlops_track::conformance::concurrent_create_by_name(&[&a, &b]).await;
}

#[tokio::test]
async fn racing_get_or_create_of_one_experiment_name_agree_on_mlflow() {
    let (a, b, c) = (store(), store(), store());
    mlops_track::conformance::concurrent_get_or_create(&[&a, &b, &c]).await;
}
