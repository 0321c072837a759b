//! A store that counts requests: [`CountingStore`] wraps any `ObjectStore` and counts reads,
//! writes, listings and deletions, so a test can state what an operation costs in requests
//! (a poll that never lists, a claim checked by one listing, a cold search that reads a
//! constant number of objects). It can also refuse chosen writes or every deletion, the way a
//! process that died before them would leave the store.

use std::fmt;
use std::ops::Sub;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// Which writes a [`CountingStore`] refuses.
type PutFilter = Arc<dyn Fn(&Path) -> bool + Send + Sync>;

/// Requests a [`CountingStore`] has passed on, by kind. Subtract two to get what happened
/// between them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// Reads (`get_opts`, which every get, range read and head goes through).
    pub gets: u64,
    /// Writes: puts and multipart uploads started (refused ones included).
    pub puts: u64,
    /// Listings of a whole prefix (`list`, `list_with_delimiter`).
    pub lists: u64,
    /// Listings after an offset (`list_with_offset`).
    pub lists_after: u64,
    /// Objects asked to be deleted.
    pub deletes: u64,
    /// Copies inside the store (`copy_opts`; counted here only, not as puts).
    pub copies: u64,
}

impl RequestCounts {
    /// Listings of any kind.
    pub fn all_lists(&self) -> u64 {
        self.lists + self.lists_after
    }
}

impl Sub for RequestCounts {
    type Output = RequestCounts;
    fn sub(self, rhs: RequestCounts) -> RequestCounts {
        RequestCounts {
            gets: self.gets - rhs.gets,
            puts: self.puts - rhs.puts,
            lists: self.lists - rhs.lists,
            lists_after: self.lists_after - rhs.lists_after,
            deletes: self.deletes - rhs.deletes,
            copies: self.copies - rhs.copies,
        }
    }
}

/// An `ObjectStore` that counts the requests it passes to the store it wraps.
///
/// ```
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use mlops_core::testing::CountingStore;
/// use object_store::{ObjectStoreExt, path::Path};
///
/// let store = CountingStore::in_memory();
/// let before = store.counts();
/// store.put(&Path::from("a"), "x".into()).await?;
/// store.get(&Path::from("a")).await?;
/// let spent = store.counts() - before;
/// assert_eq!((spent.puts, spent.gets, spent.all_lists()), (1, 1, 0));
///
/// store.refuse_puts(|path| path.as_ref().starts_with("index/"));
/// assert!(store.put(&Path::from("index/1"), "x".into()).await.is_err());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # })?; Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    gets: AtomicU64,
    puts: AtomicU64,
    lists: AtomicU64,
    lists_after: AtomicU64,
    deletes: Arc<AtomicU64>,
    copies: AtomicU64,
    refused_puts: RwLock<Option<PutFilter>>,
    refuse_deletes: AtomicBool,
}

impl CountingStore {
    /// Counts the requests made to `inner`.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        CountingStore {
            inner,
            gets: AtomicU64::new(0),
            puts: AtomicU64::new(0),
            lists: AtomicU64::new(0),
            lists_after: AtomicU64::new(0),
            deletes: Arc::new(AtomicU64::new(0)),
            copies: AtomicU64::new(0),
            refused_puts: RwLock::new(None),
            refuse_deletes: AtomicBool::new(false),
        }
    }

    /// Counts the requests made to a new in-memory store.
    pub fn in_memory() -> Self {
        CountingStore::new(Arc::new(InMemory::new()))
    }

    /// The wrapped store, to look at it without counting.
    pub fn inner(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.inner)
    }

    /// The requests passed on so far.
    pub fn counts(&self) -> RequestCounts {
        RequestCounts {
            gets: self.gets.load(Ordering::Relaxed),
            puts: self.puts.load(Ordering::Relaxed),
            lists: self.lists.load(Ordering::Relaxed),
            lists_after: self.lists_after.load(Ordering::Relaxed),
            deletes: self.deletes.load(Ordering::Relaxed),
            copies: self.copies.load(Ordering::Relaxed),
        }
    }

    /// From now on, fails every put and multipart upload to a path for which `refuse` is
    /// true, writing nothing (a process that died before the write).
    pub fn refuse_puts(&self, refuse: impl Fn(&Path) -> bool + Send + Sync + 'static) {
        *self
            .refused_puts
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(refuse));
    }

    /// Lets every write through again.
    pub fn allow_puts(&self) {
        *self
            .refused_puts
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Fails (`true`) or passes (`false`) every deletion from now on.
    pub fn set_refuse_deletes(&self, refuse: bool) {
        self.refuse_deletes.store(refuse, Ordering::Relaxed);
    }

    /// Counts a write, then refuses it if the filter says so.
    fn check_put(&self, location: &Path) -> object_store::Result<()> {
        self.puts.fetch_add(1, Ordering::Relaxed);
        let filter = self
            .refused_puts
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match filter {
            Some(refuse) if refuse(location) => Err(refused(location)),
            _ => Ok(()),
        }
    }
}

/// The error of a write or deletion the store was told to refuse.
fn refused(location: &Path) -> object_store::Error {
    object_store::Error::Generic {
        store: "CountingStore",
        source: format!("the process died before writing or deleting {location}").into(),
    }
}

impl fmt::Debug for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingStore")
            .field("inner", &self.inner)
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountingStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        options: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.check_put(location)?;
        self.inner.put_opts(location, payload, options).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        options: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.check_put(location)?;
        self.inner.put_multipart_opts(location, options).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        // The stream outlives `&self`: it counts through its own handle on the counter.
        let deletes = Arc::clone(&self.deletes);
        let locations = locations
            .inspect(move |_| {
                deletes.fetch_add(1, Ordering::Relaxed);
            })
            .boxed();
        if self.refuse_deletes.load(Ordering::Relaxed) {
            return locations.map(|location| Err(refused(&location?))).boxed();
        }
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.lists.fetch_add(1, Ordering::Relaxed);
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.lists_after.fetch_add(1, Ordering::Relaxed);
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.lists.fetch_add(1, Ordering::Relaxed);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.copies.fetch_add(1, Ordering::Relaxed);
        self.inner.copy_opts(from, to, options).await
    }
}
