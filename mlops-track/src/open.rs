//! [`open`]: a tracking store from a URI, in the manner of object_store's `parse_url`:
//! `http(s)://` is an MLflow tracking server, anything else a store URI opened as the
//! embedded [`LocalStore`].

use std::sync::Arc;

use mlops_core::{Backend, StoreUri};

use crate::error::{Result, TrackError};
use crate::local::{LocalStore, LocalStoreOptions};
use crate::mlflow::MlflowStore;
use crate::store::TrackingStore;

/// How [`open_with`] opens a store; the defaults are [`open`]'s.
///
/// ```
/// use mlops_track::{LocalStoreOptions, OpenOptions};
/// let options = OpenOptions::default()
///     .create_if_missing(false) // a read-only command: refuse a mistyped path
///     .with_local(LocalStoreOptions::default().with_concurrency(4));
/// # let _ = options;
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    create: bool,
    local: LocalStoreOptions,
    env_credentials: bool,
    credentials: Option<Credentials>,
}

#[derive(Clone)]
enum Credentials {
    Token(String),
    Basic(String, String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            create: true,
            local: LocalStoreOptions::default(),
            env_credentials: true,
            credentials: None,
        }
    }
}

impl OpenOptions {
    /// Whether an embedded store that does not exist yet is created (the default), or is
    /// [`TrackError::NotFound`] (`what` = `"tracking store"`). MLflow servers are not
    /// affected.
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Tuning of an embedded store.
    pub fn with_local(mut self, options: LocalStoreOptions) -> Self {
        self.local = options;
        self
    }

    /// An MLflow server's bearer token (instead of `MLFLOW_TRACKING_TOKEN`).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::Token(token.into()));
        self
    }

    /// An MLflow server's basic authentication (instead of `MLFLOW_TRACKING_USERNAME` and
    /// `MLFLOW_TRACKING_PASSWORD`).
    pub fn with_basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::Basic(user.into(), password.into()));
        self
    }

    /// Whether MLflow's credential variables are read when no credentials were given (on by
    /// default, as MLflow's own clients do).
    pub fn credentials_from_env(mut self, read: bool) -> Self {
        self.env_credentials = read;
        self
    }
}

/// Whether `uri` names an MLflow tracking server (`http://` or `https://`, any case) rather
/// than a store root.
pub fn is_mlflow_uri(uri: &str) -> bool {
    let uri = uri.trim_start();
    ["http://", "https://"].iter().any(|scheme| {
        uri.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    })
}

/// The tracking store `uri` names, with default options:
///
/// - `http://HOST:PORT[/prefix]` or `https://…` (feature `tls`): an MLflow tracking server
///   ([`MlflowStore`]), with credentials from `MLFLOW_TRACKING_TOKEN`, or
///   `MLFLOW_TRACKING_USERNAME` and `_PASSWORD`;
/// - anything else: a store root ([`StoreUri`]: a folder, `file://`, `memory://`, and
///   `s3://`, `az://`, `gs://` with the `cloud` feature) opened as the embedded
///   [`LocalStore`], created when missing.
///
/// ```
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use mlops_track::{ExperimentName, TrackingStoreExt};
/// let dir = tempfile::tempdir()?;
/// let store = mlops_track::open(dir.path().to_str().unwrap()).await?;
/// store.get_or_create_experiment(&ExperimentName::parse("churn")?).await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// An invalid URI ([`TrackError::Invalid`]); the embedded store's errors on opening.
/// Nothing is sent to an MLflow server until the first call.
pub async fn open(uri: &str) -> Result<Arc<dyn TrackingStore>> {
    open_with(uri, OpenOptions::default()).await
}

/// [`open`] with options: whether to create a missing embedded store, its tuning, and an
/// MLflow server's credentials.
///
/// # Errors
///
/// As [`open`]; and [`TrackError::NotFound`] (`what` = `"tracking store"`, `id` = the
/// folder or URI) for an embedded store that does not exist when
/// [`OpenOptions::create_if_missing`] is off.
pub async fn open_with(uri: &str, options: OpenOptions) -> Result<Arc<dyn TrackingStore>> {
    if is_mlflow_uri(uri) {
        let mut builder = MlflowStore::builder(uri.trim());
        if options.env_credentials {
            builder = builder.credentials_from_env();
        }
        builder = match options.credentials {
            Some(Credentials::Token(token)) => builder.token(token),
            Some(Credentials::Basic(user, password)) => builder.basic_auth(user, password),
            None => builder,
        };
        return Ok(Arc::new(builder.build()?));
    }
    let parsed = StoreUri::parse(uri)?;
    if !options.create {
        // A folder is checked before it is opened: opening creates it.
        let missing = match parsed.backend() {
            Backend::Local(folder) => !folder.join("FORMAT.json").is_file(),
            _ => !LocalStore::exists(&parsed.open()?).await?,
        };
        if missing {
            let id = match parsed.backend() {
                Backend::Local(folder) => folder.display().to_string(),
                _ => parsed.as_str().to_owned(),
            };
            return Err(TrackError::NotFound {
                what: "tracking store",
                id,
            });
        }
    }
    let root = parsed.open()?;
    Ok(Arc::new(
        LocalStore::open_with_options(root, options.local).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlflow_uris_are_told_by_their_scheme() {
        for mlflow in [
            "http://127.0.0.1:5000",
            "HTTPS://mlflow.example.com/x",
            " http://h",
        ] {
            assert!(is_mlflow_uri(mlflow), "{mlflow}");
        }
        for store in [
            "./mlops",
            "file:///tmp/x",
            "memory://",
            "s3://b/p",
            "httpdocs/x",
            "h",
        ] {
            assert!(!is_mlflow_uri(store), "{store}");
        }
    }

    #[test]
    fn credentials_stay_out_of_debug_output() {
        let options = OpenOptions::default().with_basic_auth("ada", "s3cret");
        assert!(!format!("{options:?}").contains("s3cret"));
    }
}
