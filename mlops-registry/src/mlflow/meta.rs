//! What MLflow cannot hold natively, kept in tags under the reserved prefix
//! [`RESERVED_PREFIX`] (`mlops.registry.`):
//!
//! | tag | on | value |
//! | --- | --- | --- |
//! | `mlops.registry.creator` | model | who created it |
//! | `mlops.registry.txn` | model, version | the creating call's transaction id (a lost answer is resolved by looking it up) |
//! | `mlops.registry.run` | version | the source run's id (searchable; MLflow's `run_id` is the run holding the files) |
//! | `mlops.registry.manifest` | version | `{"chunks": n}`: the manifest is the concatenation of the next `n` tags |
//! | `mlops.registry.manifest.<i>` | version | part `i` of the manifest JSON: creator, files with SHA-256 and size, where they were uploaded, source run with its metrics snapshot, signature, drift profile digest, datasets |
//! | `mlops.registry.status` | version | a status set with `set_version_status` (MLflow's API cannot change it) |
//! | `mlops.registry.audit.<ms>.<txn>` | model | one audit entry (JSON), or `{"chunks": n}` when it is split |
//! | `mlops.registry.audit.<ms>.<txn>.<i>` | model | part `i` of a split audit entry |
//!
//! Parts are at most [`CHUNK_CHARS`] characters: registered-model tag values are
//! `VARCHAR(5000)` in MLflow's SQL schema (MySQL and PostgreSQL enforce it), and version tag
//! values are `TEXT` (64 KiB on MySQL). A split value's parts are written before the tag
//! that announces them, so a reader sees the whole value or none of it.

use mlops_core::{ArtifactPath, DatasetRef, RunId};
use serde::{Deserialize, Serialize};

use crate::error::{RegistryError, Result};
use crate::mlflow::wire::KeyValue;
use crate::records::audit::AuditV1;
use crate::records::version::{ArtifactV1, BlobV1, RunLinkV1, SignatureV1};
use crate::records::{self, FORMAT};
use crate::types::AuditEntry;

/// The prefix of every tag this backend keeps for itself; user tags under it are refused.
pub(crate) const RESERVED_PREFIX: &str = "mlops.registry.";
/// Who created a model.
pub(crate) const CREATOR: &str = "mlops.registry.creator";
/// The transaction id of the call that created a model or version.
pub(crate) const TXN: &str = "mlops.registry.txn";
/// The source run of a version (its manifest has it too; this tag is searchable).
pub(crate) const RUN: &str = "mlops.registry.run";
/// A version's manifest header.
pub(crate) const MANIFEST: &str = "mlops.registry.manifest";
/// A version's status override.
pub(crate) const STATUS: &str = "mlops.registry.status";
/// The prefix of audit entries.
pub(crate) const AUDIT_PREFIX: &str = "mlops.registry.audit.";
/// The longest tag value this backend writes, in characters.
pub(crate) const CHUNK_CHARS: usize = 4000;

/// What a version records beyond MLflow's fields: a private, versioned record (see
/// [`crate::records`]; its `format` is always written, 1 so far).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// The format of this record.
    pub(crate) format: u32,
    /// Who registered the version.
    pub(crate) creator: String,
    /// The run whose artifacts hold the uploaded copy.
    pub(crate) holder_run: RunId,
    /// The folder of the uploaded files in that run's artifacts.
    pub(crate) files_dir: ArtifactPath,
    /// The files, each with its digest.
    pub(crate) artifacts: Vec<ArtifactV1>,
    /// The run the version came from, with its metrics snapshot.
    #[serde(default)]
    pub(crate) run: Option<RunLinkV1>,
    /// The input and output schemas.
    #[serde(default)]
    pub(crate) signature: Option<SignatureV1>,
    /// The drift profile's digest and its path in the holder run's artifacts.
    #[serde(default)]
    pub(crate) drift_profile: Option<(BlobV1, ArtifactPath)>,
    /// The datasets.
    #[serde(default)]
    pub(crate) datasets: Vec<DatasetRef>,
}

/// The header of a value split over several tags.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Chunks {
    chunks: usize,
}

