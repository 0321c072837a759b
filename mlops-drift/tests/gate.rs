//! Gates fail closed (issue 17): each input that a "no dataset drift" verdict used to pass
//! with "0 of 0 columns drifted" or a hidden `n_errors` is unusable, naming the columns.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use mlops_drift::{
    ColumnFailure, DriftOptions, GatePolicy, GateVerdict, ReferenceProfile, Unusable, detect_drift,
};

use crate::profile_common::mixed;

const COLUMNS: [&str; 7] = [
    "amount", "rounded", "count", "level", "country", "flag", "device",
];

fn unusable(verdict: GateVerdict) -> Unusable {
    match verdict {
        GateVerdict::Unusable(reason) => reason,
        other => panic!("expected an unusable input, got {other:?}"),
    }
}

/// Every column of the dataset is named in the failures, and in the message.
fn assert_names_every_column(failures: &[ColumnFailure], message: &str) {
    let named: Vec<&str> = failures.iter().map(|f| f.column.as_str()).collect();
    assert_eq!(named, COLUMNS);
    for column in COLUMNS {
        assert!(message.contains(&format!("{column:?}")), "{message}");
    }
    assert!(!message.contains("column \"\""), "{message}");
}

#[test]
fn a_current_side_without_rows_is_unusable() {
    let reference = mixed(1, 3_000, 1_000, 0.0);
    let empty = reference[0].slice(0, 0);
    let report = detect_drift(&reference, &[empty], &DriftOptions::default()).unwrap();
    // What the report says on its own: nothing drifted.
    assert_eq!(
        (report.dataset.n_columns, report.dataset.dataset_drift),
        (0, false)
    );
    assert!(report.nothing_tested());
    // Even allowing column errors, nothing tested is never a pass.
    let verdict = report.gate(GatePolicy::new().with_allow_errors(true));
    let message = verdict.to_string();
    let Unusable::NothingTested { failures } = unusable(verdict) else {
        panic!("{message}");
    };
    assert_names_every_column(&failures, &message);
    assert!(message.contains("0 rows"), "{message}");
    // The same through a stored profile and an accumulator that saw no batch at all.
    let profile = ReferenceProfile::build(&reference, &DriftOptions::default()).unwrap();
    let mut nothing = profile.accumulator();
    nothing.finish();
    let report = profile
        .compare_accumulated(&nothing, &DriftOptions::default())
        .unwrap();
    assert!(matches!(
        unusable(report.gate(GatePolicy::new())),
        Unusable::NothingTested { .. }
    ));
}

#[test]
fn a_current_side_without_any_reference_column_is_unusable() {
    let reference = mixed(2, 3_000, 1_000, 0.0);
    let other = RecordBatch::try_from_iter([(
        "something_else",
        Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0])) as ArrayRef,
    )])
    .unwrap();
    let report = detect_drift(&reference, &[other], &DriftOptions::default()).unwrap();
    assert!(!report.dataset.dataset_drift);
    let verdict = report.gate(GatePolicy::new());
    let message = verdict.to_string();
    let Unusable::NothingTested { failures } = unusable(verdict) else {
        panic!("{message}");
    };
    assert_names_every_column(&failures, &message);
    assert!(message.contains("not in the current data"), "{message}");
}

