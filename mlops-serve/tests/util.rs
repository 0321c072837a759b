//! Shared fixtures: test models, an in-process client that answers through the router with
//! `tower::ServiceExt::oneshot` (no socket), and a real server on 127.0.0.1:0 for the tests
//! where the socket is the point (tritonclient, graceful shutdown).
//!
//! Both test binaries (`tests.rs`, `services.rs`) include this file and each uses a part.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, header};
use mlops_serve::runtime::linear::{LinearFile, LinearModel};
use mlops_serve::{Datatype, Model, ModelMetadata, Result, Server, Tensor, TensorData, TensorSpec};
use tower::ServiceExt;

/// A server under test, answered in-process.
pub(crate) struct App {
    pub(crate) server: Server,
    pub(crate) client: Client,
}

impl App {
    /// The request target for `path` (the in-process client needs no host).
    pub(crate) fn url(&self, path: &str) -> String {
        path.to_owned()
    }
}

/// `server`'s router behind an in-process client.
pub(crate) fn app(server: Server) -> App {
    App {
        client: Client::new(server.router()),
        server,
    }
}

/// A client that sends each request through `router.oneshot`, with the few methods of
/// `reqwest::Client` the tests use, so a test reads the same in-process or over a socket.
#[derive(Clone)]
pub(crate) struct Client {
    router: axum::Router,
}

impl Client {
    pub(crate) fn new(router: axum::Router) -> Self {
        Self { router }
    }

    pub(crate) fn get(&self, path: impl AsRef<str>) -> RequestBuilder {
        self.request("GET", path.as_ref())
    }

    pub(crate) fn post(&self, path: impl AsRef<str>) -> RequestBuilder {
        self.request("POST", path.as_ref())
    }

    fn request(&self, method: &str, path: &str) -> RequestBuilder {
        RequestBuilder {
            router: self.router.clone(),
            method: method.to_owned(),
            path: path.to_owned(),
            headers: HeaderMap::new(),
            body: Vec::new(),
        }
    }
}

/// One request being built.
pub(crate) struct RequestBuilder {
    router: axum::Router,
    method: String,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl RequestBuilder {
    pub(crate) fn header(mut self, name: &str, value: impl AsRef<str>) -> Self {
        self.headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value.as_ref()).unwrap(),
        );
        self
    }

    pub(crate) fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub(crate) fn json(mut self, value: &impl serde::Serialize) -> Self {
        self.body = serde_json::to_vec(value).unwrap();
        self.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self
    }

    /// Answers in-process; like `reqwest`, sends a `Host` header unless one was set.
    pub(crate) fn send(self) -> impl Future<Output = std::result::Result<Reply, Infallible>> {
        let mut request = Request::builder()
            .method(self.method.as_str())
            .uri(self.path.as_str())
            .body(Body::from(self.body))
            .unwrap();
        *request.headers_mut() = self.headers;
        request
            .headers_mut()
            .entry(header::HOST)
            .or_insert(HeaderValue::from_static("localhost"));
        let router = self.router;
        async move {
            let response = router.oneshot(request).await?;
            let (parts, body) = response.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        }
    }
}

/// A response read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: bytes::Bytes,
}

impl Reply {
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub(crate) async fn bytes(self) -> std::result::Result<bytes::Bytes, Infallible> {
        Ok(self.body)
    }

    pub(crate) async fn text(self) -> std::result::Result<String, std::string::FromUtf8Error> {
        String::from_utf8(self.body.to_vec())
    }

    pub(crate) async fn json<T: serde::de::DeserializeOwned>(
        self,
    ) -> std::result::Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// A running server on a real socket: its base URL and the handle that stops it.
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

/// Serves `server` on a fresh loopback port (for the tests that need a socket).
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
pub(crate) fn split_binary(headers: &HeaderMap, body: &[u8]) -> (serde_json::Value, Vec<u8>) {
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
pub(crate) async fn expect_error(response: Reply, status: u16, needle: &str) -> String {
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
pub(crate) async fn wait_for_metrics(running: &App, predicate: impl Fn(&str) -> bool) -> String {
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
