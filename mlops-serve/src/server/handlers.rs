//! The routes and their handlers.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::{Entry, Inner, PHASE_SERVING, PHASE_STOPPING, body, guard};
use crate::error::{Error, Result};
use crate::metrics::Outcome;
use crate::model::Servable;
use crate::protocol::{request, response};
use crate::tensor::TensorSpec;

const INFERENCE_HEADER: HeaderName = HeaderName::from_static("inference-header-content-length");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const JSON: HeaderValue = HeaderValue::from_static("application/json");

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

/// `{"error": ...}` with the error's status (and `Retry-After` for 429).
pub(crate) fn error_response(error: &Error) -> Response {
    let mut response = (
        error.status(),
        [(header::CONTENT_TYPE, JSON)],
        response::error_body(&error.to_string()),
    )
        .into_response();
    if matches!(error, Error::QueueFull { .. }) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, JSON)], body).into_response(),
        Err(e) => error_response(&Error::Config(format!("cannot encode a response: {e}"))),
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

async fn not_found(method: Method, uri: Uri) -> Response {
    error_response(&Error::RouteNotFound {
        method: method.to_string(),
        path: uri.path().chars().take(200).collect(),
    })
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error_response(&Error::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().chars().take(200).collect(),
    })
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

async fn ready(State(inner): State<Arc<Inner>>) -> Response {
    if inner.phase() != PHASE_SERVING {
        return error_response(&Error::Draining);
    }
    if let Some(entry) = inner.order.iter().find(|e| e.servable().is_none()) {
        return error_response(&Error::ModelNotReady {
            name: entry.name.clone(),
        });
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, JSON)],
        "{\"ready\":true}",
    )
        .into_response()
}

#[derive(Serialize)]
struct ModelReady<'a> {
    name: &'a str,
    ready: bool,
}

async fn model_ready(
    State(inner): State<Arc<Inner>>,
    path: std::result::Result<Path<ModelPath>, PathRejection>,
) -> Response {
    let result = (|| {
        let path = model_path(path)?;
        let entry = inner.entry(&path.name, path.version.as_deref())?;
        if inner.phase() == PHASE_STOPPING {
            return Err(Error::Draining);
        }
        if entry.servable().is_none() {
            return Err(Error::ModelNotReady {
                name: entry.name.clone(),
            });
        }
        Ok(json_response(
            StatusCode::OK,
            &ModelReady {
                name: &entry.name,
                ready: true,
            },
        ))
    })();
    result.unwrap_or_else(|e| error_response(&e))
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
) -> Response {
    let result = (|| {
        let path = model_path(path)?;
        let entry = inner.entry(&path.name, path.version.as_deref())?;
        let servable = entry.servable().unwrap_or_else(|| entry.initial.clone());
        let metadata = servable.metadata();
        let versions = inner
            .models
            .get(&entry.name)
            .map(|all| all.iter().filter_map(|e| e.version.as_deref()).collect())
            .unwrap_or_default();
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
    })();
    result.unwrap_or_else(|e| error_response(&e))
}

/// Decrements the in-flight gauge when dropped.
struct InFlight<'a>(&'a Entry);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.metrics.in_flight.dec();
    }
}

async fn infer(
    State(inner): State<Arc<Inner>>,
    path: std::result::Result<Path<ModelPath>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let arrived = Instant::now();
    let entry =
        match model_path(path).and_then(|p| inner.entry(&p.name, p.version.as_deref()).cloned()) {
            Ok(entry) => entry,
            Err(e) => return error_response(&e),
        };
    let mut response = match infer_entry(&inner, &entry, &headers, body, arrived).await {
        Ok(response) => {
            entry.metrics.count(Outcome::Success);
            response
        }
        Err(e) => {
            entry.metrics.count(Outcome::of(&e));
            error_response(&e)
        }
    };
    entry.metrics.total.observe(arrived.elapsed().as_secs_f64());
    if let Some(id) = headers.get(REQUEST_ID) {
        response.headers_mut().insert(REQUEST_ID, id.clone());
    }
    response
}

