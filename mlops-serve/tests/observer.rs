//! The observer hook: it sees each successful inference (model, version, inputs, outputs),
//! through a bounded path that never makes a request wait, and a panicking observer never
//! fails a request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mlops_serve::observe::{self, Observation, Observer};
use mlops_serve::{ModelMetadata, Server, TensorData};
use serde_json::json;

use crate::util::{app, linear, linear_expected, linear_request};

#[tokio::test]
async fn the_observer_sees_model_version_inputs_and_outputs() {
    let (observer, mut observations) = observe::channel(16);
    let server = Server::builder()
        .model(linear("lin", Some("7")))
        .observer(observer.clone())
        .build()
        .unwrap();
    let running = app(server);
    let rows = [[1.0f32, 2.0, 3.0], [0.0, -1.0, 0.5]];
    let mut body = linear_request(&rows);
    body["id"] = json!("req-1");
    // The client asks for no output; the observer still sees every output.
    body["outputs"] = json!([]);
    let r = running
        .client
        .post("/v2/models/lin/infer")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = observations.recv().await.unwrap();
    assert_eq!(seen.metadata.name, "lin");
    assert_eq!(seen.metadata.version.as_deref(), Some("7"));
    assert_eq!(seen.request_id.as_deref(), Some("req-1"));
    assert_eq!(seen.inputs.len(), 1);
    assert_eq!(seen.inputs[0].name, "input");
    assert_eq!(
        seen.inputs[0].data,
        TensorData::from_vec(&[2, 3], rows.iter().flatten().copied().collect()).unwrap()
    );
    assert_eq!(seen.outputs[0].name, "output");
    assert_eq!(
        seen.outputs[0].data,
        TensorData::from_vec(
            &[2, 1],
            vec![linear_expected(rows[0]), linear_expected(rows[1])]
        )
        .unwrap()
    );
    assert!(seen.latency > std::time::Duration::ZERO);
    assert!(seen.received <= std::time::SystemTime::now());
    // A failed request is not observed.
    let r = running
        .client
        .post("/v2/models/lin/infer")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(observations.try_recv().is_err());
    assert_eq!((observer.sent(), observer.dropped()), (1, 0));
}

/// A receiver that never reads: the bounded channel fills, later observations are dropped
/// and counted, and every request is answered.
#[tokio::test]
async fn a_lagging_observer_drops_observations_and_never_delays_requests() {
    let (observer, _never_read) = observe::channel(2);
    let server = Server::builder()
        .model(linear("lin", None))
        .observer(observer.clone())
        .build()
        .unwrap();
    let running = app(server);
    for _ in 0..20 {
        let r = running
            .client
            .post("/v2/models/lin/infer")
            .json(&linear_request(&[[1.0, 2.0, 3.0]]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(observer.sent(), 2);
    assert_eq!(observer.dropped(), 18);
}

/// Panics in `sample` or in `observe`, and observers that decline every request.
struct Faulty {
    sample_panics: bool,
    observe_panics: bool,
    sampled: bool,
    observed: AtomicUsize,
}

impl Observer for Faulty {
    fn sample(&self, _model: &ModelMetadata) -> bool {
        assert!(!self.sample_panics, "sample panics");
        self.sampled
    }
    fn observe(&self, _observation: Observation) {
        self.observed.fetch_add(1, Ordering::Relaxed);
        assert!(!self.observe_panics, "observe panics");
    }
}

#[tokio::test]
async fn a_panicking_observer_never_fails_a_request() {
    for (sample_panics, observe_panics, sampled, observed, panics) in [
        (false, true, true, 3, 3.0),
        (true, false, true, 0, 3.0),
        (false, false, false, 0, 0.0),
    ] {
        let observer = Arc::new(Faulty {
            sample_panics,
            observe_panics,
            sampled,
            observed: AtomicUsize::new(0),
        });
        let server = Server::builder()
            .model(linear("lin", None))
            .observer(observer.clone())
            .build()
            .unwrap();
        let running = app(server.clone());
        for _ in 0..3 {
            let r = running
                .client
                .post("/v2/models/lin/infer")
                .json(&linear_request(&[[1.0, 2.0, 3.0]]))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(
                v["outputs"][0]["data"],
                json!([linear_expected([1.0, 2.0, 3.0])])
            );
        }
        assert_eq!(observer.observed.load(Ordering::Relaxed), observed);
        let text = server.metrics_text();
        let counted = text
            .lines()
            .find_map(|l| l.strip_prefix("mlops_serve_observer_panics_total "))
            .map(|v| v.trim().parse::<f64>().unwrap());
        assert_eq!(counted, Some(panics), "{text}");
    }
}
