//! `runs list` shows runs whose writer is gone as stale, and `runs mark-stale` ends them
//! (issue 17, finding 6).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mlops::track::ExperimentName;
use serde_json::Value;

use crate::util::{json, local, mlops_in, ok, populate};

#[tokio::test]
async fn runs_left_running_are_listed_stale_and_marked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let (_, beta) = populate(&local(&dir).await, &ExperimentName::parse("stale").unwrap()).await;
    // beta is RUNNING; its writer was on another host and stopped renewing an hour ago.
    let lease_path = dir.join("runs").join(beta.as_str()).join("lease.json");
    let mut lease: Value = serde_json::from_slice(&std::fs::read(&lease_path).unwrap()).unwrap();
    lease["host"] = "another-host".into();
    lease["renewed"] = (mlops::core::Timestamp::now().as_millis() - 3_600_000).into();
    std::fs::write(&lease_path, serde_json::to_vec(&lease).unwrap()).unwrap();
    let store = dir.to_str().unwrap();

    let table = ok(&mlops_in(
        tmp.path(),
        &["runs", "list", "--store", store],
        &[],
    ));
    let line = table
        .lines()
        .find(|l| l.starts_with(beta.as_str()))
        .unwrap();
    assert!(line.contains("RUNNING (stale)"), "{table}");
    // The same in JSON: a `stale` field on every run, true for beta only.
    let listed = json(&mlops_in(
        tmp.path(),
        &["runs", "list", "--store", store, "--format", "json"],
        &[],
    ));
    let stale: Vec<(&str, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["info"]["run_id"].as_str().unwrap(),
                r["stale"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(stale.len(), 2, "{listed}");
    for (id, is_stale) in stale {
        assert_eq!(is_stale, id == beta.as_str(), "{listed}");
    }

    let marked = json(&mlops_in(
        tmp.path(),
        &[
            "runs",
            "mark-stale",
            "--store",
            store,
            "--status",
            "failed",
            "--format",
            "json",
        ],
        &[],
    ));
    assert_eq!(marked.as_array().unwrap().len(), 1, "{marked}");
    assert_eq!(marked[0]["run_id"], beta.as_str());
    assert_eq!(marked[0]["reason"], "lease-expired");

    let shown = json(&mlops_in(
        tmp.path(),
        &[
            "runs",
            "show",
            "--store",
            store,
            beta.as_str(),
            "--format",
            "json",
        ],
        &[],
    ));
    assert_eq!(shown["run"]["info"]["status"], "FAILED", "{shown}");
    let again = json(&mlops_in(
        tmp.path(),
        &["runs", "mark-stale", "--store", store, "--format", "json"],
        &[],
    ));
    assert_eq!(again, serde_json::json!([]));
}
