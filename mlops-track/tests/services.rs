#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of mlops-track against the services `scripts/test.sh` starts: a real
//! MLflow server with its Python client, S3 on moto and Azure Blob on Azurite
//! (`MLOPS_TEST_*`). Built only with the feature `service-tests`; without the services they
//! fail loudly (`require_env`), never skip.

mod support;

#[path = "services/cloud.rs"]
mod cloud;
#[path = "services/mlflow_backend.rs"]
mod mlflow_backend;
#[path = "services/mlflow_dataset.rs"]
mod mlflow_dataset;
#[path = "services/mlflow_sync.rs"]
mod mlflow_sync;
