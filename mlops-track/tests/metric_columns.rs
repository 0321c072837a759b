//! `get_metric_columns` gives exactly the points of `get_metric_history`, in the same order,
//! whatever mix of compacted files and segments holds them: segments only, a duplicate
//! within a batch, compacted files plus segments, and one finished run's single file (read
//! without de-duplication, and without decoding its key column where a row group holds only
//! that metric).

use mlops_core::{ExperimentName, Metric, MetricKey, RunStatus, StoreUri};
use mlops_track::local::LocalStoreOptions;
use mlops_track::{LocalStore, MetricColumns, TrackingStore, TrackingStoreExt};

use crate::support::offline::new_run;
use crate::support::point;

async fn same(store: &LocalStore, run: &mlops_core::RunId, key: &str) -> usize {
    let key = MetricKey::parse(key).unwrap();
    let history: Vec<Metric> = store.get_metric_history(run, &key).await.unwrap();
    let columns = store.get_metric_columns(run, &key).await.unwrap();
    assert_eq!(columns, MetricColumns::from_points(&history), "{key}");
    columns.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_equal_the_history_in_every_state_of_a_run() {
    let root = StoreUri::parse("memory://columns").unwrap().open().unwrap();
    let store = LocalStore::open_with_options(
        root,
        LocalStoreOptions::default().with_compact_after_segments(4),
    )
    .await
    .unwrap();
    let experiment = store
        .create_experiment(&ExperimentName::parse("columns").unwrap(), &[])
        .await
        .unwrap();
    let run = new_run(&store, &experiment, "columns").await;
    // Segments only, one point repeated within its batch, two metrics interleaved.
    store
        .log_batch(
            &run,
            &[
                point("loss", 1.0, 0),
                point("loss", 1.0, 0),
                point("acc", 0.1, 0),
            ],
            &[],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(same(&store, &run, "loss").await, 1);
    // Past 4 segments a compaction: a Parquet file, then more segments, one repeating a
    // compacted point.
    for step in 1..6 {
        store
            .log_batch(
                &run,
                &[
                    point("loss", 1.0 / step as f64, step),
                    point("acc", 0.5, step),
                ],
                &[],
                &[],
            )
            .await
            .unwrap();
    }
    store
        .log_batch(&run, &[point("loss", 1.0, 1)], &[], &[])
        .await
        .unwrap();
    assert_eq!(same(&store, &run, "loss").await, 6);
    assert_eq!(same(&store, &run, "acc").await, 6);
    assert_eq!(same(&store, &run, "absent").await, 0);
    // A long metric, then the end: one Parquet file.
    for chunk in 0..100 {
        let points: Vec<Metric> = (0..1000)
            .map(|i| point("long", f64::from(i), 10 + chunk * 1000 + i64::from(i)))
            .collect();
        store.log_batch(&run, &points, &[], &[]).await.unwrap();
    }
    store
        .set_terminated(&run, RunStatus::Finished)
        .await
        .unwrap();
    assert_eq!(same(&store, &run, "long").await, 100_000);
    assert_eq!(same(&store, &run, "loss").await, 6);
}
