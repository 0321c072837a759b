//! What a registry holds: registered models, versions and what each records, aliases and
//! their history, approvals, and the audit log. Shaped like MLflow's entities where MLflow
//! has them, so they cross its REST API unchanged.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use mlops_core::{
    AliasName, ArtifactPath, DatasetRef, ExperimentId, Metric, ModelName, ModelVersion, RunId, Tag,
    Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::error::{RegistryError, Result};
use crate::signature::Signature;

/// A registered model: a name that versions are registered under.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModel {
    /// Its name (unique, compared case-insensitively).
    pub name: ModelName,
    /// When it was created.
    pub created: Timestamp,
    /// When it last changed.
    pub updated: Timestamp,
    /// Who created it.
    pub creator: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Its aliases and the versions they point to.
    #[serde(default)]
    pub aliases: BTreeMap<AliasName, ModelVersion>,
    /// The newest live version, if any.
    #[serde(default)]
    pub latest_version: Option<ModelVersion>,
}

/// The state of a version's registration, as MLflow names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VersionStatus {
    /// Registration is under way.
    PendingRegistration,
    /// Registration failed.
    FailedRegistration,
    /// Ready to use.
    #[default]
    Ready,
}

impl VersionStatus {
    /// MLflow's spelling: `READY`, `PENDING_REGISTRATION`, `FAILED_REGISTRATION`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingRegistration => "PENDING_REGISTRATION",
            Self::FailedRegistration => "FAILED_REGISTRATION",
            Self::Ready => "READY",
        }
    }
}

impl FromStr for VersionStatus {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "PENDING_REGISTRATION" => Ok(Self::PendingRegistration),
            "FAILED_REGISTRATION" => Ok(Self::FailedRegistration),
            "READY" => Ok(Self::Ready),
            other => Err(RegistryError::InvalidArgument(format!(
                "unknown version status {other:?}; expected READY, PENDING_REGISTRATION or FAILED_REGISTRATION"
            ))),
        }
    }
}

/// MLflow's deprecated stages, kept for compatibility; prefer aliases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Stage {
    /// No stage.
    #[default]
    None,
    /// Staging.
    Staging,
    /// Production.
    Production,
    /// Archived.
    Archived,
}

impl Stage {
    /// MLflow's spelling: `None`, `Staging`, `Production`, `Archived`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Staging => "Staging",
            Self::Production => "Production",
            Self::Archived => "Archived",
        }
    }
}

impl FromStr for Stage {
    type Err = RegistryError;
    /// Case-insensitive, as MLflow accepts it.
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "staging" => Ok(Self::Staging),
            "production" => Ok(Self::Production),
            "archived" => Ok(Self::Archived),
            _ => Err(RegistryError::InvalidArgument(format!(
                "unknown stage {s:?}; expected None, Staging, Production or Archived"
            ))),
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One file of a version, with the SHA-256 of its bytes (checked again on every download).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactEntry {
    /// Its path inside the version.
    pub path: ArtifactPath,
    /// The SHA-256 of its bytes, 64 lowercase hex digits.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The run a version was trained in: its id, experiment, and a snapshot of its metrics (the
/// latest point of each) at registration time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunLink {
    /// The run.
    pub run_id: RunId,
    /// The run's experiment.
    pub experiment_id: ExperimentId,
    /// The run's artifact folder the version was copied from (the root when `None`).
    #[serde(default)]
    pub artifact_path: Option<ArtifactPath>,
    /// The latest point of each of the run's metrics when the version was registered.
    #[serde(default)]
    pub metrics: Vec<Metric>,
}

impl RunLink {
    /// The snapshot value of metric `key`.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| m.key.as_str() == key)
            .map(|m| m.value)
    }
}

/// A blob stored beside a version (the reference drift profile): its digest and size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobInfo {
    /// The SHA-256 of its bytes.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A model version and everything it records. The registration-time fields (artifacts, run,
/// signature, drift profile, datasets, creator, created) never change; description, tags,
/// status, stage and aliases do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The model.
    pub model: ModelName,
    /// The version number: 1, 2, 3, … per model.
    pub version: ModelVersion,
    /// When it was registered.
    pub created: Timestamp,
    /// When it last changed.
    pub updated: Timestamp,
    /// Who registered it.
    pub creator: String,
    /// Where the registry keeps its files: a store-relative key the registry generated (or,
    /// on MLflow, the source MLflow records). Never a client-supplied URI.
    pub source: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Its registration status.
    #[serde(default)]
    pub status: VersionStatus,
    /// Its (deprecated) stage.
    #[serde(default)]
    pub stage: Stage,
    /// The aliases pointing to it.
    #[serde(default)]
    pub aliases: Vec<AliasName>,
    /// Its files, each with its digest.
    #[serde(default)]
    pub artifacts: Vec<ArtifactEntry>,
    /// The run it came from.
    #[serde(default)]
    pub run: Option<RunLink>,
    /// Its input and output schemas.
    #[serde(default)]
    pub signature: Option<Signature>,
    /// The reference drift profile stored with it (bytes via `download_drift_profile`).
    #[serde(default)]
    pub drift_profile: Option<BlobInfo>,
    /// The datasets it was trained or evaluated on.
    #[serde(default)]
    pub datasets: Vec<DatasetRef>,
}

impl VersionInfo {
    /// The value of metric `key` in the source run's snapshot.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.run.as_ref().and_then(|r| r.metric(key))
    }

    /// The value of tag `key`.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key().as_str() == key)
            .map(Tag::value)
    }
}

