//! The routes and their handlers.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::table::{Entry, route};
use super::{Inner, PHASE_SERVING, PHASE_STOPPING, body, guard, shadow};
use crate::error::{Error, Result};
use crate::metrics::Outcome;
use crate::model::Servable;
use crate::observe::{Observation, guarded};
use crate::protocol::{request, response};
use crate::tensor::TensorSpec;

const INFERENCE_HEADER: HeaderName = HeaderName::from_static("inference-header-content-length");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    let mut router = Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/", get(server_metadata))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(model_metadata))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route("/v2/models/{name}/infer", post(infer))
        .route("/v2/models/{name}/versions/{version}", get(model_metadata))
        .route(
            "/v2/models/{name}/versions/{version}/ready",
            get(model_ready),
        )
        .route("/v2/models/{name}/versions/{version}/infer", post(infer))
        .route("/metrics", get(metrics));
    if inner.repository {
        router = router
            .route("/v2/repository/index", post(repository_index))
            .route("/v2/repository/models/{name}/load", post(repository_load))
            .route(
                "/v2/repository/models/{name}/unload",
                post(repository_unload),
            );
    }
    router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    if inner.token_digest.is_some() || inner.allowed_hosts.is_some() {
        router = router.layer(axum::middleware::from_fn_with_state(
            Arc::clone(&inner),
            guard::guard,
        ));
    }
    router.with_state(inner)
}

fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, JSON)], body).into_response(),
        Err(e) => Error::Config(format!("cannot encode a response: {e}")).into_response(),
    }
}

#[derive(Deserialize)]
struct ModelPath {
    name: String,
    version: Option<String>,
}

fn model_path(path: std::result::Result<Path<ModelPath>, PathRejection>) -> Result<ModelPath> {
    path.map(|Path(p)| p)
        .map_err(|e| Error::invalid(format!("invalid path: {}", e.body_text())))
}

async fn not_found(method: Method, uri: Uri) -> Error {
    Error::RouteNotFound {
        method: method.to_string(),
        path: uri.path().chars().take(200).collect(),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> Error {
    Error::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().chars().take(200).collect(),
    }
}

#[derive(Serialize)]
struct ServerMetadata<'a> {
    name: &'a str,
    version: &'a str,
    extensions: &'a [&'a str],
}

async fn server_metadata(State(inner): State<Arc<Inner>>) -> Response {
    let extensions: &[&str] = if inner.repository {
        &["binary_tensor_data", "model_repository"]
    } else {
        &["binary_tensor_data"]
    };
    json_response(
        StatusCode::OK,
        &ServerMetadata {
            name: "mlops-serve",
            version: env!("CARGO_PKG_VERSION"),
            extensions,
        },
    )
}

async fn live() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, JSON)],
        "{\"live\":true}",
    )
        .into_response()
}

async fn ready(State(inner): State<Arc<Inner>>) -> Result<Response> {
    if inner.phase() != PHASE_SERVING {
        return Err(Error::Draining);
    }
    let snapshot = inner.table.snapshot();
    if let Some(entry) = snapshot.entries.iter().find(|e| e.servable.is_none()) {
        return Err(Error::ModelNotReady {
            name: entry.name().to_owned(),
        });
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, JSON)],
        "{\"ready\":true}",
    )
        .into_response())
}

#[derive(Serialize)]
struct ModelReady<'a> {
    name: &'a str,
    ready: bool,
}

async fn model_ready(
    State(inner): State<Arc<Inner>>,
    path: std::result::Result<Path<ModelPath>, PathRejection>,
) -> Result<Response> {
    let path = model_path(path)?;
    let snapshot = inner.table.snapshot();
    let entry = snapshot.entry(&path.name, path.version.as_deref())?;
    if inner.phase() == PHASE_STOPPING {
        return Err(Error::Draining);
    }
    if entry.servable.is_none() {
        return Err(Error::ModelNotReady {
            name: entry.name().to_owned(),
        });
    }
    Ok(json_response(
        StatusCode::OK,
        &ModelReady {
            name: entry.name(),
            ready: true,
        },
    ))
}

#[derive(Serialize)]
struct SpecJson<'a> {
    name: &'a str,
    datatype: &'static str,
    shape: &'a [i64],
}

fn specs(list: &[TensorSpec]) -> Vec<SpecJson<'_>> {
    list.iter()
        .map(|s| SpecJson {
            name: &s.name,
            datatype: s.datatype.as_str(),
            shape: &s.shape,
        })
        .collect()
}

