//! [`ModelRegistry`]: the small trait every registry backend implements. Conveniences built
//! on it for every backend live in [`RegistryExt`](crate::RegistryExt).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, Tag};

use crate::error::Result;
use crate::types::{
    AliasChange, AliasEvent, Approval, ApprovalRecord, AuditEntry, Decision, ModelQuery,
    NewVersion, Page, RegisteredModel, VersionInfo, VersionQuery,
};
use crate::update::{ModelUpdate, VersionUpdate};

/// A model registry backend: registered models, versions, aliases, approvals and the audit
/// log. Only what a backend must do itself is here; everything composed from these calls
/// (one-field setters, get-or-create, registering from a run, gated promotion, downloads)
/// is in [`RegistryExt`](crate::RegistryExt), for every backend alike.
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

    /// Changes a model's description and tags (see [`ModelUpdate`]); returns the model after
    /// the change. An empty update writes nothing.
    async fn update_model(&self, name: &ModelName, update: &ModelUpdate)
    -> Result<RegisteredModel>;

    /// Renames a model; its versions, aliases and log follow it.
    async fn rename_model(&self, name: &ModelName, new_name: &ModelName)
    -> Result<RegisteredModel>;

    /// Deletes a model with its versions and aliases. Its name becomes free.
    async fn delete_model(&self, name: &ModelName) -> Result<()>;

    // ---- versions ----

    /// Registers a new version: copies its files in with their SHA-256 digests and numbers
    /// it 1, 2, 3, … per model. Concurrent registrations get distinct numbers.
    async fn create_version(&self, name: &ModelName, new: NewVersion) -> Result<VersionInfo>;

    /// One version (deleted versions are `NotFound`).
    async fn get_version(&self, name: &ModelName, version: ModelVersion) -> Result<VersionInfo>;

    /// Versions matching a query, newest first.
    async fn search_versions(&self, query: &VersionQuery) -> Result<Page<VersionInfo>>;

    /// Changes a version's description, tags, status and stage (see [`VersionUpdate`]);
    /// returns the version after the change. An empty update writes nothing.
    async fn update_version(
        &self,
        name: &ModelName,
        version: ModelVersion,
        update: &VersionUpdate,
    ) -> Result<VersionInfo>;

    /// Deletes a version; aliases pointing to it are removed with it.
    async fn delete_version(&self, name: &ModelName, version: ModelVersion) -> Result<()>;

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

    /// Points `alias` at `to` (`Some(version)`), or deletes it (`None`), if the alias holds
    /// what `change.expected` says; otherwise `Conflict` naming the current holder, and
    /// nothing changes. Deleting an unset alias is `NotFound`.
    async fn change_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        to: Option<ModelVersion>,
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

    /// Records a promotion or rollback decision (passed or refused) in the audit log.
    async fn record_decision(&self, name: &ModelName, decision: &Decision) -> Result<AuditEntry>;

    /// The model's audit log, oldest first: every state change and decision, with who and
    /// when.
    async fn audit_log(&self, name: &ModelName) -> Result<Vec<AuditEntry>>;
}

/// `Arc<R>` and `Box<R>` are registries too (`R` may be `dyn ModelRegistry`), so a shared
/// handle goes wherever a registry is expected. Every method is forwarded: the trait has no
/// provided methods, so a method added to it fails to compile here until it is forwarded.
macro_rules! forward {
    ($pointer:ident) => {
        #[async_trait]
        impl<R: ModelRegistry + ?Sized> ModelRegistry for $pointer<R> {
            async fn create_model(
                &self,
                name: &ModelName,
                description: Option<&str>,
                tags: &[Tag],
            ) -> Result<RegisteredModel> {
                (**self).create_model(name, description, tags).await
            }
            async fn get_model(&self, name: &ModelName) -> Result<RegisteredModel> {
                (**self).get_model(name).await
            }
            async fn search_models(&self, query: &ModelQuery) -> Result<Page<RegisteredModel>> {
                (**self).search_models(query).await
            }
            async fn update_model(
                &self,
                name: &ModelName,
                update: &ModelUpdate,
            ) -> Result<RegisteredModel> {
                (**self).update_model(name, update).await
            }
            async fn rename_model(
                &self,
                name: &ModelName,
                new_name: &ModelName,
            ) -> Result<RegisteredModel> {
                (**self).rename_model(name, new_name).await
            }
            async fn delete_model(&self, name: &ModelName) -> Result<()> {
                (**self).delete_model(name).await
            }
            async fn create_version(
                &self,
                name: &ModelName,
                new: NewVersion,
            ) -> Result<VersionInfo> {
                (**self).create_version(name, new).await
            }
            async fn get_version(
                &self,
                name: &ModelName,
                version: ModelVersion,
            ) -> Result<VersionInfo> {
                (**self).get_version(name, version).await
            }
            async fn search_versions(&self, query: &VersionQuery) -> Result<Page<VersionInfo>> {
                (**self).search_versions(query).await
            }
            async fn update_version(
                &self,
                name: &ModelName,
                version: ModelVersion,
                update: &VersionUpdate,
            ) -> Result<VersionInfo> {
                (**self).update_version(name, version, update).await
            }
            async fn delete_version(&self, name: &ModelName, version: ModelVersion) -> Result<()> {
                (**self).delete_version(name, version).await
            }
            async fn download_artifact(
                &self,
                name: &ModelName,
                version: ModelVersion,
                path: &ArtifactPath,
            ) -> Result<Bytes> {
                (**self).download_artifact(name, version, path).await
            }
            async fn download_drift_profile(
                &self,
                name: &ModelName,
                version: ModelVersion,
            ) -> Result<Option<Bytes>> {
                (**self).download_drift_profile(name, version).await
            }
            async fn change_alias(
                &self,
                name: &ModelName,
                alias: &AliasName,
                to: Option<ModelVersion>,
                change: &AliasChange,
            ) -> Result<AliasEvent> {
                (**self).change_alias(name, alias, to, change).await
            }
            async fn resolve_alias(
                &self,
                name: &ModelName,
                alias: &AliasName,
            ) -> Result<VersionInfo> {
                (**self).resolve_alias(name, alias).await
            }
            async fn list_aliases(
                &self,
                name: &ModelName,
            ) -> Result<BTreeMap<AliasName, ModelVersion>> {
                (**self).list_aliases(name).await
            }
            async fn alias_history(
                &self,
                name: &ModelName,
                alias: &AliasName,
            ) -> Result<Vec<AliasEvent>> {
                (**self).alias_history(name, alias).await
            }
            async fn record_approval(
                &self,
                name: &ModelName,
                record: &ApprovalRecord,
            ) -> Result<Approval> {
                (**self).record_approval(name, record).await
            }
            async fn record_decision(
                &self,
                name: &ModelName,
                decision: &Decision,
            ) -> Result<AuditEntry> {
                (**self).record_decision(name, decision).await
            }
            async fn audit_log(&self, name: &ModelName) -> Result<Vec<AuditEntry>> {
                (**self).audit_log(name).await
            }
        }
    };
}

forward!(Arc);
forward!(Box);
