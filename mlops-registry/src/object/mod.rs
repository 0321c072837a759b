//! [`ObjectRegistry`]: the registry on any `object_store` root (a local folder by default,
//! memory, or S3/Azure/GCS with the `cloud` feature), with no server and no database.
//!
//! Layout under the root (see `docs/REGISTRY.md`):
//!
//! ```text
//! registry/catalog/log/<seq:020>.json        model names ↔ ids: create, rename, delete
//! registry/catalog/snapshots/<seq:020>.json  folded catalog every 64 entries (optional)
//! registry/models/<id>/log/<seq:020>.json    the model's commit log: versions, aliases,
//!                                            stages, tags, approvals, decisions
//! registry/models/<id>/snapshots/…           folded model state every 64 entries
//! registry/models/<id>/blobs/<sha256>        artifact and drift-profile bytes, by digest
//! ```
//!
//! Every change is one log entry claimed with a create-if-absent write at the next
//! sequence number, decided against the state folded from every entry before it (see
//! [`crate::object`]'s `log` module and RELIABILITY §2.4). So two processes never lose an
//! update, a false precondition is never acknowledged, and an ambiguous write (timeout, lost
//! response) is resolved by reading back the writer's own transaction id. Local folders have
//! no compare-and-swap; create-if-absent (a hard link) is all the protocol needs.
//!
//! ```
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use mlops_registry::{AliasChange, Expect, ModelRegistry, NewVersion, ObjectRegistry};
//! use mlops_registry::{AliasName, ArtifactPath, ModelName};
//!
//! let registry = ObjectRegistry::open_uri(&"memory://".parse()?)?.with_actor("ada")?;
//! let model = ModelName::parse("churn")?;
//! registry.create_model(&model, None, &[]).await?;
//! let files = NewVersion::new().with_artifact(ArtifactPath::parse("model.onnx")?, &b"weights"[..]);
//! let v1 = registry.create_version(&model, files).await?.version;
//! let champion = AliasName::parse("champion")?;
//! registry.set_alias(&model, &champion, v1, &AliasChange::expecting(Expect::Absent)).await?;
//! assert_eq!(registry.resolve_alias(&model, &champion).await?.version, v1);
//! // The precondition is now false: nothing changes.
//! let again = registry.set_alias(&model, &champion, v1, &AliasChange::expecting(Expect::Absent)).await;
//! assert!(again.unwrap_err().is_conflict());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod io;
mod log;
mod state;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use mlops_core::{
    AliasName, ArtifactPath, ModelName, ModelVersion, StoreRoot, StoreUri, Tag, TagKey, Timestamp,
};
use object_store::path::Path;
use sha2::{Digest, Sha256};

pub use log::LogStats;

use crate::error::{RegistryError, Result};
use crate::model::{
    AliasChange, AliasChangeKind, AliasEvent, Approval, ApprovalRecord, ArtifactEntry, AuditEntry,
    BlobInfo, Decision, ModelQuery, NewVersion, Page, RegisteredModel, Stage, VersionInfo,
    VersionQuery, VersionStatus,
};
use crate::registry::ModelRegistry;
use io::Io;
use log::{CommitLog, Entry};
use state::{Catalog, CatalogModel, CatalogOp, ModelOp, ModelState};

/// The longest description accepted (64 KiB).
const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;
/// The default and the largest page size of searches.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 10_000;
/// How long a handle trusts its cached catalog (names to ids) before reading what is new.
/// Within it a model found deleted or renamed in its own log is looked up again at once,
/// so the cache only saves the read.
const CATALOG_REFRESH: std::time::Duration = std::time::Duration::from_secs(2);

/// The registry on an object store. Cheap to clone; clones share one cache.
#[derive(Clone)]
pub struct ObjectRegistry {
    inner: Arc<Inner>,
    actor: Arc<str>,
}

