//! F4 / C3: promotions through an object store that fails. `FaultyStore` wraps a store and,
//! deterministically from a seed, makes 5% of writes fail before they are applied, 5% fail
//! after they are applied (a lost response: the caller sees an error), and 5% of reads fail.
//! Four registry handles (each with its own cache, as four processes) promote one alias 50
//! times each with preconditions. Every ambiguous claim must be resolved by reading back the
//! writer's transaction id: each lost response on a log slot is found committed, each
//! failure before the write is found not committed, and the log is a linearizable history
//! of exactly the acknowledged promotions.

// Tests report their figures on stderr.
#![allow(clippy::print_stderr)]

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures::stream::BoxStream;
use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, StoreRoot};
use mlops_registry::{
    AliasChange, AuditAction, Expect, ModelRegistry, NewVersion, ObjectRegistry, RegistryExt,
};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// Counts of what was injected.
#[derive(Debug, Default)]
struct Injected {
    claims_failed_before: AtomicU64,
    claims_lost_response: AtomicU64,
    writes_failed: AtomicU64,
    reads_failed: AtomicU64,
}

/// Injects failures into an inner store (see the module docs).
#[derive(Debug)]
struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    state: std::sync::Mutex<u64>,
    injected: Arc<Injected>,
    /// Failure probability of each kind, in percent.
    percent: u64,
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

impl FaultyStore {
    /// A number in 0..100 from a xorshift generator.
    fn roll(&self) -> u64 {
        let mut s = self.state.lock().unwrap();
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s % 100
    }

