//! Run artifacts through the tracking server's `mlflow-artifacts` proxy.
//!
//! A run's `artifact_uri` is `mlflow-artifacts:/<experiment id>/<run id>/artifacts` on a
//! server started with `--artifacts-destination` (or `--serve-artifacts`); its path is
//! the run's folder under the proxy:
//!
//! | operation | request |
//! | --- | --- |
//! | upload | `PUT api/2.0/mlflow-artifacts/artifacts/<root>/<path>`, the bytes as the body |
//! | download | `GET api/2.0/mlflow-artifacts/artifacts/<root>/<path>` |
//! | list | `GET api/2.0/mlflow-artifacts/artifacts?path=<root>/<dir>`: one level, names only |
//!
//! Each path segment is percent-encoded on its own, so a name like `a b+c.txt` reaches the
//! server as itself; [`ArtifactPath`] has already refused traversal and separators.

use bytes::Bytes;
use mlops_core::{ArtifactPath, RunId};
use reqwest::Method;
use url::Url;

use crate::error::{Result, TrackError};
use crate::mlflow::client::{Client, Request, Retry, Subject};
use crate::mlflow::wire::ListArtifactsResponse;
use crate::store::ArtifactInfo;

const SCHEME: &str = "mlflow-artifacts:";

/// The segments of a run's folder under the proxy, from its `artifact_uri`.
pub(crate) fn proxy_root(run: &RunId, artifact_uri: &str, base: &Url) -> Result<Vec<String>> {
    let unsupported = |why: &str| {
        TrackError::InvalidState(format!(
            "the artifacts of run {run} live at {artifact_uri:?}, {why}; this client reaches \
             artifacts only through the tracking server's mlflow-artifacts proxy (start the \
             server with --artifacts-destination, or --serve-artifacts)"
        ))
    };
    let Some(rest) = artifact_uri.strip_prefix(SCHEME) else {
        return Err(unsupported("which is not an mlflow-artifacts: URI"));
    };
    // `mlflow-artifacts://host:port/path` names the server that proxies; only this one can.
    let path = match rest.strip_prefix("//") {
        Some(authority_and_path) => {
            let (authority, path) = authority_and_path
                .split_once('/')
                .unwrap_or((authority_and_path, ""));
            let ours = match (base.host_str(), base.port_or_known_default()) {
                (Some(host), Some(port)) => {
                    authority == host || authority == format!("{host}:{port}")
                }
                _ => false,
            };
            if !authority.is_empty() && !ours {
                return Err(unsupported("a proxy on another server"));
            }
            path
        }
        None => rest,
    };
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if segments.is_empty() || segments.iter().any(|s| s == "." || s == "..") {
        return Err(unsupported("which is not a folder under the proxy"));
    }
    Ok(segments)
}

/// Uploads one artifact (replacing any file at that path, so a retry is harmless).
pub(crate) async fn upload(
    client: &Client,
    root: &[String],
    run: &RunId,
    path: &ArtifactPath,
    bytes: Bytes,
) -> Result<()> {
    let subject = Subject::in_run("artifact", path.as_str(), run.as_str());
    let request = Request {
        method: Method::PUT,
        url: client.artifact_url(root.iter().map(String::as_str).chain(path.segments())),
        body: Some((bytes, "application/octet-stream")),
        retry: Retry::Idempotent,
        subject: &subject,
        timeout: client.policy.artifact_timeout,
    };
    client.send(&request).await?;
    Ok(())
}

/// Downloads one artifact.
pub(crate) async fn download(
    client: &Client,
    root: &[String],
    run: &RunId,
    path: &ArtifactPath,
) -> Result<Bytes> {
    let subject = Subject::in_run("artifact", path.as_str(), run.as_str());
    let request = Request {
        method: Method::GET,
        url: client.artifact_url(root.iter().map(String::as_str).chain(path.segments())),
        body: None,
        retry: Retry::Idempotent,
        subject: &subject,
        timeout: client.policy.artifact_timeout,
    };
    match client.send(&request).await {
        Ok(bytes) => Ok(bytes),
        // The proxy answers a folder with HTTP 400 {"detail": "... refers to a directory"}:
        // there is no file at that path.
        Err(e) => match e.error {
            TrackError::Mlflow {
                status: 400,
                ref message,
                ..
            } if message.contains("directory") => Err(TrackError::NotFound {
                what: "artifact",
                id: path.as_str().to_owned(),
            }),
            other => Err(other),
        },
    }
}

/// Lists one folder of a run's artifacts (the root when `dir` is `None`).
pub(crate) async fn list(
    client: &Client,
    root: &[String],
    run: &RunId,
    dir: Option<&ArtifactPath>,
) -> Result<Vec<ArtifactInfo>> {
    let mut path = root.join("/");
    if let Some(dir) = dir {
        path.push('/');
        path.push_str(dir.as_str());
    }
    let mut url = client.artifact_url([]);
    url.query_pairs_mut().append_pair("path", &path);
    let subject = Subject::in_run("artifact folder", path.as_str(), run.as_str());
    let request = Request {
        method: Method::GET,
        url,
        body: None,
        retry: Retry::Idempotent,
        subject: &subject,
        timeout: client.policy.timeout,
    };
    let listing: ListArtifactsResponse = client.json(&request).await?;
    let mut entries = listing
        .files
        .into_iter()
        .map(|file| {
            let name = ArtifactPath::parse(&file.path).map_err(|e| TrackError::Corrupt {
                path: format!("MLflow artifacts of run {run} under {path:?}"),
                reason: format!("the server listed a name this client cannot represent: {e}"),
            })?;
            let path = match dir {
                Some(dir) => dir.join(&name)?,
                None => name,
            };
            Ok(ArtifactInfo {
                path,
                is_dir: file.is_dir,
                size: if file.is_dir {
                    None
                } else {
                    file.file_size.and_then(|s| u64::try_from(s).ok())
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunId {
        RunId::parse("0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn artifact_uris_map_to_proxy_folders() {
        let base = Url::parse("http://127.0.0.1:5000/").unwrap();
        let root = proxy_root(&run(), "mlflow-artifacts:/3/abc/artifacts", &base).unwrap();
        assert_eq!(root, ["3", "abc", "artifacts"]);
        let root = proxy_root(
            &run(),
            "mlflow-artifacts://127.0.0.1:5000/3/abc/artifacts",
            &base,
        )
        .unwrap();
        assert_eq!(root, ["3", "abc", "artifacts"]);
        for refused in [
            "s3://bucket/3/abc/artifacts",
            "/srv/mlruns/3/abc/artifacts",
            "mlflow-artifacts://elsewhere:5000/3/abc/artifacts",
            "mlflow-artifacts:/",
            "mlflow-artifacts:/3/../x",
        ] {
            let err = proxy_root(&run(), refused, &base).unwrap_err();
            assert!(
                matches!(err, TrackError::InvalidState(_)),
                "{refused}: {err}"
            );
        }
    }
}
