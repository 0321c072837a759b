//! Prometheus metrics (`GET /metrics`), with `prometheus-client`.
//!
//! | family | type | labels |
//! | --- | --- | --- |
//! | `mlops_serve_requests_total` | counter | `model`, `version`, `outcome` |
//! | `mlops_serve_queue_seconds` | histogram | `model`, `version` |
//! | `mlops_serve_inference_seconds` | histogram | `model`, `version` |
//! | `mlops_serve_request_seconds` | histogram | `model`, `version` |
//! | `mlops_serve_batch_size` | histogram | `model`, `version` |
//! | `mlops_serve_in_flight` | gauge | `model`, `version` |
//!
//! | `mlops_serve_observer_panics_total` | counter | |
//!
//! Models that follow a registry alias ([`crate::follow`]) add:
//!
//! | family | type | labels |
//! | --- | --- | --- |
//! | `mlops_serve_model_info` | gauge (1) | `model`, `version`, `alias`, `role` |
//! | `mlops_serve_model_swaps_total` | counter | `model`, `outcome` |
//! | `mlops_serve_swap_seconds` | histogram | `model` |
//! | `mlops_serve_source_errors_total` | counter | `model` |
//! | `mlops_serve_rollbacks_total` | counter | `model`, `version`, `kind`, `reason` |
//! | `mlops_serve_shadow_requests_total` | counter | `model`, `version`, `outcome` |
//! | `mlops_serve_shadow_dropped_total` | counter | `model` |
//! | `mlops_serve_shadow_difference` | histogram | `model`, `version` |
//! | `mlops_serve_shadow_mismatch` | histogram | `model`, `version` |
//!
//! Rollouts: `kind` is `canary` (its share set to 0) or `stable` (the alias moved back in
//! the registry), `reason` `errors` or `latency`. A shadow copy's `outcome` is `answered` or
//! `error`; `dropped` counts copies the full queue refused; `difference` is the mean absolute
//! difference of a copy's numeric outputs from the served ones, `mismatch` the share of its
//! label outputs that differ (their `_sum / _count` is the mean over copies).
//!
//! `role` is `stable` (the alias's version, on the unversioned routes), `previous` (the
//! version it replaced, kept loaded at `/versions/N` for a rollback), `canary` or `shadow`. Swap `outcome` is
//! `success`, `fetch_failed` (download or digest), `load_failed` or `warmup_failed`; a failed
//! swap leaves the old version serving. `swap_seconds` runs from the alias move (as the source
//! records it, else from the poll that saw it) to the new version taking traffic.
//!
//! `outcome` is one of `success`, `invalid` (4xx other than 429), `rejected` (429),
//! `unavailable` (503), `timeout` (504) and `error` (5xx). The handles for each model are
//! resolved once when the model enters the [`crate::ModelTable`], so the request path does no
//! label lookup; a replaced model keeps its series (same labels, same handles), and the series
//! of a name and version that leaves the table are removed, so swapping through many versions
//! keeps the exposition small.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::exponential_buckets;
use prometheus_client::registry::Registry;

use crate::error::Error;

mod histogram;
mod shards;

use histogram::Histogram;
pub(crate) use shards::Sharded;
use shards::{ShardedCounter, ShardedGauge};

/// Labels of per-model series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
    version: String,
}

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    model: String,
    version: String,
    outcome: &'static str,
}

/// Labels of `model_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    model: String,
    version: String,
    alias: String,
    role: &'static str,
}

/// Labels of the swap counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SwapLabels {
    model: String,
    outcome: &'static str,
}

/// Labels of per-name series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NameLabels {
    model: String,
}

/// Labels of the rollback counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RollbackLabels {
    model: String,
    version: String,
    kind: &'static str,
    reason: &'static str,
}

/// Labels of the shadow counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShadowLabels {
    model: String,
    version: String,
    outcome: &'static str,
}

/// The registry and its families.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<OutcomeLabels, ShardedCounter>,
    queue: Family<ModelLabels, Histogram, fn() -> Histogram>,
    inference: Family<ModelLabels, Histogram, fn() -> Histogram>,
    total: Family<ModelLabels, Histogram, fn() -> Histogram>,
    batch: Family<ModelLabels, Histogram, fn() -> Histogram>,
    in_flight: Family<ModelLabels, ShardedGauge>,
    pub(crate) observer_panics: Counter,
    info: Family<InfoLabels, Gauge>,
    swaps: Family<SwapLabels, Counter>,
    swap_seconds: Family<NameLabels, Histogram, fn() -> Histogram>,
    source_errors: Family<NameLabels, Counter>,
    rollbacks: Family<RollbackLabels, Counter>,
    shadow_requests: Family<ShadowLabels, Counter>,
    shadow_dropped: Family<NameLabels, Counter>,
    shadow_difference: Family<ModelLabels, Histogram, fn() -> Histogram>,
    shadow_mismatch: Family<ModelLabels, Histogram, fn() -> Histogram>,
}

