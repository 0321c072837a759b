//! DVC interop: a version whose files stay in a DVC remote, addressed by MD5, read and
//! checked on every `get`.
//!
//! A `.dvc` file lists outputs (`outs:`), each with an `md5` and a `path`. A file output's
//! `md5` is the file's; a folder output's ends in `.dir` and names a JSON object in the
//! remote listing the folder's files (`[{"md5": …, "relpath": …}, …]`). The remote keeps an
//! object under `files/md5/XX/REST` (DVC 3, outputs marked `hash: md5`) or `XX/REST` (DVC 2).

use std::path::Path as LocalPath;

use bytes::Bytes;
use chrono::Utc;
use md5::{Digest, Md5};
use mlops_core::{ArtifactPath, StoreRoot, StoreUri};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::Deserialize;

use crate::datasets::{AddOptions, Added, Datasets};
use crate::error::{DataError, Result};
use crate::manifest::{FileEntry, Location, Manifest, StoredObject};
use crate::names::DatasetName;
use crate::objects;
use crate::record::is_hex;
use crate::scan;

/// The largest `.dvc` file or `.dir` listing read.
const MAX_LISTING_BYTES: u64 = 64 << 20;

/// One output of a `.dvc` file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DvcOut {
    /// The output's path, relative to the `.dvc` file.
    pub path: String,
    /// Its MD5, with `.dir` for a folder.
    pub md5: String,
    /// Whether it was hashed by DVC 3 (`hash: md5`): objects under `files/md5/`.
    pub dvc3: bool,
}

/// The outputs of a `.dvc` file's text (the subset of YAML DVC writes: an `outs:` list of
/// `key: value` maps).
///
/// ```
/// let text = "outs:\n- md5: 0123456789abcdef0123456789abcdef.dir\n  size: 10\n  nfiles: 2\n  hash: md5\n  path: data\n";
/// let outs = mlops_data::dvc::parse_dvc_file(text)?;
/// assert_eq!(outs[0].path, "data");
/// assert!(outs[0].dvc3 && outs[0].md5.ends_with(".dir"));
/// # Ok::<(), mlops_data::DataError>(())
/// ```
///
/// # Errors
///
/// [`DataError::Argument`] when there is no output, an output lacks `md5` or `path`, or a
/// value is malformed.
pub fn parse_dvc_file(text: &str) -> Result<Vec<DvcOut>> {
    let bad = |reason: String| {
        DataError::argument(
            ".dvc file",
            text.chars().take(200).collect::<String>(),
            reason,
        )
    };
    let mut outs: Vec<DvcOut> = Vec::new();
    let mut in_outs = false;
    let mut item_indent: Option<usize> = None;
    for line in text.lines() {
        let trimmed = line.trim_end();
        if trimmed.trim_start().is_empty() || trimmed.trim_start().starts_with('#') {
            continue;
        }
        let indent = trimmed.len() - trimmed.trim_start().len();
        if indent == 0 && !trimmed.starts_with('-') {
            in_outs = trimmed == "outs:";
            item_indent = None;
            continue;
        }
        if !in_outs {
            continue;
        }
        let mut body = &trimmed[indent..];
        let mut key_indent = indent;
        if let Some(rest) = body.strip_prefix("- ") {
            outs.push(DvcOut::default());
            body = rest;
            key_indent = indent + 2;
            item_indent = Some(key_indent);
        }
        // Keys of nested maps (deeper than the item's) are not ours.
        if item_indent != Some(key_indent) {
            continue;
        }
        let Some(out) = outs.last_mut() else { continue };
        let Some((key, value)) = body.split_once(':') else {
            continue;
        };
        let value = unquote(value.trim());
        match key.trim() {
            "md5" => out.md5 = value.to_owned(),
            "path" => out.path = value.to_owned(),
            "hash" => out.dvc3 = value == "md5",
            _ => {}
        }
    }
    if outs.is_empty() {
        return Err(bad("no `outs:` entry".into()));
    }
    for out in &outs {
        let hex = out.md5.strip_suffix(".dir").unwrap_or(&out.md5);
        if !is_hex(hex, 32) {
            return Err(bad(format!(
                "output {:?} has no valid md5 ({:?})",
                out.path, out.md5
            )));
        }
        scan::check_relative(&out.path).map_err(bad)?;
    }
    Ok(outs)
}

