//! Where a version's files come from, and the only source URIs this crate accepts.
//!
//! A new version is built from a local folder ([`NewVersion::from_dir`]) or from a run's
//! artifacts in a tracking store ([`NewVersion::from_run`], [`NewVersion::from_source`]);
//! either way the bytes are copied into the registry and the registry generates the
//! version's storage key. Clients never hand the registry a location to follow.
//!
//! [`ModelSource`] parses the two URI forms that name things *inside* the system:
//! `runs:/<run id>[/<artifact path>]` and `models:/<name>/<version|alias|latest>[/<path>]`
//! (also `models:/<name>@<alias>[/<path>]`). Everything else is refused with a typed error
//! before any I/O (RELIABILITY §1.4): any other scheme (`file:`, `http:`, `s3:`, … in any
//! case), authorities (`runs://host/…`, userinfo, ports), `#fragment`, `?query`, `;params`,
//! `%` in any form, backslashes, control characters, and traversal or empty segments in the
//! path (checked by [`ArtifactPath`]).

use std::path::Path as FsPath;

use bytes::Bytes;
use mlops_core::{AliasName, ArtifactPath, ExperimentId, ModelName, ModelVersion, RunId};
use mlops_track::TrackingStore;

use crate::error::{RegistryError, Result};
use crate::model::{NewVersion, RunLink};
use crate::registry::ModelRegistry;

/// Which version a `models:/` URI names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionRef {
    /// A version number.
    Version(ModelVersion),
    /// An alias.
    Alias(AliasName),
    /// The newest live version.
    Latest,
}

/// A parsed `runs:/` or `models:/` URI.
///
/// ```
/// use mlops_registry::{ModelSource, RegistryError};
/// let ok = ModelSource::parse("runs:/0123456789abcdef0123456789abcdef/model")?;
/// assert!(matches!(ok, ModelSource::Run { .. }));
/// for bad in ["file:///etc/passwd", "s3://bucket/x", "runs:/0123456789abcdef0123456789abcdef/../x"] {
///     assert!(ModelSource::parse(bad).is_err(), "{bad}");
/// }
/// # Ok::<(), RegistryError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSource {
    /// A run's artifacts, or a folder or file inside them.
    Run {
        /// The run.
        run_id: RunId,
        /// The path inside the run's artifacts (the root when `None`).
        path: Option<ArtifactPath>,
    },
    /// A registered version, or a file inside it.
    Model {
        /// The model.
        name: ModelName,
        /// Which version.
        version: VersionRef,
        /// A file of the version.
        path: Option<ArtifactPath>,
    },
}

fn refuse(text: &str, reason: impl Into<String>) -> RegistryError {
    RegistryError::InvalidSource {
        source_uri: text.to_owned(),
        reason: reason.into(),
    }
}

fn optional_path(rest: Option<&str>) -> Result<Option<ArtifactPath>> {
    rest.map(ArtifactPath::parse)
        .transpose()
        .map_err(RegistryError::from)
}

