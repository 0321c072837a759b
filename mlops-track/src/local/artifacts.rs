//! Artifacts: plain objects under `runs/<id>/artifacts/<path>`, written with an atomic put
//! (a reader sees the old bytes or the new, never a mix), listed one folder at a time.

use bytes::Bytes;
use mlops_core::{ArtifactPath, RunId};

use super::Inner;
use super::runs::Fresh;
use crate::error::{Result, TrackError};
use crate::store::ArtifactInfo;

impl Inner {
    /// Fails with `NotFound` unless the run exists.
    async fn require_run(&self, run: &RunId) -> Result<()> {
        let slot = self.run_slot(run);
        let mut st = slot.state.lock().await;
        self.load_run(run, &mut st, Fresh::Recent).await
    }

    pub(crate) async fn log_artifact(
        &self,
        run: &RunId,
        path: &ArtifactPath,
        bytes: Bytes,
    ) -> Result<()> {
        self.require_run(run).await?;
        self.put_replace(&self.keys.artifact(run, path), bytes)
            .await
    }

    pub(crate) async fn list_artifacts(
        &self,
        run: &RunId,
        dir: Option<&ArtifactPath>,
    ) -> Result<Vec<ArtifactInfo>> {
        self.require_run(run).await?;
        let root = self.keys.artifacts_dir(run);
        let prefix = match dir {
            Some(dir) => self.keys.artifact(run, dir),
            None => root.clone(),
        };
        let listed = match self.store.list_with_delimiter(Some(&prefix)).await {
            Ok(listed) => listed,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(Self::storage(&prefix, e)),
        };
        let relative = |key: &object_store::path::Path| -> Option<ArtifactPath> {
            let parts: Vec<String> = key
                .prefix_match(&root)?
                .map(|p| p.as_ref().to_owned())
                .collect();
            match ArtifactPath::from_segments(&parts) {
                Ok(path) => Some(path),
                Err(e) => {
                    tracing::warn!(key = %key, error = %e, "skipping an object that is not a valid artifact path");
                    None
                }
            }
        };
        let mut out: Vec<ArtifactInfo> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| {
                relative(p).map(|path| ArtifactInfo {
                    path,
                    is_dir: true,
                    size: None,
                })
            })
            .chain(listed.objects.iter().filter_map(|m| {
                relative(&m.location).map(|path| ArtifactInfo {
                    path,
                    is_dir: false,
                    size: Some(m.size),
                })
            }))
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    pub(crate) async fn download_artifact(
        &self,
        run: &RunId,
        path: &ArtifactPath,
    ) -> Result<Bytes> {
        self.require_run(run).await?;
        // An artifact is handed over whole, never parsed: the caller asked for all of it.
        self.get_opt(&self.keys.artifact(run, path), "an artifact", u64::MAX)
            .await?
            .ok_or_else(|| TrackError::NotFound {
                what: "artifact",
                id: format!("{path} of run {run}"),
            })
    }
}
