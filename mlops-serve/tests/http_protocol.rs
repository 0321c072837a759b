//! The OIP endpoints on the success path: routes, JSON (flat and nested), the binary tensor
//! data extension both ways, every datatype, compression, request ids.

use std::io::Write;

use mlops_serve::{Datatype, Server};
use serde_json::{Value, json};

use crate::util::{Echo, app, binary_body, linear, linear_expected, linear_request, split_binary};

fn server() -> crate::util::App {
    let mut builder = Server::builder()
        .model(linear("lin", Some("1")))
        .model(linear("lin", Some("2")));
    for datatype in Datatype::ALL {
        builder = builder.model(Echo::new(
            &format!("echo-{}", datatype.as_str().to_lowercase()),
            datatype,
        ));
    }
    app(builder.build().unwrap())
}

#[tokio::test]
async fn health_and_metadata_routes_answer_with_and_without_versions() {
    let running = server();
    let client = &running.client;
    for path in ["/v2", "/v2/"] {
        let r = client.get(running.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["name"], "mlops-serve");
        assert!(v["version"].is_string());
        assert_eq!(v["extensions"], json!(["binary_tensor_data"]));
    }
    let r = client
        .get(running.url("/v2/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"live": true}));
    let r = client
        .get(running.url("/v2/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"ready": true}));
    for path in [
        "/v2/models/lin",
        "/v2/models/lin/versions/1",
        "/v2/models/lin/versions/2",
    ] {
        let v: Value = client
            .get(running.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            v,
            json!({
                "name": "lin",
                "versions": ["1", "2"],
                "platform": "mlops_linear",
                "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 3]}],
                "outputs": [{"name": "output", "datatype": "FP32", "shape": [-1, 1]}]
            })
        );
    }
    for path in ["/v2/models/lin/ready", "/v2/models/lin/versions/1/ready"] {
        let r = client.get(running.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"name": "lin", "ready": true})
        );
    }
}

#[tokio::test]
async fn json_inference_flat_nested_versioned_and_without_content_type() {
    let running = server();
    let rows = [[1.0f32, 2.0, 3.0], [-1.5, 0.25, 4.0]];
    let flat = linear_request(&rows);
    let nested = json!({
        "id": "req-7",
        "inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32", "data": [[1, 2, 3], [-1.5, 0.25, 4.0]]}]
    });
    for (path, body) in [
        ("/v2/models/lin/infer", &flat),
        ("/v2/models/lin/versions/1/infer", &nested),
        ("/v2/models/lin/versions/2/infer", &flat),
    ] {
        let r = running
            .client
            .post(running.url(path))
            .body(serde_json::to_vec(body).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        let v: Value = r.json().await.unwrap();
        let data: Vec<f32> = serde_json::from_value(v["outputs"][0]["data"].clone()).unwrap();
        assert_eq!(
            data,
            vec![linear_expected(rows[0]), linear_expected(rows[1])]
        );
        assert_eq!(v["outputs"][0]["shape"], json!([2, 1]));
        assert_eq!(v["outputs"][0]["datatype"], "FP32");
        assert_eq!(v["outputs"][0]["name"], "output");
        assert_eq!(v["model_name"], "lin");
        assert!(v["model_version"] == "1" || v["model_version"] == "2");
        assert_eq!(v.get("id"), body.get("id"));
    }
    // The unversioned route serves the last registered version.
    let v: Value = running
        .client
        .post(running.url("/v2/models/lin/infer"))
        .json(&flat)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["model_version"], "2");
}

#[tokio::test]
async fn request_ids_are_echoed_in_body_and_header() {
    let running = server();
    let mut body = linear_request(&[[0.0, 0.0, 0.0]]);
    body["id"] = json!("id with \"quotes\" and ünïcode");
    let r = running
        .client
        .post(running.url("/v2/models/lin/infer"))
        .header("X-Request-Id", "abc-123")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["id"], body["id"]);
}

