//! The real Triton HTTP client (`tritonclient[http]` in the test venv) against our server, in
//! its default binary mode and in JSON mode, for FP32, FP64, INT64, BOOL and BYTES models and
//! the built-in linear model.
//!
//! The server runs in-process on 127.0.0.1:0; `tests/python/triton_client.py` gets a plan (the
//! inputs to send and the outputs to expect) and reports how many checks it made and which
//! failed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mlops_core::testing::{PYTHON, require_env};
use mlops_serve::{
    Bytes, Datatype, Model, ModelMetadata, Result, Server, Tensor, TensorData, TensorSpec,
};
use ndarray::{ArrayD, Axis};
use serde_json::{Value, json};

use crate::util::start;

/// A test model: metadata and a function of the inputs.
pub(crate) struct FnModel {
    metadata: ModelMetadata,
    #[allow(clippy::type_complexity)]
    run: Box<dyn Fn(Vec<Tensor>) -> Result<Vec<Tensor>> + Send + Sync>,
}

impl FnModel {
    pub(crate) fn model(
        name: &str,
        version: Option<&str>,
        inputs: Vec<TensorSpec>,
        outputs: Vec<TensorSpec>,
        run: impl Fn(Vec<Tensor>) -> Result<Vec<Tensor>> + Send + Sync + 'static,
    ) -> Arc<dyn Model> {
        Arc::new(Self {
            metadata: ModelMetadata {
                name: name.into(),
                version: version.map(Into::into),
                platform: "mlops_test".into(),
                inputs,
                outputs,
            },
            run: Box::new(run),
        })
    }
}

impl Model for FnModel {
    fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }
    fn infer(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        (self.run)(inputs)
    }
}

fn array<T: mlops_serve::Element>(tensor: &Tensor) -> &ArrayD<T> {
    tensor
        .data
        .as_array::<T>()
        .expect("the server checked the datatype")
}

/// FP32, two inputs and two outputs: `sum = a + b`, `scaled = 2a`.
pub(crate) fn fp32_model() -> Arc<dyn Model> {
    FnModel::model(
        "fp32",
        None,
        vec![
            TensorSpec::new("a", Datatype::Fp32, [-1, 3]),
            TensorSpec::new("b", Datatype::Fp32, [-1, 3]),
        ],
        vec![
            TensorSpec::new("sum", Datatype::Fp32, [-1, 3]),
            TensorSpec::new("scaled", Datatype::Fp32, [-1, 3]),
        ],
        |inputs| {
            let (a, b) = (array::<f32>(&inputs[0]), array::<f32>(&inputs[1]));
            Ok(vec![
                Tensor::new("sum", a + b),
                Tensor::new("scaled", a.mapv(|v| v * 2.0)),
            ])
        },
    )
}

/// FP64, versioned "3": `y = x / 2 - 3`.
pub(crate) fn fp64_model() -> Arc<dyn Model> {
    FnModel::model(
        "fp64",
        Some("3"),
        vec![TensorSpec::new("x", Datatype::Fp64, [-1, 2])],
        vec![TensorSpec::new("y", Datatype::Fp64, [-1, 2])],
        |inputs| {
            Ok(vec![Tensor::new(
                "y",
                array::<f64>(&inputs[0]).mapv(|v| v / 2.0 - 3.0),
            )])
        },
    )
}

/// INT64: `y = 3x - 7` (wrapping).
pub(crate) fn int64_model() -> Arc<dyn Model> {
    FnModel::model(
        "int64",
        None,
        vec![TensorSpec::new("x", Datatype::Int64, [-1, 4])],
        vec![TensorSpec::new("y", Datatype::Int64, [-1, 4])],
        |inputs| {
            let y = array::<i64>(&inputs[0]).mapv(|v| v.wrapping_mul(3).wrapping_sub(7));
            Ok(vec![Tensor::new("y", y)])
        },
    )
}

/// BOOL: `not = !x` and `count` (INT64, `[-1, 1]`) = the number of true values per row.
pub(crate) fn bool_model() -> Arc<dyn Model> {
    FnModel::model(
        "bool",
        None,
        vec![TensorSpec::new("x", Datatype::Bool, [-1, 5])],
        vec![
            TensorSpec::new("not", Datatype::Bool, [-1, 5]),
            TensorSpec::new("count", Datatype::Int64, [-1, 1]),
        ],
        |inputs| {
            let x = array::<bool>(&inputs[0]);
            let count = x
                .map_axis(Axis(1), |row| row.iter().filter(|&&v| v).count() as i64)
                .insert_axis(Axis(1));
            Ok(vec![
                Tensor::new("not", x.mapv(|v| !v)),
                Tensor::new("count", count.into_dyn()),
            ])
        },
    )
}

