//! [`LocalStore`]: the embedded tracking backend, on any `object_store` root (a local folder
//! by default, memory, or S3/Azure/GCS with the `cloud` feature). Its on-disk format is
//! documented in `docs/FORMAT.md`.
//!
//! ```
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use mlops_track::local::LocalStore;
//! use mlops_track::{ExperimentName, Metric, MetricKey, NewRun, Param, TrackingStore, Timestamp};
//!
//! let store = LocalStore::open_uri(&"memory://".parse()?).await?;
//! let experiment = store.create_experiment(&ExperimentName::parse("churn")?, &[]).await?;
//! let run = store
//!     .create_run(NewRun {
//!         experiment_id: experiment,
//!         run_name: None,
//!         user_id: "ada".into(),
//!         start_time: Timestamp::now(),
//!         tags: vec![],
//!     })
//!     .await?;
//! let id = run.info.run_id;
//! let loss = MetricKey::parse("loss")?;
//! let points: Vec<Metric> = (0..10)
//!     .map(|step| Metric::new(loss.clone(), 1.0 / (step as f64 + 1.0), Timestamp::now(), step))
//!     .collect();
//! store.log_batch(&id, &points, &[Param::parse("lr", "0.1")?], &[]).await?;
//! assert_eq!(store.get_metric_history(&id, &loss).await?.len(), 10);
//! assert_eq!(store.get_run(&id).await?.data.param("lr"), Some("0.1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Guarantees
//!
//! - **Durable on return.** Every method returns only after its writes are on stable
//!   storage (fsync of the file and its folder on local disks; an acknowledged PUT on object
//!   stores).
//! - **Crash-safe.** Every object is written once, atomically (`PutMode::Create`), or
//!   replaced atomically (artifacts, the lease). A process killed at any instant leaves a
//!   store that opens and reads, missing at most the call that was in flight.
//! - **Many writers.** Any number of processes, on one host or several, may write to one
//!   store at once. Changes to an experiment or run are appended to a log whose slots are
//!   claimed with create-if-absent, so every change is validated against every change before
//!   it: two processes creating one experiment name get one id, and a param can never take
//!   two values.
//! - **Tolerant readers.** A damaged record or file (wrong length or CRC) is skipped with a
//!   warning (`tracing`) and counted ([`LocalStore::check`]); it never hides the rest.
//!
//! Within one process the store caches what it has read (stored objects never change), so a
//! second read costs a listing of what is new. Searches, and the check that a metrics-only
//! write goes to a live run, use this cache when it was refreshed within
//! [`LocalStoreOptions::with_refresh_interval`] (2 s); everything else reads the latest state.
//!
//! A new process searches ended runs through the **run index**
//! ([`LocalStore::build_run_index`], also refreshed by searches that had to read many ended
//! runs): one object per experiment instead of every run's records. A run that just ended is
//! in it at once: the process that ends it writes its summary, and folds them into the index
//! every few hundred runs. Runs it does not cover, or that changed since it was built (every
//! write to an ended run leaves a change marker first, and a metrics write that finds the
//! run ended after writing leaves one before returning), are read from their records, so a
//! search answers the same with or without it.

mod artifacts;
mod batch;
mod check;
mod disk;
mod experiments;
mod index;
mod keys;
mod lease;
mod limits;
mod listing;
mod metrics;
mod records;
mod run_name_generator;
mod run_state;
mod runs;
mod search;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use mlops_core::{
    ArtifactPath, Bounded, Created, ExperimentId, ExperimentName, LifecycleStage, Metric,
    MetricKey, Param, RunId, RunName, RunStatus, StoreRoot, StoreUri, Tag, TagKey, Timestamp,
    put_if_absent,
};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};

pub use batch::check_batch;
pub use check::CheckReport;
pub use index::IndexReport;
pub use lease::{Lease, STALE_TAG, StaleReason, StaleRun};
pub use metrics::CompactionReport;

use crate::entities::{DatasetInput, Experiment, Run, RunInfo};
use crate::error::{Result, TrackError};
use crate::store::{ArtifactInfo, ExperimentQuery, NewRun, Page, RunQuery, TrackingStore};
use experiments::ExperimentLog;
use keys::Keys;
use run_state::RunState;

