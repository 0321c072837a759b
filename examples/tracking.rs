//! Track a training run: a small linear model trained with ndarray on the sample data,
//! logging its params (`learning_rate`, `epochs`), the metric `loss` at every step
//! (0..=9999), the training data as a dataset input, and the fitted model as an artifact.
//!
//! ```text
//! cargo run --example tracking                                  # ./mlops-data, experiment "quickstart"
//! MLOPS_TRACKING_URI=http://127.0.0.1:5000 cargo run --example tracking   # an MLflow server
//! MLOPS_TRACKING_URI=/srv/runs MLOPS_EXPERIMENT=churn cargo run --example tracking
//! ```
//!
//! It prints the run id; `mlops runs show <id>` shows what was logged.
//!
//! The model predicts `income` (in thousands) from standardised `age` and `tenure_months`
//! of `examples/data/reference.parquet`, by mini-batch gradient descent on the mean squared
//! error. `log_metric` only pushes into a buffer: the hot loop never waits for the store.

#![allow(clippy::print_stdout)]

use std::sync::Arc;

use bytes::Bytes;
use mlops::core::ArtifactPath;
use mlops::drift::arrow_array::{Array, Float64Array, Int64Array};
use mlops::track::{
    ActiveRun, ExperimentName, MetricKey, RunName, RunOptions, RunStatus, TrackingStore,
    TrackingStoreExt, dataset,
};
use ndarray::{Array1, Array2, Axis, Slice};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

type Error = Box<dyn std::error::Error + Send + Sync>;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/data/reference.parquet"
);
const FEATURES: [&str; 2] = ["age", "tenure_months"];
const TARGET: &str = "income";
const EPOCHS: i64 = 10_000;
const LEARNING_RATE: f64 = 0.05;
const BATCH_ROWS: usize = 250;

/// A numeric cell as `f64`, or `None` when null, non-finite or not a number column.
fn cell(array: &dyn Array, row: usize) -> Option<f64> {
    if array.is_null(row) {
        return None;
    }
    let any = array.as_any();
    let value = if let Some(a) = any.downcast_ref::<Float64Array>() {
        a.value(row)
    } else {
        any.downcast_ref::<Int64Array>()?.value(row) as f64
    };
    value.is_finite().then_some(value)
}

/// The features (one row per record) and the target, from the Parquet file; records with a
/// missing value are left out.
fn load(path: &str) -> Result<(Array2<f64>, Array1<f64>), Error> {
    let bytes = Bytes::from(std::fs::read(path)?);
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()?;
    let (mut features, mut target) = (Vec::new(), Vec::new());
    for batch in reader {
        let batch = batch?;
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| format!("the sample data has no column {name:?}"))
        };
        let inputs = FEATURES.map(column);
        let (age, tenure, income) = (inputs[0].clone()?, inputs[1].clone()?, column(TARGET)?);
        for row in 0..batch.num_rows() {
            let cells = (cell(&age, row), cell(&tenure, row), cell(&income, row));
            if let (Some(a), Some(t), Some(y)) = cells {
                features.extend([a, t]);
                target.push(y / 1000.0);
            }
        }
    }
    let x = Array2::from_shape_vec((target.len(), FEATURES.len()), features)?;
    Ok((x, Array1::from(target)))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // The CLI's order: the tracking URI, else the one store root, else ./mlops-data.
    let uri = (std::env::var("MLOPS_TRACKING_URI").or_else(|_| std::env::var("MLOPS_STORE")))
        .unwrap_or_else(|_| "./mlops-data".to_owned());
    let name = std::env::var("MLOPS_EXPERIMENT").unwrap_or_else(|_| "quickstart".to_owned());
    // An MLflow server for http(s)://, else an embedded store (a folder by default).
    let store = mlops::track::open(&uri).await?;
    let experiment = (store.get_or_create_experiment(&ExperimentName::parse(name)?)).await?;

    // What the run trains on: a digest of the data itself, its schema and row count.
    let data = dataset::from_parquet_uri("churn-reference", DATA).await?;
    let (x, y) = load(DATA)?;
    let mean = x.mean_axis(Axis(0)).ok_or("no rows")?;
    let std = x
        .std_axis(Axis(0), 0.0)
        .mapv(|s| if s > 0.0 { s } else { 1.0 });
    let x = (&x - &mean) / &std;

    let run = ActiveRun::start(
        Arc::clone(&store),
        &experiment,
        Some(RunName::parse("ndarray-linear")?),
        RunOptions::default(),
    )
    .await?;
    run.log_param("learning_rate", LEARNING_RATE.to_string())
        .await?;
    run.log_param("epochs", EPOCHS.to_string()).await?;
    run.log_input(&data, Some("training")).await?;

    let loss_key = MetricKey::parse("loss")?;
    let mut weights = Array1::<f64>::zeros(FEATURES.len());
    let mut bias = 0.0;
    let rows = x.nrows();
    for step in 0..EPOCHS {
        let start = (step as usize * BATCH_ROWS) % rows;
        let end = (start + BATCH_ROWS).min(rows);
        let rows_of = Slice::from(start..end);
        let (xb, yb) = (
            x.slice_axis(Axis(0), rows_of),
            y.slice_axis(Axis(0), rows_of),
        );
        let error = xb.dot(&weights) + bias - yb;
        let n = error.len() as f64;
        let loss = error.dot(&error) / n;
        weights = weights - xb.t().dot(&error) * (2.0 * LEARNING_RATE / n);
        bias -= error.sum() * 2.0 * LEARNING_RATE / n;
        run.log_metric(&loss_key, loss, step); // no I/O: buffered, written in batches
    }

    let model = serde_json::json!({
        "kind": "linear regression",
        "target": format!("{TARGET} / 1000"),
        "features": FEATURES,
        "feature_mean": mean.to_vec(),
        "feature_std": std.to_vec(),
        "weights": weights.to_vec(),
        "bias": bias,
    });
    store
        .log_artifact(
            run.run_id(),
            &ArtifactPath::parse("model/linear.json")?,
            Bytes::from(serde_json::to_vec_pretty(&model)?),
        )
        .await?;
    let id = run.run_id().clone();
    run.finish(RunStatus::Finished).await?;
    println!("{id}");
    Ok(())
}
