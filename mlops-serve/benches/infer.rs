//! The in-process request path (router → decode → model → encode), without sockets: a
//! single-row FP32 linear model in JSON and in binary mode, and a 256-row batch.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mlops_serve::runtime::linear::{LinearFile, LinearModel};
use mlops_serve::{Model, Server};
use tower::ServiceExt;

fn server() -> axum::Router {
    let file = LinearFile::linear(vec![vec![1.0, 2.0, 3.0, 4.0]], vec![0.5]);
    let model: Arc<dyn Model> = Arc::new(LinearModel::from_file(file, "lin", None).unwrap());
    Server::builder().model(model).build().unwrap().router()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let router = server();
    let json = br#"{"id":"1","inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}"#;
    let header = br#"{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}],"parameters":{"binary_data_output":true}}"#;
    let mut binary = header.to_vec();
    for v in [5.1f32, 3.5, 1.4, 0.2] {
        binary.extend_from_slice(&v.to_le_bytes());
    }
    let rows = 256;
    let data: Vec<String> = (0..rows * 4).map(|i| format!("{}.5", i % 10)).collect();
    let big = format!(
        r#"{{"inputs":[{{"name":"input","shape":[{rows},4],"datatype":"FP32","data":[{}]}}]}}"#,
        data.join(",")
    );

    let mut group = c.benchmark_group("infer");
    group.throughput(Throughput::Elements(1));
    group.bench_function("json_1_row", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let request = Request::post("/v2/models/lin/infer")
                    .body(Body::from(&json[..]))
                    .unwrap();
                let response = router.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), 200);
                axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap()
            })
        });
    });
    group.bench_function("binary_1_row", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let request = Request::post("/v2/models/lin/infer")
                    .header("Inference-Header-Content-Length", header.len())
                    .body(Body::from(binary.clone()))
                    .unwrap();
                let response = router.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), 200);
                axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap()
            })
        });
    });
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function("json_256_rows", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let request = Request::post("/v2/models/lin/infer")
                    .body(Body::from(big.clone()))
                    .unwrap();
                let response = router.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), 200);
                axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap()
            })
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
