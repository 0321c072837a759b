//! `GET /lineage?digest=D`: a dataset's lineage: the runs that used it, the model versions
//! registered from those runs, and the aliases holding them.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Html;
use maud::html;
use mlops_registry::{VersionInfo, VersionQuery};
use mlops_track::{ExperimentQuery, RunQuery, TrackingStoreExt};

use crate::UiError;
use crate::html::{page, short, time};
use crate::query::Pairs;
use crate::state::Inner;

/// Runs listed, at most.
const MAX_RUNS: usize = 200;

/// The lineage page.
pub(crate) async fn page_for(
    State(inner): State<Arc<Inner>>,
    RawQuery(raw): RawQuery,
) -> crate::Result<Html<String>> {
    let q = Pairs::parse(raw.as_deref())?;
    let digest = q
        .get("digest")
        .ok_or_else(|| UiError::BadRequest("digest is missing".to_owned()))?;
    // The digest goes into a filter string: only digest characters, so it cannot end the quote.
    if digest.len() > 128
        || !digest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
    {
        return Err(UiError::BadRequest(format!(
            "digest {digest:?} has characters a digest never has"
        )));
    }
    let experiments = inner
        .tracking
        .search_all_experiments(&ExperimentQuery::default())
        .await?;
    let runs = if experiments.is_empty() {
        Vec::new()
    } else {
        inner
            .tracking
            .search_runs(&RunQuery {
                experiment_ids: experiments
                    .iter()
                    .map(|e| e.experiment_id.clone())
                    .collect(),
                filter: Some(format!("dataset.digest = '{digest}'")),
                max_results: Some(MAX_RUNS),
                ..RunQuery::default()
            })
            .await?
            .items
    };
    let mut versions: Vec<VersionInfo> = Vec::new();
    if let Some(registry) = &inner.registry {
        for run in &runs {
            let found = registry
                .search_versions(&VersionQuery {
                    run_id: Some(run.info.run_id.clone()),
                    max_results: Some(100),
                    ..VersionQuery::default()
                })
                .await?;
            versions.extend(found.items);
        }
    }
    let body = html! {
        h1 { "Lineage of dataset " (short(digest)) }
        p.muted { "Digest " code { (digest) } }
        h2 { "Runs that used it" }
        @if runs.is_empty() { p.muted { "No run recorded this dataset." } } @else {
            table #lineage-runs {
                thead { tr { th { "Run" } th { "Started" } th { "Status" } } }
                tbody { @for r in &runs {
                    tr {
                        td { a href=(inner.url(&format!("/runs/{}", r.info.run_id.as_str()))) { (r.info.run_name.as_ref().map_or(r.info.run_id.as_str(), |n| n.as_str())) } }
                        td { (time(r.info.start_time)) }
                        td { (r.info.status.as_str()) }
                    }
                } }
            }
        }
        h2 { "Model versions registered from them" }
        @if versions.is_empty() { p.muted { "None." } } @else {
            table #lineage-versions {
                thead { tr { th { "Model" } th { "Version" } th { "Aliases" } th { "Source run" } } }
                tbody { @for v in &versions {
                    tr {
                        td { a href=(super::models::model_url(&inner, v.model.as_str())) { (v.model.as_str()) } }
                        td { a href=(super::models::version_url(&inner, v.model.as_str(), v.version)) { "v" (v.version) } }
                        td { @for a in &v.aliases { span.badge.alias { "@" (a.as_str()) } } }
                        td { @if let Some(run) = &v.run { code { (run.run_id.as_str()) } } }
                    }
                } }
            }
        }
    };
    Ok(page(&inner, "Lineage", false, body))
}
