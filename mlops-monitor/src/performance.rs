//! Model performance once labels arrive, with scikit-learn's definitions (checked against
//! fixtures `scripts/fixtures/performance.py` generates with scikit-learn):
//!
//! - regression ([`regression`]): `mean_absolute_error`, `root_mean_squared_error`,
//!   `r2_score` (1 − SS_res/SS_tot; with constant labels 1.0 when the fit is perfect, else
//!   0.0, as `force_finite=True`), `mean_absolute_percentage_error` (|y − ŷ| / max(|y|, ε),
//!   ε the float64 machine epsilon);
//! - binary classification ([`classification`]): `accuracy_score`, `precision_score`,
//!   `recall_score`, `f1_score` for the positive class 1 (0 where undefined, as
//!   `zero_division=0`), and `roc_auc_score` from scores (the trapezoidal ROC area, ties
//!   counted half; undefined, `None`, when only one class is present).

use std::collections::HashMap;

use arrow_array::{Array, RecordBatch};
use mlops_core::Timestamp;
use serde::Serialize;

use crate::error::{MonitorError, Result};
use crate::window::VersionKey;

/// Regression metrics.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RegressionMetrics {
    /// Pairs.
    pub n: u64,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Coefficient of determination.
    pub r2: f64,
    /// Mean absolute percentage error (a fraction, not a percentage).
    pub mape: f64,
}

/// Binary classification metrics.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ClassificationMetrics {
    /// Pairs.
    pub n: u64,
    /// Accuracy.
    pub accuracy: f64,
    /// Precision of class 1.
    pub precision: f64,
    /// Recall of class 1.
    pub recall: f64,
    /// F1 of class 1.
    pub f1: f64,
    /// ROC AUC of the scores, when both classes are present.
    pub roc_auc: Option<f64>,
}

fn check(labels: &[f64], predictions: &[f64]) -> Result<()> {
    if labels.len() != predictions.len() {
        return Err(MonitorError::InvalidArgument(format!(
            "{} labels and {} predictions",
            labels.len(),
            predictions.len()
        )));
    }
    if labels.is_empty() {
        return Err(MonitorError::InvalidArgument(
            "no labelled predictions".into(),
        ));
    }
    if let Some(bad) = labels.iter().chain(predictions).find(|v| !v.is_finite()) {
        return Err(MonitorError::InvalidArgument(format!(
            "a label or prediction is {bad}, not a finite number"
        )));
    }
    Ok(())
}

/// Regression metrics of `predictions` against `labels` (see the [module docs](self)).
///
/// # Errors
///
/// [`MonitorError::InvalidArgument`] for different lengths, no pairs or a non-finite value.
pub fn regression(labels: &[f64], predictions: &[f64]) -> Result<RegressionMetrics> {
    check(labels, predictions)?;
    let n = labels.len() as f64;
    let mut abs = 0.0;
    let mut sq = 0.0;
    let mut pct = 0.0;
    for (y, p) in labels.iter().zip(predictions) {
        let e = y - p;
        abs += e.abs();
        sq += e * e;
        pct += e.abs() / y.abs().max(f64::EPSILON);
    }
    let mean = labels.iter().sum::<f64>() / n;
    let total: f64 = labels.iter().map(|y| (y - mean) * (y - mean)).sum();
    let r2 = if total == 0.0 {
        if sq == 0.0 { 1.0 } else { 0.0 }
    } else {
        1.0 - sq / total
    };
    Ok(RegressionMetrics {
        n: labels.len() as u64,
        mae: abs / n,
        rmse: (sq / n).sqrt(),
        r2,
        mape: pct / n,
    })
}

/// Binary classification metrics: `labels` are 0 or 1, `scores` the model's scores
/// (probabilities of class 1); the predicted class is 1 when the score is at least
/// `threshold`.
///
/// # Errors
///
/// [`MonitorError::InvalidArgument`] for a label other than 0 or 1, different lengths, no
/// pairs or a non-finite value.
pub fn classification(
    labels: &[f64],
    scores: &[f64],
    threshold: f64,
) -> Result<ClassificationMetrics> {
    check(labels, scores)?;
    if let Some(bad) = labels.iter().find(|&&y| y != 0.0 && y != 1.0) {
        return Err(MonitorError::InvalidArgument(format!(
            "label {bad} is not 0 or 1"
        )));
    }
    let (mut tp, mut fp, mut tn, mut fn_) = (0u64, 0u64, 0u64, 0u64);
    for (y, s) in labels.iter().zip(scores) {
        match (*y == 1.0, *s >= threshold) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
            (true, false) => fn_ += 1,
        }
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    // sklearn: 2·tp / (2·tp + fp + fn), 0 when that is 0/0.
    let f1 = ratio(2 * tp, 2 * tp + fp + fn_);
    Ok(ClassificationMetrics {
        n: labels.len() as u64,
        accuracy: ratio(tp + tn, tp + tn + fp + fn_),
        precision,
        recall,
        f1,
        roc_auc: roc_auc(labels, scores),
    })
}

