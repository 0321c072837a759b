//! `GET /api/runs/{id}/metrics/{key}?points=N`: one metric's history, downsampled on the
//! server to at most N points (default and cap: [`Limits::max_points`]), with the full
//! history's min, max and length, as JSON. Finished runs' series are cached
//! ([`ChartCache`](crate::chart_cache::ChartCache)).
//!
//! [`Limits::max_points`]: crate::Limits::max_points

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use mlops_core::MetricKey;

use crate::UiError;
use crate::chart_cache::Key;
use crate::query::Pairs;
use crate::series::{Series, downsample_columns};
use crate::state::Inner;

/// The chart data of one metric.
pub(crate) async fn series(
    State(inner): State<Arc<Inner>>,
    Path((id, key)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> crate::Result<Json<Arc<Series>>> {
    let q = Pairs::parse(raw.as_deref())?;
    let run_id = super::run_id(&id)?;
    let key = MetricKey::parse(key.as_str())
        .map_err(|e| UiError::BadRequest(format!("metric key {key:?}: {e}")))?;
    let max = inner.limits.max_points;
    let points = q.number("points", max)?.clamp(3, max);
    let run = inner.tracking.get_run(&run_id).await?;
    let latest = run
        .data
        .metrics
        .iter()
        .find(|m| m.key == key)
        .ok_or_else(|| UiError::NotFound(format!("metric {} of run {id}", key.as_str())))?;
    let cache_key = Key::of(&run, latest, points);
    if let Some(hit) = cache_key.as_ref().and_then(|k| inner.charts.get(k)) {
        return Ok(Json(hit));
    }
    let history = inner.tracking.get_metric_columns(&run_id, &key).await?;
    // A pass over a million points (and a sort, when out of order) is CPU work: off the
    // async workers.
    let series =
        tokio::task::spawn_blocking(move || downsample_columns(key.as_str(), &history, points))
            .await
            .map_err(|e| UiError::Io(std::io::Error::other(e)))?;
    let series = Arc::new(series);
    if let Some(k) = cache_key {
        inner.charts.put(k, Arc::clone(&series));
    }
    Ok(Json(series))
}
