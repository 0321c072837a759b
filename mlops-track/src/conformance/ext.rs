//! [`TrackingStoreExt`] on the backend: its conveniences are built from the trait's
//! primitives, so these checks hold for every store that passes the others; they are here
//! to catch a backend whose primitives disagree with what the conveniences assume (a create
//! that does not answer `AlreadyExists` for a taken name, say).

use super::support::*;
use crate::ext::Ensured;

/// `get_or_create_experiment` and `ensure_experiment` (found, created, deleted), the
/// lifecycle shorthands, `set_terminated`, one-value logging, and reading every page.
pub async fn extension(store: &dyn TrackingStore) {
    // Get or create: the first call creates, the next finds the same.
    let name = experiment_name(&unique("ext"));
    let id = store
        .get_or_create_experiment(&name)
        .await
        .expect("get_or_create_experiment of a new name");
    assert_eq!(
        store.get_or_create_experiment(&name).await.expect("again"),
        id,
        "a second get_or_create_experiment must find the first one's experiment"
    );
    let tagged = experiment_name(&unique("ext-tags"));
    let ensured = store
        .ensure_experiment(&tagged, &[tag("team", "search")])
        .await
        .expect("ensure_experiment of a new name");
    assert!(ensured.created(), "{ensured:?}");
    let found = store
        .get_experiment(ensured.id())
        .await
        .expect("the ensured experiment");
    assert!(
        found
            .tags
            .iter()
            .any(|t| t.key().as_str() == "team" && t.value() == "search"),
        "ensure_experiment creates with its tags: {:?}",
        found.tags
    );
    match store
        .ensure_experiment(&tagged, &[])
        .await
        .expect("ensure_experiment of an existing name")
    {
        Ensured::Existing(e) => assert_eq!(&e.experiment_id, ensured.id()),
        other => panic!("expected the existing experiment, got {other:?}"),
    }

    // A deleted experiment is not silently reused.
    store.delete_experiment(&id).await.expect("delete");
    match store.get_or_create_experiment(&name).await {
        Err(TrackError::InvalidState(_)) => {}
        other => panic!("get_or_create of a deleted experiment's name: got {other:?}"),
    }
    match store.ensure_experiment(&name, &[]).await.expect("ensure") {
        Ensured::Existing(e) => assert_eq!(e.lifecycle_stage, LifecycleStage::Deleted),
        other => panic!("ensure of a deleted experiment's name: got {other:?}"),
    }
    store.restore_experiment(&id).await.expect("restore");
    assert_eq!(
        store.get_or_create_experiment(&name).await.expect("live"),
        id
    );

    // One value at a time, and ending a run.
    let run = new_run(store, &id).await.info.run_id;
    store
        .log_metric(&run, &point("loss", 0.5, T0, 1))
        .await
        .expect("log_metric");
    store
        .log_param(&run, &param("lr", "0.1"))
        .await
        .expect("log_param");
    match store.log_param(&run, &param("lr", "0.2")).await {
        Err(TrackError::ParamConflict { .. }) => {}
        other => panic!("log_param of another value: got {other:?}"),
    }
    store
        .set_tag(&run, &tag("stage", "a"))
        .await
        .expect("set_tag");
    store
        .set_tag(&run, &tag("stage", "b"))
        .await
        .expect("set_tag again");
    let info = store
        .set_terminated(&run, RunStatus::Failed)
        .await
        .expect("set_terminated");
    assert_eq!(info.status, RunStatus::Failed);
    assert!(info.end_time.is_some(), "set_terminated sets the end time");
    let read = get_run(store, &run).await;
    assert_eq!(read.data.metric("loss"), Some(0.5));
    assert_eq!(read.data.param("lr"), Some("0.1"));
    assert_tag(&read, "stage", Some("b"));

    // Every page: more runs and experiments than one page holds.
    let mut runs = vec![run];
    for _ in 0..4 {
        runs.push(new_run(store, &id).await.info.run_id);
    }
    let all = store
        .search_all_runs(&RunQuery {
            experiment_ids: vec![id.clone()],
            max_results: Some(2),
            ..RunQuery::default()
        })
        .await
        .expect("search_all_runs");
    let found: BTreeSet<RunId> = ids(&all).into_iter().collect();
    assert_eq!(found, runs.iter().cloned().collect(), "every run, once");
    assert_eq!(all.len(), runs.len(), "no run twice");
    let prefix = unique("ext-all");
    for i in 0..3 {
        store
            .create_experiment(&experiment_name(&format!("{prefix}-{i}")), &[])
            .await
            .expect("create");
    }
    let experiments = store
        .search_all_experiments(&ExperimentQuery {
            filter: Some(format!("name LIKE '{prefix}-%'")),
            max_results: Some(2),
            ..ExperimentQuery::default()
        })
        .await
        .expect("search_all_experiments");
    assert_eq!(experiments.len(), 3, "{experiments:?}");
}

/// Several handles call `get_or_create_experiment` for one new name at once: every call
/// succeeds, and all get the one id (whoever created it).
pub async fn concurrent_get_or_create(stores: &[&dyn TrackingStore]) {
    let name = experiment_name(&unique("ext-race"));
    let results =
        futures::future::join_all(stores.iter().map(|s| s.get_or_create_experiment(&name))).await;
    let ids: BTreeSet<ExperimentId> = results
        .into_iter()
        .map(|r| r.expect("get_or_create_experiment while others create the same name"))
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "every handle must get the one experiment: {ids:?}"
    );
}
