//! [`StoreUri`]: where data lives, parsed from a URI; [`StoreRoot`]: the opened store.
//! The forms are listed in the crate docs. Local folders are opened with fsync on, so a
//! write is on stable storage, file and directory entry, before it is acknowledged. The
//! prefix in a URI follows the [`ArtifactPath`] rules and is checked as written, before URL
//! parsing could resolve `..` or decode `%`.

use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use url::Url;

use crate::artifact_path::ArtifactPath;
use crate::error::{Error, Result};

/// The cloud object stores that `cloud` enables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloudKind {
    /// Amazon S3 and S3-compatible services.
    S3,
    /// Azure Blob Storage.
    Azure,
    /// Google Cloud Storage.
    Gcs,
}

/// Which backend a [`StoreUri`] names.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// A local folder, made absolute at parse time.
    Local(PathBuf),
    /// An in-process store that lives as long as the [`StoreRoot`].
    Memory,
    /// A bucket or container of a cloud store.
    Cloud {
        /// Which service.
        kind: CloudKind,
        /// The bucket or container.
        bucket: String,
        /// The URI as a URL, which object_store's builders read.
        url: Url,
    },
}

/// A parsed, validated storage location (the forms are listed in the crate docs). Parsing
/// does no I/O; [`StoreUri::open`] does.
///
/// ```
/// use mlops_core::{Backend, StoreUri};
/// let uri: StoreUri = "memory://runs".parse()?;
/// assert_eq!(uri.backend(), &Backend::Memory);
/// assert_eq!(uri.prefix().map(|p| p.as_str()), Some("runs"));
/// assert!("s3://bucket/../other".parse::<StoreUri>().is_err());
/// # Ok::<(), mlops_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreUri {
    text: String,
    backend: Backend,
    prefix: Option<ArtifactPath>,
}

impl StoreUri {
    /// Parses a URI or a plain path: a folder, `file://`, `memory://`, `s3://`, `az://` or `gs://`.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidStoreUri {
            uri: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        if text.chars().any(char::is_control) {
            return Err(invalid("it contains a control character"));
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return Self::local(text, FsPath::new(text));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                let url = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
                if !matches!(url.host_str(), None | Some("" | "localhost")) {
                    return Err(invalid("a file URI must name no host, or `localhost`"));
                }
                if url.query().is_some() || url.fragment().is_some() {
                    return Err(invalid("a file URI must have no `?query` or `#fragment`"));
                }
                let path = url
                    .to_file_path()
                    .map_err(|()| invalid("it is not an absolute file path"))?;
                Self::local(text, &path)
            }
            "memory" => Ok(Self {
                text: text.to_owned(),
                backend: Backend::Memory,
                prefix: prefix_of(text, rest.trim_end_matches('/'))?,
            }),
            "s3" | "s3a" => Self::cloud(text, rest, CloudKind::S3),
            "az" | "azure" | "abfs" | "abfss" => Self::cloud(text, rest, CloudKind::Azure),
            "gs" => Self::cloud(text, rest, CloudKind::Gcs),
            other => Err(invalid(&format!(
                "unknown scheme `{other}`; expected a path, file://, memory://, s3://, az:// or gs://"
            ))),
        }
    }

    fn local(text: &str, path: &FsPath) -> Result<Self> {
        let path = std::path::absolute(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            text: text.to_owned(),
            backend: Backend::Local(path),
            prefix: None,
        })
    }

    fn cloud(text: &str, rest: &str, kind: CloudKind) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidStoreUri {
            uri: text.to_owned(),
            reason,
        };
        // Validate the prefix as written: URL parsing would resolve `..` and decode `%`.
        let (bucket, raw_prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix_of(text, raw_prefix.trim_end_matches('/'))?;
        let valid_bucket = !bucket.is_empty()
            && bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid_bucket {
            return Err(invalid(format!(
                "`{bucket}` is not a bucket or container name (letters, digits, `-`, `_`, `.`); \
                 credentials and ports go in options or the environment"
            )));
        }
        let url = Url::parse(text).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            text: text.to_owned(),
            backend: Backend::Cloud {
                kind,
                bucket: bucket.to_owned(),
                url,
            },
            prefix,
        })
    }

    /// The URI as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The backend it names.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The key prefix inside the bucket or memory store, if any (always `None` for local
    /// folders, whose folder is the root).
    pub fn prefix(&self) -> Option<&ArtifactPath> {
        self.prefix.as_ref()
    }

    /// Opens the store, configured from the environment.
    pub fn open(&self) -> Result<StoreRoot> {
        self.open_with_options(std::iter::empty::<(&str, &str)>())
    }

    /// Opens the store, configured from the environment and then from `options`
    /// (object_store config keys such as `aws_endpoint` or `use_emulator`). Local folders
    /// are created when missing and take no options.
    pub fn open_with_options<I, K, V>(&self, options: I) -> Result<StoreRoot>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let store: Arc<dyn ObjectStore> = match &self.backend {
            Backend::Local(path) => {
                if let Some((key, _)) = options.into_iter().next() {
                    return Err(Error::InvalidStoreUri {
                        uri: self.text.clone(),
                        reason: format!("a local folder takes no options, got `{}`", key.as_ref()),
                    });
                }
                Arc::new(open_local(path)?)
            }
            Backend::Memory => Arc::new(InMemory::new()),
            Backend::Cloud { kind, url, .. } => self.open_cloud(*kind, url, options)?,
        };
        let prefix = self
            .prefix
            .as_ref()
            .map(ArtifactPath::to_object_path)
            .unwrap_or_default();
        Ok(StoreRoot {
            store,
            prefix,
            uri: Some(self.clone()),
        })
    }

    #[cfg(not(feature = "cloud"))]
    fn open_cloud<I, K, V>(&self, _: CloudKind, _: &Url, _: I) -> Result<Arc<dyn ObjectStore>>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        Err(Error::FeatureNotEnabled {
            uri: self.text.clone(),
            feature: "cloud",
        })
    }

    #[cfg(feature = "cloud")]
    fn open_cloud<I, K, V>(
        &self,
        kind: CloudKind,
        url: &Url,
        options: I,
    ) -> Result<Arc<dyn ObjectStore>>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        crate::store_cloud::open(self.as_str(), url, kind, options)
    }
}