/// Tuning of a [`LocalStore`]; the defaults suit training loops and services alike.
///
/// ```
/// use std::time::Duration;
/// use mlops_track::local::LocalStoreOptions;
/// let options = LocalStoreOptions::default()
///     .with_compact_after_segments(16)
///     .with_lease_interval(Duration::from_secs(5));
/// assert_eq!(options.compact_after_segments(), 16);
/// ```
#[derive(Clone, Debug)]
pub struct LocalStoreOptions {
    compact_after_segments: usize,
    lease_interval: Duration,
    refresh_interval: Duration,
    concurrency: usize,
    run_index: bool,
    index_grace: Duration,
}

impl Default for LocalStoreOptions {
    fn default() -> Self {
        Self {
            compact_after_segments: 64,
            lease_interval: Duration::from_secs(10),
            refresh_interval: Duration::from_secs(2),
            concurrency: 16,
            run_index: true,
            index_grace: Duration::from_secs(600),
        }
    }
}

impl LocalStoreOptions {
    /// Compacts a run's metric segments into a Parquet file once it has this many (64 by
    /// default; at least 2). Runs are also compacted when they end.
    pub fn with_compact_after_segments(mut self, segments: usize) -> Self {
        self.compact_after_segments = segments.max(2);
        self
    }

    /// The segment count that triggers a compaction.
    pub fn compact_after_segments(&self) -> usize {
        self.compact_after_segments
    }

    /// How often a writer renews a run's lease while it logs (10 s by default).
    pub fn with_lease_interval(mut self, interval: Duration) -> Self {
        self.lease_interval = interval;
        self
    }

    /// The lease renewal interval.
    pub fn lease_interval(&self) -> Duration {
        self.lease_interval
    }

    /// How stale this process's view of other processes' writes may be (2 s by default):
    /// in searches, and when a metrics-only write checks that its run is not deleted. Writes
    /// of params, tags and status are always checked against the latest state, `get_run` and
    /// `get_metric_history` always read it, and this process sees its own writes at once.
    /// `Duration::ZERO` makes every search list every run again.
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The refresh interval.
    pub fn refresh_interval(&self) -> Duration {
        self.refresh_interval
    }

    /// How many runs a search or check reads at once (16 by default).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The read concurrency.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Whether searches serve ended runs from the run index (on by default; see
    /// [`LocalStore::build_run_index`]), and refresh it after reading many ended runs from
    /// their records (at least 256, and a quarter of what the index holds); and whether
    /// ending a run writes its summary for the index (one more write and two listings).
    /// Off, every run is read from its records and nothing is written for the index but
    /// what keeps other processes' indexes exact: change markers, and the check after a
    /// metrics-only `log_batch` (one `HEAD`) that marks a run that ended meanwhile.
    pub fn with_run_index(mut self, on: bool) -> Self {
        self.run_index = on;
        self
    }

    /// Whether searches use the run index.
    pub fn run_index(&self) -> bool {
        self.run_index
    }

    /// How long after a run ends, or after a change to an ended run, the index builder
    /// waits before indexing it (10 minutes by default). A writer may log metrics from a view
    /// up to a refresh interval old, and a change lands shortly after its marker; the grace
    /// covers both, and clock differences between hosts. Lower it only where one process
    /// writes (tests, a bulk import).
    pub fn with_index_grace(mut self, grace: Duration) -> Self {
        self.index_grace = grace;
        self
    }

    /// The index grace period.
    pub fn index_grace(&self) -> Duration {
        self.index_grace
    }
}

/// The embedded tracking store. Cheap to clone (clones share one cache).
#[derive(Clone)]
pub struct LocalStore {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    root: StoreRoot,
    store: Arc<dyn ObjectStore>,
    keys: Keys,
    base_uri: String,
    options: LocalStoreOptions,
    experiments: tokio::sync::Mutex<ExperimentLog>,
    runs: Mutex<HashMap<RunId, Arc<RunSlot>>>,
    /// The run ids of each experiment (from its markers), and when they were listed.
    run_ids: Mutex<HashMap<ExperimentId, (std::time::Instant, RunIds)>>,
    host: lease::HostInfo,
    /// The folder of a root on a local disk, listed without following links (`disk.rs`).
    disk: Option<std::path::PathBuf>,
    /// Links met (and refused) inside the store by this process's listings.
    links_refused: std::sync::atomic::AtomicU64,
    /// What this process's reads skipped, by key (at most [`MAX_DAMAGE`]).
    damage: Mutex<std::collections::BTreeMap<String, String>>,
    /// Each experiment's run index, as last read (`index/`).
    index: Mutex<HashMap<ExperimentId, Arc<index::IndexView>>>,
    /// When this process last wrote to each run (recent writes only): an index view listed
    /// before the write does not serve the run.
    touched: Mutex<HashMap<RunId, std::time::Instant>>,
    /// Set when a search's index refresh failed (a read-only store): no more attempts.
    index_refresh_failed: std::sync::atomic::AtomicBool,
    /// Per experiment, ended runs' summaries this process wrote since it last folded them,
    /// and how many runs that fold indexed (`index/summary.rs`).
    summaries_written: Mutex<HashMap<ExperimentId, (usize, usize)>>,
}

