//! From a model's name to its log: the catalog (names to ids) is cached for
//! [`CATALOG_REFRESH`]; a cached miss, or a model found deleted or renamed in its own log, is
//! looked up again in a fresh catalog, so a stale cache costs a read, never a write to the
//! wrong model. Reads and appends of a live model's log go through here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mlops_core::{ModelName, ModelVersion};

use super::ObjectRegistry;
use super::catalog::CatalogModel;
use super::log::{CommitLog, Entry};
use super::state::{ModelOp, ModelState};
use crate::error::{RegistryError, Result};
use crate::types::{RegisteredModel, VersionInfo};

/// How long a handle trusts its cached catalog (names to ids) before reading what is new.
/// Within it a model found deleted or renamed in its own log is looked up again at once,
/// so the cache only saves the read.
const CATALOG_REFRESH: Duration = Duration::from_secs(2);

impl ObjectRegistry {
    /// The model with this name and its log. With `fresh`, or when the cached catalog is
    /// older than [`CATALOG_REFRESH`], the catalog is caught up first; a cached miss is
    /// always checked against a fresh catalog.
    pub(super) async fn lookup(
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
            let started = Instant::now();
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
    pub(super) fn is_live(name: &ModelName, state: &ModelState, strict: bool) -> bool {
        !state.deleted && (!strict || state.current_name.as_ref().is_none_or(|n| n == name))
    }

    /// Appends to a live model's log; `decide` sees its state. A model found through the
    /// cached catalog that turns out deleted or renamed is looked up again in a fresh one.
    pub(super) async fn append<F>(
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

    /// Appends `op` to the log of `name` once the folded state shows `version` live (checked
    /// again on every attempt to claim a slot); returns the state after it.
    pub(super) async fn append_to_version(
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

    /// Reads a live model's state (as [`ObjectRegistry::append`] finds it).
    pub(super) async fn read_model<R>(
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

    /// A live version of the model now named `name`.
    pub(super) fn live_version(
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

    /// The public view of a model from its catalog entry and its state.
    pub(super) fn registered(model: &CatalogModel, state: &ModelState) -> RegisteredModel {
        RegisteredModel {
            name: model.name.clone(),
            created: model.created,
            updated: state.updated.unwrap_or(model.created),
            creator: model.creator.clone(),
            description: state.description.clone(),
            tags: state.tags.values().cloned().collect(),
            aliases: state.aliases.clone(),
            latest_version: state.latest(),
            damaged: None,
        }
    }

    /// A model whose log cannot be read, as a listing shows it: its catalog entry and the
    /// error.
    pub(super) fn damaged(model: &CatalogModel, error: &RegistryError) -> RegisteredModel {
        RegisteredModel {
            name: model.name.clone(),
            created: model.created,
            updated: model.created,
            creator: model.creator.clone(),
            description: None,
            tags: Vec::new(),
            aliases: std::collections::BTreeMap::new(),
            latest_version: None,
            damaged: Some(error.to_string()),
        }
    }
}
