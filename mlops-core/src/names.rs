//! Validated names and ids.
//!
//! Each type here can only be built by parsing, so a value that exists is valid: code that
//! receives an [`ExperimentName`] never checks it again. Parsing refuses (never normalises)
//! everything on the bad-input checklist: empty values, `.` and `..`, empty segments,
//! absolute paths, backslashes, `%` in any form, NUL and every control character, URL
//! metacharacters (`#`, `?`, `;`), look-alike dots and other punctuation outside a small
//! allowlist, text not in NFC, and values over MLflow's length limits.
//!
//! | type | longest | characters | `/` segments |
//! | --- | --- | --- | --- |
//! | [`ExperimentName`] | 500 bytes | letters, digits, `_ - . : space` | yes |
//! | [`RunName`] | 255 bytes | letters, digits, `_ - . : space` | no |
//! | [`ModelName`] | 255 bytes | letters, digits, `_ - . space` | no |
//! | [`ParamKey`], [`MetricKey`], [`TagKey`] | 250 bytes | letters, digits, `_ - . : space` | yes |
//! | [`AliasName`] | 255 bytes | ASCII letters, digits, `_ -` | no |
//!
//! "Letters and digits" include non-ASCII ones (MLflow's keys match Python's Unicode `\w`),
//! and such text must be in Unicode normalisation form C. Keys follow MLflow's rule
//! `^[/\w.\- :]*$` plus its rule that a key equals its normalised path.
//!
//! Ids: [`ExperimentId`] (MLflow's decimal ids, or 32 lowercase hex digits), [`RunId`]
//! (32 lowercase hex digits, as MLflow's run ids) and [`ModelVersion`] (1, 2, 3, …).

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result, Rule};
use crate::validate::Spec;

/// Defines a string newtype validated by a [`Spec`], with its conversions and serde.
macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident, $spec:expr $(, extra = $extra:path)? $(, stored = $stored:path)?) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            const SPEC: Spec = $spec;

            /// Parses and validates `value`; the error names the value and the rule broken.
            pub fn parse(value: impl Into<String>) -> Result<Self> {
                let value = value.into();
                Self::SPEC.check(&value)?;
                $($extra(&value)?;)?
                Ok(Self(value))
            }

            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value as an owned `String`.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(value: &str) -> Result<Self> {
                Self::parse(value)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(value: String) -> Result<Self> {
                Self::parse(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Error;
            fn try_from(value: &str) -> Result<Self> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                // What stores hold may predate a rule (`stored` relaxes it); input goes
                // through `parse`.
                $(
                    Self::SPEC.check(&value).map_err(serde::de::Error::custom)?;
                    $stored(&value).map_err(serde::de::Error::custom)?;
                    #[allow(clippy::needless_return)]
                    return Ok(Self(value));
                )?
                #[allow(unreachable_code)]
                Self::parse(value).map_err(serde::de::Error::custom)
            }
        }
    };
}

const NAME_CHARS: &str = "letters, digits, `_`, `-`, `.`, `:` and spaces";
const KEY_CHARS: &str = "letters, digits, `_`, `-`, `.`, `:`, spaces and `/` between segments";

validated_name!(
    /// The name of an experiment: up to 500 bytes (MLflow's limit), `/`-separated segments of
    /// letters, digits, `_ - . :` and spaces.
    ///
    /// ```
    /// use mlops_core::ExperimentName;
    /// let name = ExperimentName::parse("churn/weekly retrain")?;
    /// assert_eq!(name.as_str(), "churn/weekly retrain");
    /// assert!(ExperimentName::parse("churn/../other").is_err());
    /// # Ok::<(), mlops_core::Error>(())
    /// ```
    ExperimentName,
    Spec {
        kind: "experiment name",
        max_bytes: 500,
        segments: true,
        punctuation: "_-.: ",
        unicode: true,
        allowed: KEY_CHARS,
    }
);

validated_name!(
    /// The display name of a run: up to 255 bytes of letters, digits, `_ - . :` and spaces.
    ///
    /// ```
    /// use mlops_core::RunName;
    /// assert!(RunName::parse("bright-owl-42").is_ok());
    /// assert!(RunName::parse("a\nb").is_err());
    /// ```
    RunName,
    Spec {
        kind: "run name",
        max_bytes: 255,
        segments: false,
        punctuation: "_-.: ",
        unicode: true,
        allowed: NAME_CHARS,
    }
);

validated_name!(
    /// The name of a registered model: up to 255 bytes (one file name) of letters, digits, `_ - .` and spaces.
    ///
    /// Names are case-sensitive here; a registry that stores them on a case-insensitive file
    /// system must refuse a new name that differs from an existing one only in case
    /// ([`ModelName::case_folded`] gives the key to compare).
    ///
    /// ```
    /// use mlops_core::ModelName;
    /// assert!(ModelName::parse("fraud-detector").is_ok());
    /// assert!(ModelName::parse("fraud#1").is_err());
    /// ```
    ModelName,
    Spec {
        kind: "model name",
        max_bytes: 255,
        segments: false,
        punctuation: "_-. ",
        unicode: true,
        allowed: "letters, digits, `_`, `-`, `.` and spaces",
    }
);

