//! `log_batch`: its semantics and MLflow's limits.

use super::support::*;

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
