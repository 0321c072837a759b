//! The memory budget shared by all request bodies in flight: a semaphore counted in KiB.
//!
//! The body limit bounds one request; without a budget, many concurrent requests each near
//! the limit add up to gigabytes. A request reserves what it may hold before reading its
//! body (the declared length, or the limit when unknown, plus the limit again when the body
//! is compressed), waits briefly when the budget is taken, and is answered 503 past that.
//! The reservation is released when the received bytes are dropped.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

/// The default budget: 256 MiB, 16 bodies at the default 16 MiB limit.
pub const DEFAULT_BODY_BUDGET: usize = 256 * 1024 * 1024;

/// How long a request waits for the budget before 503: long enough to absorb a burst, short
/// enough that a client retries instead of piling up.
const WAIT: Duration = Duration::from_secs(1);

/// The budget, in KiB permits.
#[derive(Debug)]
pub(crate) struct BodyBudget {
    bytes: usize,
    permits: Arc<Semaphore>,
}

impl BodyBudget {
    pub(crate) fn new(bytes: usize) -> Self {
        Self {
            bytes,
            permits: Arc::new(Semaphore::new(kib(bytes).min(Semaphore::MAX_PERMITS))),
        }
    }

    /// Reserves `bytes` (at most the whole budget), waiting at most [`WAIT`].
    pub(crate) async fn reserve(&self, bytes: usize) -> Result<Reservation> {
        let wanted = kib(bytes.min(self.bytes)).max(1);
        let wanted = u32::try_from(wanted).unwrap_or(u32::MAX);
        let acquire = Arc::clone(&self.permits).acquire_many_owned(wanted);
        match super::bound::within(WAIT, acquire).await {
            Ok(Ok(permit)) => Ok(Reservation(permit)),
            // The semaphore is never closed; a timeout is the busy case.
            Ok(Err(_)) | Err(_) => Err(Error::BodyBudgetExhausted { budget: self.bytes }),
        }
    }
}

/// A part of the budget, released on drop.
#[derive(Debug)]
pub(crate) struct Reservation(#[allow(dead_code)] OwnedSemaphorePermit);

/// A received body and the budget it holds until dropped.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) bytes: Bytes,
    pub(crate) _reservation: Reservation,
}

impl Deref for Received {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Bytes to whole KiB, rounded up.
fn kib(bytes: usize) -> usize {
    bytes.div_ceil(1024)
}
