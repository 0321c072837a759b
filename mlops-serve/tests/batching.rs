//! Adaptive batching: batched answers equal unbatched ones per request (the scikit-learn
//! regression through tract), a failing request fails alone, a leader that gives up does not
//! wedge the queue, and a batch window ends when the batch is full.
//!
//! Batches are made deterministic without timing: the first call blocks in the model (a
//! gate) while the other requests queue behind it, then the gate opens.

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use mlops_serve::{
    Datatype, Error, Model, ModelMetadata, ModelOptions, Result, Server, Tensor, TensorSpec,
};
use serde_json::{Value, json};

use crate::util::{App, Gated, app, expect_error, sample, wait_for_metrics};

/// Wraps a model: the first call waits for `gate`; every call's rows are recorded.
struct GateFirst {
    inner: Arc<dyn Model>,
    gate: Mutex<Option<mpsc::Receiver<()>>>,
    calls: Mutex<Vec<usize>>,
}

impl GateFirst {
    fn new(inner: Arc<dyn Model>) -> (Arc<Self>, mpsc::Sender<()>) {
        let (tx, rx) = mpsc::channel();
        let model = Arc::new(Self {
            inner,
            gate: Mutex::new(Some(rx)),
            calls: Mutex::new(Vec::new()),
        });
        (model, tx)
    }
}

impl Model for GateFirst {
    fn metadata(&self) -> &ModelMetadata {
        self.inner.metadata()
    }
    fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let gate = self.gate.lock().unwrap().take();
        if let Some(rx) = gate {
            let _ = rx.recv_timeout(Duration::from_secs(60));
        }
        self.calls.lock().unwrap().push(inputs[0].data.shape()[0]);
        self.inner.infer(inputs)
    }
}

/// `y = 2x` over FP64 `[-1, 1]`; fails the whole call when any value is negative.
struct NoNegatives(ModelMetadata);

impl Model for NoNegatives {
    fn metadata(&self) -> &ModelMetadata {
        &self.0
    }
    fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let x = inputs[0].data.as_array::<f64>().unwrap();
        if x.iter().any(|v| *v < 0.0) {
            return Err(Error::inference(&self.0.name, "negative input"));
        }
        Ok(vec![Tensor::new("y", x.mapv(|v| v * 2.0))])
    }
}

fn fp64_model(name: &str) -> ModelMetadata {
    ModelMetadata {
        name: name.into(),
        version: None,
        platform: "test".into(),
        inputs: vec![TensorSpec::new("x", Datatype::Fp64, [-1, 1])],
        outputs: vec![TensorSpec::new("y", Datatype::Fp64, [-1, 1])],
    }
}

fn fp64_request(values: &[f64]) -> Value {
    json!({"inputs": [{"name": "x", "shape": [values.len(), 1], "datatype": "FP64", "data": values}]})
}

/// Sends `bodies` to `path` at once; returns (status, JSON body) per body, in order.
async fn send_all(
    running: &App,
    path: &str,
    bodies: Vec<Value>,
) -> Vec<tokio::task::JoinHandle<(u16, Value)>> {
    bodies
        .into_iter()
        .map(|body| {
            let client = running.client.clone();
            let url = running.url(path);
            tokio::spawn(async move {
                let r = client.post(&url).json(&body).send().await.unwrap();
                let status = r.status().as_u16();
                (status, r.json().await.unwrap())
            })
        })
        .collect()
}

/// `y = 2x` over FP64 `[-1, 1]`, cheap (answered inline, within one poll); records the rows
/// of every call.
struct CheapDouble {
    metadata: ModelMetadata,
    calls: Mutex<Vec<usize>>,
}

impl Model for CheapDouble {
    fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }
    fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let x = inputs[0].data.as_array::<f64>().unwrap();
        self.calls.lock().unwrap().push(x.shape()[0]);
        Ok(vec![Tensor::new("y", x.mapv(|v| v * 2.0))])
    }
    fn is_cheap(&self, _inputs: &[Tensor]) -> bool {
        true
    }
}

fn labels(model: &str) -> String {
    format!("model=\"{model}\",version=\"\"")
}

/// Waits until `count` requests of `model` are admitted and unanswered.
async fn wait_in_flight(running: &App, model: &str, count: usize) {
    let labels = labels(model);
    #[allow(clippy::cast_precision_loss)]
    wait_for_metrics(running, |t| {
        sample(t, "mlops_serve_in_flight", &labels) == Some(count as f64)
    })
    .await;
}

