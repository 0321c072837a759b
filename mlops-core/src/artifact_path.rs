//! [`ArtifactPath`]: a relative path that can never leave the prefix it is joined to.

use std::fmt;
use std::str::FromStr;

use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result, Rule};
use crate::validate::Spec;

/// The S3 limit on a whole key; a path joined under a prefix must leave room for it.
const MAX_PATH_BYTES: usize = 1024;

const SPEC: Spec = Spec {
    kind: "artifact path",
    max_bytes: MAX_PATH_BYTES,
    segments: true,
    punctuation: "_-.+=,@() ",
    unicode: true,
    allowed: "letters, digits, `_ - . + = , @ ( )`, spaces and `/` between segments",
};

/// A safe relative path inside an artifact store: `model/weights.onnx`, `plots/roc.svg`.
///
/// Built only by parsing, which refuses `..` and `.` segments, empty segments (`a//b`, a
/// leading or trailing `/`), absolute and drive paths, backslashes, `%`, control characters,
/// `#`, `?`, `;` and every other character outside letters, digits and `_ - . + = , @ ( )`
/// and spaces, segments over 255 bytes, paths over 1024 bytes, and non-NFC text.
///
/// Because nothing is decoded or normalised, two different accepted strings are always two
/// different object keys, and the key of a path is the path itself
/// ([`ArtifactPath::to_object_path`]).
///
/// ```
/// use mlops_core::ArtifactPath;
/// let path = ArtifactPath::parse("model/weights.onnx")?;
/// assert_eq!(path.file_name(), "weights.onnx");
/// assert_eq!(path.to_object_path().as_ref(), "model/weights.onnx");
/// assert!(ArtifactPath::parse("model/../../etc/passwd").is_err());
/// assert!(ArtifactPath::parse("%2e%2e/secret").is_err());
/// # Ok::<(), mlops_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArtifactPath(String);

impl ArtifactPath {
    /// Parses and validates a `/`-separated relative path.
    pub fn parse(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        SPEC.check(&value)?;
        Ok(Self(value))
    }

    /// Builds a path from segments, validating each and the whole.
    pub fn from_segments<I, S>(segments: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut joined = String::new();
        for segment in segments {
            if !joined.is_empty() {
                joined.push('/');
            }
            let segment = segment.as_ref();
            if segment.contains('/') {
                return Err(Error::invalid(
                    SPEC.kind,
                    segment,
                    Rule::ForbiddenCharacter {
                        ch: '/',
                        allowed: "no `/` inside one segment",
                    },
                ));
            }
            joined.push_str(segment);
        }
        Self::parse(joined)
    }

    /// Converts a relative local path (for example a file found while walking a folder) into
    /// an artifact path, refusing anything that is not plain UTF-8 file names.
    pub fn from_relative_path(path: &std::path::Path) -> Result<Self> {
        use std::path::Component;
        let mut segments = Vec::new();
        for component in path.components() {
            match component {
                Component::Normal(part) => match part.to_str() {
                    Some(text) => segments.push(text),
                    None => {
                        return Err(Error::invalid(
                            SPEC.kind,
                            path.to_string_lossy(),
                            Rule::Format {
                                expected: "UTF-8 file names",
                            },
                        ));
                    }
                },
                Component::CurDir | Component::ParentDir => {
                    return Err(Error::invalid(
                        SPEC.kind,
                        path.to_string_lossy(),
                        Rule::DotSegment,
                    ));
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(Error::invalid(
                        SPEC.kind,
                        path.to_string_lossy(),
                        Rule::Absolute,
                    ));
                }
            }
        }
        Self::from_segments(segments)
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated segments, each non-empty and never `.` or `..`.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The path without its last segment, or `None` for a one-segment path.
    pub fn parent(&self) -> Option<Self> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| Self(parent.to_owned()))
    }

    /// `self/other`; fails only when the result is over the length limit.
    pub fn join(&self, other: &Self) -> Result<Self> {
        Self::parse(format!("{}/{}", self.0, other.0))
    }

    /// Whether `self` is `prefix` or lies below it, segment-wise (`a/bc` is not below `a/b`).
    pub fn starts_with(&self, prefix: &Self) -> bool {
        self.0 == prefix.0
            || (self.0.starts_with(&prefix.0)
                && self.0.as_bytes().get(prefix.0.len()) == Some(&b'/'))
    }

    /// The object-store key of this path. Its text equals [`ArtifactPath::as_str`], non-ASCII
    /// letters included.
    pub fn to_object_path(&self) -> ObjectPath {
        // `Path::parse` keeps the text as it is and cannot fail on a validated path (no empty,
        // `.` or `..` segment, no control character). `Path::from_iter` would percent-encode
        // non-ASCII letters, so it is only the never-taken fallback.
        ObjectPath::parse(&self.0).unwrap_or_else(|_| ObjectPath::from_iter(self.segments()))
    }
}

impl fmt::Debug for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArtifactPath({:?})", self.0)
    }
}

impl fmt::Display for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ArtifactPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for ArtifactPath {
    type Err = Error;
    fn from_str(value: &str) -> Result<Self> {
        Self::parse(value)
    }
}

impl TryFrom<String> for ArtifactPath {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(value)
    }
}

impl TryFrom<&str> for ArtifactPath {
    type Error = Error;
    fn try_from(value: &str) -> Result<Self> {
        Self::parse(value)
    }
}

impl Serialize for ArtifactPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ArtifactPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_work_on_segments() {
        let path = ArtifactPath::parse("a/b/c.txt").unwrap();
        assert_eq!(path.segments().collect::<Vec<_>>(), ["a", "b", "c.txt"]);
        assert_eq!(path.parent().unwrap().as_str(), "a/b");
        assert_eq!(ArtifactPath::parse("x").unwrap().parent(), None);
        let a_b = ArtifactPath::parse("a/b").unwrap();
        assert!(path.starts_with(&a_b));
        assert!(!ArtifactPath::parse("a/bc").unwrap().starts_with(&a_b));
        assert_eq!(a_b.join(&a_b).unwrap().as_str(), "a/b/a/b");
    }

    #[test]
    fn from_segments_refuses_hidden_separators() {
        let err = ArtifactPath::from_segments(["a", "b/../c"]).unwrap_err();
        assert!(matches!(
            err.rule(),
            Some(Rule::ForbiddenCharacter { ch: '/', .. })
        ));
        assert_eq!(
            ArtifactPath::from_segments(["a", "b"]).unwrap().as_str(),
            "a/b"
        );
    }

    #[test]
    fn from_relative_path_refuses_escapes() {
        use std::path::Path;
        assert_eq!(
            ArtifactPath::from_relative_path(Path::new("m/w.bin"))
                .unwrap()
                .as_str(),
            "m/w.bin"
        );
        let up = ArtifactPath::from_relative_path(Path::new("m/../../w")).unwrap_err();
        assert_eq!(up.rule(), Some(&Rule::DotSegment));
        let abs = ArtifactPath::from_relative_path(Path::new("/etc/passwd")).unwrap_err();
        assert_eq!(abs.rule(), Some(&Rule::Absolute));
    }

    #[test]
    fn join_keeps_the_length_limit() {
        let long = ArtifactPath::parse(vec!["x".repeat(200); 5].join("/")).unwrap();
        let err = long.join(&long).unwrap_err();
        assert!(matches!(err.rule(), Some(Rule::TooLong { max: 1024, .. })));
    }
}
