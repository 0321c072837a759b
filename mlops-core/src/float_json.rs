//! JSON for floats that may be NaN or infinite: finite values as numbers, the others as
//! strings, because JSON numbers cannot hold them. Each format has its own spellings
//! ([`MLFLOW`], [`LOWERCASE`]); use them from serde `with` modules:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Score(#[serde(with = "lowercase")] f64);
//!
//! mod lowercase {
//!     use mlops_core::float_json::{self, LOWERCASE};
//!     use serde::{Deserializer, Serializer};
//!     pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
//!         float_json::serialize(*v, &LOWERCASE, s)
//!     }
//!     pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
//!         float_json::deserialize(&LOWERCASE, d)
//!     }
//! }
//!
//! assert_eq!(serde_json::to_string(&Score(f64::INFINITY)).unwrap(), "\"inf\"");
//! assert!(serde_json::from_str::<Score>("\"nan\"").unwrap().0.is_nan());
//! assert!(serde_json::from_str::<Score>("true").is_err());
//! ```

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// How one format spells the three non-finite values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonFiniteNames {
    /// Not a number.
    pub nan: &'static str,
    /// Positive infinity.
    pub inf: &'static str,
    /// Negative infinity.
    pub neg_inf: &'static str,
}

/// MLflow's REST API: `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub const MLFLOW: NonFiniteNames = NonFiniteNames {
    nan: "NaN",
    inf: "Infinity",
    neg_inf: "-Infinity",
};

/// Our reports: `"nan"`, `"inf"`, `"-inf"`.
pub const LOWERCASE: NonFiniteNames = NonFiniteNames {
    nan: "nan",
    inf: "inf",
    neg_inf: "-inf",
};

/// Writes `value`: a JSON number when finite, else its name in `names`.
pub fn serialize<S: Serializer>(
    value: f64,
    names: &NonFiniteNames,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if value.is_nan() {
        serializer.serialize_str(names.nan)
    } else if value == f64::INFINITY {
        serializer.serialize_str(names.inf)
    } else if value == f64::NEG_INFINITY {
        serializer.serialize_str(names.neg_inf)
    } else {
        serializer.serialize_f64(value)
    }
}

/// Reads a JSON number, or one of the three names in `names`; anything else (booleans,
/// other strings, null) is an error.
pub fn deserialize<'de, D: Deserializer<'de>>(
    names: &NonFiniteNames,
    deserializer: D,
) -> Result<f64, D::Error> {
    deserializer.deserialize_any(FloatVisitor(*names))
}

struct FloatVisitor(NonFiniteNames);

impl Visitor<'_> for FloatVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a number, or one of the strings {:?}, {:?}, {:?}",
            self.0.nan, self.0.inf, self.0.neg_inf
        )
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    #[allow(clippy::cast_precision_loss)] // JSON integers become f64, as in MLflow.
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        if v == self.0.nan {
            Ok(f64::NAN)
        } else if v == self.0.inf {
            Ok(f64::INFINITY)
        } else if v == self.0.neg_inf {
            Ok(f64::NEG_INFINITY)
        } else {
            Err(E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }
}
