//! The `train` step: the feature transform fit on the training trips, then an ndarray linear
//! regression fitted by gradient descent on its outputs, tracked as a run (params, the loss
//! per epoch, MAE / RMSE / MAPE, the datasets and their digests, the spec, the fitted
//! transform and the model file) and registered as a new version holding the model *and*
//! its transform, with its signature (the raw columns) and drift profile.

use std::path::{Path, PathBuf};

use mlops::core::ArtifactPath;
use mlops::drift::arrow_array::RecordBatch;
use mlops::drift::arrow_schema::{DataType, Field, Schema};
use mlops::drift::{DriftOptions, ReferenceProfile};
use mlops::registry::{ModelName, NewVersion, OpenOptions, RegistryExt, Signature};
use mlops::track::{ActiveRun, ExperimentName, MetricKey, RunName, RunOptions, RunStatus};
use mlops::track::{RunEnvironment, TrackingStoreExt, dataset};
use mlops::transform::{FittedTransform, TransformSpec};
use ndarray::{Array1, Array2};
use serde_json::{Value, json};

use crate::Error;
use crate::features::{self, MONITORED, TARGET};
use crate::model::{Fit, MODEL_FILE, Predictor, TRANSFORM_FILE};

/// The experiment every training run goes to.
pub(crate) const EXPERIMENT: &str = "taxi-fare";

/// What `train` reads and how it fits.
#[derive(Clone, Debug)]
pub(crate) struct TrainPlan {
    /// The week partitions' folder.
    pub(crate) data: PathBuf,
    /// How many of the newest weeks to use; the newest one holds the evaluation days.
    pub(crate) weeks: usize,
    /// The last days (1..=7) of the newest week are held out for evaluation; the rest trains.
    pub(crate) eval_days: i64,
    /// Full-batch gradient-descent epochs.
    pub(crate) epochs: i64,
    /// The step size (the transform standardises the features).
    pub(crate) learning_rate: f64,
    /// The registered model.
    pub(crate) model: String,
    /// The features: `--spec FILE`, else [`features::default_spec`].
    pub(crate) spec: TransformSpec,
}

/// Mean absolute error, root mean squared error and mean absolute percentage error (%).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Scores {
    pub(crate) mae: f64,
    pub(crate) rmse: f64,
    pub(crate) mape: f64,
}

/// The scores of `predicted` against `actual` (fares are positive, so MAPE is defined).
pub(crate) fn scores(predicted: &Array1<f64>, actual: &Array1<f64>) -> Scores {
    let n = actual.len().max(1) as f64;
    let error = predicted - actual;
    let mae = error.mapv(f64::abs).sum() / n;
    let rmse = (error.dot(&error) / n).sqrt();
    let mape = (error.iter().zip(actual))
        .map(|(e, a)| (e / a).abs())
        .sum::<f64>()
        / n
        * 100.0;
    Scores { mae, rmse, mape }
}

/// Full-batch gradient descent on the mean squared error of `x` (the transform's outputs,
/// already on one scale); `on_epoch(epoch, loss)` sees the loss before each update. The
/// coefficients apply to `x` as it is: nothing is folded in, the transform ships beside them.
pub(crate) fn fit(
    x: &Array2<f64>,
    y: &Array1<f64>,
    epochs: i64,
    learning_rate: f64,
    mut on_epoch: impl FnMut(i64, f64),
) -> Result<Fit, Error> {
    if x.nrows() == 0 || x.nrows() != y.len() {
        return Err(format!("{} rows of features for {} targets", x.nrows(), y.len()).into());
    }
    let n = y.len() as f64;
    let (mut w, mut b) = (Array1::<f64>::zeros(x.ncols()), y.mean().unwrap_or(0.0));
    for epoch in 0..epochs {
        let error = x.dot(&w) + b - y;
        on_epoch(epoch, error.dot(&error) / n);
        w = w - x.t().dot(&error) * (2.0 * learning_rate / n);
        b -= error.sum() * 2.0 * learning_rate / n;
    }
    Ok(Fit {
        coefficients: w,
        intercept: b,
    })
}

/// The weeks a plan uses: the newest `weeks` partitions, oldest first.
pub(crate) fn selected_weeks(plan: &TrainPlan) -> Result<Vec<PathBuf>, Error> {
    let all = features::partitions(&plan.data)?;
    if plan.weeks == 0 || all.len() < plan.weeks {
        let have = all.len();
        let dir = plan.data.display();
        return Err(format!("--weeks {} but {dir} holds {have} week(s)", plan.weeks).into());
    }
    Ok(all[all.len() - plan.weeks..].to_vec())
}

