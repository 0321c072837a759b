//! `mlops models …` run as a user runs it, against a registry in a temporary folder.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Output;

use mlops::core::{ExperimentName, Metric, MetricKey, StoreUri, Timestamp};
use mlops::track::{LocalStore, NewRun, TrackingStore, TrackingStoreExt};
use serde_json::Value;

use crate::util::{command, json, mlops_in, model_folder, ok, text};

/// Runs `mlops models` with the registry in `dir` (through MLOPS_REGISTRY, as a user sets it).
fn models(dir: &Path, args: &[&str]) -> Output {
    command(dir)
        .arg("models")
        .args(args)
        .env("MLOPS_REGISTRY", dir.join("registry-root"))
        .env("MLOPS_ACTOR", "cli-test")
        .output()
        .unwrap()
}

/// A tracking store in `dir/runs` with one run that logged `accuracy`.
fn run_with_accuracy(dir: &Path, accuracy: f64) -> String {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let uri = StoreUri::parse(dir.join("runs").to_str().unwrap()).unwrap();
        let store = LocalStore::open_uri(&uri).await.unwrap();
        let name = ExperimentName::parse("cli").unwrap();
        let experiment = store.get_or_create_experiment(&name).await.unwrap();
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

/// Registering versions of an existing model leaves no unreferenced `models/<id>/` folder
/// (before: one per `register`), and a name differing only in case is refused with a
/// message naming the existing model (before: "CHURN does not exist").
#[test]
fn register_of_an_existing_model_writes_one_folder_and_names_a_case_twin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let folder = model_folder(d, "m", "w");
    for _ in 0..3 {
        ok(&models(
            d,
            &["register", "--name", "churn", "--path", &folder],
        ));
    }
    let folders = std::fs::read_dir(d.join("registry-root/registry/models"))
        .unwrap()
        .count();
    assert_eq!(folders, 1);
    let out = models(d, &["register", "--name", "CHURN", "--path", &folder]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("\"churn\" exists"), "{err}");
    assert!(!err.contains("does not exist"), "{err}");
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

/// With no flag and no variable, the registry is `./mlops-data/registry`; the registry
/// crate's source folder `mlops-registry/` (as at this repository's root) is never read nor
/// written as a store.
#[test]
fn the_default_root_is_mlops_data_and_never_the_crate_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let crate_folder = d.join("mlops-registry");
    std::fs::create_dir_all(crate_folder.join("src")).unwrap();
    std::fs::write(crate_folder.join("Cargo.toml"), "[package]\n").unwrap();
    std::fs::write(crate_folder.join("src/registry.rs"), "//! the trait\n").unwrap();

    let empty = mlops_in(d, &["models", "list"], &[]);
    assert_eq!(empty.status.code(), Some(1));
    let stderr = text(&empty.stderr);
    assert!(
        stderr.contains("no registry") && stderr.contains("mlops-data"),
        "{stderr}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");

    let folder = model_folder(d, "m1", "one");
    let out = mlops_in(
        d,
        &["models", "register", "--name", "churn", "--path", &folder],
        &[],
    );
    assert_eq!(ok(&out).trim(), "1");
    assert!(d.join("mlops-data/registry").is_dir());
    let mut crate_files: Vec<String> = std::fs::read_dir(&crate_folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    crate_files.sort();
    assert_eq!(
        crate_files,
        ["Cargo.toml", "src"],
        "the crate folder is untouched"
    );
    let listed = json(&mlops_in(d, &["models", "list", "--format", "json"], &[]));
    assert_eq!(listed[0]["name"], "churn");
}

/// `--store` (or MLOPS_STORE) names the root, whose `registry/` holds the registry;
/// `--registry` points the registry elsewhere.
#[test]
fn the_store_root_holds_the_registry_and_registry_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = d.join("root");
    let root = root.to_str().unwrap();
    let folder = model_folder(d, "m", "w");
    let register = |extra: &[&str]| {
        let mut args = vec!["models", "register", "--name", "churn", "--path", &folder];
        args.extend_from_slice(extra);
        ok(&mlops_in(d, &args, &[])).trim().to_owned()
    };
    assert_eq!(register(&["--store", root]), "1");
    assert!(d.join("root/registry").is_dir());
    let from_env = json(&mlops_in(
        d,
        &["models", "versions", "--name", "churn", "--format", "json"],
        &[("MLOPS_STORE", root)],
    ));
    assert_eq!(from_env.as_array().unwrap().len(), 1);
    let elsewhere = d.join("elsewhere");
    let elsewhere = elsewhere.to_str().unwrap();
    assert_eq!(register(&["--store", root, "--registry", elsewhere]), "1");
    assert_eq!(register(&["--store", root]), "2");
    assert!(d.join("elsewhere/registry").is_dir());
    assert!(!d.join("mlops-data").exists());
}

/// A registry written with the old default (`./mlops-registry`) is still read when the
/// default root has none, with a warning whose command moves it; after the move the same
/// command reads the same registry from `./mlops-data`, without a warning.
#[test]
fn an_old_default_registry_is_read_and_the_hint_moves_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let folder = model_folder(d, "m", "w");
    let old = [
        "models",
        "register",
        "--registry",
        "./mlops-registry",
        "--name",
        "churn",
        "--path",
        &folder,
    ];
    ok(&mlops_in(d, &old, &[]));
    let list = ["models", "list", "--format", "json"];
    let before = mlops_in(d, &list, &[]);
    let listed = json(&before);
    assert_eq!(listed[0]["name"], "churn");
    let warning = text(&before.stderr);
    assert!(warning.starts_with("warning: "), "{warning}");
    let hint = warning
        .split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no command in {warning}"));
    assert_eq!(
        hint,
        "mkdir -p ./mlops-data && mv ./mlops-registry/registry ./mlops-data/ && rmdir ./mlops-registry"
    );
    let moved = std::process::Command::new("sh")
        .args(["-c", hint])
        .current_dir(d)
        .status()
        .unwrap();
    assert!(moved.success());
    let after = mlops_in(d, &list, &[]);
    assert_eq!(json(&after), listed);
    assert!(after.stderr.is_empty(), "{}", text(&after.stderr));
}