/// The ROC area by ranks (Mann–Whitney U / (n₁·n₀), ties averaged): the trapezoidal area
/// under the ROC curve `roc_auc_score` computes.
fn roc_auc(labels: &[f64], scores: &[f64]) -> Option<f64> {
    let positives = labels.iter().filter(|&&y| y == 1.0).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mean_rank = (i + j + 2) as f64 / 2.0;
        for &k in &order[i..=j] {
            if labels[k] == 1.0 {
                rank_sum += mean_rank;
            }
        }
        i = j + 1;
    }
    let p = positives as f64;
    let u = rank_sum - p * (p + 1.0) / 2.0;
    Some(u / (p * negatives as f64))
}

/// One labelled prediction: a logged row joined with its label.
#[derive(Clone, Debug, PartialEq)]
pub struct Labelled {
    /// The model version that answered.
    pub key: VersionKey,
    /// When the request arrived.
    pub time: Timestamp,
    /// The row's id.
    pub id: String,
    /// The ground truth.
    pub label: f64,
    /// The prediction (or score).
    pub prediction: f64,
}

/// What the predictions are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Task {
    /// Numbers: MAE, RMSE, R², MAPE.
    Regression,
    /// Scores of class 1, thresholded into classes.
    Classification {
        /// The score at and above which the class is 1.
        threshold: f64,
    },
}

/// One window's metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PerformanceWindow {
    /// The model version.
    pub model: String,
    /// The version.
    pub version: String,
    /// The first request's time.
    pub start: Timestamp,
    /// The last request's time.
    pub end: Timestamp,
    /// Regression metrics (for [`Task::Regression`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regression: Option<RegressionMetrics>,
    /// Classification metrics (for [`Task::Classification`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification: Option<ClassificationMetrics>,
}

impl PerformanceWindow {
    /// The value of the metric named `name` (one of [`METRICS`]), when the window has it:
    /// regression windows have mae, rmse, r2, mape; classification windows the others
    /// (roc_auc only when both classes occur).
    pub fn metric(&self, name: &str) -> Option<f64> {
        if let Some(m) = &self.regression {
            return match name {
                "mae" => Some(m.mae),
                "rmse" => Some(m.rmse),
                "r2" => Some(m.r2),
                "mape" => Some(m.mape),
                _ => None,
            };
        }
        let m = self.classification.as_ref()?;
        match name {
            "accuracy" => Some(m.accuracy),
            "precision" => Some(m.precision),
            "recall" => Some(m.recall),
            "f1" => Some(m.f1),
            "roc_auc" => m.roc_auc,
            _ => None,
        }
    }

    /// The labelled rows of the window.
    pub fn rows(&self) -> u64 {
        self.regression
            .map(|m| m.n)
            .or(self.classification.map(|m| m.n))
            .unwrap_or(0)
    }
}

/// A numeric Arrow column as `f64`s (nulls as NaN).
fn numbers(array: &dyn Array, name: &str) -> Result<Vec<f64>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, UInt64Type};
    use arrow_schema::DataType;
    let get = |i: usize, v: f64| if array.is_null(i) { f64::NAN } else { v };
    let values: Vec<f64> = match array.data_type() {
        DataType::Float64 => {
            let a = array.as_primitive::<Float64Type>();
            (0..a.len()).map(|i| get(i, a.value(i))).collect()
        }
        DataType::Float32 => {
            let a = array.as_primitive::<Float32Type>();
            (0..a.len())
                .map(|i| get(i, f64::from(a.value(i))))
                .collect()
        }
        DataType::Int64 => {
            let a = array.as_primitive::<Int64Type>();
            (0..a.len()).map(|i| get(i, a.value(i) as f64)).collect()
        }
        DataType::Int32 => {
            let a = array.as_primitive::<Int32Type>();
            (0..a.len())
                .map(|i| get(i, f64::from(a.value(i))))
                .collect()
        }
        DataType::UInt64 => {
            let a = array.as_primitive::<UInt64Type>();
            (0..a.len()).map(|i| get(i, a.value(i) as f64)).collect()
        }
        DataType::Boolean => {
            let a = array.as_boolean();
            (0..a.len())
                .map(|i| get(i, if a.value(i) { 1.0 } else { 0.0 }))
                .collect()
        }
        other => {
            return Err(MonitorError::InvalidArgument(format!(
                "column {name:?} has type {other}, not a number"
            )));
        }
    };
    Ok(values)
}

