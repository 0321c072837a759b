//! `mlops monitor run --trigger-airflow` against the Airflow 3 of scripts/svc/airflow.sh: a
//! drifted window posts an asset event for the asset `drift_retrain` is scheduled on, and
//! Airflow starts a run of that DAG whose triggering event is ours.
//!
//! The DAG's tasks retrain the taxi-fare template in the service's shared work folder, which
//! the orchestrator tests (tests/orchestrators/airflow.rs) own; so this test asserts on the
//! run being created from our event, then marks it failed before `retrain` can start and
//! waits until none of its tasks is left running.

use std::path::Path;
use std::time::{Duration, Instant};

use mlops_core::testing::require_env;
use serde_json::Value;

use crate::util::{mlops, model_folder, ok, text};

const DAG: &str = "drift_retrain";
/// The asset `drift_retrain` is scheduled on (templates/airflow/dags/drift_retrain.py).
const ASSET: &str = "mlops://taxi-fare/drift";

/// An Airflow REST call with the service's token; the JSON answer. Every call here is
/// idempotent (GETs, and a PATCH to a fixed state), so a server error is retried for up to
/// a minute: Airflow 3 on SQLite answers 500 "Database error" when a write waits out SQLite's
/// busy timeout while its scheduler holds the database (seen in a cold CI run on the PATCH).
async fn airflow(
    client: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let url = format!("{}{path}", require_env("MLOPS_TEST_AIRFLOW_URL"));
    let started = Instant::now();
    let mut retries = 0;
    loop {
        let mut request = client
            .request(method.clone(), &url)
            .bearer_auth(require_env("MLOPS_TEST_AIRFLOW_TOKEN"));
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let answer = response.text().await.unwrap();
        if status.is_server_error() && started.elapsed() < Duration::from_secs(60) {
            retries += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        assert!(
            status.is_success(),
            "{method} {url}: {status} (after {retries} retries of server errors): {answer}"
        );
        return serde_json::from_str(&answer).unwrap();
    }
}

/// A run id as one path segment (`+` and `:` of its timestamp escaped).
fn segment(id: &str) -> String {
    id.replace('%', "%25")
        .replace('+', "%2B")
        .replace(':', "%3A")
}

/// The ids of the DAG's runs.
async fn run_ids(client: &reqwest::Client) -> Vec<String> {
    let runs = airflow(
        client,
        reqwest::Method::GET,
        &format!("/api/v2/dags/{DAG}/dagRuns?limit=100&order_by=-run_after"),
        None,
    )
    .await;
    (runs["dag_runs"].as_array().unwrap().iter())
        .map(|r| r["dag_run_id"].as_str().unwrap().to_owned())
        .collect()
}

/// A store with model `churn` v1 (alias champion) registered with the profile of the sample
/// reference data.
fn registered(dir: &Path) -> String {
    let store = dir.join("store").to_str().unwrap().to_owned();
    let profile = dir.join("profile.json").to_str().unwrap().to_owned();
    let reference = "examples/data/reference.parquet";
    ok(&mlops(&[
        "profile",
        "build",
        "--reference",
        reference,
        "--out",
        &profile,
    ]));
    let folder = model_folder(dir, "model", "churn");
    let register = [
        "models",
        "--store",
        &store,
        "register",
        "--name",
        "churn",
        "--path",
        &folder,
        "--drift-profile",
        &profile,
    ];
    ok(&mlops(&register));
    let promote = [
        "models",
        "--store",
        &store,
        "promote",
        "--name",
        "churn",
        "--version",
        "1",
        "--alias",
        "champion",
    ];
    ok(&mlops(&promote));
    store
}

#[tokio::test]
async fn a_drift_event_of_monitor_run_starts_a_run_of_the_airflow_dag() {
    let url = require_env("MLOPS_TEST_AIRFLOW_URL");
    let token = require_env("MLOPS_TEST_AIRFLOW_TOKEN");
    let dir = tempfile::tempdir().unwrap();
    let store = registered(dir.path());
    let token_file = dir.path().join("airflow-token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let client = reqwest::Client::new();
    let before = run_ids(&client).await;

    // The sample current data drifts on a third of its features in its first window.
    let run = mlops(&[
        "monitor",
        "--store",
        &store,
        "run",
        "--model",
        "churn@champion",
        "--current",
        "examples/data/current.parquet",
        "--window-rows",
        "1500",
        "--trigger",
        "drift_share>=0.3",
        "--trigger-airflow",
        &url,
        "--airflow-asset",
        ASSET,
        "--airflow-token-file",
        token_file.to_str().unwrap(),
        "--allow-private-webhooks",
        "--format",
        "json",
    ]);
    assert_eq!(run.status.code(), Some(3), "{}", text(&run.stderr));
    let result: Value = serde_json::from_slice(&run.stdout).unwrap();
    let events: Vec<String> = (result["windows"].as_array().unwrap().iter())
        .flat_map(|w| w["events"].as_array().unwrap().clone())
        .map(|e| e.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events.len(), 1, "{result}");
    let event = &events[0];
    // Airflow acknowledged it: the outbox holds the event and its acknowledgement.
    let outbox = walk(&Path::new(&store).join("monitor/_outbox"));
    let written = outbox.iter().filter(|p| p.ends_with(".json")).count();
    let acknowledged = outbox.iter().filter(|p| p.ends_with(".ack")).count();
    assert_eq!((written, acknowledged), (1, 1), "{outbox:?}");

    // The scheduler turns the asset event into a run of drift_retrain.
    let started = Instant::now();
    let (id, triggering) = 'found: loop {
        for id in run_ids(&client).await {
            if before.contains(&id) {
                continue;
            }
            let path = format!(
                "/api/v2/dags/{DAG}/dagRuns/{}/upstreamAssetEvents",
                segment(&id)
            );
            let upstream = airflow(&client, reqwest::Method::GET, &path, None).await;
            let ours = (upstream["asset_events"].as_array().unwrap().iter())
                .find(|e| e["extra"]["mlops_event"]["id"].as_str() == Some(event))
                .cloned();
            if let Some(ours) = ours {
                break 'found (id, ours);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "no {DAG} run triggered by event {event} within 180 s (runs before: {before:?})"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let path = format!("/api/v2/dags/{DAG}/dagRuns/{}", segment(&id));
    let dag_run = airflow(&client, reqwest::Method::GET, &path, None).await;
    assert_eq!(dag_run["run_type"], "asset_triggered", "{dag_run}");
    // Airflow stored our body as the event's extra: the model, the window, the drift.
    assert_eq!(triggering["uri"], ASSET, "{triggering}");
    let sent = &triggering["extra"]["mlops_event"];
    assert_eq!(sent["model"], "churn", "{sent}");
    assert_eq!(sent["version"], "1", "{sent}");
    assert_eq!(sent["window"]["rows"], 1500, "{sent}");
    assert!(sent["drift_share"].as_f64().unwrap() >= 0.3, "{sent}");
    assert!(
        !sent["drifted_features"].as_array().unwrap().is_empty(),
        "{sent}"
    );

    // Stop the run before it retrains in the orchestrator tests' folder, and wait until no
    // task of it still runs.
    let stopped = airflow(
        &client,
        reqwest::Method::PATCH,
        &path,
        Some(serde_json::json!({"state": "failed"})),
    )
    .await;
    assert_eq!(stopped["state"], "failed", "{stopped}");
    let settled = Instant::now();
    loop {
        let tasks = airflow(
            &client,
            reqwest::Method::GET,
            &format!("{path}/taskInstances"),
            None,
        )
        .await;
        let states: Vec<&str> = (tasks["task_instances"].as_array().unwrap().iter())
            .map(|t| t["state"].as_str().unwrap_or("none"))
            .collect();
        if !states
            .iter()
            .any(|s| ["running", "queued", "scheduled", "restarting"].contains(s))
        {
            break;
        }
        assert!(
            settled.elapsed() < Duration::from_secs(120),
            "tasks of {id} still running: {tasks}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The files under `dir`, as paths relative to it.
fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(
                    path.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    found
}
