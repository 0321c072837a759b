//! What rebuilds a run: the compiler, the target, the cargo features, the lock file and the
//! training configuration, recorded as tags and artifacts (issue 16 item 5).
//!
//! Every run started by [`ActiveRun::start`](crate::ActiveRun::start) records [`RUSTC`] and
//! [`TARGET`] with its system tags (the compiler and target that built this crate, the same
//! that built the program). [`ActiveRun::log_environment`] adds what only the program
//! knows: its enabled features, its `Cargo.lock` (digest tag and the file as the artifact
//! `environment/Cargo.lock`) and its configuration (digest tag and the artifact
//! `environment/config/NAME`).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use mlops_core::{ArtifactPath, Tag};
use sha2::{Digest, Sha256};

use crate::error::{Result, TrackError};
use crate::run::ActiveRun;

/// `mlops.rustc.version`: `rustc -V` of the compiler that built the program.
pub const RUSTC: &str = "mlops.rustc.version";
/// `mlops.target`: the target triple the program was built for.
pub const TARGET: &str = "mlops.target";
/// `mlops.cargo.features`: the program's enabled cargo features, comma-separated, sorted.
pub const FEATURES: &str = "mlops.cargo.features";
/// `mlops.cargo.lock.sha256`: the SHA-256 of the program's `Cargo.lock`.
pub const CARGO_LOCK_SHA256: &str = "mlops.cargo.lock.sha256";
/// `mlops.config.sha256`: the SHA-256 of the training configuration.
pub const CONFIG_SHA256: &str = "mlops.config.sha256";
/// `mlops.config.name`: the configuration's artifact name.
pub const CONFIG_NAME: &str = "mlops.config.name";
/// The artifact folder of the environment's files.
pub const ARTIFACT_DIR: &str = "environment";

/// The largest `Cargo.lock` or configuration recorded.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// The compiler and target tags, from the build script.
pub(crate) fn build_tags() -> Vec<(&'static str, String)> {
    [
        (RUSTC, env!("MLOPS_BUILD_RUSTC")),
        (TARGET, env!("MLOPS_BUILD_TARGET")),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

/// What [`ActiveRun::log_environment`] records beyond the system tags.
///
/// ```
/// use mlops_track::RunEnvironment;
/// let env = RunEnvironment::new()
///     .with_features(["onnx", "cloud"])
///     .with_config("train.toml", "epochs = 3\n");
/// assert_eq!(env.features(), ["cloud", "onnx"]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RunEnvironment {
    features: Vec<String>,
    cargo_lock: Option<PathBuf>,
    config: Option<(String, Bytes)>,
}

impl RunEnvironment {
    /// Nothing yet; the lock file is searched from the current directory upwards unless
    /// [`with_cargo_lock`](Self::with_cargo_lock) names it.
    pub fn new() -> Self {
        Self::default()
    }

    /// The program's enabled cargo features (a library cannot see them: a program passes
    /// e.g. `cfg!(feature = "x")` results, or the list its build script wrote).
    pub fn with_features<S: Into<String>>(mut self, features: impl IntoIterator<Item = S>) -> Self {
        self.features = features.into_iter().map(Into::into).collect();
        self.features.sort();
        self.features.dedup();
        self
    }

    /// The lock file to record.
    pub fn with_cargo_lock(mut self, path: impl Into<PathBuf>) -> Self {
        self.cargo_lock = Some(path.into());
        self
    }

    /// The training configuration, stored as `environment/config/NAME`.
    pub fn with_config(mut self, name: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        self.config = Some((name.into(), bytes.into()));
        self
    }

    /// The features, sorted.
    pub fn features(&self) -> &[String] {
        &self.features
    }

    fn lock_file(&self) -> Option<PathBuf> {
        if let Some(path) = &self.cargo_lock {
            return Some(path.clone());
        }
        let cwd = std::env::current_dir().ok()?;
        cwd.ancestors()
            .map(|d| d.join("Cargo.lock"))
            .find(|p| p.is_file())
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read_lock(path: &Path) -> Result<Vec<u8>> {
    mlops_core::read_local_file(path, MAX_FILE_BYTES).map_err(TrackError::from)
}

impl ActiveRun {
    /// Records `env`: the features tag, the lock file's digest tag and the file itself, the
    /// configuration's digest and name tags and the file. Returns the tags written.
    ///
    /// # Errors
    ///
    /// [`TrackError::Invalid`] for a configuration name that is not a valid artifact path
    /// or a lock file that cannot be read (named explicitly; a lock file searched for and
    /// not found is left out), and the store's errors.
    pub async fn log_environment(&self, env: &RunEnvironment) -> Result<Vec<Tag>> {
        let mut tags = Vec::new();
        if !env.features.is_empty() {
            tags.push(Tag::parse(FEATURES, env.features.join(","))?);
        }
        if let Some(path) = env.lock_file() {
            match read_lock(&path) {
                Ok(bytes) => {
                    tags.push(Tag::parse(CARGO_LOCK_SHA256, sha256_hex(&bytes))?);
                    self.log_artifact(&format!("{ARTIFACT_DIR}/Cargo.lock"), bytes)
                        .await?;
                }
                Err(e) if env.cargo_lock.is_some() => return Err(e),
                Err(e) => tracing::debug!(error = %e, "no Cargo.lock recorded"),
            }
        }
        if let Some((name, bytes)) = &env.config {
            let path = ArtifactPath::parse(format!("{ARTIFACT_DIR}/config/{name}"))?;
            tags.push(Tag::parse(CONFIG_SHA256, sha256_hex(bytes))?);
            tags.push(Tag::parse(CONFIG_NAME, name.clone())?);
            self.log_artifact(path.as_str(), bytes.clone()).await?;
        }
        self.set_tags(&tags).await?;
        Ok(tags)
    }
}
