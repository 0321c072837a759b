//! `GET /experiments/{id}`: the runs table. MLflow's filter and order-by syntax (the
//! store's own search engine), pages of at most [`Limits::max_page_size`] runs, and a column
//! picker over the params, metrics and tags seen on the page.
//!
//! [`Limits::max_page_size`]: crate::Limits::max_page_size

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Html;
use maud::{Markup, html};
use mlops_track::{ExperimentId, Run, RunQuery};

use crate::html::{duration, number, page, time};
use crate::query::{Pairs, encode, segment};
use crate::state::Inner;

/// Runs per page when the request names no size.
const DEFAULT_PAGE_SIZE: usize = 100;
/// Columns shown by default: the first metrics and params (by name) on the page.
const DEFAULT_METRICS: usize = 8;
const DEFAULT_PARAMS: usize = 6;
/// Keys offered by the column picker.
const MAX_PICKER_KEYS: usize = 300;

/// A column of the table: `metrics.x`, `params.x` or `tags.x`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Column {
    kind: &'static str,
    key: String,
}

impl Column {
    fn parse(text: &str) -> Option<Self> {
        let (kind, key) = text.split_once('.')?;
        let kind = match kind {
            "metrics" => "metrics",
            "params" => "params",
            "tags" => "tags",
            _ => return None,
        };
        Some(Self {
            kind,
            key: key.to_owned(),
        })
    }

    fn id(&self) -> String {
        format!("{}.{}", self.kind, self.key)
    }

    fn cell(&self, run: &Run) -> Markup {
        match self.kind {
            "metrics" => match run.data.metric(&self.key) {
                Some(v) => html! { td.num { (number(v)) } },
                None => html! { td {} },
            },
            "params" => html! { td { (run.data.param(&self.key).unwrap_or_default()) } },
            _ => html! { td { (run.data.tag(&self.key).unwrap_or_default()) } },
        }
    }
}

