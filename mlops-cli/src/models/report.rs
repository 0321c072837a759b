//! What `mlops models …` pipeline steps tell an orchestrator (`step`): outputs, metrics,
//! gate verdicts, the gate check, annotations.

use mlops::registry::{
    Approval, ApprovalStatus, Evaluation, GateReport, Outcome, Promotion, VersionInfo,
};

use crate::models::approval::Requested;
use crate::step::{Check, GateLine, Level, StepReport};

fn lines(gates: &[GateReport]) -> Vec<GateLine> {
    gates
        .iter()
        .map(|g| GateLine {
            gate: g.gate.clone(),
            passed: g.passed,
            reason: g.reason.clone(),
        })
        .collect()
}

fn metrics(info: &VersionInfo) -> Vec<(String, f64)> {
    info.run
        .iter()
        .flat_map(|run| run.metrics.iter().map(|m| (m.key.to_string(), m.value)))
        .collect()
}

/// `register`: the new version and its run's metrics.
pub(crate) fn registered(info: &VersionInfo) -> StepReport {
    let run = info.run.as_ref().map(|r| r.run_id.to_string());
    let mut step = StepReport::new(
        format!("models register {}", info.model),
        format!("registered {} v{}", info.model, info.version),
    )
    .output("model", info.model.to_string())
    .output("version", info.version.get())
    .output("run_id", run.unwrap_or_default());
    step.metrics = metrics(info);
    step
}

/// `promote` and `rollback`: the decision, each gate, and the gate check.
pub(crate) fn promotion(model: &str, promotion: &Promotion) -> StepReport {
    let d = &promotion.decision;
    let word = match promotion.outcome {
        Outcome::Promoted => "promoted",
        Outcome::PreconditionFailed => "refused (precondition)",
        Outcome::GatesFailed => "refused (gate)",
    };
    let mut step = StepReport::new(
        format!("models {:?} {model} v{} to {}", d.kind, d.version, d.alias).to_lowercase(),
        format!("{word}: {}", d.reason),
    )
    .output("promoted", promotion.promoted())
    .output("model", model)
    .output("version", d.version.get())
    .output("alias", d.alias.to_string())
    .output(
        "previous",
        d.current.map(|v| v.get().to_string()).unwrap_or_default(),
    );
    if !promotion.promoted() {
        step = step.annotate(Level::Warning, format!("{word}: {}", d.reason));
    }
    if let Some(Err(e)) = &promotion.webhook {
        step = step.annotate(Level::Warning, format!("webhook not delivered: {e}"));
    }
    step.gates = lines(&d.gates);
    step.check = Some(Check {
        name: "gate".into(),
        passed: promotion.promoted(),
        blocking: true,
    });
    step
}

/// `gate`: the verdict against the current holder.
pub(crate) fn evaluation(model: &str, alias: &str, e: &Evaluation) -> StepReport {
    let verdict = if e.passed() { "passed" } else { "refused" };
    let mut step = StepReport::new(
        format!("models gate {model} v{} for {alias}", e.version),
        format!("{verdict}: {}", e.reason),
    )
    .output("passed", e.passed())
    .output("model", model)
    .output("version", e.version.get())
    .output("alias", alias)
    .output(
        "current",
        e.current.map(|v| v.get().to_string()).unwrap_or_default(),
    );
    if !e.passed() {
        step = step.annotate(Level::Warning, format!("{verdict}: {}", e.reason));
    }
    step.gates = lines(&e.gates);
    step.check = Some(Check {
        name: "gate".into(),
        passed: e.passed(),
        blocking: true,
    });
    step
}

/// `approval request`: the recorded request and the notifications.
pub(crate) fn requested(model: &str, requested: &Requested) -> StepReport {
    let r = &requested.approval.record;
    let delivered = requested.deliveries.iter().filter(|d| d.delivered).count();
    let mut step = StepReport::new(
        format!("models approval request {model} v{} for {}", r.version, r.alias),
        format!(
            "review of {model} v{} for {} requested by {}; {delivered} of {} notifications delivered",
            r.version,
            r.alias,
            r.by,
            requested.deliveries.len()
        ),
    )
    .output("model", model)
    .output("version", r.version.get())
    .output("alias", r.alias.to_string())
    .output("seq", requested.approval.seq)
    .output("notified", delivered);
    for d in requested.deliveries.iter().filter(|d| !d.delivered) {
        step = step.annotate(
            Level::Error,
            format!(
                "{:?} notification not delivered: {}",
                d.chat,
                d.error.as_deref().unwrap_or("")
            ),
        );
    }
    step
}

/// `approval wait`: the decision.
pub(crate) fn decided(
    model: &str,
    version: &str,
    alias: &str,
    status: &ApprovalStatus,
) -> StepReport {
    let (state, outcome) = match status {
        ApprovalStatus::Approved { approvers } => {
            ("approved", format!("approved by {}", approvers.join(", ")))
        }
        ApprovalStatus::Rejected { by, comment } => (
            "rejected",
            format!(
                "rejected by {by}{}",
                comment
                    .as_deref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            ),
        ),
        ApprovalStatus::Pending { .. } => ("pending", "pending".to_owned()),
    };
    let mut step = StepReport::new(
        format!("models approval wait {model} v{version} for {alias}"),
        outcome.clone(),
    )
    .output("state", state)
    .output("model", model)
    .output("version", version)
    .output("alias", alias);
    if state == "rejected" {
        step = step.annotate(Level::Warning, outcome);
    }
    step.check = Some(Check {
        name: "approval".into(),
        passed: state == "approved",
        blocking: true,
    });
    step
}

/// `approve`: the record written.
pub(crate) fn approval(model: &str, approval: &Approval) -> StepReport {
    let r = &approval.record;
    let state = format!("{:?}", r.state).to_lowercase();
    StepReport::new(
        format!("models approve {model} v{} for {}", r.version, r.alias),
        format!("{state} by {}", r.by),
    )
    .output("state", state)
    .output("model", model)
    .output("version", r.version.get())
    .output("alias", r.alias.to_string())
    .output("by", r.by.clone())
    .output("seq", approval.seq)
}
