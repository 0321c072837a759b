//! The whole lifecycle on one local folder, with no server and no database: track a training
//! run, register the model, promote it to `champion` behind a metric gate, serve the champion
//! over the Open Inference Protocol, and check the newest data for drift.
//!
//! ```text
//! cargo run --release --example lifecycle                 # into ./mlops-data/
//! cargo run --release --example lifecycle -- /tmp/demo    # or a folder of your choice
//! MLOPS_DATA_DIR=/tmp/demo cargo run --release --example lifecycle
//! ```
//!
//! Run it twice: the second run registers a new version, but `champion` moves only if the
//! new version's RMSE beats the holder's, and the refusal is in the registry's audit log.
//! Then `mlops runs show --store <folder> <run id>` shows what was tracked, and
//! `mlops models show --registry <folder> --name income-regressor --version champion` the model.

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mlops::core::{ArtifactPath, StoreUri};
use mlops::drift::arrow_array::{Array, Float64Array, Int64Array, RecordBatch};
use mlops::drift::{DriftOptions, ReferenceProfile};
use mlops::registry::gates::{Direction, Gate, MetricGate};
use mlops::registry::{
    AliasName, Expect, ModelName, ModelRegistry, NewVersion, ObjectRegistry, RegistryError,
    RegistryExt, RunLink, promote,
};
use mlops::serve::runtime::linear::LinearFile;
use mlops::serve::{Server, serve};
use mlops::track::{
    ActiveRun, ExperimentName, LocalStore, MetricKey, RunName, RunOptions, RunStatus, TrackError,
    TrackingStore, dataset,
};
use ndarray::{Array1, Array2, Axis, Slice};
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

/// A numeric cell as `f64`, or `None` when null, non-finite or not a number column.
fn cell(array: &dyn Array, row: usize) -> Option<f64> {
    if array.is_null(row) {
        return None;
    }
    let any = array.as_any();
    let value = match any.downcast_ref::<Float64Array>() {
        Some(a) => a.value(row),
        None => any.downcast_ref::<Int64Array>()?.value(row) as f64,
    };
    value.is_finite().then_some(value)
}

