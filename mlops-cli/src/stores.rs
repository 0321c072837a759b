//! Opening a tracking store or a registry from a URI: `http(s)://HOST:PORT` is an MLflow
//! server, anything else a store URI (a folder, `file://`, `memory://`, `s3://`, `az://`,
//! `gs://`). The one place the tool picks a backend; read commands refuse a local folder
//! that does not hold the part, so that a mistyped path is an error, not a new store.

use std::sync::Arc;

use mlops::core::{Backend, StoreUri};
use mlops::registry::mlflow::MlflowRegistry;
use mlops::registry::{ModelRegistry, ObjectRegistry};
use mlops::track::mlflow::MlflowStore;
use mlops::track::{LocalStore, TrackingStore};

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

/// The tracking store at `uri`.
pub(crate) async fn tracking(uri: &str, open: Open) -> Result<Arc<dyn TrackingStore>> {
    if is_mlflow(uri) {
        let store = MlflowStore::builder(uri).credentials_from_env().build()?;
        return Ok(Arc::new(store));
    }
    let parsed = StoreUri::parse(uri)?;
    require(Part::Tracking, &parsed, open)?;
    Ok(Arc::new(LocalStore::open_uri(&parsed).await?))
}

/// The registry at `uri`, acting as `actor` (default: `$USER`).
pub(crate) fn registry(uri: &str, actor: Option<&str>, open: Open) -> Result<Registry> {
    if is_mlflow(uri) {
        let store = MlflowStore::builder(uri).credentials_from_env().build()?;
        let mut builder = MlflowRegistry::builder(store);
        if let Some(actor) = actor {
            builder = builder.actor(actor);
        }
        let registry = builder.build()?;
        let actor = registry.actor().to_owned();
        return Ok(Registry {
            registry: Arc::new(registry),
            actor,
        });
    }
    let parsed = StoreUri::parse(uri)?;
    require(Part::Registry, &parsed, open)?;
    let mut registry = ObjectRegistry::open_uri(&parsed)?;
    if let Some(actor) = actor {
        registry = registry.with_actor(actor)?;
    }
    let actor = registry.actor().to_owned();
    Ok(Registry {
        registry: Arc::new(registry),
        actor,
    })
}

fn is_mlflow(uri: &str) -> bool {
    let lower = uri.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
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
