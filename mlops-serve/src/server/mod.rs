//! The HTTP server: [`ServerBuilder`] → [`Server`] → [`Server::router`] (an `axum::Router`
//! to nest in your own app) or [`serve`] (a ready server with graceful shutdown).

mod batching;
mod body;
mod guard;
mod handlers;
mod shutdown;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;

pub use shutdown::{serve, shutdown_signal};

use crate::error::{Error, Result};
use crate::metrics::{Metrics, ModelMetrics};
use crate::model::{AsyncModel, Model, Servable};
use batching::Scheduler;

/// The default body limit: 16 MiB, applied after decompression.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Per-model serving options.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelOptions {
    /// Most rows per batch; 1 (the default) turns batching off.
    pub max_batch_size: usize,
    /// How long a batch waits for more requests after its oldest one; 0 (the default) takes
    /// only what is already queued.
    pub max_batch_delay: Duration,
    /// Inferences that run at once (default: the number of CPUs).
    pub workers: usize,
    /// Requests that may wait beyond the running ones before 429 (default 64).
    pub queue_capacity: usize,
    /// Deadline per request, from admission to answer (default 30 s); past it, 504.
    pub deadline: Duration,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            max_batch_size: 1,
            max_batch_delay: Duration::ZERO,
            workers: std::thread::available_parallelism().map_or(2, usize::from),
            queue_capacity: 64,
            deadline: Duration::from_secs(30),
        }
    }
}

impl ModelOptions {
    /// Sets [`ModelOptions::max_batch_size`] and [`ModelOptions::max_batch_delay`].
    pub fn batching(mut self, max_batch_size: usize, max_batch_delay: Duration) -> Self {
        self.max_batch_size = max_batch_size.max(1);
        self.max_batch_delay = max_batch_delay;
        self
    }

    /// Sets [`ModelOptions::workers`] and [`ModelOptions::queue_capacity`].
    pub fn capacity(mut self, workers: usize, queue_capacity: usize) -> Self {
        self.workers = workers.max(1);
        self.queue_capacity = queue_capacity;
        self
    }

    /// Sets [`ModelOptions::deadline`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }
}

/// One served model version.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) version: Option<String>,
    pub(crate) loaded: RwLock<Option<Servable>>,
    pub(crate) initial: Servable,
    pub(crate) source: Option<PathBuf>,
    pub(crate) options: ModelOptions,
    pub(crate) scheduler: Scheduler,
    pub(crate) metrics: ModelMetrics,
}

impl Entry {
    pub(crate) fn servable(&self) -> Option<Servable> {
        self.loaded.read().ok().and_then(|g| g.clone())
    }

    pub(crate) fn set(&self, servable: Option<Servable>) {
        if let Ok(mut slot) = self.loaded.write() {
            *slot = servable;
        }
    }
}

/// Server lifecycle phases.
pub(crate) const PHASE_SERVING: u8 = 0;
/// Readiness false, inference still served (`drain_delay`).
pub(crate) const PHASE_DRAINING: u8 = 1;
/// New inference refused with 503; in-flight requests finish.
pub(crate) const PHASE_STOPPING: u8 = 2;

#[derive(Debug)]
pub(crate) struct Inner {
    /// Model name → its versions, the last one being the default.
    pub(crate) models: HashMap<String, Vec<Arc<Entry>>>,
    /// Names in registration order (for the repository index).
    pub(crate) order: Vec<Arc<Entry>>,
    pub(crate) body_limit: usize,
    pub(crate) token_digest: Option<[u8; 32]>,
    pub(crate) allowed_hosts: Option<Vec<String>>,
    pub(crate) repository: bool,
    pub(crate) phase: AtomicU8,
    pub(crate) drain_delay: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) metrics: Metrics,
}

impl Inner {
    /// The entry for `name` and `version` (the default version when `None`).
    pub(crate) fn entry(&self, name: &str, version: Option<&str>) -> Result<&Arc<Entry>> {
        let versions = self.models.get(name).ok_or_else(|| Error::ModelNotFound {
            name: name.to_owned(),
        })?;
        match version {
            None => versions.last().ok_or_else(|| Error::ModelNotFound {
                name: name.to_owned(),
            }),
            Some(v) => versions
                .iter()
                .find(|e| e.version.as_deref() == Some(v))
                .ok_or_else(|| Error::VersionNotFound {
                    name: name.to_owned(),
                    version: v.to_owned(),
                }),
        }
    }

    pub(crate) fn phase(&self) -> u8 {
        self.phase.load(Ordering::Acquire)
    }
}

/// A configured OIP server: the models, limits and metrics behind [`Server::router`].
///
/// Cheap to clone (an `Arc`).
#[derive(Clone, Debug)]
pub struct Server {
    pub(crate) inner: Arc<Inner>,
}

impl Server {
    /// A builder with the defaults: 16 MiB body limit, no token, any Host, repository
    /// extension off, drain delay 5 s, shutdown timeout 25 s.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The routes (`/v2/...` and `/metrics`) as an `axum::Router` to serve or nest.
    pub fn router(&self) -> Router {
        handlers::router(Arc::clone(&self.inner))
    }

