#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of mlops-registry against real services (feature `service-tests`):
//! an MLflow server and MLflow's Python client, S3 on moto, Azure Blob on Azurite.
//! `scripts/test.sh` starts them and exports their addresses (`MLOPS_TEST_*`); a missing
//! one fails its tests loudly, never skips them.
//!
//! ```text
//! MLOPS_VENV_DIR=/work/main/.venv scripts/test.sh --services-only -- \
//!     cargo test -p mlops-registry --features service-tests --test services
//! ```

mod cloud;
mod conformance_macro;
mod hole_window;
mod mlflow;
mod mlflow_interop;
mod multiprocess;
mod util;