/// The scikit-learn regression (skl2onnx, tract) batched: each caller gets exactly what the
/// same model answers it unbatched (single rows through the one-row plan, several through
/// the general one), and what scikit-learn's coefficients give.
#[cfg(feature = "onnx")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn onnx_batched_answers_equal_unbatched_ones() {
    use mlops_serve::runtime::onnx;

    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/linear_regressor.onnx"
    );
    let model = onnx::OnnxModel::load(std::path::Path::new(path), "single", None).unwrap();
    assert!(
        model.has_single_row_plan(),
        "a small batchable model gets a one-row plan"
    );
    assert!(
        model.has_dense_program(),
        "a LinearRegressor runs on the dense evaluator"
    );
    let batched = onnx::load(std::path::Path::new(path), "batched", None).unwrap();
    let single: Arc<dyn Model> = Arc::new(model);
    let (gated, gate) = GateFirst::new(batched);
    let server = Server::builder()
        .model_with(
            Arc::clone(&gated) as Arc<dyn Model>,
            ModelOptions::default()
                .capacity(1, 256)
                .batching(32, Duration::ZERO),
        )
        .model(single)
        .build()
        .unwrap();
    let running = app(server);
    let row = |caller: usize, r: usize| -> [f32; 4] {
        let base = (caller * 7 + r) as f32;
        [base * 0.25, -base, 1.5 - base * 0.125, base * 3.0]
    };
    let bodies: Vec<Value> = (0..40)
        .map(|caller| {
            let rows = 1 + caller % 4;
            let data: Vec<f32> = (0..rows).flat_map(|r| row(caller, r)).collect();
            json!({"id": format!("c{caller}"), "inputs": [{"name": "input", "shape": [rows, 4], "datatype": "FP32", "data": data}]})
        })
        .collect();
    let blocker = send_all(
        &running,
        "/v2/models/batched/infer",
        vec![bodies[0].clone()],
    )
    .await;
    wait_in_flight(&running, "batched", 1).await;
    let tasks = send_all(&running, "/v2/models/batched/infer", bodies[1..].to_vec()).await;
    wait_in_flight(&running, "batched", bodies.len()).await;
    drop(gate);
    let mut answers = Vec::new();
    for task in blocker.into_iter().chain(tasks) {
        let (status, answer) = task.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        answers.push(answer);
    }
    let unbatched = send_all(&running, "/v2/models/single/infer", bodies.clone()).await;
    for (caller, (task, batched)) in unbatched.into_iter().zip(&answers).enumerate() {
        let (status, alone) = task.await.unwrap();
        assert_eq!(status, 200, "{alone}");
        assert_eq!(batched["id"], format!("c{caller}"));
        assert_eq!(batched["outputs"], alone["outputs"], "caller {caller}");
        let rows = 1 + caller % 4;
        assert_eq!(batched["outputs"][0]["shape"], json!([rows, 1]));
        for r in 0..rows {
            let x = row(caller, r);
            let expected = 0.5 * x[0] - 1.25 * x[1] + 2.0 * x[2] + 0.125 * x[3] + 0.75;
            let got = batched["outputs"][0]["data"][r].as_f64().unwrap();
            assert!(
                (got - f64::from(expected)).abs() <= 1e-4 * f64::from(expected.abs().max(1.0)),
                "caller {caller} row {r}: {got} vs {expected}"
            );
        }
    }
    let calls = gated.calls.lock().unwrap().clone();
    let total_rows: usize = (0..40).map(|c| 1 + c % 4).sum();
    assert_eq!(calls.iter().sum::<usize>(), total_rows, "{calls:?}");
    assert!(
        calls.iter().all(|&rows| rows <= 32 || calls.len() == 1),
        "{calls:?}"
    );
    assert!(
        calls.len() < 40,
        "the queued requests ran in batches: {calls:?}"
    );
    let text = running.server.metrics_text();
    let count = sample(&text, "mlops_serve_batch_size_count", &labels("batched")).unwrap();
    let sum = sample(&text, "mlops_serve_batch_size_sum", &labels("batched")).unwrap();
    assert_eq!(sum, 40.0, "every request counted in exactly one batch");
    #[allow(clippy::cast_precision_loss)]
    let batches = calls.len() as f64;
    assert_eq!(count, batches, "one histogram sample per model call");
}

