//! The HTTP server: [`ServerBuilder`] → [`Server`] → [`Server::router`] (an `axum::Router`
//! to nest in your own app) or [`serve`] (a ready server with graceful shutdown), and
//! [`ModelTable`], the models it serves, changed while it serves ([`Server::models`]).

mod batching;
mod body;
mod bound;
mod budget;
mod guard;
mod handlers;
mod inflate;
mod listen;
mod shadow;
mod shutdown;
mod table;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use axum::Router;

pub use budget::DEFAULT_BODY_BUDGET;
pub use listen::{DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_CONNECTIONS};
pub use shutdown::{serve, shutdown_signal};
pub use table::{ModelEntry, ModelTable, TableEdit};

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::model::{AsyncModel, Model, Servable};
use crate::observe::Observer;
use crate::source::{ModelSource, Selector};

/// The default body limit: 16 MiB, applied after decompression.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The default body-progress timeout: 60 s without a byte of the body (nginx's
/// `client_body_timeout`) and the request is answered 408.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);

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

/// Server lifecycle phases.
pub(crate) const PHASE_SERVING: u8 = 0;
/// Readiness false, inference still served (`drain_delay`).
pub(crate) const PHASE_DRAINING: u8 = 1;
/// New inference refused with 503; in-flight requests finish.
pub(crate) const PHASE_STOPPING: u8 = 2;

/// The observer, if any (a newtype for `Debug`).
#[derive(Clone, Default)]
pub(crate) struct ObserverSlot(pub(crate) Option<Arc<dyn Observer>>);

impl std::fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) table: ModelTable,
    pub(crate) body_limit: usize,
    pub(crate) body_timeout: Duration,
    pub(crate) body_budget: budget::BodyBudget,
    pub(crate) token_digest: Option<[u8; 32]>,
    pub(crate) allowed_hosts: Option<Vec<String>>,
    pub(crate) repository: bool,
    pub(crate) phase: AtomicU8,
    pub(crate) drain_delay: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) connections: listen::ConnectionLimits,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) observer: ObserverSlot,
    pub(crate) shadow: shadow::ShadowQueue,
}

impl Inner {
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
    /// A builder with the defaults: 16 MiB body limit, body timeout 60 s, 256 MiB budget
    /// for bodies in flight, no token, any Host, repository
    /// extension off, drain delay 5 s, shutdown timeout 25 s, header-read timeout 10 s,
    /// 1024 connections.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The routes (`/v2/...` and `/metrics`) as an `axum::Router` to serve or nest.
    pub fn router(&self) -> Router {
        handlers::router(Arc::clone(&self.inner))
    }

    /// The model table, to add, replace and remove models while the server serves.
    pub fn models(&self) -> ModelTable {
        self.inner.table.clone()
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
        self.inner.phase() == PHASE_SERVING && self.inner.table.all_loaded()
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
    models: Vec<ModelEntry>,
    observer: ObserverSlot,
    defaults: ModelOptions,
    body_limit: usize,
    body_timeout: Duration,
    body_budget: usize,
    token: Option<String>,
    allowed_hosts: Option<Vec<String>>,
    repository: bool,
    drain_delay: Duration,
    shutdown_timeout: Duration,
    connections: listen::ConnectionLimits,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            models: Vec::new(),
            observer: ObserverSlot::default(),
            defaults: ModelOptions::default(),
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            body_budget: DEFAULT_BODY_BUDGET,
            token: None,
            allowed_hosts: None,
            repository: false,
            drain_delay: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(25),
            connections: listen::ConnectionLimits {
                header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
                max_connections: DEFAULT_MAX_CONNECTIONS,
            },
        }
    }
}

impl ServerBuilder {
    /// Serves a synchronous model with the default options.
    pub fn model(mut self, model: Arc<dyn Model>) -> Self {
        self.models.push(ModelEntry::new(model));
        self
    }

    /// Serves an asynchronous model with the default options.
    pub fn async_model(mut self, model: Arc<dyn AsyncModel>) -> Self {
        self.models.push(ModelEntry::new(model));
        self
    }

