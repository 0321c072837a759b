//! The store written by the release before the one root (`tests/fixtures/store-v1/`) read
//! by today's CLI: every `--format json` answer holds what that release printed (see the
//! fixture's README). New fields may be added; none may change or go.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use serde_json::Value;

use crate::util::{fixture_store, json, mlops_in, root};

/// Where the fixture's store was when its expected output was written: locations derived
/// from the root (artifact URIs) name it.
const RECORDED_AT: &str = "file:///tmp/fx/store";

/// The command that printed an expected file, from its name:
/// `<group>_<command>[_<name>[_<version, alias or run>]].json`.
fn command_for(stem: &str) -> Vec<String> {
    let parts: Vec<&str> = stem.split('_').collect();
    let mut args: Vec<String> = vec![parts[0].into(), parts[1].into()];
    match (parts[0], parts[1], &parts[2..]) {
        ("experiments" | "runs" | "models", "list", []) => {}
        ("runs", "show", [run]) => args.push((*run).into()),
        ("models", "show" | "versions" | "history", [name, rest @ ..]) => {
            args.extend(["--name".into(), (*name).into()]);
            match (parts[1], rest) {
                (_, []) => {}
                ("show", [reference]) => {
                    // `v2` is version 2; anything else an alias.
                    let reference = reference
                        .strip_prefix('v')
                        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                        .unwrap_or(reference);
                    args.extend(["--version".into(), reference.into()]);
                }
                ("history", [alias]) => args.extend(["--alias".into(), (*alias).into()]),
                _ => panic!("unexpected fixture file {stem}"),
            }
        }
        _ => panic!("unexpected fixture file {stem}"),
    }
    args.extend(["--format".into(), "json".into()]);
    args
}

/// Whether `actual` holds everything `expected` does: objects may have more keys, arrays
/// must have the same length, everything else must be equal.
fn holds(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let inner = a.get(key).ok_or_else(|| format!("{at}.{key} is missing"))?;
                holds(value, inner, &format!("{at}.{key}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                holds(e, a, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!("{at}: expected {expected}, read {actual}")),
    }
}

#[test]
fn the_cli_reads_a_store_of_the_previous_release_as_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let store = fixture_store(dir.path(), "store");
    let here = format!("file://{}", store.display());
    let expected_dir = root().join("tests/fixtures/store-v1/expected/cli");
    let mut files: Vec<_> = std::fs::read_dir(&expected_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 15, "{files:?}");
    for file in files {
        let stem = file.file_stem().unwrap().to_str().unwrap();
        let mut args = command_for(stem);
        args.extend(["--store".into(), store.to_str().unwrap().into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = mlops_in(dir.path(), &args, &[]);
        let read = serde_json::to_string(&json(&out))
            .unwrap()
            .replace(&here, RECORDED_AT);
        let read: Value = serde_json::from_str(&read).unwrap();
        let expected: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        if let Err(difference) = holds(&expected, &read, "$") {
            panic!("mlops {}: {difference}", args.join(" "));
        }
    }
    assert!(Path::new(&store).join("FORMAT.json").is_file());
}

#[test]
fn the_comparison_finds_a_change() {
    let expected = serde_json::json!({"a": [1, {"b": "x"}], "c": null});
    let more = serde_json::json!({"a": [1, {"b": "x", "new": true}], "c": null, "d": 2});
    assert!(holds(&expected, &more, "$").is_ok());
    let changed = serde_json::json!({"a": [1, {"b": "y"}], "c": null});
    assert_eq!(
        holds(&expected, &changed, "$").unwrap_err(),
        r#"$.a[1].b: expected "x", read "y""#
    );
    let shorter = serde_json::json!({"a": [1], "c": null});
    assert!(holds(&expected, &shorter, "$").is_err());
    let missing = serde_json::json!({"a": [1, {"b": "x"}]});
    assert_eq!(
        holds(&expected, &missing, "$").unwrap_err(),
        "$.c is missing"
    );
}
