//! `impl ModelRegistry for MlflowRegistry`: each method as MLflow calls (see the module
//! documentation for the mapping and its limits).

use mlops_track::TrackingStore;
use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use bytes::Bytes;
use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, RunStatus, Tag, Timestamp};
use mlops_mlflow::{Idempotency, RestMethod};
use mlops_track::TrackError;

use super::MlflowRegistry;
use super::convert::{
    check_user_key, fits_model_name, model_subject, new_txn, to_model, version_id, version_subject,
};
use super::meta::{self, Manifest};
use super::wire::{
    self, CreateModel, CreateVersion, Empty, KeyValue, ModelRef, ModelResponse, RenameModel,
    VersionRef,
};
use crate::checks::{check_actor, check_description, sha256_hex};
use crate::error::{RegistryError, Result};
use crate::records::version::{ArtifactV1, BlobV1, RunLinkV1, SignatureV1};
use crate::registry::ModelRegistry;
use crate::types::{
    AliasChange, AliasChangeKind, AliasEvent, Approval, ApprovalRecord, AuditAction, AuditEntry,
    BlobInfo, Decision, ModelQuery, NewVersion, Page, RegisteredModel, VersionInfo, VersionQuery,
};
use crate::update::{ModelUpdate, VersionUpdate};

/// The current manifest format.
pub(super) const MANIFEST_FORMAT: u32 = 1;
/// How many files are uploaded at once.
pub(super) const UPLOAD_CONCURRENCY: usize = 4;
/// The default page size of searches.
pub(super) const DEFAULT_PAGE: usize = 100;
/// MLflow's largest page of registered models.
pub(super) const MAX_MODEL_PAGE: usize = 1000;
/// The largest page of versions this backend asks for.
pub(super) const MAX_VERSION_PAGE: usize = 10_000;
/// The page tokens of searches this backend pages itself.
pub(super) const OFFSET_TOKEN: &str = "mlops-offset:";
/// How many times a create whose answer was lost is looked up and sent again.
pub(super) const CREATE_ROUNDS: u32 = 3;

#[async_trait]
impl ModelRegistry for MlflowRegistry {
    async fn create_model(
        &self,
        name: &ModelName,
        description: Option<&str>,
        tags: &[Tag],
    ) -> Result<RegisteredModel> {
        for tag in tags {
            check_user_key(tag.key().as_str())?;
        }
        if let Some(d) = description {
            check_description(d)?;
        }
        if let Some(existing) = self.same_name_ignoring_case(name).await? {
            return Err(RegistryError::AlreadyExists {
                what: "registered model",
                name: existing,
            });
        }
        let txn = new_txn();
        let mut wire_tags: Vec<KeyValue> = tags
            .iter()
            .map(|t| KeyValue::new(t.key().as_str(), t.value()))
            .collect();
        wire_tags.push(KeyValue::new(meta::CREATOR, self.inner.actor.clone()));
        wire_tags.push(KeyValue::new(meta::TXN, txn.clone()));
        let body = CreateModel {
            name: name.as_str(),
            description,
            tags: wire_tags,
        };
        let mut round = 0;
        let created = loop {
            let sent: std::result::Result<ModelResponse, wire::Failed> = wire::call(
                self.rest(),
                RestMethod::Post,
                "registered-models/create",
                &body,
                Idempotency::NotIdempotent,
                model_subject(name.as_str()),
            )
            .await;
            let failed = match sent {
                Ok(answer) => break answer.registered_model,
                Err(failed) => failed,
            };
            // The create may have been applied although its answer was lost (or a resent
            // create found the name taken by the lost attempt): it is ours if it has our id.
            let ambiguous = failed.maybe_applied
                || (round > 0 && matches!(failed.error, RegistryError::AlreadyExists { .. }));
            if !ambiguous {
                return Err(failed.error);
            }
            match self.wire_model(name.as_str()).await {
                Ok(found)
                    if found
                        .tags
                        .iter()
                        .any(|t| t.key == meta::TXN && t.value == txn) =>
                {
                    break found;
                }
                Ok(_) => {
                    return Err(RegistryError::AlreadyExists {
                        what: "registered model",
                        name: name.to_string(),
                    });
                }
                Err(RegistryError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            // Not applied: send it again.
            round += 1;
            if !failed.maybe_applied || round > CREATE_ROUNDS {
                return Err(failed.error);
            }
        };
        self.append_audit(name, AuditAction::ModelCreated { name: name.clone() })
            .await?;
        to_model(created)
    }

    async fn get_model(&self, name: &ModelName) -> Result<RegisteredModel> {
        to_model(self.wire_model(name.as_str()).await?)
    }

    async fn search_models(&self, query: &ModelQuery) -> Result<Page<RegisteredModel>> {
        let max = query
            .max_results
            .unwrap_or(DEFAULT_PAGE)
            .clamp(1, MAX_MODEL_PAGE);
        let contains = query.name_contains.as_deref().filter(|t| !t.is_empty());
        if contains.is_some_and(|t| !fits_model_name(t)) {
            return Ok(Page {
                items: Vec::new(),
                next_page_token: None,
            });
        }
        let filter = contains.map(|t| format!("name ILIKE '%{t}%'"));
        let page = self
            .search_models_raw(filter.as_deref(), max, query.page_token.as_deref())
            .await?;
        let needle = contains.map(str::to_lowercase);
        let items = page
            .registered_models
            .into_iter()
            .filter(|m| {
                needle
                    .as_deref()
                    .is_none_or(|n| m.name.to_lowercase().contains(n))
            })
            .map(to_model)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
        })
    }

