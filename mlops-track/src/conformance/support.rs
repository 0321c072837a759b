//! What every check shares: unique names, parsed values, and runs to test on. Each check
//! module glob-imports this, with the vocabulary it re-exports.

pub(super) use std::collections::BTreeSet;
pub(super) use std::time::Duration;

pub(super) use bytes::Bytes;
pub(super) use mlops_core::{
    ArtifactPath, ExperimentId, ExperimentName, LifecycleStage, Metric, MetricKey, Param, ParamKey,
    RunId, RunName, RunStatus, Tag, TagKey, Timestamp,
};

pub(super) use crate::entities::{DATASET_CONTEXT_TAG, Dataset, DatasetInput, RUN_NAME_TAG, Run};
pub(super) use crate::error::TrackError;
pub(super) use crate::ext::TrackingStoreExt;
pub(super) use crate::store::{ExperimentQuery, NewRun, RunQuery, TrackingStore, ViewType};

/// A name no other check (or earlier run of the suite) uses.
pub(super) fn unique(label: &str) -> String {
    format!("conformance-{label}-{}", uuid::Uuid::now_v7().simple())
}

pub(super) fn experiment_name(text: &str) -> ExperimentName {
    ExperimentName::parse(text).unwrap()
}

pub(super) fn tag(key: &str, value: &str) -> Tag {
    Tag::parse(key, value).unwrap()
}

pub(super) fn param(key: &str, value: &str) -> Param {
    Param::parse(key, value).unwrap()
}

pub(super) fn metric_key(key: &str) -> MetricKey {
    MetricKey::parse(key).unwrap()
}

pub(super) fn point(key: &str, value: f64, millis: i64, step: i64) -> Metric {
    Metric::new(
        metric_key(key),
        value,
        Timestamp::from_millis(millis).unwrap(),
        step,
    )
}

/// A fixed instant (2023-11-14) that metric timestamps count from.
pub(super) const T0: i64 = 1_700_000_000_000;

pub(super) async fn new_experiment(store: &dyn TrackingStore, label: &str) -> ExperimentId {
    let name = experiment_name(&unique(label));
    store
        .create_experiment(&name, &[])
        .await
        .unwrap_or_else(|e| panic!("create_experiment({name}) failed: {e}"))
}

pub(super) fn new_run_request(experiment: &ExperimentId, start: i64) -> NewRun {
    NewRun {
        experiment_id: experiment.clone(),
        run_name: None,
        user_id: "conformance".to_owned(),
        start_time: Timestamp::from_millis(start).unwrap(),
        tags: Vec::new(),
    }
}

pub(super) async fn new_run(store: &dyn TrackingStore, experiment: &ExperimentId) -> Run {
    store
        .create_run(new_run_request(experiment, Timestamp::now().as_millis()))
        .await
        .unwrap_or_else(|e| panic!("create_run in {experiment} failed: {e}"))
}

pub(super) async fn get_run(store: &dyn TrackingStore, id: &RunId) -> Run {
    store
        .get_run(id)
        .await
        .unwrap_or_else(|e| panic!("get_run({id}) failed: {e}"))
}

pub(super) fn ids(runs: &[Run]) -> Vec<RunId> {
    runs.iter().map(|r| r.info.run_id.clone()).collect()
}

pub(super) fn assert_tag(run: &Run, key: &str, value: Option<&str>) {
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
pub(super) fn missing_experiment_id() -> ExperimentId {
    ExperimentId::parse("999999999999999999").unwrap()
}

pub(super) fn dataset(name: &str, digest: &str) -> Dataset {
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

pub(super) fn artifact_path(text: &str) -> ArtifactPath {
    ArtifactPath::parse(text).unwrap()
}
