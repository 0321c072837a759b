//! Gated promotion, rollback and approval requests on any [`ModelRegistry`], with the
//! decision and every gate's reason recorded in the audit log whether the promotion passes
//! or not, and an optional webhook.
//!
//! A promotion: read the candidate and the alias's current holder; check the caller's
//! precondition; run every gate (all of them, even after a failure, so the log says
//! everything that was wrong); then move the alias with the precondition "still holds what
//! the gates compared against". A successful move is one log entry carrying the gates'
//! reports; a refusal is one `Decision` entry.

use std::sync::Arc;

use mlops_core::{AliasName, ModelName, ModelVersion};

use crate::error::{RegistryError, Result};
use crate::ext::RegistryExt;
use crate::gates::{Gate, GateContext};
use crate::registry::ModelRegistry;
use crate::types::{
    AliasChange, AliasChangeKind, AliasEvent, Approval, ApprovalRecord, ApprovalState, Decision,
    Expect, GateReport, VersionInfo, VersionStatus,
};
use crate::webhook::{Webhook, WebhookEvent, WebhookKind};

/// How a promotion or rollback ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The alias moved.
    Promoted,
    /// The alias did not hold what the caller expected; nothing moved.
    PreconditionFailed,
    /// A gate refused; nothing moved.
    GatesFailed,
}

/// The result of [`promote`] or [`rollback`].
#[derive(Clone, Debug)]
pub struct Promotion {
    /// How it ended.
    pub outcome: Outcome,
    /// What was decided, as recorded.
    pub decision: Decision,
    /// The alias change, when the alias moved.
    pub event: Option<AliasEvent>,
    /// The webhook's delivery: attempts made, or why it failed (the promotion stands).
    pub webhook: Option<std::result::Result<u32, String>>,
}

impl Promotion {
    /// Whether the alias moved.
    pub fn promoted(&self) -> bool {
        self.outcome == Outcome::Promoted
    }
}

/// How many times a promotion with [`Expect::Any`] re-reads the holder and runs the gates
/// again when another writer moves the alias in between.
const ANY_ATTEMPTS: usize = 3;