/// The most damaged objects remembered; beyond that, only the warnings tell.
const MAX_DAMAGE: usize = 10_000;

impl fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalStore")
            .field("root", &self.inner.base_uri)
            .finish_non_exhaustive()
    }
}

/// An experiment's run ids, shared between the cache and the searches reading them.
pub(crate) type RunIds = Arc<Vec<RunId>>;

/// One run in this process: its cached state, and the metric segments being written (whose
/// names are taken, but whose writes have not returned).
#[derive(Default)]
pub(crate) struct RunSlot {
    pub(crate) state: tokio::sync::Mutex<RunState>,
    pub(crate) in_flight: Mutex<std::collections::BTreeSet<String>>,
}

impl RunSlot {
    /// The first segment name still being written, if any: compactions cover only the
    /// segments before it, so that compacted points always precede uncompacted ones.
    pub(crate) fn first_in_flight(&self) -> Option<String> {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .first()
            .cloned()
    }
}

impl LocalStore {
    /// Opens (creating if needed) a store under `root`.
    pub async fn open(root: StoreRoot) -> Result<Self> {
        Self::open_with_options(root, LocalStoreOptions::default()).await
    }

    /// Opens the store a URI names: a folder, `file://`, `memory://`, or a cloud URI (feature
    /// `cloud`), configured from the environment.
    pub async fn open_uri(uri: &StoreUri) -> Result<Self> {
        Self::open(uri.open()?).await
    }

