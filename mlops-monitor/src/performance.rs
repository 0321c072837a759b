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

use serde::Serialize;

use crate::error::{MonitorError, Result};

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
