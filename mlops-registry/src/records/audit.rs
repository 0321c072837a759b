//! Format 1 records of what happens to a model: alias changes and their preconditions, gate
//! reports, approvals, promotion decisions, and the audit entries folded from them (the
//! object backend's log entries and snapshots, the MLflow backend's audit tags).

use mlops_core::{AliasName, ModelName, ModelVersion, RunId, Tag, Timestamp};
use serde::{Deserialize, Serialize};

use super::version::{StageV1, StatusV1};
use crate::types::{
    AliasChangeKind, AliasEvent, Approval, ApprovalRecord, ApprovalState, AuditAction, AuditEntry,
    Decision, Expect, GateReport,
};

/// An alias change's precondition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ExpectV1 {
    Any,
    Absent,
    Version(ModelVersion),
}

impl From<ExpectV1> for Expect {
    fn from(e: ExpectV1) -> Self {
        match e {
            ExpectV1::Any => Self::Any,
            ExpectV1::Absent => Self::Absent,
            ExpectV1::Version(v) => Self::Version(v),
        }
    }
}

impl From<Expect> for ExpectV1 {
    fn from(e: Expect) -> Self {
        match e {
            Expect::Any => Self::Any,
            Expect::Absent => Self::Absent,
            Expect::Version(v) => Self::Version(v),
        }
    }
}

/// Why an alias moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AliasKindV1 {
    Set,
    Promote,
    Rollback,
    Delete,
}

impl From<AliasKindV1> for AliasChangeKind {
    fn from(k: AliasKindV1) -> Self {
        match k {
            AliasKindV1::Set => Self::Set,
            AliasKindV1::Promote => Self::Promote,
            AliasKindV1::Rollback => Self::Rollback,
            AliasKindV1::Delete => Self::Delete,
        }
    }
}

impl From<AliasChangeKind> for AliasKindV1 {
    fn from(k: AliasChangeKind) -> Self {
        match k {
            AliasChangeKind::Set => Self::Set,
            AliasChangeKind::Promote => Self::Promote,
            AliasChangeKind::Rollback => Self::Rollback,
            AliasChangeKind::Delete => Self::Delete,
        }
    }
}

/// One gate's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GateV1 {
    pub(crate) gate: String,
    pub(crate) passed: bool,
    pub(crate) reason: String,
}

impl From<&GateV1> for GateReport {
    fn from(g: &GateV1) -> Self {
        Self {
            gate: g.gate.clone(),
            passed: g.passed,
            reason: g.reason.clone(),
        }
    }
}

impl From<&GateReport> for GateV1 {
    fn from(g: &GateReport) -> Self {
        Self {
            gate: g.gate.clone(),
            passed: g.passed,
            reason: g.reason.clone(),
        }
    }
}

/// Converts a list of records or reports.
pub(crate) fn convert<'a, A: 'a, B: From<&'a A>>(items: &'a [A]) -> Vec<B> {
    items.iter().map(B::from).collect()
}

/// Requested, approved or rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ApprovalStateV1 {
    Requested,
    Approved,
    Rejected,
}

/// An approval request, approval or rejection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ApprovalV1 {
    pub(crate) version: ModelVersion,
    pub(crate) alias: AliasName,
    pub(crate) state: ApprovalStateV1,
    pub(crate) by: String,
    #[serde(default)]
    pub(crate) comment: Option<String>,
}

impl From<&ApprovalV1> for ApprovalRecord {
    fn from(a: &ApprovalV1) -> Self {
        Self {
            version: a.version,
            alias: a.alias.clone(),
            state: match a.state {
                ApprovalStateV1::Requested => ApprovalState::Requested,
                ApprovalStateV1::Approved => ApprovalState::Approved,
                ApprovalStateV1::Rejected => ApprovalState::Rejected,
            },
            by: a.by.clone(),
            comment: a.comment.clone(),
        }
    }
}

impl From<&ApprovalRecord> for ApprovalV1 {
    fn from(a: &ApprovalRecord) -> Self {
        Self {
            version: a.version,
            alias: a.alias.clone(),
            state: match a.state {
                ApprovalState::Requested => ApprovalStateV1::Requested,
                ApprovalState::Approved => ApprovalStateV1::Approved,
                ApprovalState::Rejected => ApprovalStateV1::Rejected,
            },
            by: a.by.clone(),
            comment: a.comment.clone(),
        }
    }
}

