//! The runs table's best-value columns: a metric's minimum or maximum over its whole
//! history (columns `min.KEY` and `max.KEY`; `best.KEY` means `min.KEY`, the default rule,
//! since most logged metrics are losses). The store keeps only each metric's last value, so
//! a best value reads the run's history; finished runs' extremes are cached
//! ([`ChartCache`]), and histories are read a few at a time.
//!
//! Sorting by a best column cannot be the store's order-by: the runs the filter matches are
//! read (up to [`Limits::max_best_sort`], in the store's order), sorted here by the value
//! (runs without the metric last, ties in the store's order) and paged by offset.
//!
//! [`ChartCache`]: crate::chart_cache::ChartCache
//! [`Limits::max_best_sort`]: crate::Limits::max_best_sort

use std::collections::HashMap;

use futures::StreamExt;
use mlops_track::{Run, RunQuery};

use crate::chart_cache::Key;
use crate::state::Inner;

/// Histories read at once.
const PARALLEL_READS: usize = 8;

/// Which extreme is best.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Best {
    /// The smallest value (losses, errors): the default.
    Min,
    /// The largest value (accuracy, AUC).
    Max,
}

impl Best {
    /// The column prefix: `min` or `max`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Min => "min",
            Self::Max => "max",
        }
    }
}

/// The smallest and largest finite values of a history.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Extremes {
    min: Option<f64>,
    max: Option<f64>,
}

impl Extremes {
    fn of(values: impl Iterator<Item = f64>) -> Self {
        values
            .filter(|v| v.is_finite())
            .fold(Self::default(), |e, v| Self {
                min: Some(e.min.map_or(v, |m| m.min(v))),
                max: Some(e.max.map_or(v, |m| m.max(v))),
            })
    }

    /// The best value by `rule`.
    pub(crate) fn get(self, rule: Best) -> Option<f64> {
        match rule {
            Best::Min => self.min,
            Best::Max => self.max,
        }
    }
}

/// The extremes of metric `key` in `run`'s history; `None` when the run has no such metric
/// or its history cannot be read (logged: one cell stays empty, the page still answers).
async fn extremes(inner: &Inner, run: &Run, key: &str) -> Option<Extremes> {
    let latest = run.data.metrics.iter().find(|m| m.key.as_str() == key)?;
    let cache_key = Key::of(run, latest, 0);
    if let Some(hit) = cache_key.as_ref().and_then(|k| inner.extremes.get(k)) {
        return Some(hit);
    }
    let history = match inner
        .tracking
        .get_metric_columns(&run.info.run_id, &latest.key)
        .await
    {
        Ok(history) => history,
        Err(e) => {
            tracing::warn!(
                "runs table: history of {key} in run {}: {e}",
                run.info.run_id.as_str()
            );
            return None;
        }
    };
    let found = Extremes::of(history.value.iter().copied());
    if let Some(k) = cache_key {
        inner.extremes.put(k, found);
    }
    Some(found)
}

/// The extremes of each of `keys` in each of `runs`, by (run id, key).
pub(crate) async fn table(
    inner: &Inner,
    runs: &[Run],
    keys: &[String],
) -> HashMap<(String, String), Extremes> {
    // Futures built up front: stream combinators over borrowed closures trip the
    // compiler's higher-ranked `Send` check in axum handlers.
    let mut reads = Vec::with_capacity(runs.len() * keys.len());
    for run in runs {
        for key in keys {
            reads.push(async move {
                let found = extremes(inner, run, key).await;
                found.map(|e| ((run.info.run_id.as_str().to_owned(), key.clone()), e))
            });
        }
    }
    let found: Vec<Option<((String, String), Extremes)>> = futures::stream::iter(reads)
        .buffered(PARALLEL_READS)
        .collect()
        .await;
    found.into_iter().flatten().collect()
}

/// Every run `query` matches, in the store's order, up to `cap`; and whether more matched.
pub(crate) async fn all_runs(
    inner: &Inner,
    query: &RunQuery,
    cap: usize,
) -> Result<(Vec<Run>, bool), mlops_track::TrackError> {
    let mut runs = Vec::new();
    let mut token = None;
    loop {
        let page = inner
            .tracking
            .search_runs(&RunQuery {
                max_results: Some((cap - runs.len()).clamp(1, inner.limits.max_page_size)),
                page_token: token,
                ..query.clone()
            })
            .await?;
        runs.extend(page.items);
        token = page.next_page_token;
        if token.is_none() {
            return Ok((runs, false));
        }
        if runs.len() >= cap {
            return Ok((runs, true));
        }
    }
}

/// `runs` sorted by their best `key` by `rule`, ascending unless `descending`; runs without
/// a value last; ties keep their order (the store's).
pub(crate) async fn sort(
    inner: &Inner,
    runs: Vec<Run>,
    key: &str,
    rule: Best,
    descending: bool,
) -> Vec<Run> {
    let values = table(inner, &runs, &[key.to_owned()]).await;
    let value = |run: &Run| {
        values
            .get(&(run.info.run_id.as_str().to_owned(), key.to_owned()))
            .and_then(|e| e.get(rule))
    };
    let mut keyed: Vec<(Option<f64>, Run)> = runs.into_iter().map(|r| (value(&r), r)).collect();
    keyed.sort_by(|(a, _), (b, _)| match (a, b) {
        (Some(a), Some(b)) if descending => b.total_cmp(a),
        (Some(a), Some(b)) => a.total_cmp(b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    keyed.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_skip_non_finite_values() {
        let e = Extremes::of([3.0, f64::NAN, -1.5, f64::INFINITY, 2.0].into_iter());
        assert_eq!(
            (e.get(Best::Min), e.get(Best::Max)),
            (Some(-1.5), Some(3.0))
        );
        assert_eq!(Extremes::of([f64::NAN].into_iter()).get(Best::Min), None);
    }
}
