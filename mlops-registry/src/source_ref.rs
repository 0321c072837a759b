//! [`SourceRef`]: the only source URIs this crate accepts, references to things *inside* the
//! system (a run's artifacts, a registered version), never locations to follow.
//!
//! [`SourceRef`] parses the two URI forms that name things *inside* the system:
//! `runs:/<run id>[/<artifact path>]` and `models:/<name>/<version|alias|latest>[/<path>]`
//! (also `models:/<name>@<alias>[/<path>]`). Everything else is refused with a typed error
//! before any I/O (RELIABILITY §1.4): any other scheme (`file:`, `http:`, `s3:`, … in any
//! case), authorities (`runs://host/…`, userinfo, ports), `#fragment`, `?query`, `;params`,
//! `%` in any form, backslashes, control characters, and traversal or empty segments in the
//! path (checked by [`ArtifactPath`]).

use bytes::Bytes;
use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, RunId};

use crate::error::{RegistryError, Result};
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

/// A parsed `runs:/` or `models:/` URI: a reference to a run's artifacts or to a registered
/// version (not where a served model comes from: that is mlops-serve's `ModelSource`).
///
/// ```
/// use mlops_registry::{SourceRef, RegistryError};
/// let ok = SourceRef::parse("runs:/0123456789abcdef0123456789abcdef/model")?;
/// assert!(matches!(ok, SourceRef::Run { .. }));
/// for bad in ["file:///etc/passwd", "s3://bucket/x", "runs:/0123456789abcdef0123456789abcdef/../x"] {
///     assert!(SourceRef::parse(bad).is_err(), "{bad}");
/// }
/// # Ok::<(), RegistryError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceRef {
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

pub(crate) fn refuse(text: &str, reason: impl Into<String>) -> RegistryError {
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

impl SourceRef {
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

/// The bytes a `models:/<name>/<version|alias|latest>/<path>` URI names, checked against
/// their digest. The URI is parsed and validated before any I/O.
pub async fn download_uri(registry: &dyn ModelRegistry, uri: &str) -> Result<Bytes> {
    let SourceRef::Model {
        name,
        version,
        path,
    } = SourceRef::parse(uri)?
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
