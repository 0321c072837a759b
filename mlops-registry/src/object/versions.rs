//! Versions: registration (files uploaded by digest first, then one `register_version`
//! entry numbered against the folded state), reads, updates, deletion and downloads.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use mlops_core::{ArtifactPath, ModelName, ModelVersion, Timestamp};

use super::ObjectRegistry;
use super::state::{ModelOp, ModelState};
use crate::checks::check_description;
use crate::error::{RegistryError, Result};
use crate::records::version::{
    ArtifactV1, BlobV1, RunLinkV1, SignatureV1, StageV1, StatusV1, VersionV1,
};
use crate::types::{ArtifactEntry, NewVersion, Stage, VersionInfo};
use crate::update::{StageChange, VersionUpdate};

/// How many files of one version are uploaded at once.
const UPLOAD_CONCURRENCY: usize = 8;

pub(super) async fn create(
    registry: &ObjectRegistry,
    name: &ModelName,
    new: NewVersion,
) -> Result<VersionInfo> {
    new.check()?;
    if let Some(d) = &new.description {
        check_description(d)?;
    }
    // The exact log the blobs go with: no second lookup that could find another model.
    let (model, log) = registry.lookup(name, true).await?;
    let id = model.id.clone();
    let mut artifacts: Vec<ArtifactEntry> = futures::stream::iter(new.artifacts)
        .map(|(path, bytes)| {
            let id = id.clone();
            async move {
                let blob = registry.put_blob(&id, bytes).await?;
                Ok::<_, RegistryError>(ArtifactEntry {
                    path,
                    sha256: blob.sha256,
                    size: blob.size,
                })
            }
        })
        .buffer_unordered(UPLOAD_CONCURRENCY)
        .try_collect()
        .await?;
    artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    let drift_profile = match new.drift_profile {
        Some(bytes) => Some(registry.put_blob(&id, bytes).await?),
        None => None,
    };
    let now = Timestamp::now();
    let mut template = VersionV1 {
        model: name.clone(),
        version: ModelVersion::FIRST,
        created: now,
        updated: now,
        creator: registry.actor.to_string(),
        source: String::new(),
        description: new.description,
        tags: new.tags,
        status: StatusV1::Ready,
        stage: StageV1::None,
        aliases: Vec::new(),
        artifacts: artifacts.into_iter().map(ArtifactV1::from).collect(),
        run: new.run.map(RunLinkV1::from),
        signature: new.signature.map(SignatureV1::from),
        drift_profile: drift_profile.map(BlobV1::from),
        datasets: new.datasets,
    };
    let base = registry.model_dir(&id);
    let (entry, _) = log
        .append(&registry.actor, |state| {
            if !ObjectRegistry::is_live(name, state, false) {
                return Err(RegistryError::not_found("registered model", name.as_str()));
            }
            let version = ModelVersion::new(state.next_version())?;
            template.version = version;
            template.source = format!("{base}/versions/{version}");
            Ok(ModelOp::RegisterVersion {
                info: Box::new(template.clone()),
            })
        })
        .await?;
    match entry.op {
        ModelOp::RegisterVersion { info } => Ok(info.to_info(Vec::new())),
        _ => Err(RegistryError::InvalidState(
            "a registration wrote another entry".into(),
        )),
    }
}

pub(super) async fn get(
    registry: &ObjectRegistry,
    name: &ModelName,
    version: ModelVersion,
) -> Result<VersionInfo> {
    registry
        .read_model(name, |_, state| {
            ObjectRegistry::live_version(name, state, version)
        })
        .await?
}

/// One log entry per change, in [`VersionUpdate`]'s order, each checked before any is
/// written and each decided against a live version.
pub(super) async fn update(
    registry: &ObjectRegistry,
    name: &ModelName,
    version: ModelVersion,
    update: &VersionUpdate,
) -> Result<VersionInfo> {
    if let Some(d) = &update.description {
        check_description(d)?;
    }
    let description = update
        .description
        .iter()
        .map(|d| ModelOp::SetVersionDescription {
            version,
            description: d.clone(),
        });
    let set = update.set_tags.iter().map(|tag| ModelOp::SetVersionTag {
        version,
        tag: tag.clone(),
    });
    let delete = update
        .delete_tags
        .iter()
        .map(|key| ModelOp::DeleteVersionTag {
            version,
            key: key.clone(),
        });
    let status = update.status.map(|status| ModelOp::SetVersionStatus {
        version,
        status: status.into(),
    });
    let mut after = None;
    for op in description.chain(set).chain(delete).chain(status) {
        after = Some(registry.append_to_version(name, version, op).await?);
    }
    if let Some(change) = update.stage {
        after = Some(transition(registry, name, version, change).await?);
    }
    match after {
        Some(state) => ObjectRegistry::live_version(name, &state, version),
        None => get(registry, name, version).await,
    }
}

/// A stage move; the versions it archives are decided against the same state as the move.
async fn transition(
    registry: &ObjectRegistry,
    name: &ModelName,
    version: ModelVersion,
    change: StageChange,
) -> Result<ModelState> {
    let StageChange {
        stage,
        archive_existing,
    } = change;
    let stage_v1 = StageV1::from(stage);
    let (_, state) = registry
        .append(name, |state| {
            ObjectRegistry::live_version(name, state, version)?;
            let archived = if archive_existing
                && matches!(stage, Stage::Staging | Stage::Production)
            {
                state
                    .versions
                    .values()
                    .filter(|v| !v.deleted && v.info.version != version && v.info.stage == stage_v1)
                    .map(|v| v.info.version)
                    .collect()
            } else {
                Vec::new()
            };
            Ok(ModelOp::TransitionStage {
                version,
                stage: stage_v1,
                archived,
            })
        })
        .await?;
    Ok(state)
}

pub(super) async fn delete(
    registry: &ObjectRegistry,
    name: &ModelName,
    version: ModelVersion,
) -> Result<()> {
    registry
        .append_to_version(name, version, ModelOp::DeleteVersion { version })
        .await
        .map(drop)
}

/// The model's id and a live version, for downloads.
async fn located(
    registry: &ObjectRegistry,
    name: &ModelName,
    version: ModelVersion,
) -> Result<(String, VersionInfo)> {
    registry
        .read_model(name, |model, state| {
            Ok::<_, RegistryError>((
                model.id.clone(),
                ObjectRegistry::live_version(name, state, version)?,
            ))
        })
        .await?
}

pub(super) async fn download_artifact(
    registry: &ObjectRegistry,
    name: &ModelName,
    version: ModelVersion,
    path: &ArtifactPath,
) -> Result<Bytes> {
    let (id, info) = located(registry, name, version).await?;
    let entry = info
        .artifacts
        .iter()
        .find(|a| &a.path == path)
        .ok_or_else(|| {
            RegistryError::not_found("artifact", format!("{path} of {name} v{version}"))
        })?;
    registry
        .get_blob(&id, &info, path.as_str(), &entry.sha256, entry.size)
        .await
}

pub(super) async fn download_drift_profile(
    registry: &ObjectRegistry,
    name: &ModelName,
    version: ModelVersion,
) -> Result<Option<Bytes>> {
    let (id, info) = located(registry, name, version).await?;
    match &info.drift_profile {
        None => Ok(None),
        Some(blob) => registry
            .get_blob(&id, &info, "drift profile", &blob.sha256, blob.size)
            .await
            .map(Some),
    }
}
