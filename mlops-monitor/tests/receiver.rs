//! A loopback webhook receiver (axum) that records each request and answers with the
//! statuses it is told to, then 200.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};

/// One received request.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) method: Method,
    pub(crate) uri: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) received: Mutex<Vec<Received>>,
    /// Statuses for the next POSTs, then 200.
    pub(crate) statuses: Mutex<VecDeque<u16>>,
    /// The body of GET answers (Airflow's asset listing).
    pub(crate) get_body: Mutex<String>,
}

pub(crate) struct Receiver {
    pub(crate) addr: SocketAddr,
    pub(crate) shared: Arc<Shared>,
}

impl Receiver {
    pub(crate) async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, shared }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    pub(crate) fn posts(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.method == Method::POST)
            .collect()
    }

    pub(crate) fn fail_next(&self, statuses: &[u16]) {
        self.shared.statuses.lock().unwrap().extend(statuses);
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let is_post = method == Method::POST;
    shared.received.lock().unwrap().push(Received {
        method,
        uri: uri.to_string(),
        headers,
        body,
    });
    if !is_post {
        return (StatusCode::OK, shared.get_body.lock().unwrap().clone());
    }
    let status = shared.statuses.lock().unwrap().pop_front().unwrap_or(200);
    (StatusCode::from_u16(status).unwrap(), "{}".into())
}

/// `Mlops-Signature` recomputed by openssl (an implementation independent of ours).
pub(crate) fn openssl_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut message = format!("{id}.{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", secret, "-binary"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&message).unwrap();
    let mac = child.wait_with_output().unwrap().stdout;
    let mut b64 = Command::new("openssl")
        .args(["base64", "-A"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    b64.stdin.take().unwrap().write_all(&mac).unwrap();
    let out = b64.wait_with_output().unwrap().stdout;
    format!("v1,{}", String::from_utf8(out).unwrap().trim())
}
