//! The `mlops` command-line tool against the MLflow server that `scripts/test.sh` starts
//! (feature `service-tests`): runs synced to it, the tracking example logging to it, and
//! every `mlops models` command on its model registry; `mlops monitor run` starting a DAG run
//! of the Airflow 3 server it starts (`monitor_airflow`). Fails loudly without the servers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod util;

mod monitor_airflow;

use std::sync::Arc;

use mlops::track::mlflow::MlflowStore;
use mlops::track::{ExperimentName, RunId, TrackingStore};
use mlops_core::testing::{MLFLOW_URI, require_env};

use crate::util::{
    check_tracking_example_run, json, local, mlops_in, model_folder, ok, populate,
    run_tracking_example, text,
};

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

#[tokio::test]
async fn the_tracking_example_logs_to_mlflow() {
    let uri = require_env(MLFLOW_URI);
    let experiment = format!("runs-cli/example-{}", RunId::generate());
    let id = run_tracking_example(&uri, &experiment);
    let store: Arc<dyn TrackingStore> = Arc::new(MlflowStore::new(&uri).unwrap());
    check_tracking_example_run(store.as_ref(), &id, &experiment).await;
}

/// Every `mlops models` command on an MLflow server's registry, named by `--registry URL`
/// or by a root `--store URL` (tracking and registry both on the server).
#[tokio::test]
async fn models_commands_take_an_mlflow_url() {
    let uri = require_env(MLFLOW_URI);
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let name = format!("cli-mlflow-{}", RunId::generate());
    let v1 = model_folder(d, "m1", "one");
    let v2 = model_folder(d, "m2", "two");
    let models = |args: &[&str]| {
        let mut all = vec!["models", "--registry", &uri, "--actor", "cli-test"];
        all.extend_from_slice(args);
        mlops_in(d, &all, &[])
    };
    for (folder, expected) in [(&v1, "1"), (&v2, "2")] {
        let out = models(&["register", "--name", &name, "--path", folder]);
        assert_eq!(ok(&out).trim(), expected);
    }
    let promote = |version: &str, expect: &str| {
        models(&[
            "promote",
            "--name",
            &name,
            "--version",
            version,
            "--alias",
            "champion",
            "--expect-current",
            expect,
        ])
    };
    assert_eq!(promote("1", "none").status.code(), Some(0));
    let refused = promote("2", "none");
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused.stderr));
    ok(&models(&[
        "approve",
        "--name",
        &name,
        "--version",
        "2",
        "--alias",
        "champion",
        "--by",
        "alice",
    ]));
    assert_eq!(promote("2", "1").status.code(), Some(0));
    let rolled = models(&["rollback", "--name", &name, "--alias", "champion"]);
    assert_eq!(rolled.status.code(), Some(0), "{}", text(&rolled.stderr));

    // The same registry through the root: --store names the server.
    let shown = json(&mlops_in(
        d,
        &[
            "models",
            "show",
            "--store",
            &uri,
            "--name",
            &name,
            "--version",
            "champion",
            "--format",
            "json",
        ],
        &[],
    ));
    assert_eq!(shown["version"], "1");
    let listed = json(&models(&["list", "--filter", &name, "--format", "json"]));
    assert_eq!(listed[0]["name"], name.as_str());
    let versions = json(&models(&["versions", "--name", &name, "--format", "json"]));
    assert_eq!(versions.as_array().unwrap().len(), 2);
    let history = json(&models(&[
        "history", "--name", &name, "--alias", "champion", "--format", "json",
    ]));
    assert_eq!(history.as_array().unwrap().len(), 3, "{history:#}");
    assert!(ok(&models(&["show", "--name", &name])).contains("champion -> v1"));
}

