//! Batching, liveness under saturation, metrics, graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use mlops_serve::{Model, ModelOptions, Server};
use serde_json::{Value, json};

use crate::util::{Gated, app, linear, linear_request, sample, wait_for_metrics};

const GATED: &str = "model=\"gated\",version=\"\"";

/// Many concurrent callers with different row counts and values: while the only worker is
/// blocked, their requests queue and are batched; each caller must get exactly its own rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batched_rows_return_to_their_own_callers() {
    let (model, gate) = Gated::new("gated");
    let options = ModelOptions::default()
        .capacity(1, 256)
        .batching(64, Duration::ZERO);
    let server = Server::builder()
        .model_with(model.clone() as Arc<dyn Model>, options)
        .build()
        .unwrap();
    let running = app(server);
    let url = running.url("/v2/models/gated/infer");
    // The first request takes the worker and blocks in the model.
    let blocker = {
        let client = running.client.clone();
        let url = url.clone();
        tokio::spawn(async move {
            client.post(&url).json(&json!({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [0.5]}]})).send().await.unwrap()
        })
    };
    wait_for_metrics(&running, |t| {
        sample(t, "mlops_serve_in_flight", GATED) == Some(1.0)
    })
    .await;
    let callers = 40usize;
    let mut tasks = Vec::new();
    for caller in 0..callers {
        let client = running.client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let rows = 1 + caller % 3;
            let values: Vec<f64> = (0..rows).map(|r| (caller * 1000 + r) as f64).collect();
            let body = json!({"id": format!("c{caller}"), "inputs": [{"name": "x", "shape": [rows, 1], "datatype": "FP64", "data": values}]});
            let v: Value = client.post(&url).json(&body).send().await.unwrap().json().await.unwrap();
            (caller, values, v)
        }));
    }
    wait_for_metrics(&running, |t| {
        sample(t, "mlops_serve_in_flight", GATED) == Some((callers + 1) as f64)
    })
    .await;
    drop(gate); // release every call
    assert_eq!(blocker.await.unwrap().status(), 200);
    for task in tasks {
        let (caller, values, v) = task.await.unwrap();
        assert_eq!(v["id"], format!("c{caller}"));
        let expected: Vec<f64> = values.iter().map(|x| x * 2.0).collect();
        let got: Vec<f64> = serde_json::from_value(v["outputs"][0]["data"].clone()).unwrap();
        assert_eq!(got, expected, "caller {caller} got someone else's rows");
        assert_eq!(v["outputs"][0]["shape"], json!([values.len(), 1]));
    }
    let batches = model.batches.lock().unwrap().clone();
    let total_rows: usize = (0..callers).map(|c| 1 + c % 3).sum::<usize>() + 1;
    assert_eq!(batches.iter().sum::<usize>(), total_rows);
    assert!(
        batches.iter().any(|&b| b > 3),
        "requests were batched: {batches:?}"
    );
    assert!(
        batches.iter().all(|&b| b <= 64 || b == 1),
        "max batch size respected: {batches:?}"
    );
    let text = running.server.metrics_text();
    let batch_count = sample(&text, "mlops_serve_batch_size_count", GATED).unwrap();
    assert!(
        batch_count < (callers + 1) as f64,
        "fewer batches than requests"
    );
}

