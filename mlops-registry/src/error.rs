//! The one error type of `mlops-registry`.

use mlops_core::ModelVersion;

use crate::types::Expect;

/// The result type of this crate.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// Everything that can go wrong in a registry.
///
/// Backends map their own failures onto these meanings (an MLflow `RESOURCE_DOES_NOT_EXIST`
/// and a missing log entry are both [`RegistryError::NotFound`]), so callers match on what
/// happened, never on which backend they talk to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A name, key, path or value was refused before anything was read or written.
    #[error(transparent)]
    Invalid(#[from] mlops_core::Error),

    /// A model-version source or a `models:/` URI was refused before any I/O.
    #[error("invalid model source {source_uri:?}: {reason}")]
    InvalidSource {
        /// The source as given.
        source_uri: String,
        /// Why it was refused.
        reason: String,
    },

    /// The model, version, alias or artifact does not exist.
    #[error("{what} {id:?} does not exist")]
    NotFound {
        /// `"registered model"`, `"model version"`, `"alias"`, `"artifact"`, …
        what: &'static str,
        /// Its name, number or path.
        id: String,
    },

    /// Something with this name already exists (names are compared case-insensitively).
    #[error("{what} {name:?} already exists")]
    AlreadyExists {
        /// `"registered model"`, …
        what: &'static str,
        /// The name.
        name: String,
    },

    /// A new model name that looks like an existing one: their confusable skeletons
    /// (Unicode TR 39) are equal, as `quickstart` and `quіckstart` (Cyrillic `і`).
    #[error(
        "model name {name:?} is confusable with the existing model {existing:?} (they look \
         alike: Unicode TR 39 skeletons are equal); choose another name"
    )]
    Confusable {
        /// The name refused.
        name: String,
        /// The existing model's name.
        existing: String,
    },

    /// An alias change's precondition was false: the alias did not hold what the caller
    /// expected. Nothing was changed. Promotion is a decision, so this is never retried.
    #[error("alias {alias:?} of model {model:?} is {}, expected {expected}", show_holder(.current))]
    Conflict {
        /// The model.
        model: String,
        /// The alias.
        alias: String,
        /// What the caller expected.
        expected: Expect,
        /// What the alias holds now.
        current: Option<ModelVersion>,
    },

    /// The operation is not allowed in the current state (an alias on a deleted version, a
    /// version that is not `READY`, …).
    #[error("{0}")]
    InvalidState(String),

    /// Arguments that are each valid but do not fit together.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A stored artifact's bytes do not match the SHA-256 digest recorded at registration.
    #[error(
        "artifact {path} of {model} v{version}: digest mismatch, recorded {expected}, found {actual}"
    )]
    DigestMismatch {
        /// The model.
        model: String,
        /// The version.
        version: ModelVersion,
        /// The artifact path.
        path: String,
        /// The digest recorded at registration.
        expected: String,
        /// The digest of the bytes read.
        actual: String,
    },

    /// A local file or folder could not be read.
    #[error("I/O error at {path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
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

    /// Stored data could not be decoded (a corrupt or foreign object).
    #[error("corrupt record at {path}: {reason}")]
    Corrupt {
        /// The key involved.
        path: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A stored object is larger than this registry reads for its kind (damage or
    /// tampering), refused before its bytes are held.
    #[error("{path} is {size} bytes, over the {limit}-byte limit for {what}")]
    TooLarge {
        /// The key involved.
        path: String,
        /// What kind of object it is (`"a log entry"`, …).
        what: &'static str,
        /// Its size as seen (as the store reported it, or the bytes received when the read
        /// stopped).
        size: u64,
        /// The limit, in bytes.
        limit: u64,
    },

    /// Stored data is in a format newer than this release reads (written by a later
    /// mlops-registry): upgrade rather than guess at it.
    #[error("{path} is in storage format {format}; this release reads formats up to {supported}")]
    NewerFormat {
        /// The key or tag involved.
        path: String,
        /// The format it is in.
        format: u32,
        /// The newest format this release reads.
        supported: u32,
    },

    /// The tracking store (source runs, their metrics and artifacts) failed.
    #[error(transparent)]
    Track(#[from] mlops_track::TrackError),

    /// The MLflow server answered with an error.
    #[error("MLflow error {code} (HTTP {status}): {message}")]
    Mlflow {
        /// MLflow's `error_code`, e.g. `RESOURCE_DOES_NOT_EXIST`.
        code: String,
        /// The HTTP status.
        status: u16,
        /// MLflow's message.
        message: String,
    },

    /// A server (MLflow, a webhook receiver) could not be reached, or answered with something
    /// unexpected.
    #[error("{url}: {reason}")]
    Transport {
        /// The URL called.
        url: String,
        /// What went wrong.
        reason: String,
    },

    /// A webhook URL was refused (scheme, or an address that is not public).
    #[error("webhook URL {url:?} refused: {reason}")]
    WebhookRefused {
        /// The URL as given.
        url: String,
        /// Why.
        reason: String,
    },

    /// The backend does not support this operation.
    #[error("{0} is not supported by this backend")]
    Unsupported(&'static str),
}

fn show_holder(current: &Option<ModelVersion>) -> String {
    match current {
        Some(v) => format!("version {v}"),
        None => "unset".to_owned(),
    }
}

impl RegistryError {
    pub(crate) fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            what,
            id: id.into(),
        }
    }

    /// Whether this is a precondition failure ([`RegistryError::Conflict`]).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }

    /// Whether this is [`RegistryError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}
