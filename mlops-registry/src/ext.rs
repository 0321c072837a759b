//! [`RegistryExt`]: conveniences on every [`ModelRegistry`], composed from its calls (a
//! blanket impl: backends never implement them, and every backend gets them alike).

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, RunId, Tag, TagKey};
use mlops_track::TrackingStore;

use crate::error::{RegistryError, Result};
use crate::gates::Gate;
use crate::promote::{Promotion, promote, rollback};
use crate::registry::ModelRegistry;
use crate::types::{
    AliasChange, AliasChangeKind, AliasEvent, Approval, ApprovalRecord, ApprovalState, AuditAction,
    Expect, NewVersion, RegisteredModel, RunLink, Stage, VersionInfo, VersionStatus,
};
use crate::update::{ModelUpdate, VersionUpdate};

/// How many files of one version [`RegistryExt::download_all`] fetches at once.
const DOWNLOAD_CONCURRENCY: usize = 4;

/// Conveniences on every [`ModelRegistry`]: one-field setters, get-or-create, registering
/// from a tracked run, gated promotion and rollback, approvals, and whole-version downloads.
///
/// ```
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use mlops_core::Tag;
/// use mlops_registry::{ModelName, ModelRegistry, ModelUpdate, RegistryExt};
///
/// let registry = mlops_registry::open("memory://")?;
/// let name = ModelName::parse("churn")?;
/// // Get or create: safe when several processes start at once.
/// registry.ensure_model(&name, Some("churn risk"), &[]).await?;
/// // A one-field setter is an update of one field, as every backend records it.
/// registry.set_model_tag(&name, &Tag::parse("team", "risk")?).await?;
/// let model = registry.update_model(&name, &ModelUpdate::new().description("churn, weekly")).await?;
/// assert_eq!(model.description.as_deref(), Some("churn, weekly"));
/// assert_eq!(model.tags.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[async_trait]
pub trait RegistryExt: ModelRegistry {
    /// This registry as a trait object (what gates and [`promote`] take).
    fn as_registry(&self) -> &dyn ModelRegistry;

    // ---- models ----

    /// The model named `name`, created with `description` and `tags` when it does not exist
    /// yet (they are ignored when it does). Safe against a concurrent creator: whoever loses
    /// the race reads the winner's model.
    async fn ensure_model(
        &self,
        name: &ModelName,
        description: Option<&str>,
        tags: &[Tag],
    ) -> Result<RegisteredModel> {
        match self.get_model(name).await {
            Ok(model) => return Ok(model),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        match self.create_model(name, description, tags).await {
            Err(taken @ RegistryError::AlreadyExists { .. }) => match self.get_model(name).await {
                Ok(model) => Ok(model),
                // Taken by a name differing only in case: the create's answer says which.
                Err(e) if e.is_not_found() => Err(taken),
                Err(e) => Err(e),
            },
            other => other,
        }
    }

    /// Sets a model's description.
    async fn set_model_description(&self, name: &ModelName, description: &str) -> Result<()> {
        let update = ModelUpdate::new().description(description);
        self.update_model(name, &update).await.map(drop)
    }

    /// Sets a model tag (last write wins).
    async fn set_model_tag(&self, name: &ModelName, tag: &Tag) -> Result<()> {
        let update = ModelUpdate::new().set_tag(tag.clone());
        self.update_model(name, &update).await.map(drop)
    }

    /// Deletes a model tag (no error when absent).
    async fn delete_model_tag(&self, name: &ModelName, key: &TagKey) -> Result<()> {
        let update = ModelUpdate::new().delete_tag(key.clone());
        self.update_model(name, &update).await.map(drop)
    }

    // ---- versions ----

    /// Registers `new` as a version of `name` (created when missing) trained in run `run_id`
    /// of `tracking`. The link to the run is read from the tracking store, never built by
    /// hand: the run's experiment and the latest point of each of its metrics, which
    /// metric gates compare. `new` carries the files (from memory,
    /// [`NewVersion::from_dir`], or [`NewVersion::from_run`] to copy the run's own
    /// artifacts) and anything else; a folder of the run it names is kept in the link.
    async fn register_from_run(
        &self,
        name: &ModelName,
        tracking: &dyn TrackingStore,
        run_id: &RunId,
        mut new: NewVersion,
    ) -> Result<VersionInfo> {
        let folder = new
            .run
            .take()
            .filter(|link| &link.run_id == run_id)
            .and_then(|link| link.artifact_path);
        new.run = Some(RunLink::read(tracking, run_id, folder).await?);
        self.ensure_model(name, None, &[]).await?;
        self.create_version(name, new).await
    }

    /// Sets a version's description.
    async fn set_version_description(
        &self,
        name: &ModelName,
        version: ModelVersion,
        description: &str,
    ) -> Result<()> {
        let update = VersionUpdate::new().description(description);
        self.update_version(name, version, &update).await.map(drop)
    }

    /// Sets a version tag (last write wins).
    async fn set_version_tag(
        &self,
        name: &ModelName,
        version: ModelVersion,
        tag: &Tag,
    ) -> Result<()> {
        let update = VersionUpdate::new().set_tag(tag.clone());
        self.update_version(name, version, &update).await.map(drop)
    }

    /// Deletes a version tag (no error when absent).
    async fn delete_version_tag(
        &self,
        name: &ModelName,
        version: ModelVersion,
        key: &TagKey,
    ) -> Result<()> {
        let update = VersionUpdate::new().delete_tag(key.clone());
        self.update_version(name, version, &update).await.map(drop)
    }

    /// Sets a version's registration status.
    async fn set_version_status(
        &self,
        name: &ModelName,
        version: ModelVersion,
        status: VersionStatus,
    ) -> Result<VersionInfo> {
        let update = VersionUpdate::new().status(status);
        self.update_version(name, version, &update).await
    }

    /// Moves a version to a stage (MLflow's deprecated stages); with `archive_existing`,
    /// other versions in that stage (Staging or Production) move to Archived.
    async fn transition_stage(
        &self,
        name: &ModelName,
        version: ModelVersion,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<VersionInfo> {
        let update = VersionUpdate::new().stage(stage, archive_existing);
        self.update_version(name, version, &update).await
    }

    /// Every file of a version, each checked against its digest (a changed file is
    /// [`RegistryError::DigestMismatch`], never returned), in the version's path order.
    async fn download_all(
        &self,
        name: &ModelName,
        version: ModelVersion,
    ) -> Result<Vec<(ArtifactPath, Bytes)>> {
        let info = self.get_version(name, version).await?;
        futures::stream::iter(info.artifacts)
            .map(|entry| async move {
                let bytes = self.download_artifact(name, version, &entry.path).await?;
                Ok::<_, RegistryError>((entry.path, bytes))
            })
            .buffered(DOWNLOAD_CONCURRENCY)
            .try_collect()
            .await
    }

    // ---- aliases ----

    /// Points `alias` at `version` under `change`'s precondition (see
    /// [`ModelRegistry::change_alias`]).
    async fn set_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        version: ModelVersion,
        change: &AliasChange,
    ) -> Result<AliasEvent> {
        self.change_alias(name, alias, Some(version), change).await
    }

    /// Deletes `alias` under `change`'s precondition; `NotFound` when it is not set.
    async fn delete_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        change: &AliasChange,
    ) -> Result<AliasEvent> {
        let change = AliasChange {
            kind: AliasChangeKind::Delete,
            ..change.clone()
        };
        self.change_alias(name, alias, None, &change).await
    }