/// Splits `text` into parts of at most [`CHUNK_CHARS`] characters.
fn split(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(CHUNK_CHARS)
        .map(|c| c.iter().collect())
        .collect()
}

/// The tags that hold a version's manifest (parts first, header last).
pub(crate) fn manifest_tags(manifest: &Manifest) -> Result<Vec<KeyValue>> {
    let json = serde_json::to_string(manifest).map_err(|e| {
        RegistryError::InvalidArgument(format!("cannot encode the version manifest: {e}"))
    })?;
    let parts = split(&json);
    let mut tags: Vec<KeyValue> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| KeyValue::new(format!("{MANIFEST}.{i}"), part.clone()))
        .collect();
    tags.push(KeyValue::new(MANIFEST, chunks_header(parts.len())));
    Ok(tags)
}

fn chunks_header(n: usize) -> String {
    serde_json::json!({ "chunks": n }).to_string()
}

/// Reassembles a value announced by `header` from the parts `<key>.<i>` in `tags`; `None`
/// when a part is missing.
fn join(key: &str, header: &str, tags: &[KeyValue]) -> Option<String> {
    let Chunks { chunks } = serde_json::from_str(header).ok()?;
    let mut out = String::new();
    for i in 0..chunks {
        let part_key = format!("{key}.{i}");
        out.push_str(&tags.iter().find(|t| t.key == part_key)?.value);
    }
    Some(out)
}

/// A version's manifest, if it has one (`None` for versions this backend did not create).
pub(crate) fn read_manifest(tags: &[KeyValue], what: &str) -> Result<Option<Manifest>> {
    let Some(header) = tags.iter().find(|t| t.key == MANIFEST) else {
        return Ok(None);
    };
    let corrupt = |reason: String| RegistryError::Corrupt {
        path: format!("MLflow tags of {what}"),
        reason,
    };
    let json = join(MANIFEST, &header.value, tags)
        .ok_or_else(|| corrupt(format!("{MANIFEST} announces parts that are missing")))?;
    let manifest: Manifest =
        serde_json::from_str(&json).map_err(|e| corrupt(format!("unreadable manifest: {e}")))?;
    if manifest.format > FORMAT {
        return Err(RegistryError::NewerFormat {
            path: format!("MLflow tags of {what}"),
            format: manifest.format,
            supported: FORMAT,
        });
    }
    Ok(Some(manifest))
}

/// The JSON of one audit tag: a format 1 audit entry, with `format` written only from
/// format 2 on.
#[derive(Serialize, Deserialize)]
struct AuditTag {
    #[serde(
        default = "records::format_1",
        skip_serializing_if = "records::is_format_1"
    )]
    format: u32,
    #[serde(flatten)]
    entry: AuditV1,
}

/// Whether a tag key is this backend's own.
pub(crate) fn is_reserved(key: &str) -> bool {
    key.starts_with(RESERVED_PREFIX)
}

/// The tags that record one audit entry (parts first, the announcing tag last). The key
/// starts with the entry's time and transaction id, so keys sort in log order and never
/// collide.
pub(crate) fn audit_tags(entry: &AuditEntry) -> Result<Vec<KeyValue>> {
    let key = format!(
        "{AUDIT_PREFIX}{:013}.{}",
        entry.time.as_millis().max(0),
        entry.txn_id
    );
    let record = AuditTag {
        format: FORMAT,
        entry: AuditV1::from(entry),
    };
    let json = serde_json::to_string(&record).map_err(|e| {
        RegistryError::InvalidArgument(format!("cannot encode the audit entry: {e}"))
    })?;
    if json.chars().count() <= CHUNK_CHARS {
        return Ok(vec![KeyValue::new(key, json)]);
    }
    let parts = split(&json);
    let mut tags: Vec<KeyValue> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| KeyValue::new(format!("{key}.{i}"), part.clone()))
        .collect();
    tags.push(KeyValue::new(key, chunks_header(parts.len())));
    Ok(tags)
}

