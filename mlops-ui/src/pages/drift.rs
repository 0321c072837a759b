//! The drift pages, from the monitoring history (`--monitor-history`): `/drift` (the models
//! that have windows), `/models/{name}/drift?days=N|all` (drift share and each feature's
//! score over window time, and the table of windows, of the last 30 days by default),
//! `/api/models/{name}/drift?days=N|all` (the charts' data) and
//! `/models/{name}/drift/{version}/{window}` (a window's HTML report). Without a history the
//! pages say how to enable one: it is a setting, not an error.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use mlops_core::Timestamp;
use mlops_monitor::HistoryRow;
use serde::Serialize;

use crate::drift_history::DriftHistory;
use crate::html::{number, page, time};
use crate::query::{Pairs, segment};
use crate::state::Inner;

/// Models listed on `/drift`.
const MAX_MODELS: usize = 1_000;
/// The ranges offered, in days (besides `all`).
const RANGES: [u32; 5] = [1, 7, 30, 365, 3_650];
/// The range of a request that names none.
const DEFAULT_DAYS: u32 = 30;

/// The `days=N` of a request (one of [`RANGES`], or `all`): the windows' time range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Range {
    Days(u32),
    All,
}

impl Range {
    fn parse(raw: Option<&str>) -> crate::Result<Self> {
        let q = Pairs::parse(raw)?;
        match q.get("days") {
            None => Ok(Self::Days(DEFAULT_DAYS)),
            Some("all") => Ok(Self::All),
            Some(text) => text
                .parse()
                .ok()
                .filter(|d| RANGES.contains(d))
                .map(Self::Days)
                .ok_or_else(|| {
                    crate::UiError::BadRequest(format!(
                        "days={text:?}: one of {RANGES:?} or \"all\""
                    ))
                }),
        }
    }

    /// The oldest window start shown.
    fn since(self) -> Option<Timestamp> {
        match self {
            Self::All => None,
            Self::Days(d) => {
                Timestamp::from_millis(Timestamp::now().as_millis() - i64::from(d) * 86_400_000)
                    .ok()
            }
        }
    }

    fn query(self) -> String {
        match self {
            Self::All => "days=all".to_owned(),
            Self::Days(d) => format!("days={d}"),
        }
    }

    fn label(self) -> String {
        match self {
            Self::All => "all".to_owned(),
            Self::Days(1) => "1 day".to_owned(),
            Self::Days(d) => format!("{d} days"),
        }
    }
}

/// The policy of a served report: the drift crate's page is self-contained (inline styles,
/// inline SVG, no script), so it gets inline styles and nothing else, sandboxed.
pub(crate) const REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; \
                                     img-src data:; frame-ancestors 'none'; base-uri 'none'; \
                                     form-action 'none'; sandbox";

/// The charts' data: one entry per window, oldest first.
#[derive(Debug, Serialize)]
pub(crate) struct DriftData {
    /// The model.
    model: String,
    /// Each window's end, milliseconds since the epoch.
    time: Vec<i64>,
    /// Each window's id.
    windows: Vec<String>,
    /// Each window's model version.
    versions: Vec<String>,
    /// Each window's share of drifted features.
    share: Vec<Option<f64>>,
    /// The share at which a window counts as drifted (the newest report's), if known.
    drift_share: Option<f64>,
    /// Each feature's deciding score per window, in the order the reports list them.
    features: Vec<FeatureSeries>,
    /// Older windows left out (the cap).
    left_out: usize,
}

/// One feature's scores over the windows.
#[derive(Debug, Serialize)]
struct FeatureSeries {
    /// The feature (column) name.
    name: String,
    /// The deciding test (`ks`, `psi`, …) of the newest report that tested it.
    test: String,
    /// `p-value` (drift below the threshold) or `distance` (drift above it).
    score: &'static str,
    /// That test's threshold.
    threshold: Option<f64>,
    /// The score per window; `null` where the window did not test it.
    scores: Vec<Option<f64>>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn history(inner: &Inner) -> Option<&DriftHistory> {
    inner.drift.as_ref()
}

/// What to do when no history is configured.
fn how_to_enable() -> Markup {
    html! {
        div.card #drift-off {
            p { "Drift history is not configured for this UI." }
            p {
                "Start it with " code { "mlops ui --monitor-history URI" } ", where URI is the "
                "store that " code { "mlops monitor run" } " (" code { "--history" } ") or "
                code { "mlops serve --monitor-history" } " writes windows to; by default the "
                code { "monitor/" } " folder of the store root. A service mounting the router sets "
                code { "UiOptions::monitor_history" } "."
            }
        }
    }
}

