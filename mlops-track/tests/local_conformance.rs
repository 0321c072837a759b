//! The shared conformance suite on `LocalStore`: a temporary folder and memory (S3 on moto
//! and Azure Blob on Azurite are in the service tests).

use mlops_track::LocalStore;

use crate::conformance_tests;

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