#[tokio::test]
async fn binary_extension_in_and_out() {
    let running = server();
    let rows = [[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let binary: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let header = json!({
        "id": "bin",
        "inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32", "parameters": {"binary_data_size": 24}}],
        "parameters": {"binary_data_output": true}
    });
    let (body, len) = binary_body(&header, &binary);
    let r = running
        .client
        .post(running.url("/v2/models/lin/infer"))
        .header("Inference-Header-Content-Length", len.to_string())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    let (json_part, binary_part) = split_binary(&headers, &bytes);
    assert_eq!(json_part["id"], "bin");
    assert_eq!(
        json_part["outputs"][0]["parameters"],
        json!({"binary_data_size": 8})
    );
    assert!(json_part["outputs"][0].get("data").is_none());
    let got: Vec<f32> = binary_part
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![linear_expected(rows[0]), linear_expected(rows[1])]
    );

    // Binary in, JSON out when the output asks for binary_data false (overriding the default).
    let header = json!({
        "inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32", "parameters": {"binary_data_size": 24}}],
        "outputs": [{"name": "output", "parameters": {"binary_data": false}}],
        "parameters": {"binary_data_output": true}
    });
    let (body, len) = binary_body(&header, &binary);
    let r = running
        .client
        .post(running.url("/v2/models/lin/infer"))
        .header("Inference-Header-Content-Length", len.to_string())
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("inference-header-content-length").is_none());
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["outputs"][0]["data"],
        json!([linear_expected(rows[0]), linear_expected(rows[1])])
    );

    // JSON in, binary out chosen per output.
    let mut body = linear_request(&rows);
    body["outputs"] = json!([{"name": "output", "parameters": {"binary_data": true}}]);
    let r = running
        .client
        .post(running.url("/v2/models/lin/infer"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let headers = r.headers().clone();
    assert_eq!(headers["content-type"], "application/octet-stream");
    let bytes = r.bytes().await.unwrap();
    let (_, binary_part) = split_binary(&headers, &bytes);
    assert_eq!(binary_part.len(), 8);
}

/// Sends `values` (JSON) to the echo model for `datatype` in JSON and in binary mode, and
/// checks both answers.
async fn echo_roundtrip(
    running: &crate::util::App,
    datatype: &str,
    json_values: Value,
    binary: Vec<u8>,
    shape: [usize; 2],
) {
    let url = running.url(&format!(
        "/v2/models/echo-{}/infer",
        datatype.to_lowercase()
    ));
    if !json_values.is_null() {
        let body = json!({"inputs": [{"name": "x", "shape": shape, "datatype": datatype, "data": json_values}]});
        let r = running.client.post(&url).json(&body).send().await.unwrap();
        assert_eq!(
            r.status(),
            200,
            "{datatype} JSON: {}",
            r.text().await.unwrap()
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["outputs"][0]["datatype"], datatype);
        assert_eq!(v["outputs"][0]["shape"], json!(shape));
        assert_eq!(
            v["outputs"][0]["data"], json_values,
            "{datatype} JSON round trip"
        );
    }
    let header = json!({
        "inputs": [{"name": "x", "shape": shape, "datatype": datatype, "parameters": {"binary_data_size": binary.len()}}],
        "outputs": [{"name": "y", "parameters": {"binary_data": true}}]
    });
    let (body, len) = binary_body(&header, &binary);
    let r = running
        .client
        .post(&url)
        .header("Inference-Header-Content-Length", len.to_string())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{datatype} binary");
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    let (json_part, binary_part) = split_binary(&headers, &bytes);
    assert_eq!(
        json_part["outputs"][0]["parameters"]["binary_data_size"],
        binary.len()
    );
    assert_eq!(binary_part, binary, "{datatype} binary round trip");
}

#[tokio::test]
async fn every_datatype_round_trips_in_json_and_binary() {
    let running = server();
    fn le<T: Copy, const N: usize>(values: &[T], f: fn(T) -> [u8; N]) -> Vec<u8> {
        values.iter().flat_map(|&v| f(v)).collect()
    }
    echo_roundtrip(
        &running,
        "BOOL",
        json!([true, false, true, true]),
        vec![1, 0, 1, 1],
        [2, 2],
    )
    .await;
    echo_roundtrip(
        &running,
        "UINT8",
        json!([0, 1, 254, 255]),
        vec![0, 1, 254, 255],
        [2, 2],
    )
    .await;
    echo_roundtrip(
        &running,
        "UINT16",
        json!([0, 65535]),
        le(&[0u16, 65535], u16::to_le_bytes),
        [1, 2],
    )
    .await;
    echo_roundtrip(
        &running,
        "UINT32",
        json!([7, 4294967295u32]),
        le(&[7u32, u32::MAX], u32::to_le_bytes),
        [2, 1],
    )
    .await;
    echo_roundtrip(
        &running,
        "UINT64",
        json!([u64::MAX, 3]),
        le(&[u64::MAX, 3], u64::to_le_bytes),
        [1, 2],
    )
    .await;
    echo_roundtrip(
        &running,
        "INT8",
        json!([-128, 127]),
        le(&[-128i8, 127], i8::to_le_bytes),
        [1, 2],
    )
    .await;
    echo_roundtrip(
        &running,
        "INT16",
        json!([-32768, 5]),
        le(&[i16::MIN, 5], i16::to_le_bytes),
        [1, 2],
    )
    .await;
    echo_roundtrip(
        &running,
        "INT32",
        json!([-1, 2147483647]),
        le(&[-1i32, i32::MAX], i32::to_le_bytes),
        [1, 2],
    )
    .await;
    echo_roundtrip(
        &running,
        "INT64",
        json!([i64::MIN, i64::MAX]),
        le(&[i64::MIN, i64::MAX], i64::to_le_bytes),
        [2, 1],
    )
    .await;
    echo_roundtrip(
        &running,
        "FP16",
        json!([1.5, -2.0]),
        le(
            &[half::f16::from_f32(1.5), half::f16::from_f32(-2.0)],
            half::f16::to_le_bytes,
        ),
        [1, 2],
    )
    .await;
    echo_roundtrip(
        &running,
        "FP32",
        json!([0.5f32, -3.25]),
        le(&[0.5f32, -3.25], f32::to_le_bytes),
        [1, 2],
    )
    .await;
    echo_roundtrip(
        &running,
        "FP64",
        json!([0.1, 1e300]),
        le(&[0.1f64, 1e300], f64::to_le_bytes),
        [1, 2],
    )
    .await;
    let mut bytes = Vec::new();
    for s in ["héllo", "", "wörld"] {
        bytes.extend_from_slice(&u32::try_from(s.len()).unwrap().to_le_bytes());
        bytes.extend_from_slice(s.as_bytes());
    }
    echo_roundtrip(
        &running,
        "BYTES",
        json!(["héllo", "", "wörld"]),
        bytes,
        [3, 1],
    )
    .await;
    // Arbitrary (non-UTF-8) bytes work in binary mode only.
    let raw = vec![2u8, 0, 0, 0, 0xff, 0xfe];
    echo_roundtrip(&running, "BYTES", Value::Null, raw, [1, 1]).await;
}

#[tokio::test]
async fn non_utf8_bytes_requested_as_json_is_400() {
    let running = server();
    let header = json!({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "BYTES", "parameters": {"binary_data_size": 6}}]});
    let (body, len) = binary_body(&header, &[2, 0, 0, 0, 0xff, 0xfe]);
    let r = running
        .client
        .post(running.url("/v2/models/echo-bytes/infer"))
        .header("Inference-Header-Content-Length", len.to_string())
        .body(body)
        .send()
        .await
        .unwrap();
    crate::util::expect_error(r, 400, "request it as binary data").await;
}

