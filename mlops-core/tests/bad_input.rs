//! The bad-input checklist (shared RELIABILITY §1.4), one named test per item that applies to
//! names, ids and paths. Every payload must be refused with the typed rule given, before any
//! I/O: these parsers take no store at all, so they cannot touch one.

use mlops_core::{
    AliasName, ArtifactPath, Error, ExperimentId, ExperimentName, MetricKey, ModelName,
    ModelVersion, ParamKey, Rule, RunId, RunName, TagKey,
};

/// Every path-like parser, by name, so each payload is tried against all of them.
type Parser = fn(&str) -> Result<(), Error>;

fn path_like() -> [(&'static str, Parser); 5] {
    [
        ("artifact path", |s| ArtifactPath::parse(s).map(drop)),
        ("experiment name", |s| ExperimentName::parse(s).map(drop)),
        ("param key", |s| ParamKey::parse(s).map(drop)),
        ("metric key", |s| MetricKey::parse(s).map(drop)),
        ("tag key", |s| TagKey::parse(s).map(drop)),
    ]
}

fn flat_names() -> [(&'static str, Parser); 3] {
    [
        ("model name", |s| ModelName::parse(s).map(drop)),
        ("run name", |s| RunName::parse(s).map(drop)),
        ("alias", |s| AliasName::parse(s).map(drop)),
    ]
}

fn ids() -> [(&'static str, Parser); 2] {
    [
        ("run id", |s| RunId::parse(s).map(drop)),
        ("experiment id", |s| ExperimentId::parse(s).map(drop)),
    ]
}

/// Asserts that `parse(input)` fails with a validation error whose rule satisfies `expected`,
/// and whose message quotes the input's kind.
#[track_caller]
fn refused(kind: &str, parse: Parser, input: &str, expected: impl Fn(&Rule) -> bool) {
    match parse(input) {
        Ok(()) => panic!("{kind} accepted {input:?}"),
        Err(err) => {
            let rule = err
                .rule()
                .unwrap_or_else(|| panic!("{kind}: not a rule error: {err}"));
            assert!(expected(rule), "{kind} refused {input:?} with {rule:?}");
            assert!(err.to_string().contains(kind), "{err}");
        }
    }
}

#[track_caller]
fn all_refuse<const N: usize>(
    parsers: [(&'static str, Parser); N],
    inputs: &[&str],
    expected: impl Fn(&Rule) -> bool + Copy,
) {
    for (kind, parse) in parsers {
        for input in inputs {
            refused(kind, parse, input, expected);
        }
    }
}

#[test]
fn dot_dot_segments_are_refused() {
    all_refuse(path_like(), &["a/../b", "../x", "a/..", "x/y/.."], |r| {
        *r == Rule::DotSegment
    });
    all_refuse(flat_names(), &[".."], |r| {
        matches!(r, Rule::DotSegment | Rule::ForbiddenCharacter { .. })
    });
}

#[test]
fn dot_and_empty_segments_are_refused() {
    all_refuse(path_like(), &["a/./b", ".", "./a"], |r| {
        *r == Rule::DotSegment
    });
    all_refuse(path_like(), &["a//b", "a/", "a/b/"], |r| {
        *r == Rule::EmptySegment
    });
    all_refuse(path_like(), &["/a"], |r| *r == Rule::Absolute);
    all_refuse(flat_names(), &["."], |r| {
        matches!(r, Rule::DotSegment | Rule::ForbiddenCharacter { .. })
    });
}

#[test]
fn absolute_paths_are_refused() {
    let inputs = ["/etc/passwd", "\\\\server\\share", "//server/share", "\\x"];
    all_refuse(path_like(), &inputs, |r| *r == Rule::Absolute);
    all_refuse(flat_names(), &inputs, |r| *r == Rule::Absolute);
    // Drive prefixes, where `:` is not a name character anyway (`a:loss` is a fine key).
    for drive in ["C:/x", "C:\\x", "c:"] {
        refused(
            "artifact path",
            |s| ArtifactPath::parse(s).map(drop),
            drive,
            |r| *r == Rule::Absolute,
        );
        refused(
            "model name",
            |s| ModelName::parse(s).map(drop),
            drive,
            |r| *r == Rule::Absolute,
        );
    }
}

#[test]
fn backslashes_are_refused_anywhere() {
    let inputs = ["a\\..\\b", "a\\b", "a\\"];
    all_refuse(path_like(), &inputs, |r| *r == Rule::Backslash);
    all_refuse(flat_names(), &inputs, |r| *r == Rule::Backslash);
    all_refuse(ids(), &inputs, |r| *r == Rule::Backslash);
}

#[test]
fn percent_encoding_is_refused_in_every_form() {
    let inputs = [
        "%2e%2e/",
        "%2E%2E%2F",
        "..%2f",
        "%252e%252e%252f",
        "..%5c",
        "%c0%ae%c0%ae/",
        "%00",
        "a/%2E%2E/b",
        "model%20v1",
    ];
    all_refuse(path_like(), &inputs, |r| *r == Rule::PercentEncoding);
    all_refuse(flat_names(), &inputs, |r| *r == Rule::PercentEncoding);
    all_refuse(ids(), &inputs, |r| *r == Rule::PercentEncoding);
}

#[test]
fn unicode_look_alikes_are_refused() {
    // Fullwidth full stops, one-dot leaders, a division slash and a fraction slash.
    let inputs = [
        "\u{ff0e}\u{ff0e}/x",
        "\u{2024}\u{2024}",
        "a\u{2215}b",
        "a\u{2044}b",
    ];
    all_refuse(path_like(), &inputs, |r| {
        matches!(r, Rule::ForbiddenCharacter { .. })
    });
    all_refuse(flat_names(), &inputs, |r| {
        matches!(r, Rule::ForbiddenCharacter { .. })
    });
    // Zero-width and bidi-override characters that hide what a name says.
    let hidden = ["ab\u{200b}c", "a\u{202e}b", "a\u{feff}"];
    all_refuse(path_like(), &hidden, |r| {
        matches!(r, Rule::ForbiddenCharacter { .. })
    });
}

#[test]
fn normalisation_forms_other_than_nfc_are_refused() {
    // NFD: `e` + a combining acute accent (not a letter on its own).
    all_refuse(path_like(), &["cafe\u{301}"], |r| {
        matches!(r, Rule::ForbiddenCharacter { ch: '\u{301}', .. })
    });
    // Letters that NFC would change: the Angstrom sign and decomposed Hangul jamo.
    all_refuse(path_like(), &["\u{212b}", "\u{1100}\u{1161}"], |r| {
        *r == Rule::NotNfc
    });
    all_refuse([flat_names()[0]], &["\u{212b}"], |r| *r == Rule::NotNfc);
    // The NFC spelling is accepted.
    assert!(ArtifactPath::parse("caf\u{e9}/\u{c5}").is_ok());
}

#[test]
fn control_characters_are_refused() {
    let inputs = [
        "a\0b",
        "a\nb",
        "a\rb",
        "a\tb",
        "\u{1b}[31m",
        "a\u{7f}",
        "a\u{85}b",
        "a\u{9f}",
    ];
    let control = |r: &Rule| matches!(r, Rule::ControlCharacter { .. });
    all_refuse(path_like(), &inputs, control);
    all_refuse(flat_names(), &inputs, control);
    all_refuse(ids(), &inputs, control);
    // Even inside an otherwise bad value, the control character is what is reported.
    refused(
        "artifact path",
        |s| ArtifactPath::parse(s).map(drop),
        "../\0",
        |r| *r == Rule::ControlCharacter { ch: '\0' },
    );
}

#[test]
fn url_metacharacters_are_refused() {
    let inputs = ["a#b", "a?b", "a;b", "model#123", "x?y=../z"];
    let forbidden = |r: &Rule| matches!(r, Rule::ForbiddenCharacter { .. });
    all_refuse(path_like(), &inputs, forbidden);
    all_refuse(flat_names(), &inputs, forbidden);
}

#[test]
fn accepted_paths_are_their_own_object_keys() {
    // `Path::from("a/../b")` would percent-encode to `a/%2E%2E/b`, aliasing that key; an
    // accepted ArtifactPath has nothing for object_store to encode.
    for text in [
        "a/b",
        "model/weights v2 (final).onnx",
        "plots/roc+pr@0.5,x=1.svg",
        "模型/权重.bin",
    ] {
        let path = ArtifactPath::parse(text).unwrap();
        assert_eq!(path.to_object_path().as_ref(), text);
        assert_eq!(
            object_store::path::Path::parse(text).unwrap(),
            path.to_object_path()
        );
    }
}

#[test]
fn case_only_collisions_are_detectable() {
    let upper = ModelName::parse("Model").unwrap();
    let lower = ModelName::parse("model").unwrap();
    assert_ne!(upper, lower);
    assert_eq!(upper.case_folded(), lower.case_folded());
}

#[test]
fn length_limits_are_enforced() {
    let too_long = |r: &Rule| matches!(r, Rule::TooLong { unit: "bytes", .. });
    let segment = "s".repeat(256);
    refused(
        "artifact path",
        |s| ArtifactPath::parse(s).map(drop),
        &segment,
        |r| matches!(r, Rule::SegmentTooLong { max: 255, .. }),
    );
    let path = vec!["x".repeat(200); 6].join("/");
    refused(
        "artifact path",
        |s| ArtifactPath::parse(s).map(drop),
        &path,
        too_long,
    );
    assert!(ArtifactPath::parse(vec!["x".repeat(200); 5].join("/")).is_ok());
    let limits: [(&str, Parser, usize); 7] = [
        (
            "experiment name",
            |s| ExperimentName::parse(s).map(drop),
            500,
        ),
        ("run name", |s| RunName::parse(s).map(drop), 255),
        ("model name", |s| ModelName::parse(s).map(drop), 255),
        ("alias", |s| AliasName::parse(s).map(drop), 255),
        ("param key", |s| ParamKey::parse(s).map(drop), 250),
        ("metric key", |s| MetricKey::parse(s).map(drop), 250),
        ("tag key", |s| TagKey::parse(s).map(drop), 250),
    ];
    for (kind, parse, max) in limits {
        // Segments stay under 255 bytes so only the total limit applies.
        let at_limit: String = (0..max)
            .map(|i| {
                if i % 100 == 99 && i + 1 < max {
                    '/'
                } else {
                    'k'
                }
            })
            .collect();
        let at_limit = if kind.ends_with("key") || kind == "experiment name" {
            at_limit
        } else {
            "k".repeat(max)
        };
        assert!(parse(&at_limit).is_ok(), "{kind} at its limit of {max}");
        refused(kind, parse, &format!("{at_limit}k"), too_long);
    }
}

#[test]
fn windows_stream_separators_are_refused_in_paths() {
    refused(
        "artifact path",
        |s| ArtifactPath::parse(s).map(drop),
        "file.txt:stream",
        |r| matches!(r, Rule::ForbiddenCharacter { ch: ':', .. }),
    );
}

#[test]
fn ids_must_match_their_strict_pattern() {
    let bad = [
        "",
        "/",
        ".",
        "..",
        "a b",
        " 0",
        "0 ",
        "../1",
        "1/2",
        "%31",
        "0190C5A2E3B47E2F9D4C1A2B3C4D5E6F",  // uppercase
        "0190c5a2e3b47e2f9d4c1a2b3c4d5e6",   // 31 digits
        "0190c5a2e3b47e2f9d4c1a2b3c4d5e6f0", // 33 digits
        "0190c5a2-e3b4-7e2f-9d4c-1a2b3c4d5e6f",
    ];
    all_refuse(ids(), &bad, |_| true);
    let experiment = |s: &str| ExperimentId::parse(s).map(drop);
    for bad in ["007", "-1", "+1", "12345678901234567890"] {
        refused("experiment id", experiment, bad, |r| {
            matches!(r, Rule::Format { .. } | Rule::ForbiddenCharacter { .. })
        });
    }
    assert!(ExperimentId::parse("0").is_ok());
    assert!(RunId::parse(RunId::generate().as_str()).is_ok());
}

#[test]
fn names_refuse_surrounding_whitespace() {
    let inputs = [" name", "name ", "a/ b", "a /b"];
    all_refuse([path_like()[1], path_like()[2]], &inputs, |r| {
        *r == Rule::SurroundingWhitespace
    });
    all_refuse(
        [flat_names()[0], flat_names()[1]],
        &[" name", "name "],
        |r| *r == Rule::SurroundingWhitespace,
    );
    // Whitespace other than a plain space is never a name character.
    refused(
        "model name",
        |s| ModelName::parse(s).map(drop),
        "a\u{a0}b",
        |r| matches!(r, Rule::ForbiddenCharacter { ch: '\u{a0}', .. }),
    );
}

#[test]
fn aliases_follow_mlflow() {
    let alias = |s: &str| AliasName::parse(s).map(drop);
    for reserved in [
        "latest", "LATEST", "Latest", "v1", "V22", "v007", "5", "0005", "0",
    ] {
        refused("alias", alias, reserved, |r| {
            matches!(r, Rule::Reserved { .. })
        });
    }
    for bad in ["cham pion", "champion.", "a/b", "é"] {
        refused("alias", alias, bad, |r| {
            matches!(r, Rule::ForbiddenCharacter { .. })
        });
    }
    for good in [
        "champion",
        "challenger-2",
        "v",
        "version",
        "v1a",
        "_blue",
        "5a",
        "-5",
    ] {
        assert!(AliasName::parse(good).is_ok(), "{good}");
    }
}

#[test]
fn keys_follow_mlflows_charset() {
    for good in [
        "loss",
        "val/loss",
        "f1:macro",
        "a:loss",
        "metric 1",
        "mlflow.runName",
        "ünïcode_ключ",
    ] {
        assert!(MetricKey::parse(good).is_ok(), "{good}");
    }
    let key = |s: &str| MetricKey::parse(s).map(drop);
    for bad in ["a'b", "a\"b", "a*b", "a$b", "a|b", "a<b", "a~b", "a&b"] {
        refused("metric key", key, bad, |r| {
            matches!(r, Rule::ForbiddenCharacter { .. })
        });
    }
}

#[test]
fn model_versions_parse_strictly() {
    for bad in [
        "0",
        "00",
        "01",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1.0",
        "",
        "18446744073709551616",
        "abc",
    ] {
        let err = ModelVersion::parse(bad).unwrap_err();
        assert!(err.rule().is_some(), "{bad}: {err}");
        assert!(err.to_string().contains("model version"), "{err}");
    }
    assert_eq!(
        ModelVersion::parse("18446744073709551615").unwrap().get(),
        u64::MAX
    );
    assert_eq!(
        serde_json::to_string(&ModelVersion::FIRST).unwrap(),
        "\"1\""
    );
    assert!(serde_json::from_str::<ModelVersion>("\"0\"").is_err());
}

#[test]
fn deserialisation_validates_like_parsing() {
    assert!(serde_json::from_str::<ArtifactPath>("\"a/../b\"").is_err());
    assert!(serde_json::from_str::<ModelName>("\"a\\u0000\"").is_err());
    assert!(serde_json::from_str::<RunId>("\"../../etc\"").is_err());
    let name: ExperimentName = serde_json::from_str("\"team/churn\"").unwrap();
    assert_eq!(name.as_str(), "team/churn");
}

#[cfg(unix)]
#[test]
fn non_utf8_file_names_are_refused() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let path = std::path::Path::new(OsStr::from_bytes(b"dir/\xff\xfe.bin"));
    let err = ArtifactPath::from_relative_path(path).unwrap_err();
    assert!(matches!(err.rule(), Some(Rule::Format { .. })), "{err}");
}
