//! [`open`]: a registry backend chosen from a URI, in the manner of object_store's
//! `parse_url`: `http(s)://HOST[:PORT][/PATH]` is an MLflow server's model registry
//! ([`MlflowRegistry`]); anything else is a store URI ([`StoreUri`]: a folder, `file://`,
//! `memory://`, or `s3://`, `az://`, `gs://` with the `cloud` feature) opened as an
//! [`ObjectRegistry`] rooted exactly there (its keys under `<uri>/registry/`).

use std::fmt;
use std::sync::Arc;

use mlops_core::{Backend, StoreUri};

use crate::checks::check_actor;
use crate::error::{RegistryError, Result};
use crate::mlflow::MlflowRegistry;
use crate::object::ObjectRegistry;
use crate::registry::ModelRegistry;

/// The registry a URI names, with default options (the actor is `$USER`; MLflow
/// credentials come from MLflow's environment variables). No I/O, except that a missing
/// local folder is created.
///
/// ```
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use mlops_registry::{ModelName, RegistryExt};
/// let registry = mlops_registry::open("memory://")?;
/// let model = registry.ensure_model(&ModelName::parse("churn")?, None, &[]).await?;
/// assert_eq!(model.latest_version, None);
/// // An MLflow server is a URL: `mlops_registry::open("http://127.0.0.1:5000")`.
/// assert!(mlops_registry::open("ftp://example.com/models").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open(uri: &str) -> Result<Arc<dyn ModelRegistry>> {
    open_with(uri, &OpenOptions::default())
}

/// The registry a URI names, with `options` (see [`open`]).
pub fn open_with(uri: &str, options: &OpenOptions) -> Result<Arc<dyn ModelRegistry>> {
    if let Some(actor) = &options.actor {
        check_actor("actor", actor)?;
    }
    if is_mlflow_url(uri) {
        let registry =
            MlflowRegistry::from_url(uri, &options.credentials, options.actor.as_deref())?;
        return Ok(Arc::new(registry));
    }
    let parsed = StoreUri::parse(uri)?;
    if options.existing
        && let Backend::Local(folder) = parsed.backend()
        && !folder.join("registry").is_dir()
    {
        return Err(RegistryError::not_found(
            "registry",
            folder.join("registry").display().to_string(),
        ));
    }
    let root =
        parsed.open_with_options(options.store_options.iter().map(|(k, v)| (k, v.clone())))?;
    let registry = ObjectRegistry::new(root);
    Ok(Arc::new(match &options.actor {
        Some(actor) => registry.with_actor(actor)?,
        None => registry,
    }))
}

/// Whether `uri` names an MLflow server (`http://` or `https://`, in any case).
pub fn is_mlflow_url(uri: &str) -> bool {
    uri.split_once("://").is_some_and(|(scheme, _)| {
        scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
    })
}

/// Options of [`open_with`]. Each applies to the backends it names and is ignored by the
/// other, so one set of options can serve whatever URI a user gives.
///
/// ```
/// use mlops_registry::{MlflowCredentials, OpenOptions};
/// let options = OpenOptions::new()
///     .actor("ci-pipeline")
///     .store_option("aws_region", "eu-west-1")
///     .mlflow_credentials(MlflowCredentials::Token("secret".into()));
/// assert!(!format!("{options:?}").contains("secret"));
/// ```
#[derive(Clone, Default)]
pub struct OpenOptions {
    actor: Option<String>,
    store_options: Vec<(String, String)>,
    credentials: MlflowCredentials,
    existing: bool,
}

impl OpenOptions {
    /// The defaults: actor `$USER`, no store options, MLflow credentials from the
    /// environment, a missing local registry created.
    pub fn new() -> Self {
        Self::default()
    }

    /// Who acts, as recorded in the audit log and as the creator of models and versions
    /// (checked when opening: not empty, no control characters, at most 255 bytes).
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// An object_store configuration key for a store URI (`aws_endpoint`,
    /// `aws_allow_http`, `use_emulator`, …), applied after the environment's. Local folders
    /// take none.
    pub fn store_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.store_options.push((key.into(), value.into()));
        self
    }

    /// How to authenticate to an MLflow server (default: MLflow's environment variables).
    pub fn mlflow_credentials(mut self, credentials: MlflowCredentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Refuses a local folder that holds no registry yet (`NotFound`, and the folder is not
    /// created), so that a mistyped path in a read is an error rather than an empty registry.
    pub fn existing(mut self) -> Self {
        self.existing = true;
        self
    }
}

impl fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self.store_options.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("OpenOptions")
            .field("actor", &self.actor)
            .field("store_option_keys", &keys)
            .field("credentials", &self.credentials)
            .field("existing", &self.existing)
            .finish()
    }
}

/// How [`open_with`] authenticates to an MLflow server. Credentials never go in the URL.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum MlflowCredentials {
    /// MLflow's variables: `MLFLOW_TRACKING_TOKEN`, else `MLFLOW_TRACKING_USERNAME` with
    /// `MLFLOW_TRACKING_PASSWORD`; none when they are unset.
    #[default]
    FromEnv,
    /// No authentication, whatever the environment says.
    None,
    /// `Authorization: Bearer <token>`.
    Token(String),
    /// HTTP basic authentication.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
}

impl fmt::Debug for MlflowCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::FromEnv => "FromEnv",
            Self::None => "None",
            Self::Token(_) => "Token(<redacted>)",
            Self::Basic { .. } => "Basic(<redacted>)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_mlflow_and_everything_else_a_store() {
        for url in ["http://127.0.0.1:5000", "HTTPS://mlflow.example.com/prefix"] {
            assert!(is_mlflow_url(url), "{url}");
        }
        for uri in [
            "./models",
            "file:///tmp/x",
            "memory://",
            "s3://bucket/p",
            "httpx://h",
        ] {
            assert!(!is_mlflow_url(uri), "{uri}");
        }
    }

    #[test]
    fn a_read_of_a_missing_local_registry_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let uri = missing.to_str().unwrap();
        let err = open_with(uri, &OpenOptions::new().existing()).unwrap_err();
        assert!(err.is_not_found(), "{err}");
        assert!(!missing.exists(), "the folder must not be created");
        open(uri).unwrap();
        assert!(missing.exists(), "a plain open creates it");
    }

    #[test]
    fn options_are_checked_before_anything_opens() {
        let err = open_with("memory://", &OpenOptions::new().actor(" padded ")).unwrap_err();
        assert!(matches!(err, RegistryError::InvalidArgument(_)), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let local = open_with(
            dir.path().to_str().unwrap(),
            &OpenOptions::new().store_option("aws_region", "x"),
        );
        assert!(local.is_err(), "a local folder takes no store options");
    }
}