    async fn rename_model(
        &self,
        name: &ModelName,
        new_name: &ModelName,
    ) -> Result<RegisteredModel> {
        if new_name.case_folded() != name.case_folded()
            && let Some(existing) = self.same_name_ignoring_case(new_name).await?
        {
            return Err(RegistryError::AlreadyExists {
                what: "registered model",
                name: existing,
            });
        }
        let sent: std::result::Result<ModelResponse, wire::Failed> = wire::call(
            self.rest(),
            RestMethod::Post,
            "registered-models/rename",
            &RenameModel {
                name: name.as_str(),
                new_name: new_name.as_str(),
            },
            Idempotency::NotIdempotent,
            model_subject(name.as_str()),
        )
        .await;
        let renamed = match sent {
            Ok(answer) => answer.registered_model,
            // The name taken is the new one.
            Err(wire::Failed {
                error: RegistryError::AlreadyExists { what, .. },
                maybe_applied: false,
            }) => {
                return Err(RegistryError::AlreadyExists {
                    what,
                    name: new_name.to_string(),
                });
            }
            // A lost answer: applied if the old name is gone and the new one is there.
            Err(failed) if failed.maybe_applied => {
                let old_gone = matches!(
                    self.wire_model(name.as_str()).await,
                    Err(RegistryError::NotFound { .. })
                );
                match self.wire_model(new_name.as_str()).await {
                    Ok(found) if old_gone => found,
                    _ => return Err(failed.error),
                }
            }
            Err(failed) => return Err(failed.error),
        };
        self.append_audit(
            new_name,
            AuditAction::ModelRenamed {
                from: name.clone(),
                to: new_name.clone(),
            },
        )
        .await?;
        to_model(renamed)
    }

    async fn delete_model(&self, name: &ModelName) -> Result<()> {
        let _: Empty = wire::call(
            self.rest(),
            RestMethod::Delete,
            "registered-models/delete",
            &ModelRef {
                name: name.as_str(),
                description: None,
            },
            Idempotency::Idempotent,
            model_subject(name.as_str()),
        )
        .await?;
        Ok(())
    }

    async fn update_model(
        &self,
        name: &ModelName,
        update: &ModelUpdate,
    ) -> Result<RegisteredModel> {
        self.update_model_fields(name, update).await
    }