impl ModelSource {
    /// Parses a `runs:/` or `models:/` URI, refusing everything else (see the module docs).
    pub fn parse(text: &str) -> Result<Self> {
        if text.is_empty() {
            return Err(refuse(text, "it is empty"));
        }
        if let Some(ch) = text.chars().find(|c| c.is_control()) {
            return Err(refuse(
                text,
                format!("it contains control character U+{:04X}", u32::from(ch)),
            ));
        }
        for (ch, what) in [
            ('\\', "a backslash"),
            ('%', "percent-encoding (refused, never decoded)"),
            ('#', "a `#fragment`"),
            ('?', "a `?query`"),
            (';', "`;params`"),
        ] {
            if text.contains(ch) {
                return Err(refuse(text, format!("it contains {what}")));
            }
        }
        let Some((scheme, rest)) = text.split_once(':') else {
            return Err(refuse(
                text,
                "it has no scheme; expected runs:/ or models:/",
            ));
        };
        if scheme != "runs" && scheme != "models" {
            return Err(refuse(
                text,
                format!(
                    "scheme {scheme:?} is refused: a source must be runs:/ or models:/, \
                     never a location to follow (file:, http:, s3:, …); import external files \
                     with an explicit copy into a local folder"
                ),
            ));
        }
        let Some(path) = rest.strip_prefix('/') else {
            return Err(refuse(text, "expected `:/` after the scheme"));
        };
        if path.starts_with('/') {
            return Err(refuse(
                text,
                "an authority (`//host`, userinfo, port) is refused",
            ));
        }
        if scheme == "runs" {
            let (run, rest) = match path.split_once('/') {
                Some((run, rest)) => (run, Some(rest)),
                None => (path, None),
            };
            if run.contains('@') {
                return Err(refuse(text, "userinfo (`user@`) is refused"));
            }
            let run_id = RunId::parse(run)?;
            return Ok(Self::Run {
                run_id,
                path: optional_path(rest)?,
            });
        }
        let (head, rest) = match path.split_once('/') {
            Some((head, rest)) => (head, Some(rest)),
            None => (path, None),
        };
        if let Some((name, alias)) = head.split_once('@') {
            return Ok(Self::Model {
                name: ModelName::parse(name)?,
                version: VersionRef::Alias(AliasName::parse(alias)?),
                path: optional_path(rest)?,
            });
        }
        let name = ModelName::parse(head)?;
        let Some(rest) = rest else {
            return Err(refuse(
                text,
                "expected models:/<name>/<version, alias or latest>",
            ));
        };
        let (reference, rest) = match rest.split_once('/') {
            Some((r, rest)) => (r, Some(rest)),
            None => (rest, None),
        };
        let version = if reference == "latest" {
            VersionRef::Latest
        } else if reference.bytes().all(|b| b.is_ascii_digit()) {
            VersionRef::Version(ModelVersion::parse(reference)?)
        } else {
            VersionRef::Alias(AliasName::parse(reference)?)
        };
        Ok(Self::Model {
            name,
            version,
            path: optional_path(rest)?,
        })
    }
}

impl NewVersion {
    /// Every file under a local folder, with paths relative to it. Symbolic links are
    /// refused (never followed), as are file names that are not valid [`ArtifactPath`]
    /// segments. Reads the files into memory.
    pub fn from_dir(dir: &FsPath) -> Result<Self> {
        let io = |path: &FsPath, source: std::io::Error| RegistryError::Io {
            path: path.display().to_string(),
            source,
        };
        let meta = std::fs::symlink_metadata(dir).map_err(|e| io(dir, e))?;
        if !meta.is_dir() {
            return Err(RegistryError::InvalidArgument(format!(
                "{} is not a folder",
                dir.display()
            )));
        }
        let mut files = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(folder) = pending.pop() {
            let listing = std::fs::read_dir(&folder).map_err(|e| io(&folder, e))?;
            for item in listing {
                let item = item.map_err(|e| io(&folder, e))?;
                let path = item.path();
                let kind = item.file_type().map_err(|e| io(&path, e))?;
                if kind.is_symlink() {
                    return Err(RegistryError::InvalidArgument(format!(
                        "{} is a symbolic link; links are never followed into a registry",
                        path.display()
                    )));
                }
                if kind.is_dir() {
                    pending.push(path);
                } else if kind.is_file() {
                    let relative = path.strip_prefix(dir).map_err(|_| {
                        RegistryError::InvalidArgument(format!(
                            "{} is outside {}",
                            path.display(),
                            dir.display()
                        ))
                    })?;
                    let artifact = ArtifactPath::from_relative_path(relative)?;
                    files.push((artifact, path));
                } else {
                    return Err(RegistryError::InvalidArgument(format!(
                        "{} is not a regular file",
                        path.display()
                    )));
                }
            }
        }
        if files.is_empty() {
            return Err(RegistryError::InvalidArgument(format!(
                "{} holds no files",
                dir.display()
            )));
        }
        files.sort();
        let mut new = Self::new();
        for (artifact, path) in files {
            let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
            new.artifacts.push((artifact, Bytes::from(bytes)));
        }
        Ok(new)
    }