    /// Opens (creating if needed) a store under `root`, tuned by `options`.
    pub async fn open_with_options(root: StoreRoot, options: LocalStoreOptions) -> Result<Self> {
        let keys = Keys::new(root.prefix().clone());
        let base_uri = base_uri(&root);
        let disk = match root.uri().map(StoreUri::backend) {
            Some(mlops_core::Backend::Local(path)) if root.prefix().as_ref().is_empty() => {
                Some(path.clone())
            }
            _ => None,
        };
        let inner = Inner {
            store: Arc::clone(root.store()),
            root,
            keys,
            base_uri,
            options,
            experiments: tokio::sync::Mutex::new(ExperimentLog::default()),
            runs: Mutex::new(HashMap::new()),
            run_ids: Mutex::new(HashMap::new()),
            host: lease::HostInfo::current(),
            disk,
            links_refused: std::sync::atomic::AtomicU64::new(0),
            damage: Mutex::new(std::collections::BTreeMap::new()),
            index: Mutex::new(HashMap::new()),
            touched: Mutex::new(HashMap::new()),
            index_refresh_failed: std::sync::atomic::AtomicBool::new(false),
            summaries_written: Mutex::new(HashMap::new()),
        };
        inner.check_format().await?;
        if let Some(mlops_core::Backend::Local(path)) = inner.root.uri().map(StoreUri::backend)
            && let Some(fs_type) = weak_file_system(path)
        {
            tracing::warn!(
                path = %path.display(),
                fs_type,
                "this store lives on a network or FUSE file system, whose create-if-absent, \
                 rename and fsync may not be atomic and durable; prefer a local disk or an \
                 object store"
            );
        }
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Whether a store was ever opened under `root` (it holds the format marker,
    /// `FORMAT.json`), without creating one: a read-only command can then refuse a mistyped
    /// path instead of making a new, empty store there.
    pub async fn exists(root: &StoreRoot) -> Result<bool> {
        let key = Keys::new(root.prefix().clone()).format_marker();
        match root.store().head(&key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(Inner::storage(&key, e)),
        }
    }

    /// The root the store lives under.
    pub fn root(&self) -> &StoreRoot {
        &self.inner.root
    }

    /// Folds a run's metric segments into Parquet now. `full` also merges its earlier Parquet
    /// files into one (what happens when a run ends). Returns `None` when there was nothing
    /// to do.
    pub async fn compact_run(&self, run: &RunId, full: bool) -> Result<Option<CompactionReport>> {
        self.inner.compact_run(run, full).await
    }

    /// Renews the lease of a run: records that this process (pid, host) is alive and owns it.
    /// Writes renew it on their own every [`LocalStoreOptions::lease_interval`]; call this from
    /// a timer when a run may stay idle for long.
    pub async fn heartbeat(&self, run: &RunId) -> Result<()> {
        self.inner.heartbeat(run).await
    }

    /// The lease of a run, if one was written.
    pub async fn lease(&self, run: &RunId) -> Result<Option<Lease>> {
        self.inner.read_lease(run).await
    }

    /// Runs still `RUNNING` whose writer is gone: a process on this host (same boot) that
    /// exited, or a lease not renewed for `max_age`.
    pub async fn stale_runs(&self, max_age: Duration) -> Result<Vec<StaleRun>> {
        self.inner.stale_runs(max_age).await
    }

    /// Marks every [stale run](Self::stale_runs) `KILLED`, with the time its writer was last
    /// seen as the end time, and compacts it. Returns the runs marked.
    pub async fn mark_stale_runs_killed(&self, max_age: Duration) -> Result<Vec<RunId>> {
        let marked = self.mark_stale_runs(max_age, RunStatus::Killed).await?;
        Ok(marked.into_iter().map(|stale| stale.run_id).collect())
    }

    /// Ends every [stale run](Self::stale_runs) with `status` (`KILLED` or `FAILED`), the
    /// time its writer was last seen as the end time, and the tag [`STALE_TAG`] saying why;
    /// compacts it. A run whose writer finishes it meanwhile is left as its writer ended it.
    /// Returns the runs marked.
    pub async fn mark_stale_runs(
        &self,
        max_age: Duration,
        status: RunStatus,
    ) -> Result<Vec<StaleRun>> {
        self.inner.mark_stale_runs(max_age, status).await
    }

    /// Whether one run is stale (see [`Self::stale_runs`]): `None` for a run that is not
    /// `RUNNING` or whose writer is alive or was seen within `max_age`.
    pub async fn stale_run(&self, run: &RunId, max_age: Duration) -> Result<Option<StaleRun>> {
        self.inner.stale_run(run.clone(), max_age).await
    }

    /// Writes a new generation of every experiment's run index: the folded state of its
    /// ended runs, so that a new process searches them by reading one object per experiment
    /// instead of every run's records (`docs/FORMAT.md`, *The run index*). Incremental:
    /// runs indexed before and unchanged since are not read again. Safe to run at any time,
    /// from any number of processes, and to interrupt: readers only ever use a complete
    /// generation, and read every run it does not cover (or that changed since) from its
    /// records.
    pub async fn build_run_index(&self) -> Result<IndexReport> {
        self.inner.build_run_index().await
    }

    /// Reads every experiment and run and reports what it found, including damaged records and
    /// files that readers skip. Changes nothing.
    pub async fn check(&self) -> Result<CheckReport> {
        self.inner.check().await
    }
}

/// The type of the file system holding `path` when it is one whose `link`, `rename` and
/// `fsync` may not behave as the format needs (NFS, SMB, FUSE sync folders); Linux only.
fn weak_file_system(path: &std::path::Path) -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    let path = std::fs::canonicalize(path).ok()?;
    // The mount point that is the longest prefix of the path holds it.
    let (_, fs_type) = mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _device = fields.next()?;
            let mount_point = fields.next()?.replace("\\040", " ");
            let fs_type = fields.next()?;
            path.starts_with(&mount_point)
                .then(|| (mount_point.len(), fs_type.to_owned()))
        })
        .max_by_key(|(len, _)| *len)?;
    let weak = matches!(
        fs_type.as_str(),
        "nfs" | "nfs4" | "cifs" | "smb3" | "smbfs" | "9p" | "afs" | "glusterfs" | "ceph"
    ) || fs_type.starts_with("fuse");
    weak.then_some(fs_type)
}

