//! ONNX models made in the test venv (scikit-learn LinearRegression converted with skl2onnx,
//! and a hand-made BOOL/INT64 graph) served through tract: the server's predictions equal
//! scikit-learn's to 1e-5, through tritonclient in binary and JSON mode, and the model is safe
//! under concurrent calls with different batch sizes.

use std::path::Path;
use std::sync::Arc;

use mlops_serve::runtime::{self, onnx};
use mlops_serve::{Datatype, Server, Tensor, TensorData, TensorSpec};
use serde_json::{Value, json};

use crate::triton::{drive_tritonclient, run_python};
use crate::util::start;

/// Runs `sklearn_onnx.py` into `dir` and returns its `expected.json`.
async fn make_models(dir: &Path) -> Value {
    let summary = run_python("sklearn_onnx.py", vec![dir.display().to_string()]).await;
    assert_eq!(
        summary["written"].as_array().map(Vec::len),
        Some(3),
        "{summary}"
    );
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn model_entry<'a>(expected: &'a Value, name: &str) -> &'a Value {
    expected["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no model {name} in {expected}"))
}

fn f64s(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sklearn_linear_regression_through_onnx_matches_sklearn() {
    let dir = tempfile::tempdir().unwrap();
    let expected = make_models(dir.path()).await;

    // Metadata from the ONNX graph: skl2onnx leaves the batch dimension unnamed.
    let fp32 = onnx::load(&dir.path().join("linear_fp32.onnx"), "sk-fp32", Some("1")).unwrap();
    let meta = fp32.metadata();
    assert_eq!(meta.platform, "onnx_onnxv1");
    assert_eq!(meta.version.as_deref(), Some("1"));
    assert_eq!(
        meta.inputs,
        vec![TensorSpec::new("input", Datatype::Fp32, [-1, 4])]
    );
    assert_eq!(
        meta.outputs,
        vec![TensorSpec::new("variable", Datatype::Fp32, [-1, 1])]
    );
    assert!(meta.batchable());
    let fp64 = runtime::load(&dir.path().join("linear_fp64.onnx"), "sk-fp64", None).unwrap();
    assert_eq!(
        fp64.metadata().inputs,
        vec![TensorSpec::new("input", Datatype::Fp64, [-1, 4])]
    );
    assert_eq!(
        fp64.metadata().outputs,
        vec![TensorSpec::new("variable", Datatype::Fp64, [-1, 1])]
    );
    // A named dim_param ("n") and BOOL/INT64 tensors.
    let typed = runtime::load(&dir.path().join("typed.onnx"), "typed", None).unwrap();
    assert_eq!(
        typed.metadata().inputs,
        vec![
            TensorSpec::new("flags", Datatype::Bool, [-1, 3]),
            TensorSpec::new("counts", Datatype::Int64, [-1, 2]),
        ]
    );
    assert_eq!(
        typed.metadata().outputs,
        vec![
            TensorSpec::new("inverted", Datatype::Bool, [-1, 3]),
            TensorSpec::new("doubled", Datatype::Int64, [-1, 2]),
        ]
    );

    // Direct calls: every row count from 1 to 16 gives sklearn's predictions for those rows.
    let entry = model_entry(&expected, "sk-fp32");
    let rows: Vec<f32> = f64s(&entry["inputs"][0]["data"])
        .iter()
        .map(|&v| v as f32)
        .collect();
    let predictions = f64s(&entry["outputs"][0]["data"]);
    assert_eq!(rows.len(), predictions.len() * 4);
    for n in 1..=predictions.len() {
        let x = TensorData::from_vec(&[n, 4], rows[..n * 4].to_vec()).unwrap();
        let out = fp32.infer(vec![Tensor::new("input", x)]).unwrap();
        assert_eq!(out[0].name, "variable");
        let y = out[0].data.as_array::<f32>().unwrap();
        assert_eq!(y.shape(), &[n, 1]);
        for (got, want) in y.iter().zip(&predictions) {
            assert!(
                (f64::from(*got) - want).abs() <= 1e-5,
                "{got} vs sklearn {want} ({n} rows)"
            );
        }
    }

    // The same model from bytes in memory (a registry download): alone, and picked among an
    // MLflow-style version's files; predictions identical to the file-loaded model.
    let bytes = std::fs::read(dir.path().join("linear_fp32.onnx")).unwrap();
    let from_bytes = runtime::load_bytes(&bytes, "linear_fp32.onnx", "sk-fp32", Some("1")).unwrap();
    let files = [
        mlops_serve::ModelFile::new("MLmodel", b"flavors: {onnx: {}}\n".to_vec()),
        mlops_serve::ModelFile::new("model/model.onnx", bytes.clone()),
        mlops_serve::ModelFile::new("requirements.txt", b"onnx\n".to_vec()),
    ];
    let from_files = runtime::load_files(&files, "sk-fp32", Some("1")).unwrap();
    assert_eq!(from_bytes.metadata(), fp32.metadata());
    assert_eq!(from_files.metadata(), fp32.metadata());
    let x = TensorData::from_vec(&[3, 4], rows[..12].to_vec()).unwrap();
    let reference = fp32.infer(vec![Tensor::new("input", x.clone())]).unwrap();
    for model in [&from_bytes, &from_files] {
        let got = model.infer(vec![Tensor::new("input", x.clone())]).unwrap();
        assert_eq!(got[0].data, reference[0].data);
    }

    // Through the server with the real Triton client, binary and JSON modes, versioned.
    let server = Server::builder()
        .model(fp32)
        .model_file(&dir.path().join("linear_fp64.onnx"), "sk-fp64", None)
        .unwrap()
        .model(typed)
        .build()
        .unwrap();
    let running = start(server).await;
    let mut plan_models = Vec::new();
    for name in ["sk-fp32", "sk-fp64", "typed"] {
        let mut entry = model_entry(&expected, name).clone();
        let object = entry.as_object_mut().unwrap();
        object.remove("file");
        if name == "sk-fp32" {
            object.insert("version".into(), json!("1"));
        }
        plan_models.push(entry);
    }
    let checks = drive_tritonclient(
        &running.base,
        &json!({"extensions": ["binary_tensor_data"], "models": plan_models}),
    )
    .await;
    assert!(checks >= 100, "only {checks} checks ran");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onnx_model_is_safe_under_concurrent_calls_with_different_batch_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let expected = make_models(dir.path()).await;
    let model = onnx::load(&dir.path().join("linear_fp64.onnx"), "sk-fp64", None).unwrap();
    let entry = model_entry(&expected, "sk-fp64");
    let rows = Arc::new(f64s(&entry["inputs"][0]["data"]));
    let predictions = Arc::new(f64s(&entry["outputs"][0]["data"]));
    let count = predictions.len();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (model, rows, predictions) = (
                Arc::clone(&model),
                Arc::clone(&rows),
                Arc::clone(&predictions),
            );
            std::thread::spawn(move || {
                for i in 0..200 {
                    // Each call takes a different window of rows, so a shared state would mix them.
                    let start = (i * 7 + t * 3) % count;
                    let n = 1 + (i + t) % (count - start);
                    let x =
                        TensorData::from_vec(&[n, 4], rows[start * 4..(start + n) * 4].to_vec())
                            .unwrap();
                    let out = model.infer(vec![Tensor::new("input", x)]).unwrap();
                    let y = out[0].data.as_array::<f64>().unwrap();
                    assert_eq!(y.shape(), &[n, 1]);
                    for (got, want) in y.iter().zip(&predictions[start..start + n]) {
                        assert!((got - want).abs() <= 1e-9, "{got} vs {want}");
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}