    /// A run's artifacts (all of them, or those under `dir`, with paths relative to it)
    /// and a link to the run with a snapshot of its metrics.
    pub async fn from_run(
        tracking: &dyn TrackingStore,
        run_id: &RunId,
        dir: Option<&ArtifactPath>,
    ) -> Result<Self> {
        let run = tracking.get_run(run_id).await?;
        let mut new = Self::new();
        let mut pending = vec![dir.cloned()];
        while let Some(folder) = pending.pop() {
            for info in tracking.list_artifacts(run_id, folder.as_ref()).await? {
                if info.is_dir {
                    pending.push(Some(info.path));
                    continue;
                }
                let bytes = tracking.download_artifact(run_id, &info.path).await?;
                let relative = match dir {
                    None => info.path.clone(),
                    Some(d) if info.path == *d => ArtifactPath::parse(info.path.file_name())?,
                    Some(d) => {
                        let rest = info
                            .path
                            .as_str()
                            .strip_prefix(d.as_str())
                            .and_then(|r| r.strip_prefix('/'));
                        match rest {
                            Some(r) => ArtifactPath::parse(r)?,
                            None => {
                                return Err(refuse(
                                    info.path.as_str(),
                                    format!("it lies outside {d} of run {run_id}"),
                                ));
                            }
                        }
                    }
                };
                new.artifacts.push((relative, bytes));
            }
        }
        if new.artifacts.is_empty() {
            // A single file named by `dir`.
            if let Some(d) = dir
                && let Ok(bytes) = tracking.download_artifact(run_id, d).await
            {
                new.artifacts
                    .push((ArtifactPath::parse(d.file_name())?, bytes));
            }
        }
        if new.artifacts.is_empty() {
            return Err(RegistryError::not_found(
                "artifacts",
                format!(
                    "{} of run {run_id}",
                    dir.map_or("the root", ArtifactPath::as_str)
                ),
            ));
        }
        new.run = Some(RunLink {
            run_id: run.info.run_id.clone(),
            experiment_id: run.info.experiment_id.clone(),
            artifact_path: dir.cloned(),
            metrics: run.data.metrics.clone(),
        });
        Ok(new)
    }

    /// A version from a `runs:/<run id>[/<path>]` source, checked against the run the
    /// caller says it comes from (`run_id`) and the experiment it must belong to
    /// (`experiment`): a source naming another run, or a run of another experiment, is
    /// refused. Parsing and the run check happen before any I/O.
    pub async fn from_source(
        tracking: &dyn TrackingStore,
        source: &str,
        run_id: Option<&RunId>,
        experiment: Option<&ExperimentId>,
    ) -> Result<Self> {
        let (source_run, path) = match ModelSource::parse(source)? {
            ModelSource::Run { run_id, path } => (run_id, path),
            ModelSource::Model { .. } => {
                return Err(refuse(
                    source,
                    "a new version's source must be a run (runs:/…)",
                ));
            }
        };
        if let Some(expected) = run_id
            && expected != &source_run
        {
            return Err(refuse(
                source,
                format!(
                    "it names run {source_run}, but the version is registered from run {expected}"
                ),
            ));
        }
        let new = Self::from_run(tracking, &source_run, path.as_ref()).await?;
        if let (Some(expected), Some(link)) = (experiment, &new.run)
            && &link.experiment_id != expected
        {
            return Err(refuse(
                source,
                format!(
                    "run {source_run} belongs to experiment {}, not {expected}",
                    link.experiment_id
                ),
            ));
        }
        Ok(new)
    }
}

/// The bytes a `models:/<name>/<version|alias|latest>/<path>` URI names, checked against
/// their digest. The URI is parsed and validated before any I/O.
pub async fn download_uri(registry: &dyn ModelRegistry, uri: &str) -> Result<Bytes> {
    let ModelSource::Model {
        name,
        version,
        path,
    } = ModelSource::parse(uri)?
    else {
        return Err(refuse(uri, "expected models:/<name>/<version>/<path>"));
    };
    let Some(path) = path else {
        return Err(refuse(uri, "it names no file inside the version"));
    };
    let version = resolve_ref(registry, &name, &version).await?;
    registry.download_artifact(&name, version, &path).await
}

/// The version number a [`VersionRef`] names.
pub async fn resolve_ref(
    registry: &dyn ModelRegistry,
    name: &ModelName,
    reference: &VersionRef,
) -> Result<ModelVersion> {
    match reference {
        VersionRef::Version(v) => Ok(*v),
        VersionRef::Alias(alias) => Ok(registry.resolve_alias(name, alias).await?.version),
        VersionRef::Latest => registry
            .get_model(name)
            .await?
            .latest_version
            .ok_or_else(|| RegistryError::not_found("model version", format!("{name} (latest)"))),
    }
}
