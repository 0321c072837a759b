//! The one error type of `mlops-core`, which the other crates wrap.

use std::fmt;
use std::path::PathBuf;

use arrow_schema::{ArrowError, DataType};

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `mlops-core`.
///
/// Every variant carries the offending value (a name, a URI, a column), so a message read in
/// a log says what to fix without the code that produced it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A name, id, key, path or value broke a validation rule. Nothing was read or written.
    #[error("invalid {kind} {}: {rule}", Shown(.value))]
    Invalid {
        /// What was being validated, for example `"experiment name"` or `"artifact path"`.
        kind: &'static str,
        /// The value as given.
        value: String,
        /// The rule it broke.
        rule: Rule,
    },

    /// A store URI could not be parsed or is not allowed.
    #[error("invalid store URI {}: {reason}", Shown(.uri))]
    InvalidStoreUri {
        /// The URI as given.
        uri: String,
        /// Why it was refused.
        reason: String,
    },

    /// A store URI names a backend that this build leaves out.
    #[error("store URI {uri:?} needs the `{feature}` feature of mlops-core")]
    FeatureNotEnabled {
        /// The URI as given.
        uri: String,
        /// The cargo feature that enables its backend.
        feature: &'static str,
    },

    /// The object store behind a URI could not be configured or opened.
    #[error("cannot open store {uri:?}: {source}")]
    OpenStore {
        /// The URI as given.
        uri: String,
        /// What object_store reported.
        #[source]
        source: object_store::Error,
    },

    /// A local file or folder could not be created or read.
    #[error("I/O error at {}: {source}", .path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },

    /// A local path to be read names something other than a regular file (a directory, a
    /// FIFO, a device, a socket). Nothing was read: reading one can block forever or never
    /// end.
    #[error("{} is {what}, not a regular file: refusing to read it", .path.display())]
    NotAFile {
        /// The path as given.
        path: PathBuf,
        /// What it is, for example `"a FIFO (named pipe)"`.
        what: &'static str,
    },

    /// A local file is larger than its reader allows. At most `limit + 1` bytes were read.
    #[error("{} is larger than the limit of {limit} bytes for this file", .path.display())]
    FileTooLarge {
        /// The path as given.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },

    /// An Arrow column has a type that the requested conversion does not take.
    #[error("column {column:?} has Arrow type {data_type}, expected {expected}")]
    UnsupportedColumn {
        /// The column name, or an empty string when the array came without one.
        column: String,
        /// Its Arrow type.
        data_type: DataType,
        /// What the conversion takes, for example `"a numeric type"`.
        expected: &'static str,
    },

    /// Arrow reported an error while reading or casting data.
    #[error("arrow error: {0}")]
    Arrow(#[from] ArrowError),
}

/// The validation rule that a value broke.
///
/// Tests and callers match on these; the `Display` text is for people.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// The value is empty.
    Empty,
    /// The value is longer than the limit.
    TooLong {
        /// The limit.
        max: usize,
        /// The length found.
        len: usize,
        /// What is counted: `"bytes"` for names and paths, `"characters"` for values
        /// (MLflow counts characters).
        unit: &'static str,
    },
    /// One `/`-separated segment is longer than the file-system limit.
    SegmentTooLong {
        /// The limit in bytes.
        max: usize,
        /// The offending segment.
        segment: String,
    },
    /// A segment is `.` or `..`.
    DotSegment,
    /// Two separators in a row, or a trailing separator.
    EmptySegment,
    /// The value starts with `/` or a drive letter, or is a UNC path.
    Absolute,
    /// A backslash, which is never a separator here and never allowed.
    Backslash,
    /// A `%`, refused so that no encoded form can alias another name.
    PercentEncoding,
    /// A NUL or another C0/C1 control character (including `\n`, `\r`, `\t`).
    ControlCharacter {
        /// The character.
        ch: char,
    },
    /// A character outside the allowed set (for example `#`, `?`, `;`, or a look-alike dot).
    ForbiddenCharacter {
        /// The character.
        ch: char,
        /// The characters that are allowed.
        allowed: &'static str,
    },
    /// Leading or trailing whitespace in the value or in a segment.
    SurroundingWhitespace,
    /// Text that is not in Unicode normalisation form C; the NFD spelling of a name would
    /// otherwise be a second, different key for the same visible name.
    NotNfc,
    /// A name that the system keeps for itself.
    Reserved {
        /// Why it is reserved.
        why: &'static str,
    },
    /// The value does not have the required form.
    Format {
        /// The form expected.
        expected: &'static str,
    },
    /// A number outside its allowed range.
    OutOfRange {
        /// The range allowed.
        allowed: &'static str,
    },
    /// The same key appears twice where keys must be unique.
    Duplicate,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("must not be empty"),
            Self::TooLong { max, len, unit } => {
                write!(f, "is {len} {unit} long, the limit is {max}")
            }
            Self::SegmentTooLong { max, segment } => write!(
                f,
                "segment {} is {} bytes long, the limit is {max}",
                Shown(segment),
                segment.len()
            ),
            Self::DotSegment => f.write_str("must not contain `.` or `..` segments"),
            Self::EmptySegment => {
                f.write_str("must not contain empty segments (`//`, or a trailing `/`)")
            }
            Self::Absolute => f.write_str("must be relative (no leading `/`, drive or UNC prefix)"),
            Self::Backslash => f.write_str("must not contain a backslash"),
            Self::PercentEncoding => {
                f.write_str("must not contain `%` (percent-encoding is refused, never decoded)")
            }
            Self::ControlCharacter { ch } => {
                write!(
                    f,
                    "must not contain control character U+{:04X}",
                    u32::from(*ch)
                )
            }
            Self::ForbiddenCharacter { ch, allowed } => write!(
                f,
                "must not contain {ch:?} (U+{:04X}); allowed: {allowed}",
                u32::from(*ch)
            ),
            Self::SurroundingWhitespace => {
                f.write_str("must not start or end with whitespace, nor may any segment")
            }
            Self::NotNfc => f.write_str("must be in Unicode normalisation form C (NFC)"),
            Self::Reserved { why } => write!(f, "is reserved: {why}"),
            Self::Format { expected } => write!(f, "must be {expected}"),
            Self::OutOfRange { allowed } => write!(f, "is out of range, allowed: {allowed}"),
            Self::Duplicate => f.write_str("appears more than once"),
        }
    }
}

