//! The types the digest covers, the ones it refuses, and batches that disagree with the
//! declared schema.

use super::*;

#[test]
fn every_supported_type_digests() {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(NullArray::new(2)),
        Arc::new(BooleanArray::from(vec![Some(true), None])),
        Arc::new(Int8Array::from(vec![Some(-1), None])),
        Arc::new(Int16Array::from(vec![Some(-1), None])),
        Arc::new(Int32Array::from(vec![Some(-1), None])),
        Arc::new(Int64Array::from(vec![Some(-1), None])),
        Arc::new(UInt8Array::from(vec![Some(1), None])),
        Arc::new(UInt16Array::from(vec![Some(1), None])),
        Arc::new(UInt32Array::from(vec![Some(1), None])),
        Arc::new(UInt64Array::from(vec![Some(1), None])),
        Arc::new(Float16Array::from(vec![Some(f16::ONE), None])),
        Arc::new(Float32Array::from(vec![Some(1.0), None])),
        Arc::new(Date32Array::from(vec![Some(1), None])),
        Arc::new(PrimitiveArray::<Time32SecondType>::from(vec![
            Some(1),
            None,
        ])),
        Arc::new(Time32MillisecondArray::from(vec![Some(1), None])),
        Arc::new(IntervalYearMonthArray::from(vec![Some(13), None])),
        Arc::new(IntervalDayTimeArray::from(vec![
            Some(IntervalDayTime::new(1, 2)),
            None,
        ])),
        Arc::new(IntervalMonthDayNanoArray::from(vec![
            Some(IntervalMonthDayNano::new(1, 2, 3)),
            None,
        ])),
        Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                vec![Some(b"abcd".to_vec()), None].into_iter(),
                4,
            )
            .unwrap(),
        ),
        Arc::new(BinaryArray::from(vec![Some(b"ab".as_ref()), None])),
    ];
    let fields: Vec<Field> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
        .collect();
    let texts: Vec<String> = fields
        .iter()
        .map(|f| type_text(f.data_type()).unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "null",
            "bool",
            "int8",
            "int16",
            "int32",
            "int64",
            "uint8",
            "uint16",
            "uint32",
            "uint64",
            "float16",
            "float32",
            "date32",
            "time32[s]",
            "time32[ms]",
            "interval[year_month]",
            "interval[day_time]",
            "interval[month_day_nano]",
            "fixed_size_binary[4]",
            "binary",
        ]
    );
    let s = schema(fields);
    let b = batch(&s, columns);
    let first = digest_of([&b]);
    // Stable, and batch boundaries do not matter for any of these types either.
    let halves = [b.slice(0, 1), b.slice(1, 1)];
    assert_eq!(digest_of(&halves), first);
    // Pinned; also checked against a Python implementation of the specification, as in
    // `golden_digest_of_a_small_table` (row 0 valid, row 1 null in every column).
    assert_eq!(first.to_string(), "cdb814465d16ae889e34b54bc0a8e679");

    // Interval fields are not interchangeable.
    let dt = |days, ms| {
        let a = IntervalDayTimeArray::from(vec![IntervalDayTime::new(days, ms)]);
        digest1("i", Arc::new(a))
    };
    assert_ne!(dt(1, 2), dt(2, 1));
}

#[test]
fn nested_types_are_refused_by_name() {
    let list = DataType::List(Arc::new(Field::new("item", DataType::Int32, true)));
    let s = schema(vec![
        Field::new("ok", DataType::Int32, true),
        Field::new("tags", list.clone(), true),
    ]);
    match DatasetDigester::new(s).unwrap_err() {
        Error::UnsupportedColumn {
            column,
            data_type,
            expected,
        } => {
            assert_eq!(column, "tags");
            assert_eq!(data_type, list);
            assert_eq!(expected, "a primitive, string, binary or dictionary type");
        }
        other => panic!("{other:?}"),
    }
    let dict_of_list = DataType::Dictionary(Box::new(DataType::Int32), Box::new(list));
    assert!(type_text(&dict_of_list).is_none());
    assert!(type_text(&DataType::Time32(TimeUnit::Nanosecond)).is_none());
}

#[test]
fn batches_must_match_the_declared_schema() {
    let declared = schema(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Utf8, true),
    ]);
    let mut d = DatasetDigester::new(Arc::clone(&declared)).unwrap();
    let ints: ArrayRef = Arc::new(Int64Array::from(vec![1]));
    let texts: ArrayRef = Arc::new(StringArray::from(vec!["x"]));
    let check =
        |d: &mut DatasetDigester, b: RecordBatch, needle: &str| match d.update(&b).unwrap_err() {
            Error::Arrow(ArrowError::SchemaError(text)) => {
                assert!(text.contains(needle), "{text:?} lacks {needle:?}");
            }
            other => panic!("{other:?}"),
        };
    let only_a = schema(vec![Field::new("a", DataType::Int64, true)]);
    check(&mut d, batch(&only_a, vec![Arc::clone(&ints)]), "1 columns");
    let renamed = schema(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("B", DataType::Utf8, true),
    ]);
    check(
        &mut d,
        batch(&renamed, vec![Arc::clone(&ints), Arc::clone(&texts)]),
        "\"B\"",
    );
    let retyped = schema(vec![
        Field::new("a", DataType::Int32, true),
        Field::new("b", DataType::Utf8, true),
    ]);
    let i32s: ArrayRef = Arc::new(Int32Array::from(vec![1]));
    check(
        &mut d,
        batch(&retyped, vec![i32s, Arc::clone(&texts)]),
        "Int32",
    );
    let non_null = schema(vec![
        Field::new("a", DataType::Int64, false),
        Field::new("b", DataType::Utf8, true),
    ]);
    check(
        &mut d,
        batch(&non_null, vec![Arc::clone(&ints), Arc::clone(&texts)]),
        "non-nullable",
    );
    assert_eq!(d.rows(), 0, "refused batches change nothing");

    // The same logical type in another encoding is accepted, with the same digest.
    let viewed = schema(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Utf8View, true),
    ]);
    let view: ArrayRef = Arc::new(StringViewArray::from(vec!["x"]));
    d.update(&batch(&viewed, vec![Arc::clone(&ints), view]))
        .unwrap();
    let plain = batch(&declared, vec![ints, texts]);
    assert_eq!(d.finish().0, digest_of([&plain]));
}
