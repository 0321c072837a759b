//! Aliases: conditional moves and deletes (decided against the folded state, so a false
//! precondition is never acknowledged), resolution, and each alias's history.

use std::collections::BTreeMap;

use mlops_core::{AliasName, ModelName, ModelVersion};

use super::ObjectRegistry;
use super::log::Entry;
use super::state::ModelOp;
use crate::error::{RegistryError, Result};
use crate::records::audit::convert;
use crate::types::{AliasChange, AliasChangeKind, AliasEvent, VersionInfo};

pub(super) async fn change(
    registry: &ObjectRegistry,
    name: &ModelName,
    alias: &AliasName,
    to: Option<ModelVersion>,
    change: &AliasChange,
) -> Result<AliasEvent> {
    let kind = match (to, change.kind) {
        (None, _) => AliasChangeKind::Delete,
        (Some(_), AliasChangeKind::Delete) => {
            return Err(RegistryError::InvalidArgument(
                "a delete cannot set a version".into(),
            ));
        }
        (Some(_), kind) => kind,
    };
    let (entry, _) = registry
        .append(name, |state| {
            if let Some(v) = to {
                ObjectRegistry::live_version(name, state, v)?;
            }
            let current = state.aliases.get(alias).copied();
            if to.is_none() && current.is_none() {
                return Err(RegistryError::not_found("alias", format!("{name}@{alias}")));
            }
            if !change.expected.matches(current) {
                return Err(RegistryError::Conflict {
                    model: name.to_string(),
                    alias: alias.to_string(),
                    expected: change.expected,
                    current,
                });
            }
            Ok(ModelOp::SetAlias {
                alias: alias.clone(),
                to,
                from: current,
                expected: change.expected.into(),
                kind: kind.into(),
                gates: convert(&change.gates),
                note: change.note.clone(),
            })
        })
        .await?;
    event(&entry)
        .ok_or_else(|| RegistryError::InvalidState("an alias change wrote another entry".into()))
}

/// The alias event an entry records, if it is an alias change.
fn event(entry: &Entry<ModelOp>) -> Option<AliasEvent> {
    match &entry.op {
        ModelOp::SetAlias {
            alias,
            to,
            from,
            kind,
            ..
        } => Some(AliasEvent {
            seq: entry.seq,
            alias: alias.clone(),
            from: *from,
            to: *to,
            kind: (*kind).into(),
            actor: entry.actor.clone(),
            time: entry.time,
            txn_id: entry.txn_id.clone(),
        }),
        _ => None,
    }
}

/// One catch-up read of the model's log (finding nothing new on a quiet registry) and a
/// lookup in the folded state: what serving by alias polls.
pub(super) async fn resolve(
    registry: &ObjectRegistry,
    name: &ModelName,
    alias: &AliasName,
) -> Result<VersionInfo> {
    registry
        .read_model(name, |_, state| {
            let version = state
                .aliases
                .get(alias)
                .copied()
                .ok_or_else(|| RegistryError::not_found("alias", format!("{name}@{alias}")))?;
            ObjectRegistry::live_version(name, state, version)
        })
        .await?
}

pub(super) async fn list(
    registry: &ObjectRegistry,
    name: &ModelName,
) -> Result<BTreeMap<AliasName, ModelVersion>> {
    registry
        .read_model(name, |_, state| state.aliases.clone())
        .await
}

pub(super) async fn history(
    registry: &ObjectRegistry,
    name: &ModelName,
    alias: &AliasName,
) -> Result<Vec<AliasEvent>> {
    registry
        .read_model(name, |_, state| {
            state
                .alias_events
                .iter()
                .filter(|e| &e.alias == alias)
                .map(AliasEvent::from)
                .collect()
        })
        .await
}
