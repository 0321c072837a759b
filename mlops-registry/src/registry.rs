//! [`ModelRegistry`]: the one small trait every registry backend implements, and
//! [`RegistryExt`], conveniences built on it for every backend.

use std::collections::BTreeMap;
use std::fmt::Debug;

use async_trait::async_trait;
use bytes::Bytes;
use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, Tag, TagKey};

use crate::error::Result;
use crate::model::{
    AliasChange, AliasEvent, Approval, ApprovalRecord, ApprovalState, AuditEntry, Decision,
    ModelQuery, NewVersion, Page, RegisteredModel, Stage, VersionInfo, VersionQuery, VersionStatus,
};

/// A model registry backend: registered models, versions, aliases, stages, approvals and
/// the audit log.
///
/// Every state change is recorded in the model's audit log with the backend's actor (who is
/// acting, set when the backend is opened) except approvals, which name their person.
/// Names, versions, aliases and paths arrive parsed; backends check what the types cannot
/// (existence, uniqueness, preconditions, state).
#[async_trait]
pub trait ModelRegistry: Debug + Send + Sync + 'static {
    // ---- registered models ----

    /// Creates a registered model; `AlreadyExists` when the name (compared
    /// case-insensitively) is taken.
    async fn create_model(
        &self,
        name: &ModelName,
        description: Option<&str>,
        tags: &[Tag],
    ) -> Result<RegisteredModel>;

    /// The registered model with this name.
    async fn get_model(&self, name: &ModelName) -> Result<RegisteredModel>;

    /// Registered models matching a query, by name.
    async fn search_models(&self, query: &ModelQuery) -> Result<Page<RegisteredModel>>;

    /// Renames a model; its versions, aliases and log follow it.
    async fn rename_model(&self, name: &ModelName, new_name: &ModelName)
    -> Result<RegisteredModel>;

    /// Deletes a model with its versions and aliases. Its name becomes free.
    async fn delete_model(&self, name: &ModelName) -> Result<()>;

    /// Sets a model's description.
    async fn set_model_description(&self, name: &ModelName, description: &str) -> Result<()>;

    /// Sets a model tag (last write wins).
    async fn set_model_tag(&self, name: &ModelName, tag: &Tag) -> Result<()>;

    /// Deletes a model tag (no error when absent).
    async fn delete_model_tag(&self, name: &ModelName, key: &TagKey) -> Result<()>;

    // ---- versions ----

    /// Registers a new version: copies its files in with their SHA-256 digests and numbers
    /// it 1, 2, 3, … per model. Concurrent registrations get distinct numbers.
    async fn create_version(&self, name: &ModelName, new: NewVersion) -> Result<VersionInfo>;

    /// One version (deleted versions are `NotFound`).
    async fn get_version(&self, name: &ModelName, version: ModelVersion) -> Result<VersionInfo>;

    /// Versions matching a query, newest first.
    async fn search_versions(&self, query: &VersionQuery) -> Result<Page<VersionInfo>>;

    /// Deletes a version; aliases pointing to it are removed with it.
    async fn delete_version(&self, name: &ModelName, version: ModelVersion) -> Result<()>;

    /// Sets a version's description.
    async fn set_version_description(
        &self,
        name: &ModelName,
        version: ModelVersion,
        description: &str,
    ) -> Result<()>;

    /// Sets a version tag (last write wins).
    async fn set_version_tag(
        &self,
        name: &ModelName,
        version: ModelVersion,
        tag: &Tag,
    ) -> Result<()>;

    /// Deletes a version tag (no error when absent).
    async fn delete_version_tag(
        &self,
        name: &ModelName,
        version: ModelVersion,
        key: &TagKey,
    ) -> Result<()>;

    /// Sets a version's registration status.
    async fn set_version_status(
        &self,
        name: &ModelName,
        version: ModelVersion,
        status: VersionStatus,
    ) -> Result<VersionInfo>;

    /// Moves a version to a stage (MLflow's deprecated stages); with `archive_existing`,
    /// other versions in that stage (Staging or Production) move to Archived.
    async fn transition_stage(
        &self,
        name: &ModelName,
        version: ModelVersion,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<VersionInfo>;

    /// The bytes of one of a version's files, checked against the recorded SHA-256:
    /// `DigestMismatch` when they differ.
    async fn download_artifact(
        &self,
        name: &ModelName,
        version: ModelVersion,
        path: &ArtifactPath,
    ) -> Result<Bytes>;

    /// The version's reference drift profile, checked against its digest, if it has one.
    async fn download_drift_profile(
        &self,
        name: &ModelName,
        version: ModelVersion,
    ) -> Result<Option<Bytes>>;

    // ---- aliases ----

    /// Points `alias` at `version` if the alias holds what `change.expected` says; otherwise
    /// `Conflict` naming the current holder, and nothing changes.
    async fn set_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        version: ModelVersion,
        change: &AliasChange,
    ) -> Result<AliasEvent>;

    /// Deletes `alias` under the same precondition rule as [`ModelRegistry::set_alias`];
    /// `NotFound` when it is not set.
    async fn delete_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        change: &AliasChange,
    ) -> Result<AliasEvent>;

    /// The version an alias points to.
    async fn resolve_alias(&self, name: &ModelName, alias: &AliasName) -> Result<VersionInfo>;

    /// Every alias of a model and its version.
    async fn list_aliases(&self, name: &ModelName) -> Result<BTreeMap<AliasName, ModelVersion>>;

    /// Every change of one alias, oldest first.
    async fn alias_history(&self, name: &ModelName, alias: &AliasName) -> Result<Vec<AliasEvent>>;

    // ---- approvals and audit ----

    /// Records an approval request, approval or rejection of a version for an alias, by a
    /// named person (an empty name is refused).
    async fn record_approval(&self, name: &ModelName, record: &ApprovalRecord) -> Result<Approval>;

    /// Every approval event of a model, oldest first.
    async fn approvals(&self, name: &ModelName) -> Result<Vec<Approval>>;

    /// Records a promotion or rollback decision (passed or refused) in the audit log.
    async fn record_decision(&self, name: &ModelName, decision: &Decision) -> Result<AuditEntry>;

    /// The model's audit log, oldest first: every state change and decision, with who and
    /// when.
    async fn audit_log(&self, name: &ModelName) -> Result<Vec<AuditEntry>>;
}

