//! The MLflow backend: [`MlflowRegistry`] implements [`ModelRegistry`](crate::ModelRegistry)
//! against an MLflow 3.x server's model-registry REST API, on top of mlops-track's MLflow
//! client (its URL checks, credentials, deadlines, retries with backoff and error mapping).
//!
//! ```no_run
//! use mlops_registry::mlflow::MlflowRegistry;
//! use mlops_registry::{ModelName, ModelRegistry, NewVersion, ArtifactPath};
//! use mlops_track::mlflow::MlflowStore;
//!
//! # async fn demo() -> mlops_registry::Result<()> {
//! let store = MlflowStore::builder("http://127.0.0.1:5000").credentials_from_env().build()?;
//! let registry = MlflowRegistry::builder(store).actor("ci-pipeline").build()?;
//! let name = ModelName::parse("fraud")?;
//! registry.create_model(&name, Some("fraud scores"), &[]).await?;
//! let v = registry
//!     .create_version(
//!         &name,
//!         NewVersion::new().with_artifact(ArtifactPath::parse("model.onnx")?, b"...".to_vec()),
//!     )
//!     .await?;
//! # let _ = v;
//! # Ok(())
//! # }
//! ```
//!
//! # Mapping
//!
//! | trait method | MLflow |
//! | --- | --- |
//! | `create_model`, `get_model`, `rename_model`, `delete_model` | `registered-models/create`, `…/get`, `…/rename`, `…/delete` |
//! | `search_models` | `registered-models/search` with `name ILIKE '%text%'`, ordered by name |
//! | `update_model` (description, tags set, tags deleted) | `registered-models/update`, `…/set-tag`, `…/delete-tag` |
//! | `create_version` | the files are uploaded through the `mlflow-artifacts` proxy into a run, then `model-versions/create` with that folder as the source |
//! | `get_version`, `delete_version` | `model-versions/get`, `…/delete` |
//! | `update_version` (description, tags set, tags deleted, stage) | `model-versions/update`, `…/set-tag`, `…/delete-tag`, `…/transition-stage` |
//! | `search_versions` | `model-versions/search` (`name = …`, `run_id = …`, newest first); the aliases it leaves out (MLflow #9783) come from one `registered-models/get` per model on the page |
//! | `change_alias`, `resolve_alias`, `list_aliases` | `registered-models/alias` (POST, DELETE, GET); the aliases of `registered-models/get` |
//! | `download_artifact`, `download_drift_profile` | the artifact proxy, each file checked against its recorded SHA-256 |
//! | `update_version`'s status, audit log, approvals, alias history | tags, see below |
//!
//! # Where the rest lives
//!
//! MLflow keeps no digests, signatures (outside `MLmodel` files), metrics snapshots,
//! datasets, approvals or audit log for a version. This backend keeps them in tags under
//! the reserved prefix `mlops.registry.` (user tags under it are refused; reads hide them):
//! a version's manifest (creator, files with SHA-256 and size, where they were uploaded,
//! the source run and its metrics snapshot, signature, drift-profile digest, datasets) is
//! sent with `model-versions/create`, so it is written in the same transaction as the
//! version; a status set with `update_version` (MLflow's API cannot change a status)
//! is the tag `mlops.registry.status`; the audit log is one model tag per entry,
//! `mlops.registry.audit.<ms>.<txn>`. Long values are split into parts of at most 4000
//! characters (MLflow's SQL schema holds registered-model tag values in `VARCHAR(5000)`),
//! the parts written before the tag that announces them, so an entry appears whole or not
//! at all.
//!
//! # Files
//!
//! MLflow accepts a version source under the proxy only inside a run's artifacts (the
//! `run_id` must own the source). When the version's source run exists on this server,
//! the files are uploaded into that run under `mlops-registry/<txn>/files/`, and the
//! version is linked to it as MLflow's own `register_model` would link it; otherwise a
//! holder run is created in the experiment `mlops-registry`
//! ([`MlflowRegistryBuilder::upload_experiment`]) and finished after the upload. The source
//! is then `<run artifact URI>/mlops-registry/<txn>/files`: MLflow's Python client
//! downloads it with `mlflow.artifacts.download_artifacts`. Every download through this backend is
//! checked against the SHA-256 recorded at registration, so a file replaced behind the
//! registry's back is a [`DigestMismatch`](crate::RegistryError::DigestMismatch).
//! Versions registered by other clients have no recorded digests; their files are not
//! served by [`download_artifact`](crate::ModelRegistry::download_artifact)
//! (`InvalidState`), and their run link is read from the run.
//!
//! # What MLflow cannot promise
//!
//! MLflow's API has no conditional write, so this backend is weaker than the object-store
//! backend, and says so:
//!
//! - An alias precondition is checked by reading the alias, then the alias is set: two
//!   requests. Two promoters racing on one alias can both pass their check, and the later
//!   write wins. Use the object-store backend where promotions race.
//! - An audit entry is written after the change it records, as a separate request. A
//!   process that dies between the two leaves the change without its entry. Entries are
//!   ordered by the writer's clock (then by transaction id), and an entry's `seq` is its
//!   position when the log is read; alias events returned by `set_alias` and
//!   `alias_history` carry `seq` 0.
//! - The log grows the model's tags: MLflow's UI lists them, and every
//!   `registered-models/get` carries them all (this backend's promote and resolve paths use
//!   `registered-models/alias`, which does not).
//! - Anyone with write access to the server can edit or delete these tags; the log is a
//!   record kept by cooperating clients, not tamper-proof. Deleting a model deletes its
//!   tags, and with them its log. Changes made by other clients (MLflow's UI or Python
//!   client) are not in it.
//! - Creates are not idempotent on the server. `create_model` and `create_version` carry a
//!   transaction id in the tag `mlops.registry.txn`; when an answer is lost, the backend
//!   looks for that id before sending again, so a retry never registers a version twice.
//! - Model names: MLflow compares them case-sensitively; this backend refuses a name that
//!   differs only in case from an existing one by searching first (a check, then a create:
//!   two requests, like the alias precondition).
//! - A version whose upload or registration fails leaves its files in the run they were
//!   uploaded to (under `mlops-registry/<txn>/`); nothing refers to them.
//! - `search_versions` by run reads every match of two searches (MLflow's filter has no
//!   `OR`: versions registered here carry the source run in a tag, others in MLflow's
//!   `run_id`) and pages them itself; other searches page on the server.

