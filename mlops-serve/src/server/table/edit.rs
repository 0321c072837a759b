//! [`TableEdit`]: the changes one [`super::ModelTable::edit`] makes, checked before they are
//! published.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::Shared;
use super::entry::{Entry, Key, ModelEntry};
use super::route::{RouteMap, Split, share};
use crate::error::{Error, Result};
use crate::model::{ModelMetadata, Servable};
use crate::server::ModelOptions;
use crate::server::batching::Scheduler;

/// A change being made to a [`super::ModelTable`] inside [`super::ModelTable::edit`]: nothing is visible to
/// requests until the edit returns `Ok`.
#[derive(Debug)]
pub struct TableEdit<'a> {
    pub(super) entries: Vec<Arc<Entry>>,
    pub(super) defaults: HashMap<String, Option<String>>,
    pub(super) routes: RouteMap,
    pub(super) shared: &'a Shared,
    /// Name and version pairs whose metric series this edit created.
    pub(super) touched: HashSet<Key>,
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

    /// Sends `percent` (0 to 100) of `name`'s unversioned requests to `version` as a canary
    /// (`None` ends the canary). The choice is sticky by the request header `Mlops-Route-Key`
    /// (the same key always reaches the same version, in every replica) and random without
    /// it. The route ends when `version` leaves the table.
    pub fn set_canary(&mut self, name: &str, canary: Option<(&str, f64)>) -> Result<()> {
        let split = self.split(name, canary)?;
        self.routes.entry(name.to_owned()).or_default().canary = split;
        Ok(())
    }

    /// Sends a copy of `percent` (0 to 100) of `name`'s unversioned requests to `version` as
    /// a shadow (`None` ends it): its answers are compared with the served ones and dropped,
    /// never delaying or failing a caller (see [`crate::follow`] for the metrics).
    pub fn set_shadow(&mut self, name: &str, shadow: Option<(&str, f64)>) -> Result<()> {
        let split = self.split(name, shadow)?;
        self.routes.entry(name.to_owned()).or_default().shadow = split;
        Ok(())
    }

    /// The canary of `name`: its version and percentage.
    pub fn canary(&self, name: &str) -> Option<(String, f64)> {
        let split = self.routes.get(name)?.canary.as_ref()?;
        Some((split.version.clone(), f64::from(split.share) / 100.0))
    }

    /// The version `name`'s unversioned routes serve (`None` when it is not served or is
    /// unversioned).
    pub fn default_version(&self, name: &str) -> Option<String> {
        match self.defaults.get(name) {
            Some(default) => default.clone(),
            None => self
                .entries
                .iter()
                .rev()
                .find(|e| e.name() == name)
                .and_then(|e| e.metadata.version.clone()),
        }
    }

    /// Records that a follower keeps `version` of `name` (its served or previous version),
    /// so that another follower of the name never retires it.
    pub(crate) fn hold(&mut self, name: &str, version: &str) {
        *self
            .shared
            .holds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry((name.to_owned(), version.to_owned()))
            .or_default() += 1;
    }

    /// Undoes one [`TableEdit::hold`]; whether no follower keeps the version any more.
    pub(crate) fn release(&mut self, name: &str, version: &str) -> bool {
        let mut holds = self
            .shared
            .holds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (name.to_owned(), version.to_owned());
        match holds.get_mut(&key) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            _ => {
                holds.remove(&key);
                true
            }
        }
    }

    /// Whether `version` of `name` is the default or the target of a canary or shadow route.
    pub(crate) fn in_use(&self, name: &str, version: &str) -> bool {
        let default = match self.defaults.get(name) {
            Some(default) => default.as_deref() == Some(version),
            None => self
                .entries
                .iter()
                .rev()
                .find(|e| e.name() == name)
                .is_some_and(|e| e.version() == Some(version)),
        };
        default || self.routes.get(name).is_some_and(|r| r.uses(version))
    }

    fn split(&self, name: &str, route: Option<(&str, f64)>) -> Result<Option<Split>> {
        let Some((version, percent)) = route else {
            return Ok(None);
        };
        if !self.entries.iter().any(|e| e.is(name, Some(version))) {
            return Err(Error::VersionNotFound {
                name: name.to_owned(),
                version: version.to_owned(),
            });
        }
        let share = share(percent).ok_or_else(|| {
            Error::Config(format!(
                "a route share of {percent} % is not within 0 to 100"
            ))
        })?;
        Ok(Some(Split {
            version: version.to_owned(),
            share,
        }))
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
