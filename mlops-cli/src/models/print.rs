//! How `mlops models …` prints its results: tables for people, JSON for scripts.

use mlops::core::{AliasName, ModelVersion};
use mlops::registry::{
    Approval, ApprovalStatus, AuditAction, AuditEntry, Evaluation, Outcome, Promotion,
    RegisteredModel, VersionInfo,
};
use serde_json::json;

use crate::Result;
use crate::models::approval::Requested;
use crate::models::ops::{History, Shown};
use crate::output::table::Table;
use crate::output::text::{number, or_dash, time};
use crate::output::{Format, json, line};

/// `register`: the new version's number, or the whole version as JSON.
pub(crate) fn registered(info: &VersionInfo, format: Format) -> Result<()> {
    match format {
        Format::Table => line(&info.version.to_string()),
        Format::Json => json(info),
    }
}

/// `promote` and `rollback`: the decision and each gate's verdict.
pub(crate) fn promotion(promotion: &Promotion, format: Format) -> Result<()> {
    let d = &promotion.decision;
    match format {
        Format::Json => json(&json!({
            "outcome": format!("{:?}", promotion.outcome),
            "decision": d,
            "event": promotion.event,
            "webhook": promotion.webhook.as_ref().map(|w| match w {
                Ok(attempts) => json!({"delivered": true, "attempts": attempts}),
                Err(e) => json!({"delivered": false, "error": e}),
            }),
        })),
        Format::Table => {
            let word = match promotion.outcome {
                Outcome::Promoted => "promoted",
                Outcome::PreconditionFailed => "refused (precondition)",
                Outcome::GatesFailed => "refused (gate)",
            };
            line(&format!("{word}: {}", d.reason))?;
            for gate in &d.gates {
                line(&format!(
                    "  {} {}: {}",
                    if gate.passed { "pass" } else { "FAIL" },
                    gate.gate,
                    gate.reason
                ))?;
            }
            if let Some(Err(e)) = &promotion.webhook {
                tracing::warn!("webhook not delivered: {e}");
            }
            Ok(())
        }
    }
}

/// `gate`: the verdict and each gate's.
pub(crate) fn evaluation(e: &Evaluation, format: Format) -> Result<()> {
    match format {
        Format::Json => json(&json!({
            "passed": e.passed(),
            "version": e.version,
            "current": e.current,
            "precondition_held": e.precondition_held,
            "reason": e.reason,
            "gates": e.gates,
        })),
        Format::Table => {
            let word = if e.passed() { "passed" } else { "refused" };
            line(&format!("{word}: {}", e.reason))?;
            for gate in &e.gates {
                line(&format!(
                    "  {} {}: {}",
                    if gate.passed { "pass" } else { "FAIL" },
                    gate.gate,
                    gate.reason
                ))?;
            }
            Ok(())
        }
    }
}

/// `approval request`: the request and each notification.
pub(crate) fn requested(name: &str, requested: &Requested, format: Format) -> Result<()> {
    let a = &requested.approval;
    match format {
        Format::Json => json(&json!({
            "model": name,
            "version": a.record.version,
            "alias": a.record.alias,
            "requested_by": a.record.by,
            "seq": a.seq,
            "time": a.time,
            "notifications": requested.deliveries,
        })),
        Format::Table => {
            approval(name, a, Format::Table)?;
            for d in &requested.deliveries {
                match &d.error {
                    None => line(&format!("  notified {:?}", d.chat))?,
                    Some(e) => line(&format!("  {:?} NOT notified: {e}", d.chat))?,
                }
            }
            Ok(())
        }
    }
}

