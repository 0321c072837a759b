//! What the logs say: the catalog (model names ↔ ids) and each model's state, as folds of
//! their entries. Deciding functions (preconditions) live in `mod.rs`; folding here never
//! fails, so any prefix of a log is a state.

use std::collections::BTreeMap;

use mlops_core::{AliasName, ModelName, ModelVersion, Tag, TagKey, Timestamp};
use serde::{Deserialize, Serialize};

use super::log::{Entry, Fold};
use crate::model::{
    AliasChangeKind, AliasEvent, Approval, ApprovalRecord, AuditAction, AuditEntry, Decision,
    Expect, GateReport, Stage, VersionInfo, VersionStatus,
};

// ---------------------------------------------------------------- catalog

/// One model in the catalog.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct CatalogModel {
    pub(crate) id: String,
    pub(crate) name: ModelName,
    pub(crate) created: Timestamp,
    pub(crate) creator: String,
}

/// A change of the catalog.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum CatalogOp {
    Create {
        model: CatalogModel,
    },
    Rename {
        id: String,
        from: ModelName,
        to: ModelName,
    },
    Delete {
        id: String,
        name: ModelName,
    },
}

/// Live models by case-folded name.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Catalog {
    pub(crate) models: BTreeMap<String, CatalogModel>,
}

impl Fold for Catalog {
    type Op = CatalogOp;

    fn apply(&mut self, entry: &Entry<CatalogOp>) {
        match &entry.op {
            CatalogOp::Create { model } => {
                self.models.insert(model.name.case_folded(), model.clone());
            }
            CatalogOp::Rename { id, from, to } => {
                if let Some(mut model) = self.models.remove(&from.case_folded()) {
                    if &model.id == id {
                        model.name = to.clone();
                        self.models.insert(to.case_folded(), model);
                    } else {
                        self.models.insert(from.case_folded(), model);
                    }
                }
            }
            CatalogOp::Delete { id, name } => {
                if self
                    .models
                    .get(&name.case_folded())
                    .is_some_and(|m| &m.id == id)
                {
                    self.models.remove(&name.case_folded());
                }
            }
        }
    }
}

impl Catalog {
    /// The live model with exactly this name.
    pub(crate) fn get(&self, name: &ModelName) -> Option<&CatalogModel> {
        self.models
            .get(&name.case_folded())
            .filter(|m| &m.name == name)
    }
}

// ---------------------------------------------------------------- model

/// A change of one model's state (or a decision recorded for audit only).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ModelOp {
    Created {
        name: ModelName,
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        tags: Vec<Tag>,
    },
    Renamed {
        from: ModelName,
        to: ModelName,
    },
    Deleted {
        name: ModelName,
    },
    SetDescription {
        description: String,
    },
    SetTag {
        tag: Tag,
    },
    DeleteTag {
        key: TagKey,
    },
    RegisterVersion {
        info: Box<VersionInfo>,
    },
    DeleteVersion {
        version: ModelVersion,
    },
    SetVersionDescription {
        version: ModelVersion,
        description: String,
    },
    SetVersionTag {
        version: ModelVersion,
        tag: Tag,
    },
    DeleteVersionTag {
        version: ModelVersion,
        key: TagKey,
    },
    SetVersionStatus {
        version: ModelVersion,
        status: VersionStatus,
    },
    TransitionStage {
        version: ModelVersion,
        stage: Stage,
        archived: Vec<ModelVersion>,
    },
    SetAlias {
        alias: AliasName,
        /// `None`: the alias is deleted.
        to: Option<ModelVersion>,
        /// What it held when the writer decided (equal to the fold at `seq - 1`).
        from: Option<ModelVersion>,
        expected: Expect,
        kind: AliasChangeKind,
        #[serde(default)]
        gates: Vec<GateReport>,
        #[serde(default)]
        note: Option<String>,
    },
    Approval {
        record: ApprovalRecord,
    },
    Decision {
        decision: Decision,
    },
}

/// One version as the log made it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct VersionState {
    pub(crate) info: VersionInfo,
    pub(crate) deleted: bool,
}

/// A model's state: the fold of its log.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ModelState {
    pub(crate) deleted: bool,
    pub(crate) current_name: Option<ModelName>,
    pub(crate) updated: Option<Timestamp>,
    pub(crate) description: Option<String>,
    pub(crate) tags: BTreeMap<TagKey, Tag>,
    pub(crate) versions: BTreeMap<u64, VersionState>,
    pub(crate) aliases: BTreeMap<AliasName, ModelVersion>,
    pub(crate) alias_events: Vec<AliasEvent>,
    pub(crate) approvals: Vec<Approval>,
    pub(crate) audit: Vec<AuditEntry>,
}

impl ModelState {
    /// The number the next registered version gets.
    pub(crate) fn next_version(&self) -> u64 {
        self.versions.keys().next_back().map_or(1, |v| v + 1)
    }

    /// A live version.
    pub(crate) fn live(&self, version: ModelVersion) -> Option<&VersionInfo> {
        self.versions
            .get(&version.get())
            .filter(|v| !v.deleted)
            .map(|v| &v.info)
    }

    /// A live version with its aliases filled in.
    pub(crate) fn version_info(&self, version: ModelVersion) -> Option<VersionInfo> {
        let mut info = self.live(version)?.clone();
        info.aliases = self
            .aliases
            .iter()
            .filter(|(_, v)| **v == version)
            .map(|(a, _)| a.clone())
            .collect();
        Some(info)
    }

