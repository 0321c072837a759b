//! Shared fixtures: test models, a real server on 127.0.0.1:0, and a reqwest client.

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use mlops_serve::runtime::linear::{LinearFile, LinearModel};
use mlops_serve::{Datatype, Model, ModelMetadata, Result, Server, Tensor, TensorData, TensorSpec};

/// A running server: its base URL and the handle that stops it.
pub(crate) struct Running {
    pub(crate) base: String,
    pub(crate) server: Server,
    pub(crate) client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<mlops_serve::Result<()>>>,
}

impl Running {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server (no drain: tests of the graceful path use `serve` directly).
    pub(crate) async fn stop(mut self) {
        drop(self.stop.take());
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// Serves `server` on a fresh loopback port.
pub(crate) async fn start(server: Server) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(mlops_serve::serve(listener, server.clone(), async move {
        let _ = stopped.await;
    }));
    Running {
        base: format!("http://{addr}"),
        server,
        client: reqwest::Client::new(),
        stop: Some(stop),
        task: Some(task),
    }
}

/// `y = x · [1, 2, 3] + 0.5` (FP32, 3 features, 1 output), named `lin`.
pub(crate) fn linear(name: &str, version: Option<&str>) -> Arc<dyn Model> {
    let file = LinearFile::linear(vec![vec![1.0, 2.0, 3.0]], vec![0.5]);
    Arc::new(LinearModel::from_file(file, name, version).unwrap())
}

/// The linear model's answer for one row.
pub(crate) fn linear_expected(row: [f32; 3]) -> f32 {
    row[0] + 2.0 * row[1] + 3.0 * row[2] + 0.5
}

/// Returns its input `x` as output `y`, for any datatype, shape `[-1, -1]`.
pub(crate) struct Echo(ModelMetadata);

impl Echo {
    #[allow(clippy::new_ret_no_self)] // Tests want the trait object.
    pub(crate) fn new(name: &str, datatype: Datatype) -> Arc<dyn Model> {
        Arc::new(Echo(ModelMetadata {
            name: name.into(),
            version: None,
            platform: "test_echo".into(),
            inputs: vec![TensorSpec::new("x", datatype, [-1, -1])],
            outputs: vec![TensorSpec::new("y", datatype, [-1, -1])],
        }))
    }
}

impl Model for Echo {
    fn metadata(&self) -> &ModelMetadata {
        &self.0
    }
    fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        Ok(inputs
            .into_iter()
            .map(|t| Tensor {
                name: "y".into(),
                data: t.data,
            })
            .collect())
    }
    fn is_cheap(&self, _inputs: &[Tensor]) -> bool {
        true
    }
}

/// `y = 2x` over FP64 `[-1, 1]`, run on the blocking pool; each call waits for a permit on
/// `gate` when one is set, and records its batch size (rows).
pub(crate) struct Gated {
    metadata: ModelMetadata,
    gate: Mutex<Option<mpsc::Receiver<()>>>,
    pub(crate) batches: Mutex<Vec<usize>>,
}

impl Gated {
    /// The model and the sender that releases one call per message (drop it to release all).
    pub(crate) fn new(name: &str) -> (Arc<Gated>, mpsc::Sender<()>) {
        let (tx, rx) = mpsc::channel();
        let model = Arc::new(Gated {
            metadata: ModelMetadata {
                name: name.into(),
                version: None,
                platform: "test_gated".into(),
                inputs: vec![TensorSpec::new("x", Datatype::Fp64, [-1, 1])],
                outputs: vec![TensorSpec::new("y", Datatype::Fp64, [-1, 1])],
            },
            gate: Mutex::new(Some(rx)),
            batches: Mutex::new(Vec::new()),
        });
        (model, tx)
    }
}

impl Model for Gated {
    fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }
    fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        {
            let gate = self.gate.lock().unwrap();
            if let Some(rx) = gate.as_ref() {
                // A closed channel (sender dropped) releases everything.
                let _ = rx.recv_timeout(Duration::from_secs(60));
            }
        }
        let x = inputs[0].data.as_array::<f64>().unwrap();
        self.batches.lock().unwrap().push(x.shape()[0]);
        Ok(vec![Tensor::new("y", x.mapv(|v| v * 2.0))])
    }
}

/// A JSON request with one FP32 input `input` of shape `[rows, 3]`.
pub(crate) fn linear_request(rows: &[[f32; 3]]) -> serde_json::Value {
    let data: Vec<f32> = rows.iter().flatten().copied().collect();
    serde_json::json!({
        "inputs": [{"name": "input", "shape": [rows.len(), 3], "datatype": "FP32", "data": data}]
    })
}

/// A binary-extension body: `header` JSON then `binary`; returns (body, header length).
pub(crate) fn binary_body(header: &serde_json::Value, binary: &[u8]) -> (Vec<u8>, usize) {
    let mut body = serde_json::to_vec(header).unwrap();
    let len = body.len();
    body.extend_from_slice(binary);
    (body, len)
}

/// Splits a binary-extension response into its JSON header and binary part.
pub(crate) fn split_binary(
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> (serde_json::Value, Vec<u8>) {
    let len: usize = headers
        .get("inference-header-content-length")
        .expect("a binary response has Inference-Header-Content-Length")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    (
        serde_json::from_slice(&body[..len]).unwrap(),
        body[len..].to_vec(),
    )
}

/// Asserts status and an `{"error": "..."}` body containing `needle`; returns the message.
pub(crate) async fn expect_error(response: reqwest::Response, status: u16, needle: &str) -> String {
    let got = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "status for body {body}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "body {body}"
    );
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    let object = value.as_object().unwrap();
    assert_eq!(object.len(), 1, "only an error field: {body}");
    let message = object["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains(needle),
        "error {message:?} should mention {needle:?}"
    );
    message
}

/// Polls `/metrics` until `predicate` holds on the text (bounded: fails after 30 s).
pub(crate) async fn wait_for_metrics(
    running: &Running,
    predicate: impl Fn(&str) -> bool,
) -> String {
    for _ in 0..3000 {
        let text = running
            .client
            .get(running.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if predicate(&text) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("metrics never reached the expected state");
}

/// The value of the sample `name{labels}` in an exposition, parsed strictly.
pub(crate) fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let key = format!("{name}{{{labels}}}");
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        l.strip_prefix(&key)
            .map(|v| v.trim().parse::<f64>().unwrap())
    })
}

/// Builds a tensor for tests.
pub(crate) fn tensor<T: mlops_serve::Element>(shape: &[usize], values: Vec<T>) -> TensorData {
    TensorData::from_vec(shape, values).unwrap()
}