/// `approval wait`: the decision.
pub(crate) fn decided(status: &ApprovalStatus, format: Format) -> Result<()> {
    let value = match status {
        ApprovalStatus::Approved { approvers } => {
            json!({"state": "approved", "approvers": approvers})
        }
        ApprovalStatus::Rejected { by, comment } => {
            json!({"state": "rejected", "by": by, "comment": comment})
        }
        ApprovalStatus::Pending { approvers } => {
            json!({"state": "pending", "approvers": approvers})
        }
    };
    match (format, status) {
        (Format::Json, _) => json(&value),
        (Format::Table, ApprovalStatus::Approved { approvers }) => {
            line(&format!("approved by {}", approvers.join(", ")))
        }
        (Format::Table, ApprovalStatus::Rejected { by, comment }) => line(&format!(
            "rejected by {by}{}",
            comment
                .as_deref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        )),
        (Format::Table, ApprovalStatus::Pending { .. }) => line("pending"),
    }
}

/// `approve`: the record written for model `name`.
pub(crate) fn approval(name: &str, approval: &Approval, format: Format) -> Result<()> {
    let r = &approval.record;
    if format == Format::Json {
        return json(
            &json!({"model": name, "seq": approval.seq, "time": approval.time, "record": r}),
        );
    }
    line(&format!(
        "{:?} {name} v{} for {} by {} (log entry {})",
        r.state, r.version, r.alias, r.by, approval.seq
    ))
}

/// `list`: one row per model.
pub(crate) fn models(models: &[RegisteredModel], format: Format) -> Result<()> {
    if format == Format::Json {
        return json(&models);
    }
    let mut table = Table::new(["name", "latest", "updated", "aliases"]);
    for m in models {
        if let Some(damage) = &m.damaged {
            tracing::warn!("model {} is damaged: {damage}", m.name);
            table.row([
                m.name.to_string(),
                "-".to_owned(),
                "-".to_owned(),
                "DAMAGED (see the warning)".to_owned(),
            ]);
            continue;
        }
        let aliases: Vec<String> = m.aliases.iter().map(|(a, v)| format!("{a}=v{v}")).collect();
        table.row([
            m.name.to_string(),
            or_dash(m.latest_version),
            time(m.updated),
            aliases.join(" "),
        ]);
    }
    table.print()
}

/// `show`: the model or the version, as key/value lines or JSON.
pub(crate) fn shown(shown: &Shown, format: Format) -> Result<()> {
    match (shown, format) {
        (Shown::Model(model), Format::Json) => json(model),
        (Shown::Version(info), Format::Json) => json(info),
        (Shown::Model(model), Format::Table) => model_pairs(model).print(),
        (Shown::Version(info), Format::Table) => version_pairs(info).print(),
    }
}

fn model_pairs(model: &RegisteredModel) -> Table {
    let mut t = Table::pairs();
    t.row(["name", model.name.as_str()]);
    t.row([
        "created".to_owned(),
        format!("{} by {}", time(model.created), model.creator),
    ]);
    t.row(["updated".to_owned(), time(model.updated)]);
    t.row(["latest".to_owned(), or_dash(model.latest_version)]);
    t.row(["description", model.description.as_deref().unwrap_or("-")]);
    for (alias, v) in &model.aliases {
        t.row(["alias".to_owned(), format!("{alias} -> v{v}")]);
    }
    for tag in &model.tags {
        t.row(["tag".to_owned(), format!("{}={}", tag.key(), tag.value())]);
    }
    t
}

