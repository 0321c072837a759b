//! The run index serves what the records say: a new process with the index and a new
//! process without it find the same runs, page by page, for filters, orders and views, also
//! after indexed runs were retagged, reopened, logged to, deleted or restored, and after
//! their experiment was deleted; the builder re-reads only what changed. Shared by the pure
//! tests (a folder) and the service tests (S3, Azure Blob).

use std::time::Duration;

use mlops_core::{ExperimentName, Param, RunStatus, StoreRoot, Tag};
use mlops_track::local::LocalStoreOptions;
use mlops_track::{
    Dataset, DatasetInput, ExperimentId, LocalStore, NewRun, Run, RunId, RunQuery, TagKey,
    TrackingStore, TrackingStoreExt, ViewType,
};

use crate::support::{T0, point};

/// A store process: the index on or off, and no grace period (one writer at a time here).
pub(crate) async fn open(root: &StoreRoot, index: bool) -> LocalStore {
    LocalStore::open_with_options(
        root.clone(),
        LocalStoreOptions::default()
            .with_run_index(index)
            .with_index_grace(Duration::ZERO),
    )
    .await
    .unwrap()
}

/// Runs of two experiments: ended (finished, failed), running, deleted; with params, tags,
/// metrics over several steps and a dataset input.
pub(crate) async fn populate(
    store: &LocalStore,
    experiments: &[ExperimentId],
    runs: usize,
    all_end: bool,
) -> Vec<RunId> {
    let mut ids = Vec::new();
    for i in 0..runs {
        let experiment = experiments[i % experiments.len()].clone();
        let run = store
            .create_run(NewRun {
                experiment_id: experiment,
                run_name: None,
                user_id: "ada".into(),
                start_time: mlops_core::Timestamp::from_millis(T0 + i as i64).unwrap(),
                tags: vec![Tag::parse("team", format!("{}", i % 2)).unwrap()],
            })
            .await
            .unwrap();
        let id = run.info.run_id;
        let alpha = ["0.1", "0.2", "0.5"][i % 3];
        let points: Vec<_> = (0..4)
            .map(|step| point("rmse", ((i + step as usize) % 10) as f64 / 10.0, step))
            .chain((0..3).map(|step| point("loss", 1.0 / (i as f64 + 1.0 + step as f64), step)))
            .collect();
        store
            .log_batch(&id, &points, &[Param::parse("alpha", alpha).unwrap()], &[])
            .await
            .unwrap();
        if i % 4 == 0 {
            let input = DatasetInput {
                dataset: Dataset {
                    name: "train".into(),
                    digest: format!("d{i}"),
                    source_type: "local".into(),
                    source: "data/train.parquet".into(),
                    schema: None,
                    profile: Some("{\"num_rows\": 10}".into()),
                },
                tags: vec![Tag::parse("mlflow.data.context", "training").unwrap()],
            };
            store.log_inputs(&id, &[input]).await.unwrap();
        }
        match i % 5 {
            0 if !all_end => {}
            1 => {
                store.set_terminated(&id, RunStatus::Failed).await.unwrap();
            }
            _ => {
                store
                    .set_terminated(&id, RunStatus::Finished)
                    .await
                    .unwrap();
            }
        }
        if i % 7 == 3 {
            store.delete_run(&id).await.unwrap();
        }
        ids.push(id);
    }
    ids
}

/// Every page of a search, `page` runs at a time, following the tokens.
pub(crate) async fn pages(store: &LocalStore, query: &RunQuery, page: usize) -> Vec<Run> {
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let result = store
            .search_runs(&RunQuery {
                max_results: Some(page),
                page_token: token,
                ..query.clone()
            })
            .await
            .unwrap();
        all.extend(result.items);
        token = result.next_page_token;
        if token.is_none() {
            return all;
        }
    }
}

pub(crate) fn queries(experiments: &[ExperimentId]) -> Vec<RunQuery> {
    let query = |filter: &str, order: &[&str], view: ViewType| RunQuery {
        experiment_ids: experiments.to_vec(),
        filter: (!filter.is_empty()).then(|| filter.to_owned()),
        order_by: order.iter().map(|s| (*s).to_owned()).collect(),
        view,
        ..RunQuery::default()
    };
    vec![
        query("", &[], ViewType::ActiveOnly),
        query("", &[], ViewType::All),
        query("", &["start_time ASC"], ViewType::DeletedOnly),
        query(
            "metrics.rmse < 0.5 and params.alpha = '0.1'",
            &[],
            ViewType::ActiveOnly,
        ),
        query("tags.team = '1'", &["metrics.rmse DESC"], ViewType::All),
        query(
            "attributes.status = 'FINISHED'",
            &["params.alpha ASC", "metrics.loss DESC"],
            ViewType::All,
        ),
        query("tags.note = 'retagged'", &[], ViewType::All),
        query("metrics.late > 0", &[], ViewType::All),
        query(
            "attributes.status != 'RUNNING'",
            &["end_time DESC"],
            ViewType::ActiveOnly,
        ),
    ]
}