    fn touch_version(
        &mut self,
        version: ModelVersion,
        time: Timestamp,
        f: impl FnOnce(&mut VersionInfo),
    ) {
        if let Some(v) = self.versions.get_mut(&version.get()) {
            f(&mut v.info);
            v.info.updated = time;
        }
    }

    fn alias_event(
        &mut self,
        entry: &Entry<ModelOp>,
        alias: &AliasName,
        from: Option<ModelVersion>,
        to: Option<ModelVersion>,
        kind: AliasChangeKind,
    ) {
        self.alias_events.push(AliasEvent {
            seq: entry.seq,
            alias: alias.clone(),
            from,
            to,
            kind,
            actor: entry.actor.clone(),
            time: entry.time,
            txn_id: entry.txn_id.clone(),
        });
    }
}

impl Fold for ModelState {
    type Op = ModelOp;

    fn apply(&mut self, entry: &Entry<ModelOp>) {
        let time = entry.time;
        let action = match &entry.op {
            ModelOp::Created {
                name,
                description,
                tags,
            } => {
                self.current_name = Some(name.clone());
                self.description.clone_from(description);
                for tag in tags {
                    self.tags.insert(tag.key().clone(), tag.clone());
                }
                AuditAction::ModelCreated { name: name.clone() }
            }
            ModelOp::Renamed { from, to } => {
                self.current_name = Some(to.clone());
                AuditAction::ModelRenamed {
                    from: from.clone(),
                    to: to.clone(),
                }
            }
            ModelOp::Deleted { name } => {
                self.deleted = true;
                AuditAction::ModelDeleted { name: name.clone() }
            }
            ModelOp::SetDescription { description } => {
                self.description = Some(description.clone());
                AuditAction::ModelDescriptionSet {
                    description: description.clone(),
                }
            }
            ModelOp::SetTag { tag } => {
                self.tags.insert(tag.key().clone(), tag.clone());
                AuditAction::ModelTagSet { tag: tag.clone() }
            }
            ModelOp::DeleteTag { key } => {
                self.tags.remove(key);
                AuditAction::ModelTagDeleted {
                    key: key.to_string(),
                }
            }
            ModelOp::RegisterVersion { info } => {
                let version = info.version;
                // A number is registered once: a second claim of it is ignored by the fold
                // (writers never make one, since they decide against this state).
                self.versions
                    .entry(version.get())
                    .or_insert_with(|| VersionState {
                        info: (**info).clone(),
                        deleted: false,
                    });
                AuditAction::VersionCreated {
                    version,
                    run_id: info.run.as_ref().map(|r| r.run_id.clone()),
                }
            }
            ModelOp::DeleteVersion { version } => {
                if let Some(v) = self.versions.get_mut(&version.get()) {
                    v.deleted = true;
                }
                let dropped: Vec<AliasName> = self
                    .aliases
                    .iter()
                    .filter(|(_, v)| *v == version)
                    .map(|(a, _)| a.clone())
                    .collect();
                for alias in dropped {
                    self.aliases.remove(&alias);
                    self.alias_event(entry, &alias, Some(*version), None, AliasChangeKind::Delete);
                }
                AuditAction::VersionDeleted { version: *version }
            }
            ModelOp::SetVersionDescription {
                version,
                description,
            } => {
                self.touch_version(*version, time, |v| {
                    v.description = Some(description.clone());
                });
                AuditAction::VersionDescriptionSet {
                    version: *version,
                    description: description.clone(),
                }
            }
            ModelOp::SetVersionTag { version, tag } => {
                self.touch_version(*version, time, |v| {
                    v.tags.retain(|t| t.key() != tag.key());
                    v.tags.push(tag.clone());
                });
                AuditAction::VersionTagSet {
                    version: *version,
                    tag: tag.clone(),
                }
            }
            ModelOp::DeleteVersionTag { version, key } => {
                self.touch_version(*version, time, |v| v.tags.retain(|t| t.key() != key));
                AuditAction::VersionTagDeleted {
                    version: *version,
                    key: key.to_string(),
                }
            }
            ModelOp::SetVersionStatus { version, status } => {
                self.touch_version(*version, time, |v| v.status = *status);
                AuditAction::VersionStatusSet {
                    version: *version,
                    status: *status,
                }
            }
            ModelOp::TransitionStage {
                version,
                stage,
                archived,
            } => {
                self.touch_version(*version, time, |v| v.stage = *stage);
                for other in archived {
                    self.touch_version(*other, time, |v| v.stage = Stage::Archived);
                }
                AuditAction::StageTransition {
                    version: *version,
                    stage: *stage,
                    archived: archived.clone(),
                }
            }
            ModelOp::SetAlias {
                alias,
                to,
                from,
                expected,
                kind,
                gates,
                note,
            } => {
                match to {
                    Some(v) => {
                        self.aliases.insert(alias.clone(), *v);
                    }
                    None => {
                        self.aliases.remove(alias);
                    }
                }
                self.alias_event(entry, alias, *from, *to, *kind);
                AuditAction::AliasChanged {
                    alias: alias.clone(),
                    from: *from,
                    to: *to,
                    expected: *expected,
                    kind: *kind,
                    gates: gates.clone(),
                    note: note.clone(),
                }
            }
            ModelOp::Approval { record } => {
                self.approvals.push(Approval {
                    seq: entry.seq,
                    time,
                    record: record.clone(),
                });
                AuditAction::Approval(record.clone())
            }
            ModelOp::Decision { decision } => AuditAction::Decision(decision.clone()),
        };
        self.updated = Some(time);
        self.audit.push(AuditEntry {
            seq: entry.seq,
            time,
            actor: entry.actor.clone(),
            txn_id: entry.txn_id.clone(),
            action,
        });
    }
}
