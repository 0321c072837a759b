//! What the table holds: [`ModelEntry`] (a model on its way in), [`Entry`] (one served
//! model version with its scheduler and metrics) and [`Snapshot`] (one published state).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use super::route::{RouteMap, Split};
use crate::error::{Error, Result};
use crate::metrics::ModelMetrics;
use crate::model::{AsyncModel, Model, ModelMetadata, Servable};
use crate::server::ModelOptions;
use crate::server::batching::Scheduler;
use crate::source::{LoadedModel, ModelSource};

/// `(name, version)`: what identifies an entry.
pub(super) type Key = (String, Option<String>);

/// Where an entry's model came from: what a repository `load` (see [`super::ModelTable::reload`])
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

/// A model about to enter a [`super::ModelTable`]: the model, its serving options (the table's
/// defaults when unset) and where it came from.
///
/// Anything that converts into it can be inserted: an `Arc<dyn Model>`, an
/// `Arc<dyn AsyncModel>`, a [`Servable`], a [`LoadedModel`].
#[derive(Clone, Debug)]
pub struct ModelEntry {
    pub(super) servable: Servable,
    pub(super) options: Option<ModelOptions>,
    pub(super) origin: Origin,
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

    pub(super) fn is(&self, name: &str, version: Option<&str>) -> bool {
        self.name() == name && self.version() == version
    }

    pub(super) fn key(&self) -> Key {
        (self.metadata.name.clone(), self.metadata.version.clone())
    }

    /// The same entry (scheduler, metrics, origin) with another model, or unloaded.
    pub(super) fn with_servable(&self, servable: Option<Servable>) -> Entry {
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
    pub(super) defaults: HashMap<String, Option<String>>,
    /// Rollout routes by name (only to versions in the table).
    pub(crate) routes: RouteMap,
    /// Name → positions in `entries` and the position of the default.
    index: HashMap<String, (Vec<usize>, usize)>,
}

impl Snapshot {
    pub(super) fn new(
        entries: Vec<Arc<Entry>>,
        mut defaults: HashMap<String, Option<String>>,
        mut routes: RouteMap,
    ) -> Self {
        for (name, route) in &mut routes {
            let present = |split: &Option<Split>| {
                split
                    .as_ref()
                    .is_some_and(|s| entries.iter().any(|e| e.is(name, Some(s.version.as_str()))))
            };
            if !present(&route.canary) {
                route.canary = None;
            }
            if !present(&route.shadow) {
                route.shadow = None;
            }
        }
        routes.retain(|_, route| !route.is_empty());
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
            routes,
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

    pub(super) fn keys(&self) -> HashSet<Key> {
        self.entries.iter().map(|e| e.key()).collect()
    }
}
