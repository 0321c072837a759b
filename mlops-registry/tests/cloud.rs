//! The object registry on real S3 and Azure Blob emulators (moto and Azurite, started by
//! `scripts/test.sh`): the shared conformance suite, C2 (8 processes × 25 promotions), and
//! a hole made right after a listing never filled by a write (`hole_window.rs`).

use mlops_core::testing::unique_prefix;
use mlops_registry::ObjectRegistry;

use crate::conformance_macro::conformance_tests;
use crate::multiprocess::eight_processes_promote;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_promote_on_moto() {
    eight_processes_promote(&format!("s3:{}", unique_prefix("registry-c2")), "moto S3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_promote_on_azurite() {
    eight_processes_promote(
        &format!("azure:{}", unique_prefix("registry-c2")),
        "Azurite",
    )
    .await;
}

#[tokio::test]
async fn a_hole_right_after_a_listing_is_not_filled_on_moto() {
    crate::hole_window::a_hole_right_after_a_listing_is_not_filled(mlops_core::testing::s3_root(
        "registry-hole",
    ))
    .await;
}

#[tokio::test]
async fn a_hole_right_after_a_listing_is_not_filled_on_azurite() {
    crate::hole_window::a_hole_right_after_a_listing_is_not_filled(
        mlops_core::testing::azure_root("registry-hole"),
    )
    .await;
}
