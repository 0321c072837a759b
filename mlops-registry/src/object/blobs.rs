//! Content-addressed files: a version's artifacts and drift profile are stored once per
//! model under `blobs/<sha256>` (uploading the same bytes twice is harmless), and every read
//! is hashed again and compared with the digest the version recorded.

use bytes::Bytes;
use object_store::path::Path;

use super::ObjectRegistry;
use crate::checks::sha256_hex;
use crate::error::{RegistryError, Result};
use crate::types::{BlobInfo, VersionInfo};

impl ObjectRegistry {
    fn blob_key(&self, id: &str, sha256: &str) -> Path {
        self.model_dir(id).join("blobs").join(sha256)
    }

    /// Uploads bytes under their digest (idempotent: the same bytes, the same key).
    pub(super) async fn put_blob(&self, id: &str, bytes: Bytes) -> Result<BlobInfo> {
        let sha256 = sha256_hex(&bytes);
        let size = bytes.len() as u64;
        self.inner
            .io
            .put_idempotent(&self.blob_key(id, &sha256), bytes)
            .await?;
        Ok(BlobInfo { sha256, size })
    }

    /// Reads a blob of version `info` (`what` names it in errors) of `size` bytes and checks
    /// its digest.
    pub(super) async fn get_blob(
        &self,
        id: &str,
        info: &VersionInfo,
        what: &str,
        expected: &str,
        size: u64,
    ) -> Result<Bytes> {
        let key = self.blob_key(id, expected);
        // The version records the size: a longer object is refused before it is held.
        let bytes = self
            .inner
            .io
            .get_opt(&key, "a blob", size)
            .await?
            .ok_or_else(|| RegistryError::Corrupt {
                path: key.to_string(),
                reason: format!("the bytes of {what} are missing"),
            })?;
        let actual = sha256_hex(&bytes);
        if actual != expected {
            return Err(RegistryError::DigestMismatch {
                model: info.model.to_string(),
                version: info.version,
                path: what.to_owned(),
                expected: expected.to_owned(),
                actual,
            });
        }
        Ok(bytes)
    }
}