/// A batch whose call fails is run again request by request: only the request that causes
/// the failure gets it, the others their answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_request_fails_alone() {
    let (gated, gate) = GateFirst::new(Arc::new(NoNegatives(fp64_model("picky"))));
    let server = Server::builder()
        .model_with(
            Arc::clone(&gated) as Arc<dyn Model>,
            ModelOptions::default()
                .capacity(1, 64)
                .batching(16, Duration::ZERO),
        )
        .build()
        .unwrap();
    let running = app(server);
    let blocker = send_all(
        &running,
        "/v2/models/picky/infer",
        vec![fp64_request(&[0.5])],
    )
    .await;
    wait_in_flight(&running, "picky", 1).await;
    let values: Vec<f64> = (0..12)
        .map(|i| {
            if i % 4 == 3 {
                -f64::from(i)
            } else {
                f64::from(i)
            }
        })
        .collect();
    let bodies = values.iter().map(|v| fp64_request(&[*v])).collect();
    let tasks = send_all(&running, "/v2/models/picky/infer", bodies).await;
    wait_in_flight(&running, "picky", 13).await;
    drop(gate);
    assert_eq!(blocker.into_iter().next().unwrap().await.unwrap().0, 200);
    for (value, task) in values.iter().zip(tasks) {
        let (status, answer) = task.await.unwrap();
        if *value < 0.0 {
            assert_eq!(status, 500, "{answer}");
            assert!(
                answer["error"].as_str().unwrap().contains("negative input"),
                "{answer}"
            );
        } else {
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["outputs"][0]["data"], json!([value * 2.0]));
        }
    }
    let calls = gated.calls.lock().unwrap().clone();
    assert!(
        calls.iter().any(|&rows| rows > 1),
        "the queued requests were tried as a batch first: {calls:?}"
    );
}

/// A leader whose caller gives up (here it disconnects while it waits for the only worker)
/// hands the queue on: the requests it collected are answered once the worker is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_that_gives_up_does_not_wedge_the_queue() {
    let (model, gate) = Gated::new("gated");
    let server = Server::builder()
        .model_with(
            model as Arc<dyn Model>,
            ModelOptions::default()
                .capacity(1, 64)
                .batching(8, Duration::ZERO),
        )
        .build()
        .unwrap();
    let running = app(server);
    let path = "/v2/models/gated/infer";
    let blocker = send_all(&running, path, vec![fp64_request(&[1.0])]).await;
    // The blocker's batch has started (it holds the only worker) once its queue time is in.
    let labels = labels("gated");
    wait_for_metrics(&running, |t| {
        sample(t, "mlops_serve_queue_seconds_count", &labels) == Some(1.0)
    })
    .await;
    let leader = send_all(&running, path, vec![fp64_request(&[2.0])]).await;
    wait_in_flight(&running, "gated", 2).await;
    let followers = send_all(
        &running,
        path,
        vec![fp64_request(&[3.0]), fp64_request(&[4.0])],
    )
    .await;
    wait_in_flight(&running, "gated", 4).await;
    for task in leader {
        task.abort(); // The leader's client goes away.
    }
    wait_in_flight(&running, "gated", 3).await;
    drop(gate);
    assert_eq!(blocker.into_iter().next().unwrap().await.unwrap().0, 200);
    let all = async {
        let mut answers = Vec::new();
        for task in followers {
            answers.push(task.await.unwrap());
        }
        answers
    };
    let answers = tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("the requests the leader collected were never answered");
    for ((status, answer), expected) in answers.into_iter().zip([6.0, 8.0]) {
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["outputs"][0]["data"], json!([expected]));
    }
}

/// With a batch window, a full batch runs without waiting for the window's end (an hour
/// here: the test would time out).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_batch_ends_its_window() {
    let (model, gate) = Gated::new("gated");
    let server = Server::builder()
        .model_with(
            Arc::clone(&model) as Arc<dyn Model>,
            ModelOptions::default()
                .capacity(1, 64)
                .batching(6, Duration::from_secs(3600)),
        )
        .build()
        .unwrap();
    let running = app(server);
    let path = "/v2/models/gated/infer";
    // Alone in the model, the first request runs at once and holds the only worker.
    let blocker = send_all(&running, path, vec![fp64_request(&[0.5])]).await;
    wait_in_flight(&running, "gated", 1).await;
    let bodies = (0..6).map(|i| fp64_request(&[f64::from(i)])).collect();
    let tasks = send_all(&running, path, bodies).await;
    wait_in_flight(&running, "gated", 7).await;
    drop(gate);
    assert_eq!(blocker.into_iter().next().unwrap().await.unwrap().0, 200);
    let all = async {
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    };
    let answers = tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("the full batch waited for its window");
    for (i, (status, answer)) in answers.into_iter().enumerate() {
        assert_eq!(status, 200, "{answer}");
        #[allow(clippy::cast_precision_loss)]
        let expected = json!([2.0 * i as f64]);
        assert_eq!(answer["outputs"][0]["data"], expected);
    }
    assert_eq!(*model.batches.lock().unwrap(), vec![1, 6]);
}

