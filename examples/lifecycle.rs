//! The whole lifecycle on one local folder, with no server and no database: track a training
//! run, register the model with its fitted feature transform, promote it to `champion` behind
//! a metric gate, serve the champion over the Open Inference Protocol (clients send raw
//! columns; the server applies the training transform), and check the newest data for drift.
//!
//! ```text
//! cargo run --release --example lifecycle                 # into ./mlops-data/
//! cargo run --release --example lifecycle -- /tmp/demo    # or any store root (s3://... too)
//! MLOPS_STORE=/tmp/demo cargo run --release --example lifecycle
//! ```
//!
//! Run it twice: the second run registers a new version, but `champion` moves only if the
//! new version's RMSE beats the holder's, and the refusal is in the registry's audit log.
//! Then `mlops runs show --store <folder> <run id>` shows what was tracked, and
//! `mlops models show --store <folder> --name income-regressor --version champion` the model.

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use mlops::core::ArtifactPath;
use mlops::drift::arrow_array::{Array, Float64Array, Int64Array, RecordBatch};
use mlops::drift::{DriftOptions, DriftReport, ReferenceProfile};
use mlops::registry::gates::{Direction, Gate, MetricGate};
use mlops::registry::{AliasName, Expect, ModelName, NewVersion, OpenOptions, RegistryExt};
use mlops::serve::runtime::linear::LinearFile;
use mlops::serve::source::RegistrySource;
use mlops::serve::{Selector, Server, Tensor, TensorData, serve};
use mlops::track::{
    ActiveRun, ExperimentName, MetricKey, RunId, RunName, RunOptions, RunStatus, TrackingStoreExt,
    dataset,
};
use mlops::transform::{FeatureSpec, FittedTransform, Impute, Step, TransformSpec};
use ndarray::{Array1, Axis, Slice};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

type Error = Box<dyn std::error::Error + Send + Sync>;

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/data/reference.parquet"
);
const CURRENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/current.parquet");
const FEATURES: [&str; 2] = ["age", "tenure_months"];
const TARGET: &str = "income";
const EPOCHS: i64 = 2_000;
const LEARNING_RATE: f64 = 0.05;
const BATCH_ROWS: usize = 250;
const MODEL: &str = "income-regressor";
const CHAMPION: &str = "champion";
/// A new version must lower the holder's RMSE by at least this much (income units).
const MARGIN: f64 = 1.0;

/// Every batch of a Parquet file.
fn read_parquet(path: &str) -> Result<Vec<RecordBatch>, Error> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path)?)?.build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

/// The target (income in thousands) per row; `None` where it is missing.
fn target(batches: &[RecordBatch]) -> Result<Vec<Option<f64>>, Error> {
    let mut y = Vec::new();
    for batch in batches {
        let column = (batch.column_by_name(TARGET)).ok_or("the sample data has no income")?;
        let any = column.as_any();
        for row in 0..batch.num_rows() {
            let value = match (any.downcast_ref::<Float64Array>(), column.is_null(row)) {
                (_, true) => None,
                (Some(a), false) => Some(a.value(row)),
                (None, false) => any
                    .downcast_ref::<Int64Array>()
                    .map(|a| a.value(row) as f64),
            };
            y.push(value.filter(|v| v.is_finite()).map(|v| v / 1000.0));
        }
    }
    Ok(y)
}