/// The pipeline steps on an MLflow server (runs and registry both there): register from a
/// run's artifacts, gate, approval request and wait; idempotency keys are refused there.
#[tokio::test]
async fn pipeline_steps_run_on_mlflow() {
    use mlops::core::{ArtifactPath, Metric, MetricKey, Timestamp};
    use mlops::track::{NewRun, TrackingStoreExt};

    let uri = require_env(MLFLOW_URI);
    let tmp = tempfile::tempdir().unwrap();
    let store = MlflowStore::new(&uri).unwrap();
    let experiment = store
        .get_or_create_experiment(
            &ExperimentName::parse(format!("cli-steps-{}", RunId::generate())).unwrap(),
        )
        .await
        .unwrap();
    let mut runs = Vec::new();
    for mae in [2.0, 3.0] {
        let run = store
            .create_run(NewRun {
                experiment_id: experiment.clone(),
                run_name: None,
                user_id: "ci".into(),
                start_time: Timestamp::now(),
                tags: vec![],
            })
            .await
            .unwrap()
            .info
            .run_id;
        let point = Metric::new(MetricKey::parse("mae").unwrap(), mae, Timestamp::now(), 0);
        store.log_batch(&run, &[point], &[], &[]).await.unwrap();
        store
            .log_artifact(
                &run,
                &ArtifactPath::parse("model/weights.bin").unwrap(),
                bytes::Bytes::from(format!("w{mae}")),
            )
            .await
            .unwrap();
        runs.push(run.to_string());
    }
    let name = format!("cli-steps-{}", RunId::generate());
    let step = |args: &[&str]| {
        mlops_in(
            tmp.path(),
            args,
            &[("MLOPS_STORE", uri.as_str()), ("MLOPS_ACTOR", "ci")],
        )
    };
    let last = |out: &std::process::Output| -> serde_json::Value {
        let stdout = ok(out);
        serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
    };
    for run in &runs {
        let out = step(&[
            "models",
            "register",
            "--name",
            &name,
            "--run",
            run,
            "--artifact-path",
            "model/",
            "--format",
            "json",
        ]);
        assert_eq!(last(&out)["artifacts"][0]["path"], "weights.bin");
    }
    ok(&step(&[
        "models",
        "promote",
        "--name",
        &name,
        "--version",
        "1",
        "--alias",
        "champion",
    ]));
    let gate = |version: &str| {
        step(&[
            "models",
            "gate",
            "--name",
            &name,
            "--version",
            version,
            "--alias",
            "champion",
            "--gate",
            "metric:mae:lower",
            "--format",
            "json",
        ])
    };
    let refused = gate("2");
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused.stderr));

    let request = step(&[
        "models",
        "approval",
        "request",
        "--name",
        &name,
        "--version",
        "2",
        "--alias",
        "champion",
        "--format",
        "json",
    ]);
    assert_eq!(last(&request)["requested_by"], "ci");
    ok(&step(&[
        "models",
        "approve",
        "--name",
        &name,
        "--version",
        "2",
        "--alias",
        "champion",
        "--by",
        "ann",
    ]));
    let waited = step(&[
        "models",
        "approval",
        "wait",
        "--name",
        &name,
        "--version",
        "2",
        "--alias",
        "champion",
        "--timeout",
        "30",
        "--interval",
        "0.2",
        "--format",
        "json",
    ]);
    assert_eq!(last(&waited)["state"], "approved");

    let keyed = step(&[
        "models",
        "register",
        "--name",
        &name,
        "--run",
        &runs[0],
        "--artifact-path",
        "model",
        "--idempotency-key",
        "k",
    ]);
    assert_eq!(keyed.status.code(), Some(1));
    assert!(
        text(&keyed.stderr).contains("MLflow server"),
        "{}",
        text(&keyed.stderr)
    );
}

/// Issue 12: `mlops serve --registry http://MLFLOW --model NAME@champion` follows an alias
/// moved by MLflow's own Python client (`MlflowClient().set_registered_model_alias`).
#[test]
fn serve_follows_an_alias_moved_by_mlflows_python_client() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::Stdio;

    use mlops_core::testing::PYTHON;

    let uri = require_env(MLFLOW_URI);
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let name = format!("serve-cli-{}", RunId::generate());
    let env = [
        ("MLOPS_REGISTRY", uri.as_str()),
        ("MLOPS_ACTOR", "cli-test"),
    ];
    for slope in [1, 2] {
        let folder = d.join(format!("v{slope}"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join("model.json"),
            format!(r#"{{"format":"mlops-linear/1","coefficients":[[{slope},0,0]]}}"#),
        )
        .unwrap();
        let path = folder.to_str().unwrap();
        ok(&mlops_in(
            d,
            &["models", "register", "--name", &name, "--path", path],
            &env,
        ));
    }
    ok(&mlops_in(
        d,
        &[
            "models",
            "promote",
            "--name",
            &name,
            "--version",
            "1",
            "--alias",
            "champion",
        ],
        &env,
    ));

    let mut child = crate::util::command(d)
        .args(["serve", "--addr", "127.0.0.1:0", "--registry", &uri])
        .args([
            "--model",
            &format!("{name}@champion"),
            "--poll-interval-ms",
            "200",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("mlops serve: listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
    });
    let ask = || {
        let body =
            r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,0,0]}]}"#;
        let mut tcp = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            tcp,
            "POST /v2/models/{name}/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        answer
    };
    assert!(ask().contains(r#""model_version":"1""#));

    let output = std::process::Command::new(require_env(PYTHON))
        .args([
            "-c",
            "import sys; from mlflow import MlflowClient; \
             MlflowClient(sys.argv[1]).set_registered_model_alias(sys.argv[2], 'champion', sys.argv[3])",
            &uri,
            &name,
            "2",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let mut followed = false;
    for _ in 0..300 {
        if ask().contains(r#""model_version":"2""#) {
            followed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        followed,
        "mlops serve never followed the alias MLflow's client moved"
    );
}
