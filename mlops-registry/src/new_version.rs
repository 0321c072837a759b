//! [`NewVersion`]: what a new version is made of, and where its files come from: a local
//! folder ([`NewVersion::from_dir`]), a run's artifacts in a tracking store
//! ([`NewVersion::from_run`], [`NewVersion::from_source`]), or bytes in memory. Either way the bytes are copied into the registry and the
//! registry generates the version's storage key: clients never hand the registry a location
//! to follow.

use std::path::Path as FsPath;

use bytes::Bytes;
use mlops_core::{ArtifactPath, DatasetRef, ExperimentId, RunId, Tag};
use mlops_track::TrackingStore;

use crate::error::{RegistryError, Result};
use crate::signature::Signature;
use crate::source_ref::{SourceRef, refuse};
use crate::types::RunLink;

/// What a new version is made of. Build one with [`NewVersion::from_dir`],
/// [`NewVersion::from_run`](crate::NewVersion::from_run) or [`NewVersion::new`] and the
/// `with_*` methods.
#[derive(Clone, Debug, Default)]
pub struct NewVersion {
    /// Its files. Paths must be unique.
    pub artifacts: Vec<(ArtifactPath, Bytes)>,
    /// The run it came from.
    pub run: Option<RunLink>,
    /// Its input and output schemas.
    pub signature: Option<Signature>,
    /// A reference drift profile (an `mlops-drift` profile, as bytes).
    pub drift_profile: Option<Bytes>,
    /// The datasets it used.
    pub datasets: Vec<DatasetRef>,
    /// A description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}

impl NewVersion {
    /// An empty version (no files yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one file.
    pub fn with_artifact(mut self, path: ArtifactPath, bytes: impl Into<Bytes>) -> Self {
        self.artifacts.push((path, bytes.into()));
        self
    }

    /// Sets the signature.
    pub fn with_signature(mut self, signature: Signature) -> Self {
        self.signature = Some(signature);
        self
    }

    /// Sets the reference drift profile.
    pub fn with_drift_profile(mut self, profile: impl Into<Bytes>) -> Self {
        self.drift_profile = Some(profile.into());
        self
    }

    /// Adds a dataset.
    pub fn with_dataset(mut self, dataset: DatasetRef) -> Self {
        self.datasets.push(dataset);
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds a tag.
    pub fn with_tag(mut self, tag: Tag) -> Self {
        self.tags.push(tag);
        self
    }

    /// Sets the source run.
    pub fn with_run(mut self, run: RunLink) -> Self {
        self.run = Some(run);
        self
    }

    /// Fails when two files share a path.
    pub fn check(&self) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for (path, _) in &self.artifacts {
            if !seen.insert(path) {
                return Err(RegistryError::InvalidArgument(format!(
                    "artifact path {path} appears twice"
                )));
            }
        }
        Ok(())
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
        new.run = Some(RunLink::of_run(&run, dir.cloned()));
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
        let (source_run, path) = match SourceRef::parse(source)? {
            SourceRef::Run { run_id, path } => (run_id, path),
            SourceRef::Model { .. } => {
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

impl RunLink {
    /// The link to run `run_id` of `tracking`: its experiment and the latest point of each of
    /// its metrics (the snapshot metric gates compare), with the run's folder the version's
    /// files came from, if any.
    pub async fn read(
        tracking: &dyn TrackingStore,
        run_id: &RunId,
        artifact_path: Option<ArtifactPath>,
    ) -> Result<Self> {
        let run = tracking.get_run(run_id).await?;
        Ok(Self::of_run(&run, artifact_path))
    }

    fn of_run(run: &mlops_track::Run, artifact_path: Option<ArtifactPath>) -> Self {
        Self {
            run_id: run.info.run_id.clone(),
            experiment_id: run.info.experiment_id.clone(),
            artifact_path,
            metrics: run.data.metrics.clone(),
        }
    }
}
