//! The one error type of `mlops-monitor`.

/// The result type of this crate.
pub type Result<T, E = MonitorError> = std::result::Result<T, E>;

/// Everything that can go wrong in `mlops-monitor`. Each variant names the value at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// An argument or setting is out of range or malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A model's tensors cannot be mapped to the reference profile's columns.
    #[error("model {model:?}: cannot map tensors to features: {reason}")]
    Mapping {
        /// The model.
        model: String,
        /// Why.
        reason: String,
    },

    /// The drift computation failed as a whole (a column's problem stays in the report).
    #[error(transparent)]
    Drift(#[from] mlops_drift::DriftError),

    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] mlops_registry::RegistryError),

    /// A name, path or store URI was refused.
    #[error(transparent)]
    Core(#[from] mlops_core::Error),

    /// The store failed.
    #[error("store {key}: {source}")]
    Store {
        /// The object key.
        key: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },

    /// A stored file cannot be read.
    #[error("{key}: {reason}")]
    Corrupt {
        /// The object key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Writing Parquet or Arrow data failed.
    #[error("encoding {what}: {reason}")]
    Encode {
        /// What was written.
        what: String,
        /// Why it failed.
        reason: String,
    },

    /// A webhook URL was refused before any connection (SSRF rules, scheme).
    #[error("webhook {url}: refused: {reason}")]
    WebhookRefused {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },

    /// A webhook was not acknowledged.
    #[error("webhook {url}: {reason}")]
    Webhook {
        /// The URL.
        url: String,
        /// What happened.
        reason: String,
    },
}
impl MonitorError {
    pub(crate) fn store(key: &object_store::path::Path, source: object_store::Error) -> Self {
        Self::Store {
            key: key.to_string(),
            source,
        }
    }

    pub(crate) fn encode(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Encode {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}
