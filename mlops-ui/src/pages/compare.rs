//! `GET /compare?run=A&run=B…[&diff=1]`: runs side by side: a table of attributes, params,
//! metrics and tags ("only differences" hides the rows where every run agrees) and one
//! overlay chart per metric.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Html;
use futures::{StreamExt, TryStreamExt};
use maud::html;
use mlops_track::Run;

use crate::UiError;
use crate::html::{number, page};
use crate::query::{Pairs, encode, segment};
use crate::state::Inner;

/// Overlay charts drawn, at most.
const MAX_CHARTS: usize = 40;

/// One row of the table: a label and each run's value (empty when it has none).
struct Row {
    label: String,
    values: Vec<String>,
}

impl Row {
    fn differs(&self) -> bool {
        self.values.iter().any(|v| *v != self.values[0])
    }
}

fn name(run: &Run) -> String {
    run.info
        .run_name
        .as_ref()
        .map_or(run.info.run_id.as_str(), |n| n.as_str())
        .to_owned()
}

/// The comparison page.
pub(crate) async fn show(
    State(inner): State<Arc<Inner>>,
    RawQuery(raw): RawQuery,
) -> crate::Result<Html<String>> {
    let q = Pairs::parse(raw.as_deref())?;
    let mut ids: Vec<&str> = Vec::new();
    for id in q.all("run").into_iter().flat_map(|r| r.split(',')) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Err(UiError::BadRequest(
            "choose runs to compare (run=ID, repeated)".to_owned(),
        ));
    }
    if ids.len() > inner.limits.max_compare {
        return Err(UiError::BadRequest(format!(
            "{} runs given; at most {} can be compared at once",
            ids.len(),
            inner.limits.max_compare
        )));
    }
    let run_ids = ids
        .iter()
        .map(|id| super::run_id(id))
        .collect::<crate::Result<Vec<_>>>()?;
    let runs: Vec<Run> = futures::stream::iter(run_ids)
        .map(|id| {
            let tracking = Arc::clone(&inner.tracking);
            async move { tracking.get_run(&id).await }
        })
        .buffered(8)
        .try_collect()
        .await?;
    let only_diff = q.get("diff") == Some("1");

    let mut rows = vec![
        Row {
            label: "status".into(),
            values: runs
                .iter()
                .map(|r| r.info.status.as_str().to_owned())
                .collect(),
        },
        Row {
            label: "user".into(),
            values: runs.iter().map(|r| r.info.user_id.clone()).collect(),
        },
    ];
    let keys =
        |f: &dyn Fn(&Run) -> Vec<String>| -> BTreeSet<String> { runs.iter().flat_map(f).collect() };
    for key in keys(&|r| {
        r.data
            .params
            .iter()
            .map(|p| p.key().as_str().to_owned())
            .collect()
    }) {
        rows.push(Row {
            label: format!("params.{key}"),
            values: runs
                .iter()
                .map(|r| r.data.param(&key).unwrap_or_default().to_owned())
                .collect(),
        });
    }
    let metric_keys = keys(&|r| {
        r.data
            .metrics
            .iter()
            .map(|m| m.key.as_str().to_owned())
            .collect()
    });
    for key in &metric_keys {
        rows.push(Row {
            label: format!("metrics.{key}"),
            values: runs
                .iter()
                .map(|r| r.data.metric(key).map(number).unwrap_or_default())
                .collect(),
        });
    }
    let tag_keys = keys(&|r| {
        r.data
            .tags
            .iter()
            .map(|t| t.key().as_str().to_owned())
            .filter(|k| !k.starts_with("mlflow."))
            .collect()
    });
    for key in tag_keys {
        rows.push(Row {
            label: format!("tags.{key}"),
            values: runs
                .iter()
                .map(|r| r.data.tag(&key).unwrap_or_default().to_owned())
                .collect(),
        });
    }
    let shown: Vec<&Row> = rows.iter().filter(|r| !only_diff || r.differs()).collect();
    let toggle = {
        let mut pairs: Vec<(&str, &str)> = ids.iter().map(|id| ("run", *id)).collect();
        if !only_diff {
            pairs.push(("diff", "1"));
        }
        inner.url(&format!("/compare?{}", encode(pairs)))
    };

    let names: Vec<String> = runs.iter().map(name).collect();
    let parallel = super::parallel::chart(&runs, &names);
    let body = html! {
        h1 { "Compare " (runs.len()) " runs" }
        p { a #diff-toggle href=(toggle) { @if only_diff { "Show all rows" } @else { "Only differences" } } }
        div.wrap {
            table #compare {
                thead { tr { th {} @for r in &runs { th { a href=(inner.url(&format!("/runs/{}", r.info.run_id.as_str()))) { (name(r)) } } } } }
                tbody { @for row in &shown {
                    tr class=[row.differs().then_some("differs")] {
                        th { (row.label) }
                        @for v in &row.values { td class=[row.differs().then_some("diff")] { (v) } }
                    }
                } }
            }
        }
        @if let Some(svg) = &parallel {
            h2 { "Parallel coordinates" }
            (svg)
        }
        @if !metric_keys.is_empty() {
            h2 { "Metrics" }
            (super::run::controls())
            div.charts {
                @for key in metric_keys.iter().take(MAX_CHARTS) {
                    @let with: Vec<&Run> = runs.iter().filter(|r| r.data.metric(key).is_some()).collect();
                    @let src: Vec<String> = with.iter().map(|r| inner.url(&format!("/api/runs/{}/metrics/{}", r.info.run_id.as_str(), segment(key)))).collect();
                    @let labels: Vec<String> = with.iter().map(|r| name(r)).collect();
                    div.chart data-src=(src.join(" ")) data-labels=(labels.join("|")) data-title=(key) {}
                }
            }
        }
    };
    Ok(page(&inner, "Compare runs", !metric_keys.is_empty(), body))
}
