//! The monitor's exposition passes `promtool check metrics`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use mlops_core::Timestamp;
use mlops_core::testing::require_env;
use mlops_drift::DriftOptions;
use mlops_monitor::{MonitorMetrics, VersionKey, VersionMonitor, WindowPolicy};

use crate::util::{Shift, rows};

#[test]
fn the_monitor_metrics_pass_promtool() {
    let promtool = require_env("MLOPS_TEST_PROMTOOL");
    let options = Arc::new(DriftOptions::default());
    let profile = Arc::new(
        mlops_drift::ReferenceProfile::build(&[rows(1, 800, Shift::default())], &options).unwrap(),
    );
    let key = VersionKey {
        model: "fraud".into(),
        version: "3".into(),
    };
    let mut monitor = VersionMonitor::new(
        key.clone(),
        profile,
        options,
        WindowPolicy::rows(500).unwrap(),
    );
    let metrics = MonitorMetrics::new();
    let shift = Shift {
        x: 2.0,
        ..Shift::default()
    };
    for window in monitor
        .push(&rows(2, 1000, shift), Timestamp::now())
        .unwrap()
    {
        metrics.rows(&key, window.rows);
        metrics.window(&window);
    }
    metrics.dropped(&key, 3);
    let text = metrics.encode_prometheus();
    assert!(text.contains("mlops_drift_p_value{"), "{text}");
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool: {said}\n{text}");
    assert!(said.trim().is_empty(), "promtool warned: {said}\n{text}");
}

/// `/metrics` of a server with monitoring on (the server's families and the monitor's,
/// after windows closed) passes promtool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_metrics_with_monitoring_pass_promtool() {
    use axum::body::Body;
    use axum::http::Request;
    use mlops_drift::arrow_array::{Float64Array, RecordBatch};
    use mlops_drift::arrow_schema::{DataType, Field, Schema};
    use mlops_monitor::{CaptureOptions, FixedReferences, VersionReference, start};
    use mlops_serve::Server;
    use mlops_serve::runtime::linear::{LinearFile, LinearModel};
    use tower::ServiceExt;

    let promtool = require_env("MLOPS_TEST_PROMTOOL");
    let x: Vec<f64> = (0..500).map(|i| f64::from(i % 50)).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Float64, true),
        Field::new("b", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Float64Array::from(x.clone())),
            Arc::new(Float64Array::from(x)),
        ],
    )
    .unwrap();
    let profile =
        Arc::new(mlops_drift::ReferenceProfile::build(&[batch], &DriftOptions::default()).unwrap());
    let references = FixedReferences::new().with(
        "lin",
        VersionReference {
            profile,
            inputs: None,
            outputs: None,
        },
    );
    let options = CaptureOptions::default().with_windows(WindowPolicy::rows(100).unwrap());
    let metrics = Arc::new(MonitorMetrics::new());
    let (capture, worker) = start(
        options,
        Arc::new(references),
        Vec::new(),
        metrics,
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    let model = LinearModel::from_file(
        LinearFile::linear(vec![vec![1.0, 1.0]], vec![0.0]),
        "lin",
        Some("1"),
    )
    .unwrap();
    let server = Server::builder()
        .model(Arc::new(model))
        .observer(capture)
        .build()
        .unwrap();
    for shift in [0.0f32, 100.0] {
        let data: Vec<f32> = (0..200).map(|i| shift + (i % 50) as f32).collect();
        let body = serde_json::json!({"inputs": [{"name": "input", "shape": [100, 2], "datatype": "FP32", "data": data}]});
        let request = Request::post("/v2/models/lin/infer")
            .header("content-type", "application/json")
            .header("host", "localhost")
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap();
        assert_eq!(
            server.router().oneshot(request).await.unwrap().status(),
            200
        );
    }
    tokio::task::spawn_blocking(move || worker.stop())
        .await
        .unwrap();
    let request = Request::get("/metrics")
        .header("host", "localhost")
        .body(Body::empty())
        .unwrap();
    let response = server.router().oneshot(request).await.unwrap();
    let text = String::from_utf8(
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("mlops_drift_dataset_drift{model=\"lin\",version=\"1\"} 1"),
        "{text}"
    );
    assert!(text.contains("mlops_serve_requests_total"), "{text}");
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool: {said}\n{text}");
    assert!(said.trim().is_empty(), "promtool warned: {said}\n{text}");
}
