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
//! sequence number, decided against the state folded from every entry before it (see the
//! `log` module and RELIABILITY §2.4). So two processes never lose an update, a false
//! precondition is never acknowledged, and an ambiguous write (timeout, lost response) is
//! resolved by reading back the writer's own transaction id. Local folders have no
//! compare-and-swap; create-if-absent (a hard link) is all the protocol needs. Entries and
//! snapshots are private records (the crate's `records` module), never the public types.
//!
//! The modules follow the protocol's parts: `log` (claiming and folding entries), `io`
//! (store access with retries), `catalog` and `state` (what the logs fold into), `lookup`
//! (names to logs through a cached catalog), `blobs` (content-addressed files), and one
//! module per area of the trait (`models`, `versions`, `aliases`, `audit`, `search`), which
//! `backend` maps [`ModelRegistry`](crate::ModelRegistry) onto.
//!
//! ```
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use mlops_registry::{AliasChange, Expect, ModelRegistry, NewVersion, ObjectRegistry, RegistryExt};
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

mod aliases;
mod audit;
mod backend;
mod blobs;
mod catalog;
mod io;
mod log;
mod lookup;
mod models;
mod search;
mod state;
mod versions;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use mlops_core::{ModelName, StoreRoot, StoreUri};
use object_store::path::Path;

pub use log::LogStats;

use crate::checks::{check_actor, default_actor};
use crate::error::Result;
use crate::types::AuditEntry;
use catalog::Catalog;
use io::Io;
use log::CommitLog;
use state::ModelState;

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
        Self {
            inner: Arc::new(Inner {
                root,
                io,
                base,
                catalog,
                catalog_refreshed: Mutex::new(None),
                models: Mutex::new(HashMap::new()),
            }),
            actor: default_actor().into(),
        }
    }

    /// Opens the root a URI names (a folder, `file://`, `memory://`, or a cloud URI with
    /// the `cloud` feature). Creates a local folder if missing; no other I/O.
    /// [`crate::open`] does the same for any URI, MLflow servers included.
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

    /// The raw entries of a model's commit log as audit entries, read from the store (not
    /// the cache): what an offline checker of the protocol reads.
    pub async fn read_log(&self, name: &ModelName) -> Result<Vec<AuditEntry>> {
        audit::read_log(self, name).await
    }

    fn model_dir(&self, id: &str) -> Path {
        self.inner.base.clone().join("models").join(id)
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
}
