//! `GET /experiments`: every live experiment, newest first, linking to its runs.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use maud::html;
use mlops_track::{ExperimentQuery, TrackingStoreExt};

use crate::html::{page, time};
use crate::query::segment;
use crate::state::Inner;

/// The experiments page.
pub(crate) async fn list(State(inner): State<Arc<Inner>>) -> crate::Result<Html<String>> {
    let mut experiments = inner
        .tracking
        .search_all_experiments(&ExperimentQuery::default())
        .await?;
    experiments.sort_by_key(|e| std::cmp::Reverse(e.creation_time));
    let body = html! {
        h1 { "Experiments" }
        @if experiments.is_empty() {
            p.muted { "No experiments yet. Runs logged with mlops_track (or synced from MLflow) appear here." }
        } @else {
            table #experiments {
                thead { tr { th { "Name" } th { "Id" } th { "Created" } th { "Tags" } } }
                tbody {
                    @for e in &experiments {
                        tr {
                            td { a href=(inner.url(&format!("/experiments/{}", segment(e.experiment_id.as_str())))) { (e.name.as_str()) } }
                            td { code { (e.experiment_id.as_str()) } }
                            td { @if let Some(t) = e.creation_time { (time(t)) } }
                            td { @for t in &e.tags { span.badge { (t.key().as_str()) "=" (t.value()) } } }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&inner, "Experiments", false, body))
}
