//! `GET /runs/{id}`: one run: attributes, metrics (last, min, max, with charts), params,
//! tags and system tags, dataset inputs with digests, artifacts, and the model versions
//! registered from it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Html;
use maud::{Markup, html};
use mlops_registry::VersionQuery;
use mlops_track::DATASET_CONTEXT_TAG;

use crate::html::{bytes, duration, number, page, short, time};
use crate::query::{encode, segment};
use crate::state::Inner;

/// The run page.
async fn render(inner: &Inner, id: &str) -> crate::Result<Html<String>> {
    let run_id = super::run_id(id)?;
    let run = inner.tracking.get_run(&run_id).await?;
    let experiment = inner
        .tracking
        .get_experiment(&run.info.experiment_id)
        .await
        .ok();
    let mut metrics = run.data.metrics.clone();
    metrics.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    let (files, cut) = super::artifacts::files(inner, &run_id).await?;
    let versions = match &inner.registry {
        Some(registry) => registry
            .search_versions(&VersionQuery {
                run_id: Some(run_id.clone()),
                max_results: Some(100),
                ..VersionQuery::default()
            })
            .await
            .map(|p| p.items)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let (system, user): (Vec<_>, Vec<_>) = run
        .data
        .tags
        .iter()
        .partition(|t| t.key().as_str().starts_with("mlflow."));
    let name = run
        .info
        .run_name
        .as_ref()
        .map_or(run.info.run_id.as_str(), |n| n.as_str())
        .to_owned();
    let api = |key: &str| {
        inner.url(&format!(
            "/api/runs/{}/metrics/{}",
            run_id.as_str(),
            segment(key)
        ))
    };

    let body = html! {
        div.crumbs {
            a href=(inner.url("/experiments")) { "Experiments" } " / "
            @if let Some(e) = &experiment {
                a href=(inner.url(&format!("/experiments/{}", segment(e.experiment_id.as_str())))) { (e.name.as_str()) } " / "
            }
        }
        h1 { (name) " " span class={"badge " (run.info.status.as_str())} { (run.info.status.as_str()) } }
        table.kv #attributes {
            tr { th { "Run id" } td { code { (run.info.run_id.as_str()) } } }
            tr { th { "Started" } td { (time(run.info.start_time)) } }
            tr { th { "Ended" } td { @if let Some(end) = run.info.end_time { (time(end)) " (" (duration(end.as_millis() - run.info.start_time.as_millis())) ")" } } }
            tr { th { "User" } td { (run.info.user_id) } }
            tr { th { "Lifecycle" } td { (format!("{:?}", run.info.lifecycle_stage)) } }
        }
        h2 { "Metrics" }
        @if metrics.is_empty() { p.muted { "No metrics." } } @else {
            table #metrics {
                thead { tr { th { "Metric" } th { "Last" } th { "Min" } th { "Max" } th { "Step" } th { "Points" } } }
                tbody {
                    // Min, max and the point count come with each chart's data (one history
                    // read per metric, in parallel, after the page): the page itself reads
                    // no history, so it answers at once whatever the histories' length.
                    @for m in &metrics {
                        tr {
                            td { (m.key.as_str()) }
                            td.num { (number(m.value)) }
                            td.num data-stat="min" data-key=(m.key.as_str()) {}
                            td.num data-stat="max" data-key=(m.key.as_str()) {}
                            td.num { (m.step) }
                            td.num data-stat="total" data-key=(m.key.as_str()) {}
                        }
                    }
                }
            }
            (controls())
            div.charts {
                @for m in metrics.iter().take(inner.limits.max_histories) {
                    div.chart data-src=(api(m.key.as_str())) data-labels=(m.key.as_str()) data-title=(m.key.as_str()) {}
                }
            }
        }
        h2 { "Parameters" }
        (kv_table("params", run.data.params.iter().map(|p| (p.key().as_str(), p.value()))))
        h2 { "Tags" }
        (kv_table("tags", user.iter().map(|t| (t.key().as_str(), t.value()))))
        h2 { "System tags" }
        (kv_table("system-tags", system.iter().map(|t| (t.key().as_str(), t.value()))))
        h2 { "Datasets" }
        @if run.inputs.is_empty() { p.muted { "No dataset inputs." } } @else {
            table #datasets {
                thead { tr { th { "Name" } th { "Digest" } th { "Context" } th { "Source" } } }
                tbody { @for input in &run.inputs {
                    tr {
                        td { (input.dataset.name) }
                        td { a href=(inner.url(&format!("/lineage?{}", encode([("digest", input.dataset.digest.as_str())])))) { (short(&input.dataset.digest)) } }
                        td { @for t in input.tags.iter().filter(|t| t.key().as_str() == DATASET_CONTEXT_TAG) { (t.value()) } }
                        td { (input.dataset.source) }
                    }
                } }
            }
        }
        h2 { "Artifacts" }
        @if files.is_empty() { p.muted { "No artifacts." } } @else {
            table #artifacts {
                thead { tr { th { "Path" } th { "Size" } } }
                tbody { @for (n, f) in files.iter().enumerate() {
                    tr {
                        td { a href=(inner.url(&format!("/runs/{}/artifacts/{n}", run_id.as_str()))) { (f.path.as_str()) } }
                        td.num { @if let Some(size) = f.size { (bytes(size)) } }
                    }
                } }
            }
            @if cut { p.muted { "The listing stops at " (files.len()) " files." } }
        }
        @if !versions.is_empty() {
            h2 { "Registered as" }
            table #versions {
                thead { tr { th { "Model" } th { "Version" } th { "Aliases" } } }
                tbody { @for v in &versions {
                    tr {
                        td { a href=(inner.url(&format!("/models/{}", segment(v.model.as_str())))) { (v.model.as_str()) } }
                        td { a href=(inner.url(&format!("/models/{}/versions/{}", segment(v.model.as_str()), v.version))) { (v.version) } }
                        td { @for a in &v.aliases { span.badge.alias { "@" (a.as_str()) } } }
                    }
                } }
            }
        }
    };
    Ok(page(inner, &name, !metrics.is_empty(), body))
}

/// `GET /runs/{id}`.
pub(crate) async fn show(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
) -> crate::Result<Html<String>> {
    render(&inner, &id).await
}

/// The chart controls: x axis, log y, smoothing (read by `ui.js`).
pub(crate) fn controls() -> Markup {
    html! {
        div.controls {
            label { "x axis " select #xmode { option value="step" { "step" } option value="time" { "wall time" } option value="relative" { "relative time" } } }
            label { input #logy type="checkbox"; " log y" }
            label { "smoothing " input #smooth type="range" min="0" max="99" value="0"; }
        }
    }
}

/// A two-column key/value table, sorted by key.
pub(crate) fn kv_table<'a>(id: &str, rows: impl Iterator<Item = (&'a str, &'a str)>) -> Markup {
    let mut rows: Vec<_> = rows.collect();
    rows.sort_unstable();
    html! {
        @if rows.is_empty() { p.muted { "None." } } @else {
            table.kv id=(id) { tbody { @for (k, v) in rows { tr { th { (k) } td { (v) } } } } }
        }
    }
}
