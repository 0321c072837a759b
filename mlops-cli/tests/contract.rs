//! The pipeline step contract (docs/CLI.md), command by command: the last line of stdout is
//! one compact JSON object with `--format json`; exit 0 / 1 / 3, and `--on-reject` mapping
//! 3 to 99 or 0; GitHub Actions outputs and summary; Dagster Pipes messages; and the steps
//! pipelines need (register from a run's artifacts, gate, approval request and wait).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use mlops::core::{ArtifactPath, ExperimentName, Metric, MetricKey, Timestamp};
use mlops::track::{NewRun, TrackingStore, TrackingStoreExt};
use serde_json::{Value, json};

use crate::util::{local, mlops, mlops_in, model_folder, text};

const REFERENCE: &str = "examples/data/reference.parquet";
const CURRENT: &str = "examples/data/current.parquet";

/// The last line of stdout, which must be one compact JSON object.
fn last_json(out: &Output) -> Value {
    let stdout = text(&out.stdout);
    let last = stdout.lines().last().unwrap_or_else(|| {
        panic!(
            "no stdout (exit {:?}); stderr: {}",
            out.status.code(),
            text(&out.stderr)
        )
    });
    assert!(last.starts_with('{') && last.ends_with('}'), "{last}");
    serde_json::from_str(last).unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

#[test]
fn drift_prints_one_json_line_and_maps_a_rejection() {
    let drifted = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![
            "drift",
            "--reference",
            REFERENCE,
            "--current",
            CURRENT,
            "--drift-share",
            "0.3",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        mlops_in(&crate::util::root(), &args, env)
    };
    let out = drifted(&[], &[]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 1);
    assert_eq!(last_json(&out)["dataset"]["dataset_drift"], true);

    let gated = drifted(&["--fail-on-drift"], &[]);
    assert_eq!(code(&gated), 3);
    assert_eq!(last_json(&gated)["dataset"]["dataset_drift"], true);
    assert_eq!(
        code(&drifted(&["--fail-on-drift", "--on-reject", "skip"], &[])),
        99
    );
    assert_eq!(
        code(&drifted(&["--fail-on-drift", "--on-reject", "ok"], &[])),
        0
    );
    assert_eq!(
        code(&drifted(
            &["--fail-on-drift"],
            &[("MLOPS_ON_REJECT", "skip")]
        )),
        99
    );
    // An error is never mapped.
    let missing = mlops(&[
        "drift",
        "--reference",
        "nope.parquet",
        "--current",
        CURRENT,
        "--on-reject",
        "ok",
    ]);
    assert_eq!(code(&missing), 1);

    // With --out the report goes to the file and stdout gets the verdict.
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = drifted(&["--out", report.to_str().unwrap()], &[]);
    let summary = last_json(&out);
    assert_eq!(summary["dataset_drift"], true);
    assert_eq!(summary["out"], report.to_str().unwrap());
    assert!(!summary["drifted_columns"].as_array().unwrap().is_empty());
    let written: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(written["dataset"]["dataset_drift"], true);
}

#[test]
fn profile_build_prints_one_json_line() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("p.json");
    let out = mlops(&[
        "profile",
        "build",
        "--reference",
        REFERENCE,
        "--out",
        out_path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let result = last_json(&out);
    assert_eq!(result["out"], out_path.to_str().unwrap());
    assert_eq!(result["exact"], true);
    assert!(result["columns"].as_u64().unwrap() > 0);
    assert_eq!(
        result["bytes"].as_u64().unwrap(),
        std::fs::metadata(&out_path).unwrap().len()
    );
}

/// A run in the tracking store at `root` that logged `mae` and a model file under `model/`.
fn train(root: &Path, mae: f64) -> String {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = local(root).await;
        let experiment = store
            .get_or_create_experiment(&ExperimentName::parse("taxi").unwrap())
            .await
            .unwrap();
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
        let point = Metric::new(MetricKey::parse("mae").unwrap(), mae, Timestamp::now(), 0);
        store.log_batch(&run, &[point], &[], &[]).await.unwrap();
        for (path, body) in [
            ("model/weights.bin", format!("w{mae}")),
            ("model/MLmodel", "flavor: linear".to_owned()),
            ("notes.txt", "not the model".to_owned()),
        ] {
            store
                .log_artifact(&run, &ArtifactPath::parse(path).unwrap(), Bytes::from(body))
                .await
                .unwrap();
        }
        run.to_string()
    })
}

