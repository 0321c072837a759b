//! Where served models come from: a [`ModelSource`] resolves a model name and a [`Selector`]
//! (a version or an alias) to a version, and fetches that version's files; [`load`] turns
//! them into a model ([`crate::runtime::load_files`]) without writing anything to disk.
//!
//! Two sources ship: [`FileSource`] (local files and folders, what `--model NAME=PATH` serves)
//! and, with the `registry` feature, `RegistrySource` (any `mlops_registry::ModelRegistry`:
//! the object registry or an MLflow server). Resolving is separate from fetching so that a
//! watcher can poll [`ModelSource::resolve`] cheaply and fetch only when the version changes.

mod file;
#[cfg(feature = "registry")]
mod registry;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

pub use file::FileSource;
#[cfg(feature = "registry")]
pub use registry::RegistrySource;

use crate::error::{Error, Result};
use crate::model::Model;

/// Which version of a model to serve: a fixed version or an alias that may move.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Selector {
    /// A version id, as the source names it (`"3"` for a registry version).
    Version(String),
    /// An alias, such as `"champion"`.
    Alias(String),
}

impl FromStr for Selector {
    type Err = Error;

    /// Digits are a version (`NAME@3`), anything else an alias (`NAME@champion`), as in
    /// MLflow's `models:/NAME@ALIAS` and `models:/NAME/VERSION`.
    fn from_str(text: &str) -> Result<Self> {
        if text.is_empty() {
            return Err(Error::Config("an empty version or alias".into()));
        }
        Ok(if text.bytes().all(|b| b.is_ascii_digit()) {
            Selector::Version(text.to_owned())
        } else {
            Selector::Alias(text.to_owned())
        })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Version(v) => write!(f, "version {v}"),
            Selector::Alias(a) => write!(f, "alias {a}"),
        }
    }
}

/// What a [`Selector`] resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resolved {
    /// The version id, served as the model's version.
    pub version: String,
}

impl Resolved {
    /// A resolution to `version`.
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
        }
    }
}

/// One file of a model version, as fetched by a [`ModelSource`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFile {
    /// Its path inside the version (`/`-separated, relative), used to pick the model file
    /// and in messages.
    pub path: String,
    /// Its content.
    pub bytes: bytes::Bytes,
    /// The SHA-256 of `bytes`, 64 lowercase hex digits.
    pub sha256: String,
}

impl ModelFile {
    /// A file and the SHA-256 of its bytes.
    pub fn new(path: impl Into<String>, bytes: impl Into<bytes::Bytes>) -> Self {
        let bytes = bytes.into();
        let sha256 = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            path: path.into(),
            bytes,
            sha256,
        }
    }
}

/// A place models are loaded from.
///
/// Implementations check what they can (a registry verifies every file against its recorded
/// digest, and a mismatch is an error, never a file) and report failures as
/// [`Error::Source`].
#[async_trait]
pub trait ModelSource: fmt::Debug + Send + Sync + 'static {
    /// The version `selector` names now. Should be cheap: a watcher may call it often.
    async fn resolve(&self, name: &str, selector: &Selector) -> Result<Resolved>;

    /// Every file of version `version` of `name`.
    async fn fetch(&self, name: &str, version: &str) -> Result<Vec<ModelFile>>;

    /// When `alias` of `name` was last moved to `version`, if the source records it: what a
    /// watcher measures the move-to-serving time from (default: unknown, and the watcher
    /// measures from the poll that saw the move). Called once per move, not per poll.
    async fn alias_moved_at(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<Option<SystemTime>> {
        let _ = (name, alias, version);
        Ok(None)
    }

    /// Moves `alias` of `name` to `to` if it still names `expected` (else nothing changes and
    /// the result is an error), recording `reason`: what an automatic rollback calls. A source
    /// that cannot move aliases refuses (the default).
    async fn move_alias(
        &self,
        name: &str,
        alias: &str,
        to: &str,
        expected: &str,
        reason: &str,
    ) -> Result<()> {
        let _ = (alias, to, expected, reason);
        Err(Error::source(name, "this model source cannot move aliases"))
    }
}

/// A model loaded from a [`ModelSource`], not yet served: insert it into a
/// [`crate::ModelTable`] (a repository `load` then fetches the same version again).
#[derive(Clone)]
pub struct LoadedModel {
    /// The model, serving `name` at `version`.
    pub model: Arc<dyn Model>,
    /// The version the selector resolved to.
    pub version: String,
    pub(crate) source: Arc<dyn ModelSource>,
}

impl fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedModel")
            .field("metadata", self.model.metadata())
            .field("version", &self.version)
            .field("source", &self.source)
            .finish()
    }
}

/// Resolves `selector` of `name` in `source`, fetches that version and loads it with
/// [`crate::runtime::load_files`] on the blocking pool (ONNX optimisation takes a while).
pub async fn load(
    source: Arc<dyn ModelSource>,
    name: &str,
    selector: &Selector,
) -> Result<LoadedModel> {
    let resolved = source.resolve(name, selector).await?;
    let files = source.fetch(name, &resolved.version).await?;
    let (owned_name, version) = (name.to_owned(), resolved.version.clone());
    let model = tokio::task::spawn_blocking(move || {
        crate::runtime::load_files(&files, &owned_name, Some(&version))
    })
    .await
    .map_err(|_| Error::inference(name, "the loader panicked"))??;
    Ok(LoadedModel {
        model,
        version: resolved.version,
        source,
    })
}
