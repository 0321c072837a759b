//! The outbox on the store: an event is written for each target before it is sent, and an
//! acknowledgement after the target accepted it. What has no acknowledgement is sent again
//! (same delivery id) after a restart; a crash between the send and the acknowledgement
//! means one more delivery of the same id, never a lost or a new one.
//!
//! ```text
//! <outbox>/<model>/<event id>/<target id>.json   the event, written first
//! <outbox>/<model>/<event id>/<target id>.ack    written once the target said 2xx
//! ```

use std::collections::BTreeSet;

use futures::TryStreamExt;
use mlops_core::{ArtifactPath, StoreRoot, put_if_absent};
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};

use super::event::TriggerEvent;

/// The largest outbox record read back.
const MAX_RECORD_BYTES: u64 = 1 << 20;

/// A stored delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The target's id ([`super::Target::id`]).
    pub target: String,
    /// The event.
    pub event: TriggerEvent,
}

/// The outbox under a store root (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct Outbox {
    root: StoreRoot,
}

impl Outbox {
    /// The outbox in the folder `root` (it owns the folder).
    pub fn new(root: StoreRoot) -> Self {
        Self { root }
    }

    fn path(event: &TriggerEvent, target: &str, ext: &str) -> Result<ArtifactPath> {
        Ok(ArtifactPath::from_segments([
            event.model.clone(),
            event.id.clone(),
            format!("{target}.{ext}"),
        ])?)
    }

    /// Writes `event` for `target` (nothing when it is there already).
    ///
    /// # Errors
    ///
    /// A store error.
    pub async fn enqueue(&self, event: &TriggerEvent, target: &str) -> Result<()> {
        let delivery = Delivery {
            target: target.to_owned(),
            event: event.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&delivery)
            .map_err(|e| MonitorError::encode("outbox record", e))?;
        let key = self.root.key(&Self::path(event, target, "json")?);
        put_if_absent(self.root.store().as_ref(), &key, bytes)
            .await
            .map_err(|e| MonitorError::store(&key, e))?;
        Ok(())
    }

    /// Records that `target` accepted `event`.
    ///
    /// # Errors
    ///
    /// A store error.
    pub async fn acknowledge(&self, event: &TriggerEvent, target: &str) -> Result<()> {
        let key = self.root.key(&Self::path(event, target, "ack")?);
        let stamp = mlops_core::Timestamp::now().to_string();
        put_if_absent(self.root.store().as_ref(), &key, stamp)
            .await
            .map_err(|e| MonitorError::store(&key, e))?;
        Ok(())
    }

    /// Every stored delivery, and whether it was acknowledged, oldest event first.
    ///
    /// # Errors
    ///
    /// A store error, or a record that is not one (naming it).
    pub async fn deliveries(&self) -> Result<Vec<(Delivery, bool)>> {
        let prefix = self.root.prefix().clone();
        let objects: Vec<object_store::ObjectMeta> = self
            .root
            .store()
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| MonitorError::store(&prefix, e))?;
        let acks: BTreeSet<String> = objects
            .iter()
            .filter_map(|o| o.location.as_ref().strip_suffix(".ack").map(str::to_owned))
            .collect();
        let mut out = Vec::new();
        for meta in &objects {
            let Some(stem) = meta.location.as_ref().strip_suffix(".json") else {
                continue;
            };
            let key = meta.location.to_string();
            if meta.size > MAX_RECORD_BYTES {
                return Err(MonitorError::Corrupt {
                    key,
                    reason: format!("{} bytes, over {MAX_RECORD_BYTES}", meta.size),
                });
            }
            let bytes = self
                .root
                .store()
                .get(&meta.location)
                .await
                .map_err(|e| MonitorError::store(&meta.location, e))?
                .bytes()
                .await
                .map_err(|e| MonitorError::store(&meta.location, e))?;
            let delivery: Delivery =
                serde_json::from_slice(&bytes).map_err(|e| MonitorError::Corrupt {
                    key: key.clone(),
                    reason: e.to_string(),
                })?;
            out.push((delivery, acks.contains(stem)));
        }
        out.sort_by(|a, b| (a.0.event.time, &a.0.event.id).cmp(&(b.0.event.time, &b.0.event.id)));
        Ok(out)
    }
}