fn latency_histogram() -> Histogram {
    // 50 µs .. ~26 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

fn swap_histogram() -> Histogram {
    // 10 ms .. ~330 s.
    Histogram::new(exponential_buckets(0.01, 2.0, 16))
}

fn share_histogram() -> Histogram {
    // 0 (exact agreement) and 0.1 % .. 100 %.
    Histogram::new(std::iter::once(0.0).chain(exponential_buckets(0.001, 2.0, 11)))
}

fn difference_histogram() -> Histogram {
    // 0, then 1e-6 .. ~1e5 by decades.
    Histogram::new(std::iter::once(0.0).chain(exponential_buckets(1e-6, 10.0, 12)))
}

fn batch_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 11))
}

/// Outcomes of a request, for the counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Invalid,
    Rejected,
    Unavailable,
    Timeout,
    Error,
}

impl Outcome {
    const ALL: [Outcome; 6] = [
        Outcome::Success,
        Outcome::Invalid,
        Outcome::Rejected,
        Outcome::Unavailable,
        Outcome::Timeout,
        Outcome::Error,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Invalid => "invalid",
            Outcome::Rejected => "rejected",
            Outcome::Unavailable => "unavailable",
            Outcome::Timeout => "timeout",
            Outcome::Error => "error",
        }
    }

    /// The outcome an error counts as.
    pub(crate) fn of(error: &Error) -> Outcome {
        match error.status().as_u16() {
            429 => Outcome::Rejected,
            503 => Outcome::Unavailable,
            504 => Outcome::Timeout,
            400..=499 => Outcome::Invalid,
            _ => Outcome::Error,
        }
    }
}

/// What a followed version is to its alias, for `model_info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The alias's version: the unversioned routes serve it.
    Stable,
    /// The version it replaced, kept loaded for a rollback.
    Previous,
    /// A canary: a share of the unversioned requests.
    Canary,
    /// A shadow: copies of a share of the unversioned requests.
    Shadow,
}

impl Role {
    fn label(self) -> &'static str {
        match self {
            Role::Stable => "stable",
            Role::Previous => "previous",
            Role::Canary => "canary",
            Role::Shadow => "shadow",
        }
    }
}

/// How a swap attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SwapOutcome {
    /// The new version serves.
    Success,
    /// Its files could not be downloaded or did not match their digests.
    FetchFailed,
    /// The runtime refused the files.
    LoadFailed,
    /// The warm-up inference failed or answered something the metadata does not declare.
    WarmupFailed,
}

impl SwapOutcome {
    const ALL: [SwapOutcome; 4] = [
        SwapOutcome::Success,
        SwapOutcome::FetchFailed,
        SwapOutcome::LoadFailed,
        SwapOutcome::WarmupFailed,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            SwapOutcome::Success => "success",
            SwapOutcome::FetchFailed => "fetch_failed",
            SwapOutcome::LoadFailed => "load_failed",
            SwapOutcome::WarmupFailed => "warmup_failed",
        }
    }
}

/// One model's series, resolved once.
#[derive(Clone, Debug)]
pub(crate) struct ModelMetrics {
    outcomes: [ShardedCounter; 6],
    pub(crate) queue: Histogram,
    pub(crate) inference: Histogram,
    pub(crate) total: Histogram,
    pub(crate) batch: Histogram,
    pub(crate) in_flight: ShardedGauge,
    /// What the rollout checks read (this entry's traffic only).
    pub(crate) stats: std::sync::Arc<crate::stats::Stats>,
}

