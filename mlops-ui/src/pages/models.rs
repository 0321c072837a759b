//! The registry pages: `/models` (every model), `/models/{name}` (its versions with their
//! aliases, source runs and metric snapshots), `/models/{name}/versions/{v}` (files and
//! digests, signature, datasets, drift profile, approvals) and `/models/{name}/history`
//! (alias history and the audit log).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Html;
use maud::{Markup, html};
use mlops_registry::{AuditAction, AuditEntry, ModelQuery, RegistryExt, VersionInfo, VersionQuery};

use crate::html::{bytes, number, page, short, time};
use crate::query::{encode, segment};
use crate::state::Inner;

/// Versions listed on a model page.
const MAX_VERSIONS: usize = 200;
/// Audit entries shown, newest first.
const MAX_AUDIT: usize = 500;
/// Metrics shown per version in the versions table.
const SNAPSHOT_METRICS: usize = 6;

pub(crate) fn model_url(inner: &Inner, name: &str) -> String {
    inner.url(&format!("/models/{}", segment(name)))
}

pub(crate) fn version_url(inner: &Inner, name: &str, v: impl std::fmt::Display) -> String {
    inner.url(&format!("/models/{}/versions/{v}", segment(name)))
}

fn run_link(inner: &Inner, v: &VersionInfo) -> Markup {
    html! {
        @if let Some(run) = &v.run {
            a href=(inner.url(&format!("/runs/{}", run.run_id.as_str()))) { code { (run.run_id.as_str().get(..8).unwrap_or_default()) } }
        }
    }
}

/// `GET /models`.
pub(crate) async fn list(State(inner): State<Arc<Inner>>) -> crate::Result<Html<String>> {
    let registry = inner.registry()?;
    let models = registry
        .search_models(&ModelQuery {
            max_results: Some(inner.limits.max_models),
            ..ModelQuery::default()
        })
        .await?
        .items;
    let body = html! {
        h1 { "Models" }
        @if models.is_empty() { p.muted { "No registered models." } } @else {
            table #models {
                thead { tr { th { "Name" } th { "Latest" } th { "Aliases" } th { "Updated" } th { "Description" } } }
                tbody { @for m in &models {
                    tr {
                        td { a href=(model_url(&inner, m.name.as_str())) { (m.name.as_str()) } }
                        td { @if let Some(v) = m.latest_version { a href=(version_url(&inner, m.name.as_str(), v)) { "v" (v) } } }
                        td { @for (a, v) in &m.aliases { span.badge.alias { "@" (a.as_str()) " → v" (v) } } }
                        td { (time(m.updated)) }
                        td { (m.description.as_deref().unwrap_or_default()) }
                    }
                } }
            }
        }
    };
    Ok(page(&inner, "Models", false, body))
}

/// `GET /models/{name}`.
pub(crate) async fn model(
    State(inner): State<Arc<Inner>>,
    Path(name): Path<String>,
) -> crate::Result<Html<String>> {
    let registry = inner.registry()?;
    let name = super::model_name(&name)?;
    let model = registry.get_model(&name).await?;
    let versions = registry
        .search_versions(&VersionQuery {
            model: Some(name.clone()),
            max_results: Some(MAX_VERSIONS),
            ..VersionQuery::default()
        })
        .await?
        .items;
    let body = html! {
        div.crumbs { a href=(inner.url("/models")) { "Models" } " / " }
        h1 { (model.name.as_str()) }
        @if let Some(d) = &model.description { p { (d) } }
        p {
            a href=(inner.url(&format!("/models/{}/history", segment(name.as_str())))) { "Alias history and audit log" }
            " · "
            a #drift-link href=(super::drift::drift_url(&inner, name.as_str())) { "Drift over time" }
        }
        h2 { "Aliases" }
        @if model.aliases.is_empty() { p.muted { "No aliases." } } @else {
            table #aliases { tbody { @for (a, v) in &model.aliases {
                tr { th { "@" (a.as_str()) } td { a href=(version_url(&inner, name.as_str(), v)) { "version " (v) } } }
            } } }
        }
        h2 { "Versions" }
        table #versions {
            thead { tr { th { "Version" } th { "Aliases" } th { "Stage" } th { "Status" } th { "Created" } th { "Creator" } th { "Source run" } th { "Metrics" } } }
            tbody { @for v in &versions {
                tr {
                    td { a href=(version_url(&inner, name.as_str(), v.version)) { "v" (v.version) } }
                    td { @for a in &v.aliases { span.badge.alias { "@" (a.as_str()) } } }
                    td { (v.stage.as_str()) }
                    td { (v.status.as_str()) }
                    td { (time(v.created)) }
                    td { (v.creator) }
                    td { (run_link(&inner, v)) }
                    td { @if let Some(run) = &v.run { @for m in run.metrics.iter().take(SNAPSHOT_METRICS) { span.badge { (m.key.as_str()) "=" (number(m.value)) } } } }
                }
            } }
        }
    };
    Ok(page(&inner, name.as_str(), false, body))
}