/// BYTES: `upper` = ASCII upper case of each element, `len` (INT64) = its length in bytes.
pub(crate) fn bytes_model(name: &str) -> Arc<dyn Model> {
    FnModel::model(
        name,
        None,
        vec![TensorSpec::new("text", Datatype::Bytes, [-1])],
        vec![
            TensorSpec::new("upper", Datatype::Bytes, [-1]),
            TensorSpec::new("len", Datatype::Int64, [-1]),
        ],
        |inputs| {
            let x = array::<Bytes>(&inputs[0]);
            Ok(vec![
                Tensor::new("upper", x.mapv(|b| Bytes::from(b.to_ascii_uppercase()))),
                Tensor::new("len", x.mapv(|b| b.len() as i64)),
            ])
        },
    )
}

/// Runs a Python script from `tests/python` with the test venv's interpreter and returns its
/// last stdout line, parsed as JSON; fails the test on a non-zero exit.
pub(crate) async fn run_python(script: &str, args: Vec<String>) -> Value {
    let python = require_env(PYTHON);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .arg(&path)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {python} {}: {e}", path.display()))
    })
    .await
    .expect("python runner");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{script} printed no JSON summary ({e}):\n{stdout}\n{stderr}"))
}

/// Runs the tritonclient driver on `plan` and requires every check to pass; returns the
/// number of checks it made.
pub(crate) async fn drive_tritonclient(url: &str, plan: &Value) -> u64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan_path: PathBuf = dir.path().join("plan.json");
    std::fs::write(&plan_path, serde_json::to_vec(plan).expect("plan json")).expect("write plan");
    let summary = run_python(
        "triton_client.py",
        vec![
            "--url".into(),
            url.into(),
            "--plan".into(),
            plan_path.display().to_string(),
        ],
    )
    .await;
    let failures = summary["failures"].as_array().expect("failures list");
    assert!(
        failures.is_empty(),
        "tritonclient checks failed: {failures:#?}"
    );
    summary["checks"].as_u64().expect("check count")
}

fn tensor(name: &str, datatype: &str, shape: &[usize], data: impl serde::Serialize) -> Value {
    json!({"name": name, "datatype": datatype, "shape": shape, "data": data})
}

/// The plan: for each model the inputs to send and the outputs expected back.
fn plan(linear: &Value) -> Value {
    let a: Vec<f32> = vec![1.5, -2.25, 0.0, 1e-3, 3.0e7, -0.5];
    let b: Vec<f32> = vec![0.5, 0.25, -1.0, 2.0, 1.0, 0.125];
    let sum: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
    let scaled: Vec<f32> = a.iter().map(|x| x * 2.0).collect();

    let x64: Vec<f64> = vec![1.0, -3.5, 1e-300, 123_456_789.123, -0.0, 7.25];
    let y64: Vec<f64> = x64.iter().map(|v| v / 2.0 - 3.0).collect();

    let xi: Vec<i64> = vec![0, 1, -1, i64::MAX / 3, i64::MIN / 3, 42, -42, 1 << 40];
    let yi: Vec<i64> = xi
        .iter()
        .map(|v| v.wrapping_mul(3).wrapping_sub(7))
        .collect();

    let xb = vec![
        true, false, true, true, false, false, false, false, false, true,
    ];
    let not: Vec<bool> = xb.iter().map(|v| !v).collect();
    let count: Vec<i64> = xb
        .chunks(5)
        .map(|row| row.iter().filter(|&&v| v).count() as i64)
        .collect();

    let texts = ["hello", "", "héllo wörld", "a\u{0}b", "MiXeD 123"];
    let upper: Vec<String> = texts.iter().map(|t| t.to_ascii_uppercase()).collect();
    let lens: Vec<i64> = texts.iter().map(|t| t.len() as i64).collect();

    // Arbitrary bytes (not UTF-8): only tritonclient's binary mode can carry them.
    let raw: Vec<Vec<u8>> = vec![
        vec![0xff, 0x00, b'a'],
        vec![],
        vec![0x80; 5],
        b"ok".to_vec(),
    ];
    let hex = |b: &[u8]| json!({"hex": b.iter().map(|x| format!("{x:02x}")).collect::<String>()});
    let raw_upper: Vec<Value> = raw.iter().map(|b| hex(&b.to_ascii_uppercase())).collect();
    let raw_in: Vec<Value> = raw.iter().map(|b| hex(b)).collect();
    let raw_len: Vec<i64> = raw.iter().map(|b| b.len() as i64).collect();

    json!({
        "extensions": ["binary_tensor_data"],
        "models": [
            {"name": "fp32",
             "inputs": [tensor("a", "FP32", &[2, 3], json!(a)), tensor("b", "FP32", &[2, 3], json!(b))],
             "outputs": [tensor("sum", "FP32", &[2, 3], json!(sum)), tensor("scaled", "FP32", &[2, 3], json!(scaled))]},
            {"name": "fp64", "version": "3",
             "inputs": [tensor("x", "FP64", &[3, 2], json!(x64))],
             "outputs": [tensor("y", "FP64", &[3, 2], json!(y64))]},
            {"name": "int64",
             "inputs": [tensor("x", "INT64", &[2, 4], json!(xi))],
             "outputs": [tensor("y", "INT64", &[2, 4], json!(yi))]},
            {"name": "bool",
             "inputs": [tensor("x", "BOOL", &[2, 5], json!(xb))],
             "outputs": [tensor("not", "BOOL", &[2, 5], json!(not)), tensor("count", "INT64", &[2, 1], json!(count))]},
            {"name": "bytes",
             "inputs": [tensor("text", "BYTES", &[5], json!(texts))],
             "outputs": [tensor("upper", "BYTES", &[5], json!(upper)), tensor("len", "INT64", &[5], json!(lens))]},
            {"name": "bytes-raw",
             "inputs": [tensor("text", "BYTES", &[4], json!(raw_in))],
             "outputs": [tensor("upper", "BYTES", &[4], json!(raw_upper)), tensor("len", "INT64", &[4], json!(raw_len))]},
            linear,
        ]
    })
}