/// A promotion or rollback decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DecisionV1 {
    pub(crate) alias: AliasName,
    pub(crate) version: ModelVersion,
    pub(crate) expected: ExpectV1,
    pub(crate) current: Option<ModelVersion>,
    pub(crate) promoted: bool,
    pub(crate) kind: AliasKindV1,
    pub(crate) reason: String,
    #[serde(default)]
    pub(crate) gates: Vec<GateV1>,
}

impl From<&DecisionV1> for Decision {
    fn from(d: &DecisionV1) -> Self {
        Self {
            alias: d.alias.clone(),
            version: d.version,
            expected: d.expected.into(),
            current: d.current,
            promoted: d.promoted,
            kind: d.kind.into(),
            reason: d.reason.clone(),
            gates: convert(&d.gates),
        }
    }
}

impl From<&Decision> for DecisionV1 {
    fn from(d: &Decision) -> Self {
        Self {
            alias: d.alias.clone(),
            version: d.version,
            expected: d.expected.into(),
            current: d.current,
            promoted: d.promoted,
            kind: d.kind.into(),
            reason: d.reason.clone(),
            gates: convert(&d.gates),
        }
    }
}

/// What an audit entry records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub(crate) enum AuditActionV1 {
    ModelCreated {
        name: ModelName,
    },
    ModelRenamed {
        from: ModelName,
        to: ModelName,
    },
    ModelDeleted {
        name: ModelName,
    },
    ModelDescriptionSet {
        description: String,
    },
    ModelTagSet {
        tag: Tag,
    },
    ModelTagDeleted {
        key: String,
    },
    VersionCreated {
        version: ModelVersion,
        run_id: Option<RunId>,
    },
    VersionDeleted {
        version: ModelVersion,
    },
    VersionDescriptionSet {
        version: ModelVersion,
        description: String,
    },
    VersionTagSet {
        version: ModelVersion,
        tag: Tag,
    },
    VersionTagDeleted {
        version: ModelVersion,
        key: String,
    },
    VersionStatusSet {
        version: ModelVersion,
        status: StatusV1,
    },
    StageTransition {
        version: ModelVersion,
        stage: StageV1,
        #[serde(default)]
        archived: Vec<ModelVersion>,
    },
    AliasChanged {
        alias: AliasName,
        from: Option<ModelVersion>,
        to: Option<ModelVersion>,
        expected: ExpectV1,
        kind: AliasKindV1,
        #[serde(default)]
        gates: Vec<GateV1>,
        #[serde(default)]
        note: Option<String>,
    },
    Approval(ApprovalV1),
    Decision(DecisionV1),
}

impl From<&AuditActionV1> for AuditAction {
    fn from(a: &AuditActionV1) -> Self {
        use AuditActionV1 as R;
        match a {
            R::ModelCreated { name } => Self::ModelCreated { name: name.clone() },
            R::ModelRenamed { from, to } => Self::ModelRenamed {
                from: from.clone(),
                to: to.clone(),
            },
            R::ModelDeleted { name } => Self::ModelDeleted { name: name.clone() },
            R::ModelDescriptionSet { description } => Self::ModelDescriptionSet {
                description: description.clone(),
            },
            R::ModelTagSet { tag } => Self::ModelTagSet { tag: tag.clone() },
            R::ModelTagDeleted { key } => Self::ModelTagDeleted { key: key.clone() },
            R::VersionCreated { version, run_id } => Self::VersionCreated {
                version: *version,
                run_id: run_id.clone(),
            },
            R::VersionDeleted { version } => Self::VersionDeleted { version: *version },
            R::VersionDescriptionSet {
                version,
                description,
            } => Self::VersionDescriptionSet {
                version: *version,
                description: description.clone(),
            },
            R::VersionTagSet { version, tag } => Self::VersionTagSet {
                version: *version,
                tag: tag.clone(),
            },
            R::VersionTagDeleted { version, key } => Self::VersionTagDeleted {
                version: *version,
                key: key.clone(),
            },
            R::VersionStatusSet { version, status } => Self::VersionStatusSet {
                version: *version,
                status: (*status).into(),
            },
            R::StageTransition {
                version,
                stage,
                archived,
            } => Self::StageTransition {
                version: *version,
                stage: (*stage).into(),
                archived: archived.clone(),
            },
            R::AliasChanged {
                alias,
                from,
                to,
                expected,
                kind,
                gates,
                note,
            } => Self::AliasChanged {
                alias: alias.clone(),
                from: *from,
                to: *to,
                expected: (*expected).into(),
                kind: (*kind).into(),
                gates: convert(gates),
                note: note.clone(),
            },
            R::Approval(record) => Self::Approval(record.into()),
            R::Decision(decision) => Self::Decision(decision.into()),
        }
    }
}