/// How run artifact URIs start: the store's URI, or `store:/<prefix>` for roots built from
/// parts.
fn base_uri(root: &StoreRoot) -> String {
    match root.uri() {
        Some(uri) => match uri.backend() {
            mlops_core::Backend::Local(path) => format!("file://{}", path.display()),
            _ => uri.as_str().trim_end_matches('/').to_owned(),
        },
        None => format!("store:/{}", root.prefix()),
    }
}

/// The root's marker, as errors name it.
const FORMAT_MARKER: &str = "the format marker";

/// A read for a reader that reports damage and goes on: an object over its limit is
/// `Some(Err(reason))`, as an undecodable one would be.
fn or_damage(read: Result<Option<Bytes>>) -> Result<Option<Result<Bytes, String>>> {
    match read {
        Ok(bytes) => Ok(bytes.map(Ok)),
        Err(e @ TrackError::TooLarge { .. }) => Ok(Some(Err(e.to_string()))),
        Err(e) => Err(e),
    }
}

/// The outcome of a create-if-absent put.
pub(crate) enum Claim {
    /// The object is ours.
    Won,
    /// Something was there already.
    Taken,
}

impl Inner {
    fn storage(path: &Path, source: object_store::Error) -> TrackError {
        TrackError::Storage {
            path: path.to_string(),
            source,
        }
    }

    fn corrupt(path: &Path, reason: impl Into<String>) -> TrackError {
        TrackError::Corrupt {
            path: path.to_string(),
            reason: reason.into(),
        }
    }

    /// The bytes of an object of at most `limit` bytes (`what` names its kind in the error),
    /// or `None` if there is none.
    async fn get_opt(&self, key: &Path, what: &'static str, limit: u64) -> Result<Option<Bytes>> {
        match mlops_core::get_bounded(&*self.store, key, limit).await {
            Ok(Bounded::Bytes(bytes)) => Ok(Some(bytes)),
            Ok(Bounded::Missing) => Ok(None),
            Ok(Bounded::TooLarge { size, limit }) => Err(Self::too_large(key, what, size, limit)),
            Err(e) => Err(Self::storage(key, e)),
        }
    }

    /// [`Self::get_opt`] of a key no listing gave (a lease, `FORMAT.json`): on a local root a
    /// link anywhere on its path is [`TrackError::Corrupt`], never followed.
    async fn get_unlisted_opt(
        &self,
        key: &Path,
        what: &'static str,
        limit: u64,
    ) -> Result<Option<Bytes>> {
        if let Some(root) = &self.disk {
            let (root, at) = (root.clone(), key.clone());
            let link = tokio::task::spawn_blocking(move || disk::link_on_path(&root, &at))
                .await
                .map_err(|e| Self::corrupt(key, format!("cannot inspect the path: {e}")))?
                .map_err(|e| Self::corrupt(key, format!("cannot inspect the path: {e}")))?;
            if let Some(link) = link {
                return Err(Self::corrupt(
                    key,
                    format!("{link} is a symbolic link; the store never follows links"),
                ));
            }
        }
        self.get_opt(key, what, limit).await
    }

    fn too_large(key: &Path, what: &'static str, size: u64, limit: u64) -> TrackError {
        TrackError::TooLarge {
            path: key.to_string(),
            what,
            size,
            limit,
        }
    }

    /// [`Self::get_opt`] of a write-once object whose size a listing gave: one ranged read,
    /// which a local file system serves with a single hand-off to a blocking thread instead
    /// of two (open, then read). A write-once object never changes size; were it to differ
    /// anyway, the frame check of what was read reports it. A listed size over `limit` is
    /// refused unread.
    async fn get_listed_opt(
        &self,
        key: &Path,
        size: u64,
        what: &'static str,
        limit: u64,
    ) -> Result<Option<Bytes>> {
        if size > limit {
            return Err(Self::too_large(key, what, size, limit));
        }
        if size == 0 {
            return self.get_opt(key, what, limit).await;
        }
        let whole = std::ops::Range {
            start: 0,
            end: size,
        };
        match self
            .store
            .get_ranges(key, std::slice::from_ref(&whole))
            .await
        {
            Ok(mut parts) => Ok(parts.pop()),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(Self::storage(key, e)),
        }
    }

    /// Refuses to write an object its readers would refuse as too large.
    fn check_size(key: &Path, bytes: &[u8], what: &'static str, limit: u64) -> Result<()> {
        let size = bytes.len() as u64;
        if size > limit {
            return Err(Self::too_large(key, what, size, limit));
        }
        Ok(())
    }

