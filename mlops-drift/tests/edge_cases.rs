//! The edge cases of issue 3's acceptance list, through the public API: n = 1, all-equal
//! values, a constant reference, values only in current, new and missing categories, a
//! dictionary with unused values, NaN/inf/null mixes, an empty side, many categories, and a
//! column that fails next to one that works.

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use mlops_drift::{ColumnKind, DriftOptions, DriftReport, StatTest, detect_drift};

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap()
}

fn floats(values: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

fn strings(values: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

fn one(reference: ArrayRef, current: ArrayRef, options: &DriftOptions) -> DriftReport {
    detect_drift(
        &[batch(vec![("x", reference)])],
        &[batch(vec![("x", current)])],
        options,
    )
    .unwrap()
}

#[test]
fn a_single_value_per_side_is_tested() {
    let report = one(floats(&[1.0]), floats(&[2.0]), &DriftOptions::default());
    let column = &report.columns[0];
    assert!(column.error.is_none(), "{:?}", column.error);
    // Two distinct values over both sides: Evidently's z-test.
    assert_eq!(column.results[0].test, StatTest::Z);
    let ks = one(
        floats(&[1.0]),
        floats(&[2.0]),
        &DriftOptions::default().with_test(StatTest::Ks),
    );
    let result = &ks.columns[0].results[0];
    assert_eq!(result.statistic, 1.0);
    assert_eq!(result.p_value, Some(1.0)); // exact: one path of two is as extreme
}

#[test]
fn all_equal_values_do_not_drift() {
    let same = vec![3.5; 50];
    for test in [
        StatTest::Ks,
        StatTest::Wasserstein,
        StatTest::Psi,
        StatTest::Z,
    ] {
        let report = one(
            floats(&same),
            floats(&same),
            &DriftOptions::default().with_test(test),
        );
        let column = &report.columns[0];
        assert!(column.error.is_none(), "{test}: {:?}", column.error);
        assert!(!column.drifted, "{test}: {:?}", column.results);
    }
}

#[test]
fn a_constant_reference_against_a_spread_current() {
    let current: Vec<f64> = (0..200).map(f64::from).collect();
    let report = one(
        floats(&[10.0; 200]),
        floats(&current),
        &DriftOptions::default().with_test(StatTest::Wasserstein),
    );
    let result = &report.columns[0].results[0];
    // The reference's std is 0, so Evidently's floor of 0.001 normalises the distance.
    assert!(result.statistic > 1000.0, "{result:?}");
    assert!(report.columns[0].drifted);
}

#[test]
fn categories_new_and_missing() {
    let reference = strings(&["a", "a", "b", "b", "c", "c"]);
    let current = strings(&["a", "a", "b", "b", "d", "d"]);
    let report = one(
        reference.clone(),
        current.clone(),
        &DriftOptions::default().with_test(StatTest::ChiSquare),
    );
    let result = &report.columns[0].results[0];
    // Evidently's construction: `d` has expected count 0, so the statistic is infinite.
    assert_eq!(result.statistic, f64::INFINITY);
    assert_eq!(result.p_value, Some(0.0));
    let json = report.to_json();
    assert!(json.contains("\"statistic\": \"inf\""), "{json}");
    // The contingency alternative weighs the new category by its frequency.
    let options = DriftOptions::default()
        .with_test(StatTest::ChiSquare)
        .with_chisquare_mode(mlops_drift::ChiSquareMode::Contingency);
    let result = &one(reference, current, &options).columns[0].results[0];
    assert!(
        result.statistic.is_finite() && result.statistic > 0.0,
        "{result:?}"
    );
}

#[test]
fn dictionaries_with_unused_values_count_only_used_ones() {
    let dictionary: DictionaryArray<Int32Type> = vec!["x", "y", "x", "x"].into_iter().collect();
    // Slice off the only `y`: the dictionary still holds it, unused.
    let sliced: ArrayRef = Arc::new(dictionary.slice(2, 2));
    let plain = strings(&["x", "x"]);
    let report = one(
        sliced,
        plain,
        &DriftOptions::default().with_test(StatTest::JensenShannon),
    );
    let column = &report.columns[0];
    assert_eq!(column.kind, Some(ColumnKind::Categorical));
    assert_eq!(column.results[0].statistic, 0.0, "{column:?}");
    assert_eq!(column.results[0].details.get("bins").unwrap(), 1);
}

#[test]
fn nan_inf_and_null_are_dropped_and_counted() {
    let reference: ArrayRef = Arc::new(Float64Array::from(vec![
        Some(1.0),
        None,
        Some(f64::NAN),
        Some(f64::INFINITY),
        Some(f64::NEG_INFINITY),
        Some(2.0),
        Some(3.0),
    ]));
    let report = one(
        reference,
        floats(&[1.0, 2.0, 3.0]),
        &DriftOptions::default(),
    );
    let counts = report.columns[0].reference;
    assert_eq!(
        (
            counts.rows,
            counts.null,
            counts.nan,
            counts.inf,
            counts.valid
        ),
        (7, 1, 1, 2, 3)
    );
    assert!(!report.columns[0].drifted);
}

#[test]
fn an_empty_side_is_an_error_for_that_column_only() {
    let all_missing: ArrayRef = Arc::new(Float64Array::from(vec![None, Some(f64::NAN), None]));
    let reference = batch(vec![
        ("empty", floats(&[1.0, 2.0, 3.0])),
        ("fine", floats(&[1.0, 2.0, 3.0])),
    ]);
    let current = batch(vec![
        ("empty", all_missing),
        ("fine", floats(&[1.0, 2.0, 3.0])),
    ]);
    let report = detect_drift(&[reference], &[current], &DriftOptions::default()).unwrap();
    let empty = &report.columns[0];
    let error = empty.error.as_deref().unwrap();
    assert!(
        error.contains("\"empty\"") && error.contains("current"),
        "{error}"
    );
    assert!(empty.results.is_empty() && !empty.drifted);
    assert!(report.columns[1].error.is_none());
    assert_eq!((report.dataset.n_columns, report.dataset.n_errors), (1, 1));
    // No rows at all on one side is the same.
    let none = one(floats(&[1.0]), floats(&[]), &DriftOptions::default());
    assert!(none.columns[0].error.is_some());
}

#[test]
fn many_categories() {
    let reference: Vec<String> = (0..1000).map(|i| format!("c{}", i % 250)).collect();
    let current: Vec<String> = (0..1000).map(|i| format!("c{}", (i * 7) % 260)).collect();
    let as_array = |v: &[String]| -> ArrayRef {
        Arc::new(StringArray::from(
            v.iter().map(String::as_str).collect::<Vec<_>>(),
        ))
    };
    let report = one(
        as_array(&reference),
        as_array(&current),
        &DriftOptions::default(),
    );
    let column = &report.columns[0];
    assert_eq!(column.results[0].test, StatTest::ChiSquare);
    assert!(column.drifted); // ten categories exist only in current
}

#[test]
fn integers_and_booleans_follow_evidently_kinds() {
    let few: ArrayRef = Arc::new(Int64Array::from(
        (0..100).map(|i| i % 4).collect::<Vec<_>>(),
    ));
    let many: ArrayRef = Arc::new(Int64Array::from((0..100).collect::<Vec<_>>()));
    let flags: ArrayRef = Arc::new(BooleanArray::from(
        (0..100).map(|i| i % 3 == 0).collect::<Vec<_>>(),
    ));
    let data = batch(vec![("few", few), ("many", many), ("flag", flags)]);
    let both = std::slice::from_ref(&data);
    let report = detect_drift(both, both, &DriftOptions::default()).unwrap();
    let kinds: Vec<_> = report.columns.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            Some(ColumnKind::Categorical),
            Some(ColumnKind::Numerical),
            Some(ColumnKind::Categorical)
        ]
    );
    assert!(!report.dataset.dataset_drift);
}

#[test]
fn inapplicable_tests_and_unsupported_types_are_column_errors() {
    let report = one(
        strings(&["a", "b"]),
        strings(&["a", "b"]),
        &DriftOptions::default().with_test(StatTest::Ks),
    );
    let error = report.columns[0].error.as_deref().unwrap();
    assert!(
        error.contains("ks") && error.contains("categorical"),
        "{error}"
    );
    let list: ArrayRef = Arc::new(arrow_array::ListArray::new_null(
        Arc::new(Field::new_list_field(DataType::Int32, true)),
        2,
    ));
    let report = one(list.clone(), list, &DriftOptions::default());
    assert!(report.columns[0].error.as_deref().unwrap().contains("List"));
}

#[test]
fn bad_options_fail_before_reading() {
    for options in [
        DriftOptions::default().with_threshold(f64::NAN),
        DriftOptions::default().with_threshold(-1.0),
        DriftOptions::default().with_drift_share(1.5),
    ] {
        let err = detect_drift(&[], &[], &options).unwrap_err();
        assert!(err.to_string().contains("invalid option"), "{err}");
    }
}
