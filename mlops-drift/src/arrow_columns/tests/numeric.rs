//! [`numeric_values`] and [`numeric_column`]: every numeric type, dictionaries, refusals, and
//! names in errors.

use super::*;

#[test]
fn every_integer_type_with_nulls() {
    let want = vec![1.0, 3.0];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int8Array::from(vec![Some(1), None, Some(3)])),
        Arc::new(Int16Array::from(vec![Some(1), None, Some(3)])),
        Arc::new(Int32Array::from(vec![Some(1), None, Some(3)])),
        Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])),
        Arc::new(UInt8Array::from(vec![Some(1), None, Some(3)])),
        Arc::new(UInt16Array::from(vec![Some(1), None, Some(3)])),
        Arc::new(UInt32Array::from(vec![Some(1), None, Some(3)])),
        Arc::new(UInt64Array::from(vec![Some(1), None, Some(3)])),
    ];
    for array in arrays {
        let (out, c) = numbers(array.as_ref());
        assert_eq!(out, want, "{}", array.data_type());
        assert_eq!(c, counts(3, 1), "{}", array.data_type());
    }
    let (out, _) = numbers(&Int64Array::from(vec![i64::MIN, -1, i64::MAX]));
    assert_eq!(out, vec![i64::MIN as f64, -1.0, i64::MAX as f64]);
    let (out, _) = numbers(&UInt64Array::from(vec![u64::MAX]));
    assert_eq!(out, vec![u64::MAX as f64]);
}

#[test]
fn floats_drop_and_count_nan_and_infinities() {
    let values = [
        Some(1.5),
        None,
        Some(f64::NAN),
        Some(f64::INFINITY),
        Some(f64::NEG_INFINITY),
        Some(-0.0),
        Some(f64::INFINITY),
    ];
    let want_counts = ValueCounts {
        rows: 7,
        nulls: 1,
        nan: 1,
        pos_inf: 2,
        neg_inf: 1,
    };
    let f64s = Float64Array::from(values.to_vec());
    let f32s: Float32Array = values.iter().map(|v| v.map(|v| v as f32)).collect();
    let f16s: Float16Array = values.iter().map(|v| v.map(f16::from_f64)).collect();
    for array in [&f64s as &dyn Array, &f32s, &f16s] {
        let (out, c) = numbers(array);
        assert_eq!(out, vec![1.5, -0.0], "{}", array.data_type());
        assert_eq!(c, want_counts, "{}", array.data_type());
        assert_eq!(c.valid(), 2);
    }
}

#[test]
fn dense_arrays_take_the_block_path_with_the_same_result() {
    // 3000 values without nulls: NaN and infinities in the first and last blocks only.
    let mut values: Vec<f64> = (0..3000).map(|i| f64::from(i) - 1500.5).collect();
    values[5] = f64::NAN;
    values[2999] = f64::NEG_INFINITY;
    values[1023] = f64::INFINITY;
    let want: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let floats = Float64Array::from(values.clone());
    let (out, c) = numbers(&floats);
    assert_eq!(out, want);
    let want_counts = ValueCounts {
        rows: 3000,
        nulls: 0,
        nan: 1,
        pos_inf: 1,
        neg_inf: 1,
    };
    assert_eq!(c, want_counts);
    // A slice at an offset, past the non-finite values.
    let (out, c) = numbers(&floats.slice(6, 1000));
    assert_eq!(out, values[6..1006].to_vec());
    assert_eq!(c, counts(1000, 0));
    let ints = Int64Array::from((0..3000).map(|i| i * 3 - 7).collect::<Vec<i64>>());
    let (out, c) = numbers(&ints.slice(10, 20));
    assert_eq!(
        out,
        (10..30).map(|i| f64::from(i * 3 - 7)).collect::<Vec<_>>()
    );
    assert_eq!(c, counts(20, 0));
    let ints = Int32Array::from(vec![i32::MIN, 0, i32::MAX]);
    let (out, _) = numbers(&ints);
    assert_eq!(out, vec![f64::from(i32::MIN), 0.0, f64::from(i32::MAX)]);
}

