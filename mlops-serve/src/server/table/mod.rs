//! [`ModelTable`]: the models a server serves, changed while it serves.
//!
//! The table is an immutable [`Snapshot`] behind a lock that is held only to clone an `Arc`.
//! A request takes the snapshot once, finds its [`Entry`] and keeps that `Arc<Entry>` until it
//! has answered; a change builds a whole new snapshot and publishes it in one store. So a
//! request sees the old table or the new one, never a mix, and a request in flight on a
//! replaced model finishes on it: the old entry (model, scheduler, batcher task) is dropped
//! when its last request lets go of it.
//!
//! Changes are serialised by a writer mutex (they are rare: a deployment, a repository load),
//! so read-modify-write edits cannot lose each other's updates.

mod edit;
mod entry;
pub(crate) mod route;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

pub use edit::TableEdit;
pub(crate) use entry::Entry;
pub use entry::ModelEntry;
use entry::{Origin, Snapshot};

use super::ModelOptions;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::model::Servable;
use crate::source::{ModelSource, Selector};

/// What every handle of one table shares.
#[derive(Debug)]
struct Shared {
    current: RwLock<Arc<Snapshot>>,
    writer: Mutex<()>,
    metrics: Arc<Metrics>,
    defaults: ModelOptions,
    /// How many followers keep each name and version (see [`TableEdit::hold`]).
    holds: Mutex<std::collections::HashMap<(String, String), usize>>,
}

/// The models a server serves, changed while it serves: a cheap, cloneable handle
/// ([`crate::Server::models`]).
///
/// Each model is a name and an optional version. A name has either one unversioned model or
/// any number of versioned ones: `/v2/models/NAME/versions/N` serves version `N`, and
/// `/v2/models/NAME` the name's *default* version, the one that entered last unless
/// [`TableEdit::set_default`] chose another.
///
/// Every change is atomic: a request sees the table before or after it, never in between,
/// and requests in flight on a replaced or removed model finish on it (the old model is
/// dropped once they have). Several changes made in one [`ModelTable::edit`] are published
/// together. Each model version has its own admission queue and batcher, built from its
/// [`ModelOptions`], and its own metric series (kept when a model is replaced under the same
/// name and version, removed when that name and version leave the table).
///
/// ```
/// # use std::sync::Arc;
/// use mlops_serve::runtime::linear::{LinearFile, LinearModel};
/// use mlops_serve::{Model, Server};
///
/// fn linear(version: &str, slope: f64) -> Arc<dyn Model> {
///     let file = LinearFile::linear(vec![vec![slope]], vec![0.0]);
///     Arc::new(LinearModel::from_file(file, "price", Some(version)).unwrap())
/// }
///
/// let server = Server::builder().model(linear("1", 1.0)).build()?;
/// let models = server.models();
/// // Version 2 takes the unversioned routes; version 1 stays at /versions/1.
/// models.insert(linear("2", 2.0))?;
/// assert_eq!(models.default_version("price").as_deref(), Some("2"));
/// // Swap version 2 for a fixed build, then retire version 1: one atomic change.
/// models.edit(|table| {
///     table.replace(linear("2", 2.5))?;
///     table.remove("price", Some("1"))
/// })?;
/// assert_eq!(models.versions("price"), vec![Some("2".to_owned())]);
/// # Ok::<(), mlops_serve::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ModelTable {
    shared: Arc<Shared>,
}

impl ModelTable {
    pub(crate) fn new(metrics: Arc<Metrics>, defaults: ModelOptions) -> Self {
        Self {
            shared: Arc::new(Shared {
                current: RwLock::new(Arc::new(Snapshot::default())),
                writer: Mutex::new(()),
                metrics,
                defaults,
                holds: Mutex::default(),
            }),
        }
    }

