//! The fitted steps give scikit-learn's numbers on the same data (fixtures/gen_sklearn.py).

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use mlops_transform::{FeatureSpec, Impute, Step, TransformSpec, Unknown};
use serde_json::Value;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/sklearn.json")).unwrap()
}

fn batch(part: &Value) -> RecordBatch {
    let nums = |k: &str| -> ArrayRef {
        Arc::new(Float64Array::from(
            part[k]
                .as_array()
                .unwrap()
                .iter()
                .map(Value::as_f64)
                .collect::<Vec<_>>(),
        ))
    };
    let cats: Vec<&str> = part["c"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    RecordBatch::try_from_iter([
        ("x", nums("x")),
        ("y", nums("y")),
        ("c", Arc::new(StringArray::from(cats)) as ArrayRef),
    ])
    .unwrap()
}

fn expected(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

/// Relative 1e-12 (absolute near zero): numpy sums pairwise, we sum in order.
fn assert_close(name: &str, got: &ndarray::Array2<f64>, want: &[Vec<f64>]) {
    assert_eq!(got.nrows(), want.len(), "{name}: rows");
    for (r, row) in want.iter().enumerate() {
        assert_eq!(got.ncols(), row.len(), "{name}: columns");
        for (j, w) in row.iter().enumerate() {
            let g = got[[r, j]];
            assert!(
                (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{name} row {r} col {j}: {g} vs scikit-learn {w}"
            );
        }
    }
}

fn check(name: &str, feature: FeatureSpec) {
    let fx = fixture();
    let (train, test) = (batch(&fx["train"]), batch(&fx["test"]));
    let fitted = TransformSpec {
        features: vec![feature],
    }
    .fit(std::slice::from_ref(&train))
    .unwrap();
    assert_close(
        name,
        &fitted.apply(&train).unwrap(),
        &expected(&fx["expected"][name]["train"]),
    );
    assert_close(
        name,
        &fitted.apply(&test).unwrap(),
        &expected(&fx["expected"][name]["test"]),
    );
}

#[test]
fn mean_impute_then_standardize() {
    check(
        "mean_standardize",
        FeatureSpec::new("x")
            .then(Step::Impute {
                strategy: Impute::Mean,
            })
            .then(Step::Standardize),
    );
}

#[test]
fn median_impute_then_min_max() {
    check(
        "median_minmax",
        FeatureSpec::new("x")
            .then(Step::Impute {
                strategy: Impute::Median,
            })
            .then(Step::MinMax {
                min: -1.0,
                max: 2.0,
            }),
    );
}

#[test]
fn log1p_then_standardize() {
    check(
        "log1p_standardize",
        FeatureSpec::new("y")
            .then(Step::Log1p)
            .then(Step::Standardize),
    );
}

#[test]
fn one_hot_ignoring_unknown() {
    check(
        "onehot_ignore",
        FeatureSpec::new("c").then(Step::OneHot {
            unknown: Unknown::Ignore,
        }),
    );
    let fx = fixture();
    let fitted = TransformSpec {
        features: vec![FeatureSpec::new("c").then(Step::OneHot {
            unknown: Unknown::Ignore,
        })],
    }
    .fit(&[batch(&fx["train"])])
    .unwrap();
    let cats: Vec<String> = fx["expected"]["onehot_ignore"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("c={}", c.as_str().unwrap()))
        .collect();
    assert_eq!(fitted.output_names(), cats);
}

#[test]
fn ordinal_with_unknown_value() {
    check(
        "ordinal_value",
        FeatureSpec::new("c").then(Step::Ordinal {
            unknown: Unknown::Value(-7.0),
        }),
    );
}
