//! `GET /experiments/{id}`: the runs table. MLflow's filter and order-by syntax (the
//! store's own search engine), pages of at most [`Limits::max_page_size`] runs, and a column
//! picker over the params, metrics (last value, or best: [`best`](super::best)) and tags
//! seen on the page.
//!
//! Query: `filter`, `order` (the store's order-by), `size`, `page` (the store's token), `col`
//! (repeatable: `metrics.K`, `min.K`, `max.K`, `best.K` = `min.K`, `params.K`, `tags.K`), and
//! to sort by a best column `sort=min.K|max.K` with `dir=asc|desc`, paged by `from`.
//!
//! [`Limits::max_page_size`]: crate::Limits::max_page_size

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Html;
use maud::{Markup, html};
use mlops_track::{ExperimentId, Run, RunQuery};

use super::best::{self, Best, Extremes};
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

/// A column of the table: `metrics.x` (last value), `min.x` / `max.x` (best value by that
/// rule), `params.x` or `tags.x`.
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
            "min" | "best" => "min",
            "max" => "max",
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

    /// The rule of a best column.
    fn best(&self) -> Option<Best> {
        match self.kind {
            "min" => Some(Best::Min),
            "max" => Some(Best::Max),
            _ => None,
        }
    }

    fn cell(&self, run: &Run, extremes: &HashMap<(String, String), Extremes>) -> Markup {
        let value = |v: Option<f64>| match v {
            Some(v) => html! { td.num { (number(v)) } },
            None => html! { td {} },
        };
        if let Some(rule) = self.best() {
            let key = (run.info.run_id.as_str().to_owned(), self.key.clone());
            return value(extremes.get(&key).and_then(|e| e.get(rule)));
        }
        match self.kind {
            "metrics" => value(run.data.metric(&self.key)),
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
    // Sorting by a best column: the filter's runs (capped), sorted here, paged by offset.
    let sort = q
        .get("sort")
        .map(|text| {
            Column::parse(text)
                .filter(|c| c.best().is_some())
                .ok_or_else(|| {
                    crate::UiError::BadRequest(format!("sort={text:?}: not min.KEY or max.KEY"))
                })
        })
        .transpose()?;
    let descending = match q.get("dir") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(crate::UiError::BadRequest(format!(
                "dir={other:?}: not asc or desc"
            )));
        }
    };
    let from = q.number("from", 0)?;
    let searched = match &sort {
        None => inner
            .tracking
            .search_runs(&query)
            .await
            .map(|found| (found.items, found.next_page_token, false)),
        Some(c) => match best::all_runs(&inner, &query, inner.limits.max_best_sort).await {
            Ok((all, capped)) => {
                let rule = c.best().unwrap_or(Best::Min);
                let sorted = best::sort(&inner, all, &c.key, rule, descending).await;
                let next = (from + size < sorted.len()).then(|| (from + size).to_string());
                let page = sorted.into_iter().skip(from).take(size).collect();
                Ok((page, next, capped))
            }
            Err(e) => Err(e),
        },
    };
    // A bad filter is shown above the form, with the form kept, not as an error page.
    let (runs, next, capped, problem) = match searched {
        Ok((runs, next, capped)) => (runs, next, capped, None),
        Err(e @ (mlops_track::TrackError::Search(_) | mlops_track::TrackError::Invalid(_))) => {
            (Vec::new(), None, false, Some(e.to_string()))
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
    offered.extend(columns.iter().filter(|c| c.best().is_none()).cloned());
    let best_keys: BTreeSet<String> = columns
        .iter()
        .filter(|c| c.best().is_some())
        .map(|c| c.key.clone())
        .collect();
    let best_keys: Vec<String> = best_keys.into_iter().collect();
    let extremes = best::table(&inner, &runs, &best_keys).await;

    let base = inner.url(&format!("/experiments/{}", segment(experiment_id.as_str())));
    let keep = |page: Option<&str>| -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(f) = filter.as_deref() {
            pairs.push(("filter", f));
        }
        for o in &order {
            pairs.push(("order", o));
        }
        let sort_id = sort.as_ref().map(Column::id);
        if let Some(id) = sort_id.as_deref() {
            pairs.push(("sort", id));
            pairs.push(("dir", if descending { "desc" } else { "asc" }));
        }
        let size_text = size.to_string();
        pairs.push(("size", &size_text));
        let ids: Vec<String> = columns.iter().map(Column::id).collect();
        for c in &ids {
            pairs.push(("col", c));
        }
        if let Some(p) = page {
            // Sorted by a best column, pages are offsets into the sorted runs.
            pairs.push((if sort.is_some() { "from" } else { "page" }, p));
        }
        format!("{base}?{}", encode(pairs))
    };
    let sort_link = |c: &Column| -> String {
        if let Some(rule) = c.best() {
            // Best first (ascending for min, descending for max), then the other way.
            let current = sort.as_ref() == Some(c);
            let first_desc = rule == Best::Max;
            let desc = if current { !descending } else { first_desc };
            let mut pairs: Vec<(&str, &str)> = Vec::new();
            if let Some(f) = filter.as_deref() {
                pairs.push(("filter", f));
            }
            let id = c.id();
            pairs.push(("sort", &id));
            pairs.push(("dir", if desc { "desc" } else { "asc" }));
            let ids: Vec<String> = columns.iter().map(Column::id).collect();
            for c in &ids {
                pairs.push(("col", c));
            }
            return format!("{base}?{}", encode(pairs));
        }
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
                p.muted { "Best value over each metric's history: the minimum (the default: losses, errors) or the maximum (accuracy, AUC)." }
                div.picker #best-picker {
                    @for c in offered.iter().filter(|c| c.kind == "metrics") {
                        @let (min, max) = (Column { kind: "min", key: c.key.clone() }, Column { kind: "max", key: c.key.clone() });
                        label {
                            "best " (c.key) " "
                            select name="col" {
                                option value="" { "—" }
                                option value=(min.id()) selected[columns.contains(&min)] { "min" }
                                option value=(max.id()) selected[columns.contains(&max)] { "max" }
                            }
                        }
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
                    @for c in &columns { th {
                        a href=(sort_link(c)) title="sort" { (c.id()) }
                        @if let Some(rule) = c.best() {
                            br; span.muted.best { "best = " (rule.as_str()) }
                            @if sort.as_ref() == Some(c) { " " (if descending { "▼" } else { "▲" }) }
                        }
                    } }
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
                            @for c in &columns { (c.cell(run, &extremes)) }
                        }
                    }
                }
            }
        }
        div.pager {
            span.muted #count { (runs.len()) " runs on this page" }
            @if capped { span.muted #capped { "sorted among the first " (inner.limits.max_best_sort) " runs the filter matches, in the store's order" } }
            @if q.get("page").is_some() || from > 0 { a href=(keep(None)) { "First page" } }
            @if let Some(next) = &next { a #next href=(keep(Some(next))) { "Next page" } }
        }
    };
    Ok(page(&inner, experiment.name.as_str(), false, body))
}