/// The training and evaluation trips of a plan (raw columns).
pub(crate) fn split(
    plan: &TrainPlan,
    weeks: &[PathBuf],
) -> Result<(Vec<RecordBatch>, Vec<RecordBatch>), Error> {
    if !(1..=7).contains(&plan.eval_days) {
        return Err(format!("--eval-days {} is not in 1..=7", plan.eval_days).into());
    }
    let first_eval_day = 7 - plan.eval_days;
    let (last, earlier) = weeks.split_last().ok_or("no weeks")?;
    let mut train = Vec::new();
    for week in earlier {
        train.extend(features::read_trips(week, 0..7)?);
    }
    train.extend(features::read_trips(last, 0..first_eval_day)?);
    let eval = features::read_trips(last, first_eval_day..7)?;
    let rows = |b: &[RecordBatch]| b.iter().map(RecordBatch::num_rows).sum::<usize>();
    if rows(&train) == 0 || rows(&eval) == 0 {
        let (t, e) = (rows(&train), rows(&eval));
        return Err(format!("{t} training and {e} evaluation rows: both must be > 0").into());
    }
    Ok((train, eval))
}

/// What training produced: the model and its fitted transform (both as registered), the
/// scores on the training and the evaluation rows, and the row counts.
struct Trained {
    model_file: Vec<u8>,
    transform: FittedTransform,
    train: Scores,
    eval: Scores,
    train_rows: usize,
    eval_rows: usize,
}

/// Runs the `train` step on the store root `root`.
pub(crate) async fn train(root: &str, plan: &TrainPlan, actor: &str) -> Result<Value, Error> {
    let weeks = selected_weeks(plan)?;
    let (train_rows, eval_rows) = split(plan, &weeks)?;
    let eval_week = features::week_of(weeks.last().ok_or("no weeks")?);

    let tracking = mlops::track::open(root).await?;
    let experiment = ExperimentName::parse(EXPERIMENT)?;
    let experiment = tracking.get_or_create_experiment(&experiment).await?;
    let name = RunName::parse(format!("linear-{eval_week}"))?;
    let run = (tracking.start_run(&experiment, Some(name), RunOptions::default())).await?;
    let datasets = log_inputs(&run, &weeks).await?;
    let trained = match fit_and_log(&run, plan, &train_rows, &eval_rows).await {
        Ok(done) => done,
        Err(e) => {
            run.finish(RunStatus::Failed).await?;
            return Err(e);
        }
    };
    let transform_file = trained.transform.to_json();
    run.log_artifact(&format!("model/{MODEL_FILE}"), trained.model_file.clone())
        .await?;
    run.log_artifact(&format!("model/{TRANSFORM_FILE}"), transform_file.clone())
        .await?;
    let run_id = run.run_id().clone();
    run.finish(RunStatus::Finished).await?;

    // The reference profile covers the raw inputs and the fare: a drift report on new weeks
    // then shows both a change in trips and a change in prices.
    let watched = features::monitored(&train_rows)?;
    let profile = ReferenceProfile::build(&watched, &drift_options())?;
    let schema = train_rows.first().map(|b| b.schema()).ok_or("no rows")?;
    let inputs: Vec<&str> = trained.transform.inputs().iter().map(|(c, _)| *c).collect();
    let output = Schema::new(vec![Field::new(TARGET, DataType::Float64, false)]);
    let signature = Signature::new(features::input_schema(&schema, &inputs)?, Some(output));
    let registry = mlops::registry::open_with(root, &OpenOptions::new().actor(actor))?;
    let model = ModelName::parse(&plan.model)?;
    let mut new = NewVersion::new()
        .with_artifact(ArtifactPath::parse(MODEL_FILE)?, trained.model_file)
        .with_artifact(ArtifactPath::parse(TRANSFORM_FILE)?, transform_file)
        .with_signature(signature)
        .with_drift_profile(profile.to_json()?.into_bytes())
        .with_description(format!(
            "linear regression on {} transformed features, {} week(s) through {eval_week}: MAPE {:.2} %",
            trained.transform.width(),
            weeks.len(),
            trained.eval.mape
        ));
    for (dataset, _) in &datasets {
        new = new.with_dataset(dataset.clone());
    }
    let version = (registry.register_from_run(&model, &*tracking, &run_id, new)).await?;

    let digests: Vec<Value> = (datasets.iter())
        .map(|(d, context)| json!({"name": d.name(), "digest": d.digest().to_string(), "rows": d.rows(), "context": context}))
        .collect();
    Ok(json!({
        "run_id": run_id.to_string(),
        "model": plan.model,
        "version": version.version.to_string(),
        "eval_week": eval_week,
        "train_rows": trained.train_rows,
        "eval_rows": trained.eval_rows,
        "features": trained.transform.output_names(),
        "inputs": inputs,
        "mae": trained.eval.mae,
        "rmse": trained.eval.rmse,
        "mape": trained.eval.mape,
        "train_mape": trained.train.mape,
        "datasets": digests,
    }))
}