    /// The version an alias points to, or `None` when it is unset.
    async fn alias_holder(
        &self,
        name: &ModelName,
        alias: &AliasName,
    ) -> Result<Option<ModelVersion>> {
        Ok(self.list_aliases(name).await?.get(alias).copied())
    }

    /// [`promote`]: moves `alias` to `version` if it holds `expected` and every gate passes;
    /// the decision is in the audit log either way.
    async fn promote(
        &self,
        name: &ModelName,
        version: ModelVersion,
        alias: &AliasName,
        expected: Expect,
        gates: &[Box<dyn Gate>],
    ) -> Result<Promotion> {
        promote(self.as_registry(), name, version, alias, expected, gates).await
    }

    /// [`rollback`]: moves `alias` back to its holder before the latest promotion.
    async fn rollback(&self, name: &ModelName, alias: &AliasName) -> Result<Promotion> {
        rollback(self.as_registry(), name, alias).await
    }

    // ---- approvals ----

    /// Every approval event of a model, oldest first (the approvals of its audit log).
    async fn approvals(&self, name: &ModelName) -> Result<Vec<Approval>> {
        Ok(self
            .audit_log(name)
            .await?
            .into_iter()
            .filter_map(|entry| match entry.action {
                AuditAction::Approval(record) => Some(Approval {
                    seq: entry.seq,
                    time: entry.time,
                    record,
                }),
                _ => None,
            })
            .collect())
    }

    /// Records an approval request by `by`.
    async fn request_approval(
        &self,
        name: &ModelName,
        version: ModelVersion,
        alias: &AliasName,
        by: &str,
        comment: Option<&str>,
    ) -> Result<Approval> {
        let record = approval(version, alias, ApprovalState::Requested, by, comment);
        self.record_approval(name, &record).await
    }

    /// Records an approval by `by`.
    async fn approve(
        &self,
        name: &ModelName,
        version: ModelVersion,
        alias: &AliasName,
        by: &str,
        comment: Option<&str>,
    ) -> Result<Approval> {
        let record = approval(version, alias, ApprovalState::Approved, by, comment);
        self.record_approval(name, &record).await
    }

    /// Records a rejection by `by`.
    async fn reject(
        &self,
        name: &ModelName,
        version: ModelVersion,
        alias: &AliasName,
        by: &str,
        comment: Option<&str>,
    ) -> Result<Approval> {
        let record = approval(version, alias, ApprovalState::Rejected, by, comment);
        self.record_approval(name, &record).await
    }
}

impl<R: ModelRegistry> RegistryExt for R {
    fn as_registry(&self) -> &dyn ModelRegistry {
        self
    }
}

impl RegistryExt for dyn ModelRegistry {
    fn as_registry(&self) -> &dyn ModelRegistry {
        self
    }
}

fn approval(
    version: ModelVersion,
    alias: &AliasName,
    state: ApprovalState,
    by: &str,
    comment: Option<&str>,
) -> ApprovalRecord {
    ApprovalRecord {
        version,
        alias: alias.clone(),
        state,
        by: by.to_owned(),
        comment: comment.map(str::to_owned),
    }
}
