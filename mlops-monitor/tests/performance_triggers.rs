//! Performance rules (`rmse>registered*1.1`, `accuracy<registered-0.05`): windows of labelled
//! predictions from the scikit-learn fixtures (`fixtures/performance.json`) compared with a
//! version's registered metric, with the streak, cooldown, outbox and signed delivery of drift
//! events.

use std::time::Duration;

use mlops_core::{Backoff, StoreUri, Timestamp};
use mlops_monitor::VersionKey;
use mlops_monitor::performance::{Labelled, PerformanceWindow, Task, evaluate};
use mlops_monitor::trigger::{Outbox, Rule, Rules, Target, TargetKind, Threshold, Triggers};
use serde_json::Value;

use crate::receiver::{Receiver, expected_signature};

fn case(name: &str) -> Value {
    let fixture: Value = serde_json::from_str(include_str!("fixtures/performance.json")).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    (cases.iter().find(|c| c["name"] == name).cloned()).unwrap_or_else(|| panic!("no case {name}"))
}

fn floats(v: &Value) -> Vec<f64> {
    (v.as_array().unwrap().iter())
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn key() -> VersionKey {
    VersionKey {
        model: "fare".into(),
        version: "2".into(),
    }
}

/// One window per entry of `scales`, each the fixture case's rows with the prediction errors
/// multiplied by the scale (1.0: the fixture as it is), window `i` at minute `i`.
fn windows(name: &str, scales: &[f64], task: Task) -> Vec<PerformanceWindow> {
    let case = case(name);
    let (labels, predictions) = (floats(&case["labels"]), floats(&case["predictions"]));
    let start = 1_767_225_600_000;
    let mut rows = Vec::new();
    for (w, scale) in scales.iter().enumerate() {
        for (i, (label, prediction)) in labels.iter().zip(&predictions).enumerate() {
            rows.push(Labelled {
                key: key(),
                time: Timestamp::from_millis(start + w as i64 * 60_000 + i as i64).unwrap(),
                id: format!("w{w}-r{i}"),
                label: *label,
                prediction: label + scale * (prediction - label),
            });
        }
    }
    let out = evaluate(rows, task, labels.len()).unwrap();
    assert_eq!(out.len(), scales.len());
    out
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// The registered run metrics of the version under test.
fn registered(values: &[(&'static str, f64)]) -> impl Fn(&VersionKey, &str) -> Option<f64> {
    let values = values.to_vec();
    move |k: &VersionKey, metric: &str| {
        assert_eq!(k, &key());
        values.iter().find(|(m, _)| *m == metric).map(|(_, v)| *v)
    }
}

#[test]
fn performance_rules_parse_and_refuse_naming_the_rule() {
    for (text, metric, key, above, threshold) in [
        (
            "rmse>registered*1.1",
            "rmse",
            "rmse",
            true,
            Threshold::Times(1.1),
        ),
        (
            "rmse > registered(val_rmse) * 1.1@2",
            "rmse",
            "val_rmse",
            true,
            Threshold::Times(1.1),
        ),
        (
            "accuracy<registered-0.05",
            "accuracy",
            "accuracy",
            false,
            Threshold::Plus(-0.05),
        ),
        (
            "mae>registered+0.5",
            "mae",
            "mae",
            true,
            Threshold::Plus(0.5),
        ),
        ("f1<registered", "f1", "f1", false, Threshold::Plus(0.0)),
    ] {
        let rule: Rule = text.parse().unwrap();
        assert_eq!(rule.to_string(), text);
        let p = rule.performance().unwrap();
        assert_eq!(
            (
                p.metric.as_str(),
                p.registered.as_str(),
                p.above,
                p.threshold
            ),
            (metric, key, above, threshold),
            "{text}"
        );
    }
    assert_eq!(
        "rmse>registered*1.1@2".parse::<Rule>().unwrap().windows(),
        2
    );
    assert!(
        "drift_share>=0.3"
            .parse::<Rule>()
            .unwrap()
            .performance()
            .is_none()
    );
    for bad in [
        "loss>registered*1.1",
        "rmse>1.5",
        "rmse>registered*0",
        "rmse>registered*x",
        "rmse>registered/2",
        "rmse>registered(val_rmse",
        "rmse>registered()",
        "rmse>registered+-0.5",
        "accuracy<registered--0.1",
    ] {
        let e = bad.parse::<Rule>().unwrap_err().to_string();
        assert!(e.contains(bad), "{e}");
    }
}

#[test]
fn an_error_metric_worse_than_registered_by_the_margin_fires_once_per_streak_and_cooldown() {
    let case = case("normal");
    let sklearn_rmse = case["expected"]["rmse"].as_f64().unwrap();
    let sklearn_r2 = case["expected"]["r2"].as_f64().unwrap();
    // The fixture's RMSE (scikit-learn's), then 1.2 times its errors twice, as is, 1.2 again.
    let w = windows("normal", &[1.0, 1.2, 1.2, 1.0, 1.2], Task::Regression);
    assert!(close(w[0].metric("rmse").unwrap(), sklearn_rmse));
    assert!(close(w[1].metric("rmse").unwrap(), 1.2 * sklearn_rmse));
    // Registered 1.6: the threshold 1.76 lies between the fixture's 1.6236 and 1.9484.
    let lookup = registered(&[("rmse", 1.6), ("r2", 0.8)]);
    let fired = |rules: &mut Rules| -> Vec<usize> {
        (0..w.len())
            .filter(|&i| {
                !rules
                    .evaluate_performance(&w[i], &lookup)
                    .unwrap()
                    .is_empty()
            })
            .collect()
    };
    let rule = || vec!["rmse>registered*1.1".parse().unwrap()];
    // Windows end at minutes 0..4: with no cooldown each new streak fires; with 5 minutes only
    // the first.
    assert_eq!(fired(&mut Rules::new(rule(), Duration::ZERO)), [1, 4]);
    assert_eq!(
        fired(&mut Rules::new(rule(), Duration::from_secs(300))),
        [1]
    );
    let mut twice = Rules::new(
        vec!["rmse>registered*1.1@2".parse().unwrap()],
        Duration::ZERO,
    );
    assert_eq!(fired(&mut twice), [2]);
    // A score: R² of 1.2 times the errors is 1 - 1.44 (1 - R²) = 0.586 < 0.8 - 0.1.
    let mut r2 = Rules::new(vec!["r2<registered-0.1".parse().unwrap()], Duration::ZERO);
    let firing = r2.evaluate_performance(&w[1], &lookup).unwrap();
    assert_eq!(firing.len(), 1);
    assert!(close(firing[0].value, 1.0 - 1.44 * (1.0 - sklearn_r2)));
    assert!(close(firing[0].threshold, 0.7));
    assert!(r2.evaluate_performance(&w[0], &lookup).unwrap().is_empty());
    // Drift rules never see performance windows.
    let mut drift = Rules::new(vec![], Duration::ZERO);
    assert!(
        drift
            .evaluate_performance(&w[1], &lookup)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_score_below_registered_fires_and_missing_values_are_named() {
    let task = Task::Classification { threshold: 0.5 };
    let w = windows("tied_scores", &[1.0], task);
    let accuracy = case("tied_scores")["expected"]["accuracy"]
        .as_f64()
        .unwrap();
    assert!(close(w[0].metric("accuracy").unwrap(), accuracy));
    let rule = || vec!["accuracy<registered-0.05".parse().unwrap()];
    // scikit-learn's 0.7625 is below 0.85 - 0.05, not below 0.8 - 0.05.
    let mut rules = Rules::new(rule(), Duration::ZERO);
    let firing = rules
        .evaluate_performance(&w[0], &registered(&[("accuracy", 0.85)]))
        .unwrap();
    assert_eq!(firing.len(), 1);
    assert_eq!(firing[0].value, accuracy);
    let mut rules = Rules::new(rule(), Duration::ZERO);
    let quiet = rules
        .evaluate_performance(&w[0], &registered(&[("accuracy", 0.8)]))
        .unwrap();
    assert!(quiet.is_empty());
    // No registered value: the error names the version and the run metric.
    let mut rules = Rules::new(
        vec!["accuracy<registered(val_accuracy)".parse().unwrap()],
        Duration::ZERO,
    );
    let e = rules
        .evaluate_performance(&w[0], &registered(&[("accuracy", 0.8)]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("fare v2") && e.contains("val_accuracy"), "{e}");
    // An error metric on classification windows.
    let mut rules = Rules::new(vec!["rmse>registered".parse().unwrap()], Duration::ZERO);
    let e = rules
        .evaluate_performance(&w[0], &registered(&[("rmse", 0.1)]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no rmse"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_performance_event_is_signed_delivered_and_not_fired_again_after_a_restart() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let root = StoreUri::parse(dir.path().to_str().unwrap())
        .unwrap()
        .open()
        .unwrap();
    let outbox = || Outbox::new(root.child(&"outbox".parse().unwrap()));
    let pipeline = || async {
        let target = Target::new(
            &receiver.url("/hook"),
            TargetKind::Generic,
            Some(b"s3cret".to_vec()),
            true,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        let rules = Rules::new(
            vec!["rmse>registered(val_rmse)*1.1".parse().unwrap()],
            Rules::DEFAULT_COOLDOWN,
        );
        Triggers::new(rules, vec![target], outbox())
            .await
            .unwrap()
            .with_retries(
                3,
                Backoff::exponential(Duration::from_millis(5), Duration::from_millis(20)),
            )
    };
    let w = windows("normal", &[1.0, 1.2, 1.2], Task::Regression);
    let lookup = registered(&[("val_rmse", 1.6)]);
    let triggers = pipeline().await;
    let mut events = Vec::new();
    for window in &w {
        events.extend(triggers.on_performance(window, &lookup).await.unwrap());
    }
    assert_eq!(events.len(), 1);
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.header("mlops-delivery-id"), events[0].id);
    let signature = expected_signature(
        "s3cret",
        &events[0].id,
        post.header("mlops-timestamp"),
        &post.body,
    );
    assert_eq!(post.header("mlops-signature"), signature);
    let body = post.json();
    assert_eq!(body["kind"], "performance");
    assert_eq!(body["model"], "fare");
    assert_eq!(body["version"], "2");
    assert_eq!(body["window"]["rows"], 500);
    let p = &body["performance"];
    assert_eq!(p["metric"], "rmse");
    assert_eq!(p["registered_metric"], "val_rmse");
    assert_eq!(p["registered"], 1.6);
    assert!(close(p["threshold"].as_f64().unwrap(), 1.76));
    let rmse = case("normal")["expected"]["rmse"].as_f64().unwrap();
    assert!(close(p["value"].as_f64().unwrap(), 1.2 * rmse), "{p}");
    let deliveries = outbox().deliveries().await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert!(deliveries[0].1, "acknowledged");

    // The same log and labels again after a restart: the same windows, within the cooldown
    // read back from the outbox: nothing fires, nothing is sent.
    let again = pipeline().await;
    for window in &w {
        assert!(
            again
                .on_performance(window, &lookup)
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert_eq!(receiver.posts().len(), 1);
}