mod audit;
mod backend;
mod calls;
mod convert;
mod meta;
mod updates;
mod upload;
mod wire;

use std::sync::Arc;

use mlops_core::{ExperimentId, ExperimentName};
use mlops_mlflow::RestClient;
use mlops_track::mlflow::MlflowStore;
use tokio::sync::OnceCell;

/// The experiment that holds runs created only to hold uploaded version files.
pub const DEFAULT_UPLOAD_EXPERIMENT: &str = "mlops-registry";

/// A [`ModelRegistry`](crate::ModelRegistry) on an MLflow 3.x server.
///
/// Cloning is cheap; clones share one connection pool. See [the module
/// documentation](self) for the mapping onto MLflow and its limits.
#[derive(Clone, Debug)]
pub struct MlflowRegistry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: MlflowStore,
    rest: RestClient,
    actor: String,
    upload_experiment: String,
    experiment_id: OnceCell<ExperimentId>,
}

/// Settings of an [`MlflowRegistry`]; [`MlflowRegistry::builder`] starts one.
#[derive(Clone, Debug)]
pub struct MlflowRegistryBuilder {
    store: MlflowStore,
    actor: String,
    upload_experiment: String,
}

impl MlflowRegistryBuilder {
    /// Who is acting, recorded in the audit log and as the creator of models and versions.
    /// Default: `$USER`, else `unknown`.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// The experiment (created when missing) that holds the runs this backend creates to
    /// hold the files of versions without a source run on this server. Default:
    /// [`DEFAULT_UPLOAD_EXPERIMENT`].
    pub fn upload_experiment(mut self, name: &ExperimentName) -> Self {
        self.upload_experiment = name.as_str().to_owned();
        self
    }

    /// The registry. Fails when the actor is empty, longer than 255 bytes, padded with
    /// whitespace or holds control characters.
    pub fn build(self) -> crate::Result<MlflowRegistry> {
        crate::checks::check_actor("actor", &self.actor)?;
        let rest = self.store.rest_client().clone();
        Ok(MlflowRegistry {
            inner: Arc::new(Inner {
                store: self.store,
                rest,
                actor: self.actor,
                upload_experiment: self.upload_experiment,
                experiment_id: OnceCell::new(),
            }),
        })
    }
}

impl MlflowRegistry {
    /// Settings for a registry on the server `store` talks to, with its URL, credentials,
    /// deadlines and retries.
    pub fn builder(store: MlflowStore) -> MlflowRegistryBuilder {
        MlflowRegistryBuilder {
            store,
            actor: crate::checks::default_actor(),
            upload_experiment: DEFAULT_UPLOAD_EXPERIMENT.to_owned(),
        }
    }

    /// A registry on the server at `base_url` (e.g. `http://127.0.0.1:5000`) with default
    /// settings and credentials from MLflow's environment variables.
    pub fn new(base_url: &str) -> crate::Result<Self> {
        let store = MlflowStore::builder(base_url)
            .credentials_from_env()
            .build()?;
        Self::builder(store).build()
    }

    /// A registry on the server at `base_url` authenticated by `credentials`, acting as
    /// `actor` (default `$USER`): what [`crate::open_with`] builds for an `http(s)://` URI.
    pub(crate) fn from_url(
        base_url: &str,
        credentials: &crate::MlflowCredentials,
        actor: Option<&str>,
    ) -> crate::Result<Self> {
        let store = MlflowStore::builder(base_url);
        let store = match credentials {
            crate::MlflowCredentials::None => store,
            crate::MlflowCredentials::Token(token) => store.token(token.clone()),
            crate::MlflowCredentials::Basic { user, password } => {
                store.basic_auth(user.clone(), password.clone())
            }
            crate::MlflowCredentials::FromEnv => store.credentials_from_env(),
        };
        let builder = Self::builder(store.build()?);
        match actor {
            Some(actor) => builder.actor(actor),
            None => builder,
        }
        .build()
    }

    /// The tracking store this registry reads source runs and artifacts through.
    pub fn tracking_store(&self) -> &MlflowStore {
        &self.inner.store
    }

    /// Who is acting.
    pub fn actor(&self) -> &str {
        &self.inner.actor
    }
}
