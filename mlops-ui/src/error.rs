//! [`UiError`], the crate's one error type, and the only place errors become HTTP answers
//! (a small escaped HTML page, never a stack trace or a store path).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use mlops_registry::RegistryError;
use mlops_track::TrackError;

/// What went wrong serving a page or starting the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UiError {
    /// A request argument was refused; the message names it.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request's Host is not on the allowlist (DNS rebinding).
    #[error("host {0:?} is not allowed")]
    ForbiddenHost(String),
    /// A state-changing request failed the CSRF token or same-origin check.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A reviewer token was missing or unknown.
    #[error("unauthorized: a valid reviewer token is required")]
    Unauthorized,
    /// The run, model, version or artifact does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The page needs a registry and none was configured.
    #[error("no model registry is configured (start the UI with --registry)")]
    NoRegistry,
    /// The tracking store failed.
    #[error(transparent)]
    Track(#[from] TrackError),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The drift history failed.
    #[error(transparent)]
    Monitor(#[from] mlops_monitor::MonitorError),
    /// The reviewers file could not be read or parsed; the message names the line.
    #[error("reviewers: {0}")]
    Reviewers(String),
    /// Binding or serving failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

impl UiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::Track(TrackError::Invalid(_) | TrackError::Search(_)) => {
                StatusCode::BAD_REQUEST
            }
            Self::Registry(RegistryError::InvalidArgument(_) | RegistryError::Invalid(_)) => {
                StatusCode::BAD_REQUEST
            }
            Self::Monitor(
                mlops_monitor::MonitorError::InvalidArgument(_)
                | mlops_monitor::MonitorError::Core(_),
            ) => StatusCode::BAD_REQUEST,
            Self::ForbiddenHost(_) | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_)
            | Self::Track(TrackError::NotFound { .. })
            | Self::Registry(RegistryError::NotFound { .. }) => StatusCode::NOT_FOUND,
            Self::NoRegistry => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!("ui: {self}");
        }
        let page = maud::html! {
            (maud::DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; title { "Error " (status.as_u16()) } link rel="stylesheet" href="/assets/ui.css"; }
                body { main { h1 { "Error " (status.as_u16()) } p.error { (self.to_string()) } p { a href="/" { "Home" } } } }
            }
        };
        (status, Html(page.into_string())).into_response()
    }
}

/// The crate's result.
pub type Result<T, E = UiError> = std::result::Result<T, E>;
