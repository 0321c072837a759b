//! A model's state as the fold of its commit log: its description and tags, versions,
//! aliases with their history, approvals and audit log. Log entries ([`ModelOp`]) and the
//! state (stored in snapshots) are private records (see [`crate::records`]); the public
//! types are built from them on read. Deciding functions (preconditions) live with the
//! operations; folding never fails, so any prefix of a log is a state.

use std::collections::BTreeMap;

use mlops_core::{AliasName, ModelName, ModelVersion, Tag, TagKey, Timestamp};
use serde::{Deserialize, Serialize};

use super::log::{Entry, Fold};
use crate::records::audit::{
    AliasEventV1, AliasKindV1, ApprovalEventV1, ApprovalV1, AuditActionV1, AuditV1, DecisionV1,
    ExpectV1, GateV1,
};
use crate::records::version::{StageV1, StatusV1, VersionV1};
use crate::types::VersionInfo;

/// A change of one model's state (or a decision recorded for audit only): the `op` of a log
/// entry, format 1 (docs/REGISTRY.md lists them).
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
        info: Box<VersionV1>,
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
        status: StatusV1,
    },
    TransitionStage {
        version: ModelVersion,
        stage: StageV1,
        archived: Vec<ModelVersion>,
    },
    SetAlias {
        alias: AliasName,
        /// `None`: the alias is deleted.
        to: Option<ModelVersion>,
        /// What it held when the writer decided (equal to the fold at `seq - 1`).
        from: Option<ModelVersion>,
        expected: ExpectV1,
        kind: AliasKindV1,
        #[serde(default)]
        gates: Vec<GateV1>,
        #[serde(default)]
        note: Option<String>,
    },
    Approval {
        record: ApprovalV1,
    },
    Decision {
        decision: DecisionV1,
    },
}

/// One version as the log made it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct VersionState {
    pub(crate) info: VersionV1,
    pub(crate) deleted: bool,
}

/// A model's state: the fold of its log (and what a snapshot holds).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ModelState {
    pub(crate) deleted: bool,
    pub(crate) current_name: Option<ModelName>,
    pub(crate) updated: Option<Timestamp>,
    pub(crate) description: Option<String>,
    pub(crate) tags: BTreeMap<TagKey, Tag>,
    pub(crate) versions: BTreeMap<u64, VersionState>,
    pub(crate) aliases: BTreeMap<AliasName, ModelVersion>,
    pub(crate) alias_events: Vec<AliasEventV1>,
    pub(crate) approvals: Vec<ApprovalEventV1>,
    pub(crate) audit: Vec<AuditV1>,
}

impl ModelState {
    /// The number the next registered version gets.
    pub(crate) fn next_version(&self) -> u64 {
        self.versions.keys().next_back().map_or(1, |v| v + 1)
    }

    /// A live version's record.
    pub(crate) fn live(&self, version: ModelVersion) -> Option<&VersionV1> {
        self.versions
            .get(&version.get())
            .filter(|v| !v.deleted)
            .map(|v| &v.info)
    }

    /// The newest live version.
    pub(crate) fn latest(&self) -> Option<ModelVersion> {
        self.versions
            .values()
            .rev()
            .find(|v| !v.deleted)
            .map(|v| v.info.version)
    }

    /// A live version as the public type, with its aliases filled in.
    pub(crate) fn version_info(&self, version: ModelVersion) -> Option<VersionInfo> {
        let aliases = self
            .aliases
            .iter()
            .filter(|(_, v)| **v == version)
            .map(|(a, _)| a.clone())
            .collect();
        Some(self.live(version)?.to_info(aliases))
    }

