//! `/metrics` checked by Prometheus' own linter, `promtool check metrics` (Debian package
//! `prometheus`, made available by `scripts/test.sh` as `MLOPS_TEST_PROMTOOL`), after traffic
//! that includes successes and errors.

use std::io::Write;
use std::process::{Command, Stdio};

use mlops_core::testing::{PROMTOOL, require_env};
use mlops_serve::Server;
use serde_json::json;

use crate::triton::int64_model;
use crate::util::{app, linear, linear_request};

/// Pipes `text` into `promtool check metrics`; returns (success, stdout + stderr).
fn promtool_check(text: String) -> (bool, String) {
    let promtool = require_env(PROMTOOL);
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {promtool}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_check_after_successes_and_errors() {
    let server = Server::builder()
        .model(linear("lin", Some("1")))
        .model(int64_model())
        .build()
        .unwrap();
    let running = app(server);
    let client = &running.client;
    let infer = |path: &str| running.url(path);

    // Successes, on both models.
    for i in 0..5 {
        let r = client
            .post(infer("/v2/models/lin/versions/1/infer"))
            .json(&linear_request(&[[i as f32, 1.0, 2.0]]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = client
        .post(infer("/v2/models/int64/infer"))
        .json(&json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "INT64", "data": [1, 2, 3, 4]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Errors: bad shape (400), wrong datatype (400), malformed JSON (400), unknown model (404),
    // unknown version (404).
    let bad = [
        (
            "/v2/models/lin/infer",
            json!({"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]})
                .to_string(),
            400,
        ),
        (
            "/v2/models/lin/infer",
            json!({"inputs": [{"name": "input", "shape": [1, 3], "datatype": "INT64", "data": [1, 2, 3]}]})
                .to_string(),
            400,
        ),
        ("/v2/models/int64/infer", "{\"inputs\": [".to_owned(), 400),
        ("/v2/models/nope/infer", linear_request(&[[1.0, 2.0, 3.0]]).to_string(), 404),
        ("/v2/models/lin/versions/9/infer", linear_request(&[[1.0, 2.0, 3.0]]).to_string(), 404),
    ];
    for (path, body, status) in bad {
        let r = client.post(infer(path)).body(body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
    }

    let response = client.get(running.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();

    let (ok, report) = promtool_check(text.clone());
    assert!(
        ok,
        "promtool check metrics failed:\n{report}\n--- metrics ({content_type}) ---\n{text}"
    );

    // The families the issue asks for, with the per-model series.
    for family in [
        "mlops_serve_requests",
        "mlops_serve_queue_seconds",
        "mlops_serve_inference_seconds",
        "mlops_serve_request_seconds",
        "mlops_serve_batch_size",
        "mlops_serve_in_flight",
    ] {
        // OpenMetrics names a counter family without `_total`, the text format 0.0.4 with it.
        let declared = |name: &str| {
            text.lines()
                .any(|l| l.starts_with(&format!("# TYPE {name} ")))
        };
        assert!(
            declared(family) || declared(&format!("{family}_total")),
            "family {family} missing:\n{text}"
        );
    }
    let requests = |model: &str, version: &str, outcome: &str| -> f64 {
        let prefix = format!(
            "mlops_serve_requests_total{{model=\"{model}\",version=\"{version}\",outcome=\"{outcome}\"}} "
        );
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no sample {prefix}in\n{text}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(requests("lin", "1", "success"), 5.0);
    assert_eq!(requests("lin", "1", "invalid"), 2.0);
    assert_eq!(requests("int64", "", "success"), 1.0);
    assert_eq!(requests("int64", "", "invalid"), 1.0);

    // The check itself is not vacuous: promtool rejects a broken exposition.
    let (ok, _) = promtool_check(format!("{text}\nmlops_serve_bogus{{ 1\n"));
    assert!(!ok, "promtool accepted a malformed exposition");
}

/// Issue 12: the families of a followed alias (model info by role, swaps by outcome, swap
/// time, source errors) after a swap that failed and one that succeeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_metrics_pass_promtool_check() {
    use std::sync::Arc;
    use std::time::Duration;

    use mlops_serve::follow::FollowOptions;
    use mlops_serve::runtime::linear::LinearFile;
    use mlops_serve::source::FileSource;

    let dir = tempfile::tempdir().unwrap();
    let source = Arc::new(FileSource::new());
    for version in 1..=2 {
        let path = dir.path().join(format!("v{version}.json"));
        LinearFile::linear(vec![vec![f64::from(version), 0.0, 0.0]], vec![0.0])
            .write(&path)
            .unwrap();
        source.add_version("price", &version.to_string(), path);
    }
    let garbage = dir.path().join("bad.json");
    std::fs::write(&garbage, b"{}").unwrap();
    source.add_version("price", "3", garbage);
    source.set_alias("price", "champion", "1");
    let server = Server::builder().build().unwrap();
    let follower = server
        .models()
        .follow(
            source.clone(),
            "price",
            "champion".parse().unwrap(),
            FollowOptions::default().poll_interval(Duration::from_millis(5)),
        )
        .await
        .unwrap();
    let mut served = follower.subscribe();
    source.set_alias("price", "champion", "3");
    let failed = r#"mlops_serve_model_swaps_total{model="price",outcome="load_failed"} 1"#;
    for _ in 0..3000 {
        if server.metrics_text().contains(failed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    source.set_alias("price", "champion", "2");
    served.wait_for(|s| s.version == "2").await.unwrap();
    // A canary and a shadow on version 1, and traffic: their families get samples too.
    source.set_alias("price", "canary", "1");
    let _canary = server
        .models()
        .follow(
            source.clone(),
            "price",
            "canary".parse().unwrap(),
            FollowOptions::default().rollout(mlops_serve::Rollout::Canary(50.0)),
        )
        .await
        .unwrap();
    source.add_version("price", "4", dir.path().join("v2.json"));
    source.set_alias("price", "shadow", "4");
    let _shadow = server
        .models()
        .follow(
            source.clone(),
            "price",
            "shadow".parse().unwrap(),
            FollowOptions::default().rollout(mlops_serve::Rollout::Shadow(100.0)),
        )
        .await
        .unwrap();
    let running = app(server.clone());
    for _ in 0..20 {
        let r = running
            .client
            .post(running.url("/v2/models/price/infer"))
            .json(&linear_request(&[[1.0, 0.0, 0.0]]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    for _ in 0..3000 {
        if server
            .metrics_text()
            .contains("mlops_serve_shadow_difference_count")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let response = running
        .client
        .get(running.url("/metrics"))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    let (ok, report) = promtool_check(text.clone());
    assert!(ok, "promtool check metrics failed:\n{report}\n---\n{text}");
    for needle in [
        failed,
        r#"mlops_serve_model_swaps_total{model="price",outcome="success"} 1"#,
        r#"mlops_serve_model_info{model="price",version="2",alias="champion",role="stable"} 1"#,
        r#"mlops_serve_model_info{model="price",version="1",alias="champion",role="previous"} 1"#,
        r#"mlops_serve_swap_seconds_count{model="price"} 1"#,
        r#"mlops_serve_source_errors_total{model="price"} 0"#,
        r#"mlops_serve_model_info{model="price",version="1",alias="canary",role="canary"} 1"#,
        r#"mlops_serve_model_info{model="price",version="4",alias="shadow",role="shadow"} 1"#,
        "mlops_serve_shadow_difference_count{",
        "mlops_serve_shadow_requests_total{",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
}
