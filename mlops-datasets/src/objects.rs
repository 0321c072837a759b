//! The content-addressed object store shared by all datasets: a file's bytes are stored once
//! under their SHA-256, whoever adds them, and every read is hashed again.

use std::io::Read;
use std::path::Path as LocalPath;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::{DataError, Result};

/// Bytes per part when uploading: object_store's default part size, and the read buffer.
const CHUNK: usize = 8 << 20;
/// Parts uploaded at once: bounds memory to a few chunks per file.
const PARTS_IN_FLIGHT: usize = 4;

/// The SHA-256 (hex) and size of a local file, streamed.
pub(crate) async fn hash_file(path: &LocalPath) -> Result<(String, u64)> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut file = mlops_core::open_local_file(&owned)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(|e| DataError::io(&owned, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        Ok((hex(&hasher.finalize()), size))
    })
    .await
    .map_err(|e| DataError::corrupt(&path.display(), &format!("hashing task failed: {e}")))?
}

/// Whether an object of `size` bytes is at `key` (a partial object cannot be: uploads are
/// atomic, so a size mismatch means someone wrote other bytes there; it is replaced).
pub(crate) async fn exists(store: &dyn ObjectStore, key: &Path, size: u64) -> Result<bool> {
    match store.head(key).await {
        Ok(meta) => Ok(meta.size == size),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(DataError::storage(&key, e)),
    }
}

/// Uploads the local file at `path` to `key` in parts (atomic: the object appears complete
/// or not at all), checking that the bytes sent still hash to `sha256`, the file's digest
/// when it was scanned (a file changed meanwhile is an error, never a wrong object).
/// Returns the bytes written.
pub(crate) async fn upload_file(
    store: &Arc<dyn ObjectStore>,
    key: &Path,
    path: &LocalPath,
    sha256: &str,
) -> Result<u64> {
    let upload = store
        .put_multipart(key)
        .await
        .map_err(|e| DataError::storage(&key, e))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, CHUNK);
    let mut file = tokio::fs::File::from_std(mlops_core::open_local_file(path)?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    let outcome: Result<()> = async {
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf)
                .await
                .map_err(|e| DataError::io(path, e))?;
            if n == 0 {
                return Ok(());
            }
            hasher.update(&buf[..n]);
            size += n as u64;
            writer
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(|e| DataError::storage(&key, e))?;
            writer.write(&buf[..n]);
        }
    }
    .await;
    let actual = hex(&hasher.finalize());
    match outcome {
        Ok(()) if actual == sha256 => {
            writer
                .finish()
                .await
                .map_err(|e| DataError::storage(&key, e))?;
            Ok(size)
        }
        Ok(()) => {
            let _ = writer.abort().await;
            Err(DataError::corrupt(
                &path.display(),
                &"the file changed while it was being added",
            ))
        }
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}

/// Uploads `bytes` under their own SHA-256 unless there; returns the digest.
pub(crate) async fn put_bytes(
    store: &dyn ObjectStore,
    keys: &crate::keys::Keys,
    bytes: Bytes,
) -> Result<String> {
    let sha256 = hex(&Sha256::digest(&bytes));
    let key = keys.object(&sha256);
    if !exists(store, &key, bytes.len() as u64).await? {
        store
            .put(&key, bytes.into())
            .await
            .map_err(|e| DataError::storage(&key, e))?;
    }
    Ok(sha256)
}

/// Reads a whole object of at most `limit` bytes and checks its SHA-256.
pub(crate) async fn read_verified(
    store: &dyn ObjectStore,
    key: &Path,
    sha256: &str,
    limit: u64,
) -> Result<Bytes> {
    let got = store
        .get(key)
        .await
        .map_err(|e| DataError::storage(&key, e))?;
    if got.meta.size > limit {
        return Err(DataError::corrupt(
            &key,
            &format!("{} bytes, over the limit of {limit}", got.meta.size),
        ));
    }
    let bytes = got.bytes().await.map_err(|e| DataError::storage(&key, e))?;
    let actual = hex(&Sha256::digest(&bytes));
    if actual != sha256 {
        return Err(DataError::corrupt(
            &key,
            &format!("expected sha256 {sha256}, read {actual}"),
        ));
    }
    Ok(bytes)
}

/// The digest a download is checked against.
pub(crate) enum Check<'a> {
    Sha256(&'a str),
    Md5(&'a str),
}

/// Streams the object at `key` into the local file `out` (through a temporary file in the
/// same folder, renamed only once the digest matches). On a mismatch nothing is left at
/// `out` and the error says what was read.
pub(crate) async fn download_verified(
    store: &dyn ObjectStore,
    key: &Path,
    out: &LocalPath,
    check: Check<'_>,
    label: &str,
    file: &str,
) -> Result<u64> {
    let folder = out.parent().ok_or_else(|| {
        DataError::argument("output path", out.display().to_string(), "has no folder")
    })?;
    tokio::fs::create_dir_all(folder)
        .await
        .map_err(|e| DataError::io(folder, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".mlops-data-")
        .tempfile_in(folder)
        .map_err(|e| DataError::io(folder, e))?;
    let (std_file, tmp_path) = tmp.into_parts();
    let mut writer = tokio::fs::File::from_std(std_file);
    let got = store
        .get(key)
        .await
        .map_err(|e| DataError::storage(&key, e))?;
    let mut stream = got.into_stream();
    let mut sha = Sha256::new();
    let mut md5 = md5::Md5::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| DataError::storage(&key, e))?;
        match check {
            Check::Sha256(_) => sha.update(&chunk),
            Check::Md5(_) => md5.update(&chunk),
        }
        size += chunk.len() as u64;
        writer
            .write_all(&chunk)
            .await
            .map_err(|e| DataError::io(out, e))?;
    }
    writer.sync_all().await.map_err(|e| DataError::io(out, e))?;
    drop(writer);
    let (algorithm, expected, actual) = match check {
        Check::Sha256(expected) => ("sha256", expected, hex(&sha.finalize())),
        Check::Md5(expected) => ("md5", expected, hex(&md5.finalize())),
    };
    if actual != expected {
        // `tmp_path` removes the temporary file when dropped.
        return Err(DataError::DigestMismatch {
            dataset: label.to_owned(),
            path: file.to_owned(),
            algorithm,
            expected: expected.to_owned(),
            actual,
        });
    }
    tmp_path
        .persist(out)
        .map_err(|e| DataError::io(out, e.error))?;
    Ok(size)
}

/// Lowercase hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
