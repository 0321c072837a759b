//! Automatic rollback: a version that just took over (a new stable version, or a canary) is
//! on trial until it has answered the policy's minimum number of requests, then judged on
//! its 5xx share and its p99 latency against a reference (see [`super::RollbackPolicy`]).

use std::sync::Arc;

use super::Rollout;
use super::task::Watcher;
use crate::stats::Counts;

/// A version on trial for automatic rollback: its traffic since `baseline`, against a
/// reference.
pub(super) struct Probation {
    version: String,
    baseline: Counts,
    reference: Reference,
}

/// What a version on trial is compared with.
enum Reference {
    /// The previous stable version's traffic over its whole time in the table, frozen at the
    /// swap (a new stable version; it is the one rolled back to).
    Previous { version: String, counts: Counts },
    /// The stable version's traffic over the same window (a canary).
    Stable { version: String, baseline: Counts },
}

impl Watcher {
    /// Puts a version that just took over on trial, when automatic rollback is on.
    pub(super) fn start_probation(&mut self, version: &str) {
        if self.options.rollback.is_none() {
            return;
        }
        let Some(baseline) = self.table.counts(&self.name, version) else {
            return;
        };
        let reference = match self.options.rollout {
            Rollout::Stable => {
                let Some(previous) = self.previous.clone() else {
                    return;
                };
                let Some(counts) = self.table.counts(&self.name, &previous) else {
                    return;
                };
                Reference::Previous {
                    version: previous,
                    counts,
                }
            }
            Rollout::Canary(_) => {
                let Some(stable) = self.table.default_version(&self.name) else {
                    return;
                };
                let Some(baseline) = self.table.counts(&self.name, &stable) else {
                    return;
                };
                Reference::Stable {
                    version: stable,
                    baseline,
                }
            }
            Rollout::Shadow(_) => return,
        };
        self.probation = Some(Probation {
            version: version.to_owned(),
            baseline,
            reference,
        });
    }

    /// Judges the version on trial once it has had enough traffic: a bad canary gets 0 %, a
    /// bad stable version is rolled back in the source (conditionally: if the alias still
    /// names it).
    pub(super) async fn judge(&mut self) {
        let (Some(policy), Some(probation)) = (self.options.rollback, &self.probation) else {
            return;
        };
        let Some(now) = self.table.counts(&self.name, &probation.version) else {
            self.probation = None;
            return;
        };
        let seen = now.since(&probation.baseline);
        if seen.requests < policy.min_requests {
            return;
        }
        let (reference_version, reference) = match &probation.reference {
            Reference::Previous { version, counts } => (version.clone(), Some(counts.clone())),
            Reference::Stable { version, baseline } => (
                version.clone(),
                self.table
                    .counts(&self.name, version)
                    .map(|c| c.since(baseline)),
            ),
        };
        let reference_p99 = reference.as_ref().and_then(Counts::p99);
        let verdict = if seen.error_share() > policy.max_error_share {
            Some((
                "errors",
                format!(
                    "{:.1} % of {} requests answered 5xx (limit {:.1} %)",
                    seen.error_share() * 100.0,
                    seen.requests,
                    policy.max_error_share * 100.0
                ),
            ))
        } else if let (Some(p99), Some(limit)) = (seen.p99(), reference_p99)
            && p99.as_secs_f64() > limit.as_secs_f64() * policy.max_p99_ratio
        {
            Some((
                "latency",
                format!(
                    "p99 {:?} over {} requests, above {} × version {reference_version}'s {limit:?}",
                    p99, seen.requests, policy.max_p99_ratio
                ),
            ))
        } else {
            None
        };
        let version = probation.version.clone();
        self.probation = None;
        let Some((reason, detail)) = verdict else {
            tracing::info!(model = %self.name, version = %version, requests = seen.requests, "passed the automatic rollback checks");
            return;
        };
        let metrics = Arc::clone(self.table.metrics());
        match self.options.rollout {
            Rollout::Canary(_) => {
                let name = self.name.clone();
                let result = self
                    .table
                    .edit(|table| table.set_canary(&name, Some((version.as_str(), 0.0))));
                match result {
                    Ok(()) => {
                        metrics.rollback(&self.name, &version, "canary", reason);
                        tracing::warn!(model = %self.name, version = %version, %detail, "canary rolled back to 0 %");
                    }
                    Err(error) => {
                        tracing::warn!(model = %self.name, %error, "cannot stop the canary");
                    }
                }
            }
            _ => {
                let note = format!(
                    "automatic rollback by mlops serve: version {version} {detail}; back to version {reference_version}"
                );
                let moved = self
                    .source
                    .move_alias(
                        &self.name,
                        self.alias(),
                        &reference_version,
                        &version,
                        &note,
                    )
                    .await;
                match moved {
                    Ok(()) => {
                        metrics.rollback(&self.name, &version, "stable", reason);
                        tracing::warn!(model = %self.name, alias = self.alias(), from = %version, to = %reference_version, %detail, "rolled back in the registry");
                    }
                    // Another replica moved it first, or a person moved it on: nothing to do.
                    Err(error) => {
                        tracing::warn!(model = %self.name, %error, "the alias was not moved back");
                    }
                }
            }
        }
    }
}