    async fn create_version(&self, name: &ModelName, new: NewVersion) -> Result<VersionInfo> {
        new.check()?;
        if let Some(d) = &new.description {
            check_description(d)?;
        }
        for tag in &new.tags {
            check_user_key(tag.key().as_str())?;
        }
        // Fail before uploading anything when the model does not exist.
        self.wire_model(name.as_str()).await?;
        let txn = new_txn();
        let (holder, artifact_uri, created_run) = self.holder_run(new.run.as_ref()).await?;
        let base = ArtifactPath::parse(format!("mlops-registry/{txn}"))?;
        let files_dir = base.join(&ArtifactPath::parse("files")?)?;
        let artifacts = self.upload(&holder, &files_dir, new.artifacts).await?;
        let drift_profile = match new.drift_profile {
            None => None,
            Some(bytes) => {
                let path = base.join(&ArtifactPath::parse("drift-profile.bin")?)?;
                let blob = BlobInfo {
                    sha256: sha256_hex(&bytes),
                    size: bytes.len() as u64,
                };
                self.store().log_artifact(&holder, &path, bytes).await?;
                Some((blob, path))
            }
        };
        if created_run {
            self.store()
                .update_run(
                    &holder,
                    Some(RunStatus::Finished),
                    Some(Timestamp::now()),
                    None,
                )
                .await?;
        }
        let run_id = new.run.as_ref().map(|r| r.run_id.clone());
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            creator: self.inner.actor.clone(),
            holder_run: holder.clone(),
            files_dir: files_dir.clone(),
            artifacts: artifacts.into_iter().map(ArtifactV1::from).collect(),
            run: new.run.map(RunLinkV1::from),
            signature: new.signature.map(SignatureV1::from),
            drift_profile: drift_profile.map(|(blob, path)| (BlobV1::from(blob), path)),
            datasets: new.datasets,
        };
        let mut tags: Vec<KeyValue> = new
            .tags
            .iter()
            .map(|t| KeyValue::new(t.key().as_str(), t.value()))
            .collect();
        tags.push(KeyValue::new(meta::TXN, txn.clone()));
        if let Some(run) = &manifest.run {
            tags.push(KeyValue::new(meta::RUN, run.run_id.as_str()));
        }
        tags.extend(meta::manifest_tags(&manifest)?);
        let source = format!("{}/{files_dir}", artifact_uri.trim_end_matches('/'));
        let body = CreateVersion {
            name: name.as_str(),
            source: &source,
            run_id: holder.as_str(),
            description: new.description.as_deref(),
            tags,
        };
        let created = self.create_version_once(name, &body, &txn).await?;
        let info = self.to_version(created, Some(Vec::new())).await?;
        self.append_audit(
            name,
            AuditAction::VersionCreated {
                version: info.version,
                run_id,
            },
        )
        .await?;
        Ok(info)
    }

    async fn get_version(&self, name: &ModelName, version: ModelVersion) -> Result<VersionInfo> {
        self.version_info(name, version).await
    }

    async fn search_versions(&self, query: &VersionQuery) -> Result<Page<VersionInfo>> {
        let max = query
            .max_results
            .unwrap_or(DEFAULT_PAGE)
            .clamp(1, MAX_VERSION_PAGE);
        let mut clauses = Vec::new();
        if let Some(model) = &query.model {
            clauses.push(format!("name = '{}'", model.as_str()));
        }
        let page = match &query.run_id {
            None => {
                self.search_versions_raw(&clauses.join(" AND "), max, query.page_token.as_deref())
                    .await?
            }
            Some(run) => {
                self.versions_of_run(&clauses, run, max, query.page_token.as_deref())
                    .await?
            }
        };
        // `model-versions/search` leaves aliases out (MLflow #9783): one
        // `registered-models/get` per model on the page gives them all.
        let names: BTreeSet<&str> = page
            .model_versions
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        let mut aliases: BTreeMap<String, BTreeMap<AliasName, ModelVersion>> = BTreeMap::new();
        for name in names {
            match self.wire_model(name).await {
                Ok(m) => {
                    aliases.insert(name.to_owned(), to_model(m)?.aliases);
                }
                // Deleted between the two calls: its versions are gone too.
                Err(RegistryError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let mut items = Vec::with_capacity(page.model_versions.len());
        for w in page.model_versions {
            let Some(model_aliases) = aliases.get(&w.name) else {
                continue;
            };
            let holders: Vec<AliasName> = model_aliases
                .iter()
                .filter(|(_, v)| v.to_string() == w.version)
                .map(|(a, _)| a.clone())
                .collect();
            items.push(self.to_version(w, Some(holders)).await?);
        }
        Ok(Page {
            items,
            next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
        })
    }

    async fn delete_version(&self, name: &ModelName, version: ModelVersion) -> Result<()> {
        let model = to_model(self.wire_model(name.as_str()).await?)?;
        let id = version_id(name, version);
        let v = version.to_string();
        let _: Empty = wire::call(
            self.rest(),
            RestMethod::Delete,
            "model-versions/delete",
            &VersionRef {
                name: name.as_str(),
                version: &v,
                description: None,
            },
            Idempotency::Idempotent,
            version_subject(&id),
        )
        .await?;
        self.append_audit(name, AuditAction::VersionDeleted { version })
            .await?;
        // MLflow deletes the version's aliases with it; the log says so.
        for (alias, _) in model.aliases.iter().filter(|(_, held)| **held == version) {
            self.alias_event(
                name,
                alias,
                Some(version),
                None,
                &AliasChange::default(),
                AliasChangeKind::Delete,
            )
            .await?;
        }
        Ok(())
    }

    async fn update_version(
        &self,
        name: &ModelName,
        version: ModelVersion,
        update: &VersionUpdate,
    ) -> Result<VersionInfo> {
        self.update_version_fields(name, version, update).await
    }

    async fn download_artifact(
        &self,
        name: &ModelName,
        version: ModelVersion,
        path: &ArtifactPath,
    ) -> Result<Bytes> {
        let w = self.wire_version(name, version).await?;
        let what = version_id(name, version);
        let manifest = meta::read_manifest(&w.tags, &what)?.ok_or_else(|| {
            RegistryError::InvalidState(format!(
                "{what} was not registered through mlops-registry: it has no recorded digests \
                 (its source is {:?})",
                w.source.as_deref().unwrap_or_default()
            ))
        })?;
        let entry = manifest
            .artifacts
            .iter()
            .find(|a| &a.path == path)
            .ok_or_else(|| RegistryError::not_found("artifact", path.as_str()))?;
        let bytes = self
            .store()
            .download_artifact(&manifest.holder_run, &manifest.files_dir.join(path)?)
            .await
            .map_err(|e| match e {
                TrackError::NotFound { .. } => RegistryError::not_found("artifact", path.as_str()),
                other => other.into(),
            })?;
        let actual = sha256_hex(&bytes);
        if actual != entry.sha256 {
            return Err(RegistryError::DigestMismatch {
                model: name.to_string(),
                version,
                path: path.to_string(),
                expected: entry.sha256.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    async fn download_drift_profile(
        &self,
        name: &ModelName,
        version: ModelVersion,
    ) -> Result<Option<Bytes>> {
        let w = self.wire_version(name, version).await?;
        let what = version_id(name, version);
        let Some(manifest) = meta::read_manifest(&w.tags, &what)? else {
            return Ok(None);
        };
        let Some((blob, path)) = manifest.drift_profile else {
            return Ok(None);
        };
        let bytes = self
            .store()
            .download_artifact(&manifest.holder_run, &path)
            .await?;
        let actual = sha256_hex(&bytes);
        if actual != blob.sha256 {
            return Err(RegistryError::DigestMismatch {
                model: name.to_string(),
                version,
                path: path.to_string(),
                expected: blob.sha256,
                actual,
            });
        }
        Ok(Some(bytes))
    }

    async fn change_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        to: Option<ModelVersion>,
        change: &AliasChange,
    ) -> Result<AliasEvent> {
        self.change_alias_to(name, alias, to, change).await
    }

    async fn resolve_alias(&self, name: &ModelName, alias: &AliasName) -> Result<VersionInfo> {
        let w = self.wire_by_alias(name, alias).await?;
        self.to_version(w, None).await
    }

    async fn list_aliases(&self, name: &ModelName) -> Result<BTreeMap<AliasName, ModelVersion>> {
        Ok(self.get_model(name).await?.aliases)
    }

    async fn alias_history(&self, name: &ModelName, alias: &AliasName) -> Result<Vec<AliasEvent>> {
        Ok(self
            .audit_log(name)
            .await?
            .into_iter()
            .filter_map(|entry| match entry.action {
                AuditAction::AliasChanged {
                    alias: a,
                    from,
                    to,
                    kind,
                    ..
                } if &a == alias => Some(AliasEvent {
                    seq: 0,
                    alias: a,
                    from,
                    to,
                    kind,
                    actor: entry.actor,
                    time: entry.time,
                    txn_id: entry.txn_id,
                }),
                _ => None,
            })
            .collect())
    }

    async fn record_approval(&self, name: &ModelName, record: &ApprovalRecord) -> Result<Approval> {
        check_actor("approver", &record.by)?;
        if let Some(c) = &record.comment {
            check_description(c)?;
        }
        // The version must exist.
        self.wire_version(name, record.version).await?;
        let entry = self
            .append_audit(name, AuditAction::Approval(record.clone()))
            .await?;
        let seq = self.audit_position(name, &entry.txn_id).await?;
        Ok(Approval {
            seq,
            time: entry.time,
            record: record.clone(),
        })
    }

    async fn record_decision(&self, name: &ModelName, decision: &Decision) -> Result<AuditEntry> {
        self.wire_model(name.as_str()).await?;
        let mut entry = self
            .append_audit(name, AuditAction::Decision(decision.clone()))
            .await?;
        entry.seq = self.audit_position(name, &entry.txn_id).await?;
        Ok(entry)
    }

    async fn audit_log(&self, name: &ModelName) -> Result<Vec<AuditEntry>> {
        let model = self.wire_model(name.as_str()).await?;
        meta::read_audit(&model.tags, name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_model_name_text_reaches_a_filter() {
        assert!(fits_model_name("fraud-detector v2.1_x"));
        assert!(fits_model_name("modèle"));
        for bad in ["a'b", "100%", "a\\b", "x\"", "a/b"] {
            assert!(!fits_model_name(bad), "{bad}");
        }
    }

    #[test]
    fn reserved_tag_keys_are_refused() {
        assert!(check_user_key("mlops.registry.audit.1.x").is_err());
        assert!(check_user_key("mlops.registry.manifest").is_err());
        assert!(check_user_key("team").is_ok());
        assert!(check_user_key("mlops.client_request_id").is_ok());
    }
}
