//! The one error type of `mlops-track`.

/// The result type of this crate.
pub type Result<T, E = TrackError> = std::result::Result<T, E>;

/// Everything that can go wrong while tracking.
///
/// Backends map their own failures onto these meanings (an MLflow `RESOURCE_DOES_NOT_EXIST`
/// and a missing object are both [`TrackError::NotFound`]), so callers match on what
/// happened, never on which backend they talk to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackError {
    /// A name, key, path or value was refused before anything was written.
    #[error(transparent)]
    Invalid(#[from] mlops_core::Error),

    /// The experiment, run or artifact does not exist.
    #[error("{what} {id:?} does not exist")]
    NotFound {
        /// `"experiment"`, `"run"`, `"artifact"`, …
        what: &'static str,
        /// Its id, name or path.
        id: String,
    },

    /// Something with this name already exists.
    #[error("{what} {name:?} already exists")]
    AlreadyExists {
        /// `"experiment"`, …
        what: &'static str,
        /// The name.
        name: String,
    },

    /// A param was logged again with a different value; params are write-once.
    #[error("param {key:?} of run {run} is already {existing:?}; cannot change it to {new:?}")]
    ParamConflict {
        /// The run.
        run: String,
        /// The param key.
        key: String,
        /// The value already logged.
        existing: String,
        /// The value refused.
        new: String,
    },

    /// The operation is not allowed in the current state (for example logging to a deleted
    /// run, or to a run that has finished when the backend forbids it).
    #[error("{0}")]
    InvalidState(String),

    /// A request was larger than the backend accepts (MLflow: 1000 metrics, 100 params or
    /// 100 tags per batch).
    #[error("{what}: {count} items, the limit is {limit}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// How many were given.
        count: usize,
        /// The limit.
        limit: usize,
    },

    /// A search filter, order-by clause or page token was refused; the error names the
    /// position.
    #[error("invalid search: {0}")]
    Search(#[from] crate::filter::FilterError),

    /// The MLflow server answered with an error.
    #[error("MLflow error {code} (HTTP {status}): {message}")]
    Mlflow {
        /// MLflow's `error_code`, e.g. `INVALID_PARAMETER_VALUE`.
        code: String,
        /// The HTTP status.
        status: u16,
        /// MLflow's message.
        message: String,
    },

    /// The MLflow server could not be reached, or answered with something that is not
    /// MLflow's API.
    #[error("MLflow server {url}: {reason}")]
    Transport {
        /// The URL called.
        url: String,
        /// What went wrong.
        reason: String,
    },

    /// The object store failed.
    #[error("storage error at {path}: {source}")]
    Storage {
        /// The key involved.
        path: String,
        /// What object_store reported.
        #[source]
        source: object_store::Error,
    },

    /// Stored data could not be decoded (a corrupt or foreign file).
    #[error("corrupt record at {path}: {reason}")]
    Corrupt {
        /// The key involved.
        path: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A stored object is larger than this store reads (or writes) for its kind: damage or
    /// tampering, refused before its bytes are held.
    #[error("{path} is {size} bytes, over the {limit}-byte limit for {what}")]
    TooLarge {
        /// The key involved.
        path: String,
        /// What kind of object it is (`"a run record"`, …).
        what: &'static str,
        /// Its size as seen (as the store reported it, or the bytes received when the read
        /// stopped).
        size: u64,
        /// The limit, in bytes.
        limit: u64,
    },

    /// The background logger stopped (its task panicked or the runtime shut down) before
    /// the points were written.
    #[error("the background logger stopped: {0}")]
    LoggerStopped(String),

    /// One request named the same key twice where MLflow refuses it (two params with one key
    /// in a batch). Nothing was written.
    #[error("{what} key {key:?} appears more than once in one request")]
    DuplicateKey {
        /// `"param"`, …
        what: &'static str,
        /// The repeated key.
        key: String,
    },

    /// Arguments that are each valid but contradict each other (a run name and a different
    /// `mlflow.runName` tag, for example). Nothing was written.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// The MLflow client's errors keep their meaning: a missing thing is [`TrackError::NotFound`]
/// whichever backend reports it.
impl From<mlops_mlflow::MlflowError> for TrackError {
    fn from(e: mlops_mlflow::MlflowError) -> Self {
        use mlops_mlflow::MlflowError as E;
        match e {
            E::Invalid(e) => Self::Invalid(e),
            E::NotFound { what, id } => Self::NotFound { what, id },
            E::AlreadyExists { what, name } => Self::AlreadyExists { what, name },
            E::InvalidState(message) => Self::InvalidState(message),
            E::Mlflow {
                code,
                status,
                message,
            } => Self::Mlflow {
                code,
                status,
                message,
            },
            E::Transport { url, reason } => Self::Transport { url, reason },
            // A kind of failure newer than this crate: still the client's, and still worded.
            other => Self::Transport {
                url: String::new(),
                reason: other.to_string(),
            },
        }
    }
}

impl From<mlops_mlflow::RestError> for TrackError {
    fn from(e: mlops_mlflow::RestError) -> Self {
        e.error.into()
    }
}
