//! The fitted transform file: exact round trips, and damaged files refused before use.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use mlops_transform::{
    FeatureSpec, FittedTransform, Impute, Step, TransformError, TransformSpec, Unknown,
};
use proptest::prelude::*;

fn spec() -> TransformSpec {
    TransformSpec {
        features: vec![
            FeatureSpec::new("x")
                .then(Step::Impute {
                    strategy: Impute::Mean,
                })
                .then(Step::Standardize),
            FeatureSpec::new("x")
                .named("x_mm")
                .then(Step::Impute {
                    strategy: Impute::Median,
                })
                .then(Step::MinMax { min: 0.0, max: 1.0 }),
            FeatureSpec::new("c").then(Step::OneHot {
                unknown: Unknown::Ignore,
            }),
        ],
    }
}

fn batch(x: Vec<Option<f64>>, c: Vec<&str>) -> RecordBatch {
    RecordBatch::try_from_iter([
        ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        ("c", Arc::new(StringArray::from(c)) as ArrayRef),
    ])
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever was fitted, the file read back applies to the same bits.
    #[test]
    fn json_round_trip_is_exact(xs in prop::collection::vec(prop::option::weighted(0.9, -1e12f64..1e12), 2..40)) {
        prop_assume!(xs.iter().any(Option::is_some));
        let cats: Vec<&str> = (0..xs.len()).map(|i| ["a", "b", "c"][i % 3]).collect();
        let b = batch(xs, cats);
        let fitted = spec().fit(std::slice::from_ref(&b)).unwrap();
        let back = FittedTransform::from_json(&fitted.to_json()).unwrap();
        prop_assert_eq!(&back, &fitted);
        let (p, q) = (fitted.apply(&b).unwrap(), back.apply(&b).unwrap());
        prop_assert!(p.iter().zip(q.iter()).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}

fn tampered(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let b = batch(vec![Some(1.0), Some(2.0), None], vec!["a", "b", "a"]);
    let mut v: serde_json::Value =
        serde_json::from_slice(&spec().fit(&[b]).unwrap().to_json()).unwrap();
    edit(&mut v);
    match FittedTransform::from_json(&serde_json::to_vec(&v).unwrap()) {
        Err(TransformError::Format(m)) => m,
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn damaged_files_are_refused() {
    assert!(tampered(|v| v["format"] = "mlops-transform/2".into()).contains("newer release"));
    assert!(
        tampered(|v| v["features"][0]["steps"][1]["scale"] = 0.0.into()).contains("scale is 0")
    );
    assert!(
        tampered(|v| v["features"][2]["steps"][0]["categories"] = serde_json::json!(["a", "a"]))
            .contains("appears twice")
    );
    assert!(
        tampered(|v| v["features"][2]["outputs"] = serde_json::json!(["c=a"]))
            .contains("1 output names for 2")
    );
    assert!(
        tampered(|v| v["features"][1]["outputs"] = serde_json::json!(["x"]))
            .contains("\"x\" appears twice")
    );
    assert!(
        tampered(|v| v["features"][0]["input"] = "category".into())
            .contains("reads numbers but gets categories")
    );
    assert!(
        tampered(|v| v["features"][0]["steps"][0]["extra"] = 1.into()).contains("unknown field")
    );
    assert!(tampered(|v| v["features"] = serde_json::json!([])).contains("no features"));
    let huge = vec![b' '; mlops_transform::MAX_FILE_BYTES + 1];
    assert!(
        matches!(FittedTransform::from_json(&huge), Err(TransformError::Format(m)) if m.contains("over the limit"))
    );
}