    /// Creates an object if absent.
    async fn claim(&self, key: &Path, bytes: Vec<u8>) -> Result<Claim> {
        match put_if_absent(&*self.store, key, bytes).await {
            Ok(Created::Won) => Ok(Claim::Won),
            Ok(Created::Taken) => Ok(Claim::Taken),
            Err(e) => Err(Self::storage(key, e)),
        }
    }

    /// Writes or atomically replaces an object.
    async fn put_replace(&self, key: &Path, bytes: Bytes) -> Result<()> {
        self.store
            .put(key, PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| Self::storage(key, e))
    }

    /// Every object under `prefix` (after `offset`, when given), in key order.
    async fn list(&self, prefix: &Path, offset: Option<&Path>) -> Result<Vec<ObjectMeta>> {
        if let Some(root) = &self.disk {
            return self.list_disk(root.clone(), prefix, offset).await;
        }
        let stream = match offset {
            Some(offset) => self.store.list_with_offset(Some(prefix), offset),
            None => self.store.list(Some(prefix)),
        };
        let mut items: Vec<ObjectMeta> = match stream.try_collect().await {
            Ok(items) => items,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(Self::storage(prefix, e)),
        };
        items.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(items)
    }

    /// [`Self::list`] on a local disk: links are never followed, and each one met is
    /// reported (a warning, and [`LocalStore::check`] counts them).
    async fn list_disk(
        &self,
        root: std::path::PathBuf,
        prefix: &Path,
        offset: Option<&Path>,
    ) -> Result<Vec<ObjectMeta>> {
        let dir = prefix.clone();
        let listing = tokio::task::spawn_blocking(move || disk::list(&root, &dir))
            .await
            .map_err(|e| TrackError::InvalidState(format!("listing {prefix} failed: {e}")))?
            .map_err(|e| {
                Self::storage(
                    prefix,
                    object_store::Error::Generic {
                        store: "LocalFileSystem",
                        source: Box::new(e),
                    },
                )
            })?;
        for link in &listing.links {
            self.links_refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.note_damage(
                link,
                "a symbolic link inside the store (the store writes none): not followed",
            );
        }
        let mut items: Vec<ObjectMeta> = listing
            .objects
            .into_iter()
            .filter(|m| offset.is_none_or(|o| m.location > *o))
            .collect();
        items.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(items)
    }

    /// Records (and logs) a damaged object a read skipped; see [`LocalStore::damage`].
    pub(crate) fn note_damage(&self, key: &str, reason: &str) {
        tracing::warn!(key, "skipping damaged data: {reason}");
        let mut damage = self
            .damage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if damage.len() < MAX_DAMAGE {
            damage.insert(key.to_owned(), reason.to_owned());
        }
    }

    /// Deletes objects, logging (not returning) failures: used only for garbage whose removal
    /// is an optimisation.
    async fn delete_quietly(&self, keys: Vec<Path>) {
        for key in keys {
            match self.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(key = %key, error = %e, "could not delete an object no reader needs (compacted, or consumed by the run index)");
                }
            }
        }
    }

    async fn check_format(&self) -> Result<()> {
        let key = self.keys.format_marker();
        let existing = match self
            .get_unlisted_opt(&key, FORMAT_MARKER, limits::SMALL)
            .await?
        {
            Some(bytes) => bytes,
            None => match self.claim(&key, records::encode_marker()).await? {
                Claim::Won => return Ok(()),
                Claim::Taken => self
                    .get_unlisted_opt(&key, FORMAT_MARKER, limits::SMALL)
                    .await?
                    .unwrap_or_default(),
            },
        };
        let marker = records::decode_marker(&existing).map_err(|e| Self::corrupt(&key, e))?;
        if marker.format != records::FORMAT_NAME {
            return Err(Self::corrupt(
                &key,
                format!(
                    "this root holds {:?}, not an mlops-track store",
                    marker.format
                ),
            ));
        }
        if marker.version > records::FORMAT_VERSION {
            return Err(TrackError::InvalidState(format!(
                "the store at {} has format version {}; this build reads version {} and older",
                self.base_uri,
                marker.version,
                records::FORMAT_VERSION
            )));
        }
        Ok(())
    }

    /// The cached state of a run (created empty on first use).
    fn run_slot(&self, id: &RunId) -> Arc<RunSlot> {
        let mut runs = self
            .runs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(runs.entry(id.clone()).or_default())
    }

    /// Forgets a run that turned out not to exist, so the cache holds only real runs.
    fn forget_run(&self, id: &RunId) {
        let mut runs = self
            .runs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        runs.remove(id);
    }
}

