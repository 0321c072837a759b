//! What the digest ignores: batch boundaries, slicing, encodings and widths of one logical
//! type, NaN payloads.

use super::*;

#[test]
fn batch_boundaries_do_not_matter() {
    let (s, columns) = golden_table();
    let whole = batch(&s, columns.clone());
    let want = digest_of([&whole]);
    let part = |offset, len| {
        let sliced = columns.iter().map(|c| c.slice(offset, len)).collect();
        batch(&s, sliced)
    };
    let splits = [
        vec![part(0, 1), part(1, 2)],
        vec![part(0, 2), part(2, 1)],
        vec![part(0, 1), part(1, 1), part(2, 1)],
        vec![part(0, 0), part(0, 3), part(3, 0)],
    ];
    for batches in &splits {
        assert_eq!(digest_of(batches), want);
    }
    // Rows are counted across batches.
    let mut d = DatasetDigester::new(Arc::clone(&s)).unwrap();
    for b in &splits[2] {
        d.update(b).unwrap();
    }
    assert_eq!(d.rows(), 3);
    assert_eq!(d.finish(), (want, 3));
}

#[test]
fn sliced_arrays_hash_like_fresh_ones() {
    let parent = Int32Array::from(vec![Some(9), None, Some(1), None, Some(2), Some(9)]);
    let fresh = Int32Array::from(vec![Some(1), None, Some(2)]);
    assert_eq!(
        digest1("x", Arc::new(parent.slice(2, 3))),
        digest1("x", Arc::new(fresh))
    );
    let parent = StringArray::from(vec![Some("zz"), Some("a"), None, Some("bc"), None]);
    let fresh = StringArray::from(vec![Some("a"), None, Some("bc")]);
    assert_eq!(
        digest1("s", Arc::new(parent.slice(1, 3))),
        digest1("s", Arc::new(fresh))
    );
    let parent = BooleanArray::from(vec![Some(false), Some(true), None, Some(false)]);
    let fresh = BooleanArray::from(vec![Some(true), None, Some(false)]);
    assert_eq!(
        digest1("b", Arc::new(parent.slice(1, 3))),
        digest1("b", Arc::new(fresh))
    );
}

#[test]
fn encodings_of_the_same_strings_agree() {
    let values = vec![Some("red"), None, Some("green"), Some("red"), Some("")];
    let plain = digest1("c", Arc::new(StringArray::from(values.clone())));
    let large = digest1("c", Arc::new(LargeStringArray::from(values.clone())));
    let view = digest1("c", Arc::new(StringViewArray::from(values.clone())));
    let dict: DictionaryArray<Int32Type> = values.iter().copied().collect();
    let dict = digest1("c", Arc::new(dict));
    // A null row through a null *value* rather than a null key; an unused entry.
    let dict_values: ArrayRef = Arc::new(StringArray::from(vec![
        Some("unused"),
        Some("red"),
        None,
        Some("green"),
        Some(""),
    ]));
    let keys = UInt8Array::from(vec![1, 2, 3, 1, 4]);
    let by_value = DictionaryArray::<UInt8Type>::try_new(keys, dict_values).unwrap();
    let by_value = digest1("c", Arc::new(by_value));
    let view_dict = DictionaryArray::<Int8Type>::try_new(
        Int8Array::from(vec![Some(0), None, Some(1), Some(0), Some(2)]),
        Arc::new(StringViewArray::from(vec!["red", "green", ""])),
    )
    .unwrap();
    let view_dict = digest1("c", Arc::new(view_dict));
    for other in [large, view, dict, by_value, view_dict] {
        assert_eq!(other, plain);
    }

    let bytes: Vec<Option<&[u8]>> = vec![Some(b"\x00\x01"), None, Some(b"")];
    let binary = digest1("b", Arc::new(BinaryArray::from(bytes.clone())));
    let large = digest1("b", Arc::new(LargeBinaryArray::from(bytes.clone())));
    let view = digest1("b", Arc::new(BinaryViewArray::from(bytes)));
    assert_eq!(binary, large);
    assert_eq!(binary, view);
}

#[test]
fn decimal_widths_with_the_same_type_agree() {
    let d32 = Decimal32Array::from(vec![Some(-5), None, Some(12345)])
        .with_precision_and_scale(9, 2)
        .unwrap();
    let d64 = Decimal64Array::from(vec![Some(-5), None, Some(12345)])
        .with_precision_and_scale(9, 2)
        .unwrap();
    let d128 = Decimal128Array::from(vec![Some(-5), None, Some(12345)])
        .with_precision_and_scale(9, 2)
        .unwrap();
    let d256 = Decimal256Array::from(vec![
        Some(i256::from_i128(-5)),
        None,
        Some(i256::from_i128(12345)),
    ])
    .with_precision_and_scale(9, 2)
    .unwrap();
    let want = digest1("d", Arc::new(d32));
    assert_eq!(digest1("d", Arc::new(d64)), want);
    assert_eq!(digest1("d", Arc::new(d128.clone())), want);
    assert_eq!(digest1("d", Arc::new(d256)), want);
    // A different scale is a different type.
    let rescaled = d128.with_precision_and_scale(9, 3).unwrap();
    assert_ne!(digest1("d", Arc::new(rescaled)), want);
}

#[test]
fn dictionaries_shared_across_batches_are_reused_correctly() {
    let s = schema(vec![Field::new(
        "c",
        DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8)),
        true,
    )]);
    let shared: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c"]));
    let dict = |keys: Vec<Option<i16>>, values: &ArrayRef| -> RecordBatch {
        let d = DictionaryArray::<Int16Type>::try_new(keys.into(), Arc::clone(values));
        batch(&s, vec![Arc::new(d.unwrap())])
    };
    let other: ArrayRef = Arc::new(StringArray::from(vec!["c", "a"]));
    let batches = [
        dict(vec![Some(0), Some(1)], &shared),
        dict(vec![None, Some(2)], &shared),
        dict(vec![Some(1), Some(0)], &other), // "a", "c"
        dict(vec![Some(0)], &shared),
    ];
    let plain = one(
        "c",
        Arc::new(StringArray::from(vec![
            Some("a"),
            Some("b"),
            None,
            Some("c"),
            Some("a"),
            Some("c"),
            Some("a"),
        ])),
    );
    assert_eq!(digest_of(&batches), digest_of([&plain]));
}

#[test]
fn nan_payloads_agree_but_signed_zeros_differ() {
    let nan = |bits: u64| {
        digest1(
            "f",
            Arc::new(Float64Array::from(vec![f64::from_bits(bits)])),
        )
    };
    assert_eq!(nan(0x7FF8_0000_0000_0000), nan(0xFFF8_0000_0000_0000));
    assert_eq!(nan(0x7FF8_0000_0000_0000), nan(0x7FF0_0000_0000_0001));
    let nan32 = |bits: u32| {
        digest1(
            "f",
            Arc::new(Float32Array::from(vec![f32::from_bits(bits)])),
        )
    };
    assert_eq!(nan32(0x7FC0_0000), nan32(0xFFC0_0001));
    let nan16 = |bits: u16| {
        digest1(
            "f",
            Arc::new(Float16Array::from(vec![f16::from_bits(bits)])),
        )
    };
    assert_eq!(nan16(0x7E00), nan16(0xFE01));
    let zero = |z: f64| digest1("f", Arc::new(Float64Array::from(vec![z])));
    assert_ne!(zero(0.0), zero(-0.0));
}
