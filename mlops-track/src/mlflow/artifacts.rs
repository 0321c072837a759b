//! Run artifacts through the tracking server's `mlflow-artifacts` proxy (the requests are
//! [`mlops_mlflow::RestClient`]'s): each run's folder under the proxy, found from its
//! `artifact_uri` and remembered, and the listing as [`ArtifactInfo`]s.

use std::sync::Arc;

use bytes::Bytes;
use mlops_core::{ArtifactPath, RunId};
use mlops_mlflow::Subject;

use super::MlflowStore;
use crate::entities::RunInfo;
use crate::error::{Result, TrackError};
use crate::store::ArtifactInfo;

/// How many artifact roots a store remembers (a run's never changes).
const ARTIFACT_ROOT_CACHE: usize = 4096;

impl MlflowStore {
    /// The run's folder under the artifact proxy.
    async fn artifact_root(&self, run: &RunId) -> Result<Arc<[String]>> {
        if let Some(root) = self
            .artifact_roots()
            .lock()
            .ok()
            .and_then(|roots| roots.get(run).cloned())
        {
            return Ok(root);
        }
        let fetched = self.run(run).await?;
        self.remember_root(&fetched.info)
    }

    /// Finds the run's folder under the proxy from its `artifact_uri`, and remembers it.
    pub(super) fn remember_root(&self, info: &RunInfo) -> Result<Arc<[String]>> {
        let owner = format!("run {}", info.run_id);
        let root: Arc<[String]> = self.client().proxy_root(&info.artifact_uri, &owner)?.into();
        if let Ok(mut roots) = self.artifact_roots().lock() {
            if roots.len() >= ARTIFACT_ROOT_CACHE {
                roots.clear();
            }
            roots.insert(info.run_id.clone(), Arc::clone(&root));
        }
        Ok(root)
    }

    /// Uploads one artifact (replacing any file at that path, so a retry is harmless).
    pub(super) async fn upload(
        &self,
        run: &RunId,
        path: &ArtifactPath,
        bytes: Bytes,
    ) -> Result<()> {
        let root = self.artifact_root(run).await?;
        let segments: Vec<&str> = root
            .iter()
            .map(String::as_str)
            .chain(path.segments())
            .collect();
        let subject = Subject::in_run("artifact", path.as_str(), run.as_str());
        self.client()
            .upload_artifact(&segments, bytes, &subject)
            .await?;
        Ok(())
    }

    /// Downloads one artifact; a folder at that path is `NotFound`.
    pub(super) async fn download(&self, run: &RunId, path: &ArtifactPath) -> Result<Bytes> {
        let root = self.artifact_root(run).await?;
        let segments: Vec<&str> = root
            .iter()
            .map(String::as_str)
            .chain(path.segments())
            .collect();
        let subject = Subject::in_run("artifact", path.as_str(), run.as_str());
        Ok(self.client().download_artifact(&segments, &subject).await?)
    }

    /// Lists one folder of a run's artifacts (the root when `dir` is `None`), sorted by path.
    pub(super) async fn list(
        &self,
        run: &RunId,
        dir: Option<&ArtifactPath>,
    ) -> Result<Vec<ArtifactInfo>> {
        let root = self.artifact_root(run).await?;
        let mut folder = root.join("/");
        if let Some(dir) = dir {
            folder.push('/');
            folder.push_str(dir.as_str());
        }
        let subject = Subject::in_run("artifact folder", folder.as_str(), run.as_str());
        let listing = self.client().list_artifacts(&folder, &subject).await?;
        let mut entries = listing
            .into_iter()
            .map(|entry| {
                let name = ArtifactPath::parse(&entry.name).map_err(|e| TrackError::Corrupt {
                    path: format!("MLflow artifacts of run {run} under {folder:?}"),
                    reason: format!("the server listed a name this client cannot represent: {e}"),
                })?;
                let path = match dir {
                    Some(dir) => dir.join(&name)?,
                    None => name,
                };
                Ok(ArtifactInfo {
                    path,
                    is_dir: entry.is_dir,
                    size: entry.size,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }
}
