//! What monitoring costs: the in-process request path (router → model → response) of a
//! 64-row, 8-feature FP32 linear model without an observer, with the drift capture at
//! sample 1.0, and with the capture plus the inference log (req/s ratios are the issue's
//! goals: ≥ 0.9 and ≥ 0.85); and the window accumulation alone, per row and feature.
//!
//! `cargo bench -p mlops-monitor --bench monitor` (the lead runs the full numbers).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr,
    missing_docs
)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mlops_core::{StoreUri, Timestamp};
use mlops_drift::arrow_array::{ArrayRef, Float64Array, RecordBatch};
use mlops_drift::arrow_schema::{DataType, Field, Schema};
use mlops_drift::{DriftOptions, ReferenceProfile};
use mlops_monitor::{
    CaptureOptions, FixedReferences, LogOptions, MonitorMetrics, VersionKey, VersionMonitor,
    VersionReference, WindowPolicy, start,
};
use mlops_serve::Server;
use mlops_serve::runtime::linear::{LinearFile, LinearModel};
use tower::ServiceExt;

const FEATURES: usize = 8;
const ROWS: usize = 64;

fn batch(rows: usize, seed: usize) -> RecordBatch {
    let fields: Vec<Field> = (0..FEATURES)
        .map(|j| Field::new(format!("f{j}"), DataType::Float64, true))
        .collect();
    let columns: Vec<ArrayRef> = (0..FEATURES)
        .map(|j| {
            let values: Vec<f64> = (0..rows)
                .map(|i| ((i * 7919 + j * 104_729 + seed) % 1000) as f64 / 10.0)
                .collect();
            Arc::new(Float64Array::from(values)) as ArrayRef
        })
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

fn profile() -> Arc<ReferenceProfile> {
    Arc::new(ReferenceProfile::build(&[batch(20_000, 1)], &DriftOptions::default()).unwrap())
}

fn server(observer: Option<Arc<dyn mlops_serve::Observer>>) -> axum::Router {
    let file = LinearFile::linear(vec![vec![0.5; FEATURES]], vec![0.0]);
    let model = LinearModel::from_file(file, "lin", Some("1")).unwrap();
    let mut builder = Server::builder().model(Arc::new(model));
    if let Some(observer) = observer {
        builder = builder.observer(observer);
    }
    builder.build().unwrap().router()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let data: Vec<String> = (0..ROWS * FEATURES)
        .map(|i| format!("{}.5", (i * 37) % 100))
        .collect();
    let body = format!(
        r#"{{"inputs":[{{"name":"input","shape":[{ROWS},{FEATURES}],"datatype":"FP32","data":[{}]}}]}}"#,
        data.join(",")
    );
    let references = || {
        Arc::new(FixedReferences::new().with(
            "lin",
            VersionReference {
                profile: profile(),
                inputs: None,
                outputs: None,
            },
        ))
    };
    let log_dir = tempfile::tempdir().unwrap();
    let _guard = runtime.enter();
    let (capture, capture_worker) = start(
        CaptureOptions::default(),
        references(),
        Vec::new(),
        Arc::new(MonitorMetrics::new()),
        runtime.handle().clone(),
    )
    .unwrap();
    let log_root = StoreUri::parse(log_dir.path().to_str().unwrap())
        .unwrap()
        .open()
        .unwrap();
    let (logged, logged_worker) = start(
        CaptureOptions::default().with_inference_log(log_root, LogOptions::default()),
        references(),
        Vec::new(),
        Arc::new(MonitorMetrics::new()),
        runtime.handle().clone(),
    )
    .unwrap();
    let routers = [
        ("off", server(None)),
        ("capture", server(Some(capture.clone()))),
        ("capture_and_log", server(Some(logged.clone()))),
    ];
    let mut group = c.benchmark_group("serve_64_rows");
    group.throughput(Throughput::Elements(1));
    for (name, router) in &routers {
        group.bench_function(*name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let request = Request::post("/v2/models/lin/infer")
                        .body(Body::from(body.clone()))
                        .unwrap();
                    let response = router.clone().oneshot(request).await.unwrap();
                    assert_eq!(response.status(), 200);
                    axum::body::to_bytes(response.into_body(), usize::MAX)
                        .await
                        .unwrap()
                })
            });
        });
    }
    group.finish();
    eprintln!(
        "capture: {} queued, {} dropped; with log: {} queued, {} dropped",
        capture.queued(),
        capture.dropped(),
        logged.queued(),
        logged.dropped()
    );
    capture_worker.stop();
    logged_worker.stop();

    // The window accumulation alone: elements are row × feature, so the time per element
    // is the monitor's cost per row per feature.
    let rows = batch(1024, 2);
    let key = VersionKey {
        model: "lin".into(),
        version: "1".into(),
    };
    let mut monitor = VersionMonitor::new(
        key,
        profile(),
        Arc::new(DriftOptions::default()),
        WindowPolicy::rows(10_000).unwrap(),
    );
    let mut group = c.benchmark_group("window");
    group.throughput(Throughput::Elements((1024 * FEATURES) as u64));
    group.bench_function("push_1024_rows_8_features_with_10000_row_windows", |b| {
        b.iter(|| monitor.push(&rows, Timestamp::now()).unwrap());
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