/// The features as the model sees them: each imputed (median) and standardised, learned on
/// the training data and shipped with the model, so the server computes the same inputs.
fn feature_spec() -> TransformSpec {
    let feature = |column: &str| {
        let impute = Step::Impute {
            strategy: Impute::Median,
        };
        FeatureSpec::new(column)
            .then(impute)
            .then(Step::Standardize)
    };
    TransformSpec {
        features: FEATURES.iter().map(|c| feature(c)).collect(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // One store root for runs and models: first argument, else $MLOPS_STORE, else ./mlops-data.
    let root = std::env::args()
        .nth(1)
        .or(std::env::var("MLOPS_STORE").ok());
    let root = root.unwrap_or_else(|| "mlops-data".to_owned());

    // ---- 1. Track: train with ndarray, logging params, the loss per step, data and model ----
    let tracking = mlops::track::open(&root).await?;
    let lifecycle = ExperimentName::parse("lifecycle")?;
    let experiment = tracking.get_or_create_experiment(&lifecycle).await?;
    let reference = read_parquet(REFERENCE)?;
    let data = dataset::from_parquet_uri("churn-reference", REFERENCE).await?;
    let name = Some(RunName::parse("ndarray-linear")?);
    let options = RunOptions::default();
    let run = tracking.start_run(&experiment, name, options).await?;
    run.log_input(&data, Some("training")).await?;
    let (model, transform, rmse) = train(&run, &reference).await?;
    run.log_artifact("model/linear.json", model.clone()).await?;
    run.log_artifact("model/transform.json", transform.clone())
        .await?;
    let run_id = run.run_id().clone();
    run.finish(RunStatus::Finished).await?;
    println!("run: {run_id} (experiment lifecycle), rmse {rmse:.2}");

    // ---- 2. Register: a version linked to the run (its metrics), the data, a drift profile ----
    let registry =
        mlops::registry::open_with(&root, &OpenOptions::new().actor("lifecycle-example"))?;
    let model_name = ModelName::parse(MODEL)?;
    let profile = ReferenceProfile::build(&reference, &DriftOptions::default())?;
    let trained = (model.clone(), transform.clone()); // to check the server against, below
    let new = NewVersion::new()
        .with_artifact(ArtifactPath::parse("model.json")?, model)
        .with_artifact(ArtifactPath::parse("transform.json")?, transform)
        .with_dataset(data)
        .with_drift_profile(profile.to_json()?.into_bytes())
        .with_description(format!("ndarray linear regression, rmse {rmse:.2}"));
    let registered = registry.register_from_run(&model_name, &*tracking, &run_id, new);
    let version = registered.await?.version;
    println!("registered: {MODEL} v{version}");

    // ---- 3. Promote: to `champion` if the alias holds what we saw and the RMSE gate passes ----
    let champion = AliasName::parse(CHAMPION)?;
    let holder = registry.alias_holder(&model_name, &champion).await?;
    let gate = MetricGate::new("rmse", Direction::LowerIsBetter, MARGIN);
    let gates: [Box<dyn Gate>; 1] = [Box::new(gate)];
    let expect = Expect::exactly(holder); // Absent the first time, else the current holder
    let promotion = (registry.promote(&model_name, version, &champion, expect, &gates)).await?;
    let was = holder.map_or_else(|| "none".to_owned(), |v| format!("v{v}"));
    let why = &promotion.outcome; // GatesFailed or PreconditionFailed
    match promotion.promoted() {
        true => println!("promoted: v{version} is now {CHAMPION} (was {was})"),
        false => println!("not promoted ({why:?}): {CHAMPION} stays {was}"),
    }
    (promotion.decision.gates.iter()).for_each(|g| println!("  gate {}: {}", g.gate, g.reason));

    // ---- 4. Serve: the champion straight from the registry (digest-checked), over OIP ----
    let source = Arc::new(RegistrySource::new(Arc::clone(&registry)));
    let selector = Selector::Alias(CHAMPION.to_owned());
    let builder = Server::builder().drain_delay(Duration::ZERO);
    let server = builder
        .model_from_source(source, MODEL, &selector)
        .await?
        .build()?;
    let (served, prediction) = predict(server, [42.0, 24.0]).await?; // raw columns in
    if served == version.to_string() {
        // Train/serve parity: the training code's prediction for the same raw row, same bits.
        let local = training_prediction(&trained.0, &trained.1, [42.0, 24.0])?;
        let same = local.to_bits() == prediction.to_bits();
        println!("parity: training code predicts {local:.6}, identical to the server: {same}");
        if !same {
            return Err("the served prediction differs from the training code's".into());
        }
    }
    let prediction = format!("income for age 42, tenure 24 months: {prediction:.2}");
    println!("served: {CHAMPION} = v{served}; {prediction}");

    // ---- 5. Drift: the newest data against the champion's reference profile ----
    let stored = registry.download_drift_profile(&model_name, served.parse()?);
    let stored = stored.await?;
    let profile = ReferenceProfile::from_json(std::str::from_utf8(&stored.ok_or("no profile")?)?)?;
    let report = profile.compare(&read_parquet(CURRENT)?, &DriftOptions::default())?;
    println!("drift: {}", summary(&report));
    let html = report.to_html("Drift: current.parquet vs champion");
    let report_path = std::path::Path::new(&root).join("drift-report.html");
    std::fs::write(&report_path, html)?;

    print_where(&root, &run_id, &served, &report_path);
    Ok(())
}

/// Where everything is, and the commands that show it.
fn print_where(root: &str, run: &RunId, champion: &str, report: &std::path::Path) {
    println!("\nsummary\n  store      {root}\n  champion   {MODEL} v{champion}");
    println!("  report     {}", report.display());
    println!("  inspect    mlops runs show --store {root} {run}");
    println!("             mlops models show --store {root} --name {MODEL} --version {CHAMPION}");
}

/// One line on a drift report: how many columns drifted, which, the share and the verdict.
fn summary(report: &DriftReport) -> String {
    let drifted: Vec<&str> = (report.columns.iter().filter(|c| c.drifted))
        .map(|c| c.column.as_str())
        .collect();
    let d = &report.dataset;
    let verdict = match d.dataset_drift {
        true => "DATASET DRIFT",
        false => "no dataset drift",
    };
    let (n, of, share) = (d.n_drifted, d.n_columns, d.share_drifted);
    format!(
        "{n} of {of} columns drifted ({}), share {share:.3}: {verdict}",
        drifted.join(", ")
    )
}

/// Mini-batch gradient descent on the mean squared error, on the features `feature_spec`
/// builds (rows without an income left out), logging the parameters, the loss per step
/// (buffered: no I/O in the loop) and the final RMSE. Returns the model in the built-in
/// linear format (income units), its fitted feature transform, and the RMSE.
async fn train(
    run: &ActiveRun,
    reference: &[RecordBatch],
) -> Result<(Vec<u8>, Vec<u8>, f64), Error> {
    run.log_param("learning_rate", LEARNING_RATE.to_string())
        .await?;
    run.log_param("epochs", EPOCHS.to_string()).await?;
    run.log_param("features", FEATURES.join(",")).await?;
    let transform = feature_spec().fit(reference)?;
    let labelled: Vec<(usize, f64)> = (target(reference)?.into_iter().enumerate())
        .filter_map(|(row, y)| Some((row, y?)))
        .collect();
    let rows: Vec<usize> = labelled.iter().map(|(row, _)| *row).collect();
    let x = transform.apply_batches(reference)?.select(Axis(0), &rows);
    let y = Array1::from_iter(labelled.iter().map(|(_, y)| *y));
    let loss_key = MetricKey::parse("loss")?;
    let (mut weights, mut bias) = (Array1::<f64>::zeros(transform.width()), 0.0);
    for step in 0..EPOCHS {
        let start = (step as usize * BATCH_ROWS) % x.nrows();
        let rows = Slice::from(start..(start + BATCH_ROWS).min(x.nrows()));
        let (xb, yb) = (x.slice_axis(Axis(0), rows), y.slice_axis(Axis(0), rows));
        let error = xb.dot(&weights) + bias - yb;
        let n = error.len() as f64;
        weights = weights - xb.t().dot(&error) * (2.0 * LEARNING_RATE / n);
        bias -= error.sum() * 2.0 * LEARNING_RATE / n;
        run.log_metric(&loss_key, error.dot(&error) / n, step);
    }
    let residual = x.dot(&weights) + bias - &y;
    let rmse = (residual.dot(&residual) / residual.len() as f64).sqrt() * 1000.0;
    run.log_metric_wait(&MetricKey::parse("rmse")?, rmse, EPOCHS)
        .await?;
    let coefficients = weights.iter().map(|w| 1000.0 * w).collect();
    let model = LinearFile {
        datatype: "FP64".into(),
        ..LinearFile::linear(vec![coefficients], vec![1000.0 * bias])
    };
    Ok((
        serde_json::to_vec_pretty(&model)?,
        transform.to_json(),
        rmse,
    ))
}

/// What the training code predicts for one raw row: the fitted transform, then the model file
/// through the same runtime the server loads it with.
fn training_prediction(model: &[u8], transform: &[u8], row: [f64; 2]) -> Result<f64, Error> {
    let columns = FEATURES.iter().zip(row).map(|(name, value)| {
        let array: Arc<dyn Array> = Arc::new(Float64Array::from(vec![value]));
        (*name, array)
    });
    let x = FittedTransform::from_json(transform)?.apply(&RecordBatch::try_from_iter(columns)?)?;
    let model = mlops::serve::runtime::load_bytes(model, "model.json", MODEL, None)?;
    let input = TensorData::from_vec(&[1, x.ncols()], x.into_raw_vec_and_offset().0)?;
    let output = model.infer(vec![Tensor::new("input", input)])?;
    let values = output[0]
        .data
        .as_array::<f64>()
        .ok_or("the model answers FP64")?;
    Ok(*values.iter().next().ok_or("no prediction")?)
}

/// Serves `server` on a free loopback port, sends one OIP inference request with the raw
/// `features` by column name (the transform shipped with the version prepares them) to the
/// model by name (the champion), stops the server and returns the version that answered
/// (the response's `model_version`) and the prediction.
async fn predict(server: Server, features: [f64; 2]) -> Result<(String, f64), Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(serve(listener, server, async move {
        let _ = stopped.await;
    }));
    let request = serde_json::json!({
        "id": "lifecycle-1",
        "inputs": [
            {"name": FEATURES[0], "shape": [1], "datatype": "FP64", "data": [features[0]]},
            {"name": FEATURES[1], "shape": [1], "datatype": "FP64", "data": [features[1]]},
        ]
    });
    let url = format!("http://{addr}/v2/models/{MODEL}/infer");
    let response: serde_json::Value = (reqwest::Client::new().post(&url).json(&request))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let _ = stop.send(());
    serving.await??;
    let version = response["model_version"]
        .as_str()
        .ok_or("no model_version")?;
    let prediction = response["outputs"][0]["data"][0].as_f64();
    Ok((
        version.to_owned(),
        prediction.ok_or_else(|| format!("no prediction in {response}"))?,
    ))
}
