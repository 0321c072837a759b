//! Leases: who is writing a run (`runs/<id>/lease.json`), so that a run left `RUNNING` by a
//! process that died can be found and marked `KILLED`.
//!
//! The lease holds the writer's pid, host, boot id and process start time, and when it was
//! last renewed. It is replaced atomically on every renewal. A run is stale when its writer
//! ran on this host (same boot) and that process is gone (or its pid now belongs to another
//! process), or, when that cannot be checked, when the lease was not renewed for `max_age`.

use std::time::Duration;

use futures::StreamExt;
use mlops_core::{ExperimentId, RunId, RunStatus, Timestamp};
use serde::{Deserialize, Serialize};

use super::records::{RunOp, decode_lease, encode_lease};
use super::run_state::RunState;
use super::runs::Fresh;
use super::{Inner, limits};
use crate::error::{Result, TrackError};

/// Who writes a run, as recorded in its lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Lease {
    /// The writer's process id.
    pub pid: u32,
    /// The writer's host name.
    pub host: String,
    /// The host's boot id (Linux), which tells a reboot from a live process.
    #[serde(default)]
    pub boot_id: Option<String>,
    /// The writer's start time in clock ticks since boot (Linux), which tells a reused pid
    /// from the writer.
    #[serde(default)]
    pub process_start: Option<u64>,
    /// When this writer first took the lease.
    pub since: Timestamp,
    /// When it last renewed it.
    pub renewed: Timestamp,
}

/// Why a run counts as stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StaleReason {
    /// Its writer ran on this host and has exited.
    WriterExited,
    /// Its lease was not renewed for longer than the allowed age.
    LeaseExpired,
    /// It has no lease, and started longer ago than the allowed age.
    NoLease,
}

impl StaleReason {
    /// The reason as the `mlops.stale` tag spells it: `writer-exited`, `lease-expired`,
    /// `no-lease`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WriterExited => "writer-exited",
            Self::LeaseExpired => "lease-expired",
            Self::NoLease => "no-lease",
        }
    }
}

/// The tag [`LocalStore::mark_stale_runs`](super::LocalStore::mark_stale_runs) sets on the
/// runs it ends: why the run was found stale.
pub const STALE_TAG: &str = "mlops.stale";

/// A run left `RUNNING` by a writer that is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StaleRun {
    /// The run.
    pub run_id: RunId,
    /// Its experiment.
    pub experiment_id: ExperimentId,
    /// Its lease, if any.
    pub lease: Option<Lease>,
    /// Why it is stale.
    pub reason: StaleReason,
    /// When its writer was last seen (lease renewal, or the start time without a lease).
    pub last_seen: Timestamp,
}

/// This process, as leases record it.
#[derive(Clone, Debug)]
pub(crate) struct HostInfo {
    pid: u32,
    host: String,
    boot_id: Option<String>,
    process_start: Option<u64>,
}

impl HostInfo {
    pub(crate) fn current() -> Self {
        let pid = std::process::id();
        Self {
            pid,
            host: host_name(),
            boot_id: boot_id(),
            process_start: process_start(pid),
        }
    }