/// The runs table of one experiment.
pub(crate) async fn table(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> crate::Result<Html<String>> {
    let q = Pairs::parse(raw.as_deref())?;
    let experiment_id = ExperimentId::parse(&id)
        .map_err(|e| crate::UiError::BadRequest(format!("experiment id {id:?}: {e}")))?;
    let experiment = inner.tracking.get_experiment(&experiment_id).await?;
    let size = q
        .number("size", DEFAULT_PAGE_SIZE)?
        .clamp(1, inner.limits.max_page_size);
    let filter = q.get("filter").map(str::to_owned);
    let order: Vec<String> = q.all("order").into_iter().map(str::to_owned).collect();
    let query = RunQuery {
        experiment_ids: vec![experiment_id.clone()],
        filter: filter.clone(),
        order_by: order.clone(),
        max_results: Some(size),
        page_token: q.get("page").map(str::to_owned),
        ..RunQuery::default()
    };
    // A bad filter is shown above the form, with the form kept, not as an error page.
    let (runs, next, problem) = match inner.tracking.search_runs(&query).await {
        Ok(found) => (found.items, found.next_page_token, None),
        Err(e @ (mlops_track::TrackError::Search(_) | mlops_track::TrackError::Invalid(_))) => {
            (Vec::new(), None, Some(e.to_string()))
        }
        Err(e) => return Err(e.into()),
    };

    let mut offered = BTreeSet::new();
    for run in &runs {
        offered.extend(run.data.metrics.iter().map(|m| Column {
            kind: "metrics",
            key: m.key.as_str().to_owned(),
        }));
        offered.extend(run.data.params.iter().map(|p| Column {
            kind: "params",
            key: p.key().as_str().to_owned(),
        }));
        offered.extend(
            run.data
                .tags
                .iter()
                .filter(|t| !t.key().as_str().starts_with("mlflow."))
                .map(|t| Column {
                    kind: "tags",
                    key: t.key().as_str().to_owned(),
                }),
        );
        if offered.len() > MAX_PICKER_KEYS {
            break;
        }
    }
    let picked: Vec<Column> = q.all("col").into_iter().filter_map(Column::parse).collect();
    let columns: Vec<Column> = if picked.is_empty() {
        let metrics = offered
            .iter()
            .filter(|c| c.kind == "metrics")
            .take(DEFAULT_METRICS);
        let params = offered
            .iter()
            .filter(|c| c.kind == "params")
            .take(DEFAULT_PARAMS);
        metrics.chain(params).cloned().collect()
    } else {
        picked
    };
    offered.extend(columns.iter().cloned());

    let base = inner.url(&format!("/experiments/{}", segment(experiment_id.as_str())));
    let keep = |page: Option<&str>| -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(f) = filter.as_deref() {
            pairs.push(("filter", f));
        }
        for o in &order {
            pairs.push(("order", o));
        }
        let size_text = size.to_string();
        pairs.push(("size", &size_text));
        let ids: Vec<String> = columns.iter().map(Column::id).collect();
        for c in &ids {
            pairs.push(("col", c));
        }
        if let Some(p) = page {
            pairs.push(("page", p));
        }
        format!("{base}?{}", encode(pairs))
    };
    let sort_link = |c: &Column| -> String {
        let clause = format!("{}.`{}` DESC", c.kind, c.key);
        let clause = if order.first() == Some(&clause) {
            format!("{}.`{}` ASC", c.kind, c.key)
        } else {
            clause
        };
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(f) = filter.as_deref() {
            pairs.push(("filter", f));
        }
        pairs.push(("order", &clause));
        let ids: Vec<String> = columns.iter().map(Column::id).collect();
        for c in &ids {
            pairs.push(("col", c));
        }
        format!("{base}?{}", encode(pairs))
    };

    let body = html! {
        div.crumbs { a href=(inner.url("/experiments")) { "Experiments" } " / " }
        h1 { (experiment.name.as_str()) }
        form.inline method="get" action=(base) {
            input.filter type="text" name="filter" value=(filter.as_deref().unwrap_or_default())
                placeholder="metrics.rmse < 0.5 and params.alpha = '0.1'";
            input type="text" name="order" value=(order.first().map(String::as_str).unwrap_or_default())
                placeholder="metrics.rmse ASC";
            select name="size" {
                @for n in [25, 100, 250, 500] {
                    option value=(n) selected[n == size] { (n) " per page" }
                }
            }
            @for c in &columns { input type="hidden" name="col" value=(c.id()); }
            button type="submit" { "Search" }
            a href=(base) { "Clear" }
        }
        @if let Some(problem) = &problem { p.error #problem { (problem) } }
        details.columns {
            summary { "Columns (" (columns.len()) ")" }
            form method="get" action=(base) {
                @if let Some(f) = filter.as_deref() { input type="hidden" name="filter" value=(f); }
                @for o in &order { input type="hidden" name="order" value=(o); }
                div.picker {
                    @for c in &offered {
                        label { input type="checkbox" name="col" value=(c.id()) checked[columns.contains(c)]; " " (c.id()) }
                    }
                }
                button type="submit" { "Show columns" }
            }
        }
        form #compare method="get" action=(inner.url("/compare")) {
            button.secondary type="submit" { "Compare selected" }
        }
        div.wrap {
            table #runs {
                thead { tr {
                    th {}
                    th { "Run" } th { "Status" } th { "Started" } th { "Duration" } th { "User" }
                    @for c in &columns { th { a href=(sort_link(c)) title="sort" { (c.id()) } } }
                } }
                tbody {
                    @for run in &runs {
                        tr {
                            td { input type="checkbox" form="compare" name="run" value=(run.info.run_id.as_str()); }
                            td { a href=(inner.url(&format!("/runs/{}", run.info.run_id.as_str()))) {
                                (run.info.run_name.as_ref().map_or(run.info.run_id.as_str(), |n| n.as_str())) } }
                            td { span class={"badge " (run.info.status.as_str())} { (run.info.status.as_str()) } }
                            td { (time(run.info.start_time)) }
                            td { @if let Some(end) = run.info.end_time { (duration(end.as_millis() - run.info.start_time.as_millis())) } }
                            td { (run.info.user_id) }
                            @for c in &columns { (c.cell(run)) }
                        }
                    }
                }
            }
        }
        div.pager {
            span.muted #count { (runs.len()) " runs on this page" }
            @if q.get("page").is_some() { a href=(keep(None)) { "First page" } }
            @if let Some(next) = &next { a #next href=(keep(Some(next))) { "Next page" } }
        }
    };
    Ok(page(&inner, experiment.name.as_str(), false, body))
}
