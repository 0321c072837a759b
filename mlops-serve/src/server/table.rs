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

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::ModelOptions;
use super::batching::Scheduler;
use crate::error::{Error, Result};
use crate::metrics::{Metrics, ModelMetrics};
use crate::model::{AsyncModel, Model, ModelMetadata, Servable};
use crate::source::{LoadedModel, ModelSource, Selector};

/// `(name, version)`: what identifies an entry.
type Key = (String, Option<String>);

/// Where an entry's model came from: what a repository `load` (see [`ModelTable::reload`])
/// goes back to.
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    /// Handed over as an object: reloading restores that object.
    Given(Servable),
    /// Read from a file: reloading reads the file again.
    File(PathBuf),
    /// Fetched from a [`ModelSource`]: reloading fetches the same version again.
    Source(Arc<dyn ModelSource>),
}

/// A model about to enter a [`ModelTable`]: the model, its serving options (the table's
/// defaults when unset) and where it came from.
///
/// Anything that converts into it can be inserted: an `Arc<dyn Model>`, an
/// `Arc<dyn AsyncModel>`, a [`Servable`], a [`LoadedModel`].
#[derive(Clone, Debug)]
pub struct ModelEntry {
    servable: Servable,
    options: Option<ModelOptions>,
    origin: Origin,
}

impl ModelEntry {
    /// A model given as an object, with the table's default options.
    pub fn new(model: impl Into<Servable>) -> Self {
        let servable = model.into();
        Self {
            origin: Origin::Given(servable.clone()),
            servable,
            options: None,
        }
    }

    /// Serves the model with these options instead of the table's defaults.
    pub fn options(mut self, options: ModelOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// A model read from `path`: a repository `load` reads the file again.
    pub(crate) fn file(model: Arc<dyn Model>, path: PathBuf) -> Self {
        Self {
            servable: Servable::Sync(model),
            options: None,
            origin: Origin::File(path),
        }
    }

    pub(crate) fn with_options(mut self, options: Option<ModelOptions>) -> Self {
        self.options = options.or(self.options);
        self
    }
}

impl From<Servable> for ModelEntry {
    fn from(servable: Servable) -> Self {
        Self::new(servable)
    }
}

impl From<Arc<dyn Model>> for ModelEntry {
    fn from(model: Arc<dyn Model>) -> Self {
        Self::new(model)
    }
}

impl From<Arc<dyn AsyncModel>> for ModelEntry {
    fn from(model: Arc<dyn AsyncModel>) -> Self {
        Self::new(model)
    }
}

impl From<LoadedModel> for ModelEntry {
    fn from(loaded: LoadedModel) -> Self {
        Self {
            servable: Servable::Sync(loaded.model),
            options: None,
            origin: Origin::Source(loaded.source),
        }
    }
}

/// One served model version.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The model's metadata, also while it is unloaded.
    pub(crate) metadata: Arc<ModelMetadata>,
    /// The model, or `None` while unloaded through the repository extension.
    pub(crate) servable: Option<Servable>,
    pub(crate) origin: Origin,
    pub(crate) options: ModelOptions,
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) metrics: ModelMetrics,
}

impl Entry {
    pub(crate) fn name(&self) -> &str {
        &self.metadata.name
    }

    pub(crate) fn version(&self) -> Option<&str> {
        self.metadata.version.as_deref()
    }

    fn is(&self, name: &str, version: Option<&str>) -> bool {
        self.name() == name && self.version() == version
    }

    fn key(&self) -> Key {
        (self.metadata.name.clone(), self.metadata.version.clone())
    }

    /// The same entry (scheduler, metrics, origin) with another model, or unloaded.
    fn with_servable(&self, servable: Option<Servable>) -> Entry {
        Entry {
            metadata: Arc::clone(&self.metadata),
            servable,
            origin: self.origin.clone(),
            options: self.options.clone(),
            scheduler: Arc::clone(&self.scheduler),
            metrics: self.metrics.clone(),
        }
    }
}

/// One published state of the table.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// Every entry, in the order its name and version first entered the table.
    pub(crate) entries: Vec<Arc<Entry>>,
    /// The version each name's unversioned routes serve, when chosen explicitly; otherwise
    /// the one that entered last.
    defaults: HashMap<String, Option<String>>,
    /// Name → positions in `entries` and the position of the default.
    index: HashMap<String, (Vec<usize>, usize)>,
}

