//! `impl ModelRegistry for MlflowRegistry`: each method as MLflow calls (see the module
//! documentation for the mapping and its limits).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use mlops_core::{
    AliasName, ArtifactPath, ExperimentId, ExperimentName, LifecycleStage, ModelName, ModelVersion,
    RunId, RunStatus, Tag, TagKey, Timestamp,
};
use mlops_track::mlflow::{Idempotency, RestMethod};
use mlops_track::{NewRun, TrackError, TrackingStore};

use super::MlflowRegistry;
use super::meta::{self, Manifest};
use super::wire::{
    self, AliasRef, CreateModel, CreateVersion, Empty, KeyValue, ModelRef, ModelResponse, ModelTag,
    RenameModel, SearchModelsResponse, SearchVersionsResponse, Subject, TransitionStage,
    VersionRef, VersionResponse, VersionTag, WireModel, WireVersion,
};
use crate::error::{RegistryError, Result};
use crate::model::{
    AliasChange, AliasChangeKind, AliasEvent, Approval, ApprovalRecord, ArtifactEntry, AuditAction,
    AuditEntry, BlobInfo, Decision, ModelQuery, NewVersion, Page, RegisteredModel, RunLink, Stage,
    VersionInfo, VersionQuery, VersionStatus,
};
use crate::object::{check_actor, check_description, sha256_hex};
use crate::registry::ModelRegistry;

/// The current manifest format.
const MANIFEST_FORMAT: u32 = 1;
/// How many files are uploaded at once.
const UPLOAD_CONCURRENCY: usize = 4;
/// The default page size of searches.
const DEFAULT_PAGE: usize = 100;
/// MLflow's largest page of registered models.
const MAX_MODEL_PAGE: usize = 1000;
/// The largest page of versions this backend asks for.
const MAX_VERSION_PAGE: usize = 10_000;
/// The page tokens of searches this backend pages itself.
const OFFSET_TOKEN: &str = "mlops-offset:";
/// How many times a create whose answer was lost is looked up and sent again.
const CREATE_ROUNDS: u32 = 3;

fn model_subject(name: &str) -> Subject<'_> {
    Subject {
        what: "registered model",
        id: name,
    }
}

fn version_id(name: &ModelName, version: ModelVersion) -> String {
    format!("{name} version {version}")
}

fn version_subject(id: &str) -> Subject<'_> {
    Subject {
        what: "model version",
        id,
    }
}

/// A new transaction id: a UUID v7 in hex, so ids sort by time.
fn new_txn() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

fn millis(ms: Option<i64>, what: &str) -> Result<Timestamp> {
    Timestamp::from_millis(ms.unwrap_or(0)).map_err(|e| RegistryError::Corrupt {
        path: format!("MLflow {what}"),
        reason: e.to_string(),
    })
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Corrupt {
        path: format!("MLflow {what}"),
        reason: format!("a value this client cannot represent: {e}"),
    }
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.is_empty())
}

/// Refuses user tags under the reserved prefix.
fn check_user_key(key: &str) -> Result<()> {
    if meta::is_reserved(key) {
        return Err(RegistryError::InvalidArgument(format!(
            "tag key {key:?} is under {:?}, which the MLflow backend reserves for its own records",
            meta::RESERVED_PREFIX
        )));
    }
    Ok(())
}

/// User-visible tags: everything but the reserved ones.
fn user_tags(tags: &[KeyValue], what: &str) -> Result<Vec<Tag>> {
    tags.iter()
        .filter(|t| !meta::is_reserved(&t.key))
        .map(|t| Tag::parse(&t.key, t.value.clone()).map_err(|e| corrupt(what, e)))
        .collect()
}

/// Whether `text` can occur in a model name at all (letters, digits, `_ - .` and spaces);
/// other text matches nothing and must not reach a filter string.
fn fits_model_name(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '))
}

fn to_model(w: WireModel) -> Result<RegisteredModel> {
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
    })
}

impl MlflowRegistry {
    fn rest(&self) -> &mlops_track::mlflow::RestClient {
        &self.inner.rest
    }

    fn store(&self) -> &mlops_track::mlflow::MlflowStore {
        &self.inner.store
    }

    async fn wire_model(&self, name: &str) -> Result<WireModel> {
        let answer: ModelResponse = wire::get(
            self.rest(),
            "registered-models/get",
            &[("name", name)],
            model_subject(name),
        )
        .await?;
        Ok(answer.registered_model)
    }

