//! [`count_categories`]: strings, booleans, integers, dictionaries, refusals.

use super::*;

#[test]
fn strings_of_every_kind() {
    let values = vec![Some("b"), None, Some("a"), Some("b"), Some(""), Some("b")];
    let want = cats(&[("", 1), ("a", 1), ("b", 3)]);
    let utf8 = StringArray::from(values.clone());
    let large = LargeStringArray::from(values.clone());
    let view = StringViewArray::from(values);
    for array in [&utf8 as &dyn Array, &large, &view] {
        let (k, c) = categories(array);
        assert_eq!(k, want, "{}", array.data_type());
        assert_eq!(c, counts(6, 1));
        // Sliced: "a", "b", "".
        let (k, c) = categories(array.slice(2, 3).as_ref());
        assert_eq!(k, cats(&[("", 1), ("a", 1), ("b", 1)]));
        assert_eq!(c, counts(3, 0));
    }
    // A long (non-inlined) view string.
    let long = "x".repeat(40);
    let (k, _) = categories(&StringViewArray::from(vec![long.as_str(), long.as_str()]));
    assert_eq!(k, vec![(long, 2)]);
}

#[test]
fn booleans_count_as_true_and_false() {
    let b = BooleanArray::from(vec![Some(true), None, Some(false), Some(true), None]);
    let (k, c) = categories(&b);
    assert_eq!(k, cats(&[("false", 1), ("true", 2)]));
    assert_eq!(c, counts(5, 2));
    let (k, c) = categories(&b.slice(1, 2)); // null, false
    assert_eq!(k, cats(&[("false", 1)]));
    assert_eq!(c, counts(2, 1));
}

#[test]
fn integers_count_as_decimal_text() {
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int8Array::from(vec![Some(-3), None, Some(7), Some(-3)])),
        Arc::new(Int16Array::from(vec![Some(-3), None, Some(7), Some(-3)])),
        Arc::new(Int32Array::from(vec![Some(-3), None, Some(7), Some(-3)])),
        Arc::new(Int64Array::from(vec![Some(-3), None, Some(7), Some(-3)])),
    ];
    for array in arrays {
        let (k, c) = categories(array.as_ref());
        assert_eq!(k, cats(&[("-3", 2), ("7", 1)]), "{}", array.data_type());
        assert_eq!(c, counts(4, 1));
        let (k, c) = categories(array.slice(1, 2).as_ref());
        assert_eq!(k, cats(&[("7", 1)]));
        assert_eq!(c, counts(2, 1));
    }
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(UInt8Array::from(vec![Some(3), None, Some(255)])),
        Arc::new(UInt16Array::from(vec![Some(3), None, Some(255)])),
        Arc::new(UInt32Array::from(vec![Some(3), None, Some(255)])),
        Arc::new(UInt64Array::from(vec![Some(3), None, Some(255)])),
    ];
    for array in arrays {
        let (k, c) = categories(array.as_ref());
        assert_eq!(k, cats(&[("255", 1), ("3", 1)]), "{}", array.data_type());
        assert_eq!(c, counts(3, 1));
    }
    let (k, _) = categories(&UInt64Array::from(vec![u64::MAX]));
    assert_eq!(k, cats(&[("18446744073709551615", 1)]));
    let (k, _) = categories(&Int64Array::from(vec![i64::MIN]));
    assert_eq!(k, cats(&[("-9223372036854775808", 1)]));
}

#[test]
fn string_dictionaries_with_nulls_in_keys_and_values() {
    // Values: "a", null, "b", "unused".
    let values: ArrayRef = Arc::new(StringArray::from(vec![
        Some("a"),
        None,
        Some("b"),
        Some("unused"),
    ]));
    let keys = Int32Array::from(vec![Some(0), None, Some(1), Some(2), Some(0), Some(2)]);
    let dict = DictionaryArray::<Int32Type>::try_new(keys, values).unwrap();
    let (k, c) = categories(&dict);
    assert_eq!(k, cats(&[("a", 2), ("b", 2)]));
    assert_eq!(c, counts(6, 2));

    let (k, c) = categories(&dict.slice(1, 3)); // null key, null value, "b"
    assert_eq!(k, cats(&[("b", 1)]));
    assert_eq!(c, counts(3, 2));

    // The same as plain strings.
    let plain = StringArray::from(vec![Some("a"), None, None, Some("b"), Some("a"), Some("b")]);
    assert_eq!(categories(&plain), categories(&dict));
}

