//! A new version's files: the run that holds them, the upload through the artifact proxy,
//! and a `model-versions/create` that a lost answer never repeats blindly.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use mlops_core::{
    ArtifactPath, ExperimentId, ExperimentName, LifecycleStage, ModelName, RunId, Timestamp,
};
use mlops_mlflow::{Idempotency, RestMethod};
use mlops_track::{NewRun, TrackError};
use mlops_track::{TrackingStore, TrackingStoreExt};

use super::MlflowRegistry;
use super::backend::{CREATE_ROUNDS, UPLOAD_CONCURRENCY};
use super::convert::model_subject;
use super::wire::{self, CreateVersion, VersionResponse, WireVersion};
use crate::checks::sha256_hex;
use crate::error::{RegistryError, Result};
use crate::types::{ArtifactEntry, RunLink};

impl MlflowRegistry {
    /// The id of the experiment that holds upload runs, created on first use.
    pub(super) async fn upload_experiment_id(&self) -> Result<ExperimentId> {
        let id = self
            .inner
            .experiment_id
            .get_or_try_init(|| async {
                let name = ExperimentName::parse(&self.inner.upload_experiment)?;
                if let Some(found) = self.store().get_experiment_by_name(&name).await? {
                    if found.lifecycle_stage == LifecycleStage::Deleted {
                        self.store()
                            .restore_experiment(&found.experiment_id)
                            .await?;
                    }
                    return Ok::<_, RegistryError>(found.experiment_id);
                }
                match self.store().create_experiment(&name, &[]).await {
                    Ok(id) => Ok(id),
                    Err(TrackError::AlreadyExists { .. }) => self
                        .store()
                        .get_experiment_by_name(&name)
                        .await?
                        .map(|e| e.experiment_id)
                        .ok_or_else(|| RegistryError::not_found("experiment", name.as_str())),
                    Err(e) => Err(e.into()),
                }
            })
            .await?;
        Ok(id.clone())
    }

    /// The run that will hold a new version's files, its artifact URI, and whether this
    /// backend created it (then it is finished after the upload).
    pub(super) async fn holder_run(&self, link: Option<&RunLink>) -> Result<(RunId, String, bool)> {
        if let Some(link) = link {
            match self.store().get_run(&link.run_id).await {
                Ok(run) => return Ok((run.info.run_id, run.info.artifact_uri, false)),
                Err(TrackError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let experiment_id = self.upload_experiment_id().await?;
        let run = self
            .store()
            .create_run(NewRun {
                experiment_id,
                run_name: None,
                user_id: self.inner.actor.clone(),
                start_time: Timestamp::now(),
                tags: Vec::new(),
            })
            .await?;
        Ok((run.info.run_id, run.info.artifact_uri, true))
    }

    pub(super) async fn upload(
        &self,
        run: &RunId,
        dir: &ArtifactPath,
        files: Vec<(ArtifactPath, Bytes)>,
    ) -> Result<Vec<ArtifactEntry>> {
        let mut entries: Vec<ArtifactEntry> = futures::stream::iter(files)
            .map(|(path, bytes)| async move {
                let entry = ArtifactEntry {
                    sha256: sha256_hex(&bytes),
                    size: bytes.len() as u64,
                    path: path.clone(),
                };
                self.store()
                    .log_artifact(run, &dir.join(&path)?, bytes)
                    .await?;
                Ok::<_, RegistryError>(entry)
            })
            .buffer_unordered(UPLOAD_CONCURRENCY)
            .try_collect()
            .await?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    /// Sends `model-versions/create` so that a lost answer never registers two versions.
    pub(super) async fn create_version_once(
        &self,
        name: &ModelName,
        body: &CreateVersion<'_>,
        txn: &str,
    ) -> Result<WireVersion> {
        let mut round = 0;
        loop {
            let sent: std::result::Result<VersionResponse, wire::Failed> = wire::call(
                self.rest(),
                RestMethod::Post,
                "model-versions/create",
                body,
                Idempotency::NotIdempotent,
                model_subject(name.as_str()),
            )
            .await;
            match sent {
                Ok(answer) => return Ok(answer.model_version),
                Err(failed) if failed.maybe_applied || round > 0 => {
                    tracing::debug!(%name, txn, error = %failed.error, "version create may have been applied; looking it up");
                    if let Some(found) = self.version_by_txn(name, txn).await? {
                        return Ok(found);
                    }
                    round += 1;
                    if !failed.maybe_applied || round > CREATE_ROUNDS {
                        return Err(failed.error);
                    }
                }
                Err(failed) => return Err(failed.error),
            }
        }
    }
}
