//! `mlops models …` run as a user runs it, against a registry in a temporary folder.

#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use mlops::core::{ExperimentName, Metric, MetricKey, StoreUri, Timestamp};
use mlops::track::{LocalStore, NewRun, TrackingStore};
use serde_json::Value;

/// Runs `mlops models` with the registry in `dir` (through MLOPS_REGISTRY, as a user sets it).
fn models(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlops"))
        .arg("models")
        .args(args)
        .env("MLOPS_REGISTRY", dir.join("registry-root"))
        .env("MLOPS_ACTOR", "cli-test")
        .env_remove("MLOPS_TRACKING_URI")
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

fn model_folder(dir: &Path, name: &str, content: &str) -> String {
    let folder = dir.join(name);
    std::fs::create_dir_all(folder.join("weights")).unwrap();
    std::fs::write(folder.join("MLmodel"), format!("flavor: {content}")).unwrap();
    std::fs::write(folder.join("weights/model.bin"), content).unwrap();
    folder.to_str().unwrap().to_owned()
}

/// A tracking store in `dir/runs` with one run that logged `accuracy`.
fn run_with_accuracy(dir: &Path, accuracy: f64) -> String {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let uri = StoreUri::parse(dir.join("runs").to_str().unwrap()).unwrap();
        let store = LocalStore::open_uri(&uri).await.unwrap();
        let name = ExperimentName::parse("cli").unwrap();
        let experiment = match store.get_experiment_by_name(&name).await.unwrap() {
            Some(e) => e.experiment_id,
            None => store.create_experiment(&name, &[]).await.unwrap(),
        };
        let run = store
            .create_run(NewRun {
                experiment_id: experiment,
                run_name: None,
                user_id: "t".into(),
                start_time: Timestamp::now(),
                tags: vec![],
            })
            .await
            .unwrap()
            .info
            .run_id;
        let point = Metric::new(
            MetricKey::parse("accuracy").unwrap(),
            accuracy,
            Timestamp::now(),
            0,
        );
        store.log_batch(&run, &[point], &[], &[]).await.unwrap();
        run.to_string()
    })
}

