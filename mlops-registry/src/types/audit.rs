//! Approvals, promotion decisions and the audit log: who decided what, when.

use mlops_core::{AliasName, ModelName, ModelVersion, RunId, Tag, Timestamp};
use serde::{Deserialize, Serialize};

use super::alias::{AliasChangeKind, Expect, GateReport};
use super::version::{Stage, VersionStatus};

/// The state of an approval of a version for an alias.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// Someone asked for an approval.
    Requested,
    /// A named person approved.
    Approved,
    /// A named person rejected.
    Rejected,
}

/// A request, approval or rejection to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// The version.
    pub version: ModelVersion,
    /// The alias it is to be promoted to.
    pub alias: AliasName,
    /// Requested, approved or rejected.
    pub state: ApprovalState,
    /// Who (a named person; must not be empty).
    pub by: String,
    /// A comment.
    #[serde(default)]
    pub comment: Option<String>,
}

/// An approval event, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Its position in the model's log.
    pub seq: u64,
    /// When.
    pub time: Timestamp,
    /// What was recorded.
    #[serde(flatten)]
    pub record: ApprovalRecord,
}

/// A promotion decision, recorded in the audit log whether it passed or not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The alias.
    pub alias: AliasName,
    /// The candidate version.
    pub version: ModelVersion,
    /// The precondition asked for.
    pub expected: Expect,
    /// What the alias held when the decision was made.
    pub current: Option<ModelVersion>,
    /// Whether the alias was moved.
    pub promoted: bool,
    /// `promote` or `rollback`.
    pub kind: AliasChangeKind,
    /// The outcome in words.
    pub reason: String,
    /// Every gate's report.
    #[serde(default)]
    pub gates: Vec<GateReport>,
}

/// What an audit entry records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditAction {
    /// The model was created.
    ModelCreated {
        /// Its name.
        name: ModelName,
    },
    /// The model was renamed.
    ModelRenamed {
        /// The old name.
        from: ModelName,
        /// The new name.
        to: ModelName,
    },
    /// The model was deleted.
    ModelDeleted {
        /// Its name.
        name: ModelName,
    },
    /// The model's description changed.
    ModelDescriptionSet {
        /// The new description.
        description: String,
    },
    /// A model tag was set.
    ModelTagSet {
        /// The tag.
        tag: Tag,
    },
    /// A model tag was deleted.
    ModelTagDeleted {
        /// The key.
        key: String,
    },
    /// A version was registered.
    VersionCreated {
        /// Its number.
        version: ModelVersion,
        /// Its source run, if any.
        run_id: Option<RunId>,
    },
    /// A version was deleted.
    VersionDeleted {
        /// Its number.
        version: ModelVersion,
    },
    /// A version's description changed.
    VersionDescriptionSet {
        /// The version.
        version: ModelVersion,
        /// The new description.
        description: String,
    },
    /// A version tag was set.
    VersionTagSet {
        /// The version.
        version: ModelVersion,
        /// The tag.
        tag: Tag,
    },
    /// A version tag was deleted.
    VersionTagDeleted {
        /// The version.
        version: ModelVersion,
        /// The key.
        key: String,
    },
    /// A version's status changed.
    VersionStatusSet {
        /// The version.
        version: ModelVersion,
        /// The new status.
        status: VersionStatus,
    },
    /// A version moved to a stage.
    StageTransition {
        /// The version.
        version: ModelVersion,
        /// The new stage.
        stage: Stage,
        /// Versions archived by the same transition.
        #[serde(default)]
        archived: Vec<ModelVersion>,
    },
    /// An alias was set or deleted.
    AliasChanged {
        /// The alias.
        alias: AliasName,
        /// What it held.
        from: Option<ModelVersion>,
        /// What it holds (`None`: deleted).
        to: Option<ModelVersion>,
        /// The precondition it was written under.
        expected: Expect,
        /// Why.
        kind: AliasChangeKind,
        /// The gates evaluated.
        #[serde(default)]
        gates: Vec<GateReport>,
        /// A note.
        #[serde(default)]
        note: Option<String>,
    },
    /// An approval was requested, given or refused.
    Approval(ApprovalRecord),
    /// A promotion or rollback decision (passed or refused).
    Decision(Decision),
}

/// One entry of a model's audit log: who did what, when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its position in the model's log.
    pub seq: u64,
    /// When.
    pub time: Timestamp,
    /// Who.
    pub actor: String,
    /// The writer's transaction id.
    pub txn_id: String,
    /// What.
    #[serde(flatten)]
    pub action: AuditAction,
}
