//! MLflow's entities as this crate's: registered models, versions (with the manifest this
//! backend keeps in tags, or the run link of a version registered by another client).

use mlops_track::TrackingStore;
use std::collections::BTreeMap;

use mlops_core::{AliasName, ModelName, ModelVersion, RunId, Tag, Timestamp};
use mlops_track::TrackError;

use super::MlflowRegistry;
use super::meta;
use super::wire::{KeyValue, Subject, WireModel, WireVersion};
use crate::error::{RegistryError, Result};
use crate::signature::Signature;
use crate::types::{
    ArtifactEntry, BlobInfo, RegisteredModel, RunLink, Stage, VersionInfo, VersionStatus,
};

pub(super) fn model_subject(name: &str) -> Subject<'_> {
    Subject {
        what: "registered model",
        id: name,
    }
}

pub(super) fn version_id(name: &ModelName, version: ModelVersion) -> String {
    format!("{name} version {version}")
}

pub(super) fn version_subject(id: &str) -> Subject<'_> {
    Subject {
        what: "model version",
        id,
    }
}

/// A new transaction id: a UUID v7 in hex, so ids sort by time.
pub(super) fn new_txn() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

pub(super) fn millis(ms: Option<i64>, what: &str) -> Result<Timestamp> {
    Timestamp::from_millis(ms.unwrap_or(0)).map_err(|e| RegistryError::Corrupt {
        path: format!("MLflow {what}"),
        reason: e.to_string(),
    })
}

pub(super) fn corrupt(what: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Corrupt {
        path: format!("MLflow {what}"),
        reason: format!("a value this client cannot represent: {e}"),
    }
}

pub(super) fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.is_empty())
}

/// Refuses user tags under the reserved prefix.
pub(super) fn check_user_key(key: &str) -> Result<()> {
    if meta::is_reserved(key) {
        return Err(RegistryError::InvalidArgument(format!(
            "tag key {key:?} is under {:?}, which the MLflow backend reserves for its own records",
            meta::RESERVED_PREFIX
        )));
    }
    Ok(())
}

/// User-visible tags: everything but the reserved ones.
pub(super) fn user_tags(tags: &[KeyValue], what: &str) -> Result<Vec<Tag>> {
    tags.iter()
        .filter(|t| !meta::is_reserved(&t.key))
        .map(|t| Tag::parse(&t.key, t.value.clone()).map_err(|e| corrupt(what, e)))
        .collect()
}

/// Whether `text` can occur in a model name at all (letters, digits, `_ - .` and spaces);
/// other text matches nothing and must not reach a filter string.
pub(super) fn fits_model_name(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '))
}

pub(super) fn to_model(w: WireModel) -> Result<RegisteredModel> {
    let what = format!("registered model {:?}", w.name);
    let name = ModelName::parse(&w.name).map_err(|e| corrupt(&what, e))?;
    let aliases = w
        .aliases
        .iter()
        .map(|a| {
            Ok((
                AliasName::parse(&a.alias).map_err(|e| corrupt(&what, e))?,
                ModelVersion::parse(&a.version).map_err(|e| corrupt(&what, e))?,
            ))
        })
        .collect::<Result<BTreeMap<_, _>>>()?;
    let latest_version = w
        .latest_versions
        .iter()
        .filter_map(|v| ModelVersion::parse(&v.version).ok())
        .max();
    let creator = w
        .tags
        .iter()
        .find(|t| t.key == meta::CREATOR)
        .map(|t| t.value.clone())
        .or(w.user_id.clone())
        .unwrap_or_default();
    Ok(RegisteredModel {
        name,
        created: millis(w.creation_timestamp, &what)?,
        updated: millis(w.last_updated_timestamp, &what)?,
        creator,
        description: non_empty(w.description),
        tags: user_tags(&w.tags, &what)?,
        aliases,
        latest_version,
        damaged: None,
    })
}

impl MlflowRegistry {
    /// A version as this crate shows it. `aliases` replaces the version's own list (which
    /// `model-versions/search` leaves out).
    pub(super) async fn to_version(
        &self,
        w: WireVersion,
        aliases: Option<Vec<AliasName>>,
    ) -> Result<VersionInfo> {
        let what = format!("model version {} of {:?}", w.version, w.name);
        let model = ModelName::parse(&w.name).map_err(|e| corrupt(&what, e))?;
        let version = ModelVersion::parse(&w.version).map_err(|e| corrupt(&what, e))?;
        let manifest = meta::read_manifest(&w.tags, &what)?;
        let status_tag = w.tags.iter().find(|t| t.key == meta::STATUS);
        let status = match status_tag {
            Some(t) => t.value.parse::<VersionStatus>()?,
            None => match w.status.as_deref() {
                None | Some("") => VersionStatus::Ready,
                Some(s) => s.parse::<VersionStatus>()?,
            },
        };
        let stage = match w.current_stage.as_deref() {
            None | Some("") => Stage::None,
            Some(s) => s.parse::<Stage>()?,
        };
        let aliases = match aliases {
            Some(list) => list,
            None => w
                .aliases
                .iter()
                .map(|a| AliasName::parse(a).map_err(|e| corrupt(&what, e)))
                .collect::<Result<Vec<_>>>()?,
        };
        let tags = user_tags(&w.tags, &what)?;
        let created = millis(w.creation_timestamp, &what)?;
        let updated = millis(w.last_updated_timestamp, &what)?;
        let source = w.source.unwrap_or_default();
        let description = non_empty(w.description);
        let info = match manifest {
            Some(m) => VersionInfo {
                model,
                version,
                created,
                updated,
                creator: m.creator,
                source,
                description,
                tags,
                status,
                stage,
                aliases,
                artifacts: m.artifacts.iter().map(ArtifactEntry::from).collect(),
                run: m.run.as_ref().map(RunLink::from),
                signature: m.signature.as_ref().map(Signature::from),
                drift_profile: m
                    .drift_profile
                    .as_ref()
                    .map(|(blob, _)| BlobInfo::from(blob)),
                datasets: m.datasets,
            },
            None => {
                // A version registered by another client: its run link comes from the run.
                let run = match non_empty(w.run_id) {
                    None => None,
                    Some(id) => self.foreign_run_link(&id).await?,
                };
                VersionInfo {
                    model,
                    version,
                    created,
                    updated,
                    creator: w.user_id.unwrap_or_default(),
                    source,
                    description,
                    tags,
                    status,
                    stage,
                    aliases,
                    artifacts: Vec::new(),
                    run,
                    signature: None,
                    drift_profile: None,
                    datasets: Vec::new(),
                }
            }
        };
        Ok(info)
    }

    /// The link to a run named by a version another client registered, with the run's
    /// current metrics; `None` when the run is gone or its id is not a run id.
    pub(super) async fn foreign_run_link(&self, id: &str) -> Result<Option<RunLink>> {
        let Ok(run_id) = RunId::parse(id) else {
            return Ok(None);
        };
        match self.store().get_run(&run_id).await {
            Ok(run) => Ok(Some(RunLink {
                run_id,
                experiment_id: run.info.experiment_id,
                artifact_path: None,
                metrics: run.data.metrics,
            })),
            Err(TrackError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn version_info(
        &self,
        name: &ModelName,
        version: ModelVersion,
    ) -> Result<VersionInfo> {
        let w = self.wire_version(name, version).await?;
        self.to_version(w, None).await
    }
}