/// What a new version is made of. Build one with [`NewVersion::from_dir`],
/// [`NewVersion::from_run`](crate::NewVersion::from_run) or [`NewVersion::new`] and the
/// `with_*` methods.
#[derive(Clone, Debug, Default)]
pub struct NewVersion {
    /// Its files. Paths must be unique.
    pub artifacts: Vec<(ArtifactPath, Bytes)>,
    /// The run it came from.
    pub run: Option<RunLink>,
    /// Its input and output schemas.
    pub signature: Option<Signature>,
    /// A reference drift profile (an `mlops-drift` profile, as bytes).
    pub drift_profile: Option<Bytes>,
    /// The datasets it used.
    pub datasets: Vec<DatasetRef>,
    /// A description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}

impl NewVersion {
    /// An empty version (no files yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one file.
    pub fn with_artifact(mut self, path: ArtifactPath, bytes: impl Into<Bytes>) -> Self {
        self.artifacts.push((path, bytes.into()));
        self
    }

    /// Sets the signature.
    pub fn with_signature(mut self, signature: Signature) -> Self {
        self.signature = Some(signature);
        self
    }

    /// Sets the reference drift profile.
    pub fn with_drift_profile(mut self, profile: impl Into<Bytes>) -> Self {
        self.drift_profile = Some(profile.into());
        self
    }

    /// Adds a dataset.
    pub fn with_dataset(mut self, dataset: DatasetRef) -> Self {
        self.datasets.push(dataset);
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds a tag.
    pub fn with_tag(mut self, tag: Tag) -> Self {
        self.tags.push(tag);
        self
    }

    /// Sets the source run.
    pub fn with_run(mut self, run: RunLink) -> Self {
        self.run = Some(run);
        self
    }

    /// Fails when two files share a path.
    pub fn check(&self) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for (path, _) in &self.artifacts {
            if !seen.insert(path) {
                return Err(RegistryError::InvalidArgument(format!(
                    "artifact path {path} appears twice"
                )));
            }
        }
        Ok(())
    }
}

/// An alias change's precondition: what the alias must hold for the change to apply.
///
/// ```
/// use mlops_registry::Expect;
/// assert_eq!("none".parse::<Expect>()?, Expect::Absent);
/// assert_eq!("any".parse::<Expect>()?, Expect::Any);
/// assert_eq!("3".parse::<Expect>()?.to_string(), "3");
/// # Ok::<(), mlops_registry::RegistryError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// No precondition.
    #[default]
    Any,
    /// The alias must be unset.
    Absent,
    /// The alias must point to this version.
    Version(ModelVersion),
}

impl Expect {
    /// Whether an alias holding `current` satisfies this precondition.
    pub fn matches(self, current: Option<ModelVersion>) -> bool {
        match self {
            Self::Any => true,
            Self::Absent => current.is_none(),
            Self::Version(v) => current == Some(v),
        }
    }

    /// The precondition "holds exactly `current`".
    pub fn exactly(current: Option<ModelVersion>) -> Self {
        current.map_or(Self::Absent, Self::Version)
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::Absent => f.write_str("none"),
            Self::Version(v) => write!(f, "{v}"),
        }
    }
}

impl FromStr for Expect {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "any" => Ok(Self::Any),
            "none" => Ok(Self::Absent),
            other => Ok(Self::Version(ModelVersion::parse(other)?)),
        }
    }
}

/// Why an alias moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AliasChangeKind {
    /// A plain set (MLflow's `set_registered_model_alias`).
    #[default]
    Set,
    /// A gated promotion.
    Promote,
    /// A rollback to the previous holder.
    Rollback,
    /// The alias was deleted.
    Delete,
}

/// The outcome of one promotion gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateReport {
    /// The gate's name, e.g. `metric(accuracy)`.
    pub gate: String,
    /// Whether it let the promotion through.
    pub passed: bool,
    /// Why, in words, with the numbers compared.
    pub reason: String,
}

/// How an alias is to be changed: the precondition and what is recorded with the change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasChange {
    /// What the alias must hold for the change to apply.
    pub expected: Expect,
    /// Why it moves.
    pub kind: AliasChangeKind,
    /// The gates evaluated before the change (promotion), recorded with it.
    #[serde(default)]
    pub gates: Vec<GateReport>,
    /// A free-text note.
    #[serde(default)]
    pub note: Option<String>,
}

impl AliasChange {
    /// A plain change with a precondition.
    pub fn expecting(expected: Expect) -> Self {
        Self {
            expected,
            ..Self::default()
        }
    }
}

/// One change of an alias, as the log recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasEvent {
    /// The position of the change in the model's log (MLflow: 0).
    pub seq: u64,
    /// The alias.
    pub alias: AliasName,
    /// What it held before.
    pub from: Option<ModelVersion>,
    /// What it holds after (`None` when deleted).
    pub to: Option<ModelVersion>,
    /// Why it moved.
    pub kind: AliasChangeKind,
    /// Who moved it.
    pub actor: String,
    /// When.
    pub time: Timestamp,
    /// The writer's transaction id.
    pub txn_id: String,
}

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

/// A registered-model search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelQuery {
    /// Only names containing this text (case-insensitive).
    pub name_contains: Option<String>,
    /// The page size (100 by default).
    pub max_results: Option<usize>,
    /// The token from the previous page.
    pub page_token: Option<String>,
}

/// A model-version search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionQuery {
    /// Only versions of this model.
    pub model: Option<ModelName>,
    /// Only versions registered from this run.
    pub run_id: Option<RunId>,
    /// The page size (100 by default).
    pub max_results: Option<usize>,
    /// The token from the previous page.
    pub page_token: Option<String>,
}

pub use mlops_track::Page;
