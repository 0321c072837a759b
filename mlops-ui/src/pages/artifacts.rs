//! A run's artifacts: listed recursively (bounded), downloaded by their number in that
//! listing, never by a path from the client, so no request can name a file the listing did
//! not show.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use mlops_core::{ArtifactPath, RunId};
use mlops_track::ArtifactInfo;

use crate::UiError;
use crate::state::Inner;

/// Folders descended into, at most (a deep tree is cut, and the page says so).
const MAX_DEPTH: usize = 16;

/// The files of a run's artifact tree, breadth first, in the store's order, at most
/// `limit`; `true` when the listing was cut.
pub(crate) async fn files(inner: &Inner, run: &RunId) -> crate::Result<(Vec<ArtifactInfo>, bool)> {
    let limit = inner.limits.max_artifacts;
    let mut files = Vec::new();
    let mut level: Vec<Option<ArtifactPath>> = vec![None];
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for dir in &level {
            for entry in inner.tracking.list_artifacts(run, dir.as_ref()).await? {
                if entry.is_dir {
                    next.push(Some(entry.path));
                } else {
                    if files.len() == limit {
                        return Ok((files, true));
                    }
                    files.push(entry);
                }
            }
        }
        if next.is_empty() {
            return Ok((files, false));
        }
        level = next;
    }
    Ok((files, true))
}

/// `GET /runs/{id}/artifacts/{n}`: the n-th file of the listing, as an attachment.
pub(crate) async fn download(
    State(inner): State<Arc<Inner>>,
    Path((id, n)): Path<(String, usize)>,
) -> crate::Result<Response> {
    let run = super::run_id(&id)?;
    let (files, _) = files(&inner, &run).await?;
    let file = files
        .get(n)
        .ok_or_else(|| UiError::NotFound(format!("artifact #{n} of run {id}")))?;
    if file.size.unwrap_or(0) > inner.limits.max_artifact_bytes {
        return Err(UiError::BadRequest(format!(
            "artifact {} is larger than the UI's download cap of {} bytes",
            file.path.as_str(),
            inner.limits.max_artifact_bytes
        )));
    }
    let bytes = inner.tracking.download_artifact(&run, &file.path).await?;
    let name: String = file
        .path
        .as_str()
        .rsplit('/')
        .next()
        .unwrap_or("artifact")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    let mut answer = bytes.into_response();
    let headers = answer.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(answer)
}
