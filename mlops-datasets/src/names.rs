//! Dataset names, aliases and `NAME@VERSION|ALIAS` references. Both names become object-key
//! segments, so they are restricted to a portable set: ASCII letters, digits, `.`, `_`, `-`,
//! starting with a letter or digit, at most 128 bytes.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{DataError, Result};

/// The longest name or alias, in bytes.
const MAX_NAME_BYTES: usize = 128;

/// The alias every dataset has implicitly: its highest version. It cannot be set.
pub const LATEST: &str = "latest";

fn check(what: &'static str, value: &str) -> Result<()> {
    let bad = |reason: &str| Err(DataError::argument(what, value, reason));
    if value.is_empty() || value.len() > MAX_NAME_BYTES {
        return bad("must be 1 to 128 bytes");
    }
    let first = value.as_bytes()[0];
    if !first.is_ascii_alphanumeric() {
        return bad("must start with an ASCII letter or digit");
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("may hold only ASCII letters, digits, '.', '_' and '-'");
    }
    if value.ends_with('.') {
        return bad("must not end with '.'");
    }
    Ok(())
}

/// A dataset's name.
///
/// ```
/// use mlops_data::DatasetName;
/// assert!(DatasetName::parse("taxi-trips_2024.v2").is_ok());
/// assert!(DatasetName::parse("../etc").is_err());
/// assert!(DatasetName::parse("a b").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DatasetName(String);

impl DatasetName {
    /// Parses and validates a name.
    ///
    /// # Errors
    ///
    /// [`DataError::Argument`] naming the value and the rule broken.
    pub fn parse(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        check("dataset name", &value)?;
        Ok(Self(value))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An alias of a dataset (`train`, `eval`, ...): a movable pointer to one version. Not a
/// number (those are versions) and not `latest` (implicit).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DatasetAlias(String);

impl DatasetAlias {
    /// Parses and validates an alias.
    ///
    /// # Errors
    ///
    /// [`DataError::Argument`] naming the value and the rule broken.
    pub fn parse(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        check("dataset alias", &value)?;
        if value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DataError::argument(
                "dataset alias",
                value,
                "must not be a number (numbers are versions)",
            ));
        }
        if value.eq_ignore_ascii_case(LATEST) {
            return Err(DataError::argument(
                "dataset alias",
                value,
                "\"latest\" is reserved: it always means the highest version",
            ));
        }
        Ok(Self(value))
    }

    /// The alias as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatasetAlias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which version of a dataset a reference means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// A version number (1, 2, ...).
    Version(u64),
    /// The version an alias holds now.
    Alias(DatasetAlias),
    /// The highest version.
    Latest,
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Version(v) => write!(f, "{v}"),
            Selector::Alias(a) => write!(f, "{a}"),
            Selector::Latest => f.write_str(LATEST),
        }
    }
}

/// `NAME`, `NAME@VERSION`, `NAME@ALIAS` or `NAME@latest` (a bare name means latest).
///
/// ```
/// use mlops_data::{DatasetSpec, Selector};
/// let spec: DatasetSpec = "trips@3".parse()?;
/// assert_eq!(spec.selector, Selector::Version(3));
/// let spec: DatasetSpec = "trips@train".parse()?;
/// assert_eq!(spec.to_string(), "trips@train");
/// assert_eq!("trips".parse::<DatasetSpec>()?.selector, Selector::Latest);
/// assert!("trips@0".parse::<DatasetSpec>().is_err());
/// # Ok::<(), mlops_data::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetSpec {
    /// The dataset.
    pub name: DatasetName,
    /// Which version.
    pub selector: Selector,
}

impl FromStr for DatasetSpec {
    type Err = DataError;

    fn from_str(text: &str) -> Result<Self> {
        let (name, selector) = match text.split_once('@') {
            None => (text, Selector::Latest),
            Some((name, sel)) => (name, parse_selector(text, sel)?),
        };
        Ok(Self {
            name: DatasetName::parse(name)?,
            selector,
        })
    }
}

fn parse_selector(text: &str, sel: &str) -> Result<Selector> {
    if sel == LATEST {
        return Ok(Selector::Latest);
    }
    if !sel.is_empty() && sel.bytes().all(|b| b.is_ascii_digit()) {
        return match sel.parse::<u64>() {
            Ok(v) if v > 0 && !sel.starts_with('0') => Ok(Selector::Version(v)),
            _ => Err(DataError::argument(
                "dataset reference",
                text,
                "a version is a number from 1, without leading zeros",
            )),
        };
    }
    Ok(Selector::Alias(DatasetAlias::parse(sel)?))
}

impl fmt::Display for DatasetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.selector)
    }
}
