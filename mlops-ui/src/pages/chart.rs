//! `GET /api/runs/{id}/metrics/{key}?points=N`: one metric's history, downsampled on the
//! server to at most N points (default and cap: [`Limits::max_points`]), as JSON.
//!
//! [`Limits::max_points`]: crate::Limits::max_points

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use mlops_core::MetricKey;

use crate::UiError;
use crate::query::Pairs;
use crate::series::{Series, downsample};
use crate::state::Inner;

/// The chart data of one metric.
pub(crate) async fn series(
    State(inner): State<Arc<Inner>>,
    Path((id, key)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> crate::Result<Json<Series>> {
    let q = Pairs::parse(raw.as_deref())?;
    let run = super::run_id(&id)?;
    let key = MetricKey::parse(key.as_str())
        .map_err(|e| UiError::BadRequest(format!("metric key {key:?}: {e}")))?;
    let max = inner.limits.max_points;
    let points = q.number("points", max)?.clamp(3, max);
    let history = inner.tracking.get_metric_history(&run, &key).await?;
    if history.is_empty() {
        return Err(UiError::NotFound(format!(
            "metric {} of run {id}",
            key.as_str()
        )));
    }
    // Sorting a million points is CPU work: off the async workers.
    let series = tokio::task::spawn_blocking(move || downsample(key.as_str(), history, points))
        .await
        .map_err(|e| UiError::Io(std::io::Error::other(e)))?;
    Ok(Json(series))
}
