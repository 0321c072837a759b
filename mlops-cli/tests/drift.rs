//! `mlops drift` and `mlops profile build`, run as a user runs them on the sample data.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use crate::util::{mlops, root, text};

// Relative to the workspace root, where `mlops` runs.
const REFERENCE: &str = "examples/data/reference.parquet";
const CURRENT: &str = "examples/data/current.parquet";

#[test]
fn drift_prints_a_table_by_default() {
    let out = mlops(&["drift", "--reference", REFERENCE, "--current", CURRENT]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("column"), "{table}");
    for column in [
        "age",
        "income",
        "tenure_months",
        "plan",
        "country",
        "is_active",
    ] {
        assert!(table.contains(column), "{table}");
    }
    assert!(table.contains("2 of 6 columns drifted"), "{table}");
}

#[test]
fn drift_writes_json_and_html_reports() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("report.json");
    let out = mlops(&[
        "drift",
        "--reference",
        REFERENCE,
        "--current",
        CURRENT,
        "--test",
        "ks",
        "--test",
        "country=chisquare",
        "--test",
        "plan=psi",
        "--test",
        "is_active=z",
        "--threshold",
        "age=0.01",
        "--format",
        "json",
        "--out",
        json_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let columns = report["columns"].as_array().unwrap();
    let age = &columns[0];
    assert_eq!(age["results"][0]["test"], "ks");
    assert_eq!(age["results"][0]["threshold"], 0.01);
    assert_eq!(age["results"][0]["method"], "exact"); // 5000 per side: scipy's auto is exact
    assert_eq!(columns[4]["results"][0]["test"], "chisquare");
    assert_eq!(columns[4]["results"][0]["statistic"], "inf"); // PL is new in current
    assert!(report["dataset"]["share_drifted"].is_number());

    let html_path = dir.path().join("report.html");
    let out = mlops(&[
        "drift",
        "--reference",
        REFERENCE,
        "--current",
        CURRENT,
        "--format",
        "html",
        "--out",
        html_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
    assert!(html.contains("<svg") && html.contains("country"));
    // Written atomically: no temporary file is left beside it.
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn fail_on_drift_sets_the_exit_code() {
    let ok = mlops(&[
        "drift",
        "--reference",
        REFERENCE,
        "--current",
        CURRENT,
        "--fail-on-drift",
    ]);
    assert_eq!(ok.status.code(), Some(0), "2 of 6 is below the share");
    let drifted = mlops(&[
        "drift",
        "--reference",
        REFERENCE,
        "--current",
        CURRENT,
        "--drift-share",
        "0.3",
        "--fail-on-drift",
    ]);
    assert_eq!(drifted.status.code(), Some(3), "{}", text(&drifted.stderr));
}

#[test]
fn a_stored_profile_gives_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.json");
    let out = mlops(&[
        "profile",
        "build",
        "--reference",
        REFERENCE,
        "--out",
        profile.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let from_data = mlops(&[
        "drift",
        "--reference",
        REFERENCE,
        "--current",
        CURRENT,
        "--format",
        "json",
    ]);
    let from_profile = mlops(&[
        "drift",
        "--profile",
        profile.to_str().unwrap(),
        "--current",
        CURRENT,
        "--format",
        "json",
    ]);
    assert!(
        from_profile.status.success(),
        "{}",
        text(&from_profile.stderr)
    );
    assert_eq!(text(&from_data.stdout), text(&from_profile.stdout));
}

#[test]
fn bad_input_is_a_clear_error() {
    let missing = mlops(&[
        "drift",
        "--reference",
        "no/such.parquet",
        "--current",
        CURRENT,
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("no/such.parquet"),
        "{}",
        text(&missing.stderr)
    );

    let not_parquet = mlops(&["drift", "--reference", "README.md", "--current", CURRENT]);
    assert_eq!(not_parquet.status.code(), Some(1));
    assert!(text(&not_parquet.stderr).contains("README.md"));

    let bad_test = mlops(&[
        "drift",
        "--reference",
        REFERENCE,
        "--current",
        CURRENT,
        "--test",
        "kz",
    ]);
    assert_eq!(bad_test.status.code(), Some(1));
    assert!(
        text(&bad_test.stderr).contains("\"kz\""),
        "{}",
        text(&bad_test.stderr)
    );

    let bad_threshold = mlops(&[
        "drift",
        "--reference",
        REFERENCE,
        "--current",
        CURRENT,
        "--threshold",
        "age=x",
    ]);
    assert_eq!(bad_threshold.status.code(), Some(1));
    assert!(root().join(Path::new(REFERENCE)).exists());
}

/// A file whose footer reads but whose data pages are damaged fails the run with an error
/// that names the file, on either side, also with the pages decoded on a thread of their own
/// ahead of the profile: never a report over fewer rows.
#[test]
fn damaged_data_pages_are_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(root().join(CURRENT)).unwrap();
    for b in &mut bytes[2000..2064] {
        *b ^= 0x5A;
    }
    let damaged = dir.path().join("damaged.parquet");
    std::fs::write(&damaged, &bytes).unwrap();
    let damaged = damaged.to_str().unwrap();
    for (reference, current) in [(REFERENCE, damaged), (damaged, CURRENT)] {
        let out = mlops(&[
            "drift",
            "--reference",
            reference,
            "--current",
            current,
            "--format",
            "json",
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "no report on stdout");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(&format!("reading {damaged}")), "{stderr}");
    }
}
