//! An offline store's content for the sync tests: a finished run with everything a run can
//! hold (NaN and infinities, a long history, inputs, artifacts) and a running one.

use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use mlops_core::ArtifactPath;
use mlops_track::sync::SyncReport;
use mlops_track::{
    DatasetInput, DatasetRef, ExperimentId, LocalStore, Metric, MetricKey, NewRun, Param, RunId,
    RunName, RunStatus, Tag, Timestamp, TrackingStore,
};

pub(crate) fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap()
}

pub(crate) fn point(key: &str, value: f64, ms: i64, step: i64) -> Metric {
    Metric::new(MetricKey::parse(key).unwrap(), value, ts(ms), step)
}

pub(crate) fn path(p: &str) -> ArtifactPath {
    ArtifactPath::parse(p).unwrap()
}

pub(crate) async fn new_run(
    store: &dyn TrackingStore,
    experiment: &ExperimentId,
    name: &str,
) -> RunId {
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

pub(crate) fn input(name: &str) -> DatasetInput {
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
pub(crate) async fn populate(store: &LocalStore, experiment: &ExperimentId) -> (RunId, RunId) {
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

pub(crate) fn nothing_written(report: &SyncReport) {
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
