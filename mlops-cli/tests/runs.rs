//! `mlops experiments …` and `mlops runs …` run as a user runs them, against an embedded
//! store in a temporary folder; and `examples/tracking.rs` on a folder. (Against MLflow:
//! `tests/service.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mlops::track::ExperimentName;

use crate::util::{
    check_tracking_example_run, json, local, mlops_in, ok, populate, reference,
    run_tracking_example, text,
};

#[tokio::test]
async fn experiments_and_runs_list_as_tables_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let (alpha, beta) = populate(
        &local(&dir).await,
        &ExperimentName::parse("cli-demo").unwrap(),
    )
    .await;
    let store = dir.to_str().unwrap();

    let table = ok(&mlops_in(
        tmp.path(),
        &["experiments", "list", "--store", store],
        &[],
    ));
    assert!(table.starts_with("name"), "{table}");
    assert!(table.contains("cli-demo"), "{table}");
    let experiments = json(&mlops_in(
        tmp.path(),
        &["experiments", "list", "--store", store, "--format", "json"],
        &[],
    ));
    assert_eq!(experiments[0]["name"], "cli-demo");

    // The store from MLOPS_TRACKING_URI.
    let env = [("MLOPS_TRACKING_URI", store)];
    let table = ok(&mlops_in(tmp.path(), &["runs", "list"], &env));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    for column in ["run id", "experiment", "status", "duration", "loss"] {
        assert!(lines[0].contains(column), "{table}");
    }
    let alpha_line = lines
        .iter()
        .find(|l| l.starts_with(alpha.as_str()))
        .unwrap();
    for cell in ["cli-demo", "alpha", "FINISHED", "1m05s", "0.25"] {
        assert!(alpha_line.contains(cell), "{alpha_line}");
    }
    let beta_line = lines.iter().find(|l| l.starts_with(beta.as_str())).unwrap();
    assert!(
        beta_line.contains("RUNNING") && beta_line.contains("NaN"),
        "{beta_line}"
    );

    let filtered = json(&mlops_in(
        tmp.path(),
        &[
            "runs",
            "list",
            "-e",
            "cli-demo",
            "--filter",
            "params.lr = '0.1'",
            "--format",
            "json",
        ],
        &env,
    ));
    let runs = filtered.as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["info"]["run_id"], alpha.as_str());

    let ordered = json(&mlops_in(
        tmp.path(),
        &[
            "runs",
            "list",
            "--order-by",
            "params.lr DESC",
            "--max-results",
            "1",
            "--format",
            "json",
        ],
        &env,
    ));
    assert_eq!(ordered.as_array().unwrap().len(), 1);
    assert_eq!(ordered[0]["info"]["run_id"], beta.as_str());

    let bad = mlops_in(
        tmp.path(),
        &["runs", "list", "--filter", "metrics.loss <"],
        &env,
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("at "),
        "the error names the position"
    );
}

#[tokio::test]
async fn runs_show_and_compare() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let (alpha, beta) = populate(
        &local(&dir).await,
        &ExperimentName::parse("cli-demo").unwrap(),
    )
    .await;
    let store = dir.to_str().unwrap();
    let digest = mlops::track::dataset::from_parquet_uri("churn", &reference())
        .await
        .unwrap()
        .digest()
        .to_string();

    let shown = ok(&mlops_in(
        tmp.path(),
        &["runs", "show", alpha.as_str(), "--store", store],
        &[],
    ));
    for text in [
        "alpha",
        "cli-demo",
        "FINISHED",
        "1m05s",
        "lr",
        "0.1",
        "team",
        "churn",
        "training",
        &digest,
        "5000",
        "model/w.bin",
    ] {
        assert!(shown.contains(text), "{text} missing from\n{shown}");
    }
    let shown = json(&mlops_in(
        tmp.path(),
        &[
            "runs",
            "show",
            alpha.as_str(),
            "--store",
            store,
            "--format",
            "json",
        ],
        &[],
    ));
    assert_eq!(shown["run"]["info"]["run_id"], alpha.as_str());
    assert_eq!(
        shown["run"]["inputs"][0]["dataset"]["digest"],
        digest.as_str()
    );
    assert_eq!(
        shown["artifacts"],
        serde_json::json!([{"path": "model/w.bin", "size": 3}])
    );

    let compared = ok(&mlops_in(
        tmp.path(),
        &[
            "runs",
            "compare",
            alpha.as_str(),
            beta.as_str(),
            "--store",
            store,
        ],
        &[],
    ));
    let line = |label: &str| {
        compared
            .lines()
            .find(|l| l.split_whitespace().any(|w| w == label))
            .unwrap_or_else(|| panic!("{label} missing from\n{compared}"))
            .to_owned()
    };
    assert!(line("params.lr").starts_with('*'), "{compared}");
    assert!(line("metrics.loss").contains("0.25") && line("metrics.loss").contains("NaN"));
    assert!(
        compared.lines().next().unwrap().contains("alpha"),
        "{compared}"
    );
    let compared = json(&mlops_in(
        tmp.path(),
        &[
            "runs",
            "compare",
            alpha.as_str(),
            beta.as_str(),
            "--store",
            store,
            "--format",
            "json",
        ],
        &[],
    ));
    assert_eq!(compared["params"]["lr"], serde_json::json!(["0.1", "0.2"]));
    assert_eq!(
        compared["metrics"]["loss"],
        serde_json::json!([0.25, "NaN"])
    );
    assert_eq!(compared["runs"][1]["status"], "RUNNING");

    let missing = mlops_in(
        tmp.path(),
        &[
            "runs",
            "show",
            "0123456789abcdef0123456789abcdef",
            "--store",
            store,
        ],
        &[],
    );
    assert_eq!(missing.status.code(), Some(1));
    let one = mlops_in(
        tmp.path(),
        &["runs", "compare", alpha.as_str(), "--store", store],
        &[],
    );
    assert_eq!(one.status.code(), Some(2), "clap refuses a single run");
}