/// A text column (plain, large, or dictionary-encoded as Parquet readers give it).
fn strings(array: &dyn Array) -> Option<Vec<Option<String>>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int32Type;
    if let Some(s) = array.as_string_opt::<i32>() {
        return Some(s.iter().map(|v| v.map(str::to_owned)).collect());
    }
    if let Some(s) = array.as_string_opt::<i64>() {
        return Some(s.iter().map(|v| v.map(str::to_owned)).collect());
    }
    let dictionary = array.as_dictionary_opt::<Int32Type>()?;
    let values = dictionary.values().as_string_opt::<i32>()?;
    Some(
        dictionary
            .keys()
            .iter()
            .map(|k| {
                k.and_then(|k| usize::try_from(k).ok())
                    .filter(|&k| k < values.len())
                    .map(|k| values.value(k).to_owned())
            })
            .collect(),
    )
}

/// Labels from batches: `id` column (text or integer) to `label` column (a number).
///
/// # Errors
///
/// [`MonitorError::InvalidArgument`] naming a missing column, a column of the wrong type, or
/// an id that appears twice.
pub fn labels_from(batches: &[RecordBatch], id: &str, label: &str) -> Result<HashMap<String, f64>> {
    let mut out = HashMap::new();
    for batch in batches {
        let column = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| {
                MonitorError::InvalidArgument(format!("the labels have no column {name:?}"))
            })
        };
        let ids = column(id)?;
        let ids: Vec<Option<String>> = match strings(ids.as_ref()) {
            Some(s) => s,
            None => numbers(ids.as_ref(), id)?
                .into_iter()
                .map(|v| v.is_finite().then(|| format!("{v}")))
                .collect(),
        };
        let values = numbers(column(label)?.as_ref(), label)?;
        for (id_value, value) in ids.into_iter().zip(values) {
            let Some(id_value) = id_value else { continue };
            if out.insert(id_value.clone(), value).is_some() {
                return Err(MonitorError::InvalidArgument(format!(
                    "id {id_value:?} has two labels"
                )));
            }
        }
    }
    Ok(out)
}

/// Joins logged rows with `labels` by id; rows without a label are left out. `prediction`
/// names the logged column to score (default: the only `out.` column).
///
/// # Errors
///
/// [`MonitorError::InvalidArgument`] when the prediction column is missing or ambiguous
/// (the message lists the candidates).
pub fn join(
    log: &[(VersionKey, RecordBatch)],
    labels: &HashMap<String, f64>,
    prediction: Option<&str>,
) -> Result<Vec<Labelled>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampMillisecondType;
    let mut out = Vec::new();
    for (key, batch) in log {
        let schema = batch.schema();
        let name = match prediction {
            Some(name) => name.to_owned(),
            None => {
                let outputs: Vec<&str> = schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .filter(|n| n.starts_with("out."))
                    .collect();
                match outputs.as_slice() {
                    [one] => (*one).to_owned(),
                    _ => {
                        return Err(MonitorError::InvalidArgument(format!(
                            "name the prediction column (--prediction): the log of {} has {}",
                            key.model,
                            if outputs.is_empty() {
                                "no output column".to_owned()
                            } else {
                                outputs.join(", ")
                            }
                        )));
                    }
                }
            }
        };
        let missing = |c: &str| {
            MonitorError::InvalidArgument(format!("the log of {} has no column {c:?}", key.model))
        };
        let ids = batch.column_by_name("id").ok_or_else(|| missing("id"))?;
        let ids = ids.as_string_opt::<i32>().ok_or_else(|| missing("id"))?;
        let times = batch
            .column_by_name("time")
            .ok_or_else(|| missing("time"))?;
        let times = times
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or_else(|| missing("time"))?;
        let predictions = numbers(
            batch
                .column_by_name(&name)
                .ok_or_else(|| missing(&name))?
                .as_ref(),
            &name,
        )?;
        for (i, p) in predictions.into_iter().enumerate() {
            let id = ids.value(i);
            if let Some(label) = labels.get(id) {
                out.push(Labelled {
                    key: key.clone(),
                    time: Timestamp::from_millis(times.value(i))?,
                    id: id.to_owned(),
                    label: *label,
                    prediction: p,
                });
            }
        }
    }
    Ok(out)
}