/// Promotes `version` to `alias` if the alias holds `expected` and every gate passes.
/// Negative answers are [`Outcome`]s, not errors; errors are failures to decide.
pub async fn promote(
    registry: &dyn ModelRegistry,
    model: &ModelName,
    version: ModelVersion,
    alias: &AliasName,
    expected: Expect,
    gates: &[Box<dyn Gate>],
) -> Result<Promotion> {
    let candidate = registry.get_version(model, version).await?;
    if candidate.status != VersionStatus::Ready {
        return Err(RegistryError::InvalidState(format!(
            "{model} v{version} is {}, not READY",
            candidate.status.as_str()
        )));
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = holder(registry, model, alias).await?;
        let current_version = current.as_ref().map(|c| c.version);
        let decision = |promoted: bool, reason: String, gates: Vec<GateReport>| Decision {
            alias: alias.clone(),
            version,
            expected,
            current: current_version,
            promoted,
            kind: AliasChangeKind::Promote,
            reason,
            gates,
        };
        if !expected.matches(current_version) {
            let d = decision(
                false,
                precondition_reason(expected, current_version),
                Vec::new(),
            );
            registry.record_decision(model, &d).await?;
            return Ok(refused(Outcome::PreconditionFailed, d));
        }
        let ctx = GateContext {
            registry,
            model,
            alias,
            candidate: &candidate,
            current: current.as_ref(),
        };
        let mut reports = Vec::with_capacity(gates.len());
        for gate in gates {
            reports.push(match gate.check(&ctx).await {
                Ok(report) => report,
                Err(e) => GateReport {
                    gate: gate.name(),
                    passed: false,
                    reason: format!("the gate failed to decide: {e}"),
                },
            });
        }
        if let Some(failed) = reports.iter().find(|r| !r.passed) {
            let reason = format!("gate {} refused: {}", failed.gate, failed.reason);
            let d = decision(false, reason, reports);
            registry.record_decision(model, &d).await?;
            return Ok(refused(Outcome::GatesFailed, d));
        }
        let change = AliasChange {
            expected: Expect::exactly(current_version),
            kind: AliasChangeKind::Promote,
            gates: reports.clone(),
            note: None,
        };
        match registry.set_alias(model, alias, version, &change).await {
            Ok(event) => {
                let d = decision(
                    true,
                    promoted_reason(version, current_version, gates.len()),
                    reports,
                );
                return Ok(Promotion {
                    outcome: Outcome::Promoted,
                    decision: d,
                    event: Some(event),
                    webhook: None,
                });
            }
            Err(RegistryError::Conflict { current: now, .. }) => {
                if expected == Expect::Any && attempt < ANY_ATTEMPTS {
                    continue;
                }
                let mut d = decision(false, String::new(), reports);
                d.reason = format!(
                    "the alias moved to {} while the gates ran (they compared against {})",
                    show(now),
                    show(current_version)
                );
                registry.record_decision(model, &d).await?;
                return Ok(refused(Outcome::PreconditionFailed, d));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Moves `alias` back to the holder before its latest promotion (promotions push, rollbacks
/// pop, so two rollbacks after three promotions return to the first). The move is
/// conditional on the alias still holding what it held when the target was chosen.
pub async fn rollback(
    registry: &dyn ModelRegistry,
    model: &ModelName,
    alias: &AliasName,
) -> Result<Promotion> {
    let history = registry.alias_history(model, alias).await?;
    let (current, target) = rollback_target(&history);
    let Some(current) = current else {
        return Err(RegistryError::not_found(
            "alias",
            format!("{model}@{alias}"),
        ));
    };
    let Some(target) = target else {
        return Err(RegistryError::InvalidState(format!(
            "{model}@{alias} has no earlier holder to roll back to"
        )));
    };
    let change = AliasChange {
        expected: Expect::Version(current),
        kind: AliasChangeKind::Rollback,
        gates: Vec::new(),
        note: None,
    };
    let decision = |promoted: bool, reason: String, now: Option<ModelVersion>| Decision {
        alias: alias.clone(),
        version: target,
        expected: Expect::Version(current),
        current: now,
        promoted,
        kind: AliasChangeKind::Rollback,
        reason,
        gates: Vec::new(),
    };
    match registry.set_alias(model, alias, target, &change).await {
        Ok(event) => Ok(Promotion {
            outcome: Outcome::Promoted,
            decision: decision(
                true,
                format!("rolled back from v{current} to v{target}"),
                Some(current),
            ),
            event: Some(event),
            webhook: None,
        }),
        Err(RegistryError::Conflict { current: now, .. }) => {
            let d = decision(
                false,
                format!("the alias moved to {} before the rollback", show(now)),
                now,
            );
            registry.record_decision(model, &d).await?;
            Ok(refused(Outcome::PreconditionFailed, d))
        }
        Err(e) => Err(e),
    }
}

/// From an alias's history: its holder now, and the version a rollback returns to.
pub fn rollback_target(history: &[AliasEvent]) -> (Option<ModelVersion>, Option<ModelVersion>) {
    let mut stack: Vec<ModelVersion> = Vec::new();
    let mut current = None;
    for event in history {
        current = event.to;
        match (event.to, event.kind) {
            (None, _) => stack.clear(),
            (Some(v), AliasChangeKind::Rollback) => {
                stack.pop();
                if stack.last() != Some(&v) {
                    stack.push(v);
                }
            }
            (Some(v), _) => {
                if stack.last() != Some(&v) {
                    stack.push(v);
                }
            }
        }
    }
    let target = (stack.len() >= 2).then(|| stack[stack.len() - 2]);
    (current, target)
}

async fn holder(
    registry: &dyn ModelRegistry,
    model: &ModelName,
    alias: &AliasName,
) -> Result<Option<VersionInfo>> {
    match registry.resolve_alias(model, alias).await {
        Ok(info) => Ok(Some(info)),
        Err(RegistryError::NotFound { what: "alias", .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn refused(outcome: Outcome, decision: Decision) -> Promotion {
    Promotion {
        outcome,
        decision,
        event: None,
        webhook: None,
    }
}

fn show(v: Option<ModelVersion>) -> String {
    v.map_or_else(|| "nothing".to_owned(), |v| format!("v{v}"))
}

fn precondition_reason(expected: Expect, current: Option<ModelVersion>) -> String {
    let wanted = match expected {
        Expect::Any => "anything".to_owned(),
        Expect::Absent => "nothing".to_owned(),
        Expect::Version(v) => format!("v{v}"),
    };
    format!(
        "precondition failed: expected the alias to hold {wanted}, it holds {}",
        show(current)
    )
}

fn promoted_reason(version: ModelVersion, from: Option<ModelVersion>, gates: usize) -> String {
    format!(
        "promoted v{version} (was {}); {gates} gate(s) passed",
        show(from)
    )
}

/// [`promote`], [`rollback`] and approval requests on one registry, with an optional
/// webhook fired after promotions, rollbacks and approval requests.
#[derive(Clone, Debug)]
pub struct Promoter {
    registry: Arc<dyn ModelRegistry>,
    webhook: Option<Webhook>,
    actor: String,
}

impl Promoter {
    /// A promoter on `registry`; `actor` is who the webhook events name.
    pub fn new(registry: Arc<dyn ModelRegistry>, actor: impl Into<String>) -> Self {
        Self {
            registry,
            webhook: None,
            actor: actor.into(),
        }
    }

    /// Fires `webhook` after each promotion, rollback and approval request.
    pub fn with_webhook(mut self, webhook: Webhook) -> Self {
        self.webhook = Some(webhook);
        self
    }

    /// The registry.
    pub fn registry(&self) -> &Arc<dyn ModelRegistry> {
        &self.registry
    }

    /// [`promote`], then the webhook when the alias moved.
    pub async fn promote(
        &self,
        model: &ModelName,
        version: ModelVersion,
        alias: &AliasName,
        expected: Expect,
        gates: &[Box<dyn Gate>],
    ) -> Result<Promotion> {
        let mut promotion = promote(
            self.registry.as_ref(),
            model,
            version,
            alias,
            expected,
            gates,
        )
        .await?;
        self.notify(model, &mut promotion, WebhookKind::Promoted)
            .await;
        Ok(promotion)
    }

    /// [`rollback`], then the webhook when the alias moved.
    pub async fn rollback(&self, model: &ModelName, alias: &AliasName) -> Result<Promotion> {
        let mut promotion = rollback(self.registry.as_ref(), model, alias).await?;
        self.notify(model, &mut promotion, WebhookKind::RolledBack)
            .await;
        Ok(promotion)
    }

    /// Records an approval request by `by`, then fires the webhook. The webhook's outcome
    /// is returned beside the approval; a failed delivery does not undo the request.
    pub async fn request_approval(
        &self,
        model: &ModelName,
        version: ModelVersion,
        alias: &AliasName,
        by: &str,
        comment: Option<&str>,
    ) -> Result<(Approval, Option<std::result::Result<u32, String>>)> {
        let record = ApprovalRecord {
            version,
            alias: alias.clone(),
            state: ApprovalState::Requested,
            by: by.to_owned(),
            comment: comment.map(str::to_owned),
        };
        let approval = self.registry.record_approval(model, &record).await?;
        let delivery = match &self.webhook {
            None => None,
            Some(hook) => {
                let event = WebhookEvent {
                    id: format!("{model}/approval/{}", approval.seq),
                    kind: WebhookKind::ApprovalRequested,
                    model: model.clone(),
                    alias: alias.clone(),
                    version,
                    previous: None,
                    actor: by.to_owned(),
                    time: approval.time,
                    gates: Vec::new(),
                };
                Some(hook.send(&event).await.map_err(|e| e.to_string()))
            }
        };
        Ok((approval, delivery))
    }

    async fn notify(&self, model: &ModelName, promotion: &mut Promotion, kind: WebhookKind) {
        let (Some(hook), Some(event)) = (&self.webhook, &promotion.event) else {
            return;
        };
        let Some(version) = event.to else {
            return;
        };
        let body = WebhookEvent {
            id: event.txn_id.clone(),
            kind,
            model: model.clone(),
            alias: event.alias.clone(),
            version,
            previous: event.from,
            actor: if event.actor.is_empty() {
                self.actor.clone()
            } else {
                event.actor.clone()
            },
            time: event.time,
            gates: promotion.decision.gates.clone(),
        };
        let delivery = hook.send(&body).await.map_err(|e| e.to_string());
        if let Err(e) = &delivery {
            tracing::warn!(model = %model, error = %e, "webhook delivery failed; the alias change stands");
        }
        promotion.webhook = Some(delivery);
    }
}
