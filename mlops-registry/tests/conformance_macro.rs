//! `conformance_tests!`: one test per check of the shared conformance suite, for one
//! `ObjectRegistry` backend (folder and memory in the plain target, S3 and Azure in the
//! `services` target).

use mlops_registry::ObjectRegistry;

/// One test per check, for one backend. `$open` is an expression giving
/// `(ObjectRegistry, guard)`; the guard keeps a temporary folder alive.
macro_rules! conformance_tests {
    ($backend:ident, $open:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            use mlops_registry::{ModelRegistry, ObjectRegistry, conformance};
            use $crate::conformance_macro::reopen;

            $crate::conformance_macro::conformance_tests!(@check $open;
                models, model_search, versions, version_records, stages, aliases,
                promotion_gates, approvals, rollbacks, audit_log, updates, conveniences);

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn register_from_run() {
                let (registry, _guard) = $open;
                let tracking = mlops_track::LocalStore::open_uri(&"memory://".parse().unwrap())
                    .await
                    .unwrap();
                conformance::register_from_run(&registry, &tracking).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_versions() {
                let (registry, _guard) = $open;
                let handles: Vec<ObjectRegistry> = (0..4).map(|_| reopen(&registry)).collect();
                let refs: Vec<&dyn ModelRegistry> = handles.iter().map(|r| r as &dyn ModelRegistry).collect();
                conformance::concurrent_versions(&refs).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cross_handle_renames_and_deletes() {
                let (registry, _guard) = $open;
                let other = reopen(&registry);
                conformance::cross_handle_renames_and_deletes(&registry, &other).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_promotions() {
                let (registry, _guard) = $open;
                let handles: Vec<ObjectRegistry> = (0..4).map(|_| reopen(&registry)).collect();
                let refs: Vec<&dyn ModelRegistry> = handles.iter().map(|r| r as &dyn ModelRegistry).collect();
                conformance::concurrent_promotions(&refs).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_ensure_model() {
                let (registry, _guard) = $open;
                let handles: Vec<ObjectRegistry> = (0..4).map(|_| reopen(&registry)).collect();
                let refs: Vec<&dyn ModelRegistry> = handles.iter().map(|r| r as &dyn ModelRegistry).collect();
                conformance::concurrent_ensure_model(&refs).await;
            }
        }
    };
    (@check $open:expr; $($check:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (registry, _guard) = $open;
                conformance::$check(&registry).await;
            }
        )*
    };
}

pub(crate) use conformance_tests;

/// Another handle on the same store with a cache of its own, as another process has.
pub(crate) fn reopen(registry: &ObjectRegistry) -> ObjectRegistry {
    let root = match registry.root().uri() {
        Some(uri) if matches!(uri.backend(), mlops_core::Backend::Local(_)) => uri.open().unwrap(),
        _ => registry.root().clone(),
    };
    ObjectRegistry::new(root)
}
