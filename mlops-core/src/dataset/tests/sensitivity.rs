//! What the digest notices: every value, null, name, type and nullability.

use super::*;

#[test]
fn every_single_value_change_changes_the_digest() {
    let s = schema(vec![
        Field::new("n", DataType::Int64, true),
        Field::new("s", DataType::Utf8, true),
    ]);
    let base_n = vec![Some(1), Some(2), None, Some(4)];
    let base_s = vec![Some("a"), None, Some("bc"), Some("")];
    let make = |n: &[Option<i64>], t: &[Option<&str>]| {
        batch(
            &s,
            vec![
                Arc::new(Int64Array::from(n.to_vec())),
                Arc::new(StringArray::from(t.to_vec())),
            ],
        )
    };
    let mut seen = HashSet::new();
    assert!(seen.insert(digest_of([&make(&base_n, &base_s)])));
    for row in 0..4 {
        for new in [Some(0), Some(-1), None, Some(1 << 40)] {
            let mut n = base_n.clone();
            if n[row] == new {
                continue;
            }
            n[row] = new;
            assert!(
                seen.insert(digest_of([&make(&n, &base_s)])),
                "n[{row}] = {new:?}"
            );
        }
        for new in [Some("x"), None, Some("a "), Some("")] {
            let mut t = base_s.clone();
            if t[row] == new {
                continue;
            }
            t[row] = new;
            assert!(
                seen.insert(digest_of([&make(&base_n, &t)])),
                "s[{row}] = {new:?}"
            );
        }
    }
    // A null moving, and bytes moving between adjacent strings.
    let moved = [None, Some(1), Some(1)];
    assert_ne!(
        digest1(
            "n",
            Arc::new(Int64Array::from(vec![Some(1), None, Some(1)]))
        ),
        digest1("n", Arc::new(Int64Array::from(moved.to_vec())))
    );
    assert_ne!(
        digest1("s", Arc::new(StringArray::from(vec!["ab", "c"]))),
        digest1("s", Arc::new(StringArray::from(vec!["a", "bc"])))
    );
    // Appending a row.
    assert_ne!(
        digest1("n", Arc::new(Int64Array::from(vec![1]))),
        digest1("n", Arc::new(Int64Array::from(vec![1, 1])))
    );
}

#[test]
fn schema_changes_change_the_digest() {
    let ints = || -> ArrayRef { Arc::new(Int64Array::from(vec![1, 2])) };
    let base = digest1("x", ints());
    assert_ne!(digest1("y", ints()), base, "renamed");
    assert_ne!(
        digest1("x", Arc::new(Int32Array::from(vec![1, 2]))),
        base,
        "int32"
    );
    assert_ne!(
        digest1("x", Arc::new(UInt64Array::from(vec![1, 2]))),
        base,
        "uint64"
    );
    assert_ne!(
        digest1("x", Arc::new(Date64Array::from(vec![1, 2]))),
        base,
        "date64"
    );
    let non_null = schema(vec![Field::new("x", DataType::Int64, false)]);
    assert_ne!(
        digest_of([&batch(&non_null, vec![ints()])]),
        base,
        "nullability"
    );
    let ts = |tz: Option<&str>| {
        let a = TimestampSecondArray::from(vec![1, 2]).with_timezone_opt(tz);
        digest1("x", Arc::new(a))
    };
    let distinct: HashSet<_> = [base, ts(None), ts(Some("UTC")), ts(Some("+00:00"))].into();
    assert_eq!(distinct.len(), 4, "time zones");
    let units = [
        digest1("x", Arc::new(TimestampMillisecondArray::from(vec![1, 2]))),
        digest1("x", Arc::new(TimestampNanosecondArray::from(vec![1, 2]))),
        digest1(
            "x",
            Arc::new(PrimitiveArray::<DurationMillisecondType>::from(vec![1, 2])),
        ),
        digest1("x", Arc::new(Time64MicrosecondArray::from(vec![1, 2]))),
        digest1("x", Arc::new(Time64NanosecondArray::from(vec![1, 2]))),
    ];
    assert_eq!(units.iter().collect::<HashSet<_>>().len(), units.len());
    assert!(!units.contains(&base));

    // Column order.
    let a = schema(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Int64, true),
    ]);
    let b = schema(vec![
        Field::new("b", DataType::Int64, true),
        Field::new("a", DataType::Int64, true),
    ]);
    assert_ne!(
        digest_of([&batch(&a, vec![ints(), ints()])]),
        digest_of([&batch(&b, vec![ints(), ints()])])
    );
    // Metadata is not hashed.
    let meta: HashMap<String, String> = [("k".to_owned(), "v".to_owned())].into();
    let with_meta = Arc::new(
        Schema::new(vec![
            Field::new("x", DataType::Int64, true).with_metadata(meta.clone()),
        ])
        .with_metadata(meta),
    );
    assert_eq!(digest_of([&batch(&with_meta, vec![ints()])]), base);
}