/// `GET /models/{name}/versions/{version}`.
pub(crate) async fn version(
    State(inner): State<Arc<Inner>>,
    Path((name, version)): Path<(String, String)>,
) -> crate::Result<Html<String>> {
    let registry = inner.registry()?;
    let name = super::model_name(&name)?;
    let version = super::version(&version)?;
    let v = registry.get_version(&name, version).await?;
    let profile = super::profile::summary(&inner, &name, version).await;
    let approvals: Vec<_> = registry
        .approvals(&name)
        .await?
        .into_iter()
        .filter(|a| a.record.version == version)
        .collect();
    let body = html! {
        div.crumbs { a href=(inner.url("/models")) { "Models" } " / " a href=(model_url(&inner, name.as_str())) { (name.as_str()) } " / " }
        h1 { (name.as_str()) " v" (version) " " @for a in &v.aliases { span.badge.alias { "@" (a.as_str()) } } }
        table.kv #version {
            tr { th { "Created" } td { (time(v.created)) " by " (v.creator) } }
            tr { th { "Stage / status" } td { (v.stage.as_str()) " / " (v.status.as_str()) } }
            tr { th { "Source" } td { code { (v.source) } } }
            tr { th { "Source run" } td { (run_link(&inner, &v)) } }
            @if let Some(d) = &v.description { tr { th { "Description" } td { (d) } } }
        }
        @if let Some(run) = &v.run { @if !run.metrics.is_empty() {
            h2 { "Metrics at registration" }
            table.kv #snapshot { tbody { @for m in &run.metrics { tr { th { (m.key.as_str()) } td.num { (number(m.value)) } } } } }
        } }
        h2 { "Files" }
        @if v.artifacts.is_empty() { p.muted { "No files." } } @else {
            table #files {
                thead { tr { th { "Path" } th { "Size" } th { "SHA-256" } } }
                tbody { @for f in &v.artifacts { tr { td { (f.path.as_str()) } td.num { (bytes(f.size)) } td { (short(&f.sha256)) } } } }
            }
        }
        h2 { "Signature" }
        @match &v.signature {
            None => p.muted { "No signature." },
            Some(sig) => table #signature {
                thead { tr { th { "Side" } th { "Column" } th { "Type" } th { "Nullable" } } }
                tbody {
                    @for f in sig.inputs.fields() { tr { td { "input" } td { (f.name()) } td { (f.data_type().to_string()) } td { (f.is_nullable()) } } }
                    @if let Some(out) = &sig.outputs { @for f in out.fields() { tr { td { "output" } td { (f.name()) } td { (f.data_type().to_string()) } td { (f.is_nullable()) } } } }
                }
            },
        }
        h2 { "Datasets" }
        @if v.datasets.is_empty() { p.muted { "No datasets recorded." } } @else {
            table #datasets {
                thead { tr { th { "Name" } th { "Digest" } th { "Rows" } th { "Source" } } }
                tbody { @for d in &v.datasets {
                    @let digest = d.digest().to_string();
                    tr {
                        td { (d.name()) }
                        td { a href=(inner.url(&format!("/lineage?{}", encode([("digest", digest.as_str())])))) { (short(&digest)) } }
                        td.num { (d.rows()) }
                        td { (d.source()) }
                    }
                } }
            }
        }
        h2 { "Drift profile" }
        @if let Some(p) = &v.drift_profile { p { "Reference profile: " (bytes(p.size)) ", SHA-256 " (short(&p.sha256)) } }
        (profile)
        h2 { "Approvals" }
        (approvals_table(&approvals))
        p { a href=(inner.url(&format!("/models/{}/versions/{version}/review", segment(name.as_str())))) { "Review this version" } }
    };
    Ok(page(
        &inner,
        &format!("{} v{version}", name.as_str()),
        false,
        body,
    ))
}

/// The approval events of a version.
pub(crate) fn approvals_table(approvals: &[mlops_registry::Approval]) -> Markup {
    html! {
        @if approvals.is_empty() { p.muted { "No approval events." } } @else {
            table.approvals {
                thead { tr { th { "When" } th { "Version" } th { "Alias" } th { "State" } th { "By" } th { "Comment" } } }
                tbody { @for a in approvals {
                    @let state = format!("{:?}", a.record.state).to_lowercase();
                    tr {
                        td { (time(a.time)) }
                        td { "v" (a.record.version) }
                        td { "@" (a.record.alias.as_str()) }
                        td { span class={"badge " (state)} { (state) } }
                        td { (a.record.by) }
                        td { (a.record.comment.as_deref().unwrap_or_default()) }
                    }
                } }
            }
        }
    }
}