impl Snapshot {
    fn new(entries: Vec<Arc<Entry>>, mut defaults: HashMap<String, Option<String>>) -> Self {
        let mut index: HashMap<String, (Vec<usize>, usize)> = HashMap::new();
        for (position, entry) in entries.iter().enumerate() {
            let slot = index
                .entry(entry.metadata.name.clone())
                .or_insert_with(|| (Vec::new(), position));
            slot.0.push(position);
            slot.1 = position;
        }
        defaults.retain(|name, version| match index.get_mut(name) {
            None => false,
            Some((positions, default)) => {
                match positions
                    .iter()
                    .find(|&&p| entries[p].metadata.version == *version)
                {
                    Some(&p) => {
                        *default = p;
                        true
                    }
                    None => false,
                }
            }
        });
        Self {
            entries,
            defaults,
            index,
        }
    }

    /// The entry for `name` and `version` (the default version when `None`).
    pub(crate) fn entry(&self, name: &str, version: Option<&str>) -> Result<&Arc<Entry>> {
        let (positions, default) = self.index.get(name).ok_or_else(|| Error::ModelNotFound {
            name: name.to_owned(),
        })?;
        match version {
            None => Ok(&self.entries[*default]),
            Some(v) => positions
                .iter()
                .map(|&p| &self.entries[p])
                .find(|e| e.version() == Some(v))
                .ok_or_else(|| Error::VersionNotFound {
                    name: name.to_owned(),
                    version: v.to_owned(),
                }),
        }
    }

    /// Every version of `name`, in the order they entered the table.
    pub(crate) fn versions(&self, name: &str) -> impl Iterator<Item = &Arc<Entry>> {
        self.index
            .get(name)
            .into_iter()
            .flat_map(|(positions, _)| positions.iter().map(|&p| &self.entries[p]))
    }

    fn keys(&self) -> HashSet<Key> {
        self.entries.iter().map(|e| e.key()).collect()
    }
}

