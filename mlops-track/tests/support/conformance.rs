//! The shared conformance suite as one test per check, for any `LocalStore` root: the
//! embedded roots in `local_conformance.rs`, S3 and Azure Blob in the service tests.

use mlops_core::StoreRoot;
use mlops_track::LocalStore;

/// One test per check, for one backend. `$open` is an async expression giving
/// `(LocalStore, guard)`; the guard keeps a temporary folder alive.
#[macro_export]
macro_rules! conformance_tests {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;
            use $crate::support::conformance::reopen;
            use mlops_track::{TrackingStore, conformance};

            $crate::conformance_tests!(@check $open;
                experiments, experiment_search, run_lifecycle, log_batch_semantics,
                batch_limits, non_finite_metrics, metric_history, inputs, artifacts,
                search_runs, bad_input, extension);
            $crate::conformance_tests!(@race $open;
                concurrent_create_by_name, concurrent_get_or_create);
        }
    };
    (@race $open:expr; $($check:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (store, _guard) = $open;
                // Separate handles, each with its own cache, race through the object store.
                let mut handles = vec![store.clone()];
                for _ in 0..3 {
                    handles.push(reopen(&store).await);
                }
                let stores: Vec<&dyn TrackingStore> =
                    handles.iter().map(|s| s as &dyn TrackingStore).collect();
                conformance::$check(&stores).await;
            }
        )*
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
pub(crate) async fn reopen(store: &LocalStore) -> LocalStore {
    let root: StoreRoot = match store.root().uri() {
        Some(uri) if matches!(uri.backend(), mlops_core::Backend::Local(_)) => uri.open().unwrap(),
        _ => store.root().clone(),
    };
    LocalStore::open(root).await.unwrap()
}