impl ModelMetrics {
    /// Counts one finished request.
    pub(crate) fn count(&self, outcome: Outcome) {
        let index = Outcome::ALL.iter().position(|&o| o == outcome).unwrap_or(5);
        self.outcomes[index].inc();
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("mlops_serve");
        let requests = Family::<OutcomeLabels, ShardedCounter>::default();
        let queue = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let inference = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let total = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let batch = Family::new_with_constructor(batch_histogram as fn() -> Histogram);
        let in_flight = Family::<ModelLabels, ShardedGauge>::default();
        registry.register(
            "requests",
            "Inference requests by model, version and outcome",
            requests.clone(),
        );
        registry.register(
            "queue_seconds",
            "Time from admission until inference starts",
            queue.clone(),
        );
        registry.register(
            "inference_seconds",
            "Time spent in the model per batch",
            inference.clone(),
        );
        registry.register(
            "request_seconds",
            "Time from the request's arrival to its response",
            total.clone(),
        );
        registry.register(
            "batch_size",
            "Requests per batch handed to the model",
            batch.clone(),
        );
        registry.register(
            "in_flight",
            "Inference requests admitted and not yet answered",
            in_flight.clone(),
        );
        let observer_panics = Counter::default();
        registry.register(
            "observer_panics",
            "Calls to the inference observer that panicked (the requests were answered)",
            observer_panics.clone(),
        );
        let info = Family::<InfoLabels, Gauge>::default();
        registry.register(
            "model_info",
            "Model versions served for an alias (1): the alias's version (role stable) and the one it replaced (role previous)",
            info.clone(),
        );
        let swaps = Family::<SwapLabels, Counter>::default();
        registry.register(
            "model_swaps",
            "Attempts to serve the version an alias moved to, by outcome (a failure keeps the old version serving)",
            swaps.clone(),
        );
        let swap_seconds = Family::new_with_constructor(swap_histogram as fn() -> Histogram);
        registry.register(
            "swap_seconds",
            "Time from an alias move to its version taking traffic",
            swap_seconds.clone(),
        );
        let source_errors = Family::<NameLabels, Counter>::default();
        registry.register(
            "source_errors",
            "Polls of a model source that failed (the served version stays)",
            source_errors.clone(),
        );
        let rollbacks = Family::<RollbackLabels, Counter>::default();
        registry.register(
            "rollbacks",
            "Automatic rollbacks: a canary set to 0 %, or an alias moved back in the registry",
            rollbacks.clone(),
        );
        let shadow_requests = Family::<ShadowLabels, Counter>::default();
        registry.register(
            "shadow_requests",
            "Request copies run on a shadow version, by outcome",
            shadow_requests.clone(),
        );
        let shadow_dropped = Family::<NameLabels, Counter>::default();
        registry.register(
            "shadow_dropped",
            "Request copies for a shadow version dropped because its queue was full",
            shadow_dropped.clone(),
        );
        let shadow_difference =
            Family::new_with_constructor(difference_histogram as fn() -> Histogram);
        registry.register(
            "shadow_difference",
            "Mean absolute difference of a shadow copy's numeric outputs from the served answer",
            shadow_difference.clone(),
        );
        let shadow_mismatch = Family::new_with_constructor(share_histogram as fn() -> Histogram);
        registry.register(
            "shadow_mismatch",
            "Share of a shadow copy's label outputs that differ from the served answer",
            shadow_mismatch.clone(),
        );
        Self {
            registry,
            requests,
            queue,
            inference,
            total,
            batch,
            in_flight,
            observer_panics,
            info,
            swaps,
            swap_seconds,
            source_errors,
            rollbacks,
            shadow_requests,
            shadow_dropped,
            shadow_difference,
            shadow_mismatch,
        }
    }

    /// Marks `version` of `name` as served for `alias` in `role` (`None` removes the series).
    pub(crate) fn set_info(&self, name: &str, version: &str, alias: &str, role: Option<Role>) {
        for each in [Role::Stable, Role::Previous, Role::Canary, Role::Shadow] {
            let labels = InfoLabels {
                model: name.to_owned(),
                version: version.to_owned(),
                alias: alias.to_owned(),
                role: each.label(),
            };
            if role == Some(each) {
                self.info.get_or_create(&labels).set(1);
            } else {
                self.info.remove(&labels);
            }
        }
    }

    /// Counts one swap attempt of `name`.
    pub(crate) fn swap(&self, name: &str, outcome: SwapOutcome) {
        self.swaps
            .get_or_create(&SwapLabels {
                model: name.to_owned(),
                outcome: outcome.label(),
            })
            .inc();
    }

    /// Records the time from an alias move of `name` to serving its version.
    pub(crate) fn swap_time(&self, name: &str, seconds: f64) {
        self.swap_seconds
            .get_or_create(&NameLabels {
                model: name.to_owned(),
            })
            .observe(seconds);
    }

