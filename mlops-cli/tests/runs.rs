//! `mlops experiments …` and `mlops runs …` run as a user runs them, against an embedded
//! store in a temporary folder and against the MLflow server that `scripts/test.sh` starts;
//! and `examples/tracking.rs` against both.

#![cfg(feature = "cli")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use bytes::Bytes;
use mlops::core::{ArtifactPath, StoreUri};
use mlops::track::mlflow::MlflowStore;
use mlops::track::{
    DatasetInput, DatasetRef, ExperimentName, LocalStore, Metric, MetricKey, NewRun, Param, RunId,
    RunName, RunStatus, Tag, Timestamp, TrackingStore, dataset,
};
use mlops_core::testing::{MLFLOW_URI, require_env};
use serde_json::Value;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/data/reference.parquet"
);

/// Runs `mlops` in `cwd` with `MLOPS_TRACKING_URI` unset unless given in `env`.
fn mlops_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mlops"));
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("MLOPS_TRACKING_URI");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap()
}

/// Two runs in experiment `name`: `alpha` (finished, with everything) and `beta` (running).
async fn populate(store: &dyn TrackingStore, name: &ExperimentName) -> (RunId, RunId) {
    let experiment = store.create_experiment(name, &[]).await.unwrap();
    let mut ids = Vec::new();
    for (run_name, lr, final_loss) in [("alpha", "0.1", 0.25), ("beta", "0.2", f64::NAN)] {
        let run = store
            .create_run(NewRun {
                experiment_id: experiment.clone(),
                run_name: Some(RunName::parse(run_name).unwrap()),
                user_id: "ada".into(),
                start_time: ts(1_700_000_000_000),
                tags: vec![Tag::parse("team", "search").unwrap()],
            })
            .await
            .unwrap();
        let id = run.info.run_id;
        let loss = MetricKey::parse("loss").unwrap();
        let points: Vec<Metric> = (0..20)
            .map(|i| {
                let value = if i == 19 {
                    final_loss
                } else {
                    1.0 / f64::from(i + 1)
                };
                Metric::new(
                    loss.clone(),
                    value,
                    ts(1_700_000_000_000 + i64::from(i)),
                    i64::from(i),
                )
            })
            .collect();
        store
            .log_batch(&id, &points, &[Param::parse("lr", lr).unwrap()], &[])
            .await
            .unwrap();
        ids.push(id);
    }
    let alpha = &ids[0];
    let data = dataset::from_parquet_uri("churn", SAMPLE).await.unwrap();
    store
        .log_inputs(
            alpha,
            &[DatasetInput::from_ref(&data, Some("training")).unwrap()],
        )
        .await
        .unwrap();
    store
        .log_artifact(
            alpha,
            &ArtifactPath::parse("model/w.bin").unwrap(),
            Bytes::from_static(b"\x01\x02\x03"),
        )
        .await
        .unwrap();
    store
        .update_run(
            alpha,
            Some(RunStatus::Finished),
            Some(ts(1_700_000_065_000)),
            None,
        )
        .await
        .unwrap();
    (ids.remove(0), ids.remove(0))
}

async fn local(dir: &Path) -> LocalStore {
    LocalStore::open_uri(&StoreUri::parse(dir.to_str().unwrap()).unwrap())
        .await
        .unwrap()
}

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
        String::from_utf8_lossy(&bad.stderr).contains("at "),
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
    let digest = dataset::from_parquet_uri("churn", SAMPLE)
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

#[tokio::test]
async fn the_default_store_is_mlops_runs_and_a_missing_store_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = mlops_in(tmp.path(), &["runs", "list"], &[]);
    assert_eq!(empty.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&empty.stderr);
    assert!(
        stderr.contains("no tracking store") && stderr.contains("mlops-runs"),
        "{stderr}"
    );
    assert!(
        !tmp.path().join("mlops-runs").exists(),
        "a read creates nothing"
    );
    assert!(!tmp.path().join("mlruns").exists());

    populate(
        &local(&tmp.path().join("mlops-runs")).await,
        &ExperimentName::parse("here").unwrap(),
    )
    .await;
    let table = ok(&mlops_in(tmp.path(), &["experiments", "list"], &[]));
    assert!(table.contains("here"), "{table}");
}