/// One line saying what an audit entry did.
pub(crate) fn describe(entry: &AuditEntry) -> String {
    let v = |v: &Option<mlops_core::ModelVersion>| {
        v.map_or_else(|| "none".to_owned(), |v| format!("v{v}"))
    };
    match &entry.action {
        AuditAction::ModelCreated { name } => format!("created model {}", name.as_str()),
        AuditAction::ModelRenamed { from, to } => {
            format!("renamed {} to {}", from.as_str(), to.as_str())
        }
        AuditAction::ModelDeleted { name } => format!("deleted model {}", name.as_str()),
        AuditAction::ModelDescriptionSet { .. } => "set the description".to_owned(),
        AuditAction::ModelTagSet { tag } => {
            format!("set tag {}={}", tag.key().as_str(), tag.value())
        }
        AuditAction::ModelTagDeleted { key } => format!("deleted tag {key}"),
        AuditAction::VersionCreated { version, run_id } => match run_id {
            Some(run) => format!("registered v{version} from run {}", run.as_str()),
            None => format!("registered v{version}"),
        },
        AuditAction::VersionDeleted { version } => format!("deleted v{version}"),
        AuditAction::VersionDescriptionSet { version, .. } => format!("described v{version}"),
        AuditAction::VersionTagSet { version, tag } => {
            format!("v{version}: set tag {}={}", tag.key().as_str(), tag.value())
        }
        AuditAction::VersionTagDeleted { version, key } => format!("v{version}: deleted tag {key}"),
        AuditAction::VersionStatusSet { version, status } => {
            format!("v{version}: status {}", status.as_str())
        }
        AuditAction::StageTransition { version, stage, .. } => {
            format!("v{version}: stage {}", stage.as_str())
        }
        AuditAction::AliasChanged {
            alias,
            from,
            to,
            kind,
            ..
        } => {
            format!("@{}: {} → {} ({kind:?})", alias.as_str(), v(from), v(to))
        }
        AuditAction::Approval(r) => format!(
            "{:?} v{} for @{} by {}{}",
            r.state,
            r.version,
            r.alias.as_str(),
            r.by,
            r.comment
                .as_deref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        ),
        AuditAction::Decision(d) => format!(
            "{} v{} to @{}: {}",
            if d.promoted { "promoted" } else { "refused" },
            d.version,
            d.alias.as_str(),
            d.reason
        ),
        other => format!("{other:?}"),
    }
}

/// `GET /models/{name}/history`.
pub(crate) async fn history(
    State(inner): State<Arc<Inner>>,
    Path(name): Path<String>,
) -> crate::Result<Html<String>> {
    let registry = inner.registry()?;
    let name = super::model_name(&name)?;
    let aliases = registry.list_aliases(&name).await?;
    let mut alias_events = Vec::new();
    for alias in aliases.keys() {
        alias_events.extend(registry.alias_history(&name, alias).await?);
    }
    alias_events.sort_by_key(|e| std::cmp::Reverse(e.seq));
    let log = registry.audit_log(&name).await?;
    let shown: Vec<&AuditEntry> = log.iter().rev().take(MAX_AUDIT).collect();
    let v =
        |v: Option<mlops_core::ModelVersion>| v.map_or_else(|| "—".to_owned(), |v| format!("v{v}"));
    let body = html! {
        div.crumbs { a href=(inner.url("/models")) { "Models" } " / " a href=(model_url(&inner, name.as_str())) { (name.as_str()) } " / " }
        h1 { "History of " (name.as_str()) }
        h2 { "Alias history" }
        @if alias_events.is_empty() { p.muted { "No alias changes." } } @else {
            table #alias-history {
                thead { tr { th { "When" } th { "Alias" } th { "From" } th { "To" } th { "Kind" } th { "Who" } } }
                tbody { @for e in &alias_events {
                    tr { td { (time(e.time)) } td { "@" (e.alias.as_str()) } td { (v(e.from)) } td { (v(e.to)) } td { (format!("{:?}", e.kind)) } td { (e.actor) } }
                } }
            }
        }
        h2 { "Audit log" }
        table #audit {
            thead { tr { th { "#" } th { "When" } th { "Who" } th { "What" } } }
            tbody { @for e in &shown {
                tr { td.num { (e.seq) } td { (time(e.time)) } td { (e.actor) } td { (describe(e)) } }
            } }
        }
        @if log.len() > shown.len() { p.muted { "The latest " (shown.len()) " of " (log.len()) " entries." } }
    };
    Ok(page(
        &inner,
        &format!("{} history", name.as_str()),
        false,
        body,
    ))
}
