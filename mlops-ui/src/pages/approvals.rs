//! Approvals: `/approvals` (the pending requests of every model), the review page of a
//! version (its evidence: metrics against the alias's current holder, the gate results of
//! its latest promotion attempt, its data and drift profile) and the approve/reject form.
//!
//! A decision is a `POST` that passes, in order: the same-origin check (the guard), this
//! server's CSRF token, and a reviewer's token; it is then recorded in the registry under
//! that reviewer's name ([`RegistryExt::approve`]/[`RegistryExt::reject`]), where a pipeline
//! polling the registry (`approval` gates, `mlops models history`) sees it at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use mlops_core::{AliasName, ModelName, ModelVersion};
use mlops_registry::{Approval, ApprovalState, AuditAction, ModelQuery, RegistryExt, VersionInfo};

use crate::UiError;
use crate::guard::check_csrf;
use crate::html::{number, page, time};
use crate::query::{Pairs, encode, segment};
use crate::state::Inner;

/// The longest comment recorded with a decision.
const MAX_COMMENT_CHARS: usize = 2_000;

/// The requests still waiting: the latest event of each (version, alias) is a request.
pub(crate) fn pending(approvals: &[Approval]) -> Vec<&Approval> {
    let mut latest: BTreeMap<(ModelVersion, &str), &Approval> = BTreeMap::new();
    for a in approvals {
        latest.insert((a.record.version, a.record.alias.as_str()), a);
    }
    latest
        .into_values()
        .filter(|a| a.record.state == ApprovalState::Requested)
        .collect()
}

/// `GET /approvals`.
pub(crate) async fn queue(State(inner): State<Arc<Inner>>) -> crate::Result<Html<String>> {
    let registry = inner.registry()?;
    let models = registry
        .search_models(&ModelQuery {
            max_results: Some(inner.limits.max_models),
            ..ModelQuery::default()
        })
        .await?
        .items;
    let mut waiting: Vec<(ModelName, Approval)> = Vec::new();
    for m in &models {
        let events = registry.approvals(&m.name).await?;
        waiting.extend(
            pending(&events)
                .into_iter()
                .map(|a| (m.name.clone(), a.clone())),
        );
    }
    waiting.sort_by_key(|(_, a)| a.time);
    let body = html! {
        h1 { "Approvals" }
        @if waiting.is_empty() { p.muted #empty { "No pending approval requests." } } @else {
            table #queue {
                thead { tr { th { "Requested" } th { "Model" } th { "Version" } th { "For alias" } th { "By" } th { "Comment" } th {} } }
                tbody { @for (name, a) in &waiting {
                    tr {
                        td { (time(a.time)) }
                        td { a href=(super::models::model_url(&inner, name.as_str())) { (name.as_str()) } }
                        td { a href=(super::models::version_url(&inner, name.as_str(), a.record.version)) { "v" (a.record.version) } }
                        td { "@" (a.record.alias.as_str()) }
                        td { (a.record.by) }
                        td { (a.record.comment.as_deref().unwrap_or_default()) }
                        td { a.review href=(review_url(&inner, name, a.record.version, &a.record.alias)) { "Review" } }
                    }
                } }
            }
        }
    };
    Ok(page(&inner, "Approvals", false, body))
}

fn review_url(inner: &Inner, name: &ModelName, version: ModelVersion, alias: &AliasName) -> String {
    inner.url(&format!(
        "/models/{}/versions/{version}/review?{}",
        segment(name.as_str()),
        encode([("alias", alias.as_str())])
    ))
}

