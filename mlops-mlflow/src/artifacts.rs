//! Files through the tracking server's `mlflow-artifacts` proxy.
//!
//! A run's `artifact_uri` is `mlflow-artifacts:/<experiment id>/<run id>/artifacts` on a
//! server started with `--artifacts-destination` (or `--serve-artifacts`); its path is
//! the run's folder under the proxy ([`RestClient::proxy_root`]):
//!
//! | operation | request |
//! | --- | --- |
//! | upload | `PUT api/2.0/mlflow-artifacts/artifacts/<root>/<path>`, the bytes as the body |
//! | download | `GET api/2.0/mlflow-artifacts/artifacts/<root>/<path>` |
//! | list | `GET api/2.0/mlflow-artifacts/artifacts?path=<root>/<dir>`: one level, names only |
//!
//! Each path segment is percent-encoded on its own, so a name like `a b+c.txt` reaches the
//! server as itself; callers pass segments they have already checked (no `..`, no `/`).

use bytes::Bytes;
use reqwest::Method;
use serde::Deserialize;
use url::Url;

use crate::base_url;
use crate::call::Request;
use crate::client::RestClient;
use crate::error::{MlflowError, RestError, Result};
use crate::policy::Idempotency;
use crate::subject::Subject;

const SCHEME: &str = "mlflow-artifacts:";

/// One entry of a folder listed through the proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArtifactEntry {
    /// Its name, relative to the folder listed.
    pub name: String,
    /// Whether it is a folder.
    pub is_dir: bool,
    /// Its size in bytes (files only, when the server says).
    pub size: Option<u64>,
}

/// `{"files": [{"path": ..., "is_dir": ..., "file_size": ...}]}`.
#[derive(Deserialize)]
struct ListAnswer {
    #[serde(default)]
    files: Vec<FileInfo>,
}

#[derive(Deserialize)]
struct FileInfo {
    path: String,
    #[serde(default)]
    is_dir: bool,
    #[serde(default, deserialize_with = "crate::int64::opt")]
    file_size: Option<i64>,
}