/// `mlops ARGS` with the store root `root` (MLOPS_STORE) and `env`, acting as `ci`.
fn step(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = vec![
        ("MLOPS_STORE", root.to_str().unwrap()),
        ("MLOPS_ACTOR", "ci"),
    ];
    all.extend_from_slice(env);
    mlops_in(root.parent().unwrap(), args, &all)
}

fn register_from_run(root: &Path, run: &str) -> u64 {
    let out = step(
        root,
        &[
            "models",
            "register",
            "--name",
            "taxi",
            "--run",
            run,
            "--artifact-path",
            "model/",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    // Versions are strings in JSON, as MLflow spells them.
    last_json(&out)["version"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

const MAE_GATE: &[&str] = &["--gate", "metric:mae:lower"];

fn gate(root: &Path, version: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec![
        "models",
        "gate",
        "--name",
        "taxi",
        "--version",
        version,
        "--alias",
        "champion",
    ];
    args.extend_from_slice(MAE_GATE);
    args.extend_from_slice(extra);
    step(root, &args, env)
}

#[test]
fn models_register_from_a_run_then_gate_without_moving() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let (first, worse, better) = (train(&root, 2.0), train(&root, 2.5), train(&root, 1.5));

    // The run's artifacts under model/, relative to it, linked to the run with its metrics.
    assert_eq!(register_from_run(&root, &first), 1);
    let shown = step(
        &root,
        &[
            "models",
            "show",
            "--name",
            "taxi",
            "--version",
            "1",
            "--format",
            "json",
        ],
        &[],
    );
    let info = last_json(&shown);
    let mut files: Vec<&str> = info["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    files.sort_unstable();
    assert_eq!(files, ["MLmodel", "weights.bin"]);
    assert_eq!(info["run"]["run_id"], first.as_str());
    assert_eq!(info["run"]["metrics"][0]["key"], "mae");

    let promote = step(
        &root,
        &[
            "models",
            "promote",
            "--name",
            "taxi",
            "--version",
            "1",
            "--alias",
            "champion",
            "--gate",
            "metric:mae:lower",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(code(&promote), 0, "{}", text(&promote.stderr));
    assert_eq!(last_json(&promote)["outcome"], "Promoted");

    assert_eq!(register_from_run(&root, &worse), 2);
    assert_eq!(register_from_run(&root, &better), 3);

    let refused = gate(&root, "2", &["--format", "json"], &[]);
    assert_eq!(code(&refused), 3, "{}", text(&refused.stderr));
    let verdict = last_json(&refused);
    assert_eq!(verdict["passed"], false);
    assert_eq!(verdict["current"], "1");
    assert_eq!(verdict["gates"][0]["passed"], false);
    assert_eq!(code(&gate(&root, "2", &["--on-reject", "skip"], &[])), 99);
    assert_eq!(code(&gate(&root, "2", &["--on-reject", "ok"], &[])), 0);

    let passed = gate(&root, "3", &["--format", "json"], &[]);
    assert_eq!(code(&passed), 0, "{}", text(&passed.stderr));
    assert_eq!(last_json(&passed)["passed"], true);
    // A precondition that does not hold is a refusal, not an error.
    let stale = gate(&root, "3", &["--expect-current", "2"], &[]);
    assert_eq!(code(&stale), 3);
    // Nothing moved.
    let champion = step(
        &root,
        &[
            "models",
            "show",
            "--name",
            "taxi",
            "--version",
            "champion",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(last_json(&champion)["version"], "1");
    // A version that does not exist is an error, whatever --on-reject says.
    assert_eq!(code(&gate(&root, "9", &["--on-reject", "ok"], &[])), 1);

    // The deploy job promotes what the gate compared against; a rollback undoes it.
    let deploy = step(
        &root,
        &[
            "models",
            "promote",
            "--name",
            "taxi",
            "--version",
            "3",
            "--alias",
            "champion",
            "--expect-current",
            "1",
            "--gate",
            "metric:mae:lower",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(code(&deploy), 0, "{}", text(&deploy.stderr));
    let rollback = step(
        &root,
        &[
            "models", "rollback", "--name", "taxi", "--alias", "champion", "--format", "json",
        ],
        &[],
    );
    assert_eq!(code(&rollback), 0, "{}", text(&rollback.stderr));
    assert_eq!(last_json(&rollback)["decision"]["version"], "1");

    // runs show follows the contract too.
    let run = step(&root, &["runs", "show", &first, "--format", "json"], &[]);
    assert_eq!(last_json(&run)["run"]["info"]["run_id"], first.as_str());
}

/// The key=value pairs of a `$GITHUB_OUTPUT` file in the multiline syntax.
pub(crate) fn github_outputs(file: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut lines = file.lines();
    while let Some(head) = lines.next() {
        let (name, delimiter) = head.split_once("<<").unwrap();
        let mut value = Vec::new();
        for line in lines.by_ref() {
            if line == delimiter {
                break;
            }
            value.push(line);
        }
        pairs.push((name.to_owned(), value.join("\n")));
    }
    pairs
}

#[test]
fn under_github_actions_a_gate_writes_outputs_summary_and_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let (good, bad) = (train(&root, 2.0), train(&root, 3.0));
    register_from_run(&root, &good);
    register_from_run(&root, &bad);
    let promote = step(
        &root,
        &[
            "models",
            "promote",
            "--name",
            "taxi",
            "--version",
            "1",
            "--alias",
            "champion",
        ],
        &[],
    );
    assert_eq!(code(&promote), 0);

    let outputs = dir.path().join("github_output");
    let summary = dir.path().join("step_summary");
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
    ];
    let out = gate(&root, "2", &["--format", "json", "--on-reject", "ok"], &env);
    assert_eq!(code(&out), 0);
    let pairs = github_outputs(&std::fs::read_to_string(&outputs).unwrap());
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no output {name} in {pairs:?}"))
    };
    assert_eq!(get("outcome"), "rejected");
    assert_eq!(get("passed"), "false");
    assert_eq!(get("version"), "2");
    assert_eq!(get("current"), "1");
    assert_eq!(get("exit_code"), "0");
    let result: Value = serde_json::from_str(&get("result")).unwrap();
    assert_eq!(result, last_json(&out));
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("### mlops models gate taxi v2 for champion\n"),
        "{md}"
    );
    assert!(md.contains("| metric(mae) | ❌ fail |"), "{md}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("::warning title=mlops models gate taxi v2 for champion::refused%3A")
            || stderr.contains("::warning title=mlops models gate taxi v2 for champion::refused:"),
        "{stderr}"
    );

    // A register step appends its own outputs (the file is shared by the job's steps).
    let reg = step(
        &root,
        &[
            "models",
            "register",
            "--name",
            "taxi",
            "--run",
            &good,
            "--artifact-path",
            "model",
        ],
        &env,
    );
    assert_eq!(text(&reg.stdout).trim(), "3");
    let pairs = github_outputs(&std::fs::read_to_string(&outputs).unwrap());
    assert!(pairs.contains(&("version".to_owned(), "3".to_owned())));
    assert!(pairs.contains(&("run_id".to_owned(), good)));
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("| mae | 2 |"), "{md}");
}

/// dagster-pipes' `encode_param`: base64 of zlib of JSON.
pub(crate) fn encode(value: &Value) -> String {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(value.to_string().as_bytes()).unwrap();
    base64::engine::general_purpose::STANDARD.encode(z.finish().unwrap())
}

#[test]
fn under_dagster_pipes_a_gate_is_an_asset_check() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let (good, bad) = (train(&root, 2.0), train(&root, 3.0));
    register_from_run(&root, &good);
    register_from_run(&root, &bad);
    step(
        &root,
        &[
            "models",
            "promote",
            "--name",
            "taxi",
            "--version",
            "1",
            "--alias",
            "champion",
        ],
        &[],
    );
    let context = dir.path().join("context.json");
    std::fs::write(
        &context,
        json!({"asset_keys": ["taxi_model"], "run_id": "r1", "job_name": null,
            "retry_number": 0, "extras": {}, "partition_key": null,
            "partition_key_range": null, "partition_time_window": null,
            "code_version_by_asset_key": null, "provenance_by_asset_key": null})
        .to_string(),
    )
    .unwrap();
    let messages = dir.path().join("messages");
    let pipes = |version: &str| {
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
        let out = gate(&root, version, &["-v", "--format", "json"], &env);
        let sent: Vec<Value> = std::fs::read_to_string(&messages)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (out, sent)
    };

    let (out, sent) = pipes("2");
    assert_eq!(code(&out), 3);
    let methods: Vec<&str> = sent.iter().map(|m| m["method"].as_str().unwrap()).collect();
    assert_eq!(methods.first(), Some(&"opened"));
    assert!(
        methods.contains(&"log"),
        "-v logs are forwarded: {methods:?}"
    );
    assert_eq!(
        &methods[methods.len() - 3..],
        [
            "report_asset_materialization",
            "report_asset_check",
            "closed"
        ]
    );
    assert!(sent.iter().all(|m| m["__dagster_pipes_version"] == "0.1"));
    let check = &sent[sent.len() - 2]["params"];
    assert_eq!(check["asset_key"], "taxi_model");
    assert_eq!(check["check_name"], "gate");
    assert_eq!(check["passed"], false);
    assert_eq!(check["severity"], "ERROR");
    let meta = &sent[sent.len() - 3]["params"]["metadata"];
    assert_eq!(meta["passed"], json!({"raw_value": false, "type": "bool"}));
    assert_eq!(meta["result"]["type"], "json");
    assert_eq!(sent.last().unwrap()["params"], json!({}));

    let (out, sent) = pipes("3");
    assert_eq!(code(&out), 1, "no version 3");
    let closed = sent.last().unwrap();
    assert_eq!(closed["method"], "closed");
    assert!(
        closed["params"]["exception"]["message"]
            .as_str()
            .unwrap()
            .contains('3')
    );
    assert!(
        !sent
            .iter()
            .any(|m| m["method"] == "report_asset_materialization")
    );
}

/// What a loopback webhook receiver got: the path, the idempotency key and the body.
type Received = Arc<Mutex<Vec<(String, String, Value)>>>;

/// An HTTP receiver on a loopback port, answering 200 to every POST.
fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    let state = Arc::clone(&got);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().route(
                "/{chat}",
                axum::routing::post(
                    move |axum::extract::Path(chat): axum::extract::Path<String>,
                          headers: axum::http::HeaderMap,
                          body: Bytes| {
                        let state = Arc::clone(&state);
                        async move {
                            let key = headers
                                .get("idempotency-key")
                                .map(|v| v.to_str().unwrap().to_owned())
                                .unwrap_or_default();
                            let body = serde_json::from_slice(&body).unwrap();
                            state.lock().unwrap().push((chat, key, body));
                            "ok"
                        }
                    },
                ),
            );
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("http://{address}"), got)
}

fn approval_history(root: &Path) -> Vec<Value> {
    let out = step(
        root,
        &["models", "history", "--name", "churn", "--format", "json"],
        &[],
    );
    last_json_array(&out)
        .into_iter()
        .filter(|e| e["action"] == "approval")
        .collect()
}

fn last_json_array(out: &Output) -> Vec<Value> {
    let stdout = text(&out.stdout);
    serde_json::from_str::<Vec<Value>>(stdout.lines().last().unwrap()).unwrap()
}

#[test]
fn an_approval_request_notifies_and_wait_returns_the_decision() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let folder = model_folder(dir.path(), "m1", "one");
    let out = step(
        &root,
        &["models", "register", "--name", "churn", "--path", &folder],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let (base, got) = receiver();
    let slack = format!("{base}/slack");
    let teams = format!("{base}/teams");
    let request = |extra: &[&str]| {
        let mut args = vec![
            "models",
            "approval",
            "request",
            "--name",
            "churn",
            "--version",
            "1",
            "--alias",
            "champion",
            "--slack-webhook",
            &slack,
            "--teams-webhook",
            &teams,
            "--approval-url",
            "https://review.example.com/{model}/{version}",
            "--comment",
            "weekly retrain",
        ];
        args.extend_from_slice(extra);
        step(&root, &args, &[])
    };

    // A loopback receiver is refused unless asked for, and then nothing is recorded.
    let refused = request(&[]);
    assert_eq!(code(&refused), 1);
    assert!(
        text(&refused.stderr).contains("not a public address")
            || text(&refused.stderr).contains("only https"),
        "{}",
        text(&refused.stderr)
    );
    // The URL's path is the secret: messages name the host only.
    assert!(
        !text(&refused.stderr).contains(&slack),
        "{}",
        text(&refused.stderr)
    );
    assert!(approval_history(&root).is_empty());
    assert!(got.lock().unwrap().is_empty());

    let sent = request(&["--allow-private-webhooks", "--format", "json"]);
    assert_eq!(code(&sent), 0, "{}", text(&sent.stderr));
    let result = last_json(&sent);
    assert_eq!(result["requested_by"], "ci");
    assert_eq!(result["notifications"][0]["delivered"], true);
    assert_eq!(result["notifications"][1]["chat"], "teams");
    let received = got.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    let (chat, key, body) = &received[0];
    assert_eq!(chat, "slack");
    assert_eq!(key, &format!("churn/approval/{}", result["seq"]));
    assert_eq!(
        body["blocks"][0]["text"]["text"],
        "Approval requested: churn v1 to champion"
    );
    assert_eq!(
        body["blocks"][3]["elements"][0]["url"],
        "https://review.example.com/churn/1"
    );
    let (chat, _, card) = &received[1];
    assert_eq!(chat, "teams");
    let content = &card["attachments"][0]["content"];
    assert_eq!(content["version"], "1.4");
    assert_eq!(content["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(approval_history(&root).len(), 1);

    let wait = |extra: &[&str]| {
        let mut args = vec![
            "models",
            "approval",
            "wait",
            "--name",
            "churn",
            "--version",
            "1",
            "--alias",
            "champion",
            "--interval",
            "0.2",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        step(&root, &args, &[])
    };
    // Nobody decides: a timeout is an error (exit 1).
    let timeout = wait(&["--timeout", "1"]);
    assert_eq!(code(&timeout), 1);
    assert!(
        text(&timeout.stderr).contains("no decision"),
        "{}",
        text(&timeout.stderr)
    );

    // Someone approves while the step waits.
    let approver = {
        let root = root.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(800));
            step(
                &root,
                &[
                    "models",
                    "approve",
                    "--name",
                    "churn",
                    "--version",
                    "1",
                    "--alias",
                    "champion",
                    "--by",
                    "ann",
                ],
                &[],
            )
        })
    };
    let approved = wait(&["--timeout", "60"]);
    assert_eq!(code(&approver.join().unwrap()), 0);
    assert_eq!(code(&approved), 0, "{}", text(&approved.stderr));
    assert_eq!(
        last_json(&approved),
        json!({"state": "approved", "approvers": ["ann"]})
    );

    // A new round, rejected: exit 3, or what --on-reject says.
    assert_eq!(code(&request(&["--allow-private-webhooks"])), 0);
    let pending = wait(&["--timeout", "0"]);
    assert_eq!(code(&pending), 1, "the new round cleared ann's approval");
    let reject = step(
        &root,
        &[
            "models",
            "approve",
            "--name",
            "churn",
            "--version",
            "1",
            "--alias",
            "champion",
            "--by",
            "bob",
            "--reject",
            "--comment",
            "MAE regressed",
        ],
        &[],
    );
    assert_eq!(code(&reject), 0);
    let rejected = wait(&["--timeout", "5"]);
    assert_eq!(code(&rejected), 3);
    assert_eq!(last_json(&rejected)["by"], "bob");
    assert_eq!(code(&wait(&["--timeout", "5", "--on-reject", "skip"])), 99);
    // Every request, approval and rejection is in the audit log, with its actor.
    let log = approval_history(&root);
    let by: Vec<&str> = log.iter().map(|e| e["by"].as_str().unwrap()).collect();
    assert_eq!(by, ["ci", "ann", "ci", "bob"]);
}

/// The versions of model `name`, newest first.
fn versions(root: &Path, name: &str) -> Vec<Value> {
    let out = step(
        root,
        &["models", "versions", "--name", name, "--format", "json"],
        &[],
    );
    last_json_array(&out)
}

#[test]
fn an_idempotency_key_runs_a_step_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let folder = model_folder(dir.path(), "m1", "one");
    let register = |key: &str, path: &str| {
        step(
            &root,
            &[
                "models",
                "register",
                "--name",
                "churn",
                "--path",
                path,
                "--idempotency-key",
                key,
                "--format",
                "json",
            ],
            &[],
        )
    };
    // A failed attempt releases the key: the retry runs.
    assert_eq!(code(&register("airflow-run-1", "/no/such/folder")), 1);
    let first = register("airflow-run-1", &folder);
    assert_eq!(code(&first), 0, "{}", text(&first.stderr));
    let retry = register("airflow-run-1", &folder);
    assert_eq!(code(&retry), 0, "{}", text(&retry.stderr));
    assert_eq!(text(&retry.stdout), text(&first.stdout));
    assert_eq!(versions(&root, "churn").len(), 1);
    // Another key is another step.
    assert_eq!(
        last_json(&register("airflow-run-2", &folder))["version"],
        "2"
    );

    // Concurrent retries: one registers, every one prints its result.
    let children: Vec<_> = (0..6)
        .map(|_| {
            let mut command = crate::util::command(dir.path());
            command
                .args([
                    "models",
                    "register",
                    "--name",
                    "churn",
                    "--path",
                    &folder,
                    "--idempotency-key",
                    "airflow-run-3",
                    "--format",
                    "json",
                ])
                .env("MLOPS_STORE", &root)
                .env("MLOPS_ACTOR", "ci");
            command.stdout(std::process::Stdio::piped());
            command.stderr(std::process::Stdio::piped());
            command.spawn().unwrap()
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for out in &outputs {
        assert_eq!(code(out), 0, "{}", text(&out.stderr));
        assert_eq!(last_json(out)["version"], "3");
    }
    assert_eq!(versions(&root, "churn").len(), 3);

    // A promotion's retry keeps the first decision and moves nothing again.
    let promote = |version: &str| {
        step(
            &root,
            &[
                "models",
                "promote",
                "--name",
                "churn",
                "--version",
                version,
                "--alias",
                "champion",
                "--idempotency-key",
                "deploy-7",
                "--format",
                "json",
            ],
            &[],
        )
    };
    assert_eq!(code(&promote("1")), 0);
    let again = promote("2");
    assert_eq!(code(&again), 0);
    assert_eq!(
        last_json(&again)["decision"]["version"],
        "1",
        "the first outcome"
    );
    let history = step(
        &root,
        &[
            "models", "history", "--name", "churn", "--alias", "champion", "--format", "json",
        ],
        &[],
    );
    assert_eq!(last_json_array(&history).len(), 1);

    // GitHub Actions sees the replay.
    let outputs_file = dir.path().join("gh");
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_OUTPUT", outputs_file.to_str().unwrap()),
    ];
    let replayed = step(
        &root,
        &[
            "models",
            "promote",
            "--name",
            "churn",
            "--version",
            "1",
            "--alias",
            "champion",
            "--idempotency-key",
            "deploy-7",
        ],
        &env,
    );
    assert_eq!(code(&replayed), 0);
    let pairs = github_outputs(&std::fs::read_to_string(&outputs_file).unwrap());
    assert!(
        pairs.contains(&("replayed".to_owned(), "true".to_owned())),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&("promoted".to_owned(), "true".to_owned())),
        "{pairs:?}"
    );

    // Only steps that change something take a key.
    let gate = step(
        &root,
        &[
            "models",
            "gate",
            "--name",
            "churn",
            "--version",
            "2",
            "--alias",
            "champion",
            "--idempotency-key",
            "k",
        ],
        &[],
    );
    assert_eq!(code(&gate), 1);
    assert!(text(&gate.stderr).contains("--idempotency-key applies to"));
}

#[test]
fn a_retried_approval_request_notifies_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let folder = model_folder(dir.path(), "m1", "one");
    step(
        &root,
        &["models", "register", "--name", "churn", "--path", &folder],
        &[],
    );
    let (base, got) = receiver();
    let slack = format!("{base}/slack");
    let request = || {
        step(
            &root,
            &[
                "models",
                "approval",
                "request",
                "--name",
                "churn",
                "--version",
                "1",
                "--alias",
                "champion",
                "--slack-webhook",
                &slack,
                "--allow-private-webhooks",
                "--idempotency-key",
                "weekly-2026-49",
                "--format",
                "json",
            ],
            &[],
        )
    };
    let first = request();
    assert_eq!(code(&first), 0, "{}", text(&first.stderr));
    let retry = request();
    assert_eq!(code(&retry), 0, "{}", text(&retry.stderr));
    assert_eq!(last_json(&retry), last_json(&first));
    assert_eq!(got.lock().unwrap().len(), 1);
    assert_eq!(approval_history(&root).len(), 1);
}

#[test]
fn under_github_actions_drift_lists_the_drifted_columns() {
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("out");
    let summary = dir.path().join("summary");
    let out = mlops_in(
        &crate::util::root(),
        &[
            "drift",
            "--reference",
            REFERENCE,
            "--current",
            CURRENT,
            "--drift-share",
            "0.3",
            "--fail-on-drift",
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    assert_eq!(code(&out), 3);
    let pairs = github_outputs(&std::fs::read_to_string(&outputs).unwrap());
    let get = |name: &str| pairs.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert_eq!(get("outcome"), "rejected");
    assert_eq!(get("dataset_drift"), "true");
    assert_eq!(get("exit_code"), "3");
    let drifted: Vec<String> = get("drifted_columns")
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(drifted.len().to_string(), get("n_drifted"));
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains("| drifted column | test | statistic | threshold |"),
        "{md}"
    );
    for column in &drifted {
        assert!(md.contains(&format!("| {column} |")), "{column}: {md}");
    }
    // Drift that fails the step is an error annotation.
    assert!(
        text(&out.stderr).contains("::error title=mlops drift"),
        "{}",
        text(&out.stderr)
    );
}
