//! Performance metrics equal scikit-learn's (`fixtures/performance.json`, written by
//! `fixtures/gen_performance.py`).

use mlops_monitor::performance::{classification, regression};
use serde_json::Value;

fn close(name: &str, what: &str, ours: f64, theirs: &Value) {
    let theirs = theirs.as_f64().unwrap();
    assert!(
        ours == theirs || (ours - theirs).abs() <= 1e-12 * ours.abs().max(theirs.abs()),
        "{name} {what}: {ours} vs scikit-learn {theirs}"
    );
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn metrics_equal_scikit_learn() {
    let text = include_str!("fixtures/performance.json");
    let fixture: Value = serde_json::from_str(text).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (labels, predictions) = (floats(&case["labels"]), floats(&case["predictions"]));
        let e = &case["expected"];
        if case["task"] == "regression" {
            let m = regression(&labels, &predictions).unwrap();
            close(name, "mae", m.mae, &e["mae"]);
            close(name, "rmse", m.rmse, &e["rmse"]);
            close(name, "r2", m.r2, &e["r2"]);
            close(name, "mape", m.mape, &e["mape"]);
        } else {
            let threshold = case["threshold"].as_f64().unwrap();
            let m = classification(&labels, &predictions, threshold).unwrap();
            close(name, "accuracy", m.accuracy, &e["accuracy"]);
            close(name, "precision", m.precision, &e["precision"]);
            close(name, "recall", m.recall, &e["recall"]);
            close(name, "f1", m.f1, &e["f1"]);
            match (m.roc_auc, e["roc_auc"].is_null()) {
                (None, true) => {}
                (Some(auc), false) => close(name, "roc_auc", auc, &e["roc_auc"]),
                other => panic!("{name} roc_auc: {other:?}"),
            }
        }
    }
}

#[test]
fn bad_pairs_are_refused_naming_the_value() {
    assert!(regression(&[], &[]).is_err());
    assert!(regression(&[1.0], &[1.0, 2.0]).is_err());
    let e = regression(&[1.0], &[f64::NAN]).unwrap_err().to_string();
    assert!(e.contains("NaN"), "{e}");
    let e = classification(&[2.0], &[0.5], 0.5).unwrap_err().to_string();
    assert!(e.contains("label 2"), "{e}");
}

#[test]
fn metric_gates_parse_and_compare_with_their_margin() {
    use mlops_monitor::performance::MetricGate;
    let gate: MetricGate = "rmse=val_rmse:lower:0.1".parse().unwrap();
    assert_eq!(
        (gate.metric.as_str(), gate.registered.as_str()),
        ("rmse", "val_rmse")
    );
    assert!(!gate.fails(1.05, 1.0) && gate.fails(1.2, 1.0));
    let gate: MetricGate = "accuracy:higher".parse().unwrap();
    assert!(gate.fails(0.89, 0.9) && !gate.fails(0.9, 0.9));
    for bad in [
        "accuracy",
        "loss:lower",
        "f1:better",
        "f1:higher:-1",
        "f1:higher:1:2",
    ] {
        let e = bad.parse::<MetricGate>().unwrap_err().to_string();
        assert!(e.contains(bad), "{e}");
    }
}