#[derive(Serialize)]
struct ModelMetadataJson<'a> {
    name: &'a str,
    versions: Vec<&'a str>,
    platform: &'a str,
    inputs: Vec<SpecJson<'a>>,
    outputs: Vec<SpecJson<'a>>,
}

async fn model_metadata(
    State(inner): State<Arc<Inner>>,
    path: std::result::Result<Path<ModelPath>, PathRejection>,
) -> Result<Response> {
    let path = model_path(path)?;
    let snapshot = inner.table.snapshot();
    let entry = snapshot.entry(&path.name, path.version.as_deref())?;
    let metadata = &entry.metadata;
    let versions = snapshot
        .versions(entry.name())
        .filter_map(|e| e.version())
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &ModelMetadataJson {
            name: &metadata.name,
            versions,
            platform: &metadata.platform,
            inputs: specs(&metadata.inputs),
            outputs: specs(&metadata.outputs),
        },
    ))
}

/// Decrements the in-flight gauge when dropped.
struct InFlight<'a>(&'a Entry);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.metrics.in_flight.dec();
    }
}

/// The header that makes the canary choice sticky: the same key, the same version.
const ROUTE_KEY: HeaderName = HeaderName::from_static("mlops-route-key");

/// The entry a request goes to (the canary's for its share of unversioned requests), and
/// the shadow version that gets a copy, if any.
fn route(
    inner: &Inner,
    name: &str,
    version: Option<&str>,
    headers: &HeaderMap,
) -> Result<(Arc<Entry>, Option<Arc<Entry>>)> {
    inner.table.with_snapshot(|snapshot| {
        let mut entry = snapshot.entry(name, version)?;
        let mut shadow = None;
        if version.is_none()
            && let Some(routes) = snapshot.routes.get(name)
        {
            let key = headers.get(ROUTE_KEY).map(HeaderValue::as_bytes);
            if let Some(canary) = &routes.canary
                && route::falls_in(canary.share, key, 0)
            {
                entry = snapshot.entry(name, Some(&canary.version))?;
            }
            if let Some(split) = &routes.shadow
                && split.version.as_str() != entry.version().unwrap_or("")
                && route::falls_in(split.share, key, 1)
            {
                shadow = snapshot.entry(name, Some(&split.version)).ok().cloned();
            }
        }
        Ok((Arc::clone(entry), shadow))
    })
}

/// The two headers of ours an inference request may carry (`Inference-Header-Content-Length`,
/// `X-Request-Id`), first values, found in one pass over its few headers: a lookup by a
/// name that is not a standard header hashes the name each time.
fn own_headers(headers: &HeaderMap) -> (Option<&HeaderValue>, Option<&HeaderValue>) {
    let (mut length, mut id) = (None, None);
    for (name, value) in headers {
        if *name == INFERENCE_HEADER {
            length.get_or_insert(value);
        } else if *name == REQUEST_ID {
            id.get_or_insert(value);
        }
    }
    (length, id)
}

async fn infer(
    State(inner): State<Arc<Inner>>,
    path: std::result::Result<Path<ModelPath>, PathRejection>,
    request: Request,
) -> Response {
    let arrived = Instant::now();
    let path = match model_path(path) {
        Ok(path) => path,
        Err(e) => return e.into_response(),
    };
    // The request's own head: the `HeaderMap` extractor would clone every header.
    let (parts, body) = request.into_parts();
    let version = path.version.as_deref();
    infer_model(&inner, &path.name, version, parts.headers, body, arrived).await
}

/// `POST /v2/models/{name}/infer` without the router, for [`super::listen`]: a server without
/// a guard answers its one hot route straight from the connection. Matching the path, taking
/// the parameters apart and inserting them into the request's extensions cost the router
/// more than a whole small model's inference; the answer is the same.
#[derive(Debug)]
pub(crate) struct DirectInfer(Arc<Inner>);

impl DirectInfer {
    /// The direct route of `inner`'s server, unless a guard (token, allowed hosts) has to see
    /// every request first.
    pub(crate) fn of(inner: &Arc<Inner>) -> Option<Self> {
        (inner.token_digest.is_none() && inner.allowed_hosts.is_none())
            .then(|| Self(Arc::clone(inner)))
    }

    /// Whether `request` is a `POST /v2/models/{name}/infer` this route answers.
    pub(crate) fn accepts<B>(&self, request: &axum::http::Request<B>) -> bool {
        request.method() == Method::POST && direct_model_name(request.uri().path()).is_some()
    }