    /// Whether the writer of `lease` is alive: `Some` when this host can tell.
    fn writer_alive(&self, lease: &Lease) -> Option<bool> {
        if lease.host != self.host || self.boot_id.is_none() {
            return None;
        }
        if lease.boot_id != self.boot_id {
            // Same host, another boot: every process of that boot is gone.
            return Some(false);
        }
        if lease.pid == self.pid {
            return Some(lease.process_start == self.process_start);
        }
        match process_start(lease.pid) {
            None => Some(false),
            Some(start) => Some(lease.process_start.is_none_or(|s| s == start)),
        }
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn host_name() -> String {
    read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| read_trimmed("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .or_else(|| std::env::var("COMPUTERNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

fn boot_id() -> Option<String> {
    read_trimmed("/proc/sys/kernel/random/boot_id")
}

/// A live (not zombie) process's start time in ticks since boot, from `/proc/<pid>/stat`.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; fields after it do not.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); start time is field 22.
    if matches!(fields.first(), Some(&("Z" | "X" | "x"))) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

impl Inner {
    /// Writes the lease of a run now (best effort: a failure is logged, not returned, because
    /// the write that triggered it succeeded).
    pub(crate) async fn renew_lease(&self, run: &RunId, st: &mut RunState) {
        let now = Timestamp::now();
        let lease = Lease {
            pid: self.host.pid,
            host: self.host.host.clone(),
            boot_id: self.host.boot_id.clone(),
            process_start: self.host.process_start,
            since: *st.lease_since.get_or_insert(now),
            renewed: now,
        };
        let key = self.keys.lease(run);
        match self.put_replace(&key, encode_lease(&lease).into()).await {
            Ok(()) => st.lease_renewed = Some(std::time::Instant::now()),
            Err(e) => tracing::warn!(run = %run, error = %e, "could not renew a run's lease"),
        }
    }

    /// Renews the lease if this process has not done so within the lease interval.
    pub(crate) async fn renew_lease_if_due(&self, run: &RunId, st: &mut RunState) {
        let due = st
            .lease_renewed
            .is_none_or(|t| t.elapsed() >= self.options.lease_interval);
        if due {
            self.renew_lease(run, st).await;
        }
    }

    pub(crate) async fn heartbeat(&self, run: &RunId) -> Result<()> {
        let slot = self.run_slot(run);
        let mut st = slot.state.lock().await;
        self.load_run(run, &mut st, Fresh::Recent).await?;
        self.renew_lease(run, &mut st).await;
        Ok(())
    }

    pub(crate) async fn read_lease(&self, run: &RunId) -> Result<Option<Lease>> {
        let key = self.keys.lease(run);
        let read = self.get_unlisted_opt(&key, "a lease", limits::SMALL).await;
        let bytes = match read {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(None),
            // A linked or oversized lease is damage, ignored as an unreadable one is.
            Err(e @ (TrackError::Corrupt { .. } | TrackError::TooLarge { .. })) => {
                self.note_damage(key.as_ref(), &e.to_string());
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        match decode_lease(&bytes) {
            Ok(lease) => Ok(Some(lease)),
            Err(e) => {
                tracing::warn!(key = %key, error = %e, "ignoring an unreadable lease");
                Ok(None)
            }
        }
    }

    /// Whether one run is stale, and why.
    pub(crate) async fn stale_run(
        &self,
        run: RunId,
        max_age: Duration,
    ) -> Result<Option<StaleRun>> {
        let (experiment_id, start_time) = {
            let slot = self.run_slot(&run);
            let mut st = slot.state.lock().await;
            self.load_run(&run, &mut st, Fresh::Meta).await?;
            match st.meta.as_ref() {
                Some(meta) if meta.status == RunStatus::Running => {
                    (meta.experiment_id.clone(), meta.start_time)
                }
                _ => return Ok(None),
            }
        };
        let lease = self.read_lease(&run).await?;
        let now = Timestamp::now().as_millis();
        let old = |t: Timestamp| {
            u128::try_from(now.saturating_sub(t.as_millis())).unwrap_or(0) > max_age.as_millis()
        };
        let (reason, last_seen) = match &lease {
            Some(lease) => match self.host.writer_alive(lease) {
                Some(true) => return Ok(None),
                Some(false) => (StaleReason::WriterExited, lease.renewed),
                None if old(lease.renewed) => (StaleReason::LeaseExpired, lease.renewed),
                None => return Ok(None),
            },
            None if old(start_time) => (StaleReason::NoLease, start_time),
            None => return Ok(None),
        };
        Ok(Some(StaleRun {
            run_id: run,
            experiment_id,
            lease,
            reason,
            last_seen,
        }))
    }

    pub(crate) async fn stale_runs(&self, max_age: Duration) -> Result<Vec<StaleRun>> {
        let ids = self.all_run_ids().await?;
        let results: Vec<Result<Option<StaleRun>>> = futures::stream::iter(ids)
            .map(|id| self.stale_run(id, max_age))
            .buffer_unordered(self.options.concurrency)
            .collect()
            .await;
        let mut stale = Vec::new();
        for result in results {
            match result {
                Ok(Some(run)) => stale.push(run),
                Ok(None) => {}
                Err(crate::error::TrackError::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "skipping an unreadable run while looking for stale runs");
                }
            }
        }
        stale.sort_by(|a, b| a.run_id.cmp(&b.run_id));
        Ok(stale)
    }

    pub(crate) async fn mark_stale_runs(
        &self,
        max_age: Duration,
        status: RunStatus,
    ) -> Result<Vec<StaleRun>> {
        if !matches!(status, RunStatus::Killed | RunStatus::Failed) {
            return Err(crate::error::TrackError::InvalidArgument(format!(
                "a stale run is marked KILLED or FAILED, not {status}"
            )));
        }
        let mut marked = Vec::new();
        for stale in self.stale_runs(max_age).await? {
            let run = &stale.run_id;
            let slot = self.run_slot(run);
            let mut st = slot.state.lock().await;
            self.load_run(run, &mut st, Fresh::Full).await?;
            let end_time = stale.last_seen;
            let written = self
                .append_run(run, &mut st, |st, _| {
                    // Only a run that is still running (the check and the write are one
                    // step: a writer that finished it meanwhile wins).
                    Ok(st
                        .meta
                        .as_ref()
                        .filter(|m| m.status == RunStatus::Running)
                        .map(|_| RunOp::Update {
                            status: Some(status),
                            end_time: Some(end_time),
                            run_name: None,
                        }))
                })
                .await?;
            if written {
                let tag = mlops_core::Tag::parse(STALE_TAG, stale.reason.as_str())?;
                self.append_run(run, &mut st, |_, _| {
                    Ok(Some(RunOp::Data {
                        params: Vec::new(),
                        tags: vec![tag.clone()],
                    }))
                })
                .await?;
                if let Err(e) = self.compact_locked(run, &mut st, true).await {
                    tracing::warn!(run = %run, error = %e, "could not compact a killed run's metrics");
                }
                marked.push(stale.clone());
            }
        }
        Ok(marked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_pid_is_not() {
        let me = HostInfo::current();
        if me.boot_id.is_none() {
            return; // not Linux: liveness cannot be checked
        }
        let lease = Lease {
            pid: me.pid,
            host: me.host.clone(),
            boot_id: me.boot_id.clone(),
            process_start: me.process_start,
            since: Timestamp::EPOCH,
            renewed: Timestamp::EPOCH,
        };
        assert_eq!(me.writer_alive(&lease), Some(true));
        let reused = Lease {
            process_start: me.process_start.map(|s| s + 1),
            ..lease.clone()
        };
        assert_eq!(me.writer_alive(&reused), Some(false));
        let rebooted = Lease {
            boot_id: Some("another boot".into()),
            ..lease.clone()
        };
        assert_eq!(me.writer_alive(&rebooted), Some(false));
        let elsewhere = Lease {
            host: "some-other-host".into(),
            ..lease
        };
        assert_eq!(me.writer_alive(&elsewhere), None);
    }
}
