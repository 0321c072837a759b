//! Spec checks, each step's arithmetic and its errors.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use mlops_transform::{FeatureSpec, Impute, Step, TransformError, TransformSpec, Unknown};

fn nums(name: &str, v: Vec<Option<f64>>) -> RecordBatch {
    RecordBatch::try_from_iter([(name, Arc::new(Float64Array::from(v)) as ArrayRef)]).unwrap()
}

fn fit1(
    batch: &RecordBatch,
    f: FeatureSpec,
) -> Result<mlops_transform::FittedTransform, TransformError> {
    TransformSpec { features: vec![f] }.fit(std::slice::from_ref(batch))
}

fn invalid(f: FeatureSpec) -> String {
    match (TransformSpec { features: vec![f] }).check() {
        Err(TransformError::InvalidSpec(m)) => m,
        other => panic!("expected InvalidSpec, got {other:?}"),
    }
}

#[test]
fn chains_must_type_check_and_end_encoded() {
    let m = invalid(
        FeatureSpec::new("c")
            .then(Step::OneHot {
                unknown: Unknown::Error,
            })
            .then(Step::Standardize),
    );
    assert!(
        m.contains("standardize reads numbers but gets one-hot columns"),
        "{m}"
    );
    let m = invalid(FeatureSpec::new("c").then(Step::FillCategory {
        value: "none".into(),
    }));
    assert!(m.contains("needs an encoding step"), "{m}");
    let m = invalid(
        FeatureSpec::new("t")
            .then(Step::Standardize)
            .then(Step::OneHot {
                unknown: Unknown::Error,
            }),
    );
    assert!(
        m.contains("one_hot reads categories but gets numbers"),
        "{m}"
    );
    assert!(
        invalid(FeatureSpec::new("x").then(Step::Clip {
            min: None,
            max: None
        }))
        .contains("needs min, max")
    );
    assert!(
        invalid(FeatureSpec::new("x").then(Step::Bucketize {
            boundaries: vec![1.0, 1.0]
        }))
        .contains("strictly")
    );
    assert!(
        invalid(FeatureSpec::new("x").then(Step::MinMax { min: 1.0, max: 1.0 }))
            .contains("min < max")
    );
    assert!(
        invalid(FeatureSpec::new("c").then(Step::OneHot {
            unknown: Unknown::Value(1.0)
        }))
        .contains("for ordinal")
    );
    assert!(matches!(
        TransformSpec { features: vec![] }.check(),
        Err(TransformError::InvalidSpec(_))
    ));
}

#[test]
fn clip_bucketize_and_constant_impute() {
    let b = nums("x", vec![Some(-5.0), None, Some(0.5), Some(1.0), Some(9.0)]);
    let f = fit1(
        &b,
        FeatureSpec::new("x")
            .then(Step::Impute {
                strategy: Impute::Constant(2.0),
            })
            .then(Step::Clip {
                min: Some(0.0),
                max: Some(5.0),
            }),
    )
    .unwrap();
    assert_eq!(
        f.apply(&b).unwrap().column(0).to_vec(),
        [0.0, 2.0, 0.5, 1.0, 5.0]
    );
    let f = fit1(
        &b,
        FeatureSpec::new("x")
            .named("bucket")
            .then(Step::Impute {
                strategy: Impute::Constant(2.0),
            })
            .then(Step::Bucketize {
                boundaries: vec![0.0, 1.0, 5.0],
            }),
    )
    .unwrap();
    assert_eq!(f.output_names(), ["bucket"]);
    // np.digitize(x, bins, right=False): the count of edges <= x.
    assert_eq!(
        f.apply(&b).unwrap().column(0).to_vec(),
        [0.0, 2.0, 1.0, 2.0, 3.0]
    );
}

#[test]
fn median_of_even_count_and_constant_column() {
    let b = nums("x", vec![Some(4.0), Some(1.0), None, Some(3.0), Some(2.0)]);
    let f = fit1(
        &b,
        FeatureSpec::new("x").then(Step::Impute {
            strategy: Impute::Median,
        }),
    )
    .unwrap();
    assert_eq!(f.apply(&b).unwrap()[[2, 0]], 2.5);
    let c = nums("x", vec![Some(7.0); 4]);
    let f = fit1(&c, FeatureSpec::new("x").then(Step::Standardize).named("s")).unwrap();
    assert_eq!(
        f.apply(&c).unwrap().column(0).to_vec(),
        [0.0; 4],
        "a constant column maps to 0, not NaN"
    );
}

