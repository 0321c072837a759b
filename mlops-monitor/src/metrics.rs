//! Prometheus families of the monitor (prometheus-client), one series per model version and
//! feature, never per window:
//!
//! | family | type | labels | value |
//! | --- | --- | --- | --- |
//! | `mlops_drift_share` | gauge | `model`, `version` | the last window's share of drifted features |
//! | `mlops_drift_dataset_drift` | gauge | `model`, `version` | 1 when the last window drifted as a dataset, else 0 |
//! | `mlops_drift_score` | gauge | `model`, `version`, `feature`, `test` | the last window's score (what the verdict compares with the threshold: the p-value of `ks`, `chisquare`, `z`, else the distance) |
//! | `mlops_drift_p_value` | gauge | `model`, `version`, `feature`, `test` | the p-value, for tests that have one |
//! | `mlops_drift_feature_drifted` | gauge | `model`, `version`, `feature` | 1 when the feature drifted in the last window |
//! | `mlops_monitor_rows_total` | counter | `model`, `version` | rows taken into windows |
//! | `mlops_monitor_windows_total` | counter | `model`, `version` | windows closed |
//! | `mlops_monitor_dropped_total` | counter | `model`, `version` | observations dropped (queue full, or not mappable) |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::window::{VersionKey, WindowReport};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    model: String,
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeatureLabels {
    model: String,
    version: String,
    feature: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TestLabels {
    model: String,
    version: String,
    feature: String,
    test: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The monitor's metric families (see the [module docs](self)).
#[derive(Debug)]
pub struct MonitorMetrics {
    registry: Registry,
    share: Family<VersionLabels, FloatGauge>,
    dataset: Family<VersionLabels, Gauge>,
    score: Family<TestLabels, FloatGauge>,
    p_value: Family<TestLabels, FloatGauge>,
    drifted: Family<FeatureLabels, Gauge>,
    rows: Family<VersionLabels, Counter>,
    windows: Family<VersionLabels, Counter>,
    dropped: Family<VersionLabels, Counter>,
}

impl Default for MonitorMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl MonitorMetrics {
    /// Empty families, registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let share = Family::<VersionLabels, FloatGauge>::default();
        let dataset = Family::<VersionLabels, Gauge>::default();
        let score = Family::<TestLabels, FloatGauge>::default();
        let p_value = Family::<TestLabels, FloatGauge>::default();
        let drifted = Family::<FeatureLabels, Gauge>::default();
        let rows = Family::<VersionLabels, Counter>::default();
        let windows = Family::<VersionLabels, Counter>::default();
        let dropped = Family::<VersionLabels, Counter>::default();
        registry.register(
            "mlops_drift_share",
            "Share of drifted features in the last closed window",
            share.clone(),
        );
        registry.register(
            "mlops_drift_dataset_drift",
            "1 when the last closed window drifted as a dataset",
            dataset.clone(),
        );
        registry.register(
            "mlops_drift_score",
            "Drift score of a feature's test in the last closed window (p-value or distance)",
            score.clone(),
        );
        registry.register(
            "mlops_drift_p_value",
            "P-value of a feature's test in the last closed window",
            p_value.clone(),
        );
        registry.register(
            "mlops_drift_feature_drifted",
            "1 when the feature drifted in the last closed window",
            drifted.clone(),
        );
        registry.register(
            "mlops_monitor_rows",
            "Rows taken into drift windows",
            rows.clone(),
        );
        registry.register(
            "mlops_monitor_windows",
            "Drift windows closed",
            windows.clone(),
        );
        registry.register(
            "mlops_monitor_dropped",
            "Observations dropped (queue full or not mappable to features)",
            dropped.clone(),
        );
        Self {
            registry,
            share,
            dataset,
            score,
            p_value,
            drifted,
            rows,
            windows,
            dropped,
        }
    }

    fn labels(key: &VersionKey) -> VersionLabels {
        VersionLabels {
            model: key.model.clone(),
            version: key.version.clone(),
        }
    }

    /// Counts rows taken into windows.
    pub fn rows(&self, key: &VersionKey, rows: u64) {
        self.rows.get_or_create(&Self::labels(key)).inc_by(rows);
    }

    /// Counts dropped observations.
    pub fn dropped(&self, key: &VersionKey, count: u64) {
        self.dropped.get_or_create(&Self::labels(key)).inc_by(count);
    }

    /// The rows counter of `key`, to count without looking the series up each time (a
    /// handle on the same series [`MonitorMetrics::rows`] counts).
    pub(crate) fn rows_counter(&self, key: &VersionKey) -> Counter {
        self.rows.get_or_create(&Self::labels(key)).clone()
    }

    /// The dropped counter of `key` (as [`MonitorMetrics::rows_counter`]).
    pub(crate) fn dropped_counter(&self, key: &VersionKey) -> Counter {
        self.dropped.get_or_create(&Self::labels(key)).clone()
    }

    /// Dropped observations so far for `key`.
    pub fn dropped_total(&self, key: &VersionKey) -> u64 {
        self.dropped.get_or_create(&Self::labels(key)).get()
    }

    /// Sets the gauges from a closed window and counts it.
    pub fn window(&self, window: &WindowReport) {
        let labels = Self::labels(&window.key);
        self.windows.get_or_create(&labels).inc();
        let dataset = &window.report.dataset;
        self.share.get_or_create(&labels).set(dataset.share_drifted);
        self.dataset
            .get_or_create(&labels)
            .set(i64::from(dataset.dataset_drift));
        for column in &window.report.columns {
            let feature = FeatureLabels {
                model: labels.model.clone(),
                version: labels.version.clone(),
                feature: column.column.clone(),
            };
            self.drifted
                .get_or_create(&feature)
                .set(i64::from(column.drifted));
            for result in &column.results {
                let test = TestLabels {
                    model: labels.model.clone(),
                    version: labels.version.clone(),
                    feature: column.column.clone(),
                    test: result.test.name().to_owned(),
                };
                self.score.get_or_create(&test).set(result.score);
                if let Some(p) = result.p_value {
                    self.p_value.get_or_create(&test).set(p);
                }
            }
        }
    }

    /// Removes the series of a version no longer served.
    pub fn forget(&self, key: &VersionKey) {
        let labels = Self::labels(key);
        for family in [&self.rows, &self.windows, &self.dropped] {
            family.remove(&labels);
        }
        self.share.remove(&labels);
        self.dataset.remove(&labels);
        // Feature series: without a listing API, they stay until the process ends; they
        // are bounded by the features of the versions served.
    }

    /// The OpenMetrics 1.0 text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(4096);
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// The Prometheus text format 0.0.4 (what `promtool check metrics` reads, and what can
    /// be appended to another exposition in that format): counter families named by their
    /// `_total` samples, no `# EOF` or `# UNIT` lines.
    pub fn encode_prometheus(&self) -> String {
        let openmetrics = self.encode();
        let counters: Vec<&str> = openmetrics
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|rest| rest.strip_suffix(" counter"))
            .collect();
        let mut out = String::with_capacity(openmetrics.len() + 64);
        for line in openmetrics.lines() {
            if line == "# EOF" || line.starts_with("# UNIT ") {
                continue;
            }
            let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
                let rest = line.strip_prefix(prefix)?;
                let (name, tail) = rest.split_once(' ')?;
                counters
                    .contains(&name)
                    .then(|| format!("{prefix}{name}_total {tail}"))
            });
            out.push_str(renamed.as_deref().unwrap_or(line));
            out.push('\n');
        }
        out
    }
}
