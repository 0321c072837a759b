//! The audit log in model tags, alias events, and alias preconditions.

use mlops_core::{AliasName, ModelName, ModelVersion, Timestamp};

use super::MlflowRegistry;
use super::convert::new_txn;
use super::meta;
use crate::error::{RegistryError, Result};
use crate::registry::ModelRegistry;
use crate::types::{AliasChange, AliasChangeKind, AliasEvent, AuditAction, AuditEntry};

impl MlflowRegistry {
    /// Writes one audit entry: its parts, then the tag that announces them.
    pub(super) async fn append_audit(
        &self,
        name: &ModelName,
        action: AuditAction,
    ) -> Result<AuditEntry> {
        let entry = AuditEntry {
            seq: 0,
            time: Timestamp::now(),
            actor: self.inner.actor.clone(),
            txn_id: new_txn(),
            action,
        };
        for tag in meta::audit_tags(&entry)? {
            self.set_model_tag_raw(name.as_str(), &tag).await?;
        }
        Ok(entry)
    }

    /// The position of the entry written by transaction `txn` in the model's log.
    pub(super) async fn audit_position(&self, name: &ModelName, txn: &str) -> Result<u64> {
        let log = self.audit_log(name).await?;
        Ok(log.iter().find(|e| e.txn_id == txn).map_or(0, |e| e.seq))
    }

    pub(super) async fn alias_event(
        &self,
        name: &ModelName,
        alias: &AliasName,
        from: Option<ModelVersion>,
        to: Option<ModelVersion>,
        change: &AliasChange,
        kind: AliasChangeKind,
    ) -> Result<AliasEvent> {
        let entry = self
            .append_audit(
                name,
                AuditAction::AliasChanged {
                    alias: alias.clone(),
                    from,
                    to,
                    expected: change.expected,
                    kind,
                    gates: change.gates.clone(),
                    note: change.note.clone(),
                },
            )
            .await?;
        Ok(AliasEvent {
            seq: 0,
            alias: alias.clone(),
            from,
            to,
            kind,
            actor: entry.actor,
            time: entry.time,
            txn_id: entry.txn_id,
        })
    }

    /// The alias's holder, after checking the change's precondition against it.
    pub(super) async fn check_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        change: &AliasChange,
    ) -> Result<Option<ModelVersion>> {
        // `registered-models/alias` answers the holder alone; `registered-models/get` would
        // also carry every tag of the model, the audit log included.
        let current = match self.alias_holder_raw(name, alias).await {
            Ok(version) => Some(version),
            Err(RegistryError::NotFound { what: "alias", .. }) => None,
            Err(e) => return Err(e),
        };
        if !change.expected.matches(current) {
            return Err(RegistryError::Conflict {
                model: name.to_string(),
                alias: alias.to_string(),
                expected: change.expected,
                current,
            });
        }
        Ok(current)
    }
}
