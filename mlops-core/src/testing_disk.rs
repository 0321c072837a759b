//! A store that runs out of space: [`DiskBudget`] wraps any `ObjectStore` and fails every
//! write that would take it past a byte budget with the error a full disk gives
//! (`ENOSPC`, `io::ErrorKind::StorageFull`), writing nothing. Tests of "the disk fills up"
//! use it where mounting a small tmpfs is not possible (not root, or an object store).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};

/// What the budget has given out: bytes in use and each object's share.
#[derive(Debug, Default)]
struct Ledger {
    budget: u64,
    used: u64,
    sizes: HashMap<Path, u64>,
    refused: u64,
}

impl Ledger {
    /// Charges `key` for `size` bytes (replacing what it held), or refuses.
    fn charge(&mut self, key: &Path, size: u64) -> bool {
        let old = self.sizes.get(key).copied().unwrap_or(0);
        let used = self.used - old + size;
        if size > old && used > self.budget {
            self.refused += 1;
            return false;
        }
        self.used = used;
        self.sizes.insert(key.clone(), size);
        true
    }

    fn release(&mut self, key: &Path) {
        if let Some(size) = self.sizes.remove(key) {
            self.used -= size;
        }
    }
}

/// An `ObjectStore` with a byte budget, like a small disk.
///
/// Every object written through it counts its size against the budget (a replacement counts
/// its new size instead of the old, a delete gives its size back). A put, copy or multipart
/// part that would pass the budget fails with [`no_space`] before it reaches the inner store,
/// so the inner store holds exactly what was acknowledged. Objects already in the inner store
/// when it was wrapped count as free. Reads and listings pass through.
///
/// ```
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use mlops_core::testing::DiskBudget;
/// use object_store::{ObjectStoreExt, memory::InMemory, path::Path};
///
/// let disk = DiskBudget::new(InMemory::new(), 10);
/// disk.put(&Path::from("a"), "12345678".into()).await?;
/// let full = disk.put(&Path::from("b"), "123".into()).await.unwrap_err();
/// assert!(DiskBudget::is_no_space(&full));
/// disk.set_budget(100);
/// disk.put(&Path::from("b"), "123".into()).await?;
/// assert_eq!(disk.used(), 11);
/// # Ok::<(), object_store::Error>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DiskBudget {
    inner: Arc<dyn ObjectStore>,
    ledger: Arc<Mutex<Ledger>>,
}

impl DiskBudget {
    /// Wraps `inner` with room for `budget` bytes.
    pub fn new(inner: impl ObjectStore, budget: u64) -> Self {
        Self::from_arc(Arc::new(inner), budget)
    }

    /// Wraps a shared store.
    pub fn from_arc(inner: Arc<dyn ObjectStore>, budget: u64) -> Self {
        Self {
            inner,
            ledger: Arc::new(Mutex::new(Ledger {
                budget,
                ..Ledger::default()
            })),
        }
    }

    /// The wrapped store (to read what was acknowledged, as a fresh process would).
    pub fn inner(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.inner)
    }

    /// Changes the budget (frees space, or fills the disk now).
    pub fn set_budget(&self, budget: u64) {
        self.ledger().budget = budget;
    }

    /// Bytes in use.
    pub fn used(&self) -> u64 {
        self.ledger().used
    }

    /// How many writes were refused for want of space.
    pub fn refused(&self) -> u64 {
        self.ledger().refused
    }

    /// Whether `e` (or its source chain) is the out-of-space error this store gives.
    pub fn is_no_space(e: &(dyn std::error::Error + 'static)) -> bool {
        let mut next = Some(e);
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

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The error of a write past the budget: what `LocalFileSystem` reports on a full disk
/// (a `Generic` error whose source is the OS error `ENOSPC`).
pub fn no_space(key: &Path) -> object_store::Error {
    object_store::Error::Generic {
        store: "DiskBudget",
        source: Box::new(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            format!("no space left on device for {key}"),
        )),
    }
}

impl std::fmt::Display for DiskBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DiskBudget({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for DiskBudget {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let size = payload.content_length() as u64;
        if !self.ledger().charge(location, size) {
            return Err(no_space(location));
        }
        let result = self.inner.put_opts(location, payload, opts).await;
        if result.is_err() {
            // Not written (a create that lost, or a failure): the space is not used. An
            // object that was there keeps its own size, which the ledger does not know, so
            // it is counted as free (objects written before the wrapping are too).
            self.ledger().release(location);
        }
        result
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(BudgetUpload {
            inner,
            ledger: Arc::clone(&self.ledger),
            key: location.clone(),
            parts: Path::from(format!("{location}#multipart")),
            bytes: 0,
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let ledger = Arc::clone(&self.ledger);
        self.inner
            .delete_stream(locations)
            .map(move |deleted| {
                if let Ok(key) = &deleted {
                    ledger
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .release(key);
                }
                deleted
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let size = self.inner.head(from).await?.size;
        if !self.ledger().charge(to, size) {
            return Err(no_space(to));
        }
        let result = self.inner.copy_opts(from, to, options).await;
        if result.is_err() {
            self.ledger().release(to);
        }
        result
    }
}

/// A multipart upload whose parts count against the budget as they are sent.
#[derive(Debug)]
struct BudgetUpload {
    inner: Box<dyn MultipartUpload>,
    ledger: Arc<Mutex<Ledger>>,
    key: Path,
    /// Where the parts sent so far are charged until the upload completes.
    parts: Path,
    bytes: u64,
}

impl BudgetUpload {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl MultipartUpload for BudgetUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let size = self.bytes + data.content_length() as u64;
        let parts = self.parts.clone();
        if !self.ledger().charge(&parts, size) {
            return Box::pin(async move { Err(no_space(&parts)) });
        }
        self.bytes = size;
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let result = self.inner.complete().await;
        let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        ledger.release(&self.parts);
        if result.is_ok() {
            // The parts become the object: the charge moves, it cannot fail (same size, or
            // less when it replaced an object).
            ledger.release(&self.key);
            ledger.used += self.bytes;
            ledger.sizes.insert(self.key.clone(), self.bytes);
        }
        result
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.ledger().release(&self.parts);
        self.inner.abort().await
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;

    use super::*;

    #[tokio::test]
    async fn writes_past_the_budget_fail_and_write_nothing() {
        let disk = DiskBudget::new(InMemory::new(), 10);
        let a = Path::from("a");
        disk.put(&a, "1234".into()).await.unwrap();
        // Replacing counts the new size, not both.
        disk.put(&a, "12345678".into()).await.unwrap();
        assert_eq!(disk.used(), 8);
        let err = disk.put(&Path::from("b"), "123".into()).await.unwrap_err();
        assert!(DiskBudget::is_no_space(&err), "{err}");
        assert!(disk.inner().head(&Path::from("b")).await.is_err());
        // A multipart upload fails at the part that does not fit.
        let mut upload = disk.put_multipart(&Path::from("c")).await.unwrap();
        upload.put_part("12".into()).await.unwrap();
        assert!(upload.put_part("1".into()).await.is_err());
        upload.abort().await.unwrap();
        assert_eq!(disk.used(), 8);
        // A delete gives the space back.
        disk.delete(&a).await.unwrap();
        assert_eq!(disk.used(), 0);
        disk.put(&Path::from("b"), "123".into()).await.unwrap();
        assert_eq!(disk.refused(), 2);
    }
}
