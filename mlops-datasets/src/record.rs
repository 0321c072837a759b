//! The stored records (private, versioned): the only place that serialises what is written.
//! A record with a newer `format` than this code knows is refused, never misread.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_schema::Schema;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::manifest::{FileEntry, Location, Manifest, StoredObject};
use crate::names::DatasetName;

/// The format of every record this code writes.
const FORMAT: u32 = 1;

/// A version's manifest on the store.
#[derive(Serialize, Deserialize)]
pub(crate) struct VersionRecord {
    format: u32,
    name: String,
    version: u64,
    created: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    content_id: String,
    digest: String,
    rows: u64,
    schema: Schema,
    files: Vec<FileRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    profile: Option<ObjectRecord>,
}

#[derive(Serialize, Deserialize)]
struct FileRecord {
    path: String,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dvc: Option<DvcRecord>,
}

#[derive(Serialize, Deserialize)]
struct DvcRecord {
    remote: String,
    key: String,
    md5: String,
}

#[derive(Serialize, Deserialize)]
struct ObjectRecord {
    sha256: String,
    size: u64,
}

impl VersionRecord {
    pub(crate) fn from_manifest(m: &Manifest) -> Self {
        Self {
            format: FORMAT,
            name: m.name.to_string(),
            version: m.version,
            created: m.created,
            description: m.description.clone(),
            tags: m.tags.clone(),
            content_id: m.content_id.clone(),
            digest: m.digest.to_string(),
            rows: m.rows,
            schema: m.schema.as_ref().clone(),
            files: m
                .files
                .iter()
                .map(|f| match &f.location {
                    Location::Stored { sha256 } => FileRecord {
                        path: f.path.clone(),
                        size: f.size,
                        sha256: Some(sha256.clone()),
                        dvc: None,
                    },
                    Location::Dvc { remote, key, md5 } => FileRecord {
                        path: f.path.clone(),
                        size: f.size,
                        sha256: None,
                        dvc: Some(DvcRecord {
                            remote: remote.clone(),
                            key: key.clone(),
                            md5: md5.clone(),
                        }),
                    },
                })
                .collect(),
            profile: m.profile.as_ref().map(|p| ObjectRecord {
                sha256: p.sha256.clone(),
                size: p.size,
            }),
        }
    }

    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(self)
            .map_err(|e| DataError::corrupt(&self.name, &format!("cannot encode: {e}")))
    }

    /// Decodes the record at `key`, checking that it is the version the key says.
    pub(crate) fn decode(
        key: &str,
        bytes: &[u8],
        name: &DatasetName,
        version: u64,
    ) -> Result<Manifest> {
        let record: Self =
            serde_json::from_slice(bytes).map_err(|e| DataError::corrupt(&key, &e))?;
        if record.format > FORMAT {
            return Err(DataError::corrupt(
                &key,
                &format!(
                    "format {} is newer than this tool ({FORMAT}): upgrade it",
                    record.format
                ),
            ));
        }
        if record.name != name.as_str() || record.version != version {
            return Err(DataError::corrupt(
                &key,
                &format!(
                    "holds {}@{}, not {name}@{version}",
                    record.name, record.version
                ),
            ));
        }
        let digest = record
            .digest
            .parse()
            .map_err(|e| DataError::corrupt(&key, &e))?;
        let mut files = Vec::with_capacity(record.files.len());
        for f in record.files {
            let location = match (f.sha256, f.dvc) {
                (Some(sha256), None) if is_hex(&sha256, 64) => Location::Stored { sha256 },
                (None, Some(d)) if is_hex(&d.md5, 32) => Location::Dvc {
                    remote: d.remote,
                    key: d.key,
                    md5: d.md5,
                },
                _ => {
                    return Err(DataError::corrupt(
                        &key,
                        &format!("file {:?} has no valid digest", f.path),
                    ));
                }
            };
            crate::scan::check_relative(&f.path).map_err(|e| DataError::corrupt(&key, &e))?;
            files.push(FileEntry {
                path: f.path,
                size: f.size,
                location,
            });
        }
        let profile = match record.profile {
            Some(p) if is_hex(&p.sha256, 64) => Some(StoredObject {
                sha256: p.sha256,
                size: p.size,
            }),
            Some(_) => return Err(DataError::corrupt(&key, &"bad profile digest")),
            None => None,
        };
        Ok(Manifest {
            name: name.clone(),
            version,
            created: record.created,
            description: record.description,
            tags: record.tags,
            content_id: record.content_id,
            digest,
            rows: record.rows,
            schema: Arc::new(record.schema),
            files,
            profile,
        })
    }
}

/// One move of an alias.
#[derive(Serialize, Deserialize)]
pub(crate) struct AliasRecord {
    pub(crate) format: u32,
    pub(crate) version: u64,
    pub(crate) at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) actor: Option<String>,
}

impl AliasRecord {
    pub(crate) fn new(version: u64, at: DateTime<Utc>, actor: Option<String>) -> Self {
        Self {
            format: FORMAT,
            version,
            at,
            actor,
        }
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        // A struct of plain fields always encodes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub(crate) fn decode(key: &str, bytes: &[u8]) -> Result<Self> {
        let record: Self =
            serde_json::from_slice(bytes).map_err(|e| DataError::corrupt(&key, &e))?;
        if record.format > FORMAT {
            return Err(DataError::corrupt(&key, &"a newer alias record format"));
        }
        Ok(record)
    }
}

pub(crate) fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
