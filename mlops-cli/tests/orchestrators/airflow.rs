//! `templates/airflow/`: the DAGs run by Airflow 3 itself.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mlops::registry::ApprovalState;
use mlops_core::testing::require_env;
use serde_json::Value;

use crate::support::{self, Decided, last_json, ok, registry_state, step, take_turn};

/// `airflow ...` in its own home (SQLite) with the templates' DAGs and the steps' settings.
fn airflow(venv: &str, home: &Path, work: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(Path::new(venv).join("bin/airflow"));
    command
        .args(args)
        .env("AIRFLOW_HOME", home)
        .env(
            "AIRFLOW__CORE__DAGS_FOLDER",
            support::repo().join("templates/airflow/dags"),
        )
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .env("TAXI_FARE_BIN", work.join("bin/taxi_fare"))
        .env("MLOPS_BIN", work.join("bin/mlops"))
        .env("MLOPS_STORE", work.join("store"))
        .env("TAXI_FARE_DATA", work.join("data"));
    command
}

/// Links the freshly built binaries where the DAGs' tasks look for them.
fn link_binaries(work: &Path) {
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (name, target) in [
        ("taxi_fare", support::taxi_fare()),
        ("mlops", support::mlops()),
    ] {
        let link = bin.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(target, link).unwrap();
    }
}

/// The DAG run of a `dags test` log, which ends with "DagRun Finished: dag_id=...,
/// run_id=<id>, ...".
fn run_id(test_log: &str) -> &str {
    (test_log.lines().rev())
        .find_map(|l| l.split("run_id=").nth(1))
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no run id in the output of dags test:\n{test_log}"))
}

/// The state of each task of a DAG run, from `airflow tasks states-for-dag-run`.
fn task_states(
    venv: &str,
    home: &Path,
    work: &Path,
    dag: &str,
    test_log: &str,
) -> Vec<(String, String)> {
    let run_id = run_id(test_log);
    let out = ok(&mut airflow(
        venv,
        home,
        work,
        &["tasks", "states-for-dag-run", dag, run_id, "-o", "json"],
    ));
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text
        .find('[')
        .unwrap_or_else(|| panic!("no JSON list in {text}"));
    let states: Vec<Value> = serde_json::from_str(text[start..].trim()).unwrap();
    (states.iter())
        .map(|s| {
            (
                s["task_id"].as_str().unwrap().to_owned(),
                s["state"].as_str().unwrap_or("none").to_owned(),
            )
        })
        .collect()
}

fn states(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(t, s)| ((*t).to_owned(), (*s).to_owned()))
        .collect()
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

