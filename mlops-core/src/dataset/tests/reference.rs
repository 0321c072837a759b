//! [`DatasetRef`] and [`DatasetDigest`] as values: getters, serde, parsing, validation.

use super::*;

#[test]
fn dataset_ref_getters_and_serde_round_trip() {
    let (s, columns) = golden_table();
    let whole = batch(&s, columns);
    let r = DatasetRef::from_batches(
        "golden",
        "s3://bucket/golden.parquet",
        s.as_ref().clone(),
        [&whole],
    )
    .unwrap();
    assert_eq!(r.name(), "golden");
    assert_eq!(r.source(), "s3://bucket/golden.parquet");
    assert_eq!(r.schema(), &s);
    assert_eq!(r.rows(), 3);
    let json = serde_json::to_string(&r).unwrap();
    assert!(
        json.starts_with(r#"{"name":"golden","digest":"a3b1258d7ac0e7280c6a7e2721d43dfb","#),
        "{json}"
    );
    let back: DatasetRef = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);

    let known = DatasetRef::new("n", "/data/x.csv", Schema::empty(), r.digest(), 7).unwrap();
    assert_eq!((known.digest(), known.rows()), (r.digest(), 7));

    // Deserialisation validates.
    let bad_name = json.replace(r#""name":"golden""#, r#""name":" golden""#);
    let err = serde_json::from_str::<DatasetRef>(&bad_name).unwrap_err();
    assert!(err.to_string().contains("dataset name"), "{err}");
    let bad_digest = json.replace("a3b1258d", "A3B1258D");
    let err = serde_json::from_str::<DatasetRef>(&bad_digest).unwrap_err();
    assert!(err.to_string().contains("dataset digest"), "{err}");
    let bad_source = json.replace("s3://bucket", "s3://bu\\u0000cket");
    assert!(serde_json::from_str::<DatasetRef>(&bad_source).is_err());
}

#[test]
fn digests_parse_display_and_serde_as_hex() {
    let text = "00ff10a3b1258d7ac0e7280c6a7e2721";
    let d: DatasetDigest = text.parse().unwrap();
    assert_eq!(d.to_string(), text);
    assert_eq!(d.as_bytes()[..3], [0x00, 0xff, 0x10]);
    assert_eq!(DatasetDigest::from_bytes(*d.as_bytes()), d);
    assert_eq!(format!("{d:?}"), format!("DatasetDigest({text})"));
    assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{text}\""));
    assert_eq!(
        serde_json::from_str::<DatasetDigest>(&format!("\"{text}\"")).unwrap(),
        d
    );
    for bad in [
        "",
        "00FF10A3B1258D7AC0E7280C6A7E2721",
        "00ff10a3b1258d7ac0e7280c6a7e272",
        "00ff10a3b1258d7ac0e7280c6a7e27210",
        "00ff10a3b1258d7ac0e7280c6a7e272g",
        "0x00ff10a3b1258d7ac0e7280c6a7e27",
        " 0ff10a3b1258d7ac0e7280c6a7e2721",
        "éééééééééééééééé",
        "a3b1258d7ac0e7280c6a7e2721d43dfb00000000000000000000000000000000",
    ] {
        let err = bad.parse::<DatasetDigest>().unwrap_err();
        assert!(
            matches!(&err, Error::Invalid { kind: "dataset digest", value, rule }
                if value == bad && matches!(rule, Rule::Format { .. })),
            "{bad:?}: {err:?}"
        );
    }
    assert!(serde_json::from_str::<DatasetDigest>("\"abc\"").is_err());
    assert!(serde_json::from_str::<DatasetDigest>("42").is_err());
}

#[test]
fn invalid_names_and_sources_are_refused() {
    let d = DatasetDigest::from_bytes([0; 16]);
    let rule = |name: &str, source: &str| {
        let err = DatasetRef::new(name, source, Schema::empty(), d, 0).unwrap_err();
        match err {
            Error::Invalid { kind, rule, .. } => (kind, rule),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(rule("", "s"), ("dataset name", Rule::Empty));
    let long = "n".repeat(501);
    assert_eq!(
        rule(&long, "s"),
        (
            "dataset name",
            Rule::TooLong {
                max: 500,
                len: 501,
                unit: "bytes"
            }
        )
    );
    assert!(DatasetRef::new("n".repeat(500), "s", Schema::empty(), d, 0).is_ok());
    assert_eq!(
        rule("a\nb", "s"),
        ("dataset name", Rule::ControlCharacter { ch: '\n' })
    );
    assert_eq!(
        rule("a\u{85}", "s"),
        ("dataset name", Rule::ControlCharacter { ch: '\u{85}' })
    );
    assert_eq!(
        rule(" a", "s"),
        ("dataset name", Rule::SurroundingWhitespace)
    );
    assert_eq!(
        rule("a\u{3000}", "s"),
        ("dataset name", Rule::SurroundingWhitespace)
    );
    assert_eq!(rule("a", ""), ("dataset source", Rule::Empty));
    let long = "s".repeat(8001);
    assert_eq!(
        rule("a", &long),
        (
            "dataset source",
            Rule::TooLong {
                max: 8000,
                len: 8001,
                unit: "bytes"
            }
        )
    );
    assert_eq!(
        rule("a", "x\u{0}"),
        ("dataset source", Rule::ControlCharacter { ch: '\0' })
    );
    // Inner spaces and non-ASCII are fine; sources may have surrounding spaces (paths can).
    assert!(
        DatasetRef::new(
            "Iris — train split",
            " /data/ä b.csv ",
            Schema::empty(),
            d,
            0
        )
        .is_ok()
    );

    // from_batches checks the name before reading any data.
    let s = schema(vec![Field::new("x", DataType::Int64, true)]);
    let wrong = one("y", Arc::new(Int64Array::from(vec![1])));
    let err = DatasetRef::from_batches("", "s", s, [&wrong]).unwrap_err();
    assert_eq!(err.rule(), Some(&Rule::Empty));
}
