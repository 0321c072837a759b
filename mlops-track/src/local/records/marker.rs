//! `FORMAT.json`: what a root holds and in which format version.

use serde::{Deserialize, Serialize};

use super::FORMAT_VERSION;

/// The `format` of an mlops-track root.
pub(crate) const FORMAT_NAME: &str = "mlops-track";

/// The content of `FORMAT.json`.
#[derive(Serialize, Deserialize)]
pub(crate) struct FormatMarker {
    pub(crate) format: String,
    pub(crate) version: u32,
}

impl FormatMarker {
    pub(super) fn current() -> Self {
        Self {
            format: FORMAT_NAME.to_owned(),
            version: FORMAT_VERSION,
        }
    }
}
