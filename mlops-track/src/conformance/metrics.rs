//! Metric values and histories.

use super::support::*;

/// NaN and ±infinity are stored losslessly, as the latest value and in the history.
pub async fn non_finite_metrics(store: &dyn TrackingStore) {
    let experiment = new_experiment(store, "nonfinite").await;
    let id = new_run(store, &experiment).await.info.run_id;
    let values = [
        ("nan", f64::NAN),
        ("inf", f64::INFINITY),
        ("neg_inf", f64::NEG_INFINITY),
        ("tiny", 5e-324),
        ("big", 1e300),
        ("negative", -2.5),
        ("zero", 0.0),
    ];
    let batch: Vec<Metric> = values
        .iter()
        .map(|(key, value)| point(key, *value, T0, 0))
        .collect();
    store
        .log_batch(&id, &batch, &[], &[])
        .await
        .expect("log non-finite values");
    let run = get_run(store, &id).await;
    for (key, value) in values {
        let got = run
            .data
            .metric(key)
            .unwrap_or_else(|| panic!("metric {key} missing"));
        assert!(
            got.to_bits() == value.to_bits() || (got.is_nan() && value.is_nan()),
            "latest {key}: got {got:?}, logged {value:?}"
        );
        let history = store
            .get_metric_history(&id, &metric_key(key))
            .await
            .expect("history");
        assert_eq!(history.len(), 1, "{key}");
        assert!(
            history[0].same_point(&point(key, value, T0, 0)),
            "history of {key}: {history:?}"
        );
    }
    // A key whose history mixes finite and non-finite values.
    let mixed = [
        point("mixed", 1.0, T0, 0),
        point("mixed", f64::NAN, T0 + 1, 1),
        point("mixed", f64::INFINITY, T0 + 2, 2),
        point("mixed", f64::NEG_INFINITY, T0 + 3, 3),
    ];
    store.log_batch(&id, &mixed, &[], &[]).await.expect("mixed");
    let history = store
        .get_metric_history(&id, &metric_key("mixed"))
        .await
        .expect("history");
    assert_eq!(history.len(), 4);
    for (got, want) in history.iter().zip(&mixed) {
        assert!(got.same_point(want), "history: {history:?}");
    }
    assert_eq!(run.data.metric("missing"), None);
}

/// Metric history: every point of one key, in order (here steps and timestamps rise
/// together, so logging order and MLflow's (timestamp, step) order agree), across batches;
/// the latest value follows MLflow's rule (highest step, then timestamp, then value).
pub async fn metric_history(store: &dyn TrackingStore) {
    let experiment = new_experiment(store, "history").await;
    let id = new_run(store, &experiment).await.info.run_id;
    let mut logged = Vec::new();
    for chunk in 0..3 {
        let batch: Vec<Metric> = (0..900)
            .map(|i| {
                let step = chunk * 900 + i;
                point("loss", 1.0 / (step as f64 + 1.0), T0 + step, step)
            })
            .chain((0..50).map(|i| {
                point(
                    "acc",
                    f64::from(i) / 50.0,
                    T0 + i64::from(i),
                    i64::from(i) + chunk * 50,
                )
            }))
            .collect();
        store.log_batch(&id, &batch, &[], &[]).await.expect("log");
        logged.extend(batch.into_iter().filter(|m| m.key.as_str() == "loss"));
    }
    let history = store
        .get_metric_history(&id, &metric_key("loss"))
        .await
        .expect("history");
    assert_eq!(history.len(), logged.len());
    for (i, (got, want)) in history.iter().zip(&logged).enumerate() {
        assert!(
            got.same_point(want),
            "point {i}: got {got:?}, logged {want:?}"
        );
    }
    let acc = store
        .get_metric_history(&id, &metric_key("acc"))
        .await
        .expect("history");
    assert_eq!(acc.len(), 150);
    assert!(
        store
            .get_metric_history(&id, &metric_key("never_logged"))
            .await
            .expect("history of an unknown key")
            .is_empty()
    );
    assert!(
        store
            .get_metric_history(&RunId::generate(), &metric_key("loss"))
            .await
            .is_err(),
        "history of an unknown run must fail"
    );

    // The latest value: highest step wins over later time; then latest time; then the
    // largest value.
    store
        .log_batch(
            &id,
            &[
                point("latest", 1.0, T0 + 10, 5),
                point("latest", 9.0, T0 + 99, 3),
                point("tie", 1.0, T0, 1),
                point("tie", 3.0, T0, 1),
                point("tie", 2.0, T0, 1),
                point("time", 1.0, T0 + 5, 1),
                point("time", 7.0, T0 + 1, 1),
            ],
            &[],
            &[],
        )
        .await
        .expect("log");
    let run = get_run(store, &id).await;
    assert_eq!(run.data.metric("latest"), Some(1.0), "highest step wins");
    assert_eq!(
        run.data.metric("tie"),
        Some(3.0),
        "same step and time: largest value"
    );
    assert_eq!(
        run.data.metric("time"),
        Some(1.0),
        "same step: latest timestamp"
    );
    assert_eq!(run.data.metric("loss"), Some(1.0 / 2700.0));
}
