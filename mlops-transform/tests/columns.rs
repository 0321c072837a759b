//! Reading raw Arrow columns: numbers, categories and instants in their many encodings.

use std::sync::Arc;

use arrow_array::types::Int8Type;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, DictionaryArray, Float32Array, RecordBatch, StringArray,
    TimestampMillisecondArray, TimestampSecondArray,
};
use mlops_transform::{
    DatePart, FeatureSpec, InputKind, Step, TransformError, TransformSpec, Unknown,
};

fn one(name: &str, a: ArrayRef) -> RecordBatch {
    RecordBatch::try_from_iter([(name, a)]).unwrap()
}

fn parts(b: &RecordBatch) -> Vec<Vec<f64>> {
    let spec = TransformSpec {
        features: [
            DatePart::Year,
            DatePart::Month,
            DatePart::Day,
            DatePart::Weekday,
            DatePart::DayOfYear,
            DatePart::Hour,
            DatePart::Minute,
        ]
        .into_iter()
        .map(|part| FeatureSpec::new("t").then(Step::DatePart { part }))
        .collect(),
    };
    let f = spec.fit(std::slice::from_ref(b)).unwrap();
    assert_eq!(f.output_names()[3], "t_weekday");
    assert_eq!(f.inputs(), [("t", InputKind::Time)]);
    f.apply(b)
        .unwrap()
        .outer_iter()
        .map(|r| r.to_vec())
        .collect()
}

#[test]
fn date_parts_from_timestamps_dates_and_strings() {
    // 2026-12-04 (a Friday) 13:45:10 UTC.
    let secs = 1_796_391_910_i64;
    let want = vec![2026.0, 12.0, 4.0, 4.0, 338.0, 13.0, 45.0];
    assert_eq!(
        parts(&one("t", Arc::new(TimestampSecondArray::from(vec![secs])))),
        std::slice::from_ref(&want)
    );
    // A zoned timestamp holds the UTC instant: parts of the UTC time.
    let zoned = TimestampMillisecondArray::from(vec![secs * 1000]).with_timezone("+05:00");
    assert_eq!(
        parts(&one("t", Arc::new(zoned))),
        std::slice::from_ref(&want)
    );
    let strings = StringArray::from(vec![
        "2026-12-04T18:45:10+05:00",
        "2026-12-04 13:45:10",
        "2026-12-04",
    ]);
    let got = parts(&one("t", Arc::new(strings)));
    assert_eq!(got[0], want);
    assert_eq!(got[1], want);
    assert_eq!(got[2], [2026.0, 12.0, 4.0, 4.0, 338.0, 0.0, 0.0]);
    let date = Date32Array::from(vec![20_791]); // days since 1970-01-01
    assert_eq!(parts(&one("t", Arc::new(date)))[0][..5], want[..5]);
}

#[test]
fn a_string_that_is_no_date_names_its_row() {
    let b = one(
        "t",
        Arc::new(StringArray::from(vec!["2026-01-01", "next tuesday"])),
    );
    let spec = TransformSpec {
        features: vec![FeatureSpec::new("t").then(Step::DatePart {
            part: DatePart::Hour,
        })],
    };
    let m = spec.fit(&[b]).unwrap_err().to_string();
    assert!(m.contains("row 1") && m.contains("next tuesday"), "{m}");
}

#[test]
fn dictionary_and_boolean_categories() {
    let dict: DictionaryArray<Int8Type> = vec![Some("x"), None, Some("y"), Some("x")]
        .into_iter()
        .collect();
    let b = one("c", Arc::new(dict));
    let spec = TransformSpec {
        features: vec![
            FeatureSpec::new("c")
                .then(Step::FillCategory { value: "y".into() })
                .then(Step::Ordinal {
                    unknown: Unknown::Error,
                }),
        ],
    };
    let f = spec.fit(std::slice::from_ref(&b)).unwrap();
    assert_eq!(
        f.apply(&b).unwrap().column(0).to_vec(),
        [0.0, 1.0, 1.0, 0.0]
    );
    let flags = one("c", Arc::new(BooleanArray::from(vec![true, false])));
    let spec = TransformSpec {
        features: vec![FeatureSpec::new("c").then(Step::OneHot {
            unknown: Unknown::Error,
        })],
    };
    assert_eq!(
        spec.fit(&[flags]).unwrap().output_names(),
        ["c=false", "c=true"]
    );
}

#[test]
fn wrong_column_types_are_named() {
    let b = one("x", Arc::new(StringArray::from(vec!["a"])));
    match (TransformSpec {
        features: vec![FeatureSpec::new("x").then(Step::Standardize)],
    })
    .fit(&[b])
    {
        Err(TransformError::ColumnType {
            column,
            step,
            found,
            ..
        }) => {
            assert_eq!(
                (column.as_str(), step.as_str(), found.as_str()),
                ("x", "standardize", "Utf8")
            );
        }
        other => panic!("{other:?}"),
    }
    let b = one("t", Arc::new(Float32Array::from(vec![1.0])));
    let spec = TransformSpec {
        features: vec![FeatureSpec::new("t").then(Step::DatePart {
            part: DatePart::Hour,
        })],
    };
    assert!(matches!(
        spec.fit(&[b]),
        Err(TransformError::ColumnType { .. })
    ));
}