    /// Counts one automatic rollback of `version` of `name`.
    pub(crate) fn rollback(
        &self,
        name: &str,
        version: &str,
        kind: &'static str,
        reason: &'static str,
    ) {
        self.rollbacks
            .get_or_create(&RollbackLabels {
                model: name.to_owned(),
                version: version.to_owned(),
                kind,
                reason,
            })
            .inc();
    }

    /// Counts a shadow copy refused by the full queue.
    pub(crate) fn shadow_dropped(&self, name: &str) {
        self.shadow_dropped
            .get_or_create(&NameLabels {
                model: name.to_owned(),
            })
            .inc();
    }

    fn shadow_count(&self, name: &str, version: &str, outcome: &'static str) {
        self.shadow_requests
            .get_or_create(&ShadowLabels {
                model: name.to_owned(),
                version: version.to_owned(),
                outcome,
            })
            .inc();
    }

    /// Records a shadow copy's answer and how far it was from the served one.
    pub(crate) fn shadow_answered(
        &self,
        name: &str,
        version: &str,
        difference: Option<f64>,
        mismatch: Option<f64>,
    ) {
        self.shadow_count(name, version, "answered");
        let labels = ModelLabels {
            model: name.to_owned(),
            version: version.to_owned(),
        };
        if let Some(difference) = difference {
            self.shadow_difference
                .get_or_create(&labels)
                .observe(difference);
        }
        if let Some(mismatch) = mismatch {
            self.shadow_mismatch
                .get_or_create(&labels)
                .observe(mismatch);
        }
    }

    /// Counts a shadow copy whose inference failed.
    pub(crate) fn shadow_failed(&self, name: &str, version: &str) {
        self.shadow_count(name, version, "error");
    }

    /// Counts one failed poll of `name`'s source.
    pub(crate) fn source_error(&self, name: &str) {
        self.source_errors
            .get_or_create(&NameLabels {
                model: name.to_owned(),
            })
            .inc();
    }

    /// Creates the swap series of `name` at zero, so that a failure shows as a change.
    pub(crate) fn follow_started(&self, name: &str) {
        for outcome in SwapOutcome::ALL {
            drop(self.swaps.get_or_create(&SwapLabels {
                model: name.to_owned(),
                outcome: outcome.label(),
            }));
        }
        drop(self.source_errors.get_or_create(&NameLabels {
            model: name.to_owned(),
        }));
    }

    /// The series of one model (created at zero so they show up before the first request).
    pub(crate) fn model(&self, name: &str, version: Option<&str>) -> ModelMetrics {
        let labels = ModelLabels {
            model: name.to_owned(),
            version: version.unwrap_or("").to_owned(),
        };
        let outcomes = Outcome::ALL.map(|outcome| {
            self.requests
                .get_or_create(&OutcomeLabels {
                    model: labels.model.clone(),
                    version: labels.version.clone(),
                    outcome: outcome.label(),
                })
                .clone()
        });
        ModelMetrics {
            outcomes,
            queue: self.queue.get_or_create(&labels).clone(),
            inference: self.inference.get_or_create(&labels).clone(),
            total: self.total.get_or_create(&labels).clone(),
            batch: self.batch.get_or_create(&labels).clone(),
            in_flight: self.in_flight.get_or_create(&labels).clone(),
            stats: std::sync::Arc::default(),
        }
    }

    /// Removes the series of one model version (it left the table).
    pub(crate) fn forget(&self, name: &str, version: Option<&str>) {
        let labels = ModelLabels {
            model: name.to_owned(),
            version: version.unwrap_or("").to_owned(),
        };
        for outcome in Outcome::ALL {
            self.requests.remove(&OutcomeLabels {
                model: labels.model.clone(),
                version: labels.version.clone(),
                outcome: outcome.label(),
            });
        }
        self.queue.remove(&labels);
        self.inference.remove(&labels);
        self.total.remove(&labels);
        self.batch.remove(&labels);
        self.in_flight.remove(&labels);
    }

    /// The OpenMetrics 1.0 text exposition.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::with_capacity(8192);
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// The Prometheus text format 0.0.4 (what `promtool check metrics` and older scrapers
    /// read): the OpenMetrics text with counter families named by their `_total` samples,
    /// and no `# EOF` or `# UNIT` lines.
    pub(crate) fn encode_prometheus(&self) -> String {
        to_prometheus_text(&self.encode())
    }
}

/// Rewrites an OpenMetrics exposition as Prometheus text 0.0.4.
fn to_prometheus_text(openmetrics: &str) -> String {
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
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}