    /// The metrics the table's models report to.
    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// The traffic counts of one version so far (`None` when it is not in the table).
    pub(crate) fn counts(&self, name: &str, version: &str) -> Option<crate::stats::Counts> {
        self.snapshot()
            .entry(name, Some(version))
            .ok()
            .map(|e| e.metrics.stats.counts())
    }

    /// The canary of `name`: its version and percentage of the unversioned requests.
    pub fn canary(&self, name: &str) -> Option<(String, f64)> {
        let snapshot = self.snapshot();
        let split = snapshot.routes.get(name)?.canary.as_ref()?;
        Some((split.version.clone(), f64::from(split.share) / 100.0))
    }

    /// The current table, to read without holding any lock.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(
            &self
                .shared
                .current
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// `read` applied to the current table under its read lock: the request path's way, which
    /// clones no `Arc` of the table (a clone and a drop per request on a count every worker
    /// shares). Keep `read` short: changes wait for it.
    pub(crate) fn with_snapshot<R>(&self, read: impl FnOnce(&Snapshot) -> R) -> R {
        read(
            &self
                .shared
                .current
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Applies `change` to a copy of the table and publishes the result at once, or nothing
    /// when `change` fails. Changes are serialised; requests never wait for them.
    ///
    /// `change` runs under the table's writer lock: load models before the edit (loading
    /// takes time), and do not call back into this table from inside it (that would wait
    /// for itself).
    pub fn edit<T>(&self, change: impl FnOnce(&mut TableEdit<'_>) -> Result<T>) -> Result<T> {
        let _writer = self
            .shared
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.snapshot();
        let mut edit = TableEdit {
            entries: current.entries.clone(),
            defaults: current.defaults.clone(),
            routes: current.routes.clone(),
            shared: &self.shared,
            touched: HashSet::new(),
        };
        let result = change(&mut edit);
        let TableEdit {
            entries,
            defaults,
            routes,
            touched,
            ..
        } = edit;
        let before = current.keys();
        let after = match &result {
            Ok(_) => {
                let next = Snapshot::new(entries, defaults, routes);
                let keys = next.keys();
                *self
                    .shared
                    .current
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
                keys
            }
            Err(_) => before.clone(),
        };
        for (name, version) in before.union(&touched) {
            if !after.contains(&(name.clone(), version.clone())) {
                self.shared.metrics.forget(name, version.as_deref());
            }
        }
        result
    }

    /// Adds a model version (see [`TableEdit::insert`]).
    pub fn insert(&self, model: impl Into<ModelEntry>) -> Result<()> {
        self.edit(|table| table.insert(model))
    }

    /// Adds a model version or replaces the one with its name and version (see
    /// [`TableEdit::replace`]); returns the model it replaced.
    pub fn replace(&self, model: impl Into<ModelEntry>) -> Result<Option<Servable>> {
        self.edit(|table| table.replace(model))
    }

    /// Removes one version of a model, or every version when `version` is `None` (see
    /// [`TableEdit::remove`]).
    pub fn remove(&self, name: &str, version: Option<&str>) -> Result<()> {
        self.edit(|table| table.remove(name, version))
    }

    /// The loaded model serving `name` (its default version when `version` is `None`), or
    /// `None` when it is not in the table or unloaded.
    pub fn get(&self, name: &str, version: Option<&str>) -> Option<Servable> {
        self.snapshot()
            .entry(name, version)
            .ok()
            .and_then(|e| e.servable.clone())
    }

    /// The versions of `name` in the table, in the order they entered it (`[None]` for an
    /// unversioned model, empty when the name is not served).
    pub fn versions(&self, name: &str) -> Vec<Option<String>> {
        self.snapshot()
            .versions(name)
            .map(|e| e.metadata.version.clone())
            .collect()
    }

    /// The version the unversioned routes of `name` serve (`None` when the name is not
    /// served or is unversioned).
    pub fn default_version(&self, name: &str) -> Option<String> {
        self.snapshot()
            .entry(name, None)
            .ok()
            .and_then(|e| e.metadata.version.clone())
    }

    /// The served names, in the order they entered the table.
    pub fn names(&self) -> Vec<String> {
        let snapshot = self.snapshot();
        let mut seen = HashSet::new();
        snapshot
            .entries
            .iter()
            .filter(|e| seen.insert(e.name()))
            .map(|e| e.name().to_owned())
            .collect()
    }

    /// Whether every model in the table is loaded.
    pub fn all_loaded(&self) -> bool {
        self.snapshot().entries.iter().all(|e| e.servable.is_some())
    }

    /// Unloads every version of `name` (the repository extension's `unload`): the name stays
    /// known, its metadata answers, its inference and readiness answer 503 until
    /// [`ModelTable::reload`].
    pub fn unload(&self, name: &str) -> Result<()> {
        self.edit(|table| {
            let mut found = false;
            for slot in table.entries.iter_mut().filter(|e| e.name() == name) {
                *slot = Arc::new(slot.with_servable(None));
                found = true;
            }
            if found {
                Ok(())
            } else {
                Err(Error::ModelNotFound {
                    name: name.to_owned(),
                })
            }
        })
    }

    /// Loads every version of `name` again from where it came from (the repository
    /// extension's `load`): the object it was given as, its file, or its [`ModelSource`]
    /// (the same version). Every version loads off the async threads before any is swapped
    /// in; on an error nothing changes.
    pub async fn reload(&self, name: &str) -> Result<()> {
        let snapshot = self.snapshot();
        let entries: Vec<Arc<Entry>> = snapshot.versions(name).cloned().collect();
        if entries.is_empty() {
            return Err(Error::ModelNotFound {
                name: name.to_owned(),
            });
        }
        let mut fresh = Vec::with_capacity(entries.len());
        for entry in &entries {
            let servable = match &entry.origin {
                Origin::Given(servable) => servable.clone(),
                Origin::File(path) => {
                    let (path, name, version) = (
                        path.clone(),
                        entry.metadata.name.clone(),
                        entry.metadata.version.clone(),
                    );
                    let loaded = tokio::task::spawn_blocking(move || {
                        crate::runtime::load(&path, &name, version.as_deref())
                    })
                    .await
                    .map_err(|_| Error::inference(entry.name(), "the loader panicked"))?;
                    Servable::Sync(loaded?)
                }
                Origin::Source(source) => {
                    let version = entry.version().ok_or_else(|| {
                        Error::Config(format!(
                            "model {:?} came from a source without a version",
                            entry.name()
                        ))
                    })?;
                    let selector = Selector::Version(version.to_owned());
                    let loaded =
                        crate::source::load(Arc::clone(source), entry.name(), &selector).await?;
                    Servable::Sync(loaded.model)
                }
            };
            fresh.push((entry, servable));
        }
        self.edit(|table| {
            for (old, servable) in fresh {
                // Swap only what is still there: a concurrent change wins over a reload.
                if let Some(slot) = table.entries.iter_mut().find(|e| Arc::ptr_eq(e, old)) {
                    *slot = Arc::new(old.with_servable(Some(servable)));
                }
            }
            Ok(())
        })
    }

    /// Resolves `selector` of `name` in `source`, fetches and loads that version off the
    /// async threads, then adds it to the table (or replaces the same version) as the name's
    /// default; returns the version loaded. Other versions of the name stay.
    ///
    /// To load without serving yet (to warm a model up first, say), call
    /// [`crate::source::load`] and insert its [`crate::LoadedModel`] later.
    pub async fn load_from(
        &self,
        source: Arc<dyn ModelSource>,
        name: &str,
        selector: &Selector,
        options: Option<ModelOptions>,
    ) -> Result<String> {
        let loaded = crate::source::load(source, name, selector).await?;
        let version = loaded.version.clone();
        self.edit(|table| {
            table.replace(ModelEntry::from(loaded).with_options(options))?;
            table.set_default(name, Some(&version))
        })?;
        Ok(version)
    }
}
