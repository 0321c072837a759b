//! Serde for report numbers: finite values as JSON numbers, the others as `"inf"`, `"-inf"`
//! and `"nan"` (mlops-core's [`float_json`] with its lowercase names).

use mlops_core::float_json::{self, LOWERCASE};
use serde::{Deserializer, Serializer};

pub(super) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    float_json::serialize(*value, &LOWERCASE, serializer)
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    float_json::deserialize(&LOWERCASE, deserializer)
}

/// The same for `Option<f64>`, with `None` as `null`.
pub(super) mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(in crate::report) fn serialize<S: Serializer>(
        value: &Option<f64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => super::serialize(v, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub(in crate::report) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<f64>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super")] f64);
        Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(v)| v))
    }
}