#[async_trait]
impl TrackingStore for LocalStore {
    async fn create_experiment(&self, name: &ExperimentName, tags: &[Tag]) -> Result<ExperimentId> {
        self.inner.create_experiment(name, tags).await
    }

    async fn get_experiment(&self, id: &ExperimentId) -> Result<Experiment> {
        self.inner.get_experiment(id).await
    }

    async fn get_experiment_by_name(&self, name: &ExperimentName) -> Result<Option<Experiment>> {
        self.inner.get_experiment_by_name(name).await
    }

    async fn search_experiments(&self, query: &ExperimentQuery) -> Result<Page<Experiment>> {
        self.inner.search_experiments(query).await
    }

    async fn rename_experiment(&self, id: &ExperimentId, name: &ExperimentName) -> Result<()> {
        self.inner.rename_experiment(id, name).await
    }

    async fn set_experiment_lifecycle(
        &self,
        id: &ExperimentId,
        stage: LifecycleStage,
    ) -> Result<()> {
        self.inner.set_experiment_lifecycle(id, stage).await
    }

    async fn set_experiment_tag(&self, id: &ExperimentId, tag: &Tag) -> Result<()> {
        self.inner.set_experiment_tag(id, tag).await
    }

    async fn create_run(&self, run: NewRun) -> Result<Run> {
        self.inner.create_run(run).await
    }

    async fn get_run(&self, id: &RunId) -> Result<Run> {
        self.inner.get_run(id).await
    }

    async fn update_run(
        &self,
        id: &RunId,
        status: Option<RunStatus>,
        end_time: Option<Timestamp>,
        run_name: Option<&RunName>,
    ) -> Result<RunInfo> {
        self.inner.update_run(id, status, end_time, run_name).await
    }

    async fn set_run_lifecycle(&self, id: &RunId, stage: LifecycleStage) -> Result<()> {
        self.inner.set_run_lifecycle(id, stage).await
    }

    async fn log_batch(
        &self,
        run: &RunId,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        self.inner.log_batch(run, metrics, params, tags).await
    }

    async fn log_inputs(&self, run: &RunId, inputs: &[DatasetInput]) -> Result<()> {
        self.inner.log_inputs(run, inputs).await
    }

    async fn get_metric_history(&self, run: &RunId, key: &MetricKey) -> Result<Vec<Metric>> {
        self.inner.metric_history(run, key).await
    }

    async fn get_metric_columns(
        &self,
        run: &RunId,
        key: &MetricKey,
    ) -> Result<crate::store::MetricColumns> {
        self.inner.metric_columns(run, key).await
    }

    async fn delete_tag(&self, run: &RunId, key: &TagKey) -> Result<()> {
        self.inner.delete_tag(run, key).await
    }

    async fn search_runs(&self, query: &RunQuery) -> Result<Page<Run>> {
        self.inner.search_runs(query).await
    }

    async fn log_artifact(&self, run: &RunId, path: &ArtifactPath, bytes: Bytes) -> Result<()> {
        self.inner.log_artifact(run, path, bytes).await
    }

    async fn list_artifacts(
        &self,
        run: &RunId,
        dir: Option<&ArtifactPath>,
    ) -> Result<Vec<ArtifactInfo>> {
        self.inner.list_artifacts(run, dir).await
    }

    async fn download_artifact(&self, run: &RunId, path: &ArtifactPath) -> Result<Bytes> {
        self.inner.download_artifact(run, path).await
    }

    fn damage(&self) -> Vec<crate::Damage> {
        self.inner
            .damage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(key, reason)| crate::Damage::new(key.clone(), reason.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_disks_are_not_flagged() {
        let dir = std::env::temp_dir();
        if let Some(fs_type) = super::weak_file_system(&dir) {
            assert!(
                fs_type.starts_with("fuse") || fs_type.contains("nfs"),
                "{fs_type}"
            );
        }
        assert_eq!(
            super::weak_file_system(std::path::Path::new("/no/such/path")),
            None
        );
    }
}
