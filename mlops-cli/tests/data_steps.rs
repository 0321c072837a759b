//! `mlops data` and `mlops lineage` as pipeline steps (the contract of contract.rs): GitHub
//! Actions outputs, summary and annotations; Dagster Pipes materialization and the drift
//! asset check; `--on-reject` on `data diff --fail-on-drift`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::contract::{encode, github_outputs};
use crate::util::{mlops_in, reference, root, text};

const CURRENT: &str = "examples/data/current.parquet";

/// `mlops data ARGS --store STORE` in the workspace root with `env`.
fn data(store: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut line = vec!["data"];
    line.extend_from_slice(args);
    line.extend(["--store", store.to_str().unwrap()]);
    mlops_in(&root(), &line, env)
}

/// The last value of each output in a `$GITHUB_OUTPUT` file (steps append to it).
fn output(file: &Path, name: &str) -> String {
    let pairs = github_outputs(&std::fs::read_to_string(file).unwrap());
    (pairs.iter().rev().find(|(n, _)| n == name))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no output {name} in {pairs:?}"))
}

fn last_json(out: &Output) -> Value {
    let stdout = text(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

#[test]
fn data_steps_write_github_outputs_and_diff_gates_drift() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("root");
    let outputs = dir.path().join("github_output");
    let summary = dir.path().join("step_summary");
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
    ];
    let reference = reference();
    let size = std::fs::metadata(&reference).unwrap().len();

    let add = |file: &str| {
        let out = data(
            &store,
            &["add", "sales", file, "--alias", "train", "--format", "json"],
            &env,
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        out
    };
    let first = add(&reference);
    assert_eq!(output(&outputs, "outcome"), "done");
    assert_eq!(output(&outputs, "dataset"), "sales");
    assert_eq!(output(&outputs, "version"), "1");
    assert_eq!(output(&outputs, "created"), "true");
    assert_eq!(output(&outputs, "bytes_written"), size.to_string());
    assert_eq!(output(&outputs, "alias"), "train");
    let digest = output(&outputs, "digest");
    assert_eq!(last_json(&first)["manifest"]["digest"], digest.as_str());
    let result: Value = serde_json::from_str(&output(&outputs, "result")).unwrap();
    assert_eq!(result, last_json(&first));
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("### mlops data add sales\n"), "{md}");
    assert!(md.contains(&format!("| bytes_written | {size} |")), "{md}");
    // The same content again: the same version, nothing written, and the outputs say so.
    add(&reference);
    assert_eq!(output(&outputs, "created"), "false");
    assert_eq!(output(&outputs, "bytes_written"), "0");
    assert_eq!(output(&outputs, "version"), "1");
    add(CURRENT);
    assert_eq!(output(&outputs, "version"), "2");

    // Two of six columns drift: a dataset drift at a 0.3 share, which --fail-on-drift turns
    // into exit 3 (`--on-reject` maps it), an error annotation and a failed check.
    let diff = |extra: &[&str]| {
        let mut args = vec!["diff", "sales@1", "sales@2", "--drift-share", "0.3"];
        args.extend_from_slice(extra);
        data(&store, &args, &env)
    };
    let gated = diff(&["--fail-on-drift", "--format", "json"]);
    assert_eq!(gated.status.code(), Some(3), "{}", text(&gated.stderr));
    assert_eq!(output(&outputs, "outcome"), "rejected");
    assert_eq!(output(&outputs, "dataset_drift"), "true");
    assert_eq!(output(&outputs, "from"), "sales@1");
    assert_eq!(output(&outputs, "to"), "sales@2");
    assert_eq!(output(&outputs, "exit_code"), "3");
    let drifted = output(&outputs, "drifted_columns");
    assert!(drifted.split(',').any(|c| c == "country"), "{drifted}");
    assert_eq!(last_json(&gated)["drift"]["dataset"]["dataset_drift"], true);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("### mlops data diff sales@1 sales@2\n"), "{md}");
    assert!(md.contains("| country | "), "{md}");
    assert!(
        text(&gated.stderr).contains("::error title=mlops data diff sales@1 sales@2::"),
        "{}",
        text(&gated.stderr)
    );
    for (mode, code) in [("skip", 99), ("ok", 0), ("fail", 3)] {
        let out = diff(&["--fail-on-drift", "--on-reject", mode]);
        assert_eq!(out.status.code(), Some(code), "--on-reject {mode}");
        assert_eq!(output(&outputs, "exit_code"), code.to_string());
    }
    // Without --fail-on-drift drift is a finding: exit 0 and a warning.
    let found = diff(&[]);
    assert_eq!(found.status.code(), Some(0));
    assert_eq!(output(&outputs, "outcome"), "done");
    assert!(
        text(&found.stderr).contains("::warning title=mlops data diff"),
        "{}",
        text(&found.stderr)
    );
    // Under the default share (Evidently's 0.5) the same two columns are no dataset drift.
    let calm = data(
        &store,
        &["diff", "sales@1", "sales@2", "--fail-on-drift"],
        &env,
    );
    assert_eq!(calm.status.code(), Some(0));
    assert_eq!(output(&outputs, "dataset_drift"), "false");
    let bad = data(
        &store,
        &["diff", "sales@1", "sales@2", "--drift-share", "2"],
        &env,
    );
    assert_eq!(bad.status.code(), Some(1));

    // get: the files written and checked; alias: the move.
    let out = dir.path().join("out");
    let got = data(
        &store,
        &["get", "sales@1", "--out", out.to_str().unwrap()],
        &env,
    );
    assert_eq!(got.status.code(), Some(0));
    assert_eq!(output(&outputs, "bytes_written"), size.to_string());
    assert_eq!(output(&outputs, "digest"), digest);
    let moved = data(&store, &["alias", "sales", "train", "2"], &env);
    assert_eq!(moved.status.code(), Some(0));
    assert_eq!(output(&outputs, "alias"), "train");
    assert_eq!(output(&outputs, "version"), "2");
    let listed = data(&store, &["list"], &env);
    assert_eq!(listed.status.code(), Some(0));
    assert_eq!(output(&outputs, "datasets"), "sales");
    let shown = data(&store, &["show", "sales@train"], &env);
    assert_eq!(shown.status.code(), Some(0));
    assert_eq!(output(&outputs, "label"), "sales@2");
}

