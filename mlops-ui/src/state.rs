//! [`Ui`] (the stores a UI shows and its options) and the [`Router`] it builds.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use mlops_core::StoreRoot;
use mlops_registry::ModelRegistry;
use mlops_track::TrackingStore;
use sha2::{Digest, Sha256};

use crate::chart_cache::ChartCache;
use crate::drift_history::DriftHistory;
use crate::pages::best::Extremes;
use crate::reviewers::Reviewers;
use crate::{assets, guard, pages};

/// Caps on what one page may show or compute, so that no request can make the server read
/// or send without bound.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Runs per page of the runs table (default 100, at most this).
    pub max_page_size: usize,
    /// Points per chart series (default 2,000; a request may ask for fewer).
    pub max_points: usize,
    /// Runs in one comparison.
    pub max_compare: usize,
    /// Artifacts listed per run (recursively).
    pub max_artifacts: usize,
    /// The largest artifact the UI downloads, in bytes.
    pub max_artifact_bytes: u64,
    /// Metric charts on one run page (each reads one history when shown).
    pub max_histories: usize,
    /// Models scanned for the approvals queue.
    pub max_models: usize,
    /// Downsampled series of finished runs kept in memory (each at most `max_points`).
    pub cached_charts: usize,
    /// Runs read to sort the runs table by a best-value column (the filter's first, in the
    /// store's order; each reads one history unless cached).
    pub max_best_sort: usize,
    /// Best values (a finished run's metric extremes) kept in memory.
    pub cached_extremes: usize,
    /// Drift windows shown per model, the newest (each chart point reads one report).
    pub max_windows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_page_size: 500,
            max_points: 2_000,
            max_compare: 20,
            max_artifacts: 1_000,
            max_artifact_bytes: 100 * 1024 * 1024,
            max_histories: 100,
            max_models: 1_000,
            cached_charts: 512,
            max_best_sort: 2_000,
            cached_extremes: 100_000,
            max_windows: 1_000,
        }
    }
}

/// How a UI is served: who may approve, which Host names are ours, limits.
#[derive(Clone, Debug)]
pub struct UiOptions {
    /// Host names (without port) requests may carry. Default: `127.0.0.1`, `localhost`,
    /// `[::1]`. Add the name a reverse proxy forwards when serving beyond loopback.
    pub allowed_hosts: Vec<String>,
    /// Who may approve or reject, by token. Empty: approvals are refused.
    pub reviewers: Reviewers,
    /// A prefix when the router is nested in a larger service (`"/ui"`), or empty.
    pub base_path: String,
    /// The longest a page may take before the answer is 503.
    pub request_timeout: Duration,
    /// Caps.
    pub limits: Limits,
    /// The drift history `mlops monitor run --history` (or `mlops serve --monitor-history`)
    /// writes, for the drift pages; `None` turns them into a note on how to enable them.
    pub monitor_history: Option<StoreRoot>,
}

impl Default for UiOptions {
    fn default() -> Self {
        Self {
            allowed_hosts: vec!["127.0.0.1".into(), "localhost".into(), "[::1]".into()],
            reviewers: Reviewers::none(),
            base_path: String::new(),
            request_timeout: Duration::from_secs(30),
            limits: Limits::default(),
            monitor_history: None,
        }
    }
}

/// What the handlers share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) tracking: Arc<dyn TrackingStore>,
    pub(crate) registry: Option<Arc<dyn ModelRegistry>>,
    pub(crate) allowed_hosts: Vec<String>,
    pub(crate) reviewers: Reviewers,
    pub(crate) base: String,
    pub(crate) request_timeout: Duration,
    pub(crate) limits: Limits,
    /// This server's CSRF token: random per process, embedded in every form; a foreign page
    /// cannot read it (no CORS), so it cannot forge a form.
    pub(crate) csrf_token: String,
    /// Finished runs' chart series.
    pub(crate) charts: ChartCache,
    /// Finished runs' metric extremes (the runs table's best columns).
    pub(crate) extremes: ChartCache<Extremes>,
    /// The monitoring history, when configured.
    pub(crate) drift: Option<DriftHistory>,
}

impl Inner {
    /// An absolute link inside the UI: the base path, then `path` (which starts with `/`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The registry, or the page that says none is configured.
    pub(crate) fn registry(&self) -> crate::Result<&Arc<dyn ModelRegistry>> {
        self.registry.as_ref().ok_or(crate::UiError::NoRegistry)
    }
}