    /// Serves a model with its own options.
    pub fn model_with(mut self, model: impl Into<Servable>, options: ModelOptions) -> Self {
        self.models.push(ModelEntry::new(model).options(options));
        self
    }

    /// Serves a model entry: a model with its options, or a [`LoadedModel`](crate::LoadedModel).
    pub fn entry(mut self, entry: impl Into<ModelEntry>) -> Self {
        self.models.push(entry.into());
        self
    }

    /// Loads the model file at `path` (see [`crate::runtime::load`]) and serves it as
    /// `name`/`version`. The repository extension's `load` reloads it from the same file.
    pub fn model_file(mut self, path: &Path, name: &str, version: Option<&str>) -> Result<Self> {
        let model = crate::runtime::load(path, name, version)?;
        self.models
            .push(ModelEntry::file(model, path.to_path_buf()));
        Ok(self)
    }

    /// Loads `selector` of `name` from `source` (see [`crate::source::load`]) and serves it
    /// at the version it resolved to. The repository extension's `load` fetches that same
    /// version again.
    pub async fn model_from_source(
        mut self,
        source: Arc<dyn ModelSource>,
        name: &str,
        selector: &Selector,
    ) -> Result<Self> {
        let loaded = crate::source::load(source, name, selector).await?;
        self.models.push(loaded.into());
        Ok(self)
    }

    /// Hands every successful inference to `observer` (see [`crate::observe`]).
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = ObserverSlot(Some(observer));
        self
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

    /// How long a request body may stop arriving (no byte at all) before the request is
    /// answered 408 (default 60 s).
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// The memory budget shared by every request body in flight, in bytes (default 256 MiB;
    /// at least the body limit). A request whose body does not fit waits briefly, then is
    /// answered 503 with `Retry-After`.
    pub fn body_budget(mut self, bytes: usize) -> Self {
        self.body_budget = bytes;
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

    /// How long [`serve`] gives a client to send a request head, the idle time of a
    /// keep-alive connection before it included (default 10 s); past it the connection is
    /// closed.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.connections.header_read_timeout = timeout;
        self
    }

    /// How many connections [`serve`] serves at once (default 1024). At the cap, a new
    /// connection takes the slot of the connection idle longest (no request in flight);
    /// when every connection has a request in flight, the new one is closed.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.connections.max_connections = connections;
        self
    }

    /// Validates the configuration and builds the server.
    pub fn build(self) -> Result<Server> {
        if self.body_limit == 0 {
            return Err(Error::Config("the body limit must be positive".into()));
        }
        if self.connections.max_connections == 0 {
            return Err(Error::Config("the connection cap must be positive".into()));
        }
        if self.body_budget < self.body_limit {
            return Err(Error::Config(format!(
                "the body budget ({} bytes) must be at least the body limit ({} bytes)",
                self.body_budget, self.body_limit
            )));
        }
        if self.body_timeout.is_zero() {
            return Err(Error::Config("the body timeout must be positive".into()));
        }
        if self.connections.header_read_timeout.is_zero() {
            return Err(Error::Config(
                "the header-read timeout must be positive".into(),
            ));
        }
        if self.token.as_deref() == Some("") {
            return Err(Error::Config("the bearer token must not be empty".into()));
        }
        let metrics = Arc::new(Metrics::new());
        let table = ModelTable::new(Arc::clone(&metrics), self.defaults);
        table.edit(|table| {
            for model in self.models {
                table.insert(model)?;
            }
            Ok(())
        })?;
        let token_digest = self.token.as_deref().map(guard::digest);
        Ok(Server {
            inner: Arc::new(Inner {
                table,
                body_limit: self.body_limit,
                body_timeout: self.body_timeout,
                body_budget: budget::BodyBudget::new(self.body_budget),
                token_digest,
                allowed_hosts: self.allowed_hosts,
                repository: self.repository,
                phase: AtomicU8::new(PHASE_SERVING),
                drain_delay: self.drain_delay,
                shutdown_timeout: self.shutdown_timeout,
                connections: self.connections,
                shadow: shadow::ShadowQueue::new(Arc::clone(&metrics)),
                metrics,
                observer: self.observer,
            }),
        })
    }
}