validated_name!(
    /// A model alias such as `champion`: 1–255 ASCII letters, digits, `_` and `-`.
    ///
    /// As in MLflow, `latest` and `v` followed by digits (`v3`) are reserved, in any case,
    /// because they would be ambiguous with version references; so are digits alone (`5`,
    /// `0005`), which a version reference would shadow.
    ///
    /// ```
    /// use mlops_core::AliasName;
    /// assert!(AliasName::parse("champion").is_ok());
    /// assert!(AliasName::parse("latest").is_err());
    /// assert!(AliasName::parse("V12").is_err());
    /// assert!(AliasName::parse("0005").is_err());
    /// ```
    AliasName,
    Spec {
        kind: "alias",
        max_bytes: 255,
        segments: false,
        punctuation: "_-",
        unicode: false,
        allowed: "ASCII letters, digits, `_` and `-`",
    },
    extra = alias_not_reserved,
    stored = alias_not_reserved_when_stored
);

impl AliasName {
    /// Whether the alias is digits alone (`5`, `0005`): refused by [`AliasName::parse`] since
    /// a version reference shadows it, but read back from stores written before that rule so
    /// they stay readable (readers report it).
    ///
    /// ```
    /// use mlops_core::AliasName;
    /// assert!(AliasName::parse("5").is_err());
    /// let stored: AliasName = serde_json::from_str("\"5\"")?;
    /// assert!(stored.is_digits());
    /// assert!(serde_json::from_str::<AliasName>("\"latest\"").is_err());
    /// assert!(serde_json::from_str::<AliasName>("\"v3\"").is_err());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn is_digits(&self) -> bool {
        self.0.bytes().all(|b| b.is_ascii_digit())
    }
}

validated_name!(
    /// A param key: up to 250 bytes, MLflow's key rule (`/`-separated segments of letters,
    /// digits, `_ - . :` and spaces, equal to its normalised path).
    ///
    /// ```
    /// use mlops_core::ParamKey;
    /// assert!(ParamKey::parse("optimizer/lr").is_ok());
    /// assert!(ParamKey::parse("lr;drop table").is_err());
    /// ```
    ParamKey,
    Spec {
        kind: "param key",
        max_bytes: 250,
        segments: true,
        punctuation: "_-.: ",
        unicode: true,
        allowed: KEY_CHARS,
    }
);

validated_name!(
    /// A metric key, with the same rules as [`ParamKey`].
    ///
    /// ```
    /// use mlops_core::MetricKey;
    /// assert!(MetricKey::parse("val/loss").is_ok());
    /// assert!(MetricKey::parse("val//loss").is_err());
    /// ```
    MetricKey,
    Spec {
        kind: "metric key",
        max_bytes: 250,
        segments: true,
        punctuation: "_-.: ",
        unicode: true,
        allowed: KEY_CHARS,
    }
);

validated_name!(
    /// A tag key, with the same rules as [`ParamKey`]. MLflow's system tags
    /// (`mlflow.runName`, `mlflow.source.git.commit`, …) are ordinary tag keys.
    ///
    /// ```
    /// use mlops_core::TagKey;
    /// assert!(TagKey::parse("mlflow.source.git.commit").is_ok());
    /// ```
    TagKey,
    Spec {
        kind: "tag key",
        max_bytes: 250,
        segments: true,
        punctuation: "_-.: ",
        unicode: true,
        allowed: KEY_CHARS,
    }
);

/// Hex digits only, the form of the ids this project generates and of MLflow's run ids.
const HEX_ID: Spec = Spec {
    kind: "id",
    max_bytes: 32,
    segments: false,
    punctuation: "",
    unicode: false,
    allowed: "lowercase hex digits",
};

validated_name!(
    /// The id of an experiment: MLflow's decimal ids (`0`, `42`; at most 19 digits, no
    /// leading zero) or 32 lowercase hex digits (the ids the embedded store generates).
    ///
    /// ```
    /// use mlops_core::ExperimentId;
    /// assert!(ExperimentId::parse("0").is_ok());
    /// assert!(ExperimentId::parse("0190c5a2e3b47e2f9d4c1a2b3c4d5e6f").is_ok());
    /// assert!(ExperimentId::parse("007").is_err());
    /// assert!(ExperimentId::parse("../1").is_err());
    /// ```
    ExperimentId,
    Spec {
        kind: "experiment id",
        ..HEX_ID
    },
    extra = experiment_id_form
);

