//! [`RegistrySource`]: any `mlops_registry::ModelRegistry` as a [`ModelSource`] (feature
//! `registry`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mlops_core::{AliasName, ModelName, ModelVersion};
use mlops_registry::{AliasChange, AliasChangeKind, Expect, ModelRegistry, RegistryExt};

use super::{ModelFile, ModelSource, Resolved, Selector};
use crate::error::{Error, Result};

/// Serves model versions straight from a registry (the object registry on any store, or an
/// MLflow server): aliases resolve through `resolve_alias`, versions are checked with
/// `get_version`, and files come from `download_all`, which verifies every file against
/// the digest recorded at registration (a mismatch is an error, never served).
///
/// Works over any registry, including `Arc<dyn ModelRegistry>` (the default type).
pub struct RegistrySource<R: ?Sized = dyn ModelRegistry> {
    registry: Arc<R>,
}

impl<R: ModelRegistry + ?Sized> RegistrySource<R> {
    /// A source over `registry`.
    pub fn new(registry: Arc<R>) -> Self {
        Self { registry }
    }
}

impl<R: ModelRegistry + ?Sized> fmt::Debug for RegistrySource<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrySource")
            .field("registry", &self.registry)
            .finish()
    }
}

fn model_name(name: &str) -> Result<ModelName> {
    ModelName::parse(name).map_err(|e| Error::source(name, e))
}

fn version_number(name: &str, version: &str) -> Result<ModelVersion> {
    ModelVersion::parse(version).map_err(|e| Error::source(name, e))
}

#[async_trait]
impl<R: ModelRegistry + ?Sized> ModelSource for RegistrySource<R> {
    async fn resolve(&self, name: &str, selector: &Selector) -> Result<Resolved> {
        let model = model_name(name)?;
        let info = match selector {
            Selector::Alias(alias) => {
                let alias = AliasName::parse(alias.as_str()).map_err(|e| Error::source(name, e))?;
                self.registry.resolve_alias(&model, &alias).await
            }
            Selector::Version(version) => {
                let version = version_number(name, version)?;
                self.registry.get_version(&model, version).await
            }
        }
        .map_err(|e| Error::source(name, e))?;
        Ok(Resolved::new(info.version.to_string()))
    }

    /// The time of the alias's last move in its history, when that move was to `version`
    /// (an alias moved outside this crate's registry API, say by MLflow's own client, has
    /// no history: `None`).
    async fn alias_moved_at(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<Option<SystemTime>> {
        let model = model_name(name)?;
        let alias = AliasName::parse(alias).map_err(|e| Error::source(name, e))?;
        let history = self
            .registry
            .alias_history(&model, &alias)
            .await
            .map_err(|e| Error::source(name, e))?;
        Ok(history
            .last()
            .filter(|event| event.to.is_some_and(|to| to.to_string() == version))
            .and_then(|event| u64::try_from(event.time.as_millis()).ok())
            .map(|millis| SystemTime::UNIX_EPOCH + Duration::from_millis(millis)))
    }

    /// A conditional move (`change_alias` expecting `expected`), recorded as a rollback with
    /// `reason` as its note in the audit log.
    async fn move_alias(
        &self,
        name: &str,
        alias: &str,
        to: &str,
        expected: &str,
        reason: &str,
    ) -> Result<()> {
        let model = model_name(name)?;
        let alias = AliasName::parse(alias).map_err(|e| Error::source(name, e))?;
        let change = AliasChange {
            expected: Expect::Version(version_number(name, expected)?),
            kind: AliasChangeKind::Rollback,
            note: Some(reason.to_owned()),
            ..AliasChange::default()
        };
        self.registry
            .change_alias(&model, &alias, Some(version_number(name, to)?), &change)
            .await
            .map_err(|e| Error::source(name, e))?;
        Ok(())
    }

    async fn fetch(&self, name: &str, version: &str) -> Result<Vec<ModelFile>> {
        let model = model_name(name)?;
        let version = version_number(name, version)?;
        let files = self
            .registry
            .download_all(&model, version)
            .await
            .map_err(|e| Error::source(name, e))?;
        Ok(files
            .into_iter()
            .map(|(path, bytes)| ModelFile::new(path.to_string(), bytes))
            .collect())
    }
}
