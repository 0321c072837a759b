//! [`Datasets`]: versioned datasets under a store root's `datasets/` folder.

use std::collections::BTreeMap;
use std::path::{Path as LocalPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use mlops_core::{Created, DatasetDigest, StoreRoot, put_if_absent};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};
use crate::keys::{Keys, parse_slot};
use crate::manifest::{FileEntry, Location, Manifest, StoredObject};
use crate::names::{DatasetName, DatasetSpec, Selector};
use crate::objects;
use crate::record::VersionRecord;
use crate::scan;

/// The folder of a store root that holds datasets.
pub const DATASETS_DIR: &str = "datasets";
/// The largest manifest or alias record read.
const MAX_RECORD_BYTES: u64 = 64 << 20;
/// The largest stored profile read.
pub(crate) const MAX_PROFILE_BYTES: u64 = 512 << 20;
/// Files hashed or uploaded at once.
const PARALLEL_FILES: usize = 4;
/// How long an `add` waits for another writer adding the same content.
const CLAIM_WAIT: Duration = Duration::from_secs(30);
/// A claim older than this without a version is taken to be a crashed writer's.
const STALE_CLAIM: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// Create-if-absent attempts before giving up on a contended version or alias slot.
const MAX_SLOT_ATTEMPTS: u32 = 1000;

/// What to record with a new version.
#[derive(Clone, Debug, Default)]
pub struct AddOptions {
    /// Free text.
    pub description: Option<String>,
    /// Tags (`key=value`).
    pub tags: BTreeMap<String, String>,
}

/// What [`Datasets::add`] did.
#[derive(Clone, Debug, Serialize)]
pub struct Added {
    /// The version holding the content (new, or the existing one with the same content).
    pub manifest: Manifest,
    /// Whether this call created it.
    pub created: bool,
    /// Bytes of file contents written to the store by this call (0 when all were there).
    pub bytes_written: u64,
}

/// One dataset in a listing.
#[derive(Clone, Debug, Serialize)]
pub struct DatasetSummary {
    /// Its name.
    pub name: DatasetName,
    /// How many versions it has.
    pub versions: u64,
    /// Its highest version.
    pub latest: Option<Manifest>,
}

/// Versioned datasets on one store root (see the crate docs for the layout and protocol).
#[derive(Clone, Debug)]
pub struct Datasets {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) keys: Keys,
}

impl Datasets {
    /// The datasets of the store root `root` (kept in its `datasets/` folder).
    pub fn new(root: &StoreRoot) -> Self {
        let base = Path::from_iter(root.prefix().parts().chain([DATASETS_DIR.into()]));
        Self {
            store: Arc::clone(root.store()),
            keys: Keys::new(base),
        }
    }