/// A web UI over a tracking store and (optionally) a model registry.
///
/// [`Ui::router`] is an [`axum::Router`] to serve with [`crate::serve`] or to nest in a
/// service of your own (set [`UiOptions::base_path`] to the nesting prefix).
#[derive(Clone, Debug)]
pub struct Ui {
    inner: Arc<Inner>,
}

impl Ui {
    /// A UI over `tracking` and `registry` with `options`.
    pub fn new(
        tracking: Arc<dyn TrackingStore>,
        registry: Option<Arc<dyn ModelRegistry>>,
        options: UiOptions,
    ) -> Self {
        let base = options.base_path.trim_end_matches('/').to_owned();
        let allowed_hosts = options
            .allowed_hosts
            .iter()
            .map(|h| guard::host_name(h))
            .collect();
        Self {
            inner: Arc::new(Inner {
                tracking,
                registry,
                allowed_hosts,
                reviewers: options.reviewers,
                base,
                request_timeout: options.request_timeout,
                limits: options.limits,
                csrf_token: random_token(),
                charts: ChartCache::new(options.limits.cached_charts),
                extremes: ChartCache::new(options.limits.cached_extremes),
                drift: options.monitor_history.map(DriftHistory::new),
            }),
        }
    }

    /// Reads every live experiment's runs once, so that the store's caches are warm before
    /// the first visitor: `mlops ui` runs it in the background as it starts listening (a
    /// fresh process otherwise pays the store's cold read on the first runs page). Errors
    /// are only logged: the pages report them when they happen again.
    pub async fn warm(&self) {
        use mlops_track::{ExperimentQuery, RunQuery, TrackingStoreExt};

        let tracking = &self.inner.tracking;
        let experiments = match tracking
            .search_all_experiments(&ExperimentQuery::default())
            .await
        {
            Ok(experiments) => experiments,
            Err(e) => {
                tracing::warn!("warming the UI: listing experiments failed: {e}");
                return;
            }
        };
        let query = RunQuery {
            experiment_ids: experiments.into_iter().map(|e| e.experiment_id).collect(),
            max_results: Some(1),
            ..RunQuery::default()
        };
        if !query.experiment_ids.is_empty()
            && let Err(e) = tracking.search_runs(&query).await
        {
            tracing::warn!("warming the UI: reading runs failed: {e}");
        }
    }

    /// The routes: pages, chart data, assets, all behind the safety layer.
    pub fn router(&self) -> Router {
        let inner = Arc::clone(&self.inner);
        Router::new()
            .route("/", get(pages::home))
            .route("/experiments", get(pages::experiments::list))
            .route("/experiments/{id}", get(pages::runs::table))
            .route("/runs/{id}", get(pages::run::show))
            .route("/runs/{id}/artifacts/{n}", get(pages::artifacts::download))
            .route("/api/runs/{id}/metrics/{key}", get(pages::chart::series))
            .route("/compare", get(pages::compare::show))
            .route("/models", get(pages::models::list))
            .route("/models/{name}", get(pages::models::model))
            .route("/models/{name}/history", get(pages::models::history))
            .route(
                "/models/{name}/versions/{version}",
                get(pages::models::version),
            )
            .route(
                "/models/{name}/versions/{version}/review",
                get(pages::approvals::review).post(pages::approvals::decide),
            )
            .route("/models/{name}/drift", get(pages::drift::show))
            .route(
                "/models/{name}/drift/{version}/{window}",
                get(pages::drift::report),
            )
            .route("/api/models/{name}/drift", get(pages::drift::data))
            .route("/drift", get(pages::drift::models))
            .route("/approvals", get(pages::approvals::queue))
            .route("/lineage", get(pages::lineage::page_for))
            .route("/assets/{*file}", get(assets::serve))
            // Forms and queries are small; nothing larger is read.
            .layer(DefaultBodyLimit::max(crate::query::MAX_LEN))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&inner),
                guard::guard,
            ))
            .with_state(inner)
    }
}

/// 256 bits from two v7 UUIDs' random parts and the clock, hashed: unguessable for a
/// process's lifetime, without another randomness crate.
fn random_token() -> String {
    let mut hasher = Sha256::new();
    for _ in 0..4 {
        hasher.update(uuid::Uuid::now_v7().as_bytes());
    }
    hasher.update(std::process::id().to_le_bytes());
    hex(&hasher.finalize())
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
