//! Searches that refresh hundreds of stale runs from one listing of every run, on a folder
//! and in memory (the check is `support/listing.rs`, shared with the S3 service test).

use crate::support::listing::stale_readers_see_what_was_written;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_readers_refresh_from_one_listing() {
    let dir = tempfile::tempdir().unwrap();
    let root = mlops_core::StoreUri::parse(dir.path().to_str().unwrap())
        .unwrap()
        .open()
        .unwrap();
    stale_readers_see_what_was_written(root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_readers_refresh_from_one_listing() {
    let root = mlops_core::StoreUri::parse("memory://listing")
        .unwrap()
        .open()
        .unwrap();
    stale_readers_see_what_was_written(root).await;
}