pub(crate) fn drift_url(inner: &Inner, model: &str) -> String {
    inner.url(&format!("/models/{}/drift", segment(model)))
}

fn report_url(inner: &Inner, row: &HistoryRow) -> String {
    inner.url(&format!(
        "/models/{}/drift/{}/{}",
        segment(&row.model),
        segment(&row.version),
        segment(&row.window)
    ))
}

/// `GET /drift`: the models with windows.
pub(crate) async fn models(State(inner): State<Arc<Inner>>) -> crate::Result<Html<String>> {
    let body = match history(&inner) {
        None => html! { h1 { "Drift" } (how_to_enable()) },
        Some(h) => {
            let models = h.models(MAX_MODELS).await?;
            html! {
                h1 { "Drift" }
                @if models.is_empty() {
                    p.muted { "The monitoring history has no windows yet." }
                } @else {
                    table #drift-models {
                        thead { tr { th { "Model" } } }
                        tbody { @for m in &models { tr { td { a href=(drift_url(&inner, m)) { (m) } } } } }
                    }
                }
            }
        }
    };
    Ok(page(&inner, "Drift", false, body))
}

/// `GET /models/{name}/drift`: the charts (drawn from [`data`]) and the windows table.
async fn render(inner: &Inner, name: &str, range: Range) -> crate::Result<Html<String>> {
    let name = super::model_name(name)?;
    let here = drift_url(inner, name.as_str());
    let ranges = html! {
        p.ranges #ranges {
            "Windows of the last: "
            @for r in RANGES.map(Range::Days).into_iter().chain([Range::All]) {
                @if r == range { strong { (r.label()) } } @else { a href=(format!("{here}?{}", r.query())) { (r.label()) } }
                " "
            }
        }
    };
    let crumbs = html! {
        div.crumbs {
            a href=(inner.url("/drift")) { "Drift" } " / "
            @if inner.registry.is_some() {
                a href=(super::models::model_url(inner, name.as_str())) { (name.as_str()) } " / "
            }
        }
        h1 { "Drift of " (name.as_str()) }
    };
    let Some(h) = history(inner) else {
        return Ok(page(
            inner,
            "Drift",
            false,
            html! { (crumbs) (how_to_enable()) },
        ));
    };
    let windows = h
        .windows(name.as_str(), range.since(), inner.limits.max_windows)
        .await?;
    if windows.rows.is_empty() {
        let body = html! { (crumbs) (ranges) p.muted #no-windows { "No monitoring windows for this model in this range." } };
        return Ok(page(inner, "Drift", false, body));
    }
    let api = inner.url(&format!(
        "/api/models/{}/drift?{}",
        segment(name.as_str()),
        range.query()
    ));
    let body = html! {
        (crumbs)
        (ranges)
        p.muted {
            (windows.rows.len()) " windows"
            @if windows.left_out > 0 { " (the newest; " (windows.left_out) " older ones are not shown)" }
            ", from " (time(windows.rows[0].start)) " to " (time(windows.rows[windows.rows.len() - 1].end)) " UTC."
        }
        div.charts {
            div.chart.drift #drift-share data-drift=(api) data-series="share" data-title="Drift share" {}
        }
        h2 { "Feature scores" }
        p.muted { "Each feature's deciding test per window: a p-value drifts below its threshold, a distance above it." }
        div.charts #drift-features data-drift=(api) data-series="features" {}
        h2 { "Windows" }
        table #windows {
            thead { tr { th { "Start" } th { "End" } th { "Rows" } th { "Version" } th { "Drift share" } th { "Dataset drift" } th { "Drifted features" } th { "Report" } } }
            tbody { @for row in windows.rows.iter().rev() {
                tr {
                    td { (time(row.start)) }
                    td { (time(row.end)) }
                    td.num { (row.rows) }
                    td {
                        @if inner.registry.is_some() && super::version(&row.version).is_ok() {
                            a href=(super::models::version_url(inner, name.as_str(), &row.version)) { "v" (row.version) }
                        } @else { (row.version) }
                    }
                    td.num { (number(row.share_drifted)) }
                    td { @if row.dataset_drift { span.badge.fail { "drift" } } @else { span.badge.pass { "no drift" } } }
                    td { @for f in &row.drifted_features { span.badge { (f) } } }
                    td { a.report href=(report_url(inner, row)) title=(row.window) { "report" } }
                }
            } }
        }
    };
    Ok(page(
        inner,
        &format!("Drift of {}", name.as_str()),
        true,
        body,
    ))
}

