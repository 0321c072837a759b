//! The shared conformance suite on `LocalStore`: a temporary folder, memory, and (feature
//! `cloud`, with `scripts/test.sh`) S3 on moto and Azure Blob on Azurite.

use mlops_core::StoreRoot;
use mlops_track::{LocalStore, TrackingStore, conformance};

/// One test per check, for one backend. `$open` is an async expression giving
/// `(LocalStore, guard)`; the guard keeps a temporary folder alive.
macro_rules! conformance_tests {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            conformance_tests!(@check $open;
                experiments, experiment_search, run_lifecycle, log_batch_semantics,
                batch_limits, non_finite_metrics, metric_history, inputs, artifacts,
                search_runs, bad_input);

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_create_by_name() {
                let (store, _guard) = $open;
                // Separate handles, each with its own cache, race through the object store.
                let mut handles = vec![store.clone()];
                for _ in 0..3 {
                    handles.push(reopen(&store).await);
                }
                let stores: Vec<&dyn TrackingStore> =
                    handles.iter().map(|s| s as &dyn TrackingStore).collect();
                conformance::concurrent_create_by_name(&stores).await;
            }
        }
    };
    (@check $open:expr; $($check:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (store, _guard) = $open;
                conformance::$check(&store).await;
                let report = store.check().await.unwrap();
                assert!(report.is_clean(), "{report:?}");
            }
        )*
    };
}

/// Another handle on the same store, with a cache of its own (as another process has). A
/// folder is opened again from its path; other roots share their object store client.
async fn reopen(store: &LocalStore) -> LocalStore {
    let root: StoreRoot = match store.root().uri() {
        Some(uri) if matches!(uri.backend(), mlops_core::Backend::Local(_)) => uri.open().unwrap(),
        _ => store.root().clone(),
    };
    LocalStore::open(root).await.unwrap()
}

async fn folder() -> (LocalStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let uri = mlops_core::StoreUri::parse(dir.path().to_str().unwrap()).unwrap();
    (LocalStore::open_uri(&uri).await.unwrap(), dir)
}

async fn memory() -> (LocalStore, ()) {
    let uri = mlops_core::StoreUri::parse("memory://conformance").unwrap();
    (LocalStore::open_uri(&uri).await.unwrap(), ())
}

conformance_tests!(folder, folder().await);
conformance_tests!(memory, memory().await);

#[cfg(feature = "cloud")]
mod cloud {
    use super::*;

    async fn s3() -> (LocalStore, ()) {
        let root = mlops_core::testing::s3_root("track-conformance");
        (LocalStore::open(root).await.unwrap(), ())
    }

    async fn azure() -> (LocalStore, ()) {
        let root = mlops_core::testing::azure_root("track-conformance");
        (LocalStore::open(root).await.unwrap(), ())
    }

    conformance_tests!(s3, s3().await);
    conformance_tests!(azure, azure().await);
}