#[tokio::test]
async fn runs_sync_to_mlflow_twice_copies_nothing_the_second_time() {
    let uri = require_env(MLFLOW_URI);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("offline");
    let name = format!("runs-cli/sync-{}", RunId::generate());
    let (alpha, beta) = populate(&local(&dir).await, &ExperimentName::parse(&name).unwrap()).await;
    let from = dir.to_str().unwrap();
    let sync = || {
        mlops_in(
            tmp.path(),
            &[
                "runs", "sync", "--from", from, "--to", &uri, "-e", &name, "--format", "json",
            ],
            &[],
        )
    };

    let first = json(&sync());
    assert_eq!(first["experiments_created"], 1);
    assert_eq!(first["runs_created"], 2);
    assert_eq!(first["metric_points"], 40);
    assert_eq!(
        (
            first["params"].as_u64(),
            first["inputs"].as_u64(),
            first["artifacts"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(first["failures"], serde_json::json!([]));
    let second = json(&sync());
    for count in [
        "experiments_created",
        "runs_created",
        "runs_written",
        "params",
        "tags",
        "metric_points",
        "inputs",
        "artifacts",
    ] {
        assert_eq!(second[count], 0, "{count}: {second}");
    }

    // The copies, through the MLflow backend of the same CLI.
    let listed = json(&mlops_in(
        tmp.path(),
        &[
            "runs", "list", "--store", &uri, "-e", &name, "--format", "json",
        ],
        &[],
    ));
    let mut sources: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let tags = r["data"]["tags"].as_array().unwrap();
            let tag = tags
                .iter()
                .find(|t| t["key"] == "mlops.sync.source_run_id")
                .unwrap();
            tag["value"].as_str().unwrap().to_owned()
        })
        .collect();
    sources.sort();
    let mut expected = vec![alpha.to_string(), beta.to_string()];
    expected.sort();
    assert_eq!(sources, expected);
    let table = ok(&mlops_in(
        tmp.path(),
        &["experiments", "list", "--store", &uri],
        &[],
    ));
    assert!(table.contains(&name), "{table}");

    let nowhere = mlops_in(
        tmp.path(),
        &[
            "runs",
            "sync",
            "--from",
            tmp.path().join("nope").to_str().unwrap(),
            "--to",
            &uri,
        ],
        &[],
    );
    assert_eq!(nowhere.status.code(), Some(1));
}

/// `examples/tracking.rs`, as `cargo test` builds it next to this test's binary.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(name);
    if !path.exists() {
        // `cargo test --test runs_cli` builds no examples: build it the same way.
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success());
    }
    path
}

fn run_example(uri: &str, experiment: &str) -> RunId {
    let out = Command::new(example("tracking"))
        .env("MLOPS_TRACKING_URI", uri)
        .env("MLOPS_EXPERIMENT", experiment)
        .output()
        .unwrap();
    RunId::parse(ok(&out).trim()).unwrap()
}

async fn check_example_run(store: &dyn TrackingStore, id: &RunId, experiment: &str) {
    let run = store.get_run(id).await.unwrap();
    assert_eq!(run.info.status, RunStatus::Finished);
    let named = store
        .get_experiment_by_name(&ExperimentName::parse(experiment).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.info.experiment_id, named.experiment_id);
    assert_eq!(run.data.param("learning_rate"), Some("0.05"));
    assert_eq!(run.data.param("epochs"), Some("10000"));
    let history = store
        .get_metric_history(id, &MetricKey::parse("loss").unwrap())
        .await
        .unwrap();
    let mut steps: Vec<i64> = history.iter().map(|m| m.step).collect();
    steps.sort_unstable();
    assert_eq!(steps, (0..=9999).collect::<Vec<i64>>());
    assert!(history.iter().all(|m| m.value.is_finite() && m.value > 0.0));
    let first = history.iter().find(|m| m.step == 0).unwrap().value;
    let last = history.iter().find(|m| m.step == 9999).unwrap().value;
    assert!(last < first, "the model learned: {first} -> {last}");

    let data: DatasetRef = dataset::from_parquet_uri("churn-reference", SAMPLE)
        .await
        .unwrap();
    assert_eq!(run.inputs.len(), 1);
    assert_eq!(
        run.inputs[0],
        DatasetInput::from_ref(&data, Some("training")).unwrap()
    );
    let model = store
        .download_artifact(id, &ArtifactPath::parse("model/linear.json").unwrap())
        .await
        .unwrap();
    let model: Value = serde_json::from_slice(&model).unwrap();
    assert_eq!(model["weights"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_tracking_example_logs_to_a_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("runs");
    let id = run_example(dir.to_str().unwrap(), "quickstart");
    let store = local(&dir).await;
    check_example_run(&store, &id, "quickstart").await;
    // A second run joins the same experiment.
    let again = run_example(dir.to_str().unwrap(), "quickstart");
    assert_ne!(again, id);
}

#[tokio::test]
async fn the_tracking_example_logs_to_mlflow() {
    let uri = require_env(MLFLOW_URI);
    let experiment = format!("runs-cli/example-{}", RunId::generate());
    let id = run_example(&uri, &experiment);
    let store: Arc<dyn TrackingStore> = Arc::new(MlflowStore::new(&uri).unwrap());
    check_example_run(store.as_ref(), &id, &experiment).await;
}
