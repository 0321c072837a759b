//! The `train` step: an ndarray linear regression fitted by gradient descent, tracked as a
//! run (params, the loss per epoch, MAE / RMSE / MAPE, the datasets and their digests, the
//! model file) and registered as a new version with its signature and drift profile.

use std::path::{Path, PathBuf};

use mlops::core::ArtifactPath;
use mlops::drift::arrow_array::RecordBatch;
use mlops::drift::arrow_schema::{DataType, Field, Schema};
use mlops::drift::{DriftOptions, ReferenceProfile};
use mlops::registry::{ModelName, NewVersion, OpenOptions, RegistryExt, Signature};
use mlops::serve::runtime::linear::{Coefficients, Intercept, LinearFile};
use mlops::track::{ActiveRun, ExperimentName, MetricKey, RunName, RunOptions, RunStatus};
use mlops::track::{TrackingStoreExt, dataset};
use ndarray::{Array1, Array2, Axis};
use serde_json::{Value, json};

use crate::Error;
use crate::features::{self, FEATURES, TARGET};

/// The experiment every training run goes to.
pub(crate) const EXPERIMENT: &str = "taxi-fare";
/// The model file inside a version (and under `model/` in the run's artifacts).
pub(crate) const MODEL_FILE: &str = "model.json";

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
    /// The step size on standardised features.
    pub(crate) learning_rate: f64,
    /// The registered model.
    pub(crate) model: String,
}

/// A linear model on the raw features: `fare = intercept + coefficients · x`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Fit {
    pub(crate) coefficients: Array1<f64>,
    pub(crate) intercept: f64,
}

impl Fit {
    /// Predictions for the rows of `x`.
    pub(crate) fn predict(&self, x: &Array2<f64>) -> Array1<f64> {
        x.dot(&self.coefficients) + self.intercept
    }

    /// The model in the built-in linear format `mlops serve` loads (FP64).
    pub(crate) fn to_file(&self) -> LinearFile {
        LinearFile {
            datatype: "FP64".into(),
            ..LinearFile::linear(vec![self.coefficients.to_vec()], vec![self.intercept])
        }
    }