    /// Answers a request [`Self::accepts`] (another gets the router's 404 answer).
    pub(crate) async fn call(&self, request: Request) -> Response {
        let arrived = Instant::now();
        let (parts, body) = request.into_parts();
        let Some(name) = direct_model_name(parts.uri.path()) else {
            return not_found(parts.method, parts.uri).await.into_response();
        };
        infer_model(&self.0, name, None, parts.headers, body, arrived).await
    }
}

/// The model name of an inference path `/v2/models/{name}/infer` whose name the router would
/// pass on unchanged: one segment, nothing percent-encoded (anything else goes to the router).
fn direct_model_name(path: &str) -> Option<&str> {
    let name = path.strip_prefix("/v2/models/")?.strip_suffix("/infer")?;
    (!name.is_empty() && !name.contains(['/', '%'])).then_some(name)
}

/// Serves an inference request for model `name` (and `version`).
async fn infer_model(
    inner: &Inner,
    name: &str,
    version: Option<&str>,
    headers: HeaderMap,
    body: Body,
    arrived: Instant,
) -> Response {
    // The entry is held until the answer: a model replaced meanwhile finishes this request.
    let (entry, shadow) = match route(inner, name, version, &headers) {
        Ok(routed) => routed,
        Err(e) => return e.into_response(),
    };
    let (header_len, request_id) = own_headers(&headers);
    let mut response =
        match infer_entry(inner, &entry, &headers, header_len, body, arrived, shadow).await {
            Ok(response) => {
                entry.metrics.count(Outcome::Success);
                response
            }
            Err(e) => {
                entry.metrics.count(Outcome::of(&e));
                e.into_response()
            }
        };
    let elapsed = arrived.elapsed();
    entry.metrics.total.observe(elapsed.as_secs_f64());
    entry
        .metrics
        .stats
        .record(response.status().is_server_error(), elapsed);
    if let Some(id) = request_id {
        response.headers_mut().insert(REQUEST_ID, id.clone());
    }
    response
}

async fn infer_entry(
    inner: &Inner,
    entry: &Entry,
    headers: &HeaderMap,
    header_len: Option<&HeaderValue>,
    body: Body,
    arrived: Instant,
    shadow: Option<Arc<Entry>>,
) -> Result<Response> {
    if inner.phase() == PHASE_STOPPING {
        return Err(Error::Draining);
    }
    // Borrowed: the entry, held until the answer, keeps the model alive.
    let servable: &Servable = entry
        .servable
        .as_ref()
        .ok_or_else(|| Error::ModelNotReady {
            name: entry.name().to_owned(),
        })?;
    body::check_content_type(headers)?;
    let header_len = match header_len {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    Error::invalid("Inference-Header-Content-Length is not a non-negative integer")
                })?,
        ),
    };
    let bytes = body::read(body, headers, inner).await?;
    let metadata = servable.metadata();
    let request = request::decode(&bytes.bytes, header_len, metadata)?;
    drop(bytes);
    let _admission = entry.scheduler.admit()?;
    entry.metrics.in_flight.inc();
    let _in_flight = InFlight(entry);
    let observer = inner.observer.0.as_ref().filter(|observer| {
        guarded(&inner.metrics, || observer.sample(&entry.metadata)).unwrap_or(false)
    });
    // An observed request without an OIP `id` gets one (UUID v7), echoed in the response's
    // `id`, so the client can join delayed labels with the observer's rows (inference log).
    let id = (request.id).or_else(|| observer.map(|_| uuid::Uuid::now_v7().to_string()));
    let observed_inputs = observer.map(|_| request.inputs.clone());
    let shadow_inputs = shadow.as_ref().map(|_| request.inputs.clone());
    let deadline = entry.options.deadline;
    // The scheduler bounds the wait: a queued request needs no timer of its own.
    let outputs = (entry.scheduler)
        .run(servable, request.inputs, request.rows, arrived, deadline)
        .await?;
    let encoded = response::encode(metadata, id.as_deref(), &request.outputs, &outputs)?;
    if let (Some(entry), Some(inputs)) = (shadow, shadow_inputs) {
        inner.shadow.offer(shadow::Job {
            entry,
            inputs,
            served: outputs.clone(),
        });
    }
    if let (Some(observer), Some(inputs)) = (observer, observed_inputs) {
        let (now, latency) = (std::time::SystemTime::now(), arrived.elapsed());
        let observation = Observation {
            metadata: Arc::clone(&entry.metadata),
            request_id: id,
            received: now.checked_sub(latency).unwrap_or(now),
            latency,
            inputs,
            outputs,
        };
        guarded(&inner.metrics, || observer.observe(observation));
    }
    // 200 is the default status; the headers go straight into the map (the builder's
    // conversions and error plumbing cost more than the insertions).
    let mut response = Response::new(Body::from(encoded.body));
    let headers = response.headers_mut();
    match encoded.header_len {
        Some(len) => {
            headers.insert(header::CONTENT_TYPE, OCTET_STREAM);
            headers.insert(INFERENCE_HEADER, HeaderValue::from(len));
        }
        None => {
            headers.insert(header::CONTENT_TYPE, JSON);
        }
    }
    Ok(response)
}