#[test]
fn a_profile_without_columns_is_unusable() {
    let profile = ReferenceProfile::from_json(r#"{"version":1,"columns":[]}"#).unwrap();
    let report = profile
        .compare(&mixed(3, 100, 100, 0.0), &DriftOptions::default())
        .unwrap();
    assert!(report.columns.is_empty());
    assert!(!report.dataset.dataset_drift);
    assert!(report.nothing_tested());
    let verdict = report.gate(GatePolicy::new().with_allow_errors(true));
    assert!(!verdict.passed());
    assert_eq!(unusable(verdict), Unusable::NoColumns);
}

#[test]
fn a_column_that_became_all_null_fails_unless_errors_are_allowed() {
    let reference = mixed(4, 3_000, 1_000, 0.0);
    let current: Vec<RecordBatch> = mixed(5, 3_000, 1_000, 0.0)
        .into_iter()
        .map(|batch| {
            let mut columns = batch.columns().to_vec();
            columns[4] = Arc::new(StringArray::from(vec![None::<&str>; batch.num_rows()]));
            RecordBatch::try_new(batch.schema(), columns).unwrap()
        })
        .collect();
    let report = detect_drift(&reference, &current, &DriftOptions::default()).unwrap();
    // Before: counted in n_errors only, and the dataset verdict passed.
    assert_eq!((report.dataset.n_errors, report.dataset.n_columns), (1, 6));
    assert!(!report.dataset.dataset_drift);
    assert!(!report.nothing_tested());

    let verdict = report.gate(GatePolicy::new());
    let message = verdict.to_string();
    match unusable(verdict) {
        Unusable::ColumnErrors { failures, tested } => {
            assert_eq!(tested, 6);
            assert_eq!(failures.len(), 1);
            assert_eq!(failures[0].column, "country");
            assert!(failures[0].error.contains("no valid values"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(message.contains("\"country\""), "{message}");
    assert!(message.contains("1 of 7 columns"), "{message}");
    // Opting out: the other six columns decide.
    assert_eq!(
        report.gate(GatePolicy::new().with_allow_errors(true)),
        GateVerdict::Pass
    );
}

#[test]
fn drift_and_pass_name_what_they_saw() {
    let reference = mixed(6, 3_000, 1_000, 0.0);
    let same = mixed(7, 3_000, 1_000, 0.0);
    let report = detect_drift(&reference, &same, &DriftOptions::default()).unwrap();
    assert_eq!(report.gate(GatePolicy::new()), GateVerdict::Pass);
    assert!(report.failures().is_empty());

    let shifted = mixed(8, 3_000, 1_000, 3.0);
    let report = detect_drift(&reference, &shifted, &DriftOptions::default()).unwrap();
    assert!(report.dataset.dataset_drift);
    match report.gate(GatePolicy::new()) {
        GateVerdict::Drift { drifted } => {
            let expected: Vec<String> = report
                .columns
                .iter()
                .filter(|c| c.drifted)
                .map(|c| c.column.clone())
                .collect();
            assert_eq!(drifted, expected);
            assert!(drifted.contains(&"amount".to_owned()), "{drifted:?}");
        }
        other => panic!("{other:?}"),
    }
}

/// A current column whose type the reference's kind cannot read: the error names the column
/// (it used to say `column ""`), on every path that reads current data.
#[test]
fn a_type_error_names_its_column() {
    let schema = |data_type| Arc::new(Schema::new(vec![Field::new("x", data_type, true)]));
    let reference = RecordBatch::try_new(
        schema(DataType::Float64),
        vec![Arc::new(Float64Array::from(
            (0..200).map(f64::from).collect::<Vec<_>>(),
        ))],
    )
    .unwrap();
    let current = RecordBatch::try_new(
        schema(DataType::Utf8),
        vec![Arc::new(StringArray::from(vec!["a", "b"]))],
    )
    .unwrap();
    let report = detect_drift(
        std::slice::from_ref(&reference),
        std::slice::from_ref(&current),
        &DriftOptions::default(),
    )
    .unwrap();
    let error = report.columns[0].error.as_deref().unwrap();
    assert!(error.starts_with("column \"x\""), "{error}");
    assert!(!error.contains("column \"\""), "{error}");
    let message = report.gate(GatePolicy::new()).to_string();
    assert!(message.contains("column \"x\""), "{message}");
    assert!(!message.contains("column \"\""), "{message}");

    // Reference side: an integer column counted as categories, then a batch of text.
    let ints = RecordBatch::try_new(
        schema(DataType::Int64),
        vec![Arc::new(arrow_array::Int64Array::from(vec![1, 2, 3]))],
    )
    .unwrap();
    let mut builder = ReferenceProfile::builder(
        &ints.schema(),
        &DriftOptions::default(),
        &mlops_drift::ProfileOptions::exact(),
    )
    .unwrap();
    builder.push(&ints).unwrap();
    builder.push(&current).unwrap();
    let profile = builder.finish();
    let report = profile.compare(&[ints], &DriftOptions::default()).unwrap();
    let error = report.columns[0].error.as_deref().unwrap();
    assert!(error.contains("\"x\""), "{error}");
    assert!(!error.contains("column \"\""), "{error}");
}