fn unquote(v: &str) -> &str {
    v.strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .or_else(|| v.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
        .unwrap_or(v)
}

/// The key of an object with `md5` (hex, with `.dir` for listings) in a remote.
pub fn object_key(md5: &str, dvc3: bool) -> String {
    let (fan, rest) = md5.split_at(2.min(md5.len()));
    if dvc3 {
        format!("files/md5/{fan}/{rest}")
    } else {
        format!("{fan}/{rest}")
    }
}

/// Opens a remote's store URI (credentials from the environment, as any store).
pub(crate) fn open_remote(remote: &str) -> Result<StoreRoot> {
    Ok(StoreUri::parse(remote)?.open()?)
}

/// A remote-relative key, validated, under the remote's root.
pub(crate) fn remote_key(root: &StoreRoot, key: &str) -> Result<Path> {
    Ok(root.key(&ArtifactPath::parse(key)?))
}

#[derive(Deserialize)]
struct DirEntry {
    md5: String,
    relpath: String,
}

impl Datasets {
    /// Registers a version of `name` whose files stay in the DVC remote `remote` (a store
    /// URI; a local path is made absolute), from the `.dvc` file at `dvc_file`. Every file is
    /// read once (MD5-checked) to compute the digest, schema, row count and profile; only
    /// the profile is written to this store. Only `*.parquet` files of folder outputs are
    /// taken (others are skipped with a warning).
    ///
    /// # Errors
    ///
    /// As [`parse_dvc_file`]; [`DataError::DigestMismatch`] when the remote's bytes do not
    /// have their MD5; store and Parquet errors.
    pub async fn import_dvc(
        &self,
        name: &DatasetName,
        dvc_file: &LocalPath,
        remote: &str,
        options: AddOptions,
    ) -> Result<Added> {
        let text = mlops_core::read_local_file(dvc_file, MAX_LISTING_BYTES)?;
        let text =
            String::from_utf8(text).map_err(|e| DataError::corrupt(&dvc_file.display(), &e))?;
        let outs = parse_dvc_file(&text)?;
        let remote = if remote.contains("://") {
            remote.to_owned()
        } else {
            std::path::absolute(remote)
                .map_err(|e| DataError::io(remote, e))?
                .display()
                .to_string()
        };
        let root = open_remote(&remote)?;
        let label = format!("{name} (DVC import)");
        // Every file's (path, key, md5), folders expanded through their listings.
        let mut files: Vec<(String, String, String)> = Vec::new();
        for out in &outs {
            match out.md5.strip_suffix(".dir") {
                None => files.push((
                    out.path.clone(),
                    object_key(&out.md5, out.dvc3),
                    out.md5.clone(),
                )),
                Some(hex) => {
                    let key = remote_key(&root, &object_key(&out.md5, out.dvc3))?;
                    let listing = read_md5(&root, &key, hex, &label, &out.path).await?;
                    let entries: Vec<DirEntry> = serde_json::from_slice(&listing)
                        .map_err(|e| DataError::corrupt(&key, &e))?;
                    for e in entries {
                        if !is_hex(&e.md5, 32) {
                            return Err(DataError::corrupt(&key, &format!("bad md5 {:?}", e.md5)));
                        }
                        if !e.relpath.ends_with(".parquet") {
                            tracing::warn!(path = %e.relpath, "skipped: not a Parquet file");
                            continue;
                        }
                        let path = format!("{}/{}", out.path, e.relpath);
                        scan::check_relative(&path).map_err(|r| DataError::corrupt(&key, &r))?;
                        files.push((path, object_key(&e.md5, out.dvc3), e.md5));
                    }
                }
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(DataError::argument(
                ".dvc file",
                dvc_file.display().to_string(),
                "no Parquet file",
            ));
        }
        // Read every file once, checked, into a scratch folder to summarise its rows.
        let scratch = tempfile::tempdir().map_err(|e| DataError::io(std::env::temp_dir(), e))?;
        let mut entries = Vec::with_capacity(files.len());
        let mut locals = Vec::with_capacity(files.len());
        for (path, key, md5) in files {
            let local = scratch.path().join(&path);
            let object = remote_key(&root, &key)?;
            let size = objects::download_verified(
                root.store().as_ref(),
                &object,
                &local,
                objects::Check::Md5(&md5),
                &label,
                &path,
            )
            .await?;
            locals.push(local);
            entries.push(FileEntry {
                path,
                size,
                location: Location::Dvc {
                    remote: remote.clone(),
                    key,
                    md5,
                },
            });
        }
        let content_id = crate::datasets::content_id(&entries);
        if let Some(manifest) = self.by_content(name, &content_id).await? {
            return Ok(Added {
                manifest,
                created: false,
                bytes_written: 0,
            });
        }
        if let Some(manifest) = self.claim(name, &content_id).await? {
            return Ok(Added {
                manifest,
                created: false,
                bytes_written: 0,
            });
        }
        // A failed add releases its claim, so that a retry need not wait for it to go stale.
        let claimed = content_id.clone();
        let outcome: Result<Added> = async {
            let summary = tokio::task::spawn_blocking(move || scan::summarise(&locals))
                .await
                .map_err(|e| DataError::argument("import", "", e.to_string()))??;
            let profile = match &summary.profile {
                Some(p) => {
                    let json = p.to_json()?;
                    let size = json.len() as u64;
                    let sha256 =
                        objects::put_bytes(self.store.as_ref(), &self.keys, Bytes::from(json))
                            .await?;
                    Some(StoredObject { sha256, size })
                }
                None => None,
            };
            let manifest = Manifest {
                name: name.clone(),
                version: 0,
                created: Utc::now(),
                description: options.description,
                tags: options.tags,
                content_id,
                digest: summary.digest,
                rows: summary.rows,
                schema: summary.schema,
                files: entries,
                profile,
            };
            let manifest = self.create_version(manifest).await?;
            Ok(Added {
                manifest,
                created: true,
                bytes_written: 0,
            })
        }
        .await;
        if outcome.is_err() {
            self.release_claim(name, &claimed).await;
        }
        outcome
    }
}

/// Reads a small remote object whole and checks its MD5.
async fn read_md5(
    root: &StoreRoot,
    key: &Path,
    md5: &str,
    label: &str,
    path: &str,
) -> Result<Bytes> {
    let got = root
        .store()
        .get(key)
        .await
        .map_err(|e| DataError::storage(&key, e))?;
    if got.meta.size > MAX_LISTING_BYTES {
        return Err(DataError::corrupt(&key, &"listing over 64 MiB"));
    }
    let bytes = got.bytes().await.map_err(|e| DataError::storage(&key, e))?;
    let actual = objects::hex(&Md5::digest(&bytes));
    if actual != md5 {
        return Err(DataError::DigestMismatch {
            dataset: label.to_owned(),
            path: path.to_owned(),
            algorithm: "md5",
            expected: md5.to_owned(),
            actual,
        });
    }
    Ok(bytes)
}
