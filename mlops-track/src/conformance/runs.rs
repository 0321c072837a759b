//! Runs: creation, names, status and lifecycle.

use super::support::*;

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
