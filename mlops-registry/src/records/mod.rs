//! What the registry stores, as private record types separate from the public API types.
//!
//! The object backend's commit log and snapshots, and the MLflow backend's manifest and
//! audit tags, hold these records, never the public types: a field added to a public type
//! changes nothing on disk, and a store written by an earlier release reads the same (the
//! fixture `tests/fixtures/store-v1` and its migration test hold the code to that).
//!
//! Every record type names its format (`VersionV1`). A container (a log entry, a snapshot, an
//! audit tag) says which format it is in with an optional `format` field, absent in format 1,
//! so format 1 is byte for byte what the first release wrote. A change of format adds new
//! record types and a conversion from the older ones; a reader refuses a format newer than it
//! knows ([`RegistryError::NewerFormat`]) rather than guess at it.
//!
//! The shared vocabulary of `mlops-core` (names, versions, [`mlops_core::Tag`],
//! [`mlops_core::Metric`], [`mlops_core::DatasetRef`], timestamps) is stored as that crate
//! serializes it: those types are the workspace's storage vocabulary, with serde forms
//! that mlops-core keeps stable.

pub(crate) mod audit;
pub(crate) mod version;

use serde::Deserialize;

use crate::error::{RegistryError, Result};

/// The newest format this release reads and the one it writes.
pub(crate) const FORMAT: u32 = 1;

/// The format of a container without a `format` field: the first release's.
pub(crate) fn format_1() -> u32 {
    1
}

/// Whether `format` is the first release's, which is written without a `format` field.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
pub(crate) fn is_format_1(format: &u32) -> bool {
    *format == 1
}

/// Just the `format` field of a container, read before the rest so that a newer format is
/// reported as such rather than as an unreadable record.
#[derive(Deserialize)]
struct Header {
    #[serde(default = "format_1")]
    format: u32,
}

/// Fails with [`RegistryError::NewerFormat`] when the JSON container `bytes` at `path` says
/// it is in a format newer than [`FORMAT`]. Unreadable JSON passes: the full parse reports it.
pub(crate) fn check_format(bytes: &[u8], path: &str) -> Result<()> {
    match serde_json::from_slice::<Header>(bytes) {
        Ok(Header { format }) if format > FORMAT => Err(RegistryError::NewerFormat {
            path: path.to_owned(),
            format,
            supported: FORMAT,
        }),
        _ => Ok(()),
    }
}