#[test]
fn data_diff_under_dagster_pipes_is_a_drift_check() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("root");
    for file in [reference().as_str(), CURRENT] {
        let out = data(&store, &["add", "sales", file], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let context = dir.path().join("context.json");
    std::fs::write(
        &context,
        json!({"asset_keys": ["sales_snapshot"], "run_id": "r1", "job_name": null,
            "retry_number": 0, "extras": {}, "partition_key": null,
            "partition_key_range": null, "partition_time_window": null,
            "code_version_by_asset_key": null, "provenance_by_asset_key": null})
        .to_string(),
    )
    .unwrap();
    let messages = dir.path().join("messages");
    let pipes = |args: &[&str]| {
        let _ = std::fs::remove_file(&messages);
        let env = [
            (
                "DAGSTER_PIPES_CONTEXT",
                encode(&json!({"path": context.to_str().unwrap()})),
            ),
            (
                "DAGSTER_PIPES_MESSAGES",
                encode(&json!({"path": messages.to_str().unwrap()})),
            ),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = data(&store, args, &env);
        let sent: Vec<Value> = (std::fs::read_to_string(&messages).unwrap().lines())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (out, sent)
    };
    let methods = |sent: &[Value]| -> Vec<String> {
        (sent.iter())
            .map(|m| m["method"].as_str().unwrap().to_owned())
            .collect()
    };

    let (out, sent) = pipes(&[
        "diff",
        "sales@1",
        "sales@2",
        "--drift-share",
        "0.3",
        "--fail-on-drift",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let m = methods(&sent);
    assert_eq!(
        &m[m.len() - 3..],
        [
            "report_asset_materialization",
            "report_asset_check",
            "closed"
        ]
    );
    let check = &sent[sent.len() - 2]["params"];
    assert_eq!(check["asset_key"], "sales_snapshot");
    assert_eq!(check["check_name"], "drift");
    assert_eq!(check["passed"], false);
    assert_eq!(check["severity"], "ERROR");
    let meta = &sent[sent.len() - 3]["params"]["metadata"];
    assert_eq!(meta["to"]["raw_value"], "sales@2");
    assert_eq!(meta["dataset_drift"]["raw_value"], true);

    // An add is a materialization with the version's identity, and no check.
    let (out, sent) = pipes(&["add", "sales", CURRENT]);
    assert_eq!(out.status.code(), Some(0));
    let m = methods(&sent);
    assert!(!m.iter().any(|m| m == "report_asset_check"), "{m:?}");
    let meta = &sent[sent.len() - 2]["params"]["metadata"];
    assert_eq!(meta["version"]["raw_value"], 2);
    assert_eq!(meta["created"]["raw_value"], false);
}
