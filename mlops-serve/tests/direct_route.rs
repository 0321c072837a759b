//! `POST /v2/models/{name}/infer` over a socket skips the router when no guard is set: every
//! answer (success, binary extension, request id, each error) equals the router's for the
//! same request, paths the router would treat differently still go to it, and a guarded
//! server checks the token on that route too.

use axum::http::StatusCode;
use mlops_serve::Server;

use crate::util::{app, binary_body, linear, linear_request, start};

/// One request: method, path, headers, body.
type Case = (
    &'static str,
    &'static str,
    Vec<(&'static str, String)>,
    Vec<u8>,
);

fn cases() -> Vec<Case> {
    let json = |v: serde_json::Value| serde_json::to_vec(&v).unwrap();
    let ok = json(linear_request(&[[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]]));
    let header = serde_json::json!({
        "inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32",
                    "parameters": {"binary_data_size": 12}}],
        "outputs": [{"name": "output", "parameters": {"binary_data": true}}]
    });
    let raw: Vec<u8> = [1.0f32, 2.0, 3.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let (binary, header_len) = binary_body(&header, &raw);
    let ct = || ("content-type", "application/json".to_owned());
    vec![
        ("POST", "/v2/models/lin/infer", vec![ct()], ok.clone()),
        (
            "POST",
            "/v2/models/lin/infer",
            vec![ct(), ("x-request-id", "abc-123".into())],
            ok.clone(),
        ),
        (
            "POST",
            "/v2/models/lin/infer",
            vec![("inference-header-content-length", header_len.to_string())],
            binary,
        ),
        (
            "POST",
            "/v2/models/lin/infer",
            vec![ct()],
            b"{not json".to_vec(),
        ),
        (
            "POST",
            "/v2/models/lin/infer",
            vec![("content-type", "text/plain".into())],
            ok.clone(),
        ),
        ("POST", "/v2/models/nope/infer", vec![ct()], ok.clone()),
        ("POST", "/v2/models/li%6E/infer", vec![ct()], ok.clone()),
        ("POST", "/v2/models/lin/infer/", vec![ct()], ok.clone()),
        ("POST", "/v2/models//infer", vec![ct()], ok.clone()),
        ("GET", "/v2/models/lin/infer", vec![], Vec::new()),
        (
            "POST",
            "/v2/models/lin/versions/1/infer",
            vec![ct()],
            ok.clone(),
        ),
        ("POST", "/v2/models/lin/infer?x=1", vec![ct()], ok),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_answers_equal_the_routers() {
    let server = || {
        Server::builder()
            .model(linear("lin", Some("1")))
            .build()
            .unwrap()
    };
    let running = start(server()).await;
    let routed = app(server());
    for (method, path, headers, body) in cases() {
        let mut socket = running
            .client
            .request(method.parse().unwrap(), running.url(path))
            .body(body.clone());
        let mut local = match method {
            "GET" => routed.client.get(path),
            _ => routed.client.post(path),
        }
        .body(body);
        for (name, value) in &headers {
            socket = socket.header(*name, value);
            local = local.header(name, value);
        }
        let socket = socket.send().await.unwrap();
        let local = local.send().await.unwrap();
        let what = format!("{method} {path} {headers:?}");
        assert_eq!(socket.status().as_u16(), local.status().as_u16(), "{what}");
        for name in [
            "content-type",
            "inference-header-content-length",
            "x-request-id",
        ] {
            assert_eq!(
                socket.headers().get(name).map(|v| v.as_bytes().to_vec()),
                local.headers().get(name).map(|v| v.as_bytes().to_vec()),
                "{what}: header {name}"
            );
        }
        let (a, b) = (socket.bytes().await.unwrap(), local.bytes().await.unwrap());
        assert_eq!(a, b, "{what}");
    }
    // Both servers counted the same requests by outcome.
    let metrics = |text: String| -> Vec<String> {
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("mlops_serve_requests_total"))
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    let a = running
        .client
        .get(running.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let b = routed
        .client
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics(a.clone()).is_empty(), "{a}");
    assert_eq!(metrics(a), metrics(b.clone()), "{b}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guarded_server_checks_inference_over_a_socket() {
    let server = Server::builder()
        .model(linear("lin", None))
        .bearer_token("s3cret")
        .build()
        .unwrap();
    let running = start(server).await;
    let body = serde_json::to_vec(&linear_request(&[[1.0, 2.0, 3.0]])).unwrap();
    let infer = running.url("/v2/models/lin/infer");
    let r = running
        .client
        .post(&infer)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = running
        .client
        .post(&infer)
        .header("authorization", "Bearer s3cret")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    running.stop().await;
}