    /// Turns readiness false (`/v2/health/ready` answers 503) while inference is still
    /// served: the first step of a graceful shutdown.
    pub fn start_draining(&self) {
        let _ = self.inner.phase.compare_exchange(
            PHASE_SERVING,
            PHASE_DRAINING,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// Refuses new inference with 503; requests already admitted finish.
    pub fn stop_accepting(&self) {
        self.inner.phase.store(PHASE_STOPPING, Ordering::Release);
    }

    /// Whether the server is ready: serving, and every model loaded.
    pub fn is_ready(&self) -> bool {
        self.inner.phase() == PHASE_SERVING
            && self.inner.order.iter().all(|e| e.servable().is_some())
    }

    /// The Prometheus text exposition that `/metrics` serves.
    pub fn metrics_text(&self) -> String {
        self.inner.metrics.encode()
    }
}

/// Builds the whole router for a server: the same as [`Server::router`].
pub fn router(server: &Server) -> Router {
    server.router()
}

/// Builds a [`Server`].
#[derive(Debug)]
pub struct ServerBuilder {
    models: Vec<(Servable, Option<ModelOptions>, Option<PathBuf>)>,
    defaults: ModelOptions,
    body_limit: usize,
    token: Option<String>,
    allowed_hosts: Option<Vec<String>>,
    repository: bool,
    drain_delay: Duration,
    shutdown_timeout: Duration,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            models: Vec::new(),
            defaults: ModelOptions::default(),
            body_limit: DEFAULT_BODY_LIMIT,
            token: None,
            allowed_hosts: None,
            repository: false,
            drain_delay: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(25),
        }
    }
}

impl ServerBuilder {
    /// Serves a synchronous model with the default options.
    pub fn model(mut self, model: Arc<dyn Model>) -> Self {
        self.models.push((Servable::Sync(model), None, None));
        self
    }

    /// Serves an asynchronous model with the default options.
    pub fn async_model(mut self, model: Arc<dyn AsyncModel>) -> Self {
        self.models.push((Servable::Async(model), None, None));
        self
    }

    /// Serves a model with its own options.
    pub fn model_with(mut self, model: impl Into<Servable>, options: ModelOptions) -> Self {
        self.models.push((model.into(), Some(options), None));
        self
    }

    /// Loads the model file at `path` (see [`crate::runtime::load`]) and serves it as
    /// `name`/`version`. The repository extension's `load` reloads it from the same file.
    pub fn model_file(mut self, path: &Path, name: &str, version: Option<&str>) -> Result<Self> {
        let model = crate::runtime::load(path, name, version)?;
        self.models
            .push((Servable::Sync(model), None, Some(path.to_path_buf())));
        Ok(self)
    }

    /// Options for every model added without its own.
    pub fn default_options(mut self, options: ModelOptions) -> Self {
        self.defaults = options;
        self
    }

    /// The body limit in bytes, applied after decompression (default 16 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Requires `Authorization: Bearer <token>` on every route except `/v2/health/*`.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Answers 403 unless the `Host` header (without port) is one of `hosts`.
    pub fn allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_hosts = Some(
            hosts
                .into_iter()
                .map(|h| h.into().to_ascii_lowercase())
                .collect(),
        );
        self
    }

    /// Turns the model repository extension (`/v2/repository/...`) on or off (default off).
    pub fn repository_extension(mut self, enabled: bool) -> Self {
        self.repository = enabled;
        self
    }

    /// How long [`serve`] keeps serving after readiness turns false (default 5 s).
    pub fn drain_delay(mut self, delay: Duration) -> Self {
        self.drain_delay = delay;
        self
    }

    /// How long [`serve`] waits for in-flight requests after it stops accepting (default 25 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Validates the configuration and builds the server.
    pub fn build(self) -> Result<Server> {
        if self.body_limit == 0 {
            return Err(Error::Config("the body limit must be positive".into()));
        }
        if self.token.as_deref() == Some("") {
            return Err(Error::Config("the bearer token must not be empty".into()));
        }
        let metrics = Metrics::new();
        let mut models: HashMap<String, Vec<Arc<Entry>>> = HashMap::new();
        let mut order = Vec::new();
        for (servable, options, source) in self.models {
            let metadata = servable.metadata().clone();
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
                let mut seen = std::collections::HashSet::new();
                if let Some(dup) = list.iter().find(|s| !seen.insert(s.name.as_str())) {
                    return Err(Error::Config(format!(
                        "model {:?} declares {kind} {:?} twice",
                        metadata.name, dup.name
                    )));
                }
            }
            let versions = models.entry(metadata.name.clone()).or_default();
            if versions.iter().any(|e| e.version == metadata.version) {
                return Err(Error::Config(format!(
                    "model {:?} version {:?} is registered twice",
                    metadata.name, metadata.version
                )));
            }
            let mixed = (metadata.version.is_none() && !versions.is_empty())
                || versions.iter().any(|e| e.version.is_none());
            if mixed {
                return Err(Error::Config(format!(
                    "model {:?} mixes versioned and unversioned registrations",
                    metadata.name
                )));
            }
            let options = options.unwrap_or_else(|| self.defaults.clone());
            let model_metrics = metrics.model(&metadata.name, metadata.version.as_deref());
            let entry = Arc::new(Entry {
                scheduler: Scheduler::new(
                    &metadata.name,
                    options.workers,
                    options.queue_capacity,
                    options.max_batch_size,
                    options.max_batch_delay,
                    model_metrics.clone(),
                ),
                name: metadata.name.clone(),
                version: metadata.version.clone(),
                loaded: RwLock::new(Some(servable.clone())),
                initial: servable,
                source,
                options,
                metrics: model_metrics,
            });
            versions.push(Arc::clone(&entry));
            order.push(entry);
        }
        let token_digest = self.token.as_deref().map(guard::digest);
        Ok(Server {
            inner: Arc::new(Inner {
                models,
                order,
                body_limit: self.body_limit,
                token_digest,
                allowed_hosts: self.allowed_hosts,
                repository: self.repository,
                phase: AtomicU8::new(PHASE_SERVING),
                drain_delay: self.drain_delay,
                shutdown_timeout: self.shutdown_timeout,
                metrics,
            }),
        })
    }
}