/// While every worker is blocked inside the model, liveness, readiness and metadata answer.
#[tokio::test]
async fn liveness_answers_while_workers_are_saturated() {
    let (model, gate) = Gated::new("gated");
    let server = Server::builder()
        .model_with(
            model as Arc<dyn Model>,
            ModelOptions::default().capacity(2, 8),
        )
        .build()
        .unwrap();
    let running = app(server);
    let url = running.url("/v2/models/gated/infer");
    let mut blocked = Vec::new();
    for _ in 0..6 {
        let client = running.client.clone();
        let url = url.clone();
        blocked.push(tokio::spawn(async move {
            client.post(&url).json(&json!({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [1]}]})).send().await.unwrap().status()
        }));
    }
    wait_for_metrics(&running, |t| {
        sample(t, "mlops_serve_in_flight", GATED) == Some(6.0)
    })
    .await;
    for _ in 0..20 {
        let r = running
            .client
            .get(running.url("/v2/health/live"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        running
            .client
            .get(running.url("/v2/health/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        running
            .client
            .get(running.url("/v2/models/gated"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Nothing finished while we probed.
    assert!(blocked.iter().all(|t| !t.is_finished()));
    drop(gate);
    for task in blocked {
        assert_eq!(task.await.unwrap(), 200);
    }
}

/// /metrics parses as a Prometheus exposition and counts what happened.
#[tokio::test]
async fn metrics_count_requests_by_outcome_with_histograms() {
    let running = app(Server::builder()
        .model(linear("lin", Some("3")))
        .build()
        .unwrap());
    for _ in 0..3 {
        let r = running
            .client
            .post(running.url("/v2/models/lin/infer"))
            .json(&linear_request(&[[1.0, 2.0, 3.0]]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = running
        .client
        .post(running.url("/v2/models/lin/infer"))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = running
        .client
        .get(running.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    let labels = "model=\"lin\",version=\"3\"";
    // Strict parse: every non-comment line is `name{labels} value` or `name value`.
    let mut types = std::collections::HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{line}"
        );
        // Each sample belongs to a declared family: same name, or a histogram's series.
        let declared = types.iter().any(|(family, kind)| {
            name == family
                || (kind == "histogram"
                    && ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|suffix| name == format!("{family}{suffix}")))
        });
        assert!(declared, "sample {name} has a TYPE line for its family");
    }
    assert!(
        !text.contains("# EOF"),
        "Prometheus text 0.0.4 has no EOF marker"
    );
    assert_eq!(types["mlops_serve_requests_total"], "counter");
    assert!(text.contains("# HELP mlops_serve_requests_total "));
    assert_eq!(types["mlops_serve_request_seconds"], "histogram");
    assert_eq!(types["mlops_serve_queue_seconds"], "histogram");
    assert_eq!(types["mlops_serve_inference_seconds"], "histogram");
    assert_eq!(types["mlops_serve_batch_size"], "histogram");
    assert_eq!(types["mlops_serve_in_flight"], "gauge");
    assert_eq!(
        sample(
            &text,
            "mlops_serve_requests_total",
            &format!("{labels},outcome=\"success\"")
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            "mlops_serve_requests_total",
            &format!("{labels},outcome=\"invalid\"")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "mlops_serve_requests_total",
            &format!("{labels},outcome=\"rejected\"")
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "mlops_serve_request_seconds_count", labels),
        Some(4.0)
    );
    assert_eq!(
        sample(&text, "mlops_serve_inference_seconds_count", labels),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, "mlops_serve_queue_seconds_count", labels),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, "mlops_serve_batch_size_count", labels),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, "mlops_serve_batch_size_sum", labels),
        Some(3.0)
    );
    assert_eq!(sample(&text, "mlops_serve_in_flight", labels), Some(0.0));
    // Scrapers that ask for OpenMetrics get it.
    let r = running
        .client
        .get(running.url("/metrics"))
        .header(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let open = r.text().await.unwrap();
    assert_eq!(open.lines().last(), Some("# EOF"));
    assert!(open.contains("# TYPE mlops_serve_requests counter"));
    assert_eq!(
        sample(
            &open,
            "mlops_serve_requests_total",
            &format!("{labels},outcome=\"success\"")
        ),
        Some(3.0)
    );
}

/// In-process graceful shutdown: readiness turns false while requests keep being served,
/// then in-flight requests finish before `serve` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_drains_in_flight_requests() {
    let (model, gate) = Gated::new("gated");
    let server = Server::builder()
        .model_with(
            model as Arc<dyn Model>,
            ModelOptions::default().capacity(4, 16),
        )
        .drain_delay(Duration::from_millis(200))
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (signal, signalled) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(mlops_serve::serve(listener, server, async move {
        let _ = signalled.await;
    }));
    let client = reqwest::Client::new();
    let mut in_flight = Vec::new();
    for i in 0..4 {
        let client = client.clone();
        let url = format!("{base}/v2/models/gated/infer");
        in_flight.push(tokio::spawn(async move {
            client.post(&url).json(&json!({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [i]}]})).send().await.unwrap()
        }));
    }
    loop {
        let text = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if sample(&text, "mlops_serve_in_flight", GATED) == Some(4.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    signal.send(()).unwrap();
    loop {
        let r = client
            .get(format!("{base}/v2/health/ready"))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        client
            .get(format!("{base}/v2/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    drop(gate);
    for (i, task) in in_flight.into_iter().enumerate() {
        let r = task.await.unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["outputs"][0]["data"], json!([i as f64 * 2.0]));
    }
    serving.await.unwrap().unwrap();
    assert!(
        client
            .get(format!("{base}/v2/health/live"))
            .send()
            .await
            .is_err(),
        "the listener is closed"
    );
}