    fn fault(what: &str, path: &Path) -> object_store::Error {
        object_store::Error::Generic {
            store: "FaultyStore",
            source: format!("injected {what} at {path}").into(),
        }
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let claim = matches!(opts.mode, PutMode::Create);
        let roll = self.roll();
        if roll < self.percent {
            if claim {
                self.injected
                    .claims_failed_before
                    .fetch_add(1, Ordering::Relaxed);
            } else {
                self.injected.writes_failed.fetch_add(1, Ordering::Relaxed);
            }
            return Err(Self::fault("failure before the write", location));
        }
        let result = self.inner.put_opts(location, payload, opts).await?;
        if roll < 2 * self.percent {
            if claim {
                self.injected
                    .claims_lost_response
                    .fetch_add(1, Ordering::Relaxed);
            } else {
                self.injected.writes_failed.fetch_add(1, Ordering::Relaxed);
            }
            return Err(Self::fault("lost response after the write", location));
        }
        Ok(result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if self.roll() < self.percent {
            self.injected.reads_failed.fetch_add(1, Ordering::Relaxed);
            return Err(Self::fault("read failure", location));
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
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
        self.inner.copy_opts(from, to, options).await
    }
}

const HANDLES: usize = 4;
const PROMOTIONS: usize = 50;

async fn promotions_survive_faults(inner: Arc<dyn ObjectStore>, seed: u64) {
    // Set up through the clean store, so every injected fault lands on a promotion.
    let clean = ObjectRegistry::new(StoreRoot::from_parts(Arc::clone(&inner), None));
    let name = ModelName::parse("faulty").unwrap();
    clean.create_model(&name, None, &[]).await.unwrap();
    let mut versions = Vec::new();
    for i in 0..4 {
        let files = NewVersion::new().with_artifact(
            ArtifactPath::parse("m.bin").unwrap(),
            format!("{i}").into_bytes(),
        );
        versions.push(clean.create_version(&name, files).await.unwrap().version);
    }
    let champion = AliasName::parse("champion").unwrap();
    let injected = Arc::new(Injected::default());
    let handles: Vec<ObjectRegistry> = (0..HANDLES)
        .map(|i| {
            let faulty = FaultyStore {
                inner: Arc::clone(&inner),
                state: std::sync::Mutex::new(
                    seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                        .wrapping_add(i as u64 + 1),
                ),
                injected: Arc::clone(&injected),
                percent: 5,
            };
            ObjectRegistry::new(StoreRoot::from_parts(Arc::new(faulty), None))
                .with_actor(&format!("writer-{i}"))
                .unwrap()
        })
        .collect();

    let tasks = handles.iter().enumerate().map(|(i, registry)| {
        let (name, champion, versions) = (name.clone(), champion.clone(), versions.clone());
        async move {
            let (mut acked, mut conflicts, mut failed) = (Vec::new(), 0usize, Vec::new());
            let mut round = 0;
            while acked.len() < PROMOTIONS {
                round += 1;
                let current = match registry.alias_holder(&name, &champion).await {
                    Ok(current) => current,
                    Err(e) => {
                        failed.push(e.to_string());
                        continue;
                    }
                };
                let target: ModelVersion = versions[(i + round) % versions.len()];
                let change = AliasChange::expecting(Expect::exactly(current));
                match registry.set_alias(&name, &champion, target, &change).await {
                    Ok(event) => acked.push(event),
                    Err(e) if e.is_conflict() => conflicts += 1,
                    Err(e) => failed.push(e.to_string()),
                }
            }
            let stats = registry.log_stats(&name).await.unwrap();
            (acked, conflicts, failed, stats)
        }
    });
    let results = futures::future::join_all(tasks).await;

    let acked: Vec<_> = results.iter().flat_map(|r| r.0.iter().cloned()).collect();
    let conflicts: usize = results.iter().map(|r| r.1).sum();
    let failed: Vec<&String> = results.iter().flat_map(|r| r.2.iter()).collect();
    let ambiguous: u64 = results.iter().map(|r| r.3.ambiguous).sum();
    let ambiguous_committed: u64 = results.iter().map(|r| r.3.ambiguous_committed).sum();
    let failed_before = injected.claims_failed_before.load(Ordering::Relaxed);
    let lost = injected.claims_lost_response.load(Ordering::Relaxed);

    // Check the history from the log alone, read through the clean store.
    let log = ObjectRegistry::new(StoreRoot::from_parts(Arc::clone(&inner), None))
        .read_log(&name)
        .await
        .unwrap();
    let mut holder: Option<ModelVersion> = None;
    let mut moves = Vec::new();
    for entry in &log {
        if let AuditAction::AliasChanged {
            from, to, expected, ..
        } = &entry.action
        {
            assert_eq!(
                *from, holder,
                "entry {} did not start from the holder",
                entry.seq
            );
            assert!(
                expected.matches(holder),
                "entry {} was written under a false precondition",
                entry.seq
            );
            holder = *to;
            moves.push(entry.txn_id.clone());
        }
    }
    for event in &acked {
        assert_eq!(
            moves.iter().filter(|t| **t == event.txn_id).count(),
            1,
            "acknowledged {event:?} not in the log once"
        );
    }
    assert_eq!(
        moves.len(),
        acked.len(),
        "the log holds moves nobody was told about (or lost some)"
    );
    assert_eq!(acked.len(), HANDLES * PROMOTIONS);
    assert!(
        lost > 0 && failed_before > 0,
        "the run injected no ambiguity (seed {seed})"
    );
    assert_eq!(
        ambiguous,
        lost + failed_before,
        "every unknown outcome on a log slot was examined"
    );
    assert_eq!(
        ambiguous_committed, lost,
        "every lost response was found committed, and nothing else"
    );
    eprintln!(
        "faults (seed {seed}): {} promotions acknowledged, {conflicts} conflicts, {} failed to the caller {failed:?}; \
         injected on log claims: {failed_before} failures before the write + {lost} lost responses = {ambiguous} ambiguous, \
         resolved: {lost} committed + {failed_before} not committed (100%); other writes failed {}, reads failed {}; \
         0 lost updates, 0 false preconditions",
        acked.len(),
        failed.len(),
        injected.writes_failed.load(Ordering::Relaxed),
        injected.reads_failed.load(Ordering::Relaxed),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotions_on_memory_survive_faults() {
    promotions_survive_faults(Arc::new(object_store::memory::InMemory::new()), 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotions_on_a_local_folder_survive_faults() {
    let dir = tempfile::tempdir().unwrap();
    let root = mlops_core::StoreUri::parse(dir.path().to_str().unwrap())
        .unwrap()
        .open()
        .unwrap();
    promotions_survive_faults(Arc::clone(root.store()), 11).await;
}
