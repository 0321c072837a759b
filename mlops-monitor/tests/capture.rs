//! Capture through mlops-serve's observer seam: real requests to a served linear model
//! become drift windows per version; a lagging monitor drops (counted) and never delays.

use std::sync::{Arc, Barrier, Mutex};

use axum::body::Body;
use axum::http::Request;
use mlops_drift::arrow_array::{Float64Array, RecordBatch};
use mlops_drift::arrow_schema::{DataType, Field, Schema};
use mlops_drift::{DriftOptions, ReferenceProfile};
use mlops_monitor::{
    CaptureOptions, FixedReferences, MonitorMetrics, ReferenceSource, Result, VersionReference,
    WindowPolicy, WindowReport, WindowSink, start,
};
use mlops_serve::Server;
use mlops_serve::runtime::linear::{LinearFile, LinearModel};
use tower::ServiceExt;

use crate::util::Rng;

/// Collects closed windows.
#[derive(Default)]
pub(crate) struct Collect(pub(crate) Mutex<Vec<WindowReport>>);

#[async_trait::async_trait]
impl WindowSink for Collect {
    async fn window(&self, window: &WindowReport) -> Result<()> {
        self.0.lock().unwrap().push(window.clone());
        Ok(())
    }
}

/// `n` rows of two features (f32-representable), `x` shifted by `shift`.
fn features(seed: u64, n: usize, shift: f64) -> Vec<[f32; 2]> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| [(rng.normal() + shift) as f32, (2.0 * rng.normal()) as f32])
        .collect()
}

/// y = x + 0.5 * z, as the served model computes it (in f32).
fn predict(row: [f32; 2]) -> f32 {
    row[0] + 0.5 * row[1]
}

