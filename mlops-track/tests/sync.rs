//! Sync from an embedded store to a second embedded store (fast, every rule); the sync to
//! the real MLflow server is in the service tests.

use mlops_core::StoreUri;
use mlops_track::TrackingStoreExt;
use mlops_track::sync::{SOURCE_RUN_TAG, SyncOptions, sync};
use mlops_track::{
    ExperimentId, ExperimentName, LocalStore, Metric, MetricKey, Param, RunId, RunQuery, RunStatus,
    Tag, TrackError, TrackingStore, ViewType,
};

use crate::support::offline::{new_run, nothing_written, path, point, populate, ts};

async fn memory() -> LocalStore {
    LocalStore::open_uri(&StoreUri::parse("memory://").unwrap())
        .await
        .unwrap()
}

async fn target_of(target: &dyn TrackingStore, experiment: &ExperimentId, source: &RunId) -> RunId {
    let runs = target
        .search_runs(&RunQuery {
            experiment_ids: vec![experiment.clone()],
            filter: Some(format!("tags.`{SOURCE_RUN_TAG}` = '{source}'")),
            view: ViewType::All,
            ..RunQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(runs.len(), 1, "exactly one copy of {source}");
    runs[0].info.run_id.clone()
}

fn same_history(a: &[Metric], b: &[Metric]) -> bool {
    let key = |m: &Metric| (m.step, m.timestamp.as_millis(), m.value.to_bits());
    let mut a: Vec<_> = a.iter().map(key).collect();
    let mut b: Vec<_> = b.iter().map(key).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

#[tokio::test]
async fn sync_between_embedded_stores_copies_everything_once() {
    let (source, target) = (memory().await, memory().await);
    let name = ExperimentName::parse("offline").unwrap();
    let tag = Tag::parse("owner", "ml-team").unwrap();
    let experiment = source
        .create_experiment(&name, std::slice::from_ref(&tag))
        .await
        .unwrap();
    let (done, running) = populate(&source, &experiment).await;

    let first = sync(&source, &target, &SyncOptions::default())
        .await
        .unwrap();
    assert!(first.is_complete(), "{:?}", first.failures);
    assert_eq!(
        (
            first.experiments_created,
            first.runs_created,
            first.runs_written
        ),
        (1, 2, 2)
    );
    assert_eq!(first.params, 2);
    assert_eq!(first.metric_points, 2502 + 2 + 10);
    assert_eq!((first.inputs, first.artifacts), (1, 3));

    let copy = target.get_experiment_by_name(&name).await.unwrap().unwrap();
    assert_eq!(copy.tags, [tag]);
    let target_done = target_of(&target, &copy.experiment_id, &done).await;
    let (a, b) = (
        source.get_run(&done).await.unwrap(),
        target.get_run(&target_done).await.unwrap(),
    );
    assert_eq!(b.info.status, RunStatus::Finished);
    assert_eq!(
        (b.info.start_time, b.info.end_time),
        (a.info.start_time, a.info.end_time)
    );
    assert_eq!(b.info.run_name, a.info.run_name);
    assert_eq!(b.data.params, a.data.params);
    for t in &a.data.tags {
        assert_eq!(b.data.tag(t.key().as_str()), Some(t.value()), "{}", t.key());
    }
    assert_eq!(b.data.tag(SOURCE_RUN_TAG), Some(done.as_str()));
    assert_eq!(b.inputs, a.inputs);
    for key in ["loss", "val/acc"] {
        let key = MetricKey::parse(key).unwrap();
        let (ha, hb) = (
            source.get_metric_history(&done, &key).await.unwrap(),
            target.get_metric_history(&target_done, &key).await.unwrap(),
        );
        assert!(same_history(&ha, &hb), "{key}");
    }
    let weights = target
        .download_artifact(&target_done, &path("model/weights.bin"))
        .await
        .unwrap();
    assert_eq!(&weights[..], &[0u8, 159, 146, 150, 255]);

    // Again: nothing is copied twice.
    nothing_written(
        &sync(&source, &target, &SyncOptions::default())
            .await
            .unwrap(),
    );

    // The running run goes on and ends; the next sync appends only what is new.
    let more: Vec<Metric> = (10..15)
        .map(|i| {
            point(
                "loss",
                f64::from(i),
                1_700_000_100_000 + i64::from(i),
                i64::from(i),
            )
        })
        .collect();
    source.log_batch(&running, &more, &[], &[]).await.unwrap();
    source
        .update_run(
            &running,
            Some(RunStatus::Failed),
            Some(ts(1_700_000_200_000)),
            None,
        )
        .await
        .unwrap();
    let third = sync(&source, &target, &SyncOptions::default())
        .await
        .unwrap();
    assert!(third.is_complete(), "{:?}", third.failures);
    assert_eq!(
        (third.runs_created, third.runs_written, third.metric_points),
        (0, 1, 5)
    );
    let target_running = target_of(&target, &copy.experiment_id, &running).await;
    let info = target.get_run(&target_running).await.unwrap().info;
    assert_eq!(
        (info.status, info.end_time),
        (RunStatus::Failed, Some(ts(1_700_000_200_000)))
    );
    let history = target
        .get_metric_history(&target_running, &MetricKey::parse("loss").unwrap())
        .await
        .unwrap();
    assert_eq!(history.len(), 15);

    // A param changed on the target is a conflict for that run only.
    let other = new_run(&source, &experiment, "third").await;
    source
        .log_batch(&other, &[], &[Param::parse("seed", "1").unwrap()], &[])
        .await
        .unwrap();
    target
        .log_batch(
            &target_done,
            &[],
            &[Param::parse("seed", "7").unwrap()],
            &[],
        )
        .await
        .unwrap();
    source
        .log_batch(&done, &[], &[Param::parse("seed", "1").unwrap()], &[])
        .await
        .unwrap();
    let fourth = sync(&source, &target, &SyncOptions::default())
        .await
        .unwrap();
    assert_eq!(fourth.failures.len(), 1, "{:?}", fourth.failures);
    assert_eq!(fourth.failures[0].source_run.as_ref(), Some(&done));
    assert!(matches!(
        fourth.failures[0].error,
        TrackError::ParamConflict { .. }
    ));
    assert_eq!(fourth.runs_created, 1, "the other run is still synced");
}

#[tokio::test]
async fn deleted_runs_follow_with_include_deleted_and_experiments_can_be_chosen() {
    let (source, target) = (memory().await, memory().await);
    let keep = source
        .create_experiment(&ExperimentName::parse("keep").unwrap(), &[])
        .await
        .unwrap();
    let skip = source
        .create_experiment(&ExperimentName::parse("skip").unwrap(), &[])
        .await
        .unwrap();
    let gone = new_run(&source, &keep, "gone").await;
    source
        .log_batch(&gone, &[point("m", 1.0, 5, 0)], &[], &[])
        .await
        .unwrap();
    new_run(&source, &skip, "other").await;
    source.delete_run(&gone).await.unwrap();

    let only_keep = SyncOptions::default().with_experiment(ExperimentName::parse("keep").unwrap());
    let report = sync(&source, &target, &only_keep).await.unwrap();
    assert_eq!(
        (report.experiments_created, report.runs_created),
        (1, 0),
        "deleted runs stay out"
    );
    assert!(
        target
            .get_experiment_by_name(&ExperimentName::parse("skip").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    let with_deleted = only_keep.include_deleted(true);
    let report = sync(&source, &target, &with_deleted).await.unwrap();
    assert!(report.is_complete(), "{:?}", report.failures);
    assert_eq!((report.runs_created, report.metric_points), (1, 1));
    let target_keep = target
        .get_experiment_by_name(&ExperimentName::parse("keep").unwrap())
        .await
        .unwrap()
        .unwrap();
    let copy = target_of(&target, &target_keep.experiment_id, &gone).await;
    assert_eq!(
        target.get_run(&copy).await.unwrap().info.lifecycle_stage,
        mlops_track::LifecycleStage::Deleted
    );
    nothing_written(&sync(&source, &target, &with_deleted).await.unwrap());

    // Restored at the source: restored on the target.
    source.restore_run(&gone).await.unwrap();
    let report = sync(&source, &target, &with_deleted).await.unwrap();
    assert_eq!((report.runs_written, report.metric_points), (1, 0));
    assert_eq!(
        target.get_run(&copy).await.unwrap().info.lifecycle_stage,
        mlops_track::LifecycleStage::Active
    );

    let missing = SyncOptions::default().with_experiment(ExperimentName::parse("nope").unwrap());
    assert!(matches!(
        sync(&source, &target, &missing).await.unwrap_err(),
        TrackError::NotFound {
            what: "experiment",
            ..
        }
    ));
}
