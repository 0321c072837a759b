//! Helpers shared by the two test binaries (`tests.rs`, the pure tests; `services.rs`, the
//! tests that need MLflow, moto or Azurite), so a service test reuses a pure test's fixture
//! without the pure binary depending on a service.

pub(crate) mod conformance;
pub(crate) mod index;
pub(crate) mod lineage;
pub(crate) mod listing;
pub(crate) mod offline;

use mlops_core::{Metric, MetricKey, Timestamp};

/// A fixed instant (2023-11-14) that test timestamps count from.
pub(crate) const T0: i64 = 1_700_000_000_000;

/// A point of `key` at `step`, timestamped `T0 + step` ms.
pub(crate) fn point(key: &str, value: f64, step: i64) -> Metric {
    Metric::new(
        MetricKey::parse(key).unwrap(),
        value,
        Timestamp::from_millis(T0 + step).unwrap(),
        step,
    )
}
