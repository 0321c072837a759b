//! [`ModelRegistry`] for [`ObjectRegistry`]: each method is one function of the area module
//! that holds its protocol (`models`, `versions`, `aliases`, `audit`, `search`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::Bytes;
use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, Tag};

use super::{ObjectRegistry, aliases, audit, models, search, versions};
use crate::error::Result;
use crate::registry::ModelRegistry;
use crate::types::{
    AliasChange, AliasEvent, Approval, ApprovalRecord, AuditEntry, Decision, ModelQuery,
    NewVersion, Page, RegisteredModel, VersionInfo, VersionQuery,
};
use crate::update::{ModelUpdate, VersionUpdate};

#[async_trait]
impl ModelRegistry for ObjectRegistry {
    async fn create_model(
        &self,
        name: &ModelName,
        description: Option<&str>,
        tags: &[Tag],
    ) -> Result<RegisteredModel> {
        models::create(self, name, description, tags).await
    }

    async fn get_model(&self, name: &ModelName) -> Result<RegisteredModel> {
        models::get(self, name).await
    }

    async fn search_models(&self, query: &ModelQuery) -> Result<Page<RegisteredModel>> {
        search::models(self, query).await
    }

    async fn update_model(
        &self,
        name: &ModelName,
        update: &ModelUpdate,
    ) -> Result<RegisteredModel> {
        models::update(self, name, update).await
    }

    async fn rename_model(
        &self,
        name: &ModelName,
        new_name: &ModelName,
    ) -> Result<RegisteredModel> {
        models::rename(self, name, new_name).await
    }

    async fn delete_model(&self, name: &ModelName) -> Result<()> {
        models::delete(self, name).await
    }

    async fn create_version(&self, name: &ModelName, new: NewVersion) -> Result<VersionInfo> {
        versions::create(self, name, new).await
    }

    async fn get_version(&self, name: &ModelName, version: ModelVersion) -> Result<VersionInfo> {
        versions::get(self, name, version).await
    }

    async fn search_versions(&self, query: &VersionQuery) -> Result<Page<VersionInfo>> {
        search::versions(self, query).await
    }

    async fn update_version(
        &self,
        name: &ModelName,
        version: ModelVersion,
        update: &VersionUpdate,
    ) -> Result<VersionInfo> {
        versions::update(self, name, version, update).await
    }

    async fn delete_version(&self, name: &ModelName, version: ModelVersion) -> Result<()> {
        versions::delete(self, name, version).await
    }

    async fn download_artifact(
        &self,
        name: &ModelName,
        version: ModelVersion,
        path: &ArtifactPath,
    ) -> Result<Bytes> {
        versions::download_artifact(self, name, version, path).await
    }

    async fn download_drift_profile(
        &self,
        name: &ModelName,
        version: ModelVersion,
    ) -> Result<Option<Bytes>> {
        versions::download_drift_profile(self, name, version).await
    }

    async fn change_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        to: Option<ModelVersion>,
        change: &AliasChange,
    ) -> Result<AliasEvent> {
        aliases::change(self, name, alias, to, change).await
    }

    async fn resolve_alias(&self, name: &ModelName, alias: &AliasName) -> Result<VersionInfo> {
        aliases::resolve(self, name, alias).await
    }

    async fn list_aliases(&self, name: &ModelName) -> Result<BTreeMap<AliasName, ModelVersion>> {
        aliases::list(self, name).await
    }

    async fn alias_history(&self, name: &ModelName, alias: &AliasName) -> Result<Vec<AliasEvent>> {
        aliases::history(self, name, alias).await
    }

    async fn record_approval(&self, name: &ModelName, record: &ApprovalRecord) -> Result<Approval> {
        audit::record_approval(self, name, record).await
    }

    async fn record_decision(&self, name: &ModelName, decision: &Decision) -> Result<AuditEntry> {
        audit::record_decision(self, name, decision).await
    }

    async fn audit_log(&self, name: &ModelName) -> Result<Vec<AuditEntry>> {
        audit::audit_log(self, name).await
    }
}