    fn touch_version(
        &mut self,
        version: ModelVersion,
        time: Timestamp,
        f: impl FnOnce(&mut VersionV1),
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
        kind: AliasKindV1,
    ) {
        self.alias_events.push(AliasEventV1 {
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
                AuditActionV1::ModelCreated { name: name.clone() }
            }
            ModelOp::Renamed { from, to } => {
                self.current_name = Some(to.clone());
                AuditActionV1::ModelRenamed {
                    from: from.clone(),
                    to: to.clone(),
                }
            }
            ModelOp::Deleted { name } => {
                self.deleted = true;
                AuditActionV1::ModelDeleted { name: name.clone() }
            }
            ModelOp::SetDescription { description } => {
                self.description = Some(description.clone());
                AuditActionV1::ModelDescriptionSet {
                    description: description.clone(),
                }
            }
            ModelOp::SetTag { tag } => {
                self.tags.insert(tag.key().clone(), tag.clone());
                AuditActionV1::ModelTagSet { tag: tag.clone() }
            }
            ModelOp::DeleteTag { key } => {
                self.tags.remove(key);
                AuditActionV1::ModelTagDeleted {
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
                AuditActionV1::VersionCreated {
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
                    self.alias_event(entry, &alias, Some(*version), None, AliasKindV1::Delete);
                }
                AuditActionV1::VersionDeleted { version: *version }
            }
            ModelOp::SetVersionDescription {
                version,
                description,
            } => {
                self.touch_version(*version, time, |v| {
                    v.description = Some(description.clone());
                });
                AuditActionV1::VersionDescriptionSet {
                    version: *version,
                    description: description.clone(),
                }
            }
            ModelOp::SetVersionTag { version, tag } => {
                self.touch_version(*version, time, |v| {
                    v.tags.retain(|t| t.key() != tag.key());
                    v.tags.push(tag.clone());
                });
                AuditActionV1::VersionTagSet {
                    version: *version,
                    tag: tag.clone(),
                }
            }
            ModelOp::DeleteVersionTag { version, key } => {
                self.touch_version(*version, time, |v| v.tags.retain(|t| t.key() != key));
                AuditActionV1::VersionTagDeleted {
                    version: *version,
                    key: key.to_string(),
                }
            }
            ModelOp::SetVersionStatus { version, status } => {
                self.touch_version(*version, time, |v| v.status = *status);
                AuditActionV1::VersionStatusSet {
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
                    self.touch_version(*other, time, |v| v.stage = StageV1::Archived);
                }
                AuditActionV1::StageTransition {
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
                if alias.is_digits() {
                    // Written before digits alone were refused: kept readable, but a version
                    // reference shadows it, so say so.
                    tracing::warn!(
                        alias = %alias,
                        "alias {alias} is digits alone: version {alias} shadows it wherever a \
                         reference may be either; move it to a name with `models alias set`"
                    );
                }
                match to {
                    Some(v) => {
                        self.aliases.insert(alias.clone(), *v);
                    }
                    None => {
                        self.aliases.remove(alias);
                    }
                }
                self.alias_event(entry, alias, *from, *to, *kind);
                AuditActionV1::AliasChanged {
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
                self.approvals.push(ApprovalEventV1 {
                    seq: entry.seq,
                    time,
                    record: record.clone(),
                });
                AuditActionV1::Approval(record.clone())
            }
            ModelOp::Decision { decision } => AuditActionV1::Decision(decision.clone()),
        };
        self.updated = Some(time);
        self.audit.push(AuditV1 {
            seq: entry.seq,
            time,
            actor: entry.actor.clone(),
            txn_id: entry.txn_id.clone(),
            action,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::object::catalog::CatalogOp;

    /// Every log entry of the fixture store (written by the release before the records were
    /// private types) parses as a record and serializes back to the same JSON: format 1 is
    /// what the first release wrote, so earlier readers read what this one writes.
    #[test]
    fn records_write_format_1_exactly_as_the_first_release() {
        let root =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/store-v1/store/registry");
        let mut checked = 0;
        let mut logs = vec![root.join("catalog/log")];
        for model in std::fs::read_dir(root.join("models")).unwrap() {
            logs.push(model.unwrap().path().join("log"));
        }
        for dir in logs {
            let catalog = dir.starts_with(root.join("catalog"));
            for file in std::fs::read_dir(&dir).unwrap() {
                let bytes = std::fs::read(file.unwrap().path()).unwrap();
                let original: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                let again = if catalog {
                    let entry: Entry<CatalogOp> = serde_json::from_slice(&bytes).unwrap();
                    serde_json::to_value(&entry).unwrap()
                } else {
                    let entry: Entry<ModelOp> = serde_json::from_slice(&bytes).unwrap();
                    serde_json::to_value(&entry).unwrap()
                };
                assert_eq!(again, original, "{}", dir.display());
                checked += 1;
            }
        }
        assert_eq!(checked, 16, "2 catalog entries and 14 model entries");
    }

    /// A snapshot is the state itself: folding the fixture's longest log, writing the state
    /// and reading it back gives the same state.
    #[test]
    fn snapshots_round_trip() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "../tests/fixtures/store-v1/store/registry/models/01a23f88b298776c8a17c8d622352a15/log",
        );
        let mut state = ModelState::default();
        for seq in 1..=10 {
            let bytes = std::fs::read(dir.join(format!("{seq:020}.json"))).unwrap();
            state.apply(&serde_json::from_slice::<Entry<ModelOp>>(&bytes).unwrap());
        }
        let json = serde_json::to_value(&state).unwrap();
        let back: ModelState = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
        assert_eq!(back.audit.len(), 10);
        assert_eq!(back.approvals.len(), 2);
        assert_eq!(back.alias_events.len(), 4);
    }
}