/// `weekly_retrain` under `airflow dags test`: the first run trains and promotes; after a
/// fare increase the model trained on the weeks before it is worse on the new week, the
/// gate refuses it, `promote` exits 99 and Airflow skips it and `deploy`.
#[tokio::test(flavor = "multi_thread")]
async fn airflow_weekly_retrain_promotes_then_skips_deploy_on_a_worse_model() {
    let venv = require_env("MLOPS_TEST_VENV_AIRFLOW");
    let _turn = take_turn();
    let tmp = tempfile::tempdir().unwrap();
    let (home, work) = (tmp.path().join("airflow"), tmp.path().join("work"));
    link_binaries(&work);
    let taxi = work.join("bin/taxi_fare");
    let (store, data) = (work.join("store"), work.join("data"));
    ok(&mut airflow(&venv, &home, &work, &["db", "migrate"]));
    ok(&mut step(
        &taxi,
        &store,
        &data,
        &[
            "generate",
            "--weeks",
            "4",
            "--rows",
            "3000",
            "--shift-from",
            "5",
        ],
    ));

    let first = ok(&mut airflow(
        &venv,
        &home,
        &work,
        &["dags", "test", "weekly_retrain"],
    ));
    let log = String::from_utf8_lossy(&first.stdout).into_owned()
        + &String::from_utf8_lossy(&first.stderr);
    assert!(
        log.contains("state=success"),
        "{}",
        support::tail(log.as_bytes())
    );
    let expected = states(&[
        ("deploy", "success"),
        ("promote", "success"),
        ("train", "success"),
    ]);
    assert_eq!(
        sorted(task_states(&venv, &home, &work, "weekly_retrain", &log)),
        expected
    );
    let (champion, decisions) = registry_state(&store).await;
    assert_eq!(champion.as_deref(), Some("1"));
    let actor = "airflow:weekly_retrain".to_owned();
    assert_eq!(
        decisions,
        [Decided {
            actor: actor.clone(),
            version: "1".into(),
            promoted: true
        }]
    );
    // A retried promote (the same DAG run, so the same --idempotency-key) replays the first
    // attempt: no second decision in the audit log.
    let retry = ["tasks", "test", "weekly_retrain", "promote", run_id(&log)];
    ok(&mut airflow(&venv, &home, &work, &retry));
    assert_eq!(registry_state(&store).await.1, decisions);

    // The fare increase arrives as week 5.
    ok(&mut step(
        &taxi,
        &store,
        &data,
        &[
            "generate",
            "--weeks",
            "5",
            "--rows",
            "3000",
            "--shift-from",
            "5",
        ],
    ));
    let second = ok(&mut airflow(
        &venv,
        &home,
        &work,
        &["dags", "test", "weekly_retrain"],
    ));
    let log = String::from_utf8_lossy(&second.stdout).into_owned()
        + &String::from_utf8_lossy(&second.stderr);
    assert!(
        log.contains("exit code 99"),
        "{}",
        support::tail(log.as_bytes())
    );
    let expected = states(&[
        ("deploy", "skipped"),
        ("promote", "skipped"),
        ("train", "success"),
    ]);
    assert_eq!(
        sorted(task_states(&venv, &home, &work, "weekly_retrain", &log)),
        expected
    );
    let (champion, decisions) = registry_state(&store).await;
    assert_eq!(
        champion.as_deref(),
        Some("1"),
        "the worse model did not move champion"
    );
    assert_eq!(
        decisions[1],
        Decided {
            actor,
            version: "2".into(),
            promoted: false
        }
    );
}

