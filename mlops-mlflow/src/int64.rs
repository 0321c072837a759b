//! MLflow's int64 fields: its server renders them as JSON numbers, protobuf's canonical JSON
//! as strings; both are read. Use with `#[serde(default, deserialize_with =
//! "mlops_mlflow::int64::opt")]`.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// An optional int64: a number, a number in a string, or `null`/absent.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Version {
///     #[serde(default, deserialize_with = "mlops_mlflow::int64::opt")]
///     creation_timestamp: Option<i64>,
/// }
/// let a: Version = serde_json::from_str(r#"{"creation_timestamp": 17}"#)?;
/// let b: Version = serde_json::from_str(r#"{"creation_timestamp": "17"}"#)?;
/// let c: Version = serde_json::from_str("{}")?;
/// assert_eq!((a.creation_timestamp, b.creation_timestamp, c.creation_timestamp), (Some(17), Some(17), None));
/// # Ok::<(), serde_json::Error>(())
/// ```
///
/// # Errors
///
/// Anything else, or a number beyond `i64`.
pub fn opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    struct IntVisitor;
    impl Visitor<'_> for IntVisitor {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer, or an integer in a string")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v).map(Some).map_err(E::custom)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.parse().map(Some).map_err(E::custom)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    deserializer.deserialize_any(IntVisitor)
}