/// Metrics per model version over windows of `window_rows` labelled rows in time order
/// (the last window may be shorter).
///
/// # Errors
///
/// [`MonitorError::InvalidArgument`] for a window size of 0, or a window whose values the
/// metrics refuse (a NaN, a label other than 0/1 for classification).
pub fn evaluate(
    mut rows: Vec<Labelled>,
    task: Task,
    window_rows: usize,
) -> Result<Vec<PerformanceWindow>> {
    if window_rows == 0 {
        return Err(MonitorError::InvalidArgument("a window of 0 rows".into()));
    }
    rows.sort_by(|a, b| (&a.key, a.time, &a.id).cmp(&(&b.key, b.time, &b.id)));
    let mut out = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let key = &rows[start].key;
        let end_of_key = rows[start..]
            .iter()
            .position(|r| r.key != *key)
            .map_or(rows.len(), |p| start + p);
        for chunk in rows[start..end_of_key].chunks(window_rows) {
            let labels: Vec<f64> = chunk.iter().map(|r| r.label).collect();
            let predictions: Vec<f64> = chunk.iter().map(|r| r.prediction).collect();
            let (regression, classification) = match task {
                Task::Regression => (Some(regression(&labels, &predictions)?), None),
                Task::Classification { threshold } => (
                    None,
                    Some(classification(&labels, &predictions, threshold)?),
                ),
            };
            out.push(PerformanceWindow {
                model: key.model.clone(),
                version: key.version.clone(),
                start: chunk[0].time,
                end: chunk[chunk.len() - 1].time,
                regression,
                classification,
            });
        }
        start = end_of_key;
    }
    Ok(out)
}

/// A performance gate: a window's metric must not be worse than the version's registered
/// value (its training run's metric snapshot) by more than a margin. Written
/// `METRIC[=RUN_METRIC]:higher|lower[:MARGIN]`: `higher` when higher is better
/// (`accuracy:higher:0.02` fails a window whose accuracy is below the registered one minus
/// 0.02), `lower` when lower is better (`rmse=val_rmse:lower`).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricGate {
    /// The window metric: mae, rmse, r2, mape, accuracy, precision, recall, f1, roc_auc.
    pub metric: String,
    /// The registered metric's key (default: the same name).
    pub registered: String,
    /// Whether higher values are better.
    pub higher_is_better: bool,
    /// How much worse is tolerated.
    pub margin: f64,
}

/// The window metrics by name, as [`MetricGate`]s and performance trigger rules read them.
pub const METRICS: [&str; 9] = [
    "mae",
    "rmse",
    "r2",
    "mape",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
];

impl std::str::FromStr for MetricGate {
    type Err = MonitorError;

    fn from_str(text: &str) -> Result<Self> {
        let bad = |why: &str| MonitorError::InvalidArgument(format!("gate {text:?}: {why}"));
        let mut parts = text.split(':');
        let (Some(names), Some(direction)) = (parts.next(), parts.next()) else {
            return Err(bad("expected METRIC[=RUN_METRIC]:higher|lower[:MARGIN]"));
        };
        let margin = match parts.next() {
            Some(m) => m
                .parse::<f64>()
                .ok()
                .filter(|m| m.is_finite() && *m >= 0.0)
                .ok_or_else(|| bad("the margin must be a number >= 0"))?,
            None => 0.0,
        };
        if parts.next().is_some() {
            return Err(bad("too many parts"));
        }
        let (metric, registered) = names.split_once('=').unwrap_or((names, names));
        if !METRICS.contains(&metric) {
            return Err(bad(&format!(
                "metric {metric:?} is not one of {}",
                METRICS.join(", ")
            )));
        }
        if registered.is_empty() {
            return Err(bad("the registered metric's name is empty"));
        }
        let higher_is_better = match direction {
            "higher" => true,
            "lower" => false,
            _ => return Err(bad("say higher or lower (which is better)")),
        };
        Ok(Self {
            metric: metric.to_owned(),
            registered: registered.to_owned(),
            higher_is_better,
            margin,
        })
    }
}

impl MetricGate {
    /// The window's value of the gate's metric, when the window has it.
    pub fn value(&self, window: &PerformanceWindow) -> Option<f64> {
        window.metric(&self.metric)
    }

    /// Whether `value` is worse than `registered` by more than the margin.
    pub fn fails(&self, value: f64, registered: f64) -> bool {
        if self.higher_is_better {
            value < registered - self.margin
        } else {
            value > registered + self.margin
        }
    }
}
