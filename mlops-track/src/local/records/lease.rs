//! A run's lease (`runs/<id>/lease.json`) as stored, apart from the public [`Lease`] that
//! `LocalStore::lease` returns.

use mlops_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::local::Lease;

#[derive(Serialize, Deserialize)]
pub(super) struct LeaseRecord {
    pid: u32,
    host: String,
    #[serde(default)]
    boot_id: Option<String>,
    #[serde(default)]
    process_start: Option<u64>,
    since: Timestamp,
    renewed: Timestamp,
}

impl From<&Lease> for LeaseRecord {
    fn from(l: &Lease) -> Self {
        Self {
            pid: l.pid,
            host: l.host.clone(),
            boot_id: l.boot_id.clone(),
            process_start: l.process_start,
            since: l.since,
            renewed: l.renewed,
        }
    }
}

impl From<LeaseRecord> for Lease {
    fn from(r: LeaseRecord) -> Self {
        Self {
            pid: r.pid,
            host: r.host,
            boot_id: r.boot_id,
            process_start: r.process_start,
            since: r.since,
            renewed: r.renewed,
        }
    }
}