#[test]
fn missing_values_need_an_impute_step() {
    let b = nums("x", vec![Some(1.0), None]);
    match fit1(&b, FeatureSpec::new("x").then(Step::Standardize)) {
        Err(TransformError::Missing { column, row, step }) => assert_eq!(
            (column.as_str(), row, step.as_str()),
            ("x", 1, "standardize")
        ),
        other => panic!("{other:?}"),
    }
    let m = fit1(&b, FeatureSpec::new("x")).unwrap_err().to_string();
    assert!(m.contains("row 1") && m.contains("impute"), "{m}");
    // Fitted on complete data, a missing value at serving time is refused too.
    let full = nums("x", vec![Some(1.0), Some(2.0)]);
    let f = fit1(&full, FeatureSpec::new("x").then(Step::Standardize)).unwrap();
    assert!(matches!(
        f.apply(&b),
        Err(TransformError::Missing { row: 1, .. })
    ));
}

#[test]
fn log1p_refuses_values_at_or_below_minus_one() {
    let b = nums("x", vec![Some(0.0), Some(-1.0)]);
    let m = fit1(&b, FeatureSpec::new("x").then(Step::Log1p))
        .unwrap_err()
        .to_string();
    assert!(m.contains("row 1") && m.contains("log1p of -1"), "{m}");
}

#[test]
fn unknown_categories_follow_the_policy() {
    let train = RecordBatch::try_from_iter([(
        "c",
        Arc::new(StringArray::from(vec!["b", "a", "b"])) as ArrayRef,
    )])
    .unwrap();
    let serve = RecordBatch::try_from_iter([(
        "c",
        Arc::new(StringArray::from(vec!["a", "z"])) as ArrayRef,
    )])
    .unwrap();
    let f = fit1(
        &train,
        FeatureSpec::new("c").then(Step::OneHot {
            unknown: Unknown::Error,
        }),
    )
    .unwrap();
    match f.apply(&serve) {
        Err(TransformError::UnknownCategory {
            column,
            row,
            value,
            known,
        }) => {
            assert_eq!(
                (column.as_str(), row, value.as_str(), known),
                ("c", 1, "z", 2)
            );
        }
        other => panic!("{other:?}"),
    }
    let f = fit1(
        &train,
        FeatureSpec::new("c").then(Step::Ordinal {
            unknown: Unknown::Ignore,
        }),
    )
    .unwrap();
    assert_eq!(f.apply(&serve).unwrap().column(0).to_vec(), [0.0, -1.0]);
    let f = fit1(
        &train,
        FeatureSpec::new("c")
            .then(Step::FillCategory { value: "a".into() })
            .then(Step::OneHot {
                unknown: Unknown::Ignore,
            }),
    )
    .unwrap();
    let with_null = RecordBatch::try_from_iter([(
        "c",
        Arc::new(StringArray::from(vec![None, Some("b")])) as ArrayRef,
    )])
    .unwrap();
    assert_eq!(
        f.apply(&with_null).unwrap().into_raw_vec_and_offset().0,
        [1.0, 0.0, 0.0, 1.0]
    );
}

#[test]
fn number_categories_agree_across_integer_and_float_columns() {
    // Trained on an Int64 vendor id; served from an FP64 tensor: the same categories.
    let train = RecordBatch::try_from_iter([(
        "vendor",
        Arc::new(Int64Array::from(vec![1, 2, 2])) as ArrayRef,
    )])
    .unwrap();
    let f = fit1(
        &train,
        FeatureSpec::new("vendor").then(Step::OneHot {
            unknown: Unknown::Error,
        }),
    )
    .unwrap();
    assert_eq!(f.output_names(), ["vendor=1", "vendor=2"]);
    let serve = nums("vendor", vec![Some(2.0), Some(1.0)]);
    assert_eq!(
        f.apply(&serve).unwrap().into_raw_vec_and_offset().0,
        [0.0, 1.0, 1.0, 0.0]
    );
}

#[test]
fn duplicate_output_names_and_missing_columns_are_refused() {
    let b = nums("x", vec![Some(1.0)]);
    let spec = TransformSpec {
        features: vec![
            FeatureSpec::new("x"),
            FeatureSpec::new("x").then(Step::Log1p),
        ],
    };
    assert!(
        spec.fit(std::slice::from_ref(&b))
            .unwrap_err()
            .to_string()
            .contains("appears twice")
    );
    match fit1(&b, FeatureSpec::new("distance")) {
        Err(TransformError::MissingColumn { column, present }) => {
            assert_eq!((column.as_str(), present.as_str()), ("distance", "x"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn several_batches_fit_as_one() {
    let a = nums("x", vec![Some(1.0), Some(2.0)]);
    let b = nums("x", vec![Some(3.0), Some(4.0)]);
    let spec = TransformSpec {
        features: vec![FeatureSpec::new("x").then(Step::Standardize)],
    };
    let two = spec.fit(&[a.clone(), b.clone()]).unwrap();
    let one = spec
        .fit(&[nums("x", vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0)])])
        .unwrap();
    assert_eq!(two, one);
    let x = two.apply_batches(&[a, b]).unwrap();
    assert_eq!(x.nrows(), 4);
    assert!((x.column(0).sum()).abs() < 1e-15);
}
