//! The shared conformance suite on `ObjectRegistry`: a temporary folder and memory (S3 on
//! moto and Azure Blob on Azurite: `cloud.rs`, in the `services` target).

use mlops_registry::ObjectRegistry;

use crate::conformance_macro::conformance_tests;

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