/// `reviewed_release` under `airflow dags test`: the DAG trains, requests a review and
/// waits; only when a reviewer approves (here `mlops models approve` by "alice") does it
/// promote, behind the approval and MAPE gates, and deploy.
#[tokio::test(flavor = "multi_thread")]
async fn airflow_reviewed_release_waits_for_the_approval_then_promotes() {
    let venv = require_env("MLOPS_TEST_VENV_AIRFLOW");
    let _turn = take_turn();
    let tmp = tempfile::tempdir().unwrap();
    let (home, work) = (tmp.path().join("airflow"), tmp.path().join("work"));
    link_binaries(&work);
    let taxi = work.join("bin/taxi_fare");
    let (store, data) = (work.join("store"), work.join("data"));
    ok(&mut airflow(&venv, &home, &work, &["db", "migrate"]));
    ok(&mut step(
        &taxi,
        &store,
        &data,
        &["generate", "--weeks", "4", "--rows", "3000"],
    ));

    // The reviewers' chats: a loopback receiver standing in for Slack and Teams.
    let (hooks, received) = receiver().await;
    let approval_url = "https://mlops.example.com/approvals/taxi-fare/1";
    let log_path = tmp.path().join("dags-test.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let started = Instant::now();
    let mut dags_test = airflow(&venv, &home, &work, &["dags", "test", "reviewed_release"])
        .env("MLOPS_SLACK_WEBHOOK", format!("{hooks}/slack"))
        .env("MLOPS_TEAMS_WEBHOOK", format!("{hooks}/teams"))
        .env("MLOPS_ALLOW_PRIVATE_WEBHOOKS", "1")
        .env("APPROVAL_URL", approval_url)
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap();
    // Wait for the review request; the DAG must not promote before anyone approved.
    let requested = loop {
        let records = support::approvals(&store).await;
        if !records.is_empty() {
            break records;
        }
        if let Some(status) = dags_test.try_wait().unwrap() {
            let log = std::fs::read(&log_path).unwrap();
            panic!(
                "dags test ended ({status}) before a review was requested:\n{}",
                support::tail(&log)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no review requested"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let actor = "airflow:reviewed_release".to_owned();
    assert_eq!(
        requested,
        [(actor.clone(), actor.clone(), ApprovalState::Requested)]
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        dags_test.try_wait().unwrap().is_none(),
        "the DAG must wait for the review"
    );
    // Both chats were told, with the button to the approval page.
    let told = received.lock().unwrap().clone();
    let chats: Vec<&str> = told.iter().map(|(chat, _)| chat.as_str()).collect();
    assert_eq!(chats.len(), 2, "{told:?}");
    assert!(
        chats.contains(&"slack") && chats.contains(&"teams"),
        "{told:?}"
    );
    for (chat, body) in &told {
        assert!(
            body.contains("taxi-fare") && body.contains(approval_url),
            "{chat}: {body}"
        );
    }
    assert_eq!(
        registry_state(&store).await.0,
        None,
        "nothing promoted before the approval"
    );

    let mut approve = Command::new(support::mlops());
    approve.args(["models", "approve", "--name", "taxi-fare", "--version", "1"]);
    approve.args(["--alias", "champion", "--by", "alice", "--actor", "alice"]);
    ok(approve.env("MLOPS_STORE", &store));
    let status = loop {
        if let Some(status) = dags_test.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "dags test did not finish"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    eprintln!(
        "[{:>6.1} s] airflow dags test reviewed_release (with the review)",
        started.elapsed().as_secs_f64()
    );
    let log = String::from_utf8_lossy(&std::fs::read(&log_path).unwrap()).into_owned();
    assert!(
        status.success() && log.contains("state=success"),
        "{}",
        support::tail(log.as_bytes())
    );
    let tasks = [
        "deploy",
        "promote",
        "request_review",
        "train",
        "wait_for_review",
    ];
    let expected = states(&tasks.map(|t| (t, "success")));
    assert_eq!(
        sorted(task_states(&venv, &home, &work, "reviewed_release", &log)),
        expected
    );

    let (champion, decisions) = registry_state(&store).await;
    assert_eq!(champion.as_deref(), Some("1"));
    assert_eq!(
        decisions,
        [Decided {
            actor: actor.clone(),
            version: "1".into(),
            promoted: true
        }]
    );
    let records = support::approvals(&store).await;
    assert_eq!(
        records[1],
        (
            "alice".to_owned(),
            "alice".to_owned(),
            ApprovalState::Approved
        )
    );
}

/// Every POST body a loopback receiver got, by its path (`slack`, `teams`).
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// An HTTP receiver on a loopback port answering 200 to every POST; its base URL.
async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let state = Arc::clone(&got);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/{chat}",
        axum::routing::post(
            move |axum::extract::Path(chat): axum::extract::Path<String>, body: String| {
                state.lock().unwrap().push((chat, body));
                async { "ok" }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), got)
}

/// GETs `path` on the Airflow API with the service's token. A server error is retried for up
/// to a minute: Airflow 3 on SQLite answers 500 "Database error" while its scheduler holds
/// the database past SQLite's busy timeout.
async fn api(client: &reqwest::Client, path: &str) -> Value {
    let url = format!("{}{path}", require_env("MLOPS_TEST_AIRFLOW_URL"));
    let token = require_env("MLOPS_TEST_AIRFLOW_TOKEN");
    let started = Instant::now();
    loop {
        let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
        let status = response.status();
        if status.is_server_error() && started.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        assert!(status.is_success(), "GET {url}: {status}");
        return response.json().await.unwrap();
    }
}

/// `drift_retrain` on a running Airflow: our `drift` step finds the fare increase in the new
/// week and posts an asset event to the API server; the scheduler starts the DAG, which
/// retrains on the new regime and promotes; the audit log names the DAG.
#[tokio::test(flavor = "multi_thread")]
async fn airflow_drift_event_from_our_step_starts_the_retraining_dag() {
    let url = require_env("MLOPS_TEST_AIRFLOW_URL");
    let token = require_env("MLOPS_TEST_AIRFLOW_TOKEN");
    let work = std::path::PathBuf::from(require_env("MLOPS_TEST_AIRFLOW_WORKDIR"));
    let _turn = take_turn();
    link_binaries(&work);
    let taxi = work.join("bin/taxi_fare");
    let (store, data) = (work.join("store"), work.join("data"));
    // The weekly pipeline's result (as the other test shows it): champion v1 on 4 weeks.
    ok(&mut step(
        &taxi,
        &store,
        &data,
        &[
            "generate",
            "--weeks",
            "4",
            "--rows",
            "3000",
            "--shift-from",
            "5",
        ],
    ));
    ok(&mut step(
        &taxi,
        &store,
        &data,
        &["train", "--actor", "weekly"],
    ));
    ok(&mut step(
        &taxi,
        &store,
        &data,
        &["promote", "--version", "1", "--actor", "weekly"],
    ));
    let client = reqwest::Client::new();
    let runs_before = api(&client, "/api/v2/dags/drift_retrain/dagRuns").await["total_entries"]
        .as_u64()
        .unwrap();

    // A calm week posts nothing; the shifted one posts the event.
    let calm = ok(&mut step(
        &taxi,
        &store,
        &data,
        &[
            "drift",
            "--airflow-url",
            &url,
            "--asset",
            "mlops://taxi-fare/drift",
        ],
    ));
    assert_eq!(last_json(&calm)["airflow_event"], Value::Null);
    ok(&mut step(
        &taxi,
        &store,
        &data,
        &[
            "generate",
            "--weeks",
            "5",
            "--rows",
            "3000",
            "--shift-from",
            "5",
        ],
    ));
    let mut drift = step(
        &taxi,
        &store,
        &data,
        &[
            "drift",
            "--airflow-url",
            &url,
            "--asset",
            "mlops://taxi-fare/drift",
        ],
    );
    let posted = last_json(&ok(drift.env("AIRFLOW_API_TOKEN", &token)));
    assert_eq!(posted["dataset_drift"], true, "{posted}");
    assert!(posted["airflow_event"]["event_id"].is_number(), "{posted}");

    // The scheduler starts the asset-triggered run; wait for it to finish.
    let started = Instant::now();
    let run = loop {
        let runs = api(
            &client,
            "/api/v2/dags/drift_retrain/dagRuns?order_by=-run_after",
        )
        .await;
        assert!(
            runs["total_entries"].as_u64().unwrap() <= runs_before + 1,
            "{runs}"
        );
        let newest = runs["dag_runs"].as_array().unwrap().first().cloned();
        if let Some(run) =
            newest.filter(|_| runs["total_entries"].as_u64() == Some(runs_before + 1))
        {
            assert_eq!(run["run_type"], "asset_triggered", "{run}");
            if ["success", "failed"].contains(&run["state"].as_str().unwrap_or("")) {
                break run;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no finished drift_retrain run: {runs}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    eprintln!(
        "[{:>6.1} s] drift_retrain: event to finished run",
        started.elapsed().as_secs_f64()
    );
    let id = run["dag_run_id"].as_str().unwrap();
    assert_eq!(run["state"], "success", "{run}");
    let tasks = api(
        &client,
        &format!("/api/v2/dags/drift_retrain/dagRuns/{id}/taskInstances"),
    )
    .await;
    let mut states: Vec<(String, String)> = (tasks["task_instances"].as_array().unwrap().iter())
        .map(|t| {
            (
                t["task_id"].as_str().unwrap().to_owned(),
                t["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    states.sort();
    let expected =
        ["cause", "deploy", "promote", "retrain"].map(|t| (t.to_owned(), "success".to_owned()));
    assert_eq!(states, expected);
    // The run knew why it started: the event's extra names the drifted columns.
    let cause = api(
        &client,
        &format!(
            "/api/v2/dags/drift_retrain/dagRuns/{id}/taskInstances/cause/xcomEntries/return_value"
        ),
    )
    .await;
    let columns = cause["value"]["drifted_columns"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(columns.contains(&Value::from("fare_amount")), "{cause}");

    let (champion, decisions) = registry_state(&store).await;
    assert_eq!(champion.as_deref(), Some("2"));
    let last = decisions.last().unwrap();
    assert_eq!(
        last,
        &Decided {
            actor: "airflow:drift_retrain".into(),
            version: "2".into(),
            promoted: true
        }
    );
}