#[test]
fn decimals_are_divided_by_their_scale() {
    let d32 = Decimal32Array::from(vec![Some(12345), None, Some(-5)])
        .with_precision_and_scale(9, 2)
        .unwrap();
    let d64 = Decimal64Array::from(vec![Some(12345), None, Some(-5)])
        .with_precision_and_scale(18, 2)
        .unwrap();
    let d128 = Decimal128Array::from(vec![Some(12345), None, Some(-5)])
        .with_precision_and_scale(38, 2)
        .unwrap();
    let d256 = Decimal256Array::from(vec![
        Some(i256::from_i128(12345)),
        None,
        Some(i256::from_i128(-5)),
    ])
    .with_precision_and_scale(76, 2)
    .unwrap();
    for array in [&d32 as &dyn Array, &d64, &d128, &d256] {
        let (out, c) = numbers(array);
        assert_eq!(out, vec![123.45, -0.05], "{}", array.data_type());
        assert_eq!(c, counts(3, 1));
    }
    // A negative scale multiplies; scale zero keeps the integer.
    let neg = Decimal128Array::from(vec![7])
        .with_precision_and_scale(10, -3)
        .unwrap();
    assert_eq!(numbers(&neg).0, vec![7000.0]);
    let zero = Decimal64Array::from(vec![-42])
        .with_precision_and_scale(10, 0)
        .unwrap();
    assert_eq!(numbers(&zero).0, vec![-42.0]);
    // Beyond i128: still close.
    let huge = i256::from_i128(i128::MAX).wrapping_mul(i256::from_i128(1000));
    let big = Decimal256Array::from(vec![huge])
        .with_precision_and_scale(76, 0)
        .unwrap();
    let got = numbers(&big).0[0];
    let want = i128::MAX as f64 * 1000.0;
    assert!(((got - want) / want).abs() < 1e-12, "{got} vs {want}");
    let big_neg = Decimal256Array::from(vec![huge.wrapping_neg()])
        .with_precision_and_scale(76, 0)
        .unwrap();
    let got = numbers(&big_neg).0[0];
    assert!(((got + want) / want).abs() < 1e-12, "{got} vs {want}");
}

#[test]
fn temporal_types_give_their_raw_integer() {
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Date32Array::from(vec![Some(19_000), None])),
        Arc::new(Date64Array::from(vec![Some(19_000), None])),
        Arc::new(Time32SecondArray::from(vec![Some(19_000), None])),
        Arc::new(Time32MillisecondArray::from(vec![Some(19_000), None])),
        Arc::new(Time64MicrosecondArray::from(vec![Some(19_000), None])),
        Arc::new(Time64NanosecondArray::from(vec![Some(19_000), None])),
        Arc::new(TimestampSecondArray::from(vec![Some(19_000), None])),
        Arc::new(TimestampMillisecondArray::from(vec![Some(19_000), None])),
        Arc::new(TimestampMicrosecondArray::from(vec![Some(19_000), None]).with_timezone("UTC")),
        Arc::new(TimestampNanosecondArray::from(vec![Some(19_000), None])),
        Arc::new(DurationSecondArray::from(vec![Some(19_000), None])),
        Arc::new(PrimitiveArray::<DurationMillisecondType>::from(vec![
            Some(19_000),
            None,
        ])),
        Arc::new(PrimitiveArray::<DurationMicrosecondType>::from(vec![
            Some(19_000),
            None,
        ])),
        Arc::new(PrimitiveArray::<DurationNanosecondType>::from(vec![
            Some(19_000),
            None,
        ])),
    ];
    for array in arrays {
        let (out, c) = numbers(array.as_ref());
        assert_eq!(out, vec![19_000.0], "{}", array.data_type());
        assert_eq!(c, counts(2, 1), "{}", array.data_type());
    }
}

#[test]
fn sliced_arrays_respect_their_offset() {
    let ints = Int32Array::from(vec![Some(1), None, Some(3), Some(4), None, Some(6)]);
    let sliced = ints.slice(2, 3); // 3, 4, null
    let (out, c) = numbers(&sliced);
    assert_eq!(out, vec![3.0, 4.0]);
    assert_eq!(c, counts(3, 1));

    let floats = Float64Array::from(vec![Some(f64::NAN), None, Some(2.0), Some(f64::NAN)]);
    let (out, c) = numbers(&floats.slice(1, 2)); // null, 2.0
    assert_eq!(out, vec![2.0]);
    assert_eq!(c, counts(2, 1));

    // No nulls inside the slice, though the parent has some.
    let (out, c) = numbers(&ints.slice(2, 2));
    assert_eq!(out, vec![3.0, 4.0]);
    assert_eq!(c, counts(2, 0));
}

#[test]
fn empty_and_null_typed_arrays() {
    let (out, c) = numbers(&Float64Array::from(Vec::<f64>::new()));
    assert!(out.is_empty());
    assert_eq!(c, ValueCounts::default());
    let (out, c) = numbers(&NullArray::new(4));
    assert!(out.is_empty());
    assert_eq!(c, counts(4, 4));
    let (k, c) = categories(&NullArray::new(3));
    assert!(k.is_empty());
    assert_eq!(c, counts(3, 3));
    let (k, c) = categories(&StringArray::from(Vec::<&str>::new()));
    assert!(k.is_empty());
    assert_eq!(c, ValueCounts::default());
}

#[test]
fn appends_after_existing_values() {
    let mut out = vec![-1.0];
    numeric_values(&Int8Array::from(vec![5, 6]), &mut out).unwrap();
    assert_eq!(out, vec![-1.0, 5.0, 6.0]);
}

