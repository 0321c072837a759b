//! `examples/lifecycle.rs`, run twice on one folder as the README runs it: the first run
//! promotes its version to `champion`, the second registers another version that the RMSE
//! gate refuses (same data, same model), and both serve the champion and report drift.
//! What the example prints is checked against the stores it wrote and against `mlops drift`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use mlops::core::StoreUri;
use mlops::registry::{
    AliasName, ModelName, ModelRegistry, ModelVersion, ObjectRegistry, RegistryExt,
};
use mlops::serve::runtime::linear::{Coefficients, Intercept, LinearFile};
use mlops::track::{LocalStore, RunId, RunStatus, TrackingStore};
use serde_json::Value;

use crate::util::{example, json, mlops, mlops_in};

/// Runs the example on `dir`; its standard output, after checking it exited 0.
fn run_lifecycle(dir: &Path) -> String {
    let out = Command::new(example("lifecycle"))
        .arg(dir)
        .env_remove("MLOPS_DATA_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The rest of the line that starts with `prefix`.
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{out}"))
}

/// The run id and RMSE of the `run:` line.
fn run_line(out: &str) -> (RunId, f64) {
    let rest = line(out, "run: ");
    let (id, rest) = rest.split_once(' ').unwrap();
    let rmse = rest.rsplit_once("rmse ").unwrap().1.parse().unwrap();
    (RunId::parse(id).unwrap(), rmse)
}

/// The prediction of the `served:` line.
fn prediction(out: &str) -> f64 {
    line(out, "served: ")
        .rsplit_once(": ")
        .unwrap()
        .1
        .parse()
        .unwrap()
}

/// What the linear model file predicts for one raw row, behind the version's fitted transform.
fn predict(file: &[u8], transform: &[u8], raw: [f64; 2]) -> f64 {
    use mlops::drift::arrow_array::{ArrayRef, Float64Array, RecordBatch};
    let batch = RecordBatch::try_from_iter([
        (
            "age",
            Arc::new(Float64Array::from(vec![raw[0]])) as ArrayRef,
        ),
        (
            "tenure_months",
            Arc::new(Float64Array::from(vec![raw[1]])) as ArrayRef,
        ),
    ])
    .unwrap();
    let x = mlops::transform::FittedTransform::from_json(transform)
        .unwrap()
        .apply(&batch)
        .unwrap();
    let features: Vec<f64> = x.row(0).to_vec();
    let model: LinearFile = serde_json::from_slice(file).unwrap();
    let weights = match model.coefficients {
        Coefficients::Flat(w) => w,
        Coefficients::Rows(rows) => rows.into_iter().next().unwrap(),
    };
    let intercept = match model.intercept {
        Some(Intercept::Scalar(b)) => b,
        Some(Intercept::PerOutput(b)) => b[0],
        None => 0.0,
    };
    weights
        .iter()
        .zip(features)
        .map(|(w, x)| w * x)
        .sum::<f64>()
        + intercept
}

/// The `drift:` line `mlops drift` implies for the sample files.
fn expected_drift_line() -> String {
    let out = mlops(&[
        "drift",
        "--reference",
        "examples/data/reference.parquet",
        "--current",
        "examples/data/current.parquet",
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &report["dataset"];
    let drifted: Vec<&str> = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["drifted"] == true)
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    format!(
        "{} of {} columns drifted ({}), share {:.3}: {}",
        d["n_drifted"],
        d["n_columns"],
        drifted.join(", "),
        d["share_drifted"].as_f64().unwrap(),
        if d["dataset_drift"] == true {
            "DATASET DRIFT"
        } else {
            "no dataset drift"
        }
    )
}

#[tokio::test]
async fn lifecycle_example_runs_twice_on_one_folder() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("mlops-data");
    let drift = expected_drift_line();

    // First run: v1 is promoted to champion (nothing to beat) and served.
    let first = run_lifecycle(&folder);
    let (run1, rmse1) = run_line(&first);
    assert!(rmse1.is_finite() && rmse1 > 0.0, "{first}");
    assert_eq!(line(&first, "registered: "), "income-regressor v1");
    assert_eq!(
        line(&first, "promoted: "),
        "v1 is now champion (was none)",
        "{first}"
    );
    assert!(line(&first, "served: ").starts_with("champion = v1;"));
    // The served champion is v1's registered file, digest-checked on the way out.
    let registry =
        ObjectRegistry::open_uri(&StoreUri::parse(folder.to_str().unwrap()).unwrap()).unwrap();
    let model = ModelName::parse("income-regressor").unwrap();
    let files = registry
        .download_all(&model, ModelVersion::new(1).unwrap())
        .await
        .unwrap();
    let file = |name: &str| {
        let (_, bytes) = files
            .iter()
            .find(|(path, _)| path.as_str() == name)
            .unwrap();
        bytes.clone()
    };
    let (served, transform) = (file("model.json"), file("transform.json"));
    let predicted = prediction(&first);
    assert!(
        (predicted - predict(&served, &transform, [42.0, 24.0])).abs() < 0.01,
        "{first}"
    );
    // The example's own check: training code and server agree bit for bit.
    assert!(
        line(&first, "parity: ").ends_with("identical to the server: true"),
        "{first}"
    );
    assert_eq!(line(&first, "drift: "), drift);
    let report = std::fs::read_to_string(folder.join("drift-report.html")).unwrap();
    assert!(report.contains("<html") && report.contains("country"));

    // Second run: the same training gives the same RMSE, which does not beat v1 by the margin.
    let second = run_lifecycle(&folder);
    let (run2, rmse2) = run_line(&second);
    assert_ne!(run1, run2);
    assert_eq!(line(&second, "registered: "), "income-regressor v2");
    assert_eq!(
        line(&second, "not promoted (GatesFailed): "),
        "champion stays v1",
        "{second}"
    );
    assert!(line(&second, "  gate metric(rmse): ").contains("candidate v2"));
    assert!(line(&second, "served: ").starts_with("champion = v1;"));
    assert_eq!(prediction(&second), predicted);
    assert_eq!(line(&second, "drift: "), drift);
    assert!(line(&second, "  report     ").ends_with("drift-report.html"));

    // What the stores hold agrees with what was printed.
    let uri = StoreUri::parse(folder.to_str().unwrap()).unwrap();
    let store: Arc<dyn TrackingStore> = Arc::new(LocalStore::open_uri(&uri).await.unwrap());
    for (id, rmse) in [(&run1, rmse1), (&run2, rmse2)] {
        let run = store.get_run(id).await.unwrap();
        assert_eq!(run.info.status, RunStatus::Finished);
        let logged = run.data.metrics.iter().find(|m| m.key.as_str() == "rmse");
        assert!((logged.unwrap().value - rmse).abs() < 0.01);
        assert_eq!(run.inputs.len(), 1);
    }
    let registry = ObjectRegistry::open_uri(&uri).unwrap();
    let model = ModelName::parse("income-regressor").unwrap();
    let champion = AliasName::parse("champion").unwrap();
    let v1 = ModelVersion::new(1).unwrap();
    assert_eq!(
        registry.alias_holder(&model, &champion).await.unwrap(),
        Some(v1)
    );
    let version = registry.get_version(&model, v1).await.unwrap();
    assert_eq!(version.run.as_ref().unwrap().run_id, run1);
    assert!(version.drift_profile.is_some());
    let v2 = registry
        .get_version(&model, ModelVersion::new(2).unwrap())
        .await
        .unwrap();
    assert_eq!(v2.run.unwrap().run_id, run2);

    // The folder is a store root: the CLI reads its runs and its registry with --store.
    let root = folder.to_str().unwrap();
    let runs = json(&mlops_in(
        dir.path(),
        &["runs", "list", "--store", root, "--format", "json"],
        &[],
    ));
    assert_eq!(runs.as_array().unwrap().len(), 2);
    let shown = json(&mlops_in(
        dir.path(),
        &[
            "models",
            "show",
            "--store",
            root,
            "--name",
            "income-regressor",
            "--version",
            "champion",
            "--format",
            "json",
        ],
        &[],
    ));
    assert_eq!(shown["version"], "1");
    assert_eq!(shown["run"]["run_id"], run1.as_str());
}