/// A new process with the index and a new process without it find the same runs, page by
/// page, for every query.
pub(crate) async fn assert_equivalent(root: &StoreRoot, experiments: &[ExperimentId]) {
    let indexed = open(root, true).await;
    let plain = open(root, false).await;
    for query in queries(experiments) {
        for page in [7, 1000] {
            let with = pages(&indexed, &query, page).await;
            let without = pages(&plain, &query, page).await;
            assert_eq!(
                with, without,
                "{:?} order {:?} {:?}, pages of {page}",
                query.filter, query.order_by, query.view
            );
        }
    }
    assert!(indexed.damage().is_empty(), "{:?}", indexed.damage());
}

pub(crate) async fn two_experiments(store: &LocalStore) -> Vec<ExperimentId> {
    let mut ids = Vec::new();
    for name in ["indexed-a", "indexed-b"] {
        ids.push(
            store
                .create_experiment(&ExperimentName::parse(name).unwrap(), &[])
                .await
                .unwrap(),
        );
    }
    ids
}

/// Runs 40 runs through indexing, changes and rebuilds under `root`, checking equivalence at
/// each step.
pub(crate) async fn index_serves_what_records_say(root: StoreRoot) {
    let writer = open(&root, true).await;
    let experiments = two_experiments(&writer).await;
    let ids = populate(&writer, &experiments, 40, false).await;

    let report = open(&root, true).await.build_run_index().await.unwrap();
    assert_eq!(report.generations_written, 2, "{report:?}");
    // 40 runs, every fifth still running.
    assert_eq!(report.runs_indexed, 32, "{report:?}");
    assert_eq!(report.runs_left_out, 8, "{report:?}");
    assert_equivalent(&root, &experiments).await;

    // A process that read the index and then writes sees its own writes at once.
    let reader = open(&root, true).await;
    let all = queries(&experiments).remove(1);
    assert_eq!(pages(&reader, &all, 1000).await.len(), 40);
    reader
        .set_tag(&ids[2], &Tag::parse("note", "retagged").unwrap())
        .await
        .unwrap();
    let tagged = RunQuery {
        filter: Some("tags.note = 'retagged'".into()),
        ..all.clone()
    };
    let found = pages(&reader, &tagged, 1000).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].info.run_id, ids[2]);

    // Other processes change indexed runs: a new tag, a reopening, metrics, a deletion, a
    // restoration, a tag removed, a run finished, a new run, and a deleted experiment.
    let other = open(&root, true).await;
    other
        .update_run(&ids[6], Some(RunStatus::Running), None, None)
        .await
        .unwrap();
    other
        .log_batch(&ids[7], &[point("late", 1.0, 9)], &[], &[])
        .await
        .unwrap();
    other.delete_run(&ids[8]).await.unwrap();
    other.restore_run(&ids[3]).await.unwrap();
    other
        .delete_tag(&ids[9], &TagKey::parse("team").unwrap())
        .await
        .unwrap();
    other
        .set_terminated(&ids[11], RunStatus::Killed)
        .await
        .unwrap();
    let late = other
        .create_run(NewRun {
            experiment_id: experiments[0].clone(),
            run_name: None,
            user_id: "bo".into(),
            start_time: mlops_core::Timestamp::from_millis(T0 + 1000).unwrap(),
            tags: vec![],
        })
        .await
        .unwrap();
    other
        .set_terminated(&late.info.run_id, RunStatus::Finished)
        .await
        .unwrap();
    other.delete_experiment(&experiments[1]).await.unwrap();
    assert_equivalent(&root, &experiments).await;

    // The next build re-reads only the changed and new runs, and consumes the markers.
    let report = open(&root, true).await.build_run_index().await.unwrap();
    assert!(report.markers_consumed >= 7, "{report:?}");
    assert!(report.runs_read <= 8 + 8, "{report:?}");
    assert_equivalent(&root, &experiments).await;
    other.restore_experiment(&experiments[1]).await.unwrap();
    assert_equivalent(&root, &experiments).await;
    // Nothing changed since: a build reads only the runs it cannot index (still running).
    let report = open(&root, true).await.build_run_index().await.unwrap();
    assert_eq!(report.markers_consumed, 0, "{report:?}");
    assert_eq!(report.runs_read, report.runs_left_out, "{report:?}");
}
