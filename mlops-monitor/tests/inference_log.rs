//! The inference log through the capture: every observed request's rows on the store,
//! rolled by rows, read back and joined with delayed labels for per-window performance.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use mlops_core::StoreUri;
use mlops_drift::arrow_array::cast::AsArray;
use mlops_monitor::performance::{Task, evaluate, join, regression};
use mlops_monitor::{CaptureOptions, FixedReferences, LogOptions, MonitorMetrics, read_log, start};
use tower::ServiceExt;

use crate::capture::server;

async fn infer(server: &mlops_serve::Server, id: &str, rows: &[[f32; 2]]) {
    let data: Vec<f32> = rows.iter().flatten().copied().collect();
    let body = serde_json::json!({
        "id": id,
        "inputs": [{"name": "input", "shape": [rows.len(), 2], "datatype": "FP32", "data": data}]
    });
    let request = Request::post("/v2/models/lin/infer")
        .header("content-type", "application/json")
        .header("host", "localhost")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let status = server.router().oneshot(request).await.unwrap().status();
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_logged_rolled_and_joined_with_labels() {
    let dir = tempfile::tempdir().unwrap();
    let root = StoreUri::parse(dir.path().to_str().unwrap())
        .unwrap()
        .open()
        .unwrap();
    let log = LogOptions {
        max_rows: 4,
        ..LogOptions::default()
    };
    let options = CaptureOptions::default().with_inference_log(root.clone(), log);
    let (capture, worker) = start(
        options,
        Arc::new(FixedReferences::new()),
        Vec::new(),
        Arc::new(MonitorMetrics::new()),
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    let server = server(capture, "4");
    for i in 0..6 {
        infer(&server, &format!("r{i}"), &[[i as f32, 1.0]]).await;
    }
    // The log's time has millisecond resolution and evaluation orders rows by (time, id): on a
    // fast machine the batch could share r5's millisecond and sort before the r rows by id.
    // A pause makes its time strictly later, so the windows below are the same on any machine.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    infer(&server, "batch", &[[10.0, 2.0], [11.0, 4.0], [12.0, 6.0]]).await;
    tokio::task::spawn_blocking(move || worker.stop())
        .await
        .unwrap();
    let logged = read_log(&root, Some("lin")).await.unwrap();
    let files = walk(dir.path());
    // r0..r3 fill the first file; r4, r5 and the 3-row request pass 4 rows: the second.
    assert_eq!(files.len(), 2, "rolled at 4 rows: {files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.contains("model=lin/version=4/date=")),
        "{files:?}"
    );
    let mut ids = Vec::new();
    for (key, batch) in &logged {
        assert_eq!((key.model.as_str(), key.version.as_str()), ("lin", "4"));
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "id",
                "request_id",
                "row",
                "time",
                "in.input[0]",
                "in.input[1]",
                "out.output"
            ]
        );
        ids.extend(
            batch
                .column(0)
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap().to_owned()),
        );
    }
    ids.sort();
    assert_eq!(
        ids,
        [
            "batch:0", "batch:1", "batch:2", "r0", "r1", "r2", "r3", "r4", "r5"
        ]
    );
    // Delayed labels for all but r5: the prediction is x + 0.5 z.
    let truth = |x: f64, z: f64| x + 0.5 * z + if x > 5.0 { 1.0 } else { 0.25 };
    let mut labels = HashMap::new();
    for i in 0..5 {
        labels.insert(format!("r{i}"), truth(f64::from(i), 1.0));
    }
    for (j, (x, z)) in [(10.0, 2.0), (11.0, 4.0), (12.0, 6.0)].iter().enumerate() {
        labels.insert(format!("batch:{j}"), truth(*x, *z));
    }
    let joined = join(&logged, &labels, None).unwrap();
    assert_eq!(joined.len(), 8);
    let windows = evaluate(joined, Task::Regression, 5).unwrap();
    assert_eq!(windows.len(), 2);
    let first = windows[0].regression.unwrap();
    let expected = regression(&[0.75, 1.75, 2.75, 3.75, 4.75], &[0.5, 1.5, 2.5, 3.5, 4.5]).unwrap();
    assert_eq!(first, expected);
    let second = windows[1].regression.unwrap();
    assert_eq!(second.n, 3);
    assert!((second.mae - 1.0).abs() < 1e-12);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.to_str().unwrap().to_owned());
        }
    }
    out
}

/// POSTs one row without an OIP `id`; the response's JSON.
async fn infer_without_id(server: &mlops_serve::Server) -> serde_json::Value {
    let body = serde_json::json!({
        "inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [3.0, 2.0]}]
    });
    let request = Request::post("/v2/models/lin/infer")
        .header("content-type", "application/json")
        .header("host", "localhost")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let response = server.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_an_id_gets_one_echoed_in_the_response_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let root = StoreUri::parse(dir.path().to_str().unwrap())
        .unwrap()
        .open()
        .unwrap();
    let options = CaptureOptions::default().with_inference_log(root.clone(), LogOptions::default());
    let (capture, worker) = start(
        options,
        Arc::new(FixedReferences::new()),
        Vec::new(),
        Arc::new(MonitorMetrics::new()),
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    let server = server(capture, "4");
    let first = infer_without_id(&server).await;
    let second = infer_without_id(&server).await;
    // A request with its own id keeps it.
    infer(&server, "given", &[[1.0, 1.0]]).await;
    tokio::task::spawn_blocking(move || worker.stop())
        .await
        .unwrap();

    let echoed: Vec<String> = [&first, &second]
        .iter()
        .map(|r| {
            r["id"]
                .as_str()
                .unwrap_or_else(|| panic!("no id in {r}"))
                .to_owned()
        })
        .collect();
    assert_ne!(echoed[0], echoed[1], "each request gets its own id");
    for id in &echoed {
        let uuid = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(uuid.get_version_num(), 7, "{id}");
    }
    let mut logged = Vec::new();
    for (_, batch) in read_log(&root, Some("lin")).await.unwrap() {
        let column = |name: &str| {
            let index = batch.schema().index_of(name).unwrap();
            batch.column(index).as_string::<i32>().clone()
        };
        let (ids, requests) = (column("id"), column("request_id"));
        for row in 0..batch.num_rows() {
            logged.push((ids.value(row).to_owned(), requests.value(row).to_owned()));
        }
    }
    logged.sort();
    let mut expected: Vec<(String, String)> = echoed
        .iter()
        .map(|id| (id.clone(), id.clone()))
        .chain([("given".to_owned(), "given".to_owned())])
        .collect();
    expected.sort();
    assert_eq!(logged, expected);
}

#[tokio::test]
async fn an_unobserved_request_without_an_id_is_answered_without_one() {
    let file = mlops_serve::runtime::linear::LinearFile::linear(vec![vec![1.0, 0.5]], vec![0.0]);
    let model =
        mlops_serve::runtime::linear::LinearModel::from_file(file, "lin", Some("4")).unwrap();
    let server = mlops_serve::Server::builder()
        .model(Arc::new(model))
        .build()
        .unwrap();
    let answer = infer_without_id(&server).await;
    assert_eq!(answer["outputs"][0]["data"][0], 4.0, "{answer}");
    assert!(answer.get("id").is_none(), "{answer}");
}