    async fn wire_version(&self, name: &ModelName, version: ModelVersion) -> Result<WireVersion> {
        let id = version_id(name, version);
        let v = version.to_string();
        let answer: VersionResponse = wire::get(
            self.rest(),
            "model-versions/get",
            &[("name", name.as_str()), ("version", &v)],
            version_subject(&id),
        )
        .await?;
        Ok(answer.model_version)
    }

    /// A version as this crate shows it. `aliases` replaces the version's own list (which
    /// `model-versions/search` leaves out).
    async fn to_version(
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
                artifacts: m.artifacts,
                run: m.run,
                signature: m.signature,
                drift_profile: m.drift_profile.map(|(blob, _)| blob),
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
    async fn foreign_run_link(&self, id: &str) -> Result<Option<RunLink>> {
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

    async fn version_info(&self, name: &ModelName, version: ModelVersion) -> Result<VersionInfo> {
        let w = self.wire_version(name, version).await?;
        self.to_version(w, None).await
    }

    /// Writes one audit entry: its parts, then the tag that announces them.
    async fn append_audit(&self, name: &ModelName, action: AuditAction) -> Result<AuditEntry> {
        let entry = AuditEntry {
            seq: 0,
            time: Timestamp::now(),
            actor: self.inner.actor.clone(),
            txn_id: new_txn(),
            action,
        };
        for tag in meta::audit_tags(&entry)? {
            self.set_model_tag_raw(name.as_str(), &tag).await?;
        }
        Ok(entry)
    }

    /// The position of the entry written by transaction `txn` in the model's log.
    async fn audit_position(&self, name: &ModelName, txn: &str) -> Result<u64> {
        let log = self.audit_log(name).await?;
        Ok(log.iter().find(|e| e.txn_id == txn).map_or(0, |e| e.seq))
    }

    async fn set_model_tag_raw(&self, name: &str, tag: &KeyValue) -> Result<()> {
        let _: Empty = wire::call(
            self.rest(),
            RestMethod::Post,
            "registered-models/set-tag",
            &ModelTag {
                name,
                key: &tag.key,
                value: Some(&tag.value),
            },
            Idempotency::Idempotent,
            model_subject(name),
        )
        .await?;
        Ok(())
    }

    async fn set_version_tag_raw(
        &self,
        name: &ModelName,
        version: ModelVersion,
        key: &str,
        value: &str,
    ) -> Result<()> {
        let id = version_id(name, version);
        let v = version.to_string();
        let _: Empty = wire::call(
            self.rest(),
            RestMethod::Post,
            "model-versions/set-tag",
            &VersionTag {
                name: name.as_str(),
                version: &v,
                key,
                value: Some(value),
            },
            Idempotency::Idempotent,
            version_subject(&id),
        )
        .await?;
        Ok(())
    }

    /// A registered model whose name equals `name` ignoring case, if any.
    async fn same_name_ignoring_case(&self, name: &ModelName) -> Result<Option<String>> {
        let folded = name.case_folded();
        // `_` is LIKE's one-character wildcard: compare the answers exactly.
        let filter = format!("name ILIKE '{}'", name.as_str());
        let mut token: Option<String> = None;
        loop {
            let page = self
                .search_models_raw(Some(&filter), MAX_MODEL_PAGE, token.as_deref())
                .await?;
            if let Some(found) = page
                .registered_models
                .iter()
                .find(|m| m.name.to_lowercase() == folded)
            {
                return Ok(Some(found.name.clone()));
            }
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(None),
            }
        }
    }

    async fn search_models_raw(
        &self,
        filter: Option<&str>,
        max_results: usize,
        page_token: Option<&str>,
    ) -> Result<SearchModelsResponse> {
        let max = max_results.to_string();
        let mut query = vec![("max_results", max.as_str()), ("order_by", "name ASC")];
        if let Some(filter) = filter {
            query.push(("filter", filter));
        }
        if let Some(token) = page_token {
            query.push(("page_token", token));
        }
        Ok(wire::get(
            self.rest(),
            "registered-models/search",
            &query,
            model_subject("(search)"),
        )
        .await?)
    }

    async fn search_versions_raw(
        &self,
        filter: &str,
        max_results: usize,
        page_token: Option<&str>,
    ) -> Result<SearchVersionsResponse> {
        let max = max_results.to_string();
        let mut query = vec![
            ("max_results", max.as_str()),
            ("order_by", "version_number DESC"),
        ];
        if !filter.is_empty() {
            query.push(("filter", filter));
        }
        if let Some(token) = page_token {
            query.push(("page_token", token));
        }
        Ok(wire::get(
            self.rest(),
            "model-versions/search",
            &query,
            version_subject("(search)"),
        )
        .await?)
    }

    /// Every version of a model, MLflow's rendering.
    async fn all_versions(&self, name: &ModelName) -> Result<Vec<WireVersion>> {
        let filter = format!("name = '{}'", name.as_str());
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .search_versions_raw(&filter, MAX_VERSION_PAGE, token.as_deref())
                .await?;
            out.extend(page.model_versions);
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(out),
            }
        }
    }

    /// The version created by transaction `txn`, if any.
    async fn version_by_txn(&self, name: &ModelName, txn: &str) -> Result<Option<WireVersion>> {
        let filter = format!(
            "name = '{}' AND tags.`{}` = '{txn}'",
            name.as_str(),
            meta::TXN
        );
        let page = self.search_versions_raw(&filter, 10, None).await?;
        Ok(page.model_versions.into_iter().next())
    }

    /// The id of the experiment that holds upload runs, created on first use.
    async fn upload_experiment_id(&self) -> Result<ExperimentId> {
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
    async fn holder_run(&self, link: Option<&RunLink>) -> Result<(RunId, String, bool)> {
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

    async fn upload(
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
    async fn create_version_once(
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

    /// The versions registered from `run`, newest first, paged with an offset token.
    ///
    /// MLflow's `run_id` of a version registered here is the run holding its files: the
    /// source run when it lives on this server, else a holder run. So a version matches
    /// when its manifest names the run (the tag `mlops.registry.run`), or, for versions
    /// registered by other clients, when MLflow's `run_id` is the run. MLflow's filter has
    /// no `OR`: both searches are read whole and merged.
    async fn versions_of_run(
        &self,
        clauses: &[String],
        run: &RunId,
        max: usize,
        page_token: Option<&str>,
    ) -> Result<SearchVersionsResponse> {
        let offset = match page_token {
            None => 0,
            Some(token) => token
                .strip_prefix(OFFSET_TOKEN)
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| {
                    RegistryError::InvalidArgument(format!("invalid page token {token:?}"))
                })?,
        };
        let mut found: BTreeMap<(String, String), WireVersion> = BTreeMap::new();
        for clause in [
            format!("run_id = '{}'", run.as_str()),
            format!("tags.`{}` = '{}'", meta::RUN, run.as_str()),
        ] {
            let filter = clauses
                .iter()
                .cloned()
                .chain([clause])
                .collect::<Vec<_>>()
                .join(" AND ");
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .search_versions_raw(&filter, MAX_VERSION_PAGE, token.as_deref())
                    .await?;
                for w in page.model_versions {
                    // A version registered here belongs to the run its manifest names.
                    let ours = w.tags.iter().any(|t| t.key == meta::MANIFEST);
                    let named = w
                        .tags
                        .iter()
                        .any(|t| t.key == meta::RUN && t.value == run.as_str());
                    if !ours || named {
                        found.insert((w.name.clone(), w.version.clone()), w);
                    }
                }
                match page.next_page_token {
                    Some(next) if !next.is_empty() => token = Some(next),
                    _ => break,
                }
            }
        }
        let mut all: Vec<WireVersion> = found.into_values().collect();
        all.sort_by_key(|w| {
            (
                std::cmp::Reverse(w.creation_timestamp),
                std::cmp::Reverse(w.version.parse::<u64>().unwrap_or(0)),
            )
        });
        let next = offset + max;
        let next_page_token = (next < all.len()).then(|| format!("{OFFSET_TOKEN}{next}"));
        Ok(SearchVersionsResponse {
            model_versions: all.into_iter().skip(offset).take(max).collect(),
            next_page_token,
        })
    }

    async fn alias_event(
        &self,
        name: &ModelName,
        alias: &AliasName,
        from: Option<ModelVersion>,
        to: Option<ModelVersion>,
        change: &AliasChange,
        kind: AliasChangeKind,
    ) -> Result<AliasEvent> {
        let entry = self
            .append_audit(
                name,
                AuditAction::AliasChanged {
                    alias: alias.clone(),
                    from,
                    to,
                    expected: change.expected,
                    kind,
                    gates: change.gates.clone(),
                    note: change.note.clone(),
                },
            )
            .await?;
        Ok(AliasEvent {
            seq: 0,
            alias: alias.clone(),
            from,
            to,
            kind,
            actor: entry.actor,
            time: entry.time,
            txn_id: entry.txn_id,
        })
    }

    /// The version an alias points to: `NotFound` naming the alias when it is unset, or
    /// the model when there is no such model.
    async fn alias_holder_raw(&self, name: &ModelName, alias: &AliasName) -> Result<ModelVersion> {
        let w = self.wire_by_alias(name, alias).await?;
        ModelVersion::parse(&w.version).map_err(|e| corrupt(&format!("alias {alias} of {name}"), e))
    }

    async fn wire_by_alias(&self, name: &ModelName, alias: &AliasName) -> Result<WireVersion> {
        // A missing model answers RESOURCE_DOES_NOT_EXIST; a missing alias answers
        // INVALID_PARAMETER_VALUE, which `wire` maps to NotFound naming the alias.
        let answer: VersionResponse = wire::get(
            self.rest(),
            "registered-models/alias",
            &[("name", name.as_str()), ("alias", alias.as_str())],
            model_subject(name.as_str()),
        )
        .await?;
        Ok(answer.model_version)
    }

    /// The alias's holder, after checking the change's precondition against it.
    async fn check_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        change: &AliasChange,
    ) -> Result<Option<ModelVersion>> {
        // `registered-models/alias` answers the holder alone; `registered-models/get` would
        // also carry every tag of the model, the audit log included.
        let current = match self.alias_holder_raw(name, alias).await {
            Ok(version) => Some(version),
            Err(RegistryError::NotFound { what: "alias", .. }) => None,
            Err(e) => return Err(e),
        };
        if !change.expected.matches(current) {
            return Err(RegistryError::Conflict {
                model: name.to_string(),
                alias: alias.to_string(),
                expected: change.expected,
                current,
            });
        }
        Ok(current)
    }
}

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
        let sent: std::result::Result<ModelResponse, wire::Failed> = wire::call(
            self.rest(),
            RestMethod::Post,
            "registered-models/create",
            &body,
            Idempotency::NotIdempotent,
            model_subject(name.as_str()),
        )
        .await;
        let created = match sent {
            Ok(answer) => answer.registered_model,
            Err(failed) => {
                // The create may have been applied although its answer was lost (or a retry
                // found the name taken by that very attempt): it is ours if it has our id.
                let ambiguous = failed.maybe_applied
                    || matches!(failed.error, RegistryError::AlreadyExists { .. });
                if !ambiguous {
                    return Err(failed.error);
                }
                let ours = match self.wire_model(name.as_str()).await {
                    Ok(found)
                        if found
                            .tags
                            .iter()
                            .any(|t| t.key == meta::TXN && t.value == txn) =>
                    {
                        Some(found)
                    }
                    _ => None,
                };
                match ours {
                    Some(found) => found,
                    None => return Err(failed.error),
                }
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

    async fn set_model_description(&self, name: &ModelName, description: &str) -> Result<()> {
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

    async fn set_model_tag(&self, name: &ModelName, tag: &Tag) -> Result<()> {
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

    async fn delete_model_tag(&self, name: &ModelName, key: &TagKey) -> Result<()> {
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
            artifacts,
            run: new.run,
            signature: new.signature,
            drift_profile,
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

    async fn set_version_description(
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

    async fn set_version_tag(
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

    async fn delete_version_tag(
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

    async fn set_version_status(
        &self,
        name: &ModelName,
        version: ModelVersion,
        status: VersionStatus,
    ) -> Result<VersionInfo> {
        self.set_version_tag_raw(name, version, meta::STATUS, status.as_str())
            .await?;
        self.append_audit(name, AuditAction::VersionStatusSet { version, status })
            .await?;
        self.version_info(name, version).await
    }

    async fn transition_stage(
        &self,
        name: &ModelName,
        version: ModelVersion,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<VersionInfo> {
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
        self.version_info(name, version).await
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

    async fn set_alias(
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

    async fn delete_alias(
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
