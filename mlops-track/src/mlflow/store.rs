//! [`MlflowStore`]: [`TrackingStore`] over an MLflow tracking server's REST API.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use mlops_core::{
    ArtifactPath, ExperimentId, ExperimentName, LifecycleStage, Metric, MetricKey, Param, RunId,
    RunName, RunStatus, Tag, TagKey,
};
use url::Url;

use crate::error::{Result, TrackError};
use crate::filter::{Filter, MAX_RESULTS_DEFAULT, MaxResults, OrderBy};
use crate::mlflow::artifacts;
use crate::mlflow::client::{self, CallError, Client, Policy, Retry, Subject};
use crate::mlflow::wire::{
    self, CLIENT_REQUEST_ID_TAG, CreateExperimentResponse, ExperimentResponse, KeyValue,
    MetricHistoryResponse, RunResponse, SearchExperimentsResponse, SearchRunsResponse,
    UpdateRunResponse, WireDatasetInputOut, WireExperiment, WireRun,
};
use crate::model::{DatasetInput, Experiment, RUN_NAME_TAG, Run, RunInfo};
use crate::store::{
    ArtifactInfo, ExperimentQuery, NewRun, Page, RunQuery, TrackingStore, ViewType, limits,
};

/// A boxed, sendable future, for the steps of [`MlflowStore::create_once`].
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How many artifact roots a store remembers (a run's never changes).
const ARTIFACT_ROOT_CACHE: usize = 4096;

/// A [`TrackingStore`] on an MLflow 3.x tracking server, through its REST API
/// (`/api/2.0/mlflow/...`) and its artifact proxy (`/api/2.0/mlflow-artifacts/...`).
///
/// Cloning is cheap and clones share one connection pool.
///
/// ```no_run
/// use std::time::Duration;
/// use mlops_track::{ExperimentName, TrackingStore};
/// use mlops_track::mlflow::MlflowStore;
///
/// # async fn demo() -> mlops_track::Result<()> {
/// let store = MlflowStore::builder("http://127.0.0.1:5000")
///     .timeout(Duration::from_secs(30))
///     .max_retries(5)
///     .build()?;
/// let name = ExperimentName::parse("churn")?;
/// let id = match store.get_experiment_by_name(&name).await? {
///     Some(experiment) => experiment.experiment_id,
///     None => store.create_experiment(&name, &[]).await?,
/// };
/// # let _ = id;
/// # Ok(())
/// # }
/// ```
///
/// See [the module documentation](crate::mlflow) for retries, limits and MLflow's quirks.
#[derive(Clone)]
pub struct MlflowStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    history_page_size: usize,
    artifact_roots: Mutex<HashMap<RunId, Arc<[String]>>>,
}

impl std::fmt::Debug for MlflowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlflowStore")
            .field("client", &self.inner.client)
            .field("history_page_size", &self.inner.history_page_size)
            .finish_non_exhaustive()
    }
}

/// Credentials sent with every request.
#[derive(Clone)]
enum Auth {
    Bearer(String),
    Basic(String, String),
}

/// Settings of an [`MlflowStore`]; [`MlflowStore::builder`] starts one.
#[derive(Clone)]
pub struct MlflowStoreBuilder {
    url: String,
    auth: Option<Auth>,
    timeout: Duration,
    artifact_timeout: Duration,
    connect_timeout: Duration,
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    history_page_size: usize,
}

impl std::fmt::Debug for MlflowStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlflowStoreBuilder")
            .field("url", &self.url)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("artifact_timeout", &self.artifact_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("history_page_size", &self.history_page_size)
            .finish()
    }
}

impl MlflowStoreBuilder {
    /// The deadline of one call, all its retries included. Default: 120 s, MLflow's own
    /// request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The deadline of one artifact upload or download, retries included. Default: 600 s.
    pub fn artifact_timeout(mut self, timeout: Duration) -> Self {
        self.artifact_timeout = timeout;
        self
    }