/// The drift options of the profile and of the `drift` step: Evidently's defaults, and a
/// dataset drifts when any one column does (the template watches few columns).
pub(crate) fn drift_options() -> DriftOptions {
    DriftOptions::default().with_drift_share(1.0 / MONITORED.len() as f64)
}

/// Logs each week file as a run input (its digest is the dataset's identity); returns the
/// references with their context.
async fn log_inputs(
    run: &ActiveRun,
    weeks: &[PathBuf],
) -> Result<Vec<(mlops::core::DatasetRef, &'static str)>, Error> {
    let mut refs = Vec::new();
    for (i, week) in weeks.iter().enumerate() {
        let context = if i + 1 == weeks.len() {
            "training+evaluation"
        } else {
            "training"
        };
        let name = format!("yellow-tripdata-{}", features::week_of(week));
        let data = dataset::from_parquet_uri(name, &path_text(week)?).await?;
        run.log_input(&data, Some(context)).await?;
        refs.push((data, context));
    }
    Ok(refs)
}

fn path_text(path: &Path) -> Result<String, Error> {
    Ok(path
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))?
        .to_owned())
}

/// Params and the training configuration (the plan and the feature spec), the transform fit
/// on the training rows, the model fit on its outputs with its loss per epoch, and the
/// scores (through the same transform and serving runtime as `mlops serve`), all into `run`.
async fn fit_and_log(
    run: &ActiveRun,
    plan: &TrainPlan,
    train_rows: &[RecordBatch],
    eval_rows: &[RecordBatch],
) -> Result<Trained, Error> {
    run.log_param("model_type", "linear_regression").await?;
    run.log_param("epochs", plan.epochs.to_string()).await?;
    run.log_param("learning_rate", plan.learning_rate.to_string())
        .await?;
    run.log_param("weeks", plan.weeks.to_string()).await?;
    run.log_param("eval_days", plan.eval_days.to_string())
        .await?;
    let config = json!({
        "weeks": plan.weeks, "eval_days": plan.eval_days, "epochs": plan.epochs,
        "learning_rate": plan.learning_rate, "model": plan.model, "features": plan.spec,
    });
    let env = RunEnvironment::new().with_config("train.json", serde_json::to_vec_pretty(&config)?);
    run.log_environment(&env).await?;

    let transform = plan.spec.fit(train_rows)?;
    run.log_param("features", transform.output_names().join(","))
        .await?;
    let x = transform.apply_batches(train_rows)?;
    let y = features::target(train_rows)?;
    let loss = MetricKey::parse("loss")?;
    let fit = fit(&x, &y, plan.epochs, plan.learning_rate, |epoch, value| {
        run.log_metric(&loss, value, epoch);
    })?;
    let model_file = serde_json::to_vec_pretty(&fit.to_file())?;
    let predictor = Predictor::new(transform.clone(), &model_file)?;
    let train_scores = scores(&predictor.predict(train_rows)?, &y);
    let eval_scores = scores(
        &predictor.predict(eval_rows)?,
        &features::target(eval_rows)?,
    );
    let rows = |b: &[RecordBatch]| b.iter().map(RecordBatch::num_rows).sum::<usize>();
    let (n_train, n_eval) = (rows(train_rows), rows(eval_rows));
    let step = plan.epochs;
    for (key, value) in [
        ("train_mae", train_scores.mae),
        ("train_rmse", train_scores.rmse),
        ("train_mape", train_scores.mape),
        ("mae", eval_scores.mae),
        ("rmse", eval_scores.rmse),
        ("mape", eval_scores.mape),
        ("train_rows", n_train as f64),
        ("eval_rows", n_eval as f64),
    ] {
        run.log_metric(&MetricKey::parse(key)?, value, step);
    }
    run.flush().await?;
    Ok(Trained {
        model_file,
        transform,
        train: train_scores,
        eval: eval_scores,
        train_rows: n_train,
        eval_rows: n_eval,
    })
}