/// Conveniences on every [`ModelRegistry`] (a blanket impl; backends do not implement it).
#[async_trait]
pub trait RegistryExt: ModelRegistry {
    /// Records an approval request by `by`.
    async fn request_approval(
        &self,
        name: &ModelName,
        version: ModelVersion,
        alias: &AliasName,
        by: &str,
        comment: Option<&str>,
    ) -> Result<Approval> {
        self.record_approval(
            name,
            &approval(version, alias, ApprovalState::Requested, by, comment),
        )
        .await
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
        self.record_approval(
            name,
            &approval(version, alias, ApprovalState::Approved, by, comment),
        )
        .await
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
        self.record_approval(
            name,
            &approval(version, alias, ApprovalState::Rejected, by, comment),
        )
        .await
    }

    /// The version an alias points to, or `None` when it is unset.
    async fn alias_holder(
        &self,
        name: &ModelName,
        alias: &AliasName,
    ) -> Result<Option<ModelVersion>> {
        Ok(self.list_aliases(name).await?.get(alias).copied())
    }

    /// Every file of a version, each checked against its digest.
    async fn download_all(
        &self,
        name: &ModelName,
        version: ModelVersion,
    ) -> Result<Vec<(ArtifactPath, Bytes)>> {
        let info = self.get_version(name, version).await?;
        let mut out = Vec::with_capacity(info.artifacts.len());
        for entry in &info.artifacts {
            let bytes = self.download_artifact(name, version, &entry.path).await?;
            out.push((entry.path.clone(), bytes));
        }
        Ok(out)
    }
}

impl<T: ModelRegistry + ?Sized> RegistryExt for T {}

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
