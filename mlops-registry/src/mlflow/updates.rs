//! Updates as MLflow calls: `update_model` and `update_version` are one call and one audit
//! entry per changed field (MLflow has no multi-field update), every field checked before
//! the first call; `change_alias` is MLflow's alias POST or DELETE after a read of the
//! holder (see the module documentation for why that is weaker than the object backend).

use mlops_core::{AliasName, ModelName, ModelVersion, Tag, TagKey};
use mlops_mlflow::{Idempotency, RestMethod};

use super::MlflowRegistry;
use super::convert::{check_user_key, model_subject, version_id, version_subject};
use super::meta;
use super::wire::{
    self, AliasRef, Empty, KeyValue, ModelRef, ModelResponse, ModelTag, Subject, TransitionStage,
    VersionRef, VersionResponse, VersionTag,
};
use crate::checks::check_description;
use crate::error::{RegistryError, Result};
use crate::registry::ModelRegistry;
use crate::types::{
    AliasChange, AliasChangeKind, AliasEvent, AuditAction, RegisteredModel, Stage, VersionInfo,
    VersionStatus,
};
use crate::update::{ModelUpdate, VersionUpdate};

impl MlflowRegistry {
    /// [`ModelRegistry::update_model`].
    pub(super) async fn update_model_fields(
        &self,
        name: &ModelName,
        update: &ModelUpdate,
    ) -> Result<RegisteredModel> {
        if let Some(d) = &update.description {
            check_description(d)?;
        }
        for key in update
            .set_tags
            .iter()
            .map(Tag::key)
            .chain(&update.delete_tags)
        {
            check_user_key(key.as_str())?;
        }
        if let Some(d) = &update.description {
            self.write_model_description(name, d).await?;
        }
        for tag in &update.set_tags {
            self.write_model_tag(name, tag).await?;
        }
        for key in &update.delete_tags {
            self.erase_model_tag(name, key).await?;
        }
        self.get_model(name).await
    }

    /// [`ModelRegistry::update_version`].
    pub(super) async fn update_version_fields(
        &self,
        name: &ModelName,
        version: ModelVersion,
        update: &VersionUpdate,
    ) -> Result<VersionInfo> {
        if let Some(d) = &update.description {
            check_description(d)?;
        }
        for key in update
            .set_tags
            .iter()
            .map(Tag::key)
            .chain(&update.delete_tags)
        {
            check_user_key(key.as_str())?;
        }
        if let Some(d) = &update.description {
            self.write_version_description(name, version, d).await?;
        }
        for tag in &update.set_tags {
            self.write_version_tag(name, version, tag).await?;
        }
        for key in &update.delete_tags {
            self.erase_version_tag(name, version, key).await?;
        }
        if let Some(status) = update.status {
            self.write_version_status(name, version, status).await?;
        }
        if let Some(change) = update.stage {
            self.write_stage(name, version, change.stage, change.archive_existing)
                .await?;
        }
        self.version_info(name, version).await
    }

    /// [`ModelRegistry::change_alias`].
    pub(super) async fn change_alias_to(
        &self,
        name: &ModelName,
        alias: &AliasName,
        to: Option<ModelVersion>,
        change: &AliasChange,
    ) -> Result<AliasEvent> {
        match to {
            Some(version) => {
                if change.kind == AliasChangeKind::Delete {
                    return Err(RegistryError::InvalidArgument(
                        "a delete cannot set a version".into(),
                    ));
                }
                self.write_alias(name, alias, version, change).await
            }
            None => self.erase_alias(name, alias, change).await,
        }
    }

    async fn write_model_description(&self, name: &ModelName, description: &str) -> Result<()> {
        check_description(description)?;
        let _: ModelResponse = wire::call(
            self.rest(),
            RestMethod::Patch,
            "registered-models/update",
            &ModelRef {
                name: name.as_str(),
                description: Some(description),
            },
            Idempotency::Idempotent,
            model_subject(name.as_str()),
        )
        .await?;
        self.append_audit(
            name,
            AuditAction::ModelDescriptionSet {
                description: description.to_owned(),
            },
        )
        .await?;
        Ok(())
    }

    async fn write_model_tag(&self, name: &ModelName, tag: &Tag) -> Result<()> {
        check_user_key(tag.key().as_str())?;
        self.set_model_tag_raw(
            name.as_str(),
            &KeyValue::new(tag.key().as_str(), tag.value()),
        )
        .await?;
        self.append_audit(name, AuditAction::ModelTagSet { tag: tag.clone() })
            .await?;
        Ok(())
    }

    async fn erase_model_tag(&self, name: &ModelName, key: &TagKey) -> Result<()> {
        check_user_key(key.as_str())?;
        let _: Empty = wire::call(
            self.rest(),
            RestMethod::Delete,
            "registered-models/delete-tag",
            &ModelTag {
                name: name.as_str(),
                key: key.as_str(),
                value: None,
            },
            Idempotency::Idempotent,
            model_subject(name.as_str()),
        )
        .await?;
        self.append_audit(
            name,
            AuditAction::ModelTagDeleted {
                key: key.to_string(),
            },
        )
        .await?;
        Ok(())
    }

