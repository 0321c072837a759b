//! Every error case over raw HTTP: status code and `{"error"}` body.

use std::io::Write;
use std::time::Duration;

use mlops_serve::{Datatype, ModelOptions, Server};
use serde_json::json;

use crate::util::{Echo, Gated, app, binary_body, expect_error, linear, linear_request};

fn linear_server() -> crate::util::App {
    app(Server::builder()
        .model(linear("lin", Some("1")))
        .model(Echo::new("bytes", Datatype::Bytes))
        .body_limit(64 * 1024)
        .build()
        .unwrap())
}

async fn post_json(running: &crate::util::App, path: &str, body: &str) -> crate::util::Reply {
    running
        .client
        .post(running.url(path))
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn malformed_and_invalid_json_requests_are_400() {
    let running = linear_server();
    let infer = "/v2/models/lin/infer";
    let cases: &[(&str, &str)] = &[
        ("{not json", "malformed inference request"),
        ("", "malformed inference request"),
        ("[]", "malformed inference request"),
        (r#"{"id":"a"}"#, "missing field `inputs`"),
        (
            r#"{"inputs":[{"name":"input","datatype":"FP32","data":[1,2,3]}]}"#,
            "missing field `shape`",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1,3],"data":[1,2,3]}]}"#,
            "missing field `datatype`",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FLOAT32","data":[1,2,3]}]}"#,
            "unknown datatype \"FLOAT32\"",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"fp32","data":[1,2,3]}]}"#,
            "unknown datatype",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2]}]}"#,
            "2 elements do not match shape [1, 3]",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3,4]}]}"#,
            "more than the 3 elements",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[-1,3],"datatype":"FP32","data":[1,2,3]}]}"#,
            "negative dimension -1",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1.5,3],"datatype":"FP32","data":[1,2,3]}]}"#,
            "not an integer",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[4294967296,4294967296,3],"datatype":"FP32","data":[1]}]}"#,
            "expects [-1, 3]",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[18446744073709551615,3],"datatype":"FP32","data":[1]}]}"#,
            "overflows",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[99999999999999999999,3],"datatype":"FP32","data":[1]}]}"#,
            "malformed",
        ),
        (
            r#"{"inputs":[{"name":"nope","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}"#,
            "unexpected input \"nope\"",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP64","data":[1,2,3]}]}"#,
            "has datatype FP64, model \"lin\" expects FP32",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[3],"datatype":"FP32","data":[1,2,3]}]}"#,
            "has shape [3], model \"lin\" expects [-1, 3]",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}"#,
            "expects [-1, 3]",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":["a",2,3]}]}"#,
            "string \"a\" is not a valid FP32 element",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[null,2,3]}]}"#,
            "null is not a valid FP32",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[true,2,3]}]}"#,
            "true is not a valid FP32",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1e300,2,3]}]}"#,
            "is not a valid FP32",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32"}]}"#,
            "has no data",
        ),
        (r#"{"inputs":[]}"#, "missing input \"input\""),
        (
            r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]},{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}"#,
            "given twice",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}],"outputs":[{"name":"nope"}]}"#,
            "unexpected output \"nope\"",
        ),
        // Issue 17: ragged nested data, nested data of another shape, an output listed
        // twice, an array instead of an object.
        (
            r#"{"inputs":[{"name":"input","shape":[2,3],"datatype":"FP32","data":[[1,2],[3,4,5,6]]}]}"#,
            "nested data does not follow shape [2, 3]",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[2,3],"datatype":"FP32","data":[1,[2,3],4,5,6]}]}"#,
            "ragged nested data",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[2,3],"datatype":"FP32","data":[[1,2,3,4,5,6]]}]}"#,
            "nested data does not follow shape",
        ),
        (
            r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}],"outputs":[{"name":"output"},{"name":"output"}]}"#,
            "output \"output\" is requested more than once",
        ),
        (
            r#"[null,null,[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]]"#,
            "expected a JSON object",
        ),
        (
            r#"  [[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]]"#,
            "expected a JSON object",
        ),
    ];
    for (body, needle) in cases {
        let response = post_json(&running, infer, body).await;
        expect_error(response, 400, needle).await;
    }
}