#[test]
fn numeric_dictionaries_map_through_keys() {
    // Values: 10.0, null, NaN, +inf, 20.0 (never used).
    let values: ArrayRef = Arc::new(Float64Array::from(vec![
        Some(10.0),
        None,
        Some(f64::NAN),
        Some(f64::INFINITY),
        Some(20.0),
    ]));
    let keys = Int8Array::from(vec![Some(0), None, Some(1), Some(2), Some(3), Some(0)]);
    let dict = DictionaryArray::<Int8Type>::try_new(keys, Arc::clone(&values)).unwrap();
    let (out, c) = numbers(&dict);
    assert_eq!(out, vec![10.0, 10.0]);
    assert_eq!(
        c,
        ValueCounts {
            rows: 6,
            nulls: 2,
            nan: 1,
            pos_inf: 1,
            neg_inf: 0,
        }
    );

    // Sliced: rows 3.. are NaN, +inf, 10.0.
    let (out, c) = numbers(&dict.slice(3, 3));
    assert_eq!(out, vec![10.0]);
    assert_eq!(c.rows, 3);
    assert_eq!((c.nulls, c.nan, c.pos_inf), (0, 1, 1));

    // Other key types and integer values.
    let ints: ArrayRef = Arc::new(Int64Array::from(vec![7, 8]));
    let keys = UInt32Array::from(vec![1, 0, 1]);
    let dict = DictionaryArray::<UInt32Type>::try_new(keys, ints).unwrap();
    assert_eq!(numbers(&dict), (vec![8.0, 7.0, 8.0], counts(3, 0)));
    let dec: ArrayRef = Arc::new(
        Decimal128Array::from(vec![150])
            .with_precision_and_scale(5, 2)
            .unwrap(),
    );
    let keys = UInt64Array::from(vec![Some(0), None]);
    let dict = DictionaryArray::<UInt64Type>::try_new(keys, dec).unwrap();
    assert_eq!(numbers(&dict), (vec![1.5], counts(2, 1)));
}

#[test]
fn unsupported_numeric_types_are_named() {
    let mut out = Vec::new();
    let err = numeric_values(&StringArray::from(vec!["a"]), &mut out).unwrap_err();
    assert_unsupported(err, &DataType::Utf8, "numerical");
    let err = numeric_values(&BooleanArray::from(vec![true]), &mut out).unwrap_err();
    assert_unsupported(err, &DataType::Boolean, "numerical");
    let dict: DictionaryArray<Int32Type> = vec!["a", "b"].into_iter().collect();
    let err = numeric_values(&dict, &mut out).unwrap_err();
    assert_unsupported(err, dict.data_type(), "numerical");
    let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1)])]);
    let err = numeric_values(&list, &mut out).unwrap_err();
    assert_unsupported(err, list.data_type(), "numerical");
    assert!(out.is_empty());
    let text = numeric_values(&BinaryArray::from(vec![b"x".as_ref()]), &mut out)
        .unwrap_err()
        .to_string();
    assert!(text.contains("Binary"), "{text}");
}

fn batch() -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("x", DataType::Float32, true),
        Field::new("city", DataType::Utf8, true),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Float32Array::from(vec![Some(1.0), None])),
            Arc::new(StringArray::from(vec![Some("Oslo"), Some("Oslo")])),
        ],
    )
    .unwrap()
}

#[test]
fn columns_by_name_fill_the_name_in_errors() {
    let batch = batch();
    let mut out = Vec::new();
    assert_eq!(numeric_column(&batch, "x", &mut out).unwrap(), counts(2, 1));
    assert_eq!(out, vec![1.0]);

    match numeric_column(&batch, "city", &mut out).unwrap_err() {
        DriftError::UnsupportedType {
            column, data_type, ..
        } => {
            assert_eq!(column, "city");
            assert_eq!(data_type, DataType::Utf8);
        }
        other => panic!("{other:?}"),
    }
    let err = numeric_column(&batch, "nope", &mut out).unwrap_err();
    assert!(matches!(
        &err,
        DriftError::MissingColumn { column, .. } if column == "nope"
    ));
    assert!(err.to_string().contains("\"nope\""), "{err}");

    let mut cats = CategoryCounts::new();
    assert_eq!(
        categories_column(&batch, "city", &mut cats).unwrap(),
        counts(2, 0)
    );
    assert_eq!(cats.get("Oslo"), 2);
    match categories_column(&batch, "x", &mut cats).unwrap_err() {
        DriftError::UnsupportedType { column, kind, .. } => {
            assert_eq!(column, "x");
            assert_eq!(kind, "categorical");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        categories_column(&batch, "", &mut cats).unwrap_err(),
        DriftError::MissingColumn { column, .. } if column.is_empty()
    ));
}