    /// Snapshots the Parquet files `inputs` (files, or folders whose `*.parquet` files are
    /// taken) as a new version of `name`, unless a version with the same content exists:
    /// then that version is returned and nothing is written.
    ///
    /// # Errors
    ///
    /// [`DataError::Argument`] for bad inputs, [`DataError::Parquet`] for a file that is not
    /// Parquet or whose schema differs from the first file's, [`DataError::Busy`] when another
    /// writer is adding the same content and did not finish in time, and store errors.
    pub async fn add(
        &self,
        name: &DatasetName,
        inputs: &[PathBuf],
        options: AddOptions,
    ) -> Result<Added> {
        let owned = inputs.to_vec();
        let files = tokio::task::spawn_blocking(move || scan::collect(&owned))
            .await
            .map_err(|e| DataError::argument("input", "", e.to_string()))??;
        // Owned items: a stream of futures borrowing through closure arguments would make
        // this future not `Send` for every lifetime (rust#100013).
        let locals: Vec<PathBuf> = files.iter().map(|f| f.local.clone()).collect();
        let hashed: Vec<(String, u64)> = futures::stream::iter(locals.clone())
            .map(|local| async move { objects::hash_file(&local).await })
            .buffered(PARALLEL_FILES)
            .try_collect()
            .await?;
        let entries: Vec<FileEntry> = files
            .iter()
            .zip(&hashed)
            .map(|(f, (sha256, size))| FileEntry {
                path: f.path.clone(),
                size: *size,
                location: Location::Stored {
                    sha256: sha256.clone(),
                },
            })
            .collect();
        let content_id = content_id(&entries);
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
            // Read the rows before writing anything: a file that is not Parquet stores nothing.
            let scanned = locals.clone();
            let summary = tokio::task::spawn_blocking(move || scan::summarise(&scanned))
                .await
                .map_err(|e| DataError::argument("input", "", e.to_string()))??;
            let uploads: Vec<(PathBuf, String, u64)> = locals
                .into_iter()
                .zip(hashed.iter().cloned())
                .map(|(local, (sha256, size))| (local, sha256, size))
                .collect();
            let written: Vec<u64> = futures::stream::iter(uploads)
                .map(|(local, sha256, size)| {
                    let store = Arc::clone(&self.store);
                    let key = self.keys.object(&sha256);
                    async move {
                        if objects::exists(store.as_ref(), &key, size).await? {
                            Ok(0)
                        } else {
                            objects::upload_file(&store, &key, &local, &sha256).await
                        }
                    }
                })
                .buffered(PARALLEL_FILES)
                .try_collect()
                .await?;
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
                bytes_written: written.iter().sum(),
            })
        }
        .await;
        if outcome.is_err() {
            self.release_claim(name, &claimed).await;
        }
        outcome
    }

    /// Writes `manifest` as the next free version number (create-if-absent, so concurrent
    /// writers get distinct numbers and none is overwritten), then records that its content
    /// is taken.
    pub(crate) async fn create_version(&self, mut manifest: Manifest) -> Result<Manifest> {
        let name = manifest.name.clone();
        let mut next = self.highest(&name).await?.map_or(1, |v| v + 1);
        for _ in 0..MAX_SLOT_ATTEMPTS {
            manifest.version = next;
            let key = self.keys.version(&name, next);
            let bytes = VersionRecord::from_manifest(&manifest).to_bytes()?;
            match put_if_absent(self.store.as_ref(), &key, bytes)
                .await
                .map_err(|e| DataError::storage(&key, e))?
            {
                Created::Won => {
                    let marker = self.keys.content_version(&name, &manifest.content_id);
                    self.store
                        .put(&marker, next.to_string().into())
                        .await
                        .map_err(|e| DataError::storage(&marker, e))?;
                    tracing::info!(dataset = %manifest.label(), rows = manifest.rows, "version created");
                    return Ok(manifest);
                }
                Created::Taken => next += 1,
            }
        }
        Err(DataError::Busy {
            what: "dataset",
            name: name.to_string(),
            reason: "too many concurrent writers took the next version numbers".into(),
        })
    }

    /// The version holding `content_id`, if one was recorded.
    pub(crate) async fn by_content(
        &self,
        name: &DatasetName,
        content_id: &str,
    ) -> Result<Option<Manifest>> {
        let marker = self.keys.content_version(name, content_id);
        let Some(bytes) = self.get_opt(&marker).await? else {
            return Ok(None);
        };
        let version = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .ok_or_else(|| DataError::corrupt(&marker, &"not a version number"))?;
        self.version(name, version).await.map(Some)
    }

    /// Claims `content_id` for this writer (create-if-absent). When another writer holds
    /// the claim, waits for its version and returns it; a claim older than
    /// [`STALE_CLAIM`] with no version is a crashed writer's and is taken over.
    pub(crate) async fn claim(
        &self,
        name: &DatasetName,
        content_id: &str,
    ) -> Result<Option<Manifest>> {
        let key = self.keys.content_claim(name, content_id);
        let deadline = tokio::time::Instant::now() + CLAIM_WAIT;
        let mut pause = Duration::from_millis(50);
        loop {
            let body = Utc::now().to_rfc3339();
            match put_if_absent(self.store.as_ref(), &key, body)
                .await
                .map_err(|e| DataError::storage(&key, e))?
            {
                Created::Won => return Ok(None),
                Created::Taken => {}
            }
            if let Some(m) = self.by_content(name, content_id).await? {
                return Ok(Some(m));
            }
            let meta = match self.store.head(&key).await {
                Ok(meta) => meta,
                // Its writer failed and released it: claim it again.
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(DataError::storage(&key, e)),
            };
            if Utc::now() - meta.last_modified > STALE_CLAIM {
                tracing::warn!(dataset = %name, content_id, "taking over a stale claim");
                return Ok(None);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(DataError::Busy {
                    what: "dataset",
                    name: name.to_string(),
                    reason: format!(
                        "another writer is adding the same content (claimed at {}); retry later",
                        meta.last_modified
                    ),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// Deletes this writer's claim of `content_id` after a failed add (best effort: a claim
    /// left behind only makes a retry wait until it is stale).
    pub(crate) async fn release_claim(&self, name: &DatasetName, content_id: &str) {
        let key = self.keys.content_claim(name, content_id);
        if let Err(e) = self.store.delete(&key).await {
            tracing::warn!(key = %key, error = %e, "could not release a content claim");
        }
    }

    /// The names of all datasets, sorted.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub async fn names(&self) -> Result<Vec<DatasetName>> {
        let sets = self.keys.sets();
        let listed = self
            .store
            .list_with_delimiter(Some(&sets))
            .await
            .map_err(|e| DataError::storage(&sets, e))?;
        let mut names: Vec<DatasetName> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().and_then(|n| DatasetName::parse(n).ok()))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Every dataset with its version count and highest version.
    ///
    /// # Errors
    ///
    /// Store errors and corrupt manifests.
    pub async fn list(&self) -> Result<Vec<DatasetSummary>> {
        let mut out = Vec::new();
        for name in self.names().await? {
            let numbers = self.version_numbers(&name).await?;
            let latest = match numbers.last() {
                Some(v) => Some(self.version(&name, *v).await?),
                None => None,
            };
            out.push(DatasetSummary {
                name,
                versions: numbers.len() as u64,
                latest,
            });
        }
        Ok(out)
    }

    /// The version numbers of `name`, ascending.
    pub(crate) async fn version_numbers(&self, name: &DatasetName) -> Result<Vec<u64>> {
        let dir = self.keys.versions(name);
        let metas: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(|e| DataError::storage(&dir, e))?;
        let mut numbers: Vec<u64> = metas
            .iter()
            .filter_map(|m| parse_slot(&m.location))
            .collect();
        numbers.sort_unstable();
        Ok(numbers)
    }

    async fn highest(&self, name: &DatasetName) -> Result<Option<u64>> {
        Ok(self.version_numbers(name).await?.last().copied())
    }

    /// Every version of `name`, oldest first.
    ///
    /// # Errors
    ///
    /// [`DataError::NotFound`] when the dataset has no version; store errors.
    pub async fn versions(&self, name: &DatasetName) -> Result<Vec<Manifest>> {
        let numbers = self.version_numbers(name).await?;
        if numbers.is_empty() {
            return Err(DataError::NotFound {
                what: "dataset",
                name: name.to_string(),
            });
        }
        futures::stream::iter(numbers)
            .map(|v| self.version(name, v))
            .buffered(8)
            .try_collect()
            .await
    }

    /// Version `version` of `name`.
    ///
    /// # Errors
    ///
    /// [`DataError::NotFound`] when there is no such version; [`DataError::Corrupt`] when
    /// its manifest does not decode or names another version.
    pub async fn version(&self, name: &DatasetName, version: u64) -> Result<Manifest> {
        let key = self.keys.version(name, version);
        let bytes = self
            .get_opt(&key)
            .await?
            .ok_or_else(|| DataError::NotFound {
                what: "dataset version",
                name: format!("{name}@{version}"),
            })?;
        VersionRecord::decode(key.as_ref(), &bytes, name, version)
    }

    /// The version `spec` means now (a number, an alias's current version, or the highest).
    ///
    /// # Errors
    ///
    /// [`DataError::NotFound`] for a missing dataset, version or alias.
    pub async fn resolve(&self, spec: &DatasetSpec) -> Result<Manifest> {
        let version = match &spec.selector {
            Selector::Version(v) => *v,
            Selector::Latest => {
                self.highest(&spec.name)
                    .await?
                    .ok_or_else(|| DataError::NotFound {
                        what: "dataset",
                        name: spec.name.to_string(),
                    })?
            }
            Selector::Alias(alias) => {
                self.alias(&spec.name, alias)
                    .await?
                    .ok_or_else(|| DataError::NotFound {
                        what: "dataset alias",
                        name: spec.to_string(),
                    })?
                    .version
            }
        };
        self.version(&spec.name, version).await
    }

    /// Every version, of any dataset, whose rows have `digest`.
    ///
    /// # Errors
    ///
    /// Store errors and corrupt manifests.
    pub async fn find_digest(&self, digest: DatasetDigest) -> Result<Vec<Manifest>> {
        let mut out = Vec::new();
        for name in self.names().await? {
            for m in self.versions(&name).await.unwrap_or_default() {
                if m.digest == digest {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    /// Writes the files of `manifest` under the local folder `out` (created if missing),
    /// each checked against its recorded digest while it streams: a tampered or replaced
    /// object is refused, and no file with wrong bytes is left at its place. Returns the
    /// bytes written.
    ///
    /// # Errors
    ///
    /// [`DataError::DigestMismatch`] for altered bytes, store and I/O errors.
    pub async fn get(&self, manifest: &Manifest, out: &LocalPath) -> Result<u64> {
        let label = manifest.label();
        let written: Vec<u64> = futures::stream::iter(manifest.files.clone())
            .map(|file| {
                let label = label.clone();
                let this = self.clone();
                let out = out.to_path_buf();
                async move {
                    let file = &file;
                    let this = &this;
                    let target = out.join(&file.path);
                    match &file.location {
                        Location::Stored { sha256 } => {
                            let key = this.keys.object(sha256);
                            objects::download_verified(
                                this.store.as_ref(),
                                &key,
                                &target,
                                objects::Check::Sha256(sha256),
                                &label,
                                &file.path,
                            )
                            .await
                        }
                        Location::Dvc { remote, key, md5 } => {
                            let root = crate::dvc::open_remote(remote)?;
                            let key = crate::dvc::remote_key(&root, key)?;
                            objects::download_verified(
                                root.store().as_ref(),
                                &key,
                                &target,
                                objects::Check::Md5(md5),
                                &label,
                                &file.path,
                            )
                            .await
                        }
                    }
                }
            })
            .buffered(PARALLEL_FILES)
            .try_collect()
            .await?;
        Ok(written.iter().sum())
    }

    /// The stored reference profile of `manifest`, digest-checked.
    ///
    /// # Errors
    ///
    /// [`DataError::Corrupt`] when the profile's bytes were altered or do not decode.
    pub async fn profile(
        &self,
        manifest: &Manifest,
    ) -> Result<Option<mlops_drift::ReferenceProfile>> {
        let Some(profile) = &manifest.profile else {
            return Ok(None);
        };
        let key = self.keys.object(&profile.sha256);
        let bytes = objects::read_verified(
            self.store.as_ref(),
            &key,
            &profile.sha256,
            MAX_PROFILE_BYTES,
        )
        .await?;
        let text = std::str::from_utf8(&bytes).map_err(|e| DataError::corrupt(&key, &e))?;
        mlops_drift::ReferenceProfile::from_json(text)
            .map(Some)
            .map_err(|e| DataError::corrupt(&key, &e))
    }

    pub(crate) async fn get_opt(&self, key: &Path) -> Result<Option<Bytes>> {
        match self.store.get(key).await {
            Ok(got) => {
                if got.meta.size > MAX_RECORD_BYTES {
                    return Err(DataError::corrupt(&key, &"record over 64 MiB"));
                }
                got.bytes()
                    .await
                    .map(Some)
                    .map_err(|e| DataError::storage(&key, e))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(DataError::storage(&key, e)),
        }
    }
}

/// SHA-256 over the sorted `(path, digest, size)` list: the identity of a version's content.
pub(crate) fn content_id(files: &[FileEntry]) -> String {
    let mut sorted: Vec<&FileEntry> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hasher = Sha256::new();
    for f in sorted {
        hasher.update(f.path.as_bytes());
        hasher.update([0]);
        hasher.update(f.digest_text().as_bytes());
        hasher.update([0]);
        hasher.update(f.size.to_le_bytes());
    }
    objects::hex(&hasher.finalize())
}