#[tokio::test]
async fn integer_datatypes_refuse_out_of_range_values_with_400() {
    let running = app(Server::builder()
        .model(Echo::new("u8", Datatype::Uint8))
        .model(Echo::new("b", Datatype::Bool))
        .build()
        .unwrap());
    let body = r#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"UINT8","data":[1,256]}]}"#;
    expect_error(
        post_json(&running, "/v2/models/u8/infer", body).await,
        400,
        "256 is not a valid UINT8",
    )
    .await;
    let body = r#"{"inputs":[{"name":"x","shape":[1,1],"datatype":"UINT8","data":[-1]}]}"#;
    expect_error(
        post_json(&running, "/v2/models/u8/infer", body).await,
        400,
        "-1 is not a valid UINT8",
    )
    .await;
    let body = r#"{"inputs":[{"name":"x","shape":[1,1],"datatype":"BOOL","data":[1]}]}"#;
    expect_error(
        post_json(&running, "/v2/models/b/infer", body).await,
        400,
        "not a valid BOOL",
    )
    .await;
}

#[tokio::test]
async fn bad_binary_framing_is_400() {
    let running = linear_server();
    let infer = running.url("/v2/models/lin/infer");
    let header = json!({"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "parameters": {"binary_data_size": 12}}]});
    let floats: Vec<u8> = [1f32, 2.0, 3.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let send = |body: Vec<u8>, header_len: String| {
        running
            .client
            .post(&infer)
            .header("Inference-Header-Content-Length", header_len)
            .body(body)
            .send()
    };
    // Header length beyond the body.
    let (body, len) = binary_body(&header, &floats);
    expect_error(
        send(body.clone(), (body.len() + 1).to_string())
            .await
            .unwrap(),
        400,
        "larger than the body",
    )
    .await;
    // Not a number.
    expect_error(
        send(body.clone(), "abc".into()).await.unwrap(),
        400,
        "Inference-Header-Content-Length",
    )
    .await;
    expect_error(
        send(body.clone(), "-4".into()).await.unwrap(),
        400,
        "Inference-Header-Content-Length",
    )
    .await;
    // Header length cutting the JSON.
    expect_error(
        send(body.clone(), (len - 1).to_string()).await.unwrap(),
        400,
        "malformed",
    )
    .await;
    // Fewer binary bytes than binary_data_size.
    let (short, len) = binary_body(&header, &floats[..8]);
    expect_error(
        send(short, len.to_string()).await.unwrap(),
        400,
        "only 8 binary bytes remain",
    )
    .await;
    // binary_data_size that does not match the shape.
    let wrong = json!({"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]});
    let (body, len) = binary_body(&wrong, &floats[..8]);
    expect_error(send(body, len.to_string()).await.unwrap(), 400, "needs 12").await;
    // Bytes left over.
    let mut extra = floats.clone();
    extra.extend_from_slice(&[0, 0, 0, 0]);
    let (body, len) = binary_body(&header, &extra);
    expect_error(
        send(body, len.to_string()).await.unwrap(),
        400,
        "not claimed",
    )
    .await;
    // Both data and binary_data_size.
    let both = json!({"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3], "parameters": {"binary_data_size": 12}}]});
    let (body, len) = binary_body(&both, &floats);
    expect_error(
        send(body, len.to_string()).await.unwrap(),
        400,
        "both data and binary_data_size",
    )
    .await;
    // BYTES: a length prefix running past the end, and a truncated prefix.
    let bytes_infer = running.url("/v2/models/bytes/infer");
    for (binary, needle) in [
        (vec![9u8, 0, 0, 0, b'a', b'b'], "overruns"),
        (
            vec![1u8, 0, 0, 0, b'a', 2, 0],
            "inside a 4-byte length prefix",
        ),
    ] {
        let header = json!({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "BYTES", "parameters": {"binary_data_size": binary.len()}}]});
        let (body, len) = binary_body(&header, &binary);
        let response = running
            .client
            .post(&bytes_infer)
            .header("Inference-Header-Content-Length", len.to_string())
            .body(body)
            .send()
            .await
            .unwrap();
        expect_error(response, 400, needle).await;
    }
    // BYTES element count that does not match the shape.
    let binary = [1u8, 0, 0, 0, b'a'];
    let header = json!({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "BYTES", "parameters": {"binary_data_size": 5}}]});
    let (body, len) = binary_body(&header, &binary);
    let response = running
        .client
        .post(&bytes_infer)
        .header("Inference-Header-Content-Length", len.to_string())
        .body(body)
        .send()
        .await
        .unwrap();
    expect_error(response, 400, "holds 1 elements").await;
}

#[tokio::test]
async fn unknown_models_versions_and_routes_are_404() {
    let running = linear_server();
    let client = &running.client;
    let body = serde_json::to_vec(&linear_request(&[[1.0, 2.0, 3.0]])).unwrap();
    let r = client
        .post(running.url("/v2/models/nope/infer"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "model \"nope\" is not found").await;
    let r = client
        .post(running.url("/v2/models/lin/versions/9/infer"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "has no version \"9\"").await;
    let r = client
        .get(running.url("/v2/models/nope"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not found").await;
    let r = client
        .get(running.url("/v2/models/lin/versions/2"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "no version").await;
    let r = client
        .get(running.url("/v2/models/nope/ready"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not found").await;
    let r = client
        .get(running.url("/v2/models/lin/versions/7/ready"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "no version").await;
    let r = client
        .get(running.url("/v3/anything"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "no route for GET /v3/anything").await;
    // The repository extension is off by default.
    let r = client
        .post(running.url("/v2/repository/index"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "no route").await;
    let r = client
        .post(running.url("/v2/repository/models/lin/unload"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "no route").await;
    // Wrong method on a known route.
    let r = client
        .get(running.url("/v2/models/lin/infer"))
        .send()
        .await
        .unwrap();
    expect_error(r, 405, "method GET is not allowed").await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_also_after_decompression() {
    let running = linear_server(); // limit 64 KiB
    let infer = running.url("/v2/models/lin/infer");
    let big = vec![b' '; 64 * 1024 + 1];
    let r = running.client.post(&infer).body(big).send().await.unwrap();
    expect_error(r, 413, "larger than the limit of 65536 bytes").await;
    // A small gzip body that inflates past the limit (a zip bomb in miniature).
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![b' '; 1024 * 1024]).unwrap();
    let compressed = encoder.finish().unwrap();
    assert!(compressed.len() < 64 * 1024);
    let r = running
        .client
        .post(&infer)
        .header("Content-Encoding", "gzip")
        .body(compressed)
        .send()
        .await
        .unwrap();
    expect_error(r, 413, "larger than the limit").await;
    // Same with deflate (zlib).
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![b' '; 1024 * 1024]).unwrap();
    let r = running
        .client
        .post(&infer)
        .header("Content-Encoding", "deflate")
        .body(encoder.finish().unwrap())
        .send()
        .await
        .unwrap();
    expect_error(r, 413, "larger than the limit").await;
}

#[tokio::test]
async fn bad_encodings_and_content_types_are_refused() {
    let running = linear_server();
    let infer = running.url("/v2/models/lin/infer");
    let body = serde_json::to_vec(&linear_request(&[[1.0, 2.0, 3.0]])).unwrap();
    let r = running
        .client
        .post(&infer)
        .header("Content-Encoding", "gzip")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "cannot decompress").await;
    let r = running
        .client
        .post(&infer)
        .header("Content-Encoding", "br")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    expect_error(r, 415, "unsupported content encoding \"br\"").await;
    let r = running
        .client
        .post(&infer)
        .header("Content-Type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    expect_error(r, 415, "unsupported content type \"text/plain\"").await;
    let r = running
        .client
        .post(&infer)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    expect_error(r, 415, "unsupported content type").await;
}

#[tokio::test]
async fn a_full_queue_is_429_with_retry_after() {
    let (model, gate) = Gated::new("slow");
    let server = Server::builder()
        .model_with(
            model.clone() as std::sync::Arc<dyn mlops_serve::Model>,
            ModelOptions::default().capacity(1, 1),
        )
        .build()
        .unwrap();
    let running = app(server);
    let body = r#"{"inputs":[{"name":"x","shape":[1,1],"datatype":"FP64","data":[1]}]}"#;
    let url = running.url("/v2/models/slow/infer");
    // One running, one queued: the model's capacity.
    let first = tokio::spawn(running.client.post(&url).body(body).send());
    crate::util::wait_for_metrics(&running, |t| {
        crate::util::sample(t, "mlops_serve_in_flight", "model=\"slow\",version=\"\"") == Some(1.0)
    })
    .await;
    let second = tokio::spawn(running.client.post(&url).body(body).send());
    crate::util::wait_for_metrics(&running, |t| {
        crate::util::sample(t, "mlops_serve_in_flight", "model=\"slow\",version=\"\"") == Some(2.0)
    })
    .await;
    let r = running.client.post(&url).body(body).send().await.unwrap();
    assert_eq!(r.headers().get("retry-after").unwrap(), "1");
    expect_error(r, 429, "queue of 1 requests is full").await;
    gate.send(()).unwrap();
    gate.send(()).unwrap();
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
    assert_eq!(second.await.unwrap().unwrap().status(), 200);
    let text = running.server.metrics_text();
    assert_eq!(
        crate::util::sample(
            &text,
            "mlops_serve_requests_total",
            "model=\"slow\",version=\"\",outcome=\"rejected\""
        ),
        Some(1.0)
    );
    assert_eq!(
        crate::util::sample(
            &text,
            "mlops_serve_requests_total",
            "model=\"slow\",version=\"\",outcome=\"success\""
        ),
        Some(2.0)
    );
}

#[tokio::test]
async fn a_request_past_its_deadline_is_504() {
    let (model, gate) = Gated::new("slow");
    let server = Server::builder()
        .model_with(
            model as std::sync::Arc<dyn mlops_serve::Model>,
            ModelOptions::default().deadline(Duration::from_millis(50)),
        )
        .build()
        .unwrap();
    let running = app(server);
    let body = r#"{"inputs":[{"name":"x","shape":[1,1],"datatype":"FP64","data":[1]}]}"#;
    let r = running
        .client
        .post(running.url("/v2/models/slow/infer"))
        .body(body)
        .send()
        .await
        .unwrap();
    expect_error(r, 504, "did not answer within the deadline of 50 ms").await;
    drop(gate);
}

#[tokio::test]
async fn unloaded_models_and_draining_servers_are_503() {
    let server = Server::builder()
        .model(linear("lin", None))
        .repository_extension(true)
        .build()
        .unwrap();
    let running = app(server);
    let client = &running.client;
    let body = serde_json::to_vec(&linear_request(&[[1.0, 2.0, 3.0]])).unwrap();
    let r = client
        .post(running.url("/v2/repository/models/lin/unload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(running.url("/v2/models/lin/infer"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    expect_error(r, 503, "model \"lin\" is not ready").await;
    let r = client
        .get(running.url("/v2/models/lin/ready"))
        .send()
        .await
        .unwrap();
    expect_error(r, 503, "not ready").await;
    let r = client
        .get(running.url("/v2/health/ready"))
        .send()
        .await
        .unwrap();
    expect_error(r, 503, "not ready").await;
    let r = client
        .post(running.url("/v2/repository/models/nope/load"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not found").await;
    let r = client
        .post(running.url("/v2/repository/models/lin/load"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(running.url("/v2/models/lin/infer"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Draining: readiness false, inference still served; then stopping: inference refused.
    running.server.start_draining();
    let r = client
        .get(running.url("/v2/health/ready"))
        .send()
        .await
        .unwrap();
    expect_error(r, 503, "shutting down").await;
    let r = client
        .post(running.url("/v2/models/lin/infer"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    running.server.stop_accepting();
    let r = client
        .post(running.url("/v2/models/lin/infer"))
        .body(body)
        .send()
        .await
        .unwrap();
    expect_error(r, 503, "shutting down").await;
    let r = client
        .get(running.url("/v2/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn token_and_host_allowlist_guard_every_route_but_health() {
    let server = Server::builder()
        .model(linear("lin", None))
        .bearer_token("s3cret")
        .allowed_hosts(["localhost", "127.0.0.1"])
        .build()
        .unwrap();
    let running = app(server);
    let client = &running.client;
    let body = serde_json::to_vec(&linear_request(&[[1.0, 2.0, 3.0]])).unwrap();
    let infer = running.url("/v2/models/lin/infer");
    let r = client.post(&infer).body(body.clone()).send().await.unwrap();
    assert_eq!(r.headers().get("www-authenticate").unwrap(), "Bearer");
    expect_error(r, 401, "missing or invalid bearer token").await;
    for wrong in [
        "Bearer s3cre",
        "Bearer s3cret2",
        "Basic s3cret",
        "bearer s3cret",
        "Bearer ",
    ] {
        let r = client
            .post(&infer)
            .header("Authorization", wrong)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        expect_error(r, 401, "bearer token").await;
    }
    let r = client.get(running.url("/metrics")).send().await.unwrap();
    expect_error(r, 401, "bearer token").await;
    let r = client
        .post(&infer)
        .header("Authorization", "Bearer s3cret")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Probes carry no token.
    assert_eq!(
        client
            .get(running.url("/v2/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(running.url("/v2/health/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // A Host outside the allowlist is refused, token or not, health included.
    for path in ["/v2/health/live", "/v2/models/lin"] {
        let r = client
            .get(running.url(path))
            .header("Host", "evil.example:8080")
            .header("Authorization", "Bearer s3cret")
            .send()
            .await
            .unwrap();
        expect_error(r, 403, "host \"evil.example\" is not allowed").await;
    }
    let r = client
        .get(running.url("/v2/health/live"))
        .header("Host", "LOCALHOST:1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn builder_refuses_bad_configurations() {
    assert!(Server::builder().body_limit(0).build().is_err());
    assert!(Server::builder().bearer_token("").build().is_err());
    assert!(
        Server::builder()
            .model(linear("lin", None))
            .model(linear("lin", None))
            .build()
            .is_err()
    );
    assert!(
        Server::builder()
            .model(linear("lin", Some("1")))
            .model(linear("lin", None))
            .build()
            .is_err()
    );
    assert!(
        Server::builder()
            .model(linear("lin", Some("a/b")))
            .build()
            .is_err()
    );
    assert!(
        Server::builder()
            .model(Echo::new("../x", Datatype::Fp32))
            .build()
            .is_err()
    );
    assert!(
        Server::builder()
            .model(linear("lin", Some("1")))
            .model(linear("lin", Some("2")))
            .build()
            .is_ok()
    );
}

/// Issue 17: 786k empty gzip members (15.7 MB, under the 16 MiB limit) before a valid body
/// cost a header parse and an inflater each; the member budget refuses them, while a body
/// of a few concatenated members is still decoded.
#[tokio::test]
async fn gzip_bodies_with_too_many_members_are_refused() {
    let running = app(Server::builder()
        .model(linear("lin", None))
        .build()
        .unwrap());
    let infer = running.url("/v2/models/lin/infer");
    let gzip = |data: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    };
    let body = serde_json::to_vec(&linear_request(&[[1.0, 2.0, 3.0]])).unwrap();
    let empty = gzip(b"");
    let mut bomb = Vec::with_capacity(786_432 * empty.len() + body.len());
    for _ in 0..786_432 {
        bomb.extend_from_slice(&empty);
    }
    bomb.extend_from_slice(&gzip(&body));
    assert!(bomb.len() < 16 * 1024 * 1024);
    let r = running
        .client
        .post(&infer)
        .header("Content-Encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "more than 64 members").await;
    // Three members (split JSON, an empty one between) decode to the whole body.
    let (head, tail) = body.split_at(body.len() / 2);
    let concatenated = [gzip(head), empty.clone(), gzip(tail)].concat();
    let r = running
        .client
        .post(&infer)
        .header("Content-Encoding", "gzip")
        .body(concatenated)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Issue 17: a second `Host` header, or an absolute-form target naming another host, must
/// not slip past the allowlist.
#[tokio::test]
async fn duplicate_hosts_and_absolute_targets_do_not_bypass_the_host_allowlist() {
    let running = app(Server::builder()
        .model(linear("lin", None))
        .allowed_hosts(["localhost"])
        .build()
        .unwrap());
    let r = running
        .client
        .get("/v2/models/lin")
        .header("Host", "localhost")
        .header("Host", "evil.example")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "more than one Host header").await;
    let r = running
        .client
        .get("http://evil.example/v2/models/lin")
        .header("Host", "localhost")
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "host \"evil.example\" is not allowed").await;
    let r = running
        .client
        .get("http://localhost:8080/v2/models/lin")
        .header("Host", "localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Issue 17: a model file replaced by a FIFO hung the repository load (the loader blocked
/// opening it, forever); a damaged one answered only "see the server log". Both answer 500
/// at once with the reason, which names no server path.
#[cfg(unix)]
#[tokio::test]
async fn repository_load_of_a_fifo_or_damaged_file_answers_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lin.json");
    let file = mlops_serve::runtime::linear::LinearFile::linear(vec![vec![1.0]], vec![0.5]);
    std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    let server = Server::builder()
        .model_file(&path, "lin", None)
        .unwrap()
        .repository_extension(true)
        .build()
        .unwrap();
    let running = app(server);
    let load = running.url("/v2/repository/models/lin/load");
    std::fs::write(&path, b"{\"format\": ").unwrap();
    let r = running.client.post(&load).send().await.unwrap();
    let message = expect_error(
        r,
        500,
        "failed to load; see the server log. Reason: not a linear",
    )
    .await;
    assert!(
        !message.contains(&*dir.path().to_string_lossy()),
        "{message}"
    );
    std::fs::remove_file(&path).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    let r = tokio::time::timeout(Duration::from_secs(30), running.client.post(&load).send())
        .await
        .expect("the load of a FIFO hung")
        .unwrap();
    let message = expect_error(r, 500, "not a regular file").await;
    assert!(
        !message.contains(&*dir.path().to_string_lossy()),
        "{message}"
    );
    // The model loaded before is still served.
    let r = running
        .client
        .post(running.url("/v2/models/lin/infer"))
        .json(&json!({"inputs": [{"name": "input", "shape": [1, 1], "datatype": "FP32", "data": [1]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