struct Inner {
    root: StoreRoot,
    io: Io,
    base: Path,
    catalog: CommitLog<Catalog>,
    catalog_refreshed: Mutex<Option<std::time::Instant>>,
    models: Mutex<HashMap<String, Arc<CommitLog<ModelState>>>>,
}

impl fmt::Debug for ObjectRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectRegistry")
            .field("root", &self.inner.root.uri().map(StoreUri::as_str))
            .field("prefix", &self.inner.base.as_ref())
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

/// Checks a person's or process's name as recorded in the log.
pub(crate) fn check_actor(kind: &'static str, actor: &str) -> Result<()> {
    let problem = if actor.trim().is_empty() {
        Some("must name someone")
    } else if actor.len() > 255 {
        Some("is longer than 255 bytes")
    } else if actor.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if actor.trim() != actor {
        Some("must not start or end with whitespace")
    } else {
        None
    };
    match problem {
        Some(why) => Err(RegistryError::InvalidArgument(format!(
            "{kind} {actor:?} {why}"
        ))),
        None => Ok(()),
    }
}

pub(crate) fn check_description(description: &str) -> Result<()> {
    if description.len() > MAX_DESCRIPTION_BYTES {
        return Err(RegistryError::InvalidArgument(format!(
            "a description is {} bytes long, the limit is {MAX_DESCRIPTION_BYTES}",
            description.len()
        )));
    }
    Ok(())
}

/// The SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest.iter() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn page<T: Clone>(items: &[T], max_results: Option<usize>, token: Option<&str>) -> Result<Page<T>> {
    let size = max_results.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let start = match token {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|s| *s <= items.len())
            .ok_or_else(|| {
                RegistryError::InvalidArgument(format!(
                    "page token {t:?} is not one this registry issued"
                ))
            })?,
    };
    let end = (start + size).min(items.len());
    Ok(Page {
        items: items[start..end].to_vec(),
        next_page_token: (end < items.len()).then(|| end.to_string()),
    })
}

impl ObjectRegistry {
    /// A registry under `root` (keys under `<prefix>/registry/`). No I/O: nothing is read or
    /// written until the first call. The actor is `$USER`, or `unknown`.
    pub fn new(root: StoreRoot) -> Self {
        let base = Path::from_iter(
            root.prefix()
                .parts()
                .chain(std::iter::once("registry".into())),
        );
        let io = Io {
            store: Arc::clone(root.store()),
        };
        let catalog = CommitLog::new(io.clone(), &base.clone().join("catalog"));
        let actor = std::env::var("USER")
            .ok()
            .filter(|u| check_actor("actor", u).is_ok())
            .unwrap_or_else(|| "unknown".to_owned());
        Self {
            inner: Arc::new(Inner {
                root,
                io,
                base,
                catalog,
                catalog_refreshed: Mutex::new(None),
                models: Mutex::new(HashMap::new()),
            }),
            actor: actor.into(),
        }
    }

    /// Opens the root a URI names (a folder, `file://`, `memory://`, or a cloud URI with
    /// the `cloud` feature). Creates a local folder if missing; no other I/O.
    pub fn open_uri(uri: &StoreUri) -> Result<Self> {
        Ok(Self::new(uri.open()?))
    }

    /// The same registry (sharing its cache) acting as `actor` in the audit log.
    pub fn with_actor(&self, actor: &str) -> Result<Self> {
        check_actor("actor", actor)?;
        Ok(Self {
            inner: Arc::clone(&self.inner),
            actor: actor.into(),
        })
    }

    /// Who this handle acts as.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The root it lives under.
    pub fn root(&self) -> &StoreRoot {
        &self.inner.root
    }

    /// What this handle's appends to a model's log met (committed entries, lost slot races,
    /// ambiguous outcomes and how they resolved).
    pub async fn log_stats(&self, name: &ModelName) -> Result<LogStats> {
        let (_, log) = self.lookup(name, true).await?;
        Ok(log.stats())
    }