/// `GET /models/{name}/versions/{v}/review?alias=A`: the evidence and the decision form.
pub(crate) async fn review(
    State(inner): State<Arc<Inner>>,
    Path((name, version)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> crate::Result<Html<String>> {
    let q = Pairs::parse(raw.as_deref())?;
    let registry = inner.registry()?;
    let name = super::model_name(&name)?;
    let version = super::version(&version)?;
    let candidate = registry.get_version(&name, version).await?;
    let events: Vec<Approval> = registry
        .approvals(&name)
        .await?
        .into_iter()
        .filter(|a| a.record.version == version)
        .collect();
    // The alias under review: the one asked for, else the latest request's.
    let alias = match q.get("alias") {
        Some(a) => Some(
            AliasName::parse(a).map_err(|e| UiError::BadRequest(format!("alias {a:?}: {e}")))?,
        ),
        None => events
            .iter()
            .rev()
            .find(|a| a.record.state == ApprovalState::Requested)
            .map(|a| a.record.alias.clone()),
    };
    let holder: Option<VersionInfo> = match &alias {
        Some(a) => registry.resolve_alias(&name, a).await.ok(),
        None => None,
    };
    let log = registry.audit_log(&name).await?;
    let gates = log.iter().rev().find_map(|e| match &e.action {
        AuditAction::Decision(d)
            if d.version == version && alias.as_ref().is_none_or(|a| *a == d.alias) =>
        {
            Some(d.clone())
        }
        _ => None,
    });
    let mut keys: Vec<&str> = candidate
        .run
        .iter()
        .flat_map(|r| r.metrics.iter().map(|m| m.key.as_str()))
        .collect();
    if let Some(h) = &holder {
        keys.extend(
            h.run
                .iter()
                .flat_map(|r| r.metrics.iter().map(|m| m.key.as_str())),
        );
    }
    keys.sort_unstable();
    keys.dedup();
    let done = q.get("done");
    let profile = super::profile::summary(&inner, &name, version).await;
    // The source run's datasets, when the version itself recorded none.
    let inputs = match &candidate.run {
        Some(run) if candidate.datasets.is_empty() => inner
            .tracking
            .get_run(&run.run_id)
            .await
            .map(|r| r.inputs)
            .unwrap_or_default(),
        _ => Vec::new(),
    };

    let body = html! {
        div.crumbs { a href=(inner.url("/approvals")) { "Approvals" } " / " a href=(super::models::model_url(&inner, name.as_str())) { (name.as_str()) } " / " }
        h1 { "Review " (name.as_str()) " v" (version) @if let Some(a) = &alias { " for @" (a.as_str()) } }
        @if let Some(state) = done { p #done.badge.approved { "Recorded: " (state) } }
        div.evidence {
            div.card {
                h2 { "Metrics" }
                table #evidence-metrics {
                    thead { tr { th { "Metric" } th { "v" (version) } th { @match &holder { Some(h) => { "holder v" (h.version) }, None => "no current holder" } } th { "Δ" } } }
                    tbody { @for k in &keys {
                        @let mine = candidate.metric(k);
                        @let theirs = holder.as_ref().and_then(|h| h.metric(k));
                        tr {
                            th { (k) }
                            td.num { @if let Some(v) = mine { (number(v)) } }
                            td.num { @if let Some(v) = theirs { (number(v)) } }
                            td.num { @if let (Some(a), Some(b)) = (mine, theirs) { (number(a - b)) } }
                        }
                    } }
                }
            }
            div.card {
                h2 { "Gates" }
                @match &gates {
                    None => p.muted { "No promotion attempt recorded for this version yet." },
                    Some(d) => {
                        p { @if d.promoted { "Promoted" } @else { "Refused" } ": " (d.reason) }
                        table #gates { tbody { @for g in &d.gates {
                            tr { th { (g.gate) } td { @if g.passed { span.badge.pass { "pass" } } @else { span.badge.fail { "fail" } } } td { (g.reason) } }
                        } } }
                    },
                }
            }
            div.card {
                h2 { "Data and drift" }
                @if candidate.datasets.is_empty() && inputs.is_empty() { p.muted { "No datasets recorded." } }
                @for input in &inputs {
                    p {
                        "Source run's dataset " (input.dataset.name) ": digest "
                        a href=(inner.url(&format!("/lineage?{}", encode([("digest", input.dataset.digest.as_str())])))) { code { (input.dataset.digest) } }
                    }
                }
                @for d in &candidate.datasets {
                    p { (d.name()) ": " (d.rows()) " rows, digest " code { (d.digest().to_string()) } }
                }
                (profile)
                @if let Some(run) = &candidate.run {
                    p { a href=(inner.url(&format!("/runs/{}", run.run_id.as_str()))) { "Source run" } }
                }
            }
        }
        h2 { "History" }
        (super::models::approvals_table(&events))
        h2 { "Decision" }
        @if inner.reviewers.is_empty() {
            p.muted { "This UI has no reviewers configured (start it with --reviewers FILE or MLOPS_UI_REVIEWERS): read-only." }
        } @else if let Some(alias) = &alias {
            form #decide method="post" action=(inner.url(&format!("/models/{}/versions/{version}/review", segment(name.as_str())))) {
                input type="hidden" name="csrf" value=(inner.csrf_token);
                input type="hidden" name="alias" value=(alias.as_str());
                p { label { "Reviewer token " input #token type="password" name="token" autocomplete="off" required; } }
                p { label { "Comment " textarea #comment name="comment" rows="2" cols="60" maxlength=(MAX_COMMENT_CHARS) {} } }
                p {
                    button #approve type="submit" name="decision" value="approve" { "Approve" } " "
                    button #reject.reject type="submit" name="decision" value="reject" { "Reject" }
                }
            }
        } @else {
            p.muted { "No approval was requested for this version; open this page with ?alias=NAME to decide for an alias." }
        }
    };
    Ok(page(&inner, "Review", false, body))
}

/// `POST /models/{name}/versions/{v}/review`: records an approval or rejection.
pub(crate) async fn decide(
    State(inner): State<Arc<Inner>>,
    Path((name, version)): Path<(String, String)>,
    body: Bytes,
) -> crate::Result<Response> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| UiError::BadRequest("form is not UTF-8".to_owned()))?;
    let form = Pairs::parse(Some(text))?;
    check_csrf(&inner, form.get("csrf"))?;
    let reviewer = form
        .get("token")
        .and_then(|t| inner.reviewers.identify(t))
        .ok_or(UiError::Unauthorized)?
        .to_owned();
    let registry = inner.registry()?;
    let name = super::model_name(&name)?;
    let version = super::version(&version)?;
    let alias_text = form
        .get("alias")
        .ok_or_else(|| UiError::BadRequest("alias is missing".to_owned()))?;
    let alias = AliasName::parse(alias_text)
        .map_err(|e| UiError::BadRequest(format!("alias {alias_text:?}: {e}")))?;
    let comment = form.get("comment");
    if comment.is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
        return Err(UiError::BadRequest(format!(
            "comment longer than {MAX_COMMENT_CHARS} characters"
        )));
    }
    let recorded = match form.get("decision") {
        Some("approve") => {
            registry
                .approve(&name, version, &alias, &reviewer, comment)
                .await?
        }
        Some("reject") => {
            registry
                .reject(&name, version, &alias, &reviewer, comment)
                .await?
        }
        other => {
            return Err(UiError::BadRequest(format!(
                "decision {other:?}: expected approve or reject"
            )));
        }
    };
    tracing::info!(model = name.as_str(), %version, alias = alias.as_str(), reviewer, state = ?recorded.record.state, "ui: approval recorded");
    let state = format!("{:?}", recorded.record.state).to_lowercase();
    let to = inner.url(&format!(
        "/models/{}/versions/{version}/review?{}",
        segment(name.as_str()),
        encode([("alias", alias.as_str()), ("done", state.as_str())])
    ));
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response())
}
