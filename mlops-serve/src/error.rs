//! The one error type of `mlops-serve`, how each variant maps to an HTTP status, and its
//! HTTP answer ([`IntoResponse`]), so handlers return `Result<_, Error>` and never map by hand.

use std::path::PathBuf;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while loading or serving a model.
///
/// Over HTTP every error is answered with `{"error": "<Display of the error>"}` and the status
/// from [`Error::status`]. Messages name the offending value (a tensor name, a datatype, a
/// shape) but never a filesystem path of the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed or does not match the model's metadata (HTTP 400).
    #[error("{0}")]
    InvalidRequest(String),

    /// No model with this name is served (HTTP 404).
    #[error("model {name:?} is not found")]
    ModelNotFound {
        /// The name asked for.
        name: String,
    },

    /// The model exists, but not this version (HTTP 404).
    #[error("model {name:?} has no version {version:?}")]
    VersionNotFound {
        /// The model name.
        name: String,
        /// The version asked for.
        version: String,
    },

    /// The model is known but not loaded (unloaded through the repository API) (HTTP 503).
    #[error("model {name:?} is not ready")]
    ModelNotReady {
        /// The model name.
        name: String,
    },

    /// The server is shutting down and takes no new inference (HTTP 503).
    #[error("the server is shutting down")]
    Draining,

    /// The model's queue is full; retry later (HTTP 429 with `Retry-After`).
    #[error("model {name:?} is overloaded: its queue of {capacity} requests is full")]
    QueueFull {
        /// The model name.
        name: String,
        /// The queue capacity that was reached.
        capacity: usize,
    },

    /// The (decompressed) body is larger than the limit (HTTP 413).
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },

    /// The bodies in flight already hold the server's memory budget for request bodies
    /// (HTTP 503 with `Retry-After`).
    #[error("the server is busy: request bodies in flight hold its budget of {budget} bytes")]
    BodyBudgetExhausted {
        /// The budget in bytes.
        budget: usize,
    },

    /// The request body stopped arriving: no byte for `timeout` (HTTP 408).
    #[error("the request body stopped arriving: nothing for {} ms", .timeout.as_millis())]
    BodyTimeout {
        /// The progress timeout that passed.
        timeout: Duration,
    },

    /// The request did not finish within its deadline (HTTP 504).
    #[error("model {name:?} did not answer within the deadline of {} ms", .deadline.as_millis())]
    DeadlineExceeded {
        /// The model name.
        name: String,
        /// The deadline that passed.
        deadline: Duration,
    },

    /// A bearer token is required and was missing or wrong (HTTP 401).
    #[error("missing or invalid bearer token")]
    Unauthorized,

    /// The `Host` header is not in the allowlist (HTTP 403).
    #[error("host {host:?} is not allowed")]
    HostNotAllowed {
        /// The host name as sent, without the port.
        host: String,
    },

    /// The `Content-Type` is neither JSON nor `application/octet-stream` (HTTP 415).
    #[error(
        "unsupported content type {content_type:?}: send application/json, application/octet-stream or none"
    )]
    UnsupportedMediaType {
        /// The content type as sent.
        content_type: String,
    },

    /// The `Content-Encoding` is neither gzip nor deflate (HTTP 415).
    #[error("unsupported content encoding {encoding:?}: send gzip, deflate or identity")]
    UnsupportedEncoding {
        /// The encoding as sent.
        encoding: String,
    },

    /// No route matches (HTTP 404).
    #[error("no route for {method} {path}")]
    RouteNotFound {
        /// The HTTP method.
        method: String,
        /// The request path.
        path: String,
    },

    /// The route exists but not for this method (HTTP 405).
    #[error("method {method} is not allowed for {path}")]
    MethodNotAllowed {
        /// The HTTP method.
        method: String,
        /// The request path.
        path: String,
    },

    /// The model failed while running (HTTP 500).
    #[error("inference failed for model {model:?}: {message}")]
    Inference {
        /// The model name.
        model: String,
        /// What went wrong.
        message: String,
    },

    /// A model file could not be loaded.
    #[error("cannot load model from {}: {reason}", .path.display())]
    Load {
        /// The file given.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },

    /// A model file is a format that executes code when loaded (pickle, joblib) and is refused.
    #[error("refusing to load {}: it is a {format} file, which can execute code when loaded", .path.display())]
    UnsafeArtifact {
        /// The file given.
        path: PathBuf,
        /// The format recognised by its magic bytes.
        format: &'static str,
    },

    /// A [`crate::ModelSource`] could not resolve or fetch a model (a registry error, a
    /// missing alias or version, a digest mismatch).
    #[error("model source failed for {model:?}: {source}")]
    Source {
        /// The model name.
        model: String,
        /// What the source reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A server or model option is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A local file could not be read or written.
    #[error("I/O error at {}: {source}", .path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },

    /// A name or value failed mlops-core validation.
    #[error(transparent)]
    Core(#[from] mlops_core::Error),
}

impl Error {
    /// A 400 error with this message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidRequest(message.into())
    }

    /// A 500 error raised by model `model`.
    pub fn inference(model: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Inference {
            model: model.into(),
            message: message.into(),
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_) | Self::Core(_) => StatusCode::BAD_REQUEST,
            Self::ModelNotFound { .. }
            | Self::VersionNotFound { .. }
            | Self::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            Self::ModelNotReady { .. } | Self::Draining | Self::BodyBudgetExhausted { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::QueueFull { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::DeadlineExceeded { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::HostNotAllowed { .. } => StatusCode::FORBIDDEN,
            Self::UnsupportedMediaType { .. } | Self::UnsupportedEncoding { .. } => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Inference { .. }
            | Self::Load { .. }
            | Self::UnsafeArtifact { .. }
            | Self::Source { .. }
            | Self::Config(_)
            | Self::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A [`Error::Source`] error for model `model`.
    pub fn source(
        model: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Source {
            model: model.into(),
            source: source.into(),
        }
    }
}

/// `{"error": "<Display>"}` (JSON) with [`Error::status`]; 429 and a busy 503 add
/// `Retry-After: 1`, and 401
/// adds `WWW-Authenticate: Bearer`, as OIP clients and HTTP expect.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response = (
            self.status(),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            crate::protocol::response::error_body(&self.to_string()),
        )
            .into_response();
        let extra = match self {
            Self::QueueFull { .. } | Self::BodyBudgetExhausted { .. } => {
                Some((header::RETRY_AFTER, "1"))
            }
            Self::Unauthorized => Some((header::WWW_AUTHENTICATE, "Bearer")),
            _ => None,
        };
        if let Some((name, value)) = extra {
            response
                .headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
        response
    }
}
