//! The shared conformance suite on `ObjectRegistry`: a temporary folder, memory, and
//! (feature `cloud`, with `scripts/test.sh`) S3 on moto and Azure Blob on Azurite.

use mlops_registry::{ModelRegistry, ObjectRegistry, conformance};

/// One test per check, for one backend. `$open` is an expression giving
/// `(ObjectRegistry, guard)`; the guard keeps a temporary folder alive.
macro_rules! conformance_tests {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            conformance_tests!(@check $open;
                models, model_search, versions, version_records, stages, aliases,
                promotion_gates, approvals, rollbacks, audit_log);

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

/// Another handle on the same store with a cache of its own, as another process has.
fn reopen(registry: &ObjectRegistry) -> ObjectRegistry {
    let root = match registry.root().uri() {
        Some(uri) if matches!(uri.backend(), mlops_core::Backend::Local(_)) => uri.open().unwrap(),
        _ => registry.root().clone(),
    };
    ObjectRegistry::new(root)
}

fn folder() -> (ObjectRegistry, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let uri = mlops_core::StoreUri::parse(dir.path().to_str().unwrap()).unwrap();
    (
        ObjectRegistry::open_uri(&uri)
            .unwrap()
            .with_actor("conformance")
            .unwrap(),
        dir,
    )
}

fn memory() -> (ObjectRegistry, ()) {
    let uri = mlops_core::StoreUri::parse("memory://conformance").unwrap();
    (ObjectRegistry::open_uri(&uri).unwrap(), ())
}

conformance_tests!(folder, folder());
conformance_tests!(memory, memory());

#[cfg(feature = "cloud")]
mod cloud {
    use super::*;

    fn s3() -> (ObjectRegistry, ()) {
        (
            ObjectRegistry::new(mlops_core::testing::s3_root("registry-conformance")),
            (),
        )
    }

    fn azure() -> (ObjectRegistry, ()) {
        (
            ObjectRegistry::new(mlops_core::testing::azure_root("registry-conformance")),
            (),
        )
    }

    conformance_tests!(s3, s3());
    conformance_tests!(azure, azure());
}