/// OpenMetrics when the scraper asks for it (Prometheus does), else Prometheus text 0.0.4.
async fn metrics(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let (content_type, mut text) = if openmetrics {
        (
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            inner.metrics.encode(),
        )
    } else {
        (
            "text/plain; version=0.0.4; charset=utf-8",
            inner.metrics.encode_prometheus(),
        )
    };
    // The observer's families go before OpenMetrics' closing `# EOF`.
    if let Some(observer) = &inner.observer.0
        && let Some(extra) =
            crate::observe::guarded(&inner.metrics, || observer.encode_metrics(openmetrics))
        && !extra.is_empty()
    {
        let eof = openmetrics.then(|| text.rfind("# EOF")).flatten();
        match eof {
            Some(at) => text.insert_str(at, &extra),
            None => text.push_str(&extra),
        }
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        text,
    )
        .into_response()
}

#[derive(Deserialize, Default)]
struct IndexRequest {
    #[serde(default)]
    ready: Option<bool>,
}

#[derive(Serialize)]
struct IndexEntry<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    state: &'static str,
    reason: &'static str,
}

async fn repository_index(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    body::check_content_type(&headers)?;
    let bytes = body::read(body, &headers, &inner).await?;
    let request: IndexRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
        IndexRequest::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid(format!("malformed index request: {e}")))?
    };
    let only_ready = request.ready.unwrap_or(false);
    let snapshot = inner.table.snapshot();
    let list: Vec<IndexEntry<'_>> = snapshot
        .entries
        .iter()
        .map(|e| {
            let ready = e.servable.is_some();
            IndexEntry {
                name: e.name(),
                version: e.version(),
                state: if ready { "READY" } else { "UNAVAILABLE" },
                reason: if ready { "" } else { "unloaded" },
            }
        })
        .filter(|e| !only_ready || e.state == "READY")
        .collect();
    Ok(json_response(StatusCode::OK, &list))
}

/// The model a repository load or unload request names, once its path, content type and
/// body (read and bounded, its content unused) are checked.
async fn repository_target(
    inner: &Inner,
    path: std::result::Result<Path<ModelPath>, PathRejection>,
    headers: &HeaderMap,
    body: Body,
) -> Result<String> {
    let path = model_path(path)?;
    body::check_content_type(headers)?;
    body::read(body, headers, inner).await?;
    Ok(path.name)
}

async fn repository_load(
    State(inner): State<Arc<Inner>>,
    path: std::result::Result<Path<ModelPath>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode> {
    let name = repository_target(&inner, path, &headers, body).await?;
    match inner.table.reload(&name).await {
        Ok(()) => Ok(StatusCode::OK),
        Err(e @ Error::ModelNotFound { .. }) => Err(e),
        Err(e) => {
            // The whole cause may name server paths: it goes to the log; the client gets the
            // reason of a load error, which names none.
            tracing::warn!(model = %name, error = %e, "reload failed");
            let message = match &e {
                Error::Load { reason, .. } => {
                    format!("the model failed to load; see the server log. Reason: {reason}")
                }
                _ => "the model failed to load; see the server log".to_owned(),
            };
            Err(Error::inference(&name, message))
        }
    }
}

async fn repository_unload(
    State(inner): State<Arc<Inner>>,
    path: std::result::Result<Path<ModelPath>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode> {
    let name = repository_target(&inner, path, &headers, body).await?;
    inner.table.unload(&name)?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::direct_model_name;

    #[test]
    fn only_plain_inference_paths_skip_the_router() {
        assert_eq!(direct_model_name("/v2/models/iris/infer"), Some("iris"));
        assert_eq!(
            direct_model_name("/v2/models/a.b-c_d/infer"),
            Some("a.b-c_d")
        );
        for path in [
            "/v2/models//infer",
            "/v2/models/iris/infer/",
            "/v2/models/iris/versions/2/infer",
            "/v2/models/ir%69s/infer",
            "/v2/models/iris",
            "/v2/models/infer",
            "/v2/iris/infer",
        ] {
            assert_eq!(direct_model_name(path), None, "{path}");
        }
    }
}
