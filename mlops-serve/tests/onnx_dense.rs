//! scikit-learn regressors converted by skl2onnx in the test venv (multi-layer perceptrons with
//! each activation, a two-target ridge) run on the dense ONNX evaluator and answer as
//! scikit-learn does, for every batch size and concurrently.

use std::sync::Arc;

use mlops_serve::runtime::onnx::OnnxModel;
use mlops_serve::{Model, Tensor, TensorData};
use serde_json::Value;

use crate::triton::run_python;

const FEATURES: usize = 6;

fn matrix(value: &Value) -> Vec<Vec<f64>> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sklearn_regressors_run_on_the_dense_evaluator_and_match_sklearn() {
    let dir = tempfile::tempdir().unwrap();
    let summary = run_python("dense_onnx.py", vec![dir.path().display().to_string()]).await;
    assert_eq!(
        summary["written"].as_array().map(Vec::len),
        Some(4),
        "{summary}"
    );
    let text = std::fs::read_to_string(dir.path().join("expected.json")).unwrap();
    let expected: Value = serde_json::from_str(&text).unwrap();
    for entry in expected["models"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let file = dir.path().join(entry["file"].as_str().unwrap());
        let model = Arc::new(OnnxModel::load(&file, name, None).unwrap());
        assert!(
            model.has_dense_program(),
            "{name} ({}) must run on the dense evaluator",
            entry["ops"]
        );
        let rows = matrix(&entry["rows"]);
        let predictions = Arc::new(matrix(&entry["predictions"]));
        let flat: Arc<Vec<f32>> = Arc::new(rows.iter().flatten().map(|&v| v as f32).collect());
        let targets = predictions[0].len();
        assert_eq!(
            model.metadata().outputs[0].shape,
            vec![-1, i64::try_from(targets).unwrap()]
        );
        // Every window of rows, on two threads at once: each answer is scikit-learn's for
        // exactly those rows (float32 arithmetic against float64: 1e-4 relative).
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let (model, flat, predictions) = (
                    Arc::clone(&model),
                    Arc::clone(&flat),
                    Arc::clone(&predictions),
                );
                std::thread::spawn(move || {
                    let count = predictions.len();
                    for start in 0..count {
                        for n in 1..=count - start {
                            if (start + n + t) % 2 == 1 {
                                continue;
                            }
                            let x = TensorData::from_vec(
                                &[n, FEATURES],
                                flat[start * FEATURES..(start + n) * FEATURES].to_vec(),
                            )
                            .unwrap();
                            let out = model.infer(vec![Tensor::new("input", x)]).unwrap();
                            let y = out[0].data.as_array::<f32>().unwrap();
                            assert_eq!(y.shape(), &[n, targets]);
                            let want = predictions[start..start + n].iter().flatten();
                            for (got, want) in y.iter().zip(want) {
                                assert!(
                                    (f64::from(*got) - want).abs() <= 1e-4 * (1.0 + want.abs()),
                                    "{got} vs scikit-learn {want} (rows {start}..{})",
                                    start + n
                                );
                            }
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }
}
