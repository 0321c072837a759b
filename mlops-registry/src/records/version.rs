//! Format 1 records of a version: the `register_version` entry of the object backend's log
//! (and its snapshots), and the parts of the MLflow backend's manifest.

use arrow_schema::Schema;
use mlops_core::{
    AliasName, ArtifactPath, DatasetRef, ExperimentId, Metric, ModelName, ModelVersion, RunId, Tag,
    Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::signature::Signature;
use crate::types::{ArtifactEntry, BlobInfo, RunLink, Stage, VersionInfo, VersionStatus};

/// A registered version as its log entry records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct VersionV1 {
    pub(crate) model: ModelName,
    pub(crate) version: ModelVersion,
    pub(crate) created: Timestamp,
    pub(crate) updated: Timestamp,
    pub(crate) creator: String,
    pub(crate) source: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) tags: Vec<Tag>,
    #[serde(default)]
    pub(crate) status: StatusV1,
    #[serde(default)]
    pub(crate) stage: StageV1,
    /// Always empty (aliases are folded from the log); written so that entries stay what
    /// format 1 wrote.
    #[serde(default)]
    pub(crate) aliases: Vec<AliasName>,
    #[serde(default)]
    pub(crate) artifacts: Vec<ArtifactV1>,
    #[serde(default)]
    pub(crate) run: Option<RunLinkV1>,
    #[serde(default)]
    pub(crate) signature: Option<SignatureV1>,
    #[serde(default)]
    pub(crate) drift_profile: Option<BlobV1>,
    #[serde(default)]
    pub(crate) datasets: Vec<DatasetRef>,
}

impl VersionV1 {
    /// The public view, with the aliases that point to it.
    pub(crate) fn to_info(&self, aliases: Vec<AliasName>) -> VersionInfo {
        VersionInfo {
            model: self.model.clone(),
            version: self.version,
            created: self.created,
            updated: self.updated,
            creator: self.creator.clone(),
            source: self.source.clone(),
            description: self.description.clone(),
            tags: self.tags.clone(),
            status: self.status.into(),
            stage: self.stage.into(),
            aliases,
            artifacts: self.artifacts.iter().map(ArtifactEntry::from).collect(),
            run: self.run.as_ref().map(RunLink::from),
            signature: self.signature.as_ref().map(Signature::from),
            drift_profile: self.drift_profile.as_ref().map(BlobInfo::from),
            datasets: self.datasets.clone(),
        }
    }
}

/// A version's registration status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum StatusV1 {
    PendingRegistration,
    FailedRegistration,
    #[default]
    Ready,
}

impl From<StatusV1> for VersionStatus {
    fn from(s: StatusV1) -> Self {
        match s {
            StatusV1::PendingRegistration => Self::PendingRegistration,
            StatusV1::FailedRegistration => Self::FailedRegistration,
            StatusV1::Ready => Self::Ready,
        }
    }
}

impl From<VersionStatus> for StatusV1 {
    fn from(s: VersionStatus) -> Self {
        match s {
            VersionStatus::PendingRegistration => Self::PendingRegistration,
            VersionStatus::FailedRegistration => Self::FailedRegistration,
            VersionStatus::Ready => Self::Ready,
        }
    }
}

/// MLflow's stage of a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) enum StageV1 {
    #[default]
    None,
    Staging,
    Production,
    Archived,
}

impl From<StageV1> for Stage {
    fn from(s: StageV1) -> Self {
        match s {
            StageV1::None => Self::None,
            StageV1::Staging => Self::Staging,
            StageV1::Production => Self::Production,
            StageV1::Archived => Self::Archived,
        }
    }
}

impl From<Stage> for StageV1 {
    fn from(s: Stage) -> Self {
        match s {
            Stage::None => Self::None,
            Stage::Staging => Self::Staging,
            Stage::Production => Self::Production,
            Stage::Archived => Self::Archived,
        }
    }
}

/// One file of a version and its digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ArtifactV1 {
    pub(crate) path: ArtifactPath,
    pub(crate) sha256: String,
    pub(crate) size: u64,
}

impl From<&ArtifactV1> for ArtifactEntry {
    fn from(a: &ArtifactV1) -> Self {
        Self {
            path: a.path.clone(),
            sha256: a.sha256.clone(),
            size: a.size,
        }
    }
}

impl From<ArtifactEntry> for ArtifactV1 {
    fn from(a: ArtifactEntry) -> Self {
        Self {
            path: a.path,
            sha256: a.sha256,
            size: a.size,
        }
    }
}

/// The run a version came from, with its metrics snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RunLinkV1 {
    pub(crate) run_id: RunId,
    pub(crate) experiment_id: ExperimentId,
    #[serde(default)]
    pub(crate) artifact_path: Option<ArtifactPath>,
    #[serde(default)]
    pub(crate) metrics: Vec<Metric>,
}

impl From<&RunLinkV1> for RunLink {
    fn from(r: &RunLinkV1) -> Self {
        Self {
            run_id: r.run_id.clone(),
            experiment_id: r.experiment_id.clone(),
            artifact_path: r.artifact_path.clone(),
            metrics: r.metrics.clone(),
        }
    }
}

impl From<RunLink> for RunLinkV1 {
    fn from(r: RunLink) -> Self {
        Self {
            run_id: r.run_id,
            experiment_id: r.experiment_id,
            artifact_path: r.artifact_path,
            metrics: r.metrics,
        }
    }
}

/// A blob's digest and size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BlobV1 {
    pub(crate) sha256: String,
    pub(crate) size: u64,
}

impl From<&BlobV1> for BlobInfo {
    fn from(b: &BlobV1) -> Self {
        Self {
            sha256: b.sha256.clone(),
            size: b.size,
        }
    }
}

impl From<BlobInfo> for BlobV1 {
    fn from(b: BlobInfo) -> Self {
        Self {
            sha256: b.sha256,
            size: b.size,
        }
    }
}

/// Input and output schemas, in arrow-schema's serde form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SignatureV1 {
    pub(crate) inputs: Schema,
    #[serde(default)]
    pub(crate) outputs: Option<Schema>,
}

impl From<&SignatureV1> for Signature {
    fn from(s: &SignatureV1) -> Self {
        Signature::new(s.inputs.clone(), s.outputs.clone())
    }
}

impl From<Signature> for SignatureV1 {
    fn from(s: Signature) -> Self {
        Self {
            inputs: s.inputs,
            outputs: s.outputs,
        }
    }
}