impl RestClient {
    /// The URL of the artifact proxy, `api/2.0/mlflow-artifacts/artifacts`, with `segments`
    /// appended (each percent-encoded as one path segment).
    pub fn artifact_url<'s>(&self, segments: impl IntoIterator<Item = &'s str>) -> Url {
        base_url::endpoint(
            self.base(),
            "mlflow-artifacts",
            std::iter::once("artifacts").chain(segments),
        )
    }

    /// The segments of a folder under the proxy, from an artifact URI this server gave
    /// (`mlflow-artifacts:/3/abc/artifacts`, or `mlflow-artifacts://host:port/…` naming this
    /// server). `owner` (e.g. `run 0123…`) names whose artifacts they are in the error,
    /// [`MlflowError::InvalidState`], about any other URI: this client reaches artifacts
    /// only through the proxy.
    pub fn proxy_root(&self, artifact_uri: &str, owner: &str) -> Result<Vec<String>> {
        let unsupported = |why: &str| {
            MlflowError::InvalidState(format!(
                "the artifacts of {owner} live at {artifact_uri:?}, {why}; this client \
                 reaches artifacts only through the tracking server's mlflow-artifacts proxy \
                 (start the server with --artifacts-destination, or --serve-artifacts)"
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
                let base = self.base();
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

    /// Uploads one file to the folder `segments` name, replacing any file there (so a retry
    /// is harmless), within the artifact deadline.
    pub async fn upload_artifact(
        &self,
        segments: &[&str],
        bytes: Bytes,
        subject: &Subject,
    ) -> Result<(), RestError> {
        let request = Request {
            method: Method::PUT,
            url: self.artifact_url(segments.iter().copied()),
            body: Some((bytes, "application/octet-stream")),
            idempotency: Idempotency::Idempotent,
            subject,
            timeout: self.policy().artifact_timeout(),
        };
        self.send(&request).await?;
        Ok(())
    }

    /// Downloads one file, within the artifact deadline. A folder at that path is
    /// [`MlflowError::NotFound`] naming `subject` (the proxy answers it with HTTP 400).
    pub async fn download_artifact(
        &self,
        segments: &[&str],
        subject: &Subject,
    ) -> Result<Bytes, RestError> {
        let request = Request {
            method: Method::GET,
            url: self.artifact_url(segments.iter().copied()),
            body: None,
            idempotency: Idempotency::Idempotent,
            subject,
            timeout: self.policy().artifact_timeout(),
        };
        self.send(&request).await.map_err(|e| match e.error {
            // {"detail": "... refers to a directory"}: there is no file at that path.
            MlflowError::Mlflow {
                status: 400,
                ref message,
                ..
            } if message.contains("directory") => RestError {
                error: MlflowError::NotFound {
                    what: subject.what(),
                    id: subject.id().to_owned(),
                },
                maybe_applied: e.maybe_applied,
            },
            _ => e,
        })
    }

    /// Lists one level of the folder `folder` (segments joined by `/`), within the client's
    /// deadline.
    pub async fn list_artifacts(
        &self,
        folder: &str,
        subject: &Subject,
    ) -> Result<Vec<ArtifactEntry>, RestError> {
        let mut url = self.artifact_url([]);
        url.query_pairs_mut().append_pair("path", folder);
        let request = Request {
            method: Method::GET,
            url,
            body: None,
            idempotency: Idempotency::Idempotent,
            subject,
            timeout: self.policy().timeout(),
        };
        let listing: ListAnswer = self.json(&request).await?;
        Ok(listing
            .files
            .into_iter()
            .map(|file| ArtifactEntry {
                size: if file.is_dir {
                    None
                } else {
                    file.file_size.and_then(|s| u64::try_from(s).ok())
                },
                name: file.path,
                is_dir: file.is_dir,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn artifact_uris_map_to_proxy_folders() {
        let client = RestClient::new("http://127.0.0.1:5000").unwrap();
        let owner = "run 0123";
        let root = client
            .proxy_root("mlflow-artifacts:/3/abc/artifacts", owner)
            .unwrap();
        assert_eq!(root, ["3", "abc", "artifacts"]);
        let root = client
            .proxy_root("mlflow-artifacts://127.0.0.1:5000/3/abc/artifacts", owner)
            .unwrap();
        assert_eq!(root, ["3", "abc", "artifacts"]);
        for refused in [
            "s3://bucket/3/abc/artifacts",
            "/srv/mlruns/3/abc/artifacts",
            "mlflow-artifacts://elsewhere:5000/3/abc/artifacts",
            "mlflow-artifacts:/",
            "mlflow-artifacts:/3/../x",
        ] {
            let err = client.proxy_root(refused, owner).unwrap_err();
            assert!(
                matches!(&err, MlflowError::InvalidState(m) if m.contains(owner)),
                "{refused}: {err}"
            );
        }
    }

    #[test]
    fn artifact_urls_encode_each_segment() {
        let client = RestClient::new("http://h:1/prefix/").unwrap();
        assert_eq!(
            client
                .artifact_url(["0", "r", "artifacts", "a b", "c+d?.txt"])
                .as_str(),
            "http://h:1/prefix/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/a%20b/c+d%3F.txt"
        );
    }

    #[test]
    fn listings_decode_as_the_proxy_renders_them() {
        let answer: ListAnswer = serde_json::from_str(
            r#"{"files": [{"path": "model", "is_dir": true},
                          {"path": "a.txt", "is_dir": false, "file_size": "12"},
                          {"path": "b.txt", "file_size": 3}]}"#,
        )
        .unwrap();
        let sizes: Vec<(bool, Option<i64>)> = answer
            .files
            .iter()
            .map(|f| (f.is_dir, f.file_size))
            .collect();
        assert_eq!(sizes, [(true, None), (false, Some(12)), (false, Some(3))]);
        let empty: ListAnswer = serde_json::from_str("{}").unwrap();
        assert!(empty.files.is_empty());
    }
}