/// Requests that fail validation never reach the queue; the bad one gets its 400 and the
/// batch of the others is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invalid_request_is_refused_before_batching() {
    let (gated, gate) = GateFirst::new(Arc::new(NoNegatives(fp64_model("picky"))));
    let server = Server::builder()
        .model_with(
            Arc::clone(&gated) as Arc<dyn Model>,
            ModelOptions::default()
                .capacity(1, 64)
                .batching(16, Duration::ZERO),
        )
        .build()
        .unwrap();
    let running = app(server);
    let blocker = send_all(
        &running,
        "/v2/models/picky/infer",
        vec![fp64_request(&[0.5])],
    )
    .await;
    wait_in_flight(&running, "picky", 1).await;
    let good = send_all(
        &running,
        "/v2/models/picky/infer",
        vec![fp64_request(&[1.0]), fp64_request(&[2.0, 3.0])],
    )
    .await;
    wait_in_flight(&running, "picky", 3).await;
    let bad = running
        .client
        .post(running.url("/v2/models/picky/infer"))
        .json(&json!({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1.0, 2.0]}]}))
        .send()
        .await
        .unwrap();
    expect_error(bad, 400, "x").await;
    drop(gate);
    assert_eq!(blocker.into_iter().next().unwrap().await.unwrap().0, 200);
    let expected = [json!([2.0]), json!([4.0, 6.0])];
    for (task, expected) in good.into_iter().zip(expected) {
        let (status, answer) = task.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["outputs"][0]["data"], expected);
    }
    assert_eq!(*gated.calls.lock().unwrap(), vec![1, 3]);
}

/// A model that answers inline never has two requests in it at once, so under load no request
/// ever meets another admitted; the queue's probes still find the requests that are ready
/// meanwhile and batches form. One thread: every request of a round is ready at once, and
/// without the probes each would run alone.
#[tokio::test(flavor = "current_thread")]
async fn batches_form_under_load_when_the_model_answers_inline() {
    let model = Arc::new(CheapDouble {
        metadata: fp64_model("cheap"),
        calls: Mutex::new(Vec::new()),
    });
    let server = Server::builder()
        .model_with(
            Arc::clone(&model) as Arc<dyn Model>,
            ModelOptions::default()
                .capacity(2, 256)
                .batching(32, Duration::ZERO),
        )
        .build()
        .unwrap();
    let running = app(server);
    for round in 0..4 {
        let bodies = (0..64).map(|i| fp64_request(&[f64::from(i)])).collect();
        let tasks = send_all(&running, "/v2/models/cheap/infer", bodies).await;
        for (i, task) in tasks.into_iter().enumerate() {
            let (status, answer) = task.await.unwrap();
            assert_eq!(status, 200, "round {round}: {answer}");
            #[allow(clippy::cast_precision_loss)]
            let expected = json!([2.0 * i as f64]);
            assert_eq!(answer["outputs"][0]["data"], expected, "round {round}");
        }
    }
    let calls = model.calls.lock().unwrap().clone();
    assert_eq!(calls.iter().sum::<usize>(), 4 * 64);
    assert!(
        calls.iter().any(|&rows| rows > 1),
        "no batch formed: {calls:?}"
    );
    assert!(calls.iter().all(|&rows| rows <= 32), "{calls:?}");
}

/// A server of the gated `y = 2x` model with one worker, batches of up to 8 and `deadline`.
fn gated_server(name: &str, deadline: Duration) -> (App, Arc<Gated>, mpsc::Sender<()>) {
    let (model, gate) = Gated::new(name);
    let server = Server::builder()
        .model_with(
            Arc::clone(&model) as Arc<dyn Model>,
            ModelOptions::default()
                .capacity(1, 64)
                .batching(8, Duration::ZERO)
                .deadline(deadline),
        )
        .build()
        .unwrap();
    (app(server), model, gate)
}