/// `GET /models/{name}/drift`.
pub(crate) async fn show(
    State(inner): State<Arc<Inner>>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> crate::Result<Html<String>> {
    render(&inner, &name, Range::parse(raw.as_deref())?).await
}

/// `GET /api/models/{name}/drift`: drift share and feature scores per window.
pub(crate) async fn data(
    State(inner): State<Arc<Inner>>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> crate::Result<Json<DriftData>> {
    let range = Range::parse(raw.as_deref())?;
    let name = super::model_name(&name)?;
    let h = history(&inner).ok_or_else(|| {
        crate::UiError::NotFound("drift history (start the UI with --monitor-history)".into())
    })?;
    let windows = h
        .windows(name.as_str(), range.since(), inner.limits.max_windows)
        .await?;
    let reports = h.reports(name.as_str(), &windows.rows).await?;
    let n = windows.rows.len();
    let mut features: Vec<FeatureSeries> = Vec::new();
    let mut drift_share = None;
    for (i, report) in reports.iter().enumerate() {
        let Some(report) = report else { continue };
        drift_share = finite(report.dataset.drift_share);
        for column in &report.columns {
            let Some(deciding) = column.results.first() else {
                continue;
            };
            let at = match features.iter().position(|f| f.name == column.column) {
                Some(at) => at,
                None => {
                    features.push(FeatureSeries {
                        name: column.column.clone(),
                        test: String::new(),
                        score: "distance",
                        threshold: None,
                        scores: vec![None; n],
                    });
                    features.len() - 1
                }
            };
            let f = &mut features[at];
            // The newest report's test names the series (windows are oldest first).
            f.test = deciding.test.name().to_owned();
            f.score = if deciding.p_value.is_some() {
                "p-value"
            } else {
                "distance"
            };
            f.threshold = finite(deciding.threshold);
            f.scores[i] = finite(deciding.score);
        }
    }
    let rows = &windows.rows;
    Ok(Json(DriftData {
        model: name.as_str().to_owned(),
        time: rows.iter().map(|r| r.end.as_millis()).collect(),
        windows: rows.iter().map(|r| r.window.clone()).collect(),
        versions: rows.iter().map(|r| r.version.clone()).collect(),
        share: rows.iter().map(|r| finite(r.share_drifted)).collect(),
        drift_share,
        features,
        left_out: windows.left_out,
    }))
}

/// `GET /models/{name}/drift/{version}/{window}`: the window's HTML report, found through the
/// history by its model, version and id.
pub(crate) async fn report(
    State(inner): State<Arc<Inner>>,
    Path((name, version, window)): Path<(String, String, String)>,
) -> crate::Result<Response> {
    let name = super::model_name(&name)?;
    let h = history(&inner).ok_or_else(|| {
        crate::UiError::NotFound("drift history (start the UI with --monitor-history)".into())
    })?;
    let bytes = h.report_html(name.as_str(), &version, &window).await?;
    let mut answer = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], bytes).into_response();
    answer.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(REPORT_CSP),
    );
    Ok(answer)
}