#[tokio::test]
async fn gzip_and_deflate_request_bodies_are_decoded() {
    let running = server();
    let rows = [[1.0f32, 1.0, 1.0]];
    let json_body = serde_json::to_vec(&linear_request(&rows)).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json_body).unwrap();
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(&json_body).unwrap();
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    raw.write_all(&json_body).unwrap();
    for (encoding, body) in [
        ("gzip", gz.finish().unwrap()),
        ("deflate", zlib.finish().unwrap()),
        ("deflate", raw.finish().unwrap()),
    ] {
        let r = running
            .client
            .post(running.url("/v2/models/lin/infer"))
            .header("Content-Encoding", encoding)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{encoding}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["outputs"][0]["data"], json!([linear_expected(rows[0])]));
    }
    // Binary framing inside gzip: the header length counts uncompressed bytes.
    let binary: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let header = json!({"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "parameters": {"binary_data_size": 12}}]});
    let (body, len) = binary_body(&header, &binary);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&body).unwrap();
    let r = running
        .client
        .post(running.url("/v2/models/lin/infer"))
        .header("Content-Encoding", "gzip")
        .header("Inference-Header-Content-Length", len.to_string())
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_router_nests_inside_a_user_app() {
    let server = Server::builder()
        .model(linear("lin", None))
        .build()
        .unwrap();
    let app = axum::Router::new()
        .route("/hello", axum::routing::get(|| async { "hi" }))
        .nest("/ml", server.router());
    let client = crate::util::Client::new(app);
    assert_eq!(
        client
            .get("/hello")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "hi"
    );
    let r = client
        .post("/ml/v2/models/lin/infer")
        .json(&linear_request(&[[1.0, 0.0, 0.0]]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Issue 17: non-finite outputs were written as `null`; they are the strings `"NaN"`,
/// `"Infinity"` and `"-Infinity"`, which requests accept too (a response's data can be sent
/// back as it is).
#[tokio::test]
async fn non_finite_floats_are_strings_both_ways() {
    let running = app(Server::builder()
        .model(Echo::new("f32", Datatype::Fp32))
        .model(Echo::new("f64", Datatype::Fp64))
        .model(Echo::new("f16", Datatype::Fp16))
        .model(linear("lin", None))
        .build()
        .unwrap());
    for (model, datatype) in [("f32", "FP32"), ("f64", "FP64"), ("f16", "FP16")] {
        let r = running
            .client
            .post(running.url(&format!("/v2/models/{model}/infer")))
            .json(
                &json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": datatype,
                "data": ["NaN", "Infinity", "-Infinity", 1.5]}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{model}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["outputs"][0]["data"],
            json!(["NaN", "Infinity", "-Infinity", 1.5]),
            "{model}"
        );
    }
    // A model output that overflows: FP32 infinity, not null.
    let r = running
        .client
        .post(running.url("/v2/models/lin/infer"))
        .json(
            &json!({"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32",
            "data": [3e38, 3e38, 3e38]}]}),
        )
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["outputs"][0]["data"], json!(["Infinity"]));
    // Other strings are still refused for floats.
    let r = running
        .client
        .post(running.url("/v2/models/f32/infer"))
        .json(&json!({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": ["nan"]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