/// A model's audit log from its tags, oldest first, numbered from 1. Entries whose parts are
/// not all there yet (a writer is between its writes, or died there) are left out.
pub(crate) fn read_audit(tags: &[KeyValue], model: &str) -> Result<Vec<AuditEntry>> {
    let mut heads: Vec<&KeyValue> = tags
        .iter()
        .filter(|t| {
            t.key
                .strip_prefix(AUDIT_PREFIX)
                .is_some_and(|rest| rest.split('.').count() == 2)
        })
        .collect();
    heads.sort_by(|a, b| a.key.cmp(&b.key));
    let mut entries = Vec::with_capacity(heads.len());
    for head in heads {
        let json = if head.value.starts_with("{\"chunks\"") {
            match join(&head.key, &head.value, tags) {
                Some(json) => json,
                None => continue,
            }
        } else {
            head.value.clone()
        };
        let path = format!("MLflow tag {} of registered model {model}", head.key);
        records::check_format(json.as_bytes(), &path)?;
        let record: AuditTag = serde_json::from_str(&json).map_err(|e| RegistryError::Corrupt {
            path,
            reason: format!("unreadable audit entry: {e}"),
        })?;
        let mut entry = AuditEntry::from(&record.entry);
        entry.seq = entries.len() as u64 + 1;
        entries.push(entry);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use mlops_core::{ModelVersion, Timestamp};

    use super::*;
    use crate::types::{AliasChangeKind, AuditAction, Decision, Expect};

    fn entry(time: i64, txn: &str, reason: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            time: Timestamp::from_millis(time).unwrap(),
            actor: "ci".into(),
            txn_id: txn.into(),
            action: AuditAction::Decision(Decision {
                alias: "champion".parse().unwrap(),
                version: ModelVersion::FIRST,
                expected: Expect::Absent,
                current: None,
                promoted: false,
                kind: AliasChangeKind::Promote,
                reason: reason.into(),
                gates: vec![],
            }),
        }
    }

    #[test]
    fn audit_entries_round_trip_in_time_order_and_split_when_long() {
        let long = "x".repeat(3 * CHUNK_CHARS);
        let mut tags = Vec::new();
        let late = audit_tags(&entry(2_000, "b", &long)).unwrap();
        assert!(late.len() >= 4, "{}", late.len());
        assert!(late.iter().all(|t| t.value.chars().count() <= CHUNK_CHARS));
        tags.extend(late);
        tags.extend(audit_tags(&entry(1_000, "a", "short")).unwrap());
        tags.push(KeyValue::new("user", "tag"));
        let log = read_audit(&tags, "m").unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!((log[0].seq, log[0].txn_id.as_str()), (1, "a"));
        assert_eq!((log[1].seq, log[1].txn_id.as_str()), (2, "b"));
        let AuditAction::Decision(d) = &log[1].action else {
            panic!("{:?}", log[1].action)
        };
        assert_eq!(d.reason, long);
        // An entry whose announced parts are not all there is not visible yet.
        let missing = format!("{AUDIT_PREFIX}{:013}.b.1", 2_000);
        tags.retain(|t| t.key != missing);
        assert_eq!(read_audit(&tags, "m").unwrap().len(), 1);
    }

    #[test]
    fn manifests_round_trip_through_parts() {
        let manifest = Manifest {
            format: 1,
            creator: "ada".into(),
            holder_run: RunId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            files_dir: ArtifactPath::parse("mlops-registry/u/files").unwrap(),
            artifacts: (0..200)
                .map(|i| ArtifactV1 {
                    path: ArtifactPath::parse(format!("weights/part-{i}.bin")).unwrap(),
                    sha256: "ab".repeat(32),
                    size: i,
                })
                .collect(),
            run: None,
            signature: None,
            drift_profile: None,
            datasets: vec![],
        };
        let tags = manifest_tags(&manifest).unwrap();
        assert!(tags.len() > 2);
        assert!(tags.iter().all(|t| t.value.chars().count() <= CHUNK_CHARS));
        assert_eq!(read_manifest(&tags, "m v1").unwrap(), Some(manifest));
        assert_eq!(read_manifest(&[], "m v1").unwrap(), None);
        let broken: Vec<KeyValue> = tags
            .into_iter()
            .filter(|t| t.key != "mlops.registry.manifest.1")
            .collect();
        assert!(matches!(
            read_manifest(&broken, "m v1"),
            Err(RegistryError::Corrupt { .. })
        ));
    }
}