/// Validates the prefix part of a URI with the artifact-path rules.
fn prefix_of(uri: &str, raw: &str) -> Result<Option<ArtifactPath>> {
    if raw.is_empty() {
        return Ok(None);
    }
    ArtifactPath::parse(raw)
        .map(Some)
        .map_err(|e| Error::InvalidStoreUri {
            uri: uri.to_owned(),
            reason: format!("its prefix is not a safe path: {e}"),
        })
}

fn open_local(path: &FsPath) -> Result<LocalFileSystem> {
    std::fs::create_dir_all(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let store = LocalFileSystem::new_with_prefix(path).map_err(|source| Error::OpenStore {
        uri: path.display().to_string(),
        source,
    })?;
    Ok(store.with_fsync(true))
}

impl fmt::Display for StoreUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for StoreUri {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

/// An opened store: the `object_store` client and the key prefix that every key of this
/// root lives under.
///
/// ```
/// use mlops_core::{ArtifactPath, StoreUri};
/// let root = StoreUri::parse("memory://team-a")?.open()?;
/// let key = root.key(&ArtifactPath::parse("model/weights.bin")?);
/// assert_eq!(key.as_ref(), "team-a/model/weights.bin");
/// # Ok::<(), mlops_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct StoreRoot {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    uri: Option<StoreUri>,
}

impl StoreRoot {
    /// Wraps an already-configured store (a decorator, a custom backend) with a prefix.
    pub fn from_parts(store: Arc<dyn ObjectStore>, prefix: Option<&ArtifactPath>) -> Self {
        Self {
            store,
            prefix: prefix.map(ArtifactPath::to_object_path).unwrap_or_default(),
            uri: None,
        }
    }

    /// The object store client.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The prefix every key of this root starts with (empty for a local folder).
    pub fn prefix(&self) -> &ObjectPath {
        &self.prefix
    }

    /// The URI it was opened from, or `None` when built with [`StoreRoot::from_parts`].
    pub fn uri(&self) -> Option<&StoreUri> {
        self.uri.as_ref()
    }

    /// The object key of `path` under this root. It always lies below [`StoreRoot::prefix`].
    pub fn key(&self, path: &ArtifactPath) -> ObjectPath {
        ObjectPath::from_iter(self.prefix.parts().chain(path.to_object_path().parts()))
    }

    /// The same store under `prefix/child`, for a component that owns one sub-tree.
    pub fn child(&self, child: &ArtifactPath) -> Self {
        let prefix = self.key(child);
        Self {
            store: Arc::clone(&self.store),
            prefix,
            uri: self.uri.clone(),
        }
    }
}
