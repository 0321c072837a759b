//! Time bounds that cost nothing when the work is already done.
//!
//! `tokio::time::timeout` builds a timer entry on every call (a clock read, a handle to
//! the runtime) and takes the runtime's one timer lock when it drops the entry, even when the
//! future was ready at its first poll and no timer was ever registered (tokio 1.5x:
//! `TimerEntry::cancel` always calls `clear_entry`). On the request path the body is usually
//! buffered already, a budget permit free and a small model done within its first poll, so
//! that was four clock reads and four turns of a lock shared by every worker thread per
//! request, for timers that never ran. These poll the future once first and build the timer
//! only when it has to wait; the bound is the same.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;
use tokio::time::error::Elapsed;

/// `fut`, or [`Elapsed`] when it is still pending `timeout` after it first had to wait.
pub(crate) async fn within<F: Future>(timeout: Duration, fut: F) -> Result<F::Output, Elapsed> {
    let mut fut = std::pin::pin!(fut);
    match poll_once(fut.as_mut()).await {
        Some(output) => Ok(output),
        None => tokio::time::timeout(timeout, fut).await,
    }
}

/// `fut`, or [`Elapsed`] when it is still pending at `deadline`.
pub(crate) async fn until<F: Future>(deadline: Instant, fut: F) -> Result<F::Output, Elapsed> {
    let mut fut = std::pin::pin!(fut);
    match poll_once(fut.as_mut()).await {
        Some(output) => Ok(output),
        None => tokio::time::timeout_at(deadline, fut).await,
    }
}

/// Polls `fut` once: its output if it is ready (its waker registered otherwise).
pub(crate) async fn poll_once<F: Future>(mut fut: Pin<&mut F>) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        Poll::Ready(match fut.as_mut().poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_ready_future_needs_no_timer_and_a_slow_one_is_bounded() {
        assert_eq!(
            within(Duration::from_secs(1), async { 7 }).await.ok(),
            Some(7)
        );
        let bound = Duration::from_millis(50);
        let started = Instant::now();
        let slow = tokio::time::sleep(Duration::from_secs(60));
        assert!(within(bound, slow).await.is_err());
        assert!(started.elapsed() >= bound);
        let deadline = Instant::now() + bound;
        assert!(until(deadline, std::future::pending::<()>()).await.is_err());
        assert!(Instant::now() >= deadline);
        // A future that has to wait and then finishes within the bound is not cut off.
        let waits = tokio::time::sleep(Duration::from_millis(5));
        assert!(within(Duration::from_secs(60), waits).await.is_ok());
    }
}