#[test]
fn dictionaries_of_every_value_kind() {
    let keys = || UInt8Array::from(vec![Some(1), Some(0), None, Some(1)]);
    let value_arrays: Vec<(ArrayRef, [&str; 2])> = vec![
        (Arc::new(LargeStringArray::from(vec!["x", "y"])), ["x", "y"]),
        (Arc::new(StringViewArray::from(vec!["x", "y"])), ["x", "y"]),
        (
            Arc::new(BooleanArray::from(vec![false, true])),
            ["false", "true"],
        ),
        (Arc::new(Int8Array::from(vec![-1, 2])), ["-1", "2"]),
        (Arc::new(Int16Array::from(vec![-1, 2])), ["-1", "2"]),
        (Arc::new(Int32Array::from(vec![-1, 2])), ["-1", "2"]),
        (Arc::new(Int64Array::from(vec![-1, 2])), ["-1", "2"]),
        (Arc::new(UInt8Array::from(vec![1, 2])), ["1", "2"]),
        (Arc::new(UInt16Array::from(vec![1, 2])), ["1", "2"]),
        (Arc::new(UInt32Array::from(vec![1, 2])), ["1", "2"]),
        (Arc::new(UInt64Array::from(vec![1, 2])), ["1", "2"]),
    ];
    for (values, [first, second]) in value_arrays {
        let data_type = values.data_type().clone();
        let dict = DictionaryArray::<UInt8Type>::try_new(keys(), values).unwrap();
        let (k, c) = categories(&dict);
        assert_eq!(k, cats(&[(first, 1), (second, 2)]), "{data_type}");
        assert_eq!(c, counts(4, 1));
    }
    // Every key type.
    let v = || -> ArrayRef { Arc::new(StringArray::from(vec!["p", "q"])) };
    let dicts: Vec<ArrayRef> = vec![
        Arc::new(DictionaryArray::<Int8Type>::try_new(vec![1, 1, 0].into(), v()).unwrap()),
        Arc::new(DictionaryArray::<Int16Type>::try_new(vec![1, 1, 0].into(), v()).unwrap()),
        Arc::new(DictionaryArray::<Int64Type>::try_new(vec![1, 1, 0].into(), v()).unwrap()),
        Arc::new(DictionaryArray::<UInt16Type>::try_new(vec![1, 1, 0].into(), v()).unwrap()),
        Arc::new(DictionaryArray::<UInt32Type>::try_new(vec![1, 1, 0].into(), v()).unwrap()),
        Arc::new(DictionaryArray::<UInt64Type>::try_new(vec![1, 1, 0].into(), v()).unwrap()),
    ];
    for dict in dicts {
        let (k, c) = categories(dict.as_ref());
        assert_eq!(k, cats(&[("p", 1), ("q", 2)]), "{}", dict.data_type());
        assert_eq!(c, counts(3, 0));
    }
    // A dictionary of nulls.
    let nulls: ArrayRef = Arc::new(NullArray::new(2));
    let dict = DictionaryArray::<Int8Type>::try_new(vec![0, 1].into(), nulls).unwrap();
    assert_eq!(categories(&dict), (vec![], counts(2, 2)));
}

#[test]
fn unsupported_categorical_types_are_named() {
    let mut cats = CategoryCounts::new();
    let err = count_categories(&Float64Array::from(vec![1.0]), &mut cats).unwrap_err();
    assert_unsupported(err, &DataType::Float64, "categorical");
    let values: ArrayRef = Arc::new(Float64Array::from(vec![1.0]));
    let dict = DictionaryArray::<Int32Type>::try_new(vec![0].into(), values).unwrap();
    let err = count_categories(&dict, &mut cats).unwrap_err();
    assert_unsupported(err, dict.data_type(), "categorical");
    let err = count_categories(&Date32Array::from(vec![1]), &mut cats).unwrap_err();
    assert!(err.to_string().contains("Date32"), "{err}");
    assert!(cats.is_empty());
}
