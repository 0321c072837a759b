//! Store access with bounded retries. Reads and idempotent writes are retried on transient
//! errors; create-if-absent claims are never retried blindly (see `log.rs`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mlops_core::{Backoff, Bounded, Created, get_bounded, put_if_absent};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::{RegistryError, Result};

/// The largest log entry read: a version's entry (files, metrics snapshot, signature) is far
/// smaller.
pub(crate) const ENTRY_LIMIT: u64 = 32 << 20;

/// The largest snapshot read: a model's or the catalog's folded state.
pub(crate) const SNAPSHOT_LIMIT: u64 = 256 << 20;

/// How many times a read or an idempotent write is tried.
pub(crate) const ATTEMPTS: u32 = 8;

/// The pause before retry `n` (1-based) of a store call: 10 ms doubling, capped at 200 ms,
/// with equal jitter so that handles retrying against one busy store spread out.
pub(crate) const RETRY: Backoff =
    Backoff::exponential(Duration::from_millis(10), Duration::from_millis(200)).with_jitter();

/// Whether the store is out of space (a full disk under a local root): the write did not
/// happen, and trying again at once will not help.
pub(crate) fn is_out_of_space(e: &object_store::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::StorageFull
        {
            return true;
        }
        next = err.source();
    }
    false
}

/// Errors that say something definite about the object, never worth retrying.
fn is_definite(e: &object_store::Error) -> bool {
    is_out_of_space(e)
        || matches!(
            e,
            object_store::Error::NotFound { .. }
                | object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. }
                | object_store::Error::InvalidPath { .. }
                | object_store::Error::NotSupported { .. }
                | object_store::Error::NotImplemented { .. }
                | object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        )
}

pub(crate) fn storage(path: &Path, source: object_store::Error) -> RegistryError {
    RegistryError::Storage {
        path: path.to_string(),
        source,
    }
}

/// The outcome of a create-if-absent write.
#[derive(Debug)]
pub(crate) enum Claim {
    /// The write was acknowledged: the object is ours.
    Won,
    /// The store said something is there already (perhaps our own earlier attempt).
    Taken,
    /// Outcome unknown (transport error, timeout, 5xx): it may or may not have been applied.
    Unknown(object_store::Error),
}

/// A store and its retry policy.
#[derive(Clone, Debug)]
pub(crate) struct Io {
    pub(crate) store: Arc<dyn ObjectStore>,
}

impl Io {
    /// The bytes of an object of at most `limit` bytes (`what` names its kind in the error),
    /// or `None` if absent; transient errors are retried.
    pub(crate) async fn get_opt(
        &self,
        key: &Path,
        what: &'static str,
        limit: u64,
    ) -> Result<Option<Bytes>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match get_bounded(&*self.store, key, limit).await {
                Ok(Bounded::Bytes(bytes)) => return Ok(Some(bytes)),
                Ok(Bounded::Missing) => return Ok(None),
                Ok(Bounded::TooLarge { size, limit }) => {
                    return Err(RegistryError::TooLarge {
                        path: key.to_string(),
                        what,
                        size,
                        limit,
                    });
                }
                Err(e) if is_definite(&e) || attempt >= ATTEMPTS => return Err(storage(key, e)),
                Err(e) => {
                    tracing::debug!(key = %key, error = %e, attempt, "retrying a read");
                    tokio::time::sleep(RETRY.delay(attempt)).await;
                }
            }
        }
    }

    /// Writes (or replaces) an object; retried, since writing the same bytes twice is harmless.
    pub(crate) async fn put_idempotent(&self, key: &Path, bytes: Bytes) -> Result<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.store.put(key, PutPayload::from(bytes.clone())).await {
                Ok(_) => return Ok(()),
                Err(e) if is_definite(&e) || attempt >= ATTEMPTS => return Err(storage(key, e)),
                Err(e) => {
                    tracing::debug!(key = %key, error = %e, attempt, "retrying a write");
                    tokio::time::sleep(RETRY.delay(attempt)).await;
                }
            }
        }
    }

    /// One create-if-absent write, not retried: the caller resolves `Unknown`.
    pub(crate) async fn claim(&self, key: &Path, bytes: Bytes) -> Claim {
        match put_if_absent(&*self.store, key, bytes).await {
            Ok(Created::Won) => Claim::Won,
            Ok(Created::Taken) => Claim::Taken,
            Err(e) => Claim::Unknown(e),
        }
    }

    /// The keys under `prefix`, sorted; empty when there are none.
    pub(crate) async fn list_keys(&self, prefix: &Path) -> Result<Vec<Path>> {
        self.list_keys_after(prefix, None).await
    }

    /// The keys under `prefix` that sort after `offset` (all of them when `None`), sorted.
    /// S3 and Azure skip the keys up to `offset` on the server (`start-after`,
    /// `startFrom`), so the cost follows what lies after it, not the folder's size.
    pub(crate) async fn list_keys_after(
        &self,
        prefix: &Path,
        offset: Option<&Path>,
    ) -> Result<Vec<Path>> {
        use futures::TryStreamExt;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let stream = match offset {
                Some(offset) => self.store.list_with_offset(Some(prefix), offset),
                None => self.store.list(Some(prefix)),
            };
            let listed: object_store::Result<Vec<object_store::ObjectMeta>> =
                stream.try_collect().await;
            match listed {
                Ok(items) => {
                    let mut keys: Vec<Path> = items.into_iter().map(|m| m.location).collect();
                    keys.sort();
                    return Ok(keys);
                }
                Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
                Err(e) if is_definite(&e) || attempt >= ATTEMPTS => return Err(storage(prefix, e)),
                Err(_) => tokio::time::sleep(RETRY.delay(attempt)).await,
            }
        }
    }
}