/// Shows a user value in a message: quoted, escaped, and cut at 120 characters so that a
/// 6000-character param value does not flood a log line.
pub(crate) struct Shown<'a>(pub(crate) &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 120;
        match self.0.char_indices().nth(MAX_CHARS) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(f, "{:?}… ({} bytes in all)", &self.0[..cut], self.0.len()),
        }
    }
}

impl Error {
    /// Builds [`Error::Invalid`].
    pub(crate) fn invalid(kind: &'static str, value: impl Into<String>, rule: Rule) -> Self {
        Self::Invalid {
            kind,
            value: value.into(),
            rule,
        }
    }

    /// The rule broken, when this is a validation error.
    pub fn rule(&self) -> Option<&Rule> {
        match self {
            Self::Invalid { rule, .. } => Some(rule),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_value_and_the_rule() {
        let e = Error::invalid(
            "model name",
            "a/b",
            Rule::ForbiddenCharacter {
                ch: '/',
                allowed: "letters",
            },
        );
        let text = e.to_string();
        assert!(text.contains("model name"), "{text}");
        assert!(text.contains("\"a/b\""), "{text}");
        assert!(text.contains("'/'"), "{text}");
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(6001);
        let e = Error::invalid(
            "param value",
            long,
            Rule::TooLong {
                max: 6000,
                len: 6001,
                unit: "characters",
            },
        );
        let text = e.to_string();
        assert!(text.len() < 300, "{text}");
        assert!(text.contains("6001 bytes in all"), "{text}");
    }
}
