//! A damaged tracking store is reported, never silently shortened (issue 17, finding 4):
//! warnings on stderr, a `damaged` list in JSON, exit 1 unless `--allow-damaged`; a record
//! linked from another run never makes `runs show A` print run B.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use mlops::track::{ExperimentName, RunId};
use serde_json::Value;

use crate::util::{local, mlops_in, ok, populate, text};

fn record0(store: &Path, run: &RunId) -> std::path::PathBuf {
    store
        .join("runs")
        .join(run.as_str())
        .join("meta")
        .join("0000000000.jsonl")
}

#[tokio::test]
async fn a_linked_record_is_refused_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let (alpha, beta) =
        populate(&local(&dir).await, &ExperimentName::parse("links").unwrap()).await;
    std::fs::remove_file(record0(&dir, &beta)).unwrap();
    std::os::unix::fs::symlink(record0(&dir, &alpha), record0(&dir, &beta)).unwrap();
    let store = dir.to_str().unwrap();

    let shown = mlops_in(
        tmp.path(),
        &["runs", "show", "--store", store, beta.as_str()],
        &[],
    );
    assert_eq!(shown.status.code(), Some(1), "{}", text(&shown.stderr));
    assert!(
        !text(&shown.stdout).contains(alpha.as_str()),
        "{}",
        text(&shown.stdout)
    );

    let listed = mlops_in(
        tmp.path(),
        &["runs", "list", "--store", store, "--format", "json"],
        &[],
    );
    assert_eq!(listed.status.code(), Some(1), "{}", text(&listed.stderr));
    let body: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let runs = body["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{body}");
    assert_eq!(runs[0]["info"]["run_id"], alpha.as_str());
    assert!(!body["damaged"].as_array().unwrap().is_empty(), "{body}");
    let stderr = text(&listed.stderr);
    assert!(stderr.contains("warning:"), "{stderr}");
    assert!(stderr.contains("error: the store is damaged"), "{stderr}");

    // The table holds the same runs, and fails the same way.
    let table = mlops_in(tmp.path(), &["runs", "list", "--store", store], &[]);
    assert_eq!(table.status.code(), Some(1));
    let out = text(&table.stdout);
    assert_eq!(out.matches(alpha.as_str()).count(), 1, "{out}");
    assert!(!out.contains(beta.as_str()), "{out}");

    let allowed = ok(&mlops_in(
        tmp.path(),
        &["runs", "list", "--store", store, "--allow-damaged"],
        &[],
    ));
    assert_eq!(allowed, out);
}

#[tokio::test]
async fn an_emptied_experiments_log_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    populate(&local(&dir).await, &ExperimentName::parse("gone").unwrap()).await;
    for entry in std::fs::read_dir(dir.join("experiments/log")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let store = dir.to_str().unwrap();
    for args in [
        ["experiments", "list", "--store", store, "--format", "json"],
        ["runs", "list", "--store", store, "--format", "json"],
    ] {
        let out = mlops_in(tmp.path(), &args, &[]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let body: Value = serde_json::from_slice(&out.stdout).unwrap();
        let damaged = body["damaged"].as_array().unwrap();
        assert!(
            damaged[0]["reason"].as_str().unwrap().contains("emptied"),
            "{body}"
        );
        assert!(text(&out.stderr).contains("emptied"));
    }
}