    fn model_dir(&self, id: &str) -> Path {
        self.inner.base.clone().join("models").join(id)
    }

    fn blob_key(&self, id: &str, sha256: &str) -> Path {
        self.model_dir(id).join("blobs").join(sha256)
    }

    fn model_log(&self, id: &str) -> Arc<CommitLog<ModelState>> {
        let mut models = self
            .inner
            .models
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(models.entry(id.to_owned()).or_insert_with(|| {
            Arc::new(CommitLog::new(self.inner.io.clone(), &self.model_dir(id)))
        }))
    }

    /// The model with this name and its log. With `fresh`, or when the cached catalog is
    /// older than [`CATALOG_REFRESH`], the catalog is caught up first; a cached miss is
    /// always checked against a fresh catalog.
    async fn lookup(
        &self,
        name: &ModelName,
        fresh: bool,
    ) -> Result<(CatalogModel, Arc<CommitLog<ModelState>>)> {
        let stale = {
            let refreshed = self
                .inner
                .catalog_refreshed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            refreshed.is_none_or(|t| t.elapsed() > CATALOG_REFRESH)
        };
        let mut found = None;
        if !fresh && !stale {
            found = self.inner.catalog.peek(|_, c| c.get(name).cloned()).await?;
        }
        if found.is_none() {
            let started = std::time::Instant::now();
            found = self.inner.catalog.read(|_, c| c.get(name).cloned()).await?;
            *self
                .inner
                .catalog_refreshed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(started);
        }
        let model =
            found.ok_or_else(|| RegistryError::not_found("registered model", name.as_str()))?;
        let log = self.model_log(&model.id);
        Ok((model, log))
    }

    /// Whether a model's log says it is live under `name`. The catalog names models; the
    /// log's own record of its name only tells a stale cached catalog apart (`strict`).
    fn is_live(name: &ModelName, state: &ModelState, strict: bool) -> bool {
        !state.deleted && (!strict || state.current_name.as_ref().is_none_or(|n| n == name))
    }

    /// Appends to a live model's log; `decide` sees its state. A model found through the
    /// cached catalog that turns out deleted or renamed is looked up again in a fresh one.
    async fn append<F>(
        &self,
        name: &ModelName,
        mut decide: F,
    ) -> Result<(Entry<ModelOp>, ModelState)>
    where
        F: FnMut(&ModelState) -> Result<ModelOp> + Send,
    {
        for fresh in [false, true] {
            let (_, log) = self.lookup(name, fresh).await?;
            let appended = log
                .append(&self.actor, |state| {
                    if !Self::is_live(name, state, !fresh) {
                        return Err(RegistryError::not_found("registered model", name.as_str()));
                    }
                    decide(state)
                })
                .await;
            match appended {
                Err(RegistryError::NotFound {
                    what: "registered model",
                    ..
                }) if !fresh => {}
                other => return other,
            }
        }
        Err(RegistryError::not_found("registered model", name.as_str()))
    }

    /// Reads a live model's state (as [`ObjectRegistry::append`] finds it).
    async fn read_model<R>(
        &self,
        name: &ModelName,
        f: impl FnOnce(&CatalogModel, &ModelState) -> R,
    ) -> Result<R> {
        let mut f = Some(f);
        for fresh in [false, true] {
            let (model, log) = self.lookup(name, fresh).await?;
            let read = log
                .read(|_, state| {
                    if Self::is_live(name, state, !fresh) {
                        f.take().map(|f| f(&model, state))
                    } else {
                        None
                    }
                })
                .await?;
            if let Some(result) = read {
                return Ok(result);
            }
        }
        Err(RegistryError::not_found("registered model", name.as_str()))
    }

