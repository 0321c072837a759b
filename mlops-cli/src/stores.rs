//! Opening a tracking store or a registry from a URI: `http(s)://HOST:PORT` is an MLflow
//! server, anything else a store URI (a folder, `file://`, `memory://`, `s3://`, `az://`,
//! `gs://`). The one place the tool picks a backend; read commands refuse a local folder
//! that does not hold the part, so that a mistyped path is an error, not a new store.

use std::sync::Arc;

use mlops::core::{Backend, StoreUri};
use mlops::registry::{self, ModelRegistry};
use mlops::track::{self, TrackingStore};

use crate::Result;
use crate::layout::{DEFAULT_ROOT, Part};

/// Whether a command may start a new store where there is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Open {
    /// Read commands: the store must exist.
    Existing,
    /// Commands that write (`models register`, `runs sync --to`): created when missing.
    OrCreate,
}

/// A registry and who acts on it (recorded in its audit log and in webhook events).
pub(crate) struct Registry {
    /// The registry.
    pub(crate) registry: Arc<dyn ModelRegistry>,
    /// Who acts.
    pub(crate) actor: String,
}

/// The tracking store at `uri` (`mlops_track::open`), after the tool's own existence check
/// so that its message names the flags.
pub(crate) async fn tracking(uri: &str, open: Open) -> Result<Arc<dyn TrackingStore>> {
    if !track::is_mlflow_uri(uri) {
        require(Part::Tracking, &StoreUri::parse(uri)?, open)?;
    }
    let options = track::OpenOptions::default()
        .create_if_missing(open == Open::OrCreate)
        .credentials_from_env(true);
    Ok(track::open_with(uri, options).await?)
}

/// The registry at `uri` (`mlops_registry::open_with`), acting as `actor` (default: `$USER`).
pub(crate) fn registry(uri: &str, actor: Option<&str>, open: Open) -> Result<Registry> {
    if !registry::is_mlflow_url(uri) {
        require(Part::Registry, &StoreUri::parse(uri)?, open)?;
    }
    let actor = actor.map_or_else(registry::default_actor, str::to_owned);
    let mut options = registry::OpenOptions::new().actor(actor.clone());
    if open == Open::Existing {
        options = options.existing();
    }
    Ok(Registry {
        registry: registry::open_with(uri, &options)?,
        actor,
    })
}

/// For [`Open::Existing`], an error unless a local folder holds `part` (other stores are
/// not checked: listing a bucket to prove a negative costs more than the first read).
fn require(part: Part, uri: &StoreUri, open: Open) -> Result<()> {
    if let Backend::Local(folder) = uri.backend()
        && open == Open::Existing
        && !part.is_in(folder)
    {
        return Err(format!(
            "no {noun} at {path} (give the store root with --store or MLOPS_STORE, or the \
             {noun} with {flag}; the default root is {DEFAULT_ROOT})",
            noun = part.noun(),
            path = folder.display(),
            flag = part.flag(),
        )
        .into());
    }
    Ok(())
}