    /// How long opening a connection may take. Default: 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Attempts after the first one of a failed call. Default: 8 (with the default backoff,
    /// about 40 s of retrying: enough to ride out a server restart).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first backoff and the longest; each retry waits twice as long as the previous
    /// one, with jitter in its upper half. Defaults: 250 ms and 16 s.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Sends `Authorization: Bearer <token>` (MLflow's `MLFLOW_TRACKING_TOKEN`).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.auth = Some(Auth::Bearer(token.into()));
        self
    }

    /// Sends HTTP basic authentication (MLflow's `MLFLOW_TRACKING_USERNAME` and
    /// `MLFLOW_TRACKING_PASSWORD`). Credentials never go in the URL.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Some(Auth::Basic(user.into(), password.into()));
        self
    }

    /// Takes credentials from MLflow's variables when set: `MLFLOW_TRACKING_TOKEN`, else
    /// `MLFLOW_TRACKING_USERNAME` with `MLFLOW_TRACKING_PASSWORD`.
    pub fn credentials_from_env(self) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(token) = var("MLFLOW_TRACKING_TOKEN") {
            self.token(token)
        } else if let (Some(user), Some(password)) = (
            var("MLFLOW_TRACKING_USERNAME"),
            var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            self.basic_auth(user, password)
        } else {
            self
        }
    }

    /// How many points one metric-history request asks for. Default: 10 000.
    pub fn metric_history_page_size(mut self, size: usize) -> Self {
        self.history_page_size = size.clamp(1, i32::MAX as usize);
        self
    }

    /// The store. Fails on a URL that is not `http://` or `https://`, that carries user
    /// info, a query or a fragment, or that is `https://` in a build without the `tls`
    /// feature.
    pub fn build(self) -> Result<MlflowStore> {
        let base = parse_base_url(&self.url)?;
        let auth = match &self.auth {
            None => None,
            Some(Auth::Bearer(token)) => Some(client::bearer(token)?),
            Some(Auth::Basic(user, password)) => Some(client::basic(user, password)?),
        };
        let policy = Policy {
            timeout: self.timeout,
            artifact_timeout: self.artifact_timeout,
            max_retries: self.max_retries,
            initial_backoff: self.initial_backoff,
            max_backoff: self.max_backoff,
        };
        let client = Client::new(base, auth, self.connect_timeout, policy)?;
        Ok(MlflowStore {
            inner: Arc::new(Inner {
                client,
                history_page_size: self.history_page_size,
                artifact_roots: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// Checks and normalises a tracking server's base URL.
fn parse_base_url(text: &str) -> Result<Url> {
    let invalid = |expected: &'static str| {
        TrackError::Invalid(mlops_core::Error::Invalid {
            kind: "MLflow tracking URL",
            value: text.to_owned(),
            rule: mlops_core::Rule::Format { expected },
        })
    };
    let mut url = Url::parse(text.trim())
        .map_err(|_| invalid("an absolute http:// or https:// URL, e.g. http://127.0.0.1:5000"))?;
    match url.scheme() {
        "http" => {}
        "https" if cfg!(feature = "tls") => {}
        "https" => {
            return Err(invalid(
                "an http:// URL: https:// needs mlops-track's `tls` feature",
            ));
        }
        _ => return Err(invalid("an http:// or https:// URL")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("a URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "a URL without user info: pass credentials with `basic_auth` or `token`",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a URL without a query or fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

impl MlflowStore {
    /// A store on the server at `base_url` (e.g. `http://127.0.0.1:5000`, or with the path
    /// prefix of a reverse proxy), with default settings.
    pub fn new(base_url: &str) -> Result<Self> {
        Self::builder(base_url).build()
    }

    /// Settings for a store on the server at `base_url`.
    pub fn builder(base_url: &str) -> MlflowStoreBuilder {
        MlflowStoreBuilder {
            url: base_url.to_owned(),
            auth: None,
            timeout: Duration::from_secs(120),
            artifact_timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(10),
            max_retries: 8,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(16),
            history_page_size: 10_000,
        }
    }

    /// The server's base URL, ending in `/`.
    pub fn base_url(&self) -> &str {
        self.inner.client.base().as_str()
    }

    fn client(&self) -> &Client {
        &self.inner.client
    }

    /// A [`RestClient`](crate::mlflow::RestClient) sharing this store's connection pool,
    /// credentials, deadlines and retries, for MLflow endpoints this crate does not wrap.
    pub fn rest_client(&self) -> crate::mlflow::RestClient {
        crate::mlflow::RestClient::new(self.inner.client.clone())
    }

    /// Runs a create that the server does not de-duplicate, so that an attempt whose
    /// answer was lost is never repeated blindly: after such an attempt, `lookup` searches
    /// for what it may have created (by this client's request id) and returns it if found;
    /// only if nothing is found is the create sent again.
    ///
    /// Both steps get the time left of one deadline, so the whole create ends within it.
    async fn create_once<'a, T: Send + 'a>(
        &'a self,
        create: impl Fn(Duration) -> BoxFuture<'a, std::result::Result<T, CallError>> + Send,
        lookup: impl Fn(Duration) -> BoxFuture<'a, Result<Option<T>>> + Send,
    ) -> Result<(T, bool)> {
        let policy = self.client().policy;
        let deadline = Instant::now() + policy.timeout;
        let left = || deadline.saturating_duration_since(Instant::now());
        let mut round: u32 = 0;
        loop {
            let error = match create(left()).await {
                Ok(created) => return Ok((created, round > 0)),
                Err(CallError {
                    error,
                    maybe_applied,
                }) if maybe_applied => error,
                Err(CallError { error, .. }) if round == 0 => return Err(error),
                // A later round failed for good (for example "already exists"): the first
                // attempt may still have been applied late.
                Err(CallError { error, .. }) => {
                    return match lookup(left()).await? {
                        Some(found) => Ok((found, true)),
                        None => Err(error),
                    };
                }
            };
            round += 1;
            if round > policy.max_retries || Instant::now() >= deadline {
                return Err(error);
            }
            tracing::debug!(round, %error, "create may have been applied; looking it up");
            if let Some(found) = lookup(left()).await? {
                return Ok((found, true));
            }
            let delay = policy
                .initial_backoff
                .saturating_mul(1 << round.min(16))
                .min(policy.max_backoff);
            if Instant::now() + delay >= deadline {
                return Err(error);
            }
            tokio::time::sleep(delay).await;
        }
    }

    async fn experiment_by_name_wire(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<Option<WireExperiment>> {
        let subject = Subject::new("experiment", name);
        match self
            .client()
            .get_within::<ExperimentResponse>(
                "experiments/get-by-name",
                &[("experiment_name", name)],
                &subject,
                timeout,
            )
            .await
        {
            Ok(found) => Ok(Some(found.experiment)),
            Err(CallError {
                error: TrackError::NotFound { .. },
                ..
            }) => Ok(None),
            Err(e) => Err(e.error),
        }
    }

    async fn search_runs_wire(
        &self,
        experiment_id: &ExperimentId,
        filter: &str,
        max_results: usize,
        timeout: Duration,
    ) -> Result<Vec<WireRun>> {
        let body = wire::SearchRuns {
            experiment_ids: vec![experiment_id.as_str()],
            filter: Some(filter),
            run_view_type: wire::view_type(ViewType::All),
            max_results: Some(max_results),
            order_by: &[],
            page_token: None,
        };
        let subject = Subject::new("experiment", experiment_id.as_str());
        let page: SearchRunsResponse = self
            .client()
            .post_within("runs/search", &body, Retry::Idempotent, &subject, timeout)
            .await?;
        Ok(page.runs)
    }

    /// The run's folder under the artifact proxy.
    async fn artifact_root(&self, run: &RunId) -> Result<Arc<[String]>> {
        if let Some(root) = self.cached_root(run) {
            return Ok(root);
        }
        let fetched = self.get_run(run).await?;
        self.remember_root(&fetched.info)
    }

    fn cached_root(&self, run: &RunId) -> Option<Arc<[String]>> {
        self.inner
            .artifact_roots
            .lock()
            .ok()
            .and_then(|roots| roots.get(run).cloned())
    }

    fn remember_root(&self, info: &RunInfo) -> Result<Arc<[String]>> {
        let root: Arc<[String]> =
            artifacts::proxy_root(&info.run_id, &info.artifact_uri, self.inner.client.base())?
                .into();
        if let Ok(mut roots) = self.inner.artifact_roots.lock() {
            if roots.len() >= ARTIFACT_ROOT_CACHE {
                roots.clear();
            }
            roots.insert(info.run_id.clone(), Arc::clone(&root));
        }
        Ok(root)
    }

    /// After a param conflict reported by the server, which param of `sent` differs from
    /// the value the run holds.
    async fn param_conflict(
        &self,
        run: &RunId,
        sent: &[&Param],
        original: TrackError,
    ) -> TrackError {
        let Ok(current) = self.get_run(run).await else {
            return original;
        };
        sent.iter()
            .find_map(|p| {
                let existing = current.data.param(p.key().as_str())?;
                (existing != p.value()).then(|| TrackError::ParamConflict {
                    run: run.to_string(),
                    key: p.key().to_string(),
                    existing: existing.to_owned(),
                    new: p.value().to_owned(),
                })
            })
            .unwrap_or(original)
    }

    /// Logs a batch of any size: split into as many `log-batch` requests as MLflow's
    /// limits (1000 metrics, 100 params, 100 tags, 1000 items per request) and a 900 kB
    /// body need, params first, then tags, then metrics. The trait's
    /// [`log_batch`](TrackingStore::log_batch) refuses a batch over the limits instead.
    ///
    /// Params are checked for conflicts before anything is sent, so a conflict writes
    /// nothing; any other failure may leave the requests before it written (each request is
    /// atomic on the server, the batch is not). Retrying the whole call is safe.
    pub async fn log_batch_chunked(
        &self,
        run: &RunId,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        let params = unique_params(params)?;
        let tags = last_tags(tags);
        if metrics.is_empty() && params.is_empty() && tags.is_empty() {
            return Ok(());
        }
        let requests = plan_batches(metrics, &params, &tags);
        if requests.iter().filter(|r| !r.params.is_empty()).count() > 1 {
            // The params go out in several requests; find a conflict before the first one
            // writes anything.
            let current = self.get_run(run).await?;
            for p in &params {
                if let Some(existing) = current.data.param(p.key().as_str())
                    && existing != p.value()
                {
                    return Err(TrackError::ParamConflict {
                        run: run.to_string(),
                        key: p.key().to_string(),
                        existing: existing.to_owned(),
                        new: p.value().to_owned(),
                    });
                }
            }
        }
        let subject = Subject::new("run", run.as_str());
        for request in requests {
            let body = wire::LogBatch {
                run_id: run.as_str(),
                metrics: &metrics[request.metrics.clone()],
                params: request.params.iter().map(|p| KeyValue::param(p)).collect(),
                tags: request.tags.iter().map(|t| KeyValue::tag(t)).collect(),
            };
            // Safe to retry: metric points are de-duplicated on (key, value, timestamp,
            // step), the same param value again is a no-op, tags are last-write-wins.
            match self
                .client()
                .post::<_, serde_json::Value>("runs/log-batch", &body, Retry::Idempotent, &subject)
                .await
            {
                Ok(_) => {}
                Err(CallError { error, .. }) => {
                    let conflict = matches!(
                        &error,
                        TrackError::Mlflow { code, message, .. }
                            if code == "INVALID_PARAMETER_VALUE"
                                && message.contains("Changing param values is not allowed")
                    );
                    return Err(if conflict {
                        self.param_conflict(run, &request.params, error).await
                    } else {
                        error
                    });
                }
            }
        }
        Ok(())
    }

    /// Moves an experiment between live and deleted. MLflow answers "does not exist" when
    /// it is already where it should go (and when a retried request had already moved
    /// it); that is success here.
    async fn move_experiment(
        &self,
        id: &ExperimentId,
        endpoint: &str,
        target: LifecycleStage,
    ) -> Result<()> {
        let subject = Subject::new("experiment", id.as_str());
        let body = wire::ExperimentRef {
            experiment_id: id.as_str(),
        };
        match self
            .client()
            .post::<_, serde_json::Value>(endpoint, &body, Retry::Idempotent, &subject)
            .await
        {
            Ok(_) => Ok(()),
            Err(CallError {
                error: error @ TrackError::NotFound { .. },
                ..
            }) => match self.get_experiment(id).await {
                Ok(experiment) if experiment.lifecycle_stage == target => Ok(()),
                Ok(_) => Err(error),
                Err(e) => Err(e),
            },
            Err(e) => Err(e.error),
        }
    }
}

/// The most JSON one `log-batch` request carries: MLflow declares 1 MB
/// (`MAX_BATCH_LOG_REQUEST_SIZE`, though 3.17 does not enforce it) and reverse proxies
/// often stop at 1 MiB (nginx's default). The rest is left for the run id and punctuation.
const MAX_BATCH_BYTES: usize = 900_000;

/// One `log-batch` request of a planned batch.
#[derive(Debug, Default)]
struct BatchRequest<'a> {
    metrics: std::ops::Range<usize>,
    params: Vec<&'a Param>,
    tags: Vec<&'a Tag>,
    bytes: usize,
}

impl BatchRequest<'_> {
    fn items(&self) -> usize {
        self.metrics.len() + self.params.len() + self.tags.len()
    }
}

/// The size of a param or tag in JSON, escapes included.
fn json_len(key: &str, value: &str) -> usize {
    serde_json::to_vec(&KeyValue { key, value }).map_or(usize::MAX / 2, |v| v.len() + 1)
}

/// Splits a batch into requests within MLflow's limits ([`limits`]: 1000 metrics, 100
/// params, 100 tags, 1000 items) and [`MAX_BATCH_BYTES`]. Params go first, so that a
/// conflict stops the batch before anything else is written, then tags, then metrics;
/// each request is filled before the next starts.
fn plan_batches<'a>(
    metrics: &[Metric],
    params: &[&'a Param],
    tags: &[&'a Tag],
) -> Vec<BatchRequest<'a>> {
    let mut requests = Vec::new();
    let mut current = BatchRequest::default();
    let mut flush_if = |current: &mut BatchRequest<'a>, full: bool| {
        if full {
            requests.push(std::mem::take(current));
        }
    };
    for param in params {
        let bytes = json_len(param.key().as_str(), param.value());
        let full = current.params.len() == limits::PARAMS
            || current.items() == limits::TOTAL
            || current.bytes + bytes > MAX_BATCH_BYTES;
        flush_if(&mut current, full);
        current.params.push(param);
        current.bytes += bytes;
    }
    for tag in tags {
        let bytes = json_len(tag.key().as_str(), tag.value());
        let full = current.tags.len() == limits::TAGS
            || current.items() == limits::TOTAL
            || current.bytes + bytes > MAX_BATCH_BYTES;
        flush_if(&mut current, full);
        current.tags.push(tag);
        current.bytes += bytes;
    }
    for (i, metric) in metrics.iter().enumerate() {
        // Key, value (at most 24 characters), timestamp and step (at most 20 each) and
        // the field names: keys need no escapes.
        let bytes = metric.key.as_str().len() + 100;
        let full = current.metrics.len() == limits::METRICS
            || current.items() == limits::TOTAL
            || current.bytes + bytes > MAX_BATCH_BYTES;
        flush_if(&mut current, full);
        if current.metrics.is_empty() {
            current.metrics = i..i;
        }
        current.metrics.end = i + 1;
        current.bytes += bytes;
    }
    let last = current.items() > 0;
    flush_if(&mut current, last);
    requests
}

/// The params of a batch, refusing a key given twice: MLflow refuses such a batch, even
/// when the values agree.
fn unique_params(params: &[Param]) -> Result<Vec<&Param>> {
    let mut seen = std::collections::HashSet::with_capacity(params.len());
    for param in params {
        if !seen.insert(param.key().as_str()) {
            return Err(TrackError::DuplicateKey {
                what: "param",
                key: param.key().to_string(),
            });
        }
    }
    Ok(params.iter().collect())
}

/// Tags without repeats: the last value of a key wins, as if they were sent one by one.
fn last_tags(tags: &[Tag]) -> Vec<&Tag> {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, tag) in tags.iter().enumerate() {
        last.insert(tag.key().as_str(), i);
    }
    tags.iter()
        .enumerate()
        .filter(|(i, tag)| last.get(tag.key().as_str()) == Some(i))
        .map(|(_, tag)| tag)
        .collect()
}

/// A filter that finds the runs created with one client request id, or `None` when the id
/// cannot be written in MLflow's filter syntax (it has both kinds of quotes).
fn request_id_filter(request_id: &str) -> Option<String> {
    let quote = if !request_id.contains('\'') {
        '\''
    } else if !request_id.contains('"') {
        '"'
    } else {
        return None;
    };
    Some(format!(
        "tags.`{CLIENT_REQUEST_ID_TAG}` = {quote}{request_id}{quote}"
    ))
}

#[async_trait]
impl TrackingStore for MlflowStore {
    async fn create_experiment(&self, name: &ExperimentName, tags: &[Tag]) -> Result<ExperimentId> {
        let request_id = tags
            .iter()
            .find(|t| t.key().as_str() == CLIENT_REQUEST_ID_TAG)
            .map_or_else(|| RunId::generate().into_string(), |t| t.value().to_owned());
        let mut wire_tags: Vec<KeyValue<'_>> = tags
            .iter()
            .filter(|t| t.key().as_str() != CLIENT_REQUEST_ID_TAG)
            .map(KeyValue::tag)
            .collect();
        wire_tags.push(KeyValue {
            key: CLIENT_REQUEST_ID_TAG,
            value: &request_id,
        });
        let body = wire::CreateExperiment {
            name: name.as_str(),
            tags: wire_tags,
        };
        let subject = Subject::new("experiment", name.as_str());
        let (body, subject, request_id) = (&body, &subject, request_id.as_str());
        let (id, _) = self
            .create_once(
                |timeout| {
                    Box::pin(async move {
                        self.client()
                            .post_within::<_, CreateExperimentResponse>(
                                "experiments/create",
                                body,
                                Retry::IfNotSent,
                                subject,
                                timeout,
                            )
                            .await
                            .map(|r| r.experiment_id)
                    })
                },
                // Names are unique on the server, so the experiment that holds the name is
                // ours exactly when it carries our request id.
                |timeout| {
                    Box::pin(async move {
                        Ok(self
                            .experiment_by_name_wire(name.as_str(), timeout)
                            .await?
                            .filter(|e| wire::client_request_id(&e.tags) == Some(request_id))
                            .map(|e| e.experiment_id))
                    })
                },
            )
            .await?;
        ExperimentId::parse(&id).map_err(|e| TrackError::Corrupt {
            path: format!("MLflow experiment {name}"),
            reason: format!("the server returned an id this client cannot represent: {e}"),
        })
    }

    async fn get_experiment(&self, id: &ExperimentId) -> Result<Experiment> {
        let subject = Subject::new("experiment", id.as_str());
        let found: ExperimentResponse = self
            .client()
            .get(
                "experiments/get",
                &[("experiment_id", id.as_str())],
                &subject,
            )
            .await?;
        found.experiment.into_model()
    }

    async fn get_experiment_by_name(&self, name: &ExperimentName) -> Result<Option<Experiment>> {
        self.experiment_by_name_wire(name.as_str(), self.client().policy.timeout)
            .await?
            .map(WireExperiment::into_model)
            .transpose()
    }

    async fn search_experiments(&self, query: &ExperimentQuery) -> Result<Page<Experiment>> {
        let body = wire::SearchExperiments {
            // The server reads a missing `max_results` as 0 and refuses it; 1000 is the
            // default of MLflow's own client.
            max_results: Some(query.max_results.unwrap_or(MAX_RESULTS_DEFAULT)),
            page_token: query.page_token.as_deref().filter(|t| !t.is_empty()),
            filter: query.filter.as_deref().filter(|f| !f.trim().is_empty()),
            order_by: &query.order_by,
            view_type: wire::view_type(query.view),
        };
        let subject = Subject::new("experiments", "search");
        let page: SearchExperimentsResponse = self
            .client()
            .post("experiments/search", &body, Retry::Idempotent, &subject)
            .await?;
        Ok(Page {
            items: page
                .experiments
                .into_iter()
                .map(WireExperiment::into_model)
                .collect::<Result<_>>()?,
            next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
        })
    }

    async fn rename_experiment(&self, id: &ExperimentId, name: &ExperimentName) -> Result<()> {
        let subject = Subject::new("experiment", id.as_str());
        let body = wire::UpdateExperiment {
            experiment_id: id.as_str(),
            new_name: name.as_str(),
        };
        match self
            .client()
            .post::<_, serde_json::Value>("experiments/update", &body, Retry::Idempotent, &subject)
            .await
        {
            Ok(_) => Ok(()),
            // A taken name surfaces as the database's unique-constraint error (BAD_REQUEST
            // with SQL in the message): look the name up to say so plainly.
            Err(CallError {
                error: error @ TrackError::Mlflow { .. },
                ..
            }) => match self
                .experiment_by_name_wire(name.as_str(), self.client().policy.timeout)
                .await
            {
                Ok(Some(holder)) if holder.experiment_id != id.as_str() => {
                    Err(TrackError::AlreadyExists {
                        what: "experiment",
                        name: name.to_string(),
                    })
                }
                _ => Err(error),
            },
            Err(e) => Err(e.error),
        }
    }

    async fn delete_experiment(&self, id: &ExperimentId) -> Result<()> {
        self.move_experiment(id, "experiments/delete", LifecycleStage::Deleted)
            .await
    }

    async fn restore_experiment(&self, id: &ExperimentId) -> Result<()> {
        self.move_experiment(id, "experiments/restore", LifecycleStage::Active)
            .await
    }

    async fn set_experiment_tag(&self, id: &ExperimentId, tag: &Tag) -> Result<()> {
        let subject = Subject::new("experiment", id.as_str());
        let body = wire::SetExperimentTag {
            experiment_id: id.as_str(),
            key: tag.key().as_str(),
            value: tag.value(),
        };
        self.client()
            .post::<_, serde_json::Value>(
                "experiments/set-experiment-tag",
                &body,
                Retry::Idempotent,
                &subject,
            )
            .await?;
        Ok(())
    }

    async fn create_run(&self, run: NewRun) -> Result<Run> {
        if let (Some(name), Some(tag)) = (
            &run.run_name,
            run.tags.iter().find(|t| t.key().as_str() == RUN_NAME_TAG),
        ) && name.as_str() != tag.value()
        {
            return Err(TrackError::InvalidArgument(format!(
                "run name {:?} and tag {RUN_NAME_TAG} = {:?} disagree",
                name.as_str(),
                tag.value()
            )));
        }
        let request_id = run
            .tags
            .iter()
            .find(|t| t.key().as_str() == CLIENT_REQUEST_ID_TAG)
            .map_or_else(|| RunId::generate().into_string(), |t| t.value().to_owned());
        let mut wire_tags: Vec<KeyValue<'_>> = run
            .tags
            .iter()
            .filter(|t| t.key().as_str() != CLIENT_REQUEST_ID_TAG)
            .map(KeyValue::tag)
            .collect();
        wire_tags.push(KeyValue {
            key: CLIENT_REQUEST_ID_TAG,
            value: &request_id,
        });
        let body = wire::CreateRun {
            experiment_id: run.experiment_id.as_str(),
            user_id: &run.user_id,
            run_name: run.run_name.as_ref().map(RunName::as_str),
            start_time: run.start_time.as_millis(),
            tags: wire_tags,
        };
        let subject = Subject::new("experiment", run.experiment_id.as_str());
        let filter = request_id_filter(&request_id);
        let (body, subject, filter_ref, experiment) =
            (&body, &subject, filter.as_deref(), &run.experiment_id);
        let (created, retried) = self
            .create_once(
                |timeout| {
                    Box::pin(async move {
                        self.client()
                            .post_within::<_, RunResponse>(
                                "runs/create",
                                body,
                                Retry::IfNotSent,
                                subject,
                                timeout,
                            )
                            .await
                            .map(|created| created.run)
                            // Without a request id to search for, a lost answer cannot be
                            // resolved: report it rather than risk a second run.
                            .map_err(|e| CallError {
                                maybe_applied: e.maybe_applied && filter_ref.is_some(),
                                error: e.error,
                            })
                    })
                },
                |timeout| {
                    Box::pin(async move {
                        let Some(filter) = filter_ref else {
                            return Ok(None);
                        };
                        let mut found = self
                            .search_runs_wire(experiment, filter, 10, timeout)
                            .await?;
                        // Should a late-applied attempt have made a second run, every
                        // caller agrees on the same one: the smallest id.
                        found.sort_by(|a, b| a.info.run_id.cmp(&b.info.run_id));
                        Ok(found.into_iter().next())
                    })
                },
            )
            .await?;
        let mut created = created.into_model()?;
        if retried && let Some(filter) = &filter {
            // An attempt whose answer was lost may still have been applied after the lookup
            // found nothing: keep one run per request id (the smallest id) and move any
            // other to the trash, where it stays restorable.
            let timeout = self.client().policy.timeout;
            let mut twins = self
                .search_runs_wire(&run.experiment_id, filter, 10, timeout)
                .await?;
            twins.sort_by(|a, b| a.info.run_id.cmp(&b.info.run_id));
            let mut twins = twins.into_iter();
            if let Some(keep) = twins.next() {
                for extra in twins {
                    let id = extra.info.into_model()?.run_id;
                    tracing::warn!(run = %id, "deleting a duplicate run left by a retried create");
                    self.delete_run(&id).await?;
                }
                let keep = keep.into_model()?;
                if keep.info.run_id != created.info.run_id {
                    self.delete_run(&created.info.run_id).await?;
                    created = keep;
                }
            }
        }
        self.remember_root(&created.info)?;
        Ok(created)
    }

    async fn get_run(&self, id: &RunId) -> Result<Run> {
        let subject = Subject::new("run", id.as_str());
        let found: RunResponse = self
            .client()
            .get("runs/get", &[("run_id", id.as_str())], &subject)
            .await?;
        let run = found.run.into_model()?;
        // A run whose artifacts are not behind the proxy is still a run.
        let _ = self.remember_root(&run.info);
        Ok(run)
    }

    async fn update_run(
        &self,
        id: &RunId,
        status: Option<RunStatus>,
        end_time: Option<mlops_core::Timestamp>,
        run_name: Option<&RunName>,
    ) -> Result<RunInfo> {
        let subject = Subject::new("run", id.as_str());
        let body = wire::UpdateRun {
            run_id: id.as_str(),
            status: status.map(RunStatus::as_str),
            end_time: end_time.map(mlops_core::Timestamp::as_millis),
            run_name: run_name.map(RunName::as_str),
        };
        let updated: UpdateRunResponse = self
            .client()
            .post("runs/update", &body, Retry::Idempotent, &subject)
            .await?;
        updated.run_info.into_model()
    }

    async fn delete_run(&self, id: &RunId) -> Result<()> {
        let subject = Subject::new("run", id.as_str());
        let body = wire::RunRef {
            run_id: id.as_str(),
        };
        self.client()
            .post::<_, serde_json::Value>("runs/delete", &body, Retry::Idempotent, &subject)
            .await?;
        Ok(())
    }

    async fn restore_run(&self, id: &RunId) -> Result<()> {
        let subject = Subject::new("run", id.as_str());
        let body = wire::RunRef {
            run_id: id.as_str(),
        };
        self.client()
            .post::<_, serde_json::Value>("runs/restore", &body, Retry::Idempotent, &subject)
            .await?;
        Ok(())
    }

    async fn log_batch(
        &self,
        run: &RunId,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        // One batch is one request, so it is applied whole or not at all; larger inputs go
        // through `log_batch_chunked`.
        for (what, count, limit) in [
            ("metrics", metrics.len(), limits::METRICS),
            ("params", params.len(), limits::PARAMS),
            ("tags", tags.len(), limits::TAGS),
            (
                "items",
                metrics.len() + params.len() + tags.len(),
                limits::TOTAL,
            ),
        ] {
            if count > limit {
                return Err(TrackError::TooMany { what, count, limit });
            }
        }
        self.log_batch_chunked(run, metrics, params, tags).await
    }

    async fn log_inputs(&self, run: &RunId, inputs: &[DatasetInput]) -> Result<()> {
        if inputs.is_empty() {
            return Ok(());
        }
        let subject = Subject::new("run", run.as_str());
        let body = wire::LogInputs {
            run_id: run.as_str(),
            datasets: inputs.iter().map(WireDatasetInputOut::new).collect(),
        };
        // MLflow de-duplicates datasets and inputs, so a retry adds nothing.
        self.client()
            .post::<_, serde_json::Value>("runs/log-inputs", &body, Retry::Idempotent, &subject)
            .await?;
        Ok(())
    }

    async fn get_metric_history(&self, run: &RunId, key: &MetricKey) -> Result<Vec<Metric>> {
        let subject = Subject::in_run("metric", key.as_str(), run.as_str());
        let entity = format!("run {run}");
        let page_size = self.inner.history_page_size.to_string();
        let mut points = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![
                ("run_id", run.as_str()),
                ("metric_key", key.as_str()),
                ("max_results", page_size.as_str()),
            ];
            if let Some(token) = &token {
                query.push(("page_token", token.as_str()));
            }
            let page: MetricHistoryResponse = self
                .client()
                .get("metrics/get-history", &query, &subject)
                .await?;
            for point in page.metrics {
                points.push(point.into_model(&entity)?);
            }
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) if Some(&next) != token.as_ref() => token = Some(next),
                _ => break,
            }
        }
        if points.is_empty() {
            // The server answers an empty history for a run that does not exist, too.
            self.get_run(run).await?;
        }
        Ok(points)
    }

    async fn delete_tag(&self, run: &RunId, key: &TagKey) -> Result<()> {
        let subject = Subject::in_run("tag", key.as_str(), run.as_str());
        let body = wire::DeleteTag {
            run_id: run.as_str(),
            key: key.as_str(),
        };
        match self
            .client()
            .post::<_, serde_json::Value>("runs/delete-tag", &body, Retry::Idempotent, &subject)
            .await
        {
            Ok(_) => Ok(()),
            // A retry of a delete whose answer was lost finds the tag gone.
            Err(CallError {
                error: TrackError::NotFound { what: "tag", .. },
                maybe_applied: true,
            }) => Ok(()),
            Err(e) => Err(e.error),
        }
    }

    async fn search_runs(&self, query: &RunQuery) -> Result<Page<Run>> {
        // Checked here for an error that names the position; sent as written.
        let filter = query.filter.as_deref().filter(|f| !f.trim().is_empty());
        if let Some(filter) = filter {
            Filter::parse(filter)?;
        }
        OrderBy::parse(&query.order_by)?;
        if let Some(max) = query.max_results {
            MaxResults::try_from(max)?;
        }
        let body = wire::SearchRuns {
            experiment_ids: query
                .experiment_ids
                .iter()
                .map(ExperimentId::as_str)
                .collect(),
            filter,
            run_view_type: wire::view_type(query.view),
            max_results: query.max_results,
            order_by: &query.order_by,
            page_token: query.page_token.as_deref().filter(|t| !t.is_empty()),
        };
        let subject = Subject::new("runs", "search");
        let page: SearchRunsResponse = self
            .client()
            .post("runs/search", &body, Retry::Idempotent, &subject)
            .await?;
        Ok(Page {
            items: page
                .runs
                .into_iter()
                .map(WireRun::into_model)
                .collect::<Result<_>>()?,
            next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
        })
    }

    async fn log_artifact(&self, run: &RunId, path: &ArtifactPath, bytes: Bytes) -> Result<()> {
        let root = self.artifact_root(run).await?;
        artifacts::upload(self.client(), &root, run, path, bytes).await
    }

    async fn list_artifacts(
        &self,
        run: &RunId,
        dir: Option<&ArtifactPath>,
    ) -> Result<Vec<ArtifactInfo>> {
        let root = self.artifact_root(run).await?;
        artifacts::list(self.client(), &root, run, dir).await
    }

    async fn download_artifact(&self, run: &RunId, path: &ArtifactPath) -> Result<Bytes> {
        let root = self.artifact_root(run).await?;
        artifacts::download(self.client(), &root, run, path).await
    }
}

#[cfg(test)]
mod tests {
    use mlops_core::Timestamp;

    use super::*;

    #[test]
    fn base_urls_are_checked_and_normalised() {
        for (given, expected) in [
            ("http://127.0.0.1:5000", "http://127.0.0.1:5000/"),
            (
                "http://localhost:5000/mlflow",
                "http://localhost:5000/mlflow/",
            ),
            ("http://[::1]:5000/", "http://[::1]:5000/"),
        ] {
            assert_eq!(parse_base_url(given).unwrap().as_str(), expected);
        }
        for refused in [
            "ftp://h/",
            "file:///tmp/mlruns",
            "127.0.0.1:5000",
            "http://user:pw@h:5000/",
            "http://user@h:5000/",
            "http://h:5000/?x=1",
            "http://h:5000/#f",
            "sqlite:///mlflow.db",
            "",
        ] {
            let err = parse_base_url(refused).unwrap_err();
            assert!(matches!(err, TrackError::Invalid(_)), "{refused}: {err}");
        }
        assert_eq!(
            parse_base_url("https://mlflow.example.com").is_ok(),
            cfg!(feature = "tls")
        );
    }

    #[test]
    fn debug_output_hides_credentials() {
        let builder = MlflowStore::builder("http://h:1").token("s3cret");
        assert!(!format!("{builder:?}").contains("s3cret"));
        let store = builder.build().unwrap();
        assert!(!format!("{store:?}").contains("s3cret"));
    }

    fn metrics(n: usize) -> Vec<Metric> {
        (0..n)
            .map(|i| {
                Metric::new(
                    MetricKey::parse("m").unwrap(),
                    i as f64,
                    Timestamp::EPOCH,
                    i as i64,
                )
            })
            .collect()
    }

    #[test]
    fn batches_respect_every_limit() {
        let metrics = metrics(2800);
        let params: Vec<Param> = (0..250)
            .map(|i| Param::parse(&format!("p{i}"), "v").unwrap())
            .collect();
        let tags: Vec<Tag> = (0..150)
            .map(|i| Tag::parse(&format!("t{i}"), "v").unwrap())
            .collect();
        let params: Vec<&Param> = params.iter().collect();
        let tags: Vec<&Tag> = tags.iter().collect();
        let plan = plan_batches(&metrics, &params, &tags);
        let (mut nm, mut np, mut nt) = (0, 0, 0);
        let mut next_metric = 0;
        for r in &plan {
            assert!(r.metrics.len() <= limits::METRICS && r.params.len() <= limits::PARAMS);
            assert!(r.tags.len() <= limits::TAGS);
            assert!(r.items() <= limits::TOTAL && r.items() > 0);
            assert!(r.bytes <= MAX_BATCH_BYTES);
            if !r.metrics.is_empty() {
                assert_eq!(r.metrics.start, next_metric);
                next_metric = r.metrics.end;
            }
            (nm, np, nt) = (nm + r.metrics.len(), np + r.params.len(), nt + r.tags.len());
        }
        assert_eq!((nm, np, nt), (2800, 250, 150));
        // Params all go out before anything else.
        assert_eq!(plan[0].params.len(), 100);
        assert!(plan[0].tags.is_empty() && plan[0].metrics.is_empty());
        assert_eq!(plan.len(), 6);
        assert_eq!(plan_batches(&metrics[..1000], &[], &[]).len(), 1);
        assert_eq!(plan_batches(&metrics[..1001], &[], &[]).len(), 2);
        assert!(plan_batches(&[], &[], &[]).is_empty());
    }

    #[test]
    fn batches_stay_under_the_byte_limit() {
        let params: Vec<Param> = (0..100)
            .map(|i| Param::parse(&format!("p{i}"), "x".repeat(6000)).unwrap())
            .collect();
        // Quotes and control characters take two to six bytes each in JSON.
        let tags: Vec<Tag> = (0..100)
            .map(|i| Tag::parse(&format!("t{i}"), "\u{1}\"".repeat(4000)).unwrap())
            .collect();
        let params: Vec<&Param> = params.iter().collect();
        let tags: Vec<&Tag> = tags.iter().collect();
        let plan = plan_batches(&[], &params, &tags);
        assert!(plan.len() >= 4, "{} requests", plan.len());
        for r in &plan {
            let body = wire::LogBatch {
                run_id: "0123456789abcdef0123456789abcdef",
                metrics: &[],
                params: r.params.iter().map(|p| KeyValue::param(p)).collect(),
                tags: r.tags.iter().map(|t| KeyValue::tag(t)).collect(),
            };
            let len = serde_json::to_vec(&body).unwrap().len();
            assert!(len <= 1_000_000, "{len} bytes");
        }
    }

    #[test]
    fn a_param_key_twice_in_one_batch_is_refused() {
        let params = [
            Param::parse("a", "1").unwrap(),
            Param::parse("b", "1").unwrap(),
        ];
        assert_eq!(unique_params(&params).unwrap().len(), 2);
        for second in ["1", "2"] {
            let twice = [
                Param::parse("a", "1").unwrap(),
                Param::parse("a", second).unwrap(),
            ];
            assert!(matches!(
                unique_params(&twice),
                Err(TrackError::DuplicateKey { what: "param", key }) if key == "a"
            ));
        }
        let tags = [
            Tag::parse("t", "1").unwrap(),
            Tag::parse("u", "x").unwrap(),
            Tag::parse("t", "2").unwrap(),
        ];
        let kept: Vec<(&str, &str)> = last_tags(&tags)
            .iter()
            .map(|t| (t.key().as_str(), t.value()))
            .collect();
        assert_eq!(kept, [("u", "x"), ("t", "2")]);
    }

    #[test]
    fn request_id_filters_quote_safely() {
        assert_eq!(
            request_id_filter("abc").unwrap(),
            "tags.`mlops.client_request_id` = 'abc'"
        );
        assert_eq!(
            request_id_filter("it's").unwrap(),
            "tags.`mlops.client_request_id` = \"it's\""
        );
        assert!(request_id_filter("'\"").is_none());
        Filter::parse(&request_id_filter("abc").unwrap()).unwrap();
    }
}