    fn registered(model: &CatalogModel, state: &ModelState) -> RegisteredModel {
        RegisteredModel {
            name: model.name.clone(),
            created: model.created,
            updated: state.updated.unwrap_or(model.created),
            creator: model.creator.clone(),
            description: state.description.clone(),
            tags: state.tags.values().cloned().collect(),
            aliases: state.aliases.clone(),
            latest_version: state
                .versions
                .iter()
                .rev()
                .find(|(_, v)| !v.deleted)
                .map(|(_, v)| v.info.version),
        }
    }

    /// Uploads bytes under their digest (idempotent: the same bytes, the same key).
    async fn put_blob(&self, id: &str, bytes: Bytes) -> Result<BlobInfo> {
        let sha256 = sha256_hex(&bytes);
        let size = bytes.len() as u64;
        self.inner
            .io
            .put_idempotent(&self.blob_key(id, &sha256), bytes)
            .await?;
        Ok(BlobInfo { sha256, size })
    }

    /// Reads a blob and checks its digest.
    async fn get_blob(
        &self,
        id: &str,
        info: &VersionInfo,
        what: &str,
        expected: &str,
    ) -> Result<Bytes> {
        let key = self.blob_key(id, expected);
        let bytes = self
            .inner
            .io
            .get_opt(&key)
            .await?
            .ok_or_else(|| RegistryError::Corrupt {
                path: key.to_string(),
                reason: format!("the bytes of {what} are missing"),
            })?;
        let actual = sha256_hex(&bytes);
        if actual != expected {
            return Err(RegistryError::DigestMismatch {
                model: info.model.to_string(),
                version: info.version,
                path: what.to_owned(),
                expected: expected.to_owned(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Appends `op` to the log of `name` once the folded state shows `version` live (checked
    /// again on every attempt to claim a slot); returns the state after it.
    async fn append_to_version(
        &self,
        name: &ModelName,
        version: ModelVersion,
        op: ModelOp,
    ) -> Result<ModelState> {
        let (_, state) = self
            .append(name, |state| {
                Self::live_version(name, state, version)?;
                Ok(op.clone())
            })
            .await?;
        Ok(state)
    }

    fn live_version(
        name: &ModelName,
        state: &ModelState,
        version: ModelVersion,
    ) -> Result<VersionInfo> {
        let mut info = state.version_info(version).ok_or_else(|| {
            RegistryError::not_found("model version", format!("{name} v{version}"))
        })?;
        // Versions keep the name they were registered under; a renamed model's are shown
        // under its current name.
        info.model = name.clone();
        Ok(info)
    }

    fn alias_event(entry: &Entry<ModelOp>) -> Option<AliasEvent> {
        match &entry.op {
            ModelOp::SetAlias {
                alias,
                to,
                from,
                kind,
                ..
            } => Some(AliasEvent {
                seq: entry.seq,
                alias: alias.clone(),
                from: *from,
                to: *to,
                kind: *kind,
                actor: entry.actor.clone(),
                time: entry.time,
                txn_id: entry.txn_id.clone(),
            }),
            _ => None,
        }
    }

    async fn change_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        to: Option<ModelVersion>,
        change: &AliasChange,
    ) -> Result<AliasEvent> {
        let kind = match (to, change.kind) {
            (None, _) => AliasChangeKind::Delete,
            (Some(_), AliasChangeKind::Delete) => {
                return Err(RegistryError::InvalidArgument(
                    "a delete cannot set a version".into(),
                ));
            }
            (Some(_), kind) => kind,
        };
        let (entry, _) = self
            .append(name, |state| {
                if let Some(v) = to {
                    Self::live_version(name, state, v)?;
                }
                let current = state.aliases.get(alias).copied();
                if to.is_none() && current.is_none() {
                    return Err(RegistryError::not_found("alias", format!("{name}@{alias}")));
                }
                if !change.expected.matches(current) {
                    return Err(RegistryError::Conflict {
                        model: name.to_string(),
                        alias: alias.to_string(),
                        expected: change.expected,
                        current,
                    });
                }
                Ok(ModelOp::SetAlias {
                    alias: alias.clone(),
                    to,
                    from: current,
                    expected: change.expected,
                    kind,
                    gates: change.gates.clone(),
                    note: change.note.clone(),
                })
            })
            .await?;
        Self::alias_event(&entry).ok_or_else(|| {
            RegistryError::InvalidState("an alias change wrote another entry".into())
        })
    }

    /// The raw entries of a model's commit log as audit entries, read from the store (not
    /// the cache): what an offline checker of the protocol reads.
    pub async fn read_log(&self, name: &ModelName) -> Result<Vec<AuditEntry>> {
        let (_, log) = self.lookup(name, true).await?;
        let entries = log.entries(1).await?;
        let mut state = ModelState::default();
        for entry in &entries {
            log::Fold::apply(&mut state, entry);
        }
        Ok(state.audit)
    }
}

#[async_trait]
impl ModelRegistry for ObjectRegistry {
    async fn create_model(
        &self,
        name: &ModelName,
        description: Option<&str>,
        tags: &[Tag],
    ) -> Result<RegisteredModel> {
        if let Some(d) = description {
            check_description(d)?;
        }
        let id = uuid::Uuid::now_v7().simple().to_string();
        let created = Timestamp::now();
        // The model's log starts before the name is claimed, so a visible model always has
        // its description and tags; a lost name race leaves an unreferenced folder.
        let log = self.model_log(&id);
        log.append(&self.actor, |_| {
            Ok(ModelOp::Created {
                name: name.clone(),
                description: description.map(str::to_owned),
                tags: tags.to_vec(),
            })
        })
        .await?;
        let model = CatalogModel {
            id: id.clone(),
            name: name.clone(),
            created,
            creator: self.actor.to_string(),
        };
        self.inner
            .catalog
            .append(&self.actor, |catalog| {
                match catalog.models.get(&name.case_folded()) {
                    Some(existing) => Err(RegistryError::AlreadyExists {
                        what: "registered model",
                        name: existing.name.to_string(),
                    }),
                    None => Ok(CatalogOp::Create {
                        model: model.clone(),
                    }),
                }
            })
            .await?;
        log.read(|_, state| Self::registered(&model, state)).await
    }

    async fn get_model(&self, name: &ModelName) -> Result<RegisteredModel> {
        self.read_model(name, Self::registered).await
    }

    async fn search_models(&self, query: &ModelQuery) -> Result<Page<RegisteredModel>> {
        let needle = query.name_contains.as_ref().map(|n| n.to_lowercase());
        let mut models: Vec<CatalogModel> = self
            .inner
            .catalog
            .read(|_, c| {
                c.models
                    .values()
                    .filter(|m| {
                        needle
                            .as_ref()
                            .is_none_or(|n| m.name.case_folded().contains(n.as_str()))
                    })
                    .cloned()
                    .collect()
            })
            .await?;
        models.sort_by(|a, b| a.name.cmp(&b.name));
        let names = page(&models, query.max_results, query.page_token.as_deref())?;
        let mut items = Vec::with_capacity(names.items.len());
        for model in &names.items {
            let log = self.model_log(&model.id);
            items.push(log.read(|_, state| Self::registered(model, state)).await?);
        }
        Ok(Page {
            items,
            next_page_token: names.next_page_token,
        })
    }

    async fn rename_model(
        &self,
        name: &ModelName,
        new_name: &ModelName,
    ) -> Result<RegisteredModel> {
        let (model, log) = self.lookup(name, true).await?;
        self.inner
            .catalog
            .append(&self.actor, |catalog| {
                if catalog.get(name).is_none_or(|m| m.id != model.id) {
                    return Err(RegistryError::not_found("registered model", name.as_str()));
                }
                if let Some(other) = catalog.models.get(&new_name.case_folded())
                    && other.id != model.id
                {
                    return Err(RegistryError::AlreadyExists {
                        what: "registered model",
                        name: other.name.to_string(),
                    });
                }
                Ok(CatalogOp::Rename {
                    id: model.id.clone(),
                    from: name.clone(),
                    to: new_name.clone(),
                })
            })
            .await?;
        log.append(&self.actor, |_| {
            Ok(ModelOp::Renamed {
                from: name.clone(),
                to: new_name.clone(),
            })
        })
        .await?;
        self.get_model(new_name).await
    }

    async fn delete_model(&self, name: &ModelName) -> Result<()> {
        let (model, log) = self.lookup(name, true).await?;
        // The model's log first: from its `deleted` entry on, every write to it fails, also
        // from processes whose cached catalog still has it. A crash before the catalog entry
        // leaves the name taken; deleting again finishes the job.
        let deleted = log
            .append(&self.actor, |state| {
                if state.deleted {
                    return Err(RegistryError::not_found("registered model", name.as_str()));
                }
                Ok(ModelOp::Deleted { name: name.clone() })
            })
            .await;
        match deleted {
            Ok(_) | Err(RegistryError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        self.inner
            .catalog
            .append(&self.actor, |catalog| {
                if catalog.get(name).is_none_or(|m| m.id != model.id) {
                    return Err(RegistryError::not_found("registered model", name.as_str()));
                }
                Ok(CatalogOp::Delete {
                    id: model.id.clone(),
                    name: name.clone(),
                })
            })
            .await?;
        Ok(())
    }

    async fn set_model_description(&self, name: &ModelName, description: &str) -> Result<()> {
        check_description(description)?;
        self.append(name, |_| {
            Ok(ModelOp::SetDescription {
                description: description.to_owned(),
            })
        })
        .await
        .map(|_| ())
    }

    async fn set_model_tag(&self, name: &ModelName, tag: &Tag) -> Result<()> {
        self.append(name, |_| Ok(ModelOp::SetTag { tag: tag.clone() }))
            .await
            .map(|_| ())
    }

    async fn delete_model_tag(&self, name: &ModelName, key: &TagKey) -> Result<()> {
        self.append(name, |_| Ok(ModelOp::DeleteTag { key: key.clone() }))
            .await
            .map(|_| ())
    }

    async fn create_version(&self, name: &ModelName, new: NewVersion) -> Result<VersionInfo> {
        new.check()?;
        if let Some(d) = &new.description {
            check_description(d)?;
        }
        // The exact log the blobs go with: no second lookup that could find another model.
        let (model, log) = self.lookup(name, true).await?;
        let id = model.id.clone();
        let mut artifacts: Vec<ArtifactEntry> = futures::stream::iter(new.artifacts)
            .map(|(path, bytes)| {
                let id = id.clone();
                async move {
                    let blob = self.put_blob(&id, bytes).await?;
                    Ok::<_, RegistryError>(ArtifactEntry {
                        path,
                        sha256: blob.sha256,
                        size: blob.size,
                    })
                }
            })
            .buffer_unordered(8)
            .try_collect()
            .await?;
        artifacts.sort_by(|a, b| a.path.cmp(&b.path));
        let drift_profile = match new.drift_profile {
            Some(bytes) => Some(self.put_blob(&id, bytes).await?),
            None => None,
        };
        let now = Timestamp::now();
        let mut template = VersionInfo {
            model: name.clone(),
            version: ModelVersion::FIRST,
            created: now,
            updated: now,
            creator: self.actor.to_string(),
            source: String::new(),
            description: new.description,
            tags: new.tags,
            status: VersionStatus::Ready,
            stage: Stage::None,
            aliases: Vec::new(),
            artifacts,
            run: new.run,
            signature: new.signature,
            drift_profile,
            datasets: new.datasets,
        };
        let base = self.model_dir(&id);
        let (entry, _) = log
            .append(&self.actor, |state| {
                if !Self::is_live(name, state, false) {
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
            ModelOp::RegisterVersion { info } => Ok(*info),
            _ => Err(RegistryError::InvalidState(
                "a registration wrote another entry".into(),
            )),
        }
    }

    async fn get_version(&self, name: &ModelName, version: ModelVersion) -> Result<VersionInfo> {
        self.read_model(name, |_, state| Self::live_version(name, state, version))
            .await?
    }

    async fn search_versions(&self, query: &VersionQuery) -> Result<Page<VersionInfo>> {
        let models: Vec<CatalogModel> = match &query.model {
            Some(name) => vec![self.lookup(name, false).await?.0],
            None => {
                self.inner
                    .catalog
                    .read(|_, c| c.models.values().cloned().collect())
                    .await?
            }
        };
        let mut all = Vec::new();
        for model in &models {
            let log = self.model_log(&model.id);
            let versions: Vec<VersionInfo> = log
                .read(|_, state| {
                    state
                        .versions
                        .keys()
                        .filter_map(|v| ModelVersion::new(*v).ok())
                        .filter_map(|v| state.version_info(v))
                        .map(|mut info| {
                            info.model = model.name.clone();
                            info
                        })
                        .filter(|info| {
                            query.run_id.as_ref().is_none_or(|run| {
                                info.run.as_ref().is_some_and(|r| &r.run_id == run)
                            })
                        })
                        .collect()
                })
                .await?;
            all.extend(versions);
        }
        all.sort_by(|a, b| {
            b.created
                .cmp(&a.created)
                .then(b.version.cmp(&a.version))
                .then(a.model.cmp(&b.model))
        });
        page(&all, query.max_results, query.page_token.as_deref())
    }

    async fn delete_version(&self, name: &ModelName, version: ModelVersion) -> Result<()> {
        self.append_to_version(name, version, ModelOp::DeleteVersion { version })
            .await
            .map(drop)
    }

    async fn set_version_description(
        &self,
        name: &ModelName,
        version: ModelVersion,
        description: &str,
    ) -> Result<()> {
        check_description(description)?;
        let op = ModelOp::SetVersionDescription {
            version,
            description: description.to_owned(),
        };
        self.append_to_version(name, version, op).await.map(drop)
    }

    async fn set_version_tag(
        &self,
        name: &ModelName,
        version: ModelVersion,
        tag: &Tag,
    ) -> Result<()> {
        let op = ModelOp::SetVersionTag {
            version,
            tag: tag.clone(),
        };
        self.append_to_version(name, version, op).await.map(drop)
    }

    async fn delete_version_tag(
        &self,
        name: &ModelName,
        version: ModelVersion,
        key: &TagKey,
    ) -> Result<()> {
        let op = ModelOp::DeleteVersionTag {
            version,
            key: key.clone(),
        };
        self.append_to_version(name, version, op).await.map(drop)
    }

    async fn set_version_status(
        &self,
        name: &ModelName,
        version: ModelVersion,
        status: VersionStatus,
    ) -> Result<VersionInfo> {
        let op = ModelOp::SetVersionStatus { version, status };
        let state = self.append_to_version(name, version, op).await?;
        Self::live_version(name, &state, version)
    }

    async fn transition_stage(
        &self,
        name: &ModelName,
        version: ModelVersion,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<VersionInfo> {
        let (_, state) = self
            .append(name, |state| {
                Self::live_version(name, state, version)?;
                let archived =
                    if archive_existing && matches!(stage, Stage::Staging | Stage::Production) {
                        state
                            .versions
                            .values()
                            .filter(|v| {
                                !v.deleted && v.info.version != version && v.info.stage == stage
                            })
                            .map(|v| v.info.version)
                            .collect()
                    } else {
                        Vec::new()
                    };
                Ok(ModelOp::TransitionStage {
                    version,
                    stage,
                    archived,
                })
            })
            .await?;
        Self::live_version(name, &state, version)
    }

    async fn download_artifact(
        &self,
        name: &ModelName,
        version: ModelVersion,
        path: &ArtifactPath,
    ) -> Result<Bytes> {
        let (id, info) = self
            .read_model(name, |model, state| {
                Ok::<_, RegistryError>((
                    model.id.clone(),
                    Self::live_version(name, state, version)?,
                ))
            })
            .await??;
        let entry = info
            .artifacts
            .iter()
            .find(|a| &a.path == path)
            .ok_or_else(|| {
                RegistryError::not_found("artifact", format!("{path} of {name} v{version}"))
            })?;
        self.get_blob(&id, &info, path.as_str(), &entry.sha256)
            .await
    }

    async fn download_drift_profile(
        &self,
        name: &ModelName,
        version: ModelVersion,
    ) -> Result<Option<Bytes>> {
        let (id, info) = self
            .read_model(name, |model, state| {
                Ok::<_, RegistryError>((
                    model.id.clone(),
                    Self::live_version(name, state, version)?,
                ))
            })
            .await??;
        match &info.drift_profile {
            None => Ok(None),
            Some(blob) => self
                .get_blob(&id, &info, "drift profile", &blob.sha256)
                .await
                .map(Some),
        }
    }

    async fn set_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        version: ModelVersion,
        change: &AliasChange,
    ) -> Result<AliasEvent> {
        self.change_alias(name, alias, Some(version), change).await
    }

    async fn delete_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        change: &AliasChange,
    ) -> Result<AliasEvent> {
        self.change_alias(name, alias, None, change).await
    }

    async fn resolve_alias(&self, name: &ModelName, alias: &AliasName) -> Result<VersionInfo> {
        self.read_model(name, |_, state| {
            let version = state
                .aliases
                .get(alias)
                .copied()
                .ok_or_else(|| RegistryError::not_found("alias", format!("{name}@{alias}")))?;
            Self::live_version(name, state, version)
        })
        .await?
    }

    async fn list_aliases(&self, name: &ModelName) -> Result<BTreeMap<AliasName, ModelVersion>> {
        self.read_model(name, |_, state| state.aliases.clone())
            .await
    }

    async fn alias_history(&self, name: &ModelName, alias: &AliasName) -> Result<Vec<AliasEvent>> {
        self.read_model(name, |_, state| {
            state
                .alias_events
                .iter()
                .filter(|e| &e.alias == alias)
                .cloned()
                .collect()
        })
        .await
    }

    async fn record_approval(&self, name: &ModelName, record: &ApprovalRecord) -> Result<Approval> {
        check_actor("approver", &record.by)?;
        if let Some(c) = &record.comment {
            check_description(c)?;
        }
        let (entry, _) = self
            .append(name, |state| {
                Self::live_version(name, state, record.version)?;
                Ok(ModelOp::Approval {
                    record: record.clone(),
                })
            })
            .await?;
        Ok(Approval {
            seq: entry.seq,
            time: entry.time,
            record: record.clone(),
        })
    }

    async fn approvals(&self, name: &ModelName) -> Result<Vec<Approval>> {
        self.read_model(name, |_, state| state.approvals.clone())
            .await
    }

    async fn record_decision(&self, name: &ModelName, decision: &Decision) -> Result<AuditEntry> {
        let (entry, state) = self
            .append(name, |_| {
                Ok(ModelOp::Decision {
                    decision: decision.clone(),
                })
            })
            .await?;
        state
            .audit
            .iter()
            .rev()
            .find(|a| a.seq == entry.seq)
            .cloned()
            .ok_or_else(|| {
                RegistryError::InvalidState("a decision was not folded into the audit log".into())
            })
    }

    async fn audit_log(&self, name: &ModelName) -> Result<Vec<AuditEntry>> {
        self.read_model(name, |_, state| state.audit.clone()).await
    }
}
