//! Searches that refresh hundreds of stale runs from one listing of every run (instead of
//! listing each run's folders: a search of every experiment) see exactly what the writer
//! wrote, as do searches of one experiment (which list run by run): a new reader, and a
//! reader whose cache went stale while runs were logged to, tagged, finished and compacted.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use mlops_core::{ExperimentName, Param, RunStatus, StoreRoot, Tag, Timestamp};
use mlops_track::TrackingStoreExt;
use mlops_track::local::LocalStoreOptions;
use mlops_track::{ExperimentId, LocalStore, NewRun, Run, RunQuery, TrackingStore};

use crate::support::{T0, point};

/// More than the smallest number of stale runs a search lists every run for (256).
const RUNS: usize = 300;
const REFRESH: Duration = Duration::from_millis(200);

/// What a search shows of a run, in a comparable form.
fn summary(run: &Run) -> String {
    let mut params: BTreeMap<&str, &str> = BTreeMap::new();
    for p in &run.data.params {
        params.insert(p.key().as_str(), p.value());
    }
    let mut tags: BTreeMap<&str, &str> = BTreeMap::new();
    for t in &run.data.tags {
        tags.insert(t.key().as_str(), t.value());
    }
    let mut metrics: Vec<String> = run
        .data
        .metrics
        .iter()
        .map(|m| format!("{}={}@{}", m.key.as_str(), m.value, m.step))
        .collect();
    metrics.sort();
    format!(
        "{} {:?} {:?} {:?} {params:?} {tags:?} {metrics:?}",
        run.info.run_id, run.info.status, run.info.end_time, run.info.lifecycle_stage
    )
}

async fn search_all(store: &LocalStore, experiments: &[ExperimentId], filter: &str) -> Vec<String> {
    let page = store
        .search_runs(&RunQuery {
            experiment_ids: experiments.to_vec(),
            filter: Some(filter.to_owned()),
            max_results: Some(50_000),
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert!(page.next_page_token.is_none());
    let mut runs: Vec<String> = page.items.iter().map(summary).collect();
    runs.sort();
    runs
}

pub(crate) async fn stale_readers_see_what_was_written(root: StoreRoot) {
    // The writer compacts after 3 segments, so that runs mix Parquet files and segments.
    let writer = LocalStore::open_with_options(
        root.clone(),
        LocalStoreOptions::default()
            .with_compact_after_segments(3)
            .with_refresh_interval(REFRESH),
    )
    .await
    .unwrap();
    let experiment = writer
        .create_experiment(&ExperimentName::parse("listing").unwrap(), &[])
        .await
        .unwrap();
    let other = writer
        .create_experiment(&ExperimentName::parse("elsewhere").unwrap(), &[])
        .await
        .unwrap();
    let new_run = |experiment: ExperimentId, i: usize| NewRun {
        experiment_id: experiment,
        run_name: None,
        user_id: "tester".into(),
        start_time: Timestamp::from_millis(T0 + i as i64).unwrap(),
        tags: vec![],
    };
    let runs: Vec<_> = futures::stream::iter(0..RUNS)
        .map(|i| {
            let (writer, experiment) = (writer.clone(), experiment.clone());
            async move {
                let id = writer.create_run(new_run(experiment, i)).await?.info.run_id;
                let alpha = if i % 2 == 0 { "0.1" } else { "0.5" };
                writer
                    .log_batch(
                        &id,
                        &[point("rmse", (i % 10) as f64 / 10.0, 0)],
                        &[Param::parse("alpha", alpha).unwrap()],
                        &[Tag::parse("team", "a").unwrap()],
                    )
                    .await?;
                // Every third run is finished (compacted into one Parquet file).
                if i % 3 == 0 {
                    writer
                        .update_run(&id, Some(RunStatus::Finished), None, None)
                        .await?;
                }
                Ok::<_, mlops_track::TrackError>(id)
            }
        })
        .buffered(16)
        .try_collect()
        .await
        .unwrap();
    // Runs in another experiment are listed too, and must not leak into the search.
    for i in 0..5 {
        writer.create_run(new_run(other.clone(), i)).await.unwrap();
    }
    let filter = "params.alpha = '0.1' and metrics.rmse < 0.5";
    let both = [experiment.clone(), other.clone()];
    let one = std::slice::from_ref(&experiment);
    // Two new readers: one searches every experiment (every run is stale: read from one
    // listing), the other one experiment (run by run).
    let open_reader = || {
        LocalStore::open_with_options(
            root.clone(),
            LocalStoreOptions::default().with_refresh_interval(REFRESH),
        )
    };
    let (reader, single) = (open_reader().await.unwrap(), open_reader().await.unwrap());
    let want = search_all(&writer, &both, filter).await;
    assert_eq!(want.len(), RUNS * 3 / 10, "the writer's own view");
    assert_eq!(search_all(&reader, &both, filter).await, want);
    assert_eq!(search_all(&single, one, filter).await, want);
    assert_eq!(search_all(&reader, &both, "").await.len(), RUNS + 5);
    assert_eq!(search_all(&single, one, "").await.len(), RUNS);

    // Changes behind the reader's back: new points (several segments, so that running runs
    // compact and delete segments the reader had read), tags, ends, deletions.
    futures::stream::iter(runs.iter().enumerate())
        .map(|(i, id)| {
            let writer = writer.clone();
            async move {
                match i % 5 {
                    0 => {
                        for step in 1..=4 {
                            writer
                                .log_batch(id, &[point("rmse", 0.01 * step as f64, step)], &[], &[])
                                .await?;
                        }
                    }
                    1 => {
                        writer
                            .log_batch(id, &[], &[], &[Tag::parse("team", "b").unwrap()])
                            .await?;
                    }
                    2 => {
                        writer
                            .log_batch(id, &[point("rmse", 0.9, 7)], &[], &[])
                            .await?;
                        writer
                            .update_run(id, Some(RunStatus::Failed), None, None)
                            .await
                            .map(drop)?;
                    }
                    3 if i % 2 == 0 => writer.delete_run(id).await?,
                    _ => {}
                }
                Ok::<_, mlops_track::TrackError>(())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
    tokio::time::sleep(REFRESH * 2).await;
    let want = search_all(&writer, &both, filter).await;
    assert_eq!(search_all(&reader, &both, filter).await, want);
    assert_eq!(search_all(&single, one, filter).await, want);
    let everything = search_all(&writer, &both, "").await;
    assert_eq!(search_all(&reader, &both, "").await, everything);
    assert_eq!(
        search_all(&single, one, "").await,
        search_all(&writer, one, "").await
    );
    // The changes are there: a tag, a failed run, new latest points.
    assert!(everything.iter().any(|r| r.contains("\"team\": \"b\"")));
    assert!(everything.iter().any(|r| r.contains("Failed")));
    assert!(everything.iter().any(|r| r.contains("rmse=0.04@4")));
    // And a third reader opened now agrees.
    let fresh = LocalStore::open(root).await.unwrap();
    assert_eq!(search_all(&fresh, &both, "").await, everything);
}
