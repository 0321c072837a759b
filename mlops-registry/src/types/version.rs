//! A version and what it records: its files with their digests, the run it came from,
//! its status and (MLflow's) stage.

use std::fmt;
use std::str::FromStr;

use mlops_core::{
    AliasName, ArtifactPath, DatasetRef, ExperimentId, Metric, ModelName, ModelVersion, RunId, Tag,
    Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::error::{RegistryError, Result};
use crate::signature::Signature;

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