/// The features and the target (income in thousands), leaving out incomplete records.
fn training_data(batches: &[RecordBatch]) -> Result<(Array2<f64>, Array1<f64>), Error> {
    let (mut features, mut target) = (Vec::new(), Vec::new());
    for batch in batches {
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| format!("the sample data has no column {name:?}"))
        };
        let (age, tenure, income) = (column(FEATURES[0])?, column(FEATURES[1])?, column(TARGET)?);
        for row in 0..batch.num_rows() {
            if let (Some(a), Some(t), Some(y)) =
                (cell(&age, row), cell(&tenure, row), cell(&income, row))
            {
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
    // The folder everything goes into: first argument, else $MLOPS_DATA_DIR, else ./mlops-data.
    let dir = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("MLOPS_DATA_DIR").ok())
        .map_or_else(|| PathBuf::from("mlops-data"), PathBuf::from);
    std::fs::create_dir_all(&dir)?;
    let uri = StoreUri::parse(dir.to_str().ok_or("the folder name is not UTF-8")?)?;
    println!("folder: {}", dir.display());

    // ---- 1. Track: train with ndarray, logging params, the loss per step, data and model ----
    let store: Arc<dyn TrackingStore> = Arc::new(LocalStore::open_uri(&uri).await?);
    let name = ExperimentName::parse("lifecycle")?;
    let experiment = match store.get_experiment_by_name(&name).await? {
        Some(found) => found.experiment_id,
        None => match store.create_experiment(&name, &[]).await {
            Ok(id) => id,
            // Another process created it in between: use theirs.
            Err(TrackError::AlreadyExists { .. }) => {
                store
                    .get_experiment_by_name(&name)
                    .await?
                    .ok_or("the experiment vanished")?
                    .experiment_id
            }
            Err(e) => return Err(e.into()),
        },
    };
    let reference = read_parquet(REFERENCE)?;
    let data = dataset::from_parquet_uri("churn-reference", REFERENCE).await?;
    let (raw_x, y) = training_data(&reference)?;
    let mean = raw_x.mean_axis(Axis(0)).ok_or("no training rows")?;
    let std = raw_x
        .std_axis(Axis(0), 0.0)
        .mapv(|s| if s > 0.0 { s } else { 1.0 });
    let x = (&raw_x - &mean) / &std;

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
    run.log_param("features", FEATURES.join(",")).await?;
    run.log_input(&data, Some("training")).await?;

    // Mini-batch gradient descent on the mean squared error.
    let loss_key = MetricKey::parse("loss")?;
    let (mut weights, mut bias) = (Array1::<f64>::zeros(FEATURES.len()), 0.0);
    for step in 0..EPOCHS {
        let start = (step as usize * BATCH_ROWS) % x.nrows();
        let rows = Slice::from(start..(start + BATCH_ROWS).min(x.nrows()));
        let (xb, yb) = (x.slice_axis(Axis(0), rows), y.slice_axis(Axis(0), rows));
        let error = xb.dot(&weights) + bias - yb;
        let n = error.len() as f64;
        weights = weights - xb.t().dot(&error) * (2.0 * LEARNING_RATE / n);
        bias -= error.sum() * 2.0 * LEARNING_RATE / n;
        run.log_metric(&loss_key, error.dot(&error) / n, step); // buffered: no I/O here
    }
    let residual = x.dot(&weights) + bias - &y;
    let rmse = (residual.dot(&residual) / residual.len() as f64).sqrt() * 1000.0;
    run.log_metric_wait(&MetricKey::parse("rmse")?, rmse, EPOCHS)
        .await?;

    // The built-in linear format, on raw features and in income units: the standardisation
    // and the /1000 scaling are folded into the coefficients.
    let coefficients: Vec<f64> = (0..FEATURES.len())
        .map(|j| 1000.0 * weights[j] / std[j])
        .collect();
    let intercept = 1000.0 * (bias - (&weights * &mean / &std).sum());
    let model = LinearFile {
        datatype: "FP64".into(),
        ..LinearFile::linear(vec![coefficients], vec![intercept])
    };
    let model_bytes = Bytes::from(serde_json::to_vec_pretty(&model)?);
    let model_path = ArtifactPath::parse("model/linear.json")?;
    store
        .log_artifact(run.run_id(), &model_path, model_bytes.clone())
        .await?;
    let (run_id, experiment_id) = (run.run_id().clone(), run.experiment_id().clone());
    run.finish(RunStatus::Finished).await?;
    println!("run: {run_id} (experiment lifecycle), rmse {rmse:.2}");

    // ---- 2. Register: a new version with the run's metrics, the data and a drift profile ----
    let registry = ObjectRegistry::open_uri(&uri)?.with_actor("lifecycle-example")?;
    let model_name = ModelName::parse(MODEL)?;
    match registry
        .create_model(&model_name, Some("income from age and tenure"), &[])
        .await
    {
        Ok(_) | Err(RegistryError::AlreadyExists { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let profile = ReferenceProfile::build(&reference, &DriftOptions::default())?;
    let link = RunLink {
        run_id: run_id.clone(),
        experiment_id,
        artifact_path: Some(ArtifactPath::parse("model")?),
        metrics: store.get_run(&run_id).await?.data.metrics,
    };
    let artifact = ArtifactPath::parse("model.json")?;
    let new = NewVersion::new()
        .with_artifact(artifact.clone(), model_bytes)
        .with_run(link)
        .with_dataset(data)
        .with_drift_profile(profile.to_json()?.into_bytes())
        .with_description(format!("ndarray linear regression, rmse {rmse:.2}"));
    let version = registry.create_version(&model_name, new).await?.version;
    println!("registered: {MODEL} v{version}");

    // ---- 3. Promote: to `champion` if the alias holds what we saw and the RMSE gate passes ----
    let champion = AliasName::parse(CHAMPION)?;
    let holder = registry.alias_holder(&model_name, &champion).await?;
    let gates: Vec<Box<dyn Gate>> = vec![Box::new(MetricGate::new(
        "rmse",
        Direction::LowerIsBetter,
        MARGIN,
    ))];
    let expect = Expect::exactly(holder); // Absent the first time, else the current holder
    let promotion = promote(&registry, &model_name, version, &champion, expect, &gates).await?;
    let was = holder.map_or_else(|| "none".to_owned(), |v| format!("v{v}"));
    if promotion.promoted() {
        println!("promoted: v{version} is now {CHAMPION} (was {was})");
    } else {
        let why = format!("{:?}", promotion.outcome); // GatesFailed or PreconditionFailed
        println!("not promoted ({why}): {CHAMPION} stays {was}");
    }
    for gate in &promotion.decision.gates {
        println!("  gate {}: {}", gate.gate, gate.reason);
    }
    if promotion.decision.gates.is_empty() {
        println!("  {}", promotion.decision.reason);
    }

    // ---- 4. Serve: the champion's file, digest-checked, over the Open Inference Protocol ----
    let served = registry.resolve_alias(&model_name, &champion).await?;
    let bytes = registry
        .download_artifact(&model_name, served.version, &artifact)
        .await?; // a file changed on disk since registration is a DigestMismatch error
    let serving_dir = dir.join("serving");
    std::fs::create_dir_all(&serving_dir)?;
    let file = serving_dir.join(format!("{MODEL}-v{}.json", served.version));
    std::fs::write(&file, &bytes)?;
    let prediction = predict(&file, &served.version.to_string(), [42.0, 24.0]).await?;
    println!(
        "served: {CHAMPION} = v{}; income for age 42, tenure 24 months: {prediction:.2}",
        served.version
    );

    // ---- 5. Drift: the newest data against the champion's reference profile ----
    let stored = registry
        .download_drift_profile(&model_name, served.version)
        .await?
        .ok_or("the champion has no drift profile")?;
    let profile = ReferenceProfile::from_json(std::str::from_utf8(&stored)?)?;
    let report = profile.compare(&read_parquet(CURRENT)?, &DriftOptions::default())?;
    let drifted: Vec<&str> = (report.columns.iter())
        .filter(|c| c.drifted)
        .map(|c| c.column.as_str())
        .collect();
    let d = &report.dataset;
    println!(
        "drift: {} of {} columns drifted ({}), share {:.3}: {}",
        d.n_drifted,
        d.n_columns,
        drifted.join(", "),
        d.share_drifted,
        if d.dataset_drift {
            "DATASET DRIFT"
        } else {
            "no dataset drift"
        }
    );
    let report_path = dir.join("drift-report.html");
    std::fs::write(
        &report_path,
        report.to_html("Drift: current.parquet vs champion"),
    )?;

    // ---- 6. Where everything is ----
    println!();
    println!("summary");
    println!("  tracking   {} (run {run_id})", dir.display());
    println!(
        "  registry   {} ({MODEL} v{version})",
        dir.join("registry").display()
    );
    println!("  champion   {MODEL} v{}", served.version);
    println!("  report     {}", report_path.display());
    println!(
        "  inspect    mlops runs show --store {} {run_id}",
        dir.display()
    );
    println!(
        "             mlops models show --registry {} --name {MODEL} --version {CHAMPION}",
        dir.display()
    );
    Ok(())
}

/// Serves the model file on a free loopback port, sends one OIP inference request for
/// `features`, stops the server and returns the prediction.
async fn predict(file: &Path, version: &str, features: [f64; 2]) -> Result<f64, Error> {
    let server = Server::builder()
        .model_file(file, MODEL, Some(version))?
        .drain_delay(Duration::ZERO)
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(serve(listener, server, async move {
        let _ = stopped.await;
    }));

    let request = serde_json::json!({
        "id": "lifecycle-1",
        "inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP64", "data": features}]
    });
    let url = format!("http://{addr}/v2/models/{MODEL}/versions/{version}/infer");
    let response: serde_json::Value = reqwest::Client::new()
        .post(&url)
        .json(&request)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let _ = stop.send(());
    serving.await??;
    response["outputs"][0]["data"][0]
        .as_f64()
        .ok_or_else(|| format!("no prediction in {response}").into())
}