    /// A model back from its file.
    pub(crate) fn from_file(file: &LinearFile) -> Result<Self, Error> {
        let coefficients = match &file.coefficients {
            Coefficients::Flat(c) => c.clone(),
            Coefficients::Rows(rows) if rows.len() == 1 => rows[0].clone(),
            Coefficients::Rows(rows) => return Err(format!("{} outputs, not 1", rows.len()).into()),
        };
        if coefficients.len() != FEATURES.len() {
            return Err(format!(
                "{} coefficients for {} features",
                coefficients.len(),
                FEATURES.len()
            )
            .into());
        }
        let intercept = match &file.intercept {
            None => 0.0,
            Some(Intercept::Scalar(b)) => *b,
            Some(Intercept::PerOutput(b)) => *b.first().ok_or("an empty intercept")?,
        };
        Ok(Self {
            coefficients: Array1::from(coefficients),
            intercept,
        })
    }
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

/// Full-batch gradient descent on the mean squared error of standardised features;
/// `on_epoch(epoch, loss)` sees the loss before each update. The returned model works on
/// raw features (the standardisation is folded into its coefficients).
pub(crate) fn fit(
    x: &Array2<f64>,
    y: &Array1<f64>,
    epochs: i64,
    learning_rate: f64,
    mut on_epoch: impl FnMut(i64, f64),
) -> Result<Fit, Error> {
    let mean = x.mean_axis(Axis(0)).ok_or("no training rows")?;
    let std = (x.std_axis(Axis(0), 0.0)).mapv(|s| if s > 0.0 { s } else { 1.0 });
    let z = (x - &mean) / &std;
    let n = y.len() as f64;
    let (mut w, mut b) = (Array1::<f64>::zeros(x.ncols()), y.mean().unwrap_or(0.0));
    for epoch in 0..epochs {
        let error = z.dot(&w) + b - y;
        on_epoch(epoch, error.dot(&error) / n);
        w = w - z.t().dot(&error) * (2.0 * learning_rate / n);
        b -= error.sum() * 2.0 * learning_rate / n;
    }
    let coefficients = &w / &std;
    let intercept = b - (&coefficients * &mean).sum();
    Ok(Fit {
        coefficients,
        intercept,
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

/// The training and evaluation feature tables of a plan.
pub(crate) fn split(
    plan: &TrainPlan,
    weeks: &[PathBuf],
) -> Result<(RecordBatch, RecordBatch), Error> {
    if !(1..=7).contains(&plan.eval_days) {
        return Err(format!("--eval-days {} is not in 1..=7", plan.eval_days).into());
    }
    let first_eval_day = 7 - plan.eval_days;
    let (last, earlier) = weeks.split_last().ok_or("no weeks")?;
    let mut train = features::FeatureTable::default();
    for week in earlier {
        train.add(&features::read_parquet(week)?, |_| true)?;
    }
    let newest = features::read_parquet(last)?;
    train.add(&newest, |day| day < first_eval_day)?;
    let train = train.finish()?;
    let eval = features::feature_batch(&newest, |day| day >= first_eval_day)?;
    if train.num_rows() == 0 || eval.num_rows() == 0 {
        let (t, e) = (train.num_rows(), eval.num_rows());
        return Err(format!("{t} training and {e} evaluation rows: both must be > 0").into());
    }
    Ok((train, eval))
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
    let outcome = fit_and_log(&run, plan, &train_rows, &eval_rows).await;
    let (fit, train_scores, eval_scores) = match outcome {
        Ok(done) => done,
        Err(e) => {
            run.finish(RunStatus::Failed).await?;
            return Err(e);
        }
    };
    let model_file = serde_json::to_vec_pretty(&fit.to_file())?;
    run.log_artifact(&format!("model/{MODEL_FILE}"), model_file.clone())
        .await?;
    let run_id = run.run_id().clone();
    run.finish(RunStatus::Finished).await?;

    // The reference profile covers the inputs and the fare: a drift report on new weeks then
    // shows both a change in trips and a change in prices.
    let profile = ReferenceProfile::build(std::slice::from_ref(&train_rows), &drift_options())?;
    let output = Schema::new(vec![Field::new(TARGET, DataType::Float64, false)]);
    let signature = Signature::new(features::feature_schema(false), Some(output));
    let registry = mlops::registry::open_with(root, &OpenOptions::new().actor(actor))?;
    let model = ModelName::parse(&plan.model)?;
    let mut new = NewVersion::new()
        .with_artifact(ArtifactPath::parse(MODEL_FILE)?, model_file)
        .with_signature(signature)
        .with_drift_profile(profile.to_json()?.into_bytes())
        .with_description(format!(
            "linear regression on {} week(s) through {eval_week}: MAPE {:.2} %",
            weeks.len(),
            eval_scores.mape
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
        "train_rows": train_rows.num_rows(),
        "eval_rows": eval_rows.num_rows(),
        "mae": eval_scores.mae,
        "rmse": eval_scores.rmse,
        "mape": eval_scores.mape,
        "train_mape": train_scores.mape,
        "datasets": digests,
    }))
}

/// The drift options of the profile and of the `drift` step: Evidently's defaults, and a
/// dataset drifts when any one column does (the template watches few columns).
pub(crate) fn drift_options() -> DriftOptions {
    DriftOptions::default().with_drift_share(1.0 / (FEATURES.len() + 1) as f64)
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

/// Params, the fit with its loss per epoch, and the scores, all into `run`.
async fn fit_and_log(
    run: &ActiveRun,
    plan: &TrainPlan,
    train_rows: &RecordBatch,
    eval_rows: &RecordBatch,
) -> Result<(Fit, Scores, Scores), Error> {
    run.log_param("model_type", "linear_regression").await?;
    run.log_param("epochs", plan.epochs.to_string()).await?;
    run.log_param("learning_rate", plan.learning_rate.to_string())
        .await?;
    run.log_param("features", FEATURES.join(",")).await?;
    run.log_param("weeks", plan.weeks.to_string()).await?;
    run.log_param("eval_days", plan.eval_days.to_string())
        .await?;
    let (x, y) = features::matrix(train_rows)?;
    let loss = MetricKey::parse("loss")?;
    let fit = fit(&x, &y, plan.epochs, plan.learning_rate, |epoch, value| {
        run.log_metric(&loss, value, epoch);
    })?;
    let train_scores = scores(&fit.predict(&x), &y);
    let (xe, ye) = features::matrix(eval_rows)?;
    let eval_scores = scores(&fit.predict(&xe), &ye);
    let step = plan.epochs;
    for (key, value) in [
        ("train_mae", train_scores.mae),
        ("train_rmse", train_scores.rmse),
        ("train_mape", train_scores.mape),
        ("mae", eval_scores.mae),
        ("rmse", eval_scores.rmse),
        ("mape", eval_scores.mape),
        ("train_rows", train_rows.num_rows() as f64),
        ("eval_rows", eval_rows.num_rows() as f64),
    ] {
        run.log_metric(&MetricKey::parse(key)?, value, step);
    }
    run.flush().await?;
    Ok((fit, train_scores, eval_scores))
}