/// Writes the built-in linear model and returns its plan entry (FP32, 3 features, 2 rows).
fn linear_model(dir: &Path) -> (PathBuf, Value) {
    let w = [0.5f64, -1.25, 2.0];
    let b = 0.75f64;
    let path = dir.join("linear.json");
    let file = json!({
        "format": "mlops-linear/1", "kind": "linear", "datatype": "FP32",
        "input": "input", "output": "output",
        "coefficients": [w], "intercept": [b],
    });
    std::fs::write(&path, file.to_string()).expect("write linear model");
    let x: Vec<f32> = vec![1.0, 2.0, 3.0, -0.5, 0.25, 4.0];
    let y: Vec<f64> = x
        .chunks(3)
        .map(|row| {
            row.iter()
                .zip(&w)
                .map(|(x, w)| f64::from(*x) * w)
                .sum::<f64>()
                + b
        })
        .collect();
    let entry = json!({
        "name": "linear", "tolerance": 1e-5,
        "inputs": [tensor("input", "FP32", &[2, 3], json!(x))],
        "outputs": [tensor("output", "FP32", &[2, 1], json!(y))],
    });
    (path, entry)
}

pub(crate) fn datatype_server(dir: &Path) -> (Server, Value) {
    let (linear_path, linear) = linear_model(dir);
    let server = Server::builder()
        .model(fp32_model())
        .model(fp64_model())
        .model(int64_model())
        .model(bool_model())
        .model(bytes_model("bytes"))
        .model(bytes_model("bytes-raw"))
        .model_file(&linear_path, "linear", None)
        .expect("the linear model loads")
        .drain_delay(Duration::ZERO)
        .build()
        .expect("server builds");
    (server, plan(&linear))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tritonclient_binary_and_json_modes_for_every_datatype() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, plan) = datatype_server(dir.path());
    let running = start(server).await;
    let checks = drive_tritonclient(&running.base, &plan).await;
    // 7 models, each: ready, metadata, 2 binary runs, 3 JSON/mixed runs (6 models), 2
    // compressed requests, 1 compressed response, request id, wrong datatype; each with
    // several checks. A driver that skipped work would make far fewer.
    assert!(checks >= 300, "only {checks} checks ran");
    running.stop().await;
}

#[test]
fn test_models_compute_what_the_plan_expects() {
    // The plan's expectations are computed independently of the models; check one of each
    // against the model directly, so a plan error cannot hide behind a model error.
    let x = TensorData::from_vec(&[1, 4], vec![1i64, -2, 0, 5]).unwrap();
    let y = int64_model().infer(vec![Tensor::new("x", x)]).unwrap();
    assert_eq!(
        y[0].data,
        TensorData::from_vec(&[1, 4], vec![-4i64, -13, -7, 8]).unwrap()
    );
    let x = TensorData::from_vec(&[1, 5], vec![true, true, false, true, false]).unwrap();
    let y = bool_model().infer(vec![Tensor::new("x", x)]).unwrap();
    assert_eq!(
        y[1].data,
        TensorData::from_vec(&[1, 1], vec![3i64]).unwrap()
    );
}