impl From<&AuditAction> for AuditActionV1 {
    fn from(a: &AuditAction) -> Self {
        use AuditAction as P;
        match a {
            P::ModelCreated { name } => Self::ModelCreated { name: name.clone() },
            P::ModelRenamed { from, to } => Self::ModelRenamed {
                from: from.clone(),
                to: to.clone(),
            },
            P::ModelDeleted { name } => Self::ModelDeleted { name: name.clone() },
            P::ModelDescriptionSet { description } => Self::ModelDescriptionSet {
                description: description.clone(),
            },
            P::ModelTagSet { tag } => Self::ModelTagSet { tag: tag.clone() },
            P::ModelTagDeleted { key } => Self::ModelTagDeleted { key: key.clone() },
            P::VersionCreated { version, run_id } => Self::VersionCreated {
                version: *version,
                run_id: run_id.clone(),
            },
            P::VersionDeleted { version } => Self::VersionDeleted { version: *version },
            P::VersionDescriptionSet {
                version,
                description,
            } => Self::VersionDescriptionSet {
                version: *version,
                description: description.clone(),
            },
            P::VersionTagSet { version, tag } => Self::VersionTagSet {
                version: *version,
                tag: tag.clone(),
            },
            P::VersionTagDeleted { version, key } => Self::VersionTagDeleted {
                version: *version,
                key: key.clone(),
            },
            P::VersionStatusSet { version, status } => Self::VersionStatusSet {
                version: *version,
                status: (*status).into(),
            },
            P::StageTransition {
                version,
                stage,
                archived,
            } => Self::StageTransition {
                version: *version,
                stage: (*stage).into(),
                archived: archived.clone(),
            },
            P::AliasChanged {
                alias,
                from,
                to,
                expected,
                kind,
                gates,
                note,
            } => Self::AliasChanged {
                alias: alias.clone(),
                from: *from,
                to: *to,
                expected: (*expected).into(),
                kind: (*kind).into(),
                gates: convert(gates),
                note: note.clone(),
            },
            P::Approval(record) => Self::Approval(record.into()),
            P::Decision(decision) => Self::Decision(decision.into()),
        }
    }
}

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct AuditV1 {
    pub(crate) seq: u64,
    pub(crate) time: Timestamp,
    pub(crate) actor: String,
    pub(crate) txn_id: String,
    #[serde(flatten)]
    pub(crate) action: AuditActionV1,
}

impl From<&AuditV1> for AuditEntry {
    fn from(e: &AuditV1) -> Self {
        Self {
            seq: e.seq,
            time: e.time,
            actor: e.actor.clone(),
            txn_id: e.txn_id.clone(),
            action: (&e.action).into(),
        }
    }
}

impl From<&AuditEntry> for AuditV1 {
    fn from(e: &AuditEntry) -> Self {
        Self {
            seq: e.seq,
            time: e.time,
            actor: e.actor.clone(),
            txn_id: e.txn_id.clone(),
            action: (&e.action).into(),
        }
    }
}

/// One change of an alias.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AliasEventV1 {
    pub(crate) seq: u64,
    pub(crate) alias: AliasName,
    pub(crate) from: Option<ModelVersion>,
    pub(crate) to: Option<ModelVersion>,
    pub(crate) kind: AliasKindV1,
    pub(crate) actor: String,
    pub(crate) time: Timestamp,
    pub(crate) txn_id: String,
}

impl From<&AliasEventV1> for AliasEvent {
    fn from(e: &AliasEventV1) -> Self {
        Self {
            seq: e.seq,
            alias: e.alias.clone(),
            from: e.from,
            to: e.to,
            kind: e.kind.into(),
            actor: e.actor.clone(),
            time: e.time,
            txn_id: e.txn_id.clone(),
        }
    }
}

/// An approval event, as folded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ApprovalEventV1 {
    pub(crate) seq: u64,
    pub(crate) time: Timestamp,
    #[serde(flatten)]
    pub(crate) record: ApprovalV1,
}

impl From<&ApprovalEventV1> for Approval {
    fn from(a: &ApprovalEventV1) -> Self {
        Self {
            seq: a.seq,
            time: a.time,
            record: (&a.record).into(),
        }
    }
}
