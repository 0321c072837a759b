//! The embedded store on S3 (moto) and Azure Blob (Azurite): the conformance suite, and
//! stale readers refreshing from one listing, and searches served from the run index.

use mlops_track::LocalStore;

use crate::conformance_tests;
use crate::support::index::index_serves_what_records_say;
use crate::support::listing::stale_readers_see_what_was_written;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_readers_refresh_from_one_listing() {
    stale_readers_see_what_was_written(mlops_core::testing::s3_root("track-listing")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_index_serves_what_records_say() {
    index_serves_what_records_say(mlops_core::testing::s3_root("track-index")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_index_serves_what_records_say() {
    index_serves_what_records_say(mlops_core::testing::azure_root("track-index")).await;
}
