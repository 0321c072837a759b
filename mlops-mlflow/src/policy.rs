//! [`Policy`]: the deadlines and retries of a client, and [`Idempotency`]: which calls may
//! be sent again when their outcome is unknown.

use std::time::Duration;

use mlops_core::Backoff;

/// Whether a request may be sent again when its outcome is unknown (a timeout, a dropped
/// connection, a 5xx).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// Applying it twice is the same as once (reads, sets, updates, deletes): retried on
    /// any transient failure.
    Idempotent,
    /// Applying it twice differs from once (creates): retried only when it certainly did
    /// not reach the server; otherwise the error says it may have been applied.
    NotIdempotent,
}

/// The deadlines and retries of a [`RestClient`](crate::RestClient), set by its
/// [builder](crate::RestClientBuilder).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub(crate) timeout: Duration,
    pub(crate) artifact_timeout: Duration,
    pub(crate) max_retries: u32,
    pub(crate) backoff: Backoff,
}

impl Default for Policy {
    /// MLflow's own request timeout (120 s), 600 s for artifact transfers, 8 retries after
    /// 250 ms doubling up to 16 s: about 40 s of retrying, enough to ride out a server
    /// restart.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(120),
            artifact_timeout: Duration::from_secs(600),
            max_retries: 8,
            backoff: Backoff::exponential(Duration::from_millis(250), Duration::from_secs(16)),
        }
    }
}

impl Policy {
    /// The deadline of one call, all its attempts included.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The deadline of one artifact upload or download, all its attempts included.
    pub fn artifact_timeout(&self) -> Duration {
        self.artifact_timeout
    }

    /// Attempts after the first one of a failed call.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The pauses between attempts, without jitter; the client adds equal jitter to the
    /// pauses between the attempts of one call, so that many clients spread out.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }
}
