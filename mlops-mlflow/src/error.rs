//! The one error type of `mlops-mlflow`, and [`RestError`]: a failed call with whether the
//! server may have applied it.

/// The result type of this crate.
pub type Result<T, E = MlflowError> = std::result::Result<T, E>;

/// What an MLflow call can fail with, by meaning: a backend built on this client maps these
/// onto its own error (mlops-track's `TrackError`, mlops-registry's `RegistryError`) without
/// looking at HTTP details.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MlflowError {
    /// The base URL or the credentials were refused before anything was sent.
    #[error(transparent)]
    Invalid(#[from] mlops_core::Error),

    /// MLflow answered `RESOURCE_DOES_NOT_EXIST` about the call's [`Subject`](crate::Subject)
    /// (or about the run it is in).
    #[error("{what} {id:?} does not exist")]
    NotFound {
        /// `"experiment"`, `"run"`, `"registered model"`, …
        what: &'static str,
        /// Its id, name or path.
        id: String,
    },

    /// MLflow answered `RESOURCE_ALREADY_EXISTS` about the call's subject.
    #[error("{what} {name:?} already exists")]
    AlreadyExists {
        /// What the call was about.
        what: &'static str,
        /// Its name.
        name: String,
    },

    /// MLflow refused the call in the current state (`INVALID_STATE`, or a write to a
    /// deleted run or experiment).
    #[error("{0}")]
    InvalidState(String),

    /// Any other error MLflow answered with its error JSON.
    #[error("MLflow error {code} (HTTP {status}): {message}")]
    Mlflow {
        /// MLflow's `error_code`, e.g. `INVALID_PARAMETER_VALUE`.
        code: String,
        /// The HTTP status.
        status: u16,
        /// MLflow's message.
        message: String,
    },

    /// The server could not be reached, or answered with something that is not MLflow's
    /// API (an HTML page, a proxy's error, a cut-off body).
    #[error("MLflow server {url}: {reason}")]
    Transport {
        /// The URL called.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

/// A failed call.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct RestError {
    /// What went wrong (the last attempt's error).
    pub error: MlflowError,
    /// Whether an attempt may have been applied by the server although its answer was lost
    /// (a timeout, a dropped connection, a 5xx); a caller of a
    /// [`NotIdempotent`](crate::Idempotency::NotIdempotent) call resolves this by reading
    /// back.
    pub maybe_applied: bool,
}

impl RestError {
    /// A failure that certainly was not applied (the request was never sent, or the answer
    /// was an error).
    pub(crate) fn not_applied(error: MlflowError) -> Self {
        Self {
            error,
            maybe_applied: false,
        }
    }
}

pub(crate) fn transport(url: &url::Url, reason: &str) -> MlflowError {
    MlflowError::Transport {
        url: url.to_string(),
        reason: reason.to_owned(),
    }
}