/// The reference profile of features `x`, `z` and the prediction `output`.
pub(crate) fn reference() -> Arc<ReferenceProfile> {
    let rows = features(1, 10_000, 0.0);
    let col = |f: &dyn Fn(&[f32; 2]) -> f32| {
        Arc::new(Float64Array::from(
            rows.iter().map(|r| f64::from(f(r))).collect::<Vec<_>>(),
        )) as _
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("z", DataType::Float64, true),
        Field::new("output", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![col(&|r| r[0]), col(&|r| r[1]), col(&|r| predict(*r))],
    )
    .unwrap();
    Arc::new(ReferenceProfile::build(&[batch], &DriftOptions::default()).unwrap())
}

pub(crate) fn server(observer: Arc<dyn mlops_serve::Observer>, version: &str) -> Server {
    let file = LinearFile::linear(vec![vec![1.0, 0.5]], vec![0.0]);
    let model = LinearModel::from_file(file, "lin", Some(version)).unwrap();
    Server::builder()
        .model(Arc::new(model))
        .observer(observer)
        .build()
        .unwrap()
}

pub(crate) async fn infer(server: &Server, rows: &[[f32; 2]]) -> u16 {
    infer_body(server, rows).await.0
}

/// The status and the JSON body of an inference.
async fn infer_body(server: &Server, rows: &[[f32; 2]]) -> (u16, serde_json::Value) {
    let data: Vec<f32> = rows.iter().flatten().copied().collect();
    let body = serde_json::json!({
        "inputs": [{"name": "input", "shape": [rows.len(), 2], "datatype": "FP32", "data": data}]
    });
    let request = Request::post("/v2/models/lin/infer")
        .header("content-type", "application/json")
        .header("host", "localhost")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let response = server.router().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_rows_become_windows_and_shifted_rows_drift_on_exactly_the_shifted_features() {
    let references = FixedReferences::new().with(
        "lin",
        VersionReference {
            profile: reference(),
            inputs: None,
            outputs: None,
        },
    );
    let collect = Arc::new(Collect::default());
    let metrics = Arc::new(MonitorMetrics::new());
    let options = CaptureOptions::default().with_windows(WindowPolicy::rows(1000).unwrap());
    let (capture, worker) = start(
        options,
        Arc::new(references),
        vec![collect.clone()],
        Arc::clone(&metrics),
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    let server = server(capture.clone(), "1");
    for seed in 10..18 {
        assert_eq!(infer(&server, &features(seed, 250, 0.0)).await, 200);
    }
    for seed in 20..24 {
        assert_eq!(infer(&server, &features(seed, 250, 1.5)).await, 200);
    }
    tokio::task::spawn_blocking(move || worker.stop())
        .await
        .unwrap();
    let windows = collect.0.lock().unwrap().clone();
    assert_eq!(
        windows.iter().map(|w| w.rows).collect::<Vec<_>>(),
        [1000, 1000, 1000]
    );
    assert_eq!(windows[0].key.version, "1");
    assert!(windows[0].drifted_features().is_empty());
    assert!(windows[1].drifted_features().is_empty());
    assert_eq!(windows[2].drifted_features(), ["x", "output"]);
    assert_eq!((capture.queued(), capture.dropped()), (12, 0));
    // The server's /metrics carries the monitor's families, in both formats.
    let get = |accept: &'static str| {
        let request = Request::get("/metrics")
            .header("host", "localhost")
            .header("accept", accept)
            .body(Body::empty())
            .unwrap();
        let router = server.router();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            String::from_utf8(body.to_vec()).unwrap()
        }
    };
    let text = get("text/plain").await;
    assert!(text.contains("mlops_serve_requests_total"), "{text}");
    let openmetrics = get("application/openmetrics-text").await;
    assert!(openmetrics.ends_with("# EOF\n"), "{openmetrics}");
    assert_eq!(openmetrics.matches("# EOF").count(), 1);
    assert!(openmetrics.contains("mlops_drift_share{"), "{openmetrics}");
    let share = windows[2].report.dataset.share_drifted;
    assert!(
        text.contains(&format!(
            "mlops_drift_share{{model=\"lin\",version=\"1\"}} {share}"
        )),
        "{text}"
    );
    assert!(
        text.contains("mlops_drift_dataset_drift{model=\"lin\",version=\"1\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("mlops_drift_feature_drifted{model=\"lin\",version=\"1\",feature=\"z\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("mlops_monitor_rows_total{model=\"lin\",version=\"1\"} 3000"),
        "{text}"
    );
    assert!(
        text.contains("mlops_monitor_windows_total{model=\"lin\",version=\"1\"} 3"),
        "{text}"
    );
    assert!(
        text.contains(
            "mlops_drift_score{model=\"lin\",version=\"1\",feature=\"x\",test=\"wasserstein\"}"
        ),
        "{text}"
    );
}

/// A reference source that waits at a barrier: the worker is stuck on the first observation.
struct Stuck(Arc<Barrier>, FixedReferences);

#[async_trait::async_trait]
impl ReferenceSource for Stuck {
    async fn reference(&self, model: &str, version: &str) -> Result<Option<VersionReference>> {
        let barrier = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || barrier.wait())
            .await
            .unwrap();
        self.1.reference(model, version).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_monitor_drops_and_counts_and_every_request_is_answered() {
    let barrier = Arc::new(Barrier::new(2));
    let fixed = FixedReferences::new().with(
        "lin",
        VersionReference {
            profile: reference(),
            inputs: None,
            outputs: None,
        },
    );
    let metrics = Arc::new(MonitorMetrics::new());
    let options = CaptureOptions::default().with_queue(2);
    let (capture, worker) = start(
        options,
        Arc::new(Stuck(Arc::clone(&barrier), fixed)),
        Vec::new(),
        Arc::clone(&metrics),
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    let server = server(capture.clone(), "2");
    // The first observation reaches the worker, which then waits; the queue holds 2.
    assert_eq!(infer(&server, &features(1, 5, 0.0)).await, 200);
    while capture.queued() < 1 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut with_id = 0;
    for seed in 0..10 {
        let (status, body) = infer_body(&server, &features(seed, 5, 0.0)).await;
        assert_eq!(status, 200);
        with_id += usize::from(body.get("id").is_some());
    }
    assert_eq!(capture.queued() + capture.dropped(), 11);
    assert_eq!(capture.dropped(), 8);
    // Shed before the copy: the 8 dropped requests were not sampled, so the server did not
    // copy their inputs nor generate the id it echoes for observed requests.
    assert_eq!(with_id, 2);
    // The worker (held) runs at the lowest priority, that thread only.
    #[cfg(target_os = "linux")]
    {
        let nices = thread_nices("mlops-monitor-d");
        assert!(
            !nices.is_empty() && nices.iter().all(|n| *n == 19),
            "{nices:?}"
        );
        assert!(thread_nices("tokio-runtime-w").iter().all(|n| *n == 0));
    }
    tokio::task::spawn_blocking(move || barrier.wait())
        .await
        .unwrap();
    tokio::task::spawn_blocking(move || worker.stop())
        .await
        .unwrap();
    let text = metrics.encode_prometheus();
    assert!(
        text.contains("mlops_monitor_dropped_total{model=\"lin\",version=\"2\"} 8"),
        "{text}"
    );
    assert!(
        text.contains("mlops_monitor_rows_total{model=\"lin\",version=\"2\"} 15"),
        "{text}"
    );
}

#[test]
fn sample_rates_outside_zero_to_one_are_refused() {
    assert!(CaptureOptions::default().with_sample(1.5).is_err());
    assert!(CaptureOptions::default().with_sample(f64::NAN).is_err());
    assert!(CaptureOptions::default().with_sample(0.25).is_ok());
}

/// The nice values of this process's threads whose name starts with `name`.
#[cfg(target_os = "linux")]
fn thread_nices(name: &str) -> Vec<i64> {
    let mut nices = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.starts_with(name) {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // After the parenthesised name, nice is the 17th field.
            let after = stat.rsplit(')').next().unwrap_or_default();
            if let Some(nice) = after.split_whitespace().nth(16) {
                nices.push(nice.parse().unwrap());
            }
        }
    }
    nices
}
