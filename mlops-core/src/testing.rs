//! Test support for this workspace (feature `test-util`): roots on the services that
//! `scripts/test.sh` starts.
//!
//! The script exports where each service listens (see `docs/TESTING.md`). A test that needs a
//! service calls one of these functions; when the variable is missing the test fails at once
//! with a message that says how to start the services. It never skips silently.

#![allow(clippy::panic, clippy::expect_used)] // Test support: failing loudly is the point.

use crate::artifact_path::ArtifactPath;
use crate::store_uri::{StoreRoot, StoreUri};
pub use crate::testing_count::{CountingStore, RequestCounts};
pub use crate::testing_disk::{DiskBudget, no_space};
pub use crate::testing_fuzz::{
    FUZZ_MAX_INPUT, FuzzRng, fuzz_cases, fuzz_seed, mutate, mutate_json, run_fuzz,
    run_fuzz_at_least, run_fuzz_with,
};
pub use crate::testing_proxy::{LossyProxy, ProxyMode};

/// The S3 endpoint of the moto server, e.g. `http://127.0.0.1:41234`.
pub const S3_ENDPOINT: &str = "MLOPS_TEST_S3_ENDPOINT";
/// The bucket created on it.
pub const S3_BUCKET: &str = "MLOPS_TEST_S3_BUCKET";
/// The Azurite blob endpoint, e.g. `http://127.0.0.1:41235`.
pub const AZURE_ENDPOINT: &str = "MLOPS_TEST_AZURE_ENDPOINT";
/// The container created on it.
pub const AZURE_CONTAINER: &str = "MLOPS_TEST_AZURE_CONTAINER";
/// The MLflow tracking server, e.g. `http://127.0.0.1:41236`.
pub const MLFLOW_URI: &str = "MLOPS_TEST_MLFLOW_URI";
/// The Python interpreter of the test venv (scipy, Evidently, tritonclient, …).
pub const PYTHON: &str = "MLOPS_TEST_PYTHON";
/// The `promtool` binary (Debian package `prometheus`) that checks `/metrics` output.
pub const PROMTOOL: &str = "MLOPS_TEST_PROMTOOL";

/// The value of a service variable, or a panic that explains how to get it.
pub fn require_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set: this test needs a service that scripts/test.sh starts. \
             Run the whole suite with `scripts/test.sh`, or one test with \
             `scripts/test.sh --services-only -- cargo test ...` (see docs/TESTING.md)."
        ),
    }
}

/// A fresh prefix per call, so tests sharing a bucket never see each other's keys.
pub fn unique_prefix(test: &str) -> ArtifactPath {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let name: String = test
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    ArtifactPath::parse(format!("tests/{name}-{id}")).expect("generated prefixes are valid")
}

/// A root on the moto S3 server under a fresh prefix.
pub fn s3_root(test: &str) -> StoreRoot {
    let endpoint = require_env(S3_ENDPOINT);
    let bucket = require_env(S3_BUCKET);
    let uri = format!("s3://{bucket}/{}", unique_prefix(test));
    StoreUri::parse(&uri)
        .and_then(|u| {
            u.open_with_options([
                ("aws_endpoint", endpoint.as_str()),
                ("aws_allow_http", "true"),
                ("aws_region", "us-east-1"),
                ("aws_access_key_id", "test"),
                ("aws_secret_access_key", "test"),
                ("aws_virtual_hosted_style_request", "false"),
            ])
        })
        .unwrap_or_else(|e| panic!("cannot open {uri} at {endpoint}: {e}"))
}

/// A root on the Azurite blob server under a fresh prefix. object_store reads the emulator's
/// address from `AZURITE_BLOB_STORAGE_URL`, which the test script exports too.
pub fn azure_root(test: &str) -> StoreRoot {
    let endpoint = require_env(AZURE_ENDPOINT);
    let from_env = std::env::var("AZURITE_BLOB_STORAGE_URL").unwrap_or_default();
    assert_eq!(
        from_env, endpoint,
        "AZURITE_BLOB_STORAGE_URL must equal {AZURE_ENDPOINT}; scripts/test.sh sets both"
    );
    let container = require_env(AZURE_CONTAINER);
    let uri = format!("az://{container}/{}", unique_prefix(test));
    StoreUri::parse(&uri)
        .and_then(|u| u.open_with_options([("azure_storage_use_emulator", "true")]))
        .unwrap_or_else(|e| panic!("cannot open {uri} at {endpoint}: {e}"))
}