/// The default store root is `./mlops-data` (it was `./mlops-runs` for tracking: the one
/// intended change of behaviour here); a missing store is an error and a read creates
/// nothing.
#[tokio::test]
async fn the_default_store_is_mlops_data_and_a_missing_store_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = mlops_in(tmp.path(), &["runs", "list"], &[]);
    assert_eq!(empty.status.code(), Some(1));
    let stderr = text(&empty.stderr);
    assert!(
        stderr.contains("no tracking store") && stderr.contains("mlops-data"),
        "{stderr}"
    );
    assert!(
        !tmp.path().join("mlops-data").exists(),
        "a read creates nothing"
    );
    assert!(!tmp.path().join("mlops-runs").exists());
    assert!(!tmp.path().join("mlruns").exists());

    populate(
        &local(&tmp.path().join("mlops-data")).await,
        &ExperimentName::parse("here").unwrap(),
    )
    .await;
    let table = ok(&mlops_in(tmp.path(), &["experiments", "list"], &[]));
    assert!(table.contains("here"), "{table}");
}

/// A store at the old default `./mlops-runs` is still read while the default root holds no
/// tracking store, with a warning whose command moves it; after the move, the same listing
/// without a warning. Also when the root exists already (it holds a registry).
#[tokio::test]
async fn an_old_default_tracking_store_is_read_and_the_hint_moves_it() {
    for root_has_registry in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        populate(
            &local(&d.join("mlops-runs")).await,
            &ExperimentName::parse("there").unwrap(),
        )
        .await;
        if root_has_registry {
            std::fs::create_dir_all(d.join("mlops-data/registry/catalog")).unwrap();
        }
        let list = ["runs", "list", "--format", "json"];
        let ids = |runs: &serde_json::Value| -> Vec<String> {
            let runs = runs.as_array().unwrap();
            runs.iter()
                .map(|r| r["info"]["run_id"].as_str().unwrap().to_owned())
                .collect()
        };
        let before = mlops_in(d, &list, &[]);
        let runs = ids(&json(&before));
        assert_eq!(runs.len(), 2);
        let warning = text(&before.stderr);
        assert!(warning.starts_with("warning: "), "{warning}");
        assert!(warning.contains("--tracking ./mlops-runs"), "{warning}");
        let hint = warning.split('`').nth(1).unwrap();
        if root_has_registry {
            assert!(
                hint.ends_with("./mlops-data/ && rmdir ./mlops-runs"),
                "{hint}"
            );
        } else {
            assert_eq!(hint, "mv ./mlops-runs ./mlops-data");
        }
        let moved = std::process::Command::new("sh")
            .args(["-c", hint])
            .current_dir(d)
            .status()
            .unwrap();
        assert!(moved.success());
        assert!(!d.join("mlops-runs").exists());
        let after = mlops_in(d, &list, &[]);
        assert_eq!(ids(&json(&after)), runs);
        assert!(after.stderr.is_empty(), "{}", text(&after.stderr));
    }
}

/// `--store` and MLOPS_STORE name the root, which is the tracking store; `--tracking` and
/// MLOPS_TRACKING_URI point tracking elsewhere and win over the root.
#[tokio::test]
async fn store_and_tracking_choose_the_tracking_store() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for name in ["a", "b"] {
        populate(
            &local(&d.join(name)).await,
            &ExperimentName::parse(format!("in-{name}")).unwrap(),
        )
        .await;
    }
    let a = d.join("a");
    let b = d.join("b");
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let names = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["experiments", "list", "--format", "json"];
        all.extend_from_slice(args);
        let listed = json(&mlops_in(d, &all, env));
        listed[0]["name"].as_str().unwrap().to_owned()
    };
    assert_eq!(names(&["--store", a], &[]), "in-a");
    assert_eq!(names(&[], &[("MLOPS_STORE", a)]), "in-a");
    assert_eq!(names(&["--store", a, "--tracking", b], &[]), "in-b");
    assert_eq!(names(&["--store", a], &[("MLOPS_TRACKING_URI", b)]), "in-b");
    assert!(!d.join("mlops-data").exists());
}

#[tokio::test]
async fn the_tracking_example_logs_to_a_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("runs");
    let id = run_tracking_example(dir.to_str().unwrap(), "quickstart");
    let store = local(&dir).await;
    check_tracking_example_run(&store, &id, "quickstart").await;
    // A second run joins the same experiment.
    let again = run_tracking_example(dir.to_str().unwrap(), "quickstart");
    assert_ne!(again, id);
}