validated_name!(
    /// The id of a run: 32 lowercase hex digits, the form of MLflow's run ids.
    /// [`RunId::generate`] makes a new one from a UUID v7, so ids sort by creation time.
    ///
    /// ```
    /// use mlops_core::RunId;
    /// let id = RunId::generate();
    /// assert_eq!(id.as_str().len(), 32);
    /// assert!(RunId::parse("not-a-run").is_err());
    /// ```
    RunId,
    Spec {
        kind: "run id",
        ..HEX_ID
    },
    extra = run_id_form
);

impl ModelName {
    /// The name with letters lower-cased: two model names with the same folded form would
    /// collide on a case-insensitive file system (macOS, Windows).
    pub fn case_folded(&self) -> String {
        self.0.to_lowercase()
    }
}

/// MLflow's reserved aliases.
fn alias_not_reserved(value: &str) -> Result<()> {
    let lower = value.to_ascii_lowercase();
    let why = if lower == "latest" {
        "`latest` always means the newest version"
    } else if lower.bytes().all(|b| b.is_ascii_digit()) {
        // `5` or `0005` would be hidden by version 5 wherever a reference may be either.
        "digits alone read as a version number"
    } else if lower.len() > 1
        && lower.starts_with('v')
        && lower[1..].bytes().all(|b| b.is_ascii_digit())
    {
        "`v<digits>` refers to a version number"
    } else {
        return Ok(());
    };
    Err(Error::invalid("alias", value, Rule::Reserved { why }))
}

/// [`alias_not_reserved`] for an alias read back from a store: digits alone were accepted
/// before they were reserved, so a stored one still reads (the other rules are older).
fn alias_not_reserved_when_stored(value: &str) -> Result<()> {
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    alias_not_reserved(value)
}

/// Decimal (MLflow) or 32-hex (generated) experiment ids.
fn experiment_id_form(value: &str) -> Result<()> {
    let decimal = value.len() <= 19
        && value.bytes().all(|b| b.is_ascii_digit())
        && (value == "0" || !value.starts_with('0'));
    if decimal || is_hex32(value) {
        return Ok(());
    }
    Err(Error::invalid(
        "experiment id",
        value,
        Rule::Format {
            expected: "a decimal id without leading zeros (at most 19 digits) \
                   or 32 lowercase hex digits",
        },
    ))
}

/// 32 lowercase hex digits.
fn run_id_form(value: &str) -> Result<()> {
    if is_hex32(value) {
        return Ok(());
    }
    Err(Error::invalid(
        "run id",
        value,
        Rule::Format {
            expected: "32 lowercase hex digits",
        },
    ))
}

impl RunId {
    /// A new run id from a UUID v7: unique, and sorting by id sorts by creation time.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().simple().to_string())
    }
}

impl ExperimentId {
    /// A new 32-hex-digit experiment id from a UUID v7, for stores that generate their own.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().simple().to_string())
    }
}

fn is_hex32(value: &str) -> bool {
    value.len() == 32
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A model version number: 1, 2, 3, … per model, as MLflow numbers them.
///
/// MLflow sends versions as strings in JSON; this type parses the strict decimal form only
/// (no sign, no leading zero, no spaces) and serialises back to a string.
///
/// ```
/// use mlops_core::ModelVersion;
/// let v: ModelVersion = "3".parse()?;
/// assert_eq!(v.get(), 3);
/// assert_eq!(v.next().to_string(), "4");
/// assert!("03".parse::<ModelVersion>().is_err());
/// assert!("0".parse::<ModelVersion>().is_err());
/// # Ok::<(), mlops_core::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ModelVersion(NonZeroU64);

impl ModelVersion {
    /// The first version of every model.
    pub const FIRST: Self = Self(NonZeroU64::MIN);

    /// A version from its number; 0 is refused.
    pub fn new(number: u64) -> Result<Self> {
        NonZeroU64::new(number).map(Self).ok_or_else(|| {
            Error::invalid(
                "model version",
                number.to_string(),
                Rule::OutOfRange {
                    allowed: "1 to 18446744073709551615",
                },
            )
        })
    }

    /// Parses the strict decimal form.
    pub fn parse(value: &str) -> Result<Self> {
        let well_formed = !value.is_empty()
            && value.len() <= 20
            && value.bytes().all(|b| b.is_ascii_digit())
            && !value.starts_with('0');
        let number = well_formed.then(|| value.parse::<u64>().ok()).flatten();
        match number {
            Some(n) => Self::new(n),
            None => Err(Error::invalid(
                "model version",
                value,
                Rule::Format {
                    expected: "a positive decimal number without sign or leading zero",
                },
            )),
        }
    }

    /// The number.
    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// The version after this one (saturating at `u64::MAX`, which no registry reaches).
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

impl fmt::Display for ModelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for ModelVersion {
    type Err = Error;
    fn from_str(value: &str) -> Result<Self> {
        Self::parse(value)
    }
}

impl Serialize for ModelVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ModelVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::parse(&value).map_err(serde::de::Error::custom)
    }
}