async fn infer_entry(
    inner: &Inner,
    entry: &Entry,
    headers: &HeaderMap,
    body: Body,
    arrived: Instant,
) -> Result<Response> {
    if inner.phase() == PHASE_STOPPING {
        return Err(Error::Draining);
    }
    let servable: Servable = entry.servable().ok_or_else(|| Error::ModelNotReady {
        name: entry.name.clone(),
    })?;
    body::check_content_type(headers)?;
    let header_len = match headers.get(INFERENCE_HEADER) {
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
    let bytes = body::read(body, headers, inner.body_limit).await?;
    let metadata = servable.metadata();
    let request = request::decode(&bytes, header_len, metadata)?;
    drop(bytes);
    let _admission = entry.scheduler.admit()?;
    entry.metrics.in_flight.inc();
    let _in_flight = InFlight(entry);
    let deadline = entry.options.deadline;
    let run = entry.scheduler.run(&servable, request.inputs, request.rows);
    let outputs = tokio::time::timeout_at((arrived + deadline).into(), run)
        .await
        .map_err(|_| Error::DeadlineExceeded {
            name: entry.name.clone(),
            deadline,
        })??;
    let encoded = response::encode(metadata, request.id.as_deref(), &request.outputs, &outputs)?;
    let mut builder = Response::builder().status(StatusCode::OK);
    builder = match encoded.header_len {
        Some(len) => builder
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(INFERENCE_HEADER, len),
        None => builder.header(header::CONTENT_TYPE, JSON),
    };
    builder
        .body(Body::from(encoded.body))
        .map_err(|e| Error::inference(&entry.name, format!("cannot build the response: {e}")))
}

/// OpenMetrics when the scraper asks for it (Prometheus does), else Prometheus text 0.0.4.
async fn metrics(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let (content_type, text) = if openmetrics {
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
) -> Response {
    let result = async {
        body::check_content_type(&headers)?;
        let bytes = body::read(body, &headers, inner.body_limit).await?;
        let request: IndexRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
            IndexRequest::default()
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| Error::invalid(format!("malformed index request: {e}")))?
        };
        let only_ready = request.ready.unwrap_or(false);
        let list: Vec<IndexEntry<'_>> = inner
            .order
            .iter()
            .map(|e| {
                let ready = e.servable().is_some();
                IndexEntry {
                    name: &e.name,
                    version: e.version.as_deref(),
                    state: if ready { "READY" } else { "UNAVAILABLE" },
                    reason: if ready { "" } else { "unloaded" },
                }
            })
            .filter(|e| !only_ready || e.state == "READY")
            .collect();
        Ok::<_, Error>(json_response(StatusCode::OK, &list))
    }
    .await;
    result.unwrap_or_else(|e| error_response(&e))
}

/// The versions a repository load or unload request names, once its path, content type
/// and body (read and bounded, its content unused) are checked.
async fn repository_target<'a>(
    inner: &'a Inner,
    path: std::result::Result<Path<ModelPath>, PathRejection>,
    headers: &HeaderMap,
    body: Body,
) -> Result<&'a [Arc<Entry>]> {
    let path = model_path(path)?;
    body::check_content_type(headers)?;
    body::read(body, headers, inner.body_limit).await?;
    inner
        .models
        .get(&path.name)
        .map(Vec::as_slice)
        .ok_or(Error::ModelNotFound { name: path.name })
}

async fn repository_load(
    State(inner): State<Arc<Inner>>,
    path: std::result::Result<Path<ModelPath>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        for entry in repository_target(&inner, path, &headers, body).await? {
            let servable = match &entry.source {
                None => entry.initial.clone(),
                Some(source) => {
                    let source = source.clone();
                    let name = entry.name.clone();
                    let version = entry.version.clone();
                    let loaded = tokio::task::spawn_blocking(move || {
                        crate::runtime::load(&source, &name, version.as_deref())
                    })
                    .await;
                    match loaded {
                        Ok(Ok(model)) => Servable::Sync(model),
                        Ok(Err(e)) => {
                            tracing::warn!(model = %entry.name, error = %e, "reload failed");
                            return Err(Error::inference(
                                &entry.name,
                                "the model file failed to load; see the server log",
                            ));
                        }
                        Err(_) => return Err(Error::inference(&entry.name, "the loader panicked")),
                    }
                }
            };
            entry.set(Some(servable));
        }
        Ok::<_, Error>(StatusCode::OK.into_response())
    }
    .await;
    result.unwrap_or_else(|e| error_response(&e))
}

async fn repository_unload(
    State(inner): State<Arc<Inner>>,
    path: std::result::Result<Path<ModelPath>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        for entry in repository_target(&inner, path, &headers, body).await? {
            entry.set(None);
        }
        Ok::<_, Error>(StatusCode::OK.into_response())
    }
    .await;
    result.unwrap_or_else(|e| error_response(&e))
}