    async fn write_version_description(
        &self,
        name: &ModelName,
        version: ModelVersion,
        description: &str,
    ) -> Result<()> {
        check_description(description)?;
        let id = version_id(name, version);
        let v = version.to_string();
        let _: VersionResponse = wire::call(
            self.rest(),
            RestMethod::Patch,
            "model-versions/update",
            &VersionRef {
                name: name.as_str(),
                version: &v,
                description: Some(description),
            },
            Idempotency::Idempotent,
            version_subject(&id),
        )
        .await?;
        self.append_audit(
            name,
            AuditAction::VersionDescriptionSet {
                version,
                description: description.to_owned(),
            },
        )
        .await?;
        Ok(())
    }

    async fn write_version_tag(
        &self,
        name: &ModelName,
        version: ModelVersion,
        tag: &Tag,
    ) -> Result<()> {
        check_user_key(tag.key().as_str())?;
        self.set_version_tag_raw(name, version, tag.key().as_str(), tag.value())
            .await?;
        self.append_audit(
            name,
            AuditAction::VersionTagSet {
                version,
                tag: tag.clone(),
            },
        )
        .await?;
        Ok(())
    }

    async fn erase_version_tag(
        &self,
        name: &ModelName,
        version: ModelVersion,
        key: &TagKey,
    ) -> Result<()> {
        check_user_key(key.as_str())?;
        let id = version_id(name, version);
        let v = version.to_string();
        let _: Empty = wire::call(
            self.rest(),
            RestMethod::Delete,
            "model-versions/delete-tag",
            &VersionTag {
                name: name.as_str(),
                version: &v,
                key: key.as_str(),
                value: None,
            },
            Idempotency::Idempotent,
            version_subject(&id),
        )
        .await?;
        self.append_audit(
            name,
            AuditAction::VersionTagDeleted {
                version,
                key: key.to_string(),
            },
        )
        .await?;
        Ok(())
    }

    async fn write_version_status(
        &self,
        name: &ModelName,
        version: ModelVersion,
        status: VersionStatus,
    ) -> Result<()> {
        self.set_version_tag_raw(name, version, meta::STATUS, status.as_str())
            .await?;
        self.append_audit(name, AuditAction::VersionStatusSet { version, status })
            .await?;
        Ok(())
    }

    async fn write_stage(
        &self,
        name: &ModelName,
        version: ModelVersion,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<()> {
        let v = version.to_string();
        // MLflow archives the others itself; they are listed first for the log.
        let archived: Vec<ModelVersion> = if archive_existing
            && matches!(stage, Stage::Staging | Stage::Production)
        {
            self.all_versions(name)
                .await?
                .iter()
                .filter(|w| w.version != v && w.current_stage.as_deref() == Some(stage.as_str()))
                .filter_map(|w| ModelVersion::parse(&w.version).ok())
                .collect()
        } else {
            Vec::new()
        };
        let id = version_id(name, version);
        let _: VersionResponse = wire::call(
            self.rest(),
            RestMethod::Post,
            "model-versions/transition-stage",
            &TransitionStage {
                name: name.as_str(),
                version: &v,
                stage: stage.as_str(),
                archive_existing_versions: archive_existing,
            },
            Idempotency::Idempotent,
            version_subject(&id),
        )
        .await?;
        self.append_audit(
            name,
            AuditAction::StageTransition {
                version,
                stage,
                archived,
            },
        )
        .await?;
        Ok(())
    }

    async fn write_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        version: ModelVersion,
        change: &AliasChange,
    ) -> Result<AliasEvent> {
        let current = self.check_alias(name, alias, change).await?;
        let id = version_id(name, version);
        let v = version.to_string();
        let _: Empty = wire::call(
            self.rest(),
            RestMethod::Post,
            "registered-models/alias",
            &AliasRef {
                name: name.as_str(),
                alias: alias.as_str(),
                version: Some(&v),
            },
            Idempotency::Idempotent,
            version_subject(&id),
        )
        .await?;
        let kind = change.kind;
        self.alias_event(name, alias, current, Some(version), change, kind)
            .await
    }

    async fn erase_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        change: &AliasChange,
    ) -> Result<AliasEvent> {
        let current = self.check_alias(name, alias, change).await?;
        if current.is_none() {
            return Err(RegistryError::not_found("alias", alias.as_str()));
        }
        let _: Empty = wire::call(
            self.rest(),
            RestMethod::Delete,
            "registered-models/alias",
            &AliasRef {
                name: name.as_str(),
                alias: alias.as_str(),
                version: None,
            },
            Idempotency::Idempotent,
            Subject {
                what: "alias",
                id: alias.as_str(),
            },
        )
        .await?;
        self.alias_event(name, alias, current, None, change, AliasChangeKind::Delete)
            .await
    }
}