#[test]
fn register_promote_and_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let v1 = model_folder(d, "m1", "one");
    let v2 = model_folder(d, "m2", "two");
    assert_eq!(
        ok(&models(d, &["register", "--name", "churn", "--path", &v1])).trim(),
        "1"
    );
    assert_eq!(
        ok(&models(d, &["register", "--name", "churn", "--path", &v2])).trim(),
        "2"
    );

    let promote = |args: &[&str]| {
        let mut all = vec!["promote", "--name", "churn"];
        all.extend_from_slice(args);
        models(d, &all)
    };
    assert_eq!(
        promote(&[
            "--version",
            "1",
            "--alias",
            "champion",
            "--expect-current",
            "none"
        ])
        .status
        .code(),
        Some(0)
    );
    // The precondition is false now: exit 3, nothing moves.
    let refused = promote(&[
        "--version",
        "2",
        "--alias",
        "champion",
        "--expect-current",
        "none",
    ]);
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stdout).contains("precondition"),
        "{}",
        text(&refused.stdout)
    );
    // A gate that cannot pass (no run metrics): exit 3, and the JSON says which gate.
    let gated = promote(&[
        "--version",
        "2",
        "--alias",
        "champion",
        "--expect-current",
        "1",
        "--gate",
        "metric:accuracy:higher",
        "--format",
        "json",
    ]);
    assert_eq!(gated.status.code(), Some(3));
    let decision: Value = serde_json::from_slice(&gated.stdout).unwrap();
    assert_eq!(decision["outcome"], "GatesFailed");
    assert_eq!(decision["decision"]["gates"][0]["gate"], "metric(accuracy)");
    // Errors are 1: a malformed version, an unknown gate, an unknown model.
    assert_eq!(
        promote(&["--version", "02", "--alias", "champion"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        promote(&["--version", "2", "--alias", "champion", "--gate", "vibes"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        models(
            d,
            &[
                "promote",
                "--name",
                "nope",
                "--version",
                "1",
                "--alias",
                "a"
            ]
        )
        .status
        .code(),
        Some(1)
    );
    assert_eq!(
        promote(&["--version", "2", "--alias", "latest"])
            .status
            .code(),
        Some(1),
        "reserved alias"
    );

    // Approval gate: refused, then approved by a named person, then promoted.
    let approval = [
        "--version",
        "2",
        "--alias",
        "champion",
        "--expect-current",
        "1",
        "--gate",
        "approval",
    ];
    assert_eq!(promote(&approval).status.code(), Some(3));
    ok(&models(
        d,
        &[
            "approve",
            "--name",
            "churn",
            "--version",
            "2",
            "--alias",
            "champion",
            "--by",
            "alice",
        ],
    ));
    assert_eq!(promote(&approval).status.code(), Some(0));

    let shown = json(&models(
        d,
        &[
            "show",
            "--name",
            "churn",
            "--version",
            "champion",
            "--format",
            "json",
        ],
    ));
    assert_eq!(shown["version"], "2");
    assert_eq!(shown["artifacts"].as_array().unwrap().len(), 2);
    assert_eq!(shown["creator"], "cli-test");
    let listed = json(&models(d, &["list", "--format", "json"]));
    assert_eq!(listed[0]["name"], "churn");
    assert_eq!(listed[0]["aliases"]["champion"], "2");
    let versions = json(&models(
        d,
        &["versions", "--name", "churn", "--format", "json"],
    ));
    let numbers: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, vec!["2", "1"]);
    assert!(ok(&models(d, &["versions", "--name", "churn"])).contains("champion"));

    // Rollback returns to v1.
    assert_eq!(
        models(d, &["rollback", "--name", "churn", "--alias", "champion"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        json(&models(
            d,
            &[
                "show",
                "--name",
                "churn",
                "--version",
                "champion",
                "--format",
                "json"
            ]
        ))["version"],
        "1"
    );

    // The history has every decision, refused ones included, with who made it.
    let history = json(&models(
        d,
        &["history", "--name", "churn", "--format", "json"],
    ));
    let entries = history.as_array().unwrap();
    let refusals = entries
        .iter()
        .filter(|e| e["action"] == "decision" && e["promoted"] == false)
        .count();
    assert_eq!(refusals, 3, "{history:#}");
    assert!(entries.iter().all(|e| e["actor"] == "cli-test"));
    let table = ok(&models(d, &["history", "--name", "churn"]));
    assert!(
        table.contains("REFUSED") && table.contains("Approved v2 for champion by alice"),
        "{table}"
    );
    let alias_history = json(&models(
        d,
        &[
            "history", "--name", "churn", "--alias", "champion", "--format", "json",
        ],
    ));
    assert_eq!(alias_history.as_array().unwrap().len(), 3);
    assert!(ok(&models(d, &["show", "--name", "churn"])).contains("champion -> v1"));
}

#[test]
fn register_links_a_run_and_metric_gates_use_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let runs = d.join("runs");
    let tracking = runs.to_str().unwrap();
    let low = run_with_accuracy(d, 0.80);
    let high = run_with_accuracy(d, 0.95);
    let folder = model_folder(d, "m", "w");
    let register = |run: &str| {
        ok(&models(
            d,
            &[
                "register",
                "--name",
                "fraud",
                "--path",
                &folder,
                "--run",
                run,
                "--tracking",
                tracking,
            ],
        ))
    };
    assert_eq!(register(&low).trim(), "1");
    assert_eq!(register(&high).trim(), "2");
    let shown = json(&models(
        d,
        &[
            "show",
            "--name",
            "fraud",
            "--version",
            "2",
            "--format",
            "json",
        ],
    ));
    assert_eq!(shown["run"]["run_id"], high.as_str());
    let gate = [
        "promote",
        "--name",
        "fraud",
        "--alias",
        "champion",
        "--gate",
        "metric:accuracy:higher:0.05",
    ];
    let with = |version: &str| {
        let mut args = gate.to_vec();
        args.extend_from_slice(&["--version", version]);
        models(d, &args)
    };
    assert_eq!(with("1").status.code(), Some(0), "no holder yet: passes");
    assert_eq!(with("2").status.code(), Some(0), "0.95 beats 0.80 by 0.15");
    assert_eq!(with("1").status.code(), Some(3), "0.80 does not beat 0.95");
    // A run that does not exist is an error.
    let missing = models(
        d,
        &[
            "register",
            "--name",
            "fraud",
            "--path",
            &folder,
            "--run",
            "0123456789abcdef0123456789abcdef",
            "--tracking",
            tracking,
        ],
    );
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn bad_input_is_an_error_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Read commands never create a registry.
    let out = models(d, &["list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no registry"),
        "{}",
        text(&out.stderr)
    );
    assert!(!d.join("registry-root").join("registry").exists());
    let folder = model_folder(d, "m", "w");
    for bad in ["a/b", "../x", "x#1", ""] {
        let out = models(d, &["register", "--name", bad, "--path", &folder]);
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", text(&out.stdout));
    }
    std::fs::write(Path::new(&folder).join("bad?name"), "x").unwrap();
    assert_eq!(
        models(d, &["register", "--name", "ok", "--path", &folder])
            .status
            .code(),
        Some(1)
    );
}