/// Awaits every task, within 30 s (a request never answered fails the test).
async fn answers(tasks: Vec<tokio::task::JoinHandle<(u16, Value)>>) -> Vec<(u16, Value)> {
    let all = async {
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    };
    tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("a request was never answered")
}

/// Queued requests have no timer of their own: the leader waiting for the busy worker
/// answers each one 504 at its deadline, while the worker is still busy, and the queue takes
/// requests again afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_queued_request_gets_its_504_at_its_deadline() {
    let (running, model, gate) = gated_server("gated", Duration::from_millis(300));
    let path = "/v2/models/gated/infer";
    let blocker = send_all(&running, path, vec![fp64_request(&[1.0])]).await;
    wait_in_flight(&running, "gated", 1).await;
    let bodies = (0..3).map(|i| fp64_request(&[f64::from(i)])).collect();
    let queued = send_all(&running, path, bodies).await;
    for (status, answer) in answers(queued).await {
        assert_eq!(status, 504, "{answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains("deadline of 300 ms"), "{answer}");
    }
    assert!(
        model.batches.lock().unwrap().is_empty(),
        "the 504s came before the worker was free"
    );
    assert_eq!(answers(blocker).await[0].0, 504);
    drop(gate);
    let later = send_all(&running, path, vec![fp64_request(&[4.0])]).await;
    let (status, answer) = answers(later).await.remove(0);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outputs"][0]["data"], json!([8.0]));
    let labels = labels("gated");
    wait_for_metrics(&running, |t| {
        sample(
            t,
            "mlops_serve_requests_total",
            &format!("{labels},outcome=\"timeout\""),
        ) == Some(4.0)
    })
    .await;
}

/// The requests of a batch stuck in the model get their 504 at their deadline, from the
/// batch's own wait (the batch ran: its rows are recorded once the model is let go), and the
/// worker is free again once the batch ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_in_a_slow_batch_get_their_504() {
    let (running, model, gate) = gated_server("gated", Duration::from_secs(2));
    let path = "/v2/models/gated/infer";
    let blocker = send_all(&running, path, vec![fp64_request(&[1.0])]).await;
    wait_in_flight(&running, "gated", 1).await;
    let bodies = (0..3).map(|i| fp64_request(&[f64::from(i)])).collect();
    let queued = send_all(&running, path, bodies).await;
    wait_in_flight(&running, "gated", 4).await;
    gate.send(()).unwrap(); // The blocker's call ends; the batch's call waits at the gate.
    assert_eq!(answers(blocker).await[0].0, 200);
    for (status, answer) in answers(queued).await {
        assert_eq!(status, 504, "{answer}");
    }
    drop(gate);
    for _ in 0..3000 {
        if model.batches.lock().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*model.batches.lock().unwrap(), vec![1, 3]);
    let later = send_all(&running, path, vec![fp64_request(&[4.0])]).await;
    assert_eq!(answers(later).await[0].0, 200);
}

/// A leader whose client goes away while its batch runs on the leader's task hands the batch
/// on: the other requests of the batch get their answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_that_leaves_mid_batch_hands_the_batch_on() {
    let (running, model, gate) = gated_server("gated", Duration::from_secs(60));
    let path = "/v2/models/gated/infer";
    let blocker = send_all(&running, path, vec![fp64_request(&[1.0])]).await;
    wait_in_flight(&running, "gated", 1).await;
    let leader = send_all(&running, path, vec![fp64_request(&[2.0])]).await;
    wait_in_flight(&running, "gated", 2).await;
    let followers = send_all(
        &running,
        path,
        vec![fp64_request(&[3.0]), fp64_request(&[4.0])],
    )
    .await;
    wait_in_flight(&running, "gated", 4).await;
    gate.send(()).unwrap(); // The blocker's call ends; the batch's call waits at the gate.
    assert_eq!(answers(blocker).await[0].0, 200);
    // The batch has started once the queue times of its three requests are in.
    let labels = labels("gated");
    wait_for_metrics(&running, |t| {
        sample(t, "mlops_serve_queue_seconds_count", &labels) == Some(4.0)
    })
    .await;
    for task in leader {
        task.abort();
    }
    wait_in_flight(&running, "gated", 2).await;
    drop(gate);
    let answers = answers(followers).await;
    for ((status, answer), expected) in answers.into_iter().zip([6.0, 8.0]) {
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["outputs"][0]["data"], json!([expected]));
    }
    assert_eq!(*model.batches.lock().unwrap(), vec![1, 3]);
}
