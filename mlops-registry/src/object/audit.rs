//! Approvals, promotion decisions and the audit log: entries that record what people and
//! promoters decided, folded into the model's audit log with every other change.

use mlops_core::ModelName;

use super::ObjectRegistry;
use super::log::Fold;
use super::state::{ModelOp, ModelState};
use crate::checks::{check_actor, check_description};
use crate::error::{RegistryError, Result};
use crate::types::{Approval, ApprovalRecord, AuditEntry, Decision};

pub(super) async fn record_approval(
    registry: &ObjectRegistry,
    name: &ModelName,
    record: &ApprovalRecord,
) -> Result<Approval> {
    check_actor("approver", &record.by)?;
    if let Some(c) = &record.comment {
        check_description(c)?;
    }
    let (entry, _) = registry
        .append(name, |state| {
            ObjectRegistry::live_version(name, state, record.version)?;
            Ok(ModelOp::Approval {
                record: record.into(),
            })
        })
        .await?;
    Ok(Approval {
        seq: entry.seq,
        time: entry.time,
        record: record.clone(),
    })
}

pub(super) async fn record_decision(
    registry: &ObjectRegistry,
    name: &ModelName,
    decision: &Decision,
) -> Result<AuditEntry> {
    let (entry, state) = registry
        .append(name, |_| {
            Ok(ModelOp::Decision {
                decision: decision.into(),
            })
        })
        .await?;
    state
        .audit
        .iter()
        .rev()
        .find(|a| a.seq == entry.seq)
        .map(AuditEntry::from)
        .ok_or_else(|| {
            RegistryError::InvalidState("a decision was not folded into the audit log".into())
        })
}

pub(super) async fn audit_log(
    registry: &ObjectRegistry,
    name: &ModelName,
) -> Result<Vec<AuditEntry>> {
    registry
        .read_model(name, |_, state| {
            state.audit.iter().map(AuditEntry::from).collect()
        })
        .await
}

/// Every entry of the model's log read from the store (not the cache) and folded afresh.
pub(super) async fn read_log(
    registry: &ObjectRegistry,
    name: &ModelName,
) -> Result<Vec<AuditEntry>> {
    let (_, log) = registry.lookup(name, true).await?;
    let entries = log.entries(1).await?;
    let mut state = ModelState::default();
    for entry in &entries {
        state.apply(entry);
    }
    Ok(state.audit.iter().map(AuditEntry::from).collect())
}