#[derive(Debug)]
struct Shared {
    current: RwLock<Arc<Snapshot>>,
    writer: Mutex<()>,
    metrics: Arc<Metrics>,
    defaults: ModelOptions,
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
            }),
        }
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
            shared: &self.shared,
            touched: HashSet::new(),
        };
        let result = change(&mut edit);
        let TableEdit {
            entries,
            defaults,
            touched,
            ..
        } = edit;
        let before = current.keys();
        let after = match &result {
            Ok(_) => {
                let next = Snapshot::new(entries, defaults);
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
    /// [`crate::source::load`] and insert its [`LoadedModel`] later.
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

/// A change being made to a [`ModelTable`] inside [`ModelTable::edit`]: nothing is visible to
/// requests until the edit returns `Ok`.
#[derive(Debug)]
pub struct TableEdit<'a> {
    entries: Vec<Arc<Entry>>,
    defaults: HashMap<String, Option<String>>,
    shared: &'a Shared,
    /// Name and version pairs whose metric series this edit created.
    touched: HashSet<Key>,
}

impl TableEdit<'_> {
    /// Adds a model version, which becomes its name's default. Refused when that name and
    /// version are already served, when an unversioned model would join versioned ones (or
    /// the reverse), or when the metadata is invalid (a bad name or version, an input or
    /// output declared twice).
    pub fn insert(&mut self, model: impl Into<ModelEntry>) -> Result<()> {
        let model = model.into();
        let metadata = checked_metadata(model.servable.metadata())?;
        if self
            .entries
            .iter()
            .any(|e| e.is(&metadata.name, metadata.version.as_deref()))
        {
            return Err(Error::Config(format!(
                "model {:?} version {:?} is registered twice",
                metadata.name, metadata.version
            )));
        }
        self.check_versioning(&metadata)?;
        let entry = self.entry(model, metadata, None);
        self.defaults
            .insert(entry.metadata.name.clone(), entry.metadata.version.clone());
        self.entries.push(Arc::new(entry));
        Ok(())
    }

    /// Replaces the model with the same name and version (keeping its place and, unless the
    /// new entry sets its own, its options; not changing the default), or adds it as
    /// [`TableEdit::insert`] does. Returns the model it replaced.
    pub fn replace(&mut self, model: impl Into<ModelEntry>) -> Result<Option<Servable>> {
        let model = model.into();
        let metadata = checked_metadata(model.servable.metadata())?;
        let Some(position) = self
            .entries
            .iter()
            .position(|e| e.is(&metadata.name, metadata.version.as_deref()))
        else {
            self.insert(model)?;
            return Ok(None);
        };
        let old = Arc::clone(&self.entries[position]);
        let entry = self.entry(model, metadata, Some(&old.options));
        self.entries[position] = Arc::new(entry);
        Ok(old.servable.clone())
    }

    /// Removes version `version` of `name`, or every version when `None`. When the default
    /// version goes, the remaining version that entered last becomes the default.
    pub fn remove(&mut self, name: &str, version: Option<&str>) -> Result<()> {
        let before = self.entries.len();
        self.entries
            .retain(|e| !(e.name() == name && (version.is_none() || e.version() == version)));
        if self.entries.len() < before {
            return Ok(());
        }
        match version {
            Some(v) if self.entries.iter().any(|e| e.name() == name) => {
                Err(Error::VersionNotFound {
                    name: name.to_owned(),
                    version: v.to_owned(),
                })
            }
            _ => Err(Error::ModelNotFound {
                name: name.to_owned(),
            }),
        }
    }

    /// Chooses the version `/v2/models/NAME` serves (`None` for an unversioned model).
    pub fn set_default(&mut self, name: &str, version: Option<&str>) -> Result<()> {
        if !self.entries.iter().any(|e| e.is(name, version)) {
            return Err(match version {
                Some(v) if self.entries.iter().any(|e| e.name() == name) => {
                    Error::VersionNotFound {
                        name: name.to_owned(),
                        version: v.to_owned(),
                    }
                }
                _ => Error::ModelNotFound {
                    name: name.to_owned(),
                },
            });
        }
        self.defaults
            .insert(name.to_owned(), version.map(str::to_owned));
        Ok(())
    }

    /// The versions of `name` currently in this edit, in table order.
    pub fn versions(&self, name: &str) -> Vec<Option<String>> {
        self.entries
            .iter()
            .filter(|e| e.name() == name)
            .map(|e| e.metadata.version.clone())
            .collect()
    }

    /// A name may not mix unversioned and versioned models.
    fn check_versioning(&self, metadata: &ModelMetadata) -> Result<()> {
        let mixed = self
            .entries
            .iter()
            .filter(|e| e.name() == metadata.name)
            .any(|e| e.version().is_none() || metadata.version.is_none());
        if mixed {
            return Err(Error::Config(format!(
                "model {:?} mixes versioned and unversioned registrations",
                metadata.name
            )));
        }
        Ok(())
    }

    fn entry(
        &mut self,
        model: ModelEntry,
        metadata: ModelMetadata,
        inherited: Option<&ModelOptions>,
    ) -> Entry {
        let options = model
            .options
            .or_else(|| inherited.cloned())
            .unwrap_or_else(|| self.shared.defaults.clone());
        let metrics = self
            .shared
            .metrics
            .model(&metadata.name, metadata.version.as_deref());
        self.touched
            .insert((metadata.name.clone(), metadata.version.clone()));
        Entry {
            scheduler: Arc::new(Scheduler::new(
                &metadata.name,
                options.workers,
                options.queue_capacity,
                options.max_batch_size,
                options.max_batch_delay,
                metrics.clone(),
            )),
            metadata: Arc::new(metadata),
            servable: Some(model.servable),
            origin: model.origin,
            options,
            metrics,
        }
    }
}

/// The model's metadata, checked: a valid name, a valid version, no input or output twice.
fn checked_metadata(metadata: &ModelMetadata) -> Result<ModelMetadata> {
    mlops_core::ModelName::parse(metadata.name.as_str())?;
    if let Some(version) = &metadata.version {
        let valid = !version.is_empty()
            && version.len() <= 64
            && version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(Error::Config(format!(
                "model {:?} has an invalid version {version:?}",
                metadata.name
            )));
        }
    }
    for (kind, list) in [("input", &metadata.inputs), ("output", &metadata.outputs)] {
        let mut seen = HashSet::new();
        if let Some(dup) = list.iter().find(|s| !seen.insert(s.name.as_str())) {
            return Err(Error::Config(format!(
                "model {:?} declares {kind} {:?} twice",
                metadata.name, dup.name
            )));
        }
    }
    Ok(metadata.clone())
}