fn version_pairs(info: &VersionInfo) -> Table {
    let mut t = Table::pairs();
    t.row([
        "model".to_owned(),
        format!("{} v{}", info.model, info.version),
    ]);
    t.row([
        "created".to_owned(),
        format!("{} by {}", time(info.created), info.creator),
    ]);
    t.row([
        "status".to_owned(),
        format!("{}   stage {}", info.status.as_str(), info.stage),
    ]);
    let aliases: Vec<&str> = info.aliases.iter().map(AliasName::as_str).collect();
    t.row([
        "aliases".to_owned(),
        if aliases.is_empty() {
            "-".to_owned()
        } else {
            aliases.join(", ")
        },
    ]);
    if let Some(run) = &info.run {
        t.row([
            "run".to_owned(),
            format!("{} (experiment {})", run.run_id, run.experiment_id),
        ]);
        for m in &run.metrics {
            t.row([
                "metric".to_owned(),
                format!("{} = {}", m.key, number(m.value)),
            ]);
        }
    }
    for a in &info.artifacts {
        t.row([
            "artifact".to_owned(),
            format!("{}  {} bytes  sha256 {}", a.path, a.size, a.sha256),
        ]);
    }
    if let Some(sig) = &info.signature {
        let inputs: Vec<String> = sig
            .inputs
            .fields()
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect();
        t.row(["inputs".to_owned(), inputs.join(", ")]);
    }
    t
}

/// `versions`: one row per version, newest first.
pub(crate) fn versions(versions: &[VersionInfo], format: Format) -> Result<()> {
    if format == Format::Json {
        return json(&versions);
    }
    let mut table = Table::new([
        "version", "created", "status", "stage", "creator", "aliases",
    ]);
    for v in versions {
        let aliases: Vec<&str> = v.aliases.iter().map(AliasName::as_str).collect();
        table.row([
            v.version.to_string(),
            time(v.created),
            v.status.as_str().to_owned(),
            v.stage.as_str().to_owned(),
            v.creator.clone(),
            aliases.join(" "),
        ]);
    }
    table.print()
}

/// `history`: one row per change or log entry, oldest first.
pub(crate) fn history(history: &History, format: Format) -> Result<()> {
    match (history, format) {
        (History::Alias(events), Format::Json) => json(events),
        (History::Log(log), Format::Json) => json(log),
        (History::Alias(events), Format::Table) => {
            let mut table = Table::new(["seq", "time", "actor", "change", "from", "to"]);
            for e in events {
                table.row([
                    e.seq.to_string(),
                    time(e.time),
                    e.actor.clone(),
                    format!("{:?}", e.kind),
                    version(e.from),
                    version(e.to),
                ]);
            }
            table.print()
        }
        (History::Log(log), Format::Table) => {
            let mut table = Table::new(["seq", "time", "actor", "what"]);
            for entry in log {
                table.row([
                    entry.seq.to_string(),
                    time(entry.time),
                    entry.actor.clone(),
                    describe(entry),
                ]);
            }
            table.print()
        }
    }
}

fn version(v: Option<ModelVersion>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("v{v}"))
}

/// One audit entry in words.
fn describe(entry: &AuditEntry) -> String {
    match &entry.action {
        AuditAction::ModelCreated { name } => format!("created model {name}"),
        AuditAction::ModelRenamed { from, to } => format!("renamed {from} to {to}"),
        AuditAction::ModelDeleted { name } => format!("deleted model {name}"),
        AuditAction::VersionCreated { version, run_id } => match run_id {
            Some(run) => format!("registered v{version} from run {run}"),
            None => format!("registered v{version}"),
        },
        AuditAction::VersionDeleted { version } => format!("deleted v{version}"),
        AuditAction::AliasChanged {
            alias,
            from,
            to,
            kind,
            gates,
            ..
        } => {
            let passed = if gates.is_empty() {
                String::new()
            } else {
                format!(" ({} gates passed)", gates.len())
            };
            format!(
                "{kind:?} {alias}: {} -> {}{passed}",
                version(*from),
                version(*to)
            )
        }
        AuditAction::Approval(r) => {
            format!("{:?} v{} for {} by {}", r.state, r.version, r.alias, r.by)
        }
        AuditAction::Decision(d) => format!(
            "{} {:?} v{} to {}: {}",
            if d.promoted { "decided" } else { "REFUSED" },
            d.kind,
            d.version,
            d.alias,
            d.reason
        ),
        AuditAction::StageTransition { version, stage, .. } => {
            format!("v{version} to stage {stage}")
        }
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}
