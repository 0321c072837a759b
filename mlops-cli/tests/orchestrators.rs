//! The templates of `templates/` run by the real orchestrators, with the freshly built `mlops`
//! command and `taxi_fare` example (feature `service-tests`; scripts/test.sh provides the
//! tools and fails loudly without them):
//!
//! - Airflow 3 (`MLOPS_TEST_VENV_AIRFLOW`): `airflow dags test` of `weekly_retrain` twice
//!   (first run promotes, second on worse data skips promote and deploy through exit 99);
//!   `drift_retrain` started by an asset event our `drift` step posts to the running API
//!   server of scripts/svc/airflow.sh (`MLOPS_TEST_AIRFLOW_URL`, `_TOKEN`, `_WORKDIR`).
//!
//! The orchestrators are heavy for 2 cores: the tests take turns (one lock).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "orchestrators/airflow.rs"]
mod airflow;
#[path = "orchestrators/support.rs"]
mod support;
