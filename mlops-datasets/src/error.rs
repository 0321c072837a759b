//! The crate's one error type.

/// A `Result` with [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// What went wrong with a dataset operation. Each variant names the offending value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A name, alias, version, path or option broke a rule.
    #[error(transparent)]
    Invalid(#[from] mlops_core::Error),
    /// An argument that is not a core name is wrong (`what` says which, `reason` why).
    #[error("invalid {what} {value:?}: {reason}")]
    Argument {
        /// What the value is (for example "dataset reference").
        what: &'static str,
        /// The value given.
        value: String,
        /// The rule it broke.
        reason: String,
    },
    /// No such dataset, version or alias.
    #[error("{what} {name} not found")]
    NotFound {
        /// What was looked for ("dataset", "dataset version", "dataset alias").
        what: &'static str,
        /// Its name, as `NAME`, `NAME@VERSION` or `NAME@ALIAS`.
        name: String,
    },
    /// Bytes read back do not have the digest the manifest recorded: an object was altered
    /// or replaced on the store (or the DVC remote).
    #[error("{path} of {dataset} is corrupt: expected {algorithm} {expected}, read {actual}")]
    DigestMismatch {
        /// The dataset version (`NAME@VERSION`).
        dataset: String,
        /// The file's path in the version.
        path: String,
        /// "sha256" or "md5".
        algorithm: &'static str,
        /// The recorded digest.
        expected: String,
        /// The digest of what was read.
        actual: String,
    },
    /// A stored record or a file we read is not what it must be.
    #[error("{path} is corrupt: {reason}")]
    Corrupt {
        /// The key or file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The object store failed.
    #[error("storage error at {path}: {source}")]
    Storage {
        /// The key concerned.
        path: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A Parquet file could not be read.
    #[error("{path} is not a readable Parquet file: {reason}")]
    Parquet {
        /// The file.
        path: String,
        /// The reader's message.
        reason: String,
    },
    /// Building a profile or a drift report failed.
    #[error("drift: {0}")]
    Drift(#[from] mlops_drift::DriftError),
    /// Another writer holds a claim that did not resolve in time.
    #[error("{what} {name} is busy: {reason}")]
    Busy {
        /// What ("dataset").
        what: &'static str,
        /// Which.
        name: String,
        /// Why the caller should retry.
        reason: String,
    },
}

impl DataError {
    pub(crate) fn storage<P: ToString + ?Sized>(path: &P, source: object_store::Error) -> Self {
        Self::Storage {
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    pub(crate) fn corrupt<P: ToString + ?Sized, R: ToString + ?Sized>(
        path: &P,
        reason: &R,
    ) -> Self {
        Self::Corrupt {
            path: path.to_string(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn argument(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::Argument {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }
}
