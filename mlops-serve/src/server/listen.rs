//! The accept loop of [`serve`](super::serve): a connection cap and a header-read timeout,
//! so that one client holding many half-open connections cannot hold the server down.
//!
//! Each connection is served by hyper's HTTP/1 connection with a timer. hyper starts the
//! header clock when it waits for a request head, so the same timeout also closes an idle
//! keep-alive connection (nothing arrives) and a slow one (half a request line).
//!
//! At the connection cap, a new connection takes the slot of the connection furthest behind:
//! idle longest (none of its requests in the service), or a request whose body is not
//! arriving at a minimum rate; bodies still arriving may hold only seven slots in eight, so a
//! flood of bodies that never finish cannot lock out health probes. The rule and what it
//! guarantees are in [`slots`]. Only when no connection may be cut is a new one closed.

mod slots;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use slots::{BodyState, Slot, Slots, Units};

/// How long a client may take to send a request head, idle time before it included
/// (default 10 s, as nginx's `client_header_timeout` order of magnitude).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once (default 1024, nginx's `worker_connections`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// The per-connection limits [`run`] applies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnectionLimits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) max_connections: usize,
}

/// Decrements a connection's busy count when its request leaves the service (answered or
/// cancelled), stamps when it counts as idle (one grace later: its answer may not be
/// written yet), and ends its body's state (a handler may answer without reading the body).
struct Busy {
    busy: Arc<AtomicUsize>,
    last_active: Arc<AtomicU64>,
    body: Arc<BodyState>,
    units: Arc<Units>,
    started: Instant,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.body.finish(&self.units);
        self.last_active.store(
            millis(self.started).saturating_add(slots::STALL_GRACE_MS),
            Ordering::Release,
        );
        self.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A request body that reports its progress to its connection's body state: each data frame
/// moves its deadline; its end, an error or dropping it ends the state.
struct WatchedBody {
    inner: hyper::body::Incoming,
    state: Arc<BodyState>,
    units: Arc<Units>,
    /// When its head arrived, in ms since the loop started.
    since: u64,
    received: u64,
}

impl hyper::body::Body for WatchedBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Pending => {}
            Poll::Ready(Some(Ok(frame))) => {
                if self.inner.is_end_stream() {
                    self.state.finish(&self.units);
                } else if let Some(data) = frame.data_ref() {
                    let received = self.received.saturating_add(data.len() as u64);
                    self.received = received;
                    self.state.progress(&self.units, self.since, received);
                }
            }
            Poll::Ready(None | Some(Err(_))) => self.state.finish(&self.units),
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        self.state.finish(&self.units);
    }
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Accepts connections on `listener` until `stop` completes, then stops accepting, asks each
/// connection to close after its current request, and returns when all have closed.
pub(crate) async fn run<F>(listener: TcpListener, app: Router, limits: ConnectionLimits, stop: F)
where
    F: Future<Output = ()>,
{
    let started = Instant::now();
    let slots = Arc::new(Mutex::new(Slots::new(limits.max_connections)));
    let units = slots
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .units();
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let mut stop = std::pin::pin!(stop);
    let mut next_id = 0u64;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                // Out of file descriptors and the like: retrying at once would spin.
                tracing::warn!("accept failed: {e}; retrying in 100 ms");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let id = next_id;
        next_id += 1;
        let busy = Arc::new(AtomicUsize::new(0));
        let now = millis(started);
        // Idle, for the cap, only a grace after its accept: see `slots`.
        let last_active = Arc::new(AtomicU64::new(now.saturating_add(slots::STALL_GRACE_MS)));
        let body = Arc::new(BodyState::new());
        let (evict, evicted) = oneshot::channel::<()>();
        {
            let mut slots = slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !slots.make_room(now) {
                tracing::debug!(%peer, cap = limits.max_connections, "no connection may be cut: closed");
                continue;
            }
            slots.insert(
                id,
                Slot {
                    busy: Arc::clone(&busy),
                    last_active: Arc::clone(&last_active),
                    body: Arc::clone(&body),
                    evict,
                },
            );
        }
        let _ = stream.set_nodelay(true);
        let inner = TowerToHyperService::new(app.clone());
        let (service_slots, units) = (Arc::clone(&slots), Arc::clone(&units));
        let service =
            hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                busy.fetch_add(1, Ordering::AcqRel);
                let guard = Busy {
                    busy: Arc::clone(&busy),
                    last_active: Arc::clone(&last_active),
                    body: Arc::clone(&body),
                    units: Arc::clone(&units),
                    started,
                };
                let request = if hyper::body::Body::is_end_stream(request.body()) {
                    request.map(axum::body::Body::new)
                } else {
                    let since = millis(started);
                    slots::start_body(&service_slots, &units, &body, since);
                    let (state, units) = (Arc::clone(&body), Arc::clone(&units));
                    request.map(|inner| {
                        axum::body::Body::new(WatchedBody {
                            inner,
                            state,
                            units,
                            since,
                            received: 0,
                        })
                    })
                };
                let call = hyper::service::Service::call(&inner, request);
                async move {
                    let response = call.await;
                    drop(guard);
                    response
                }
            });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let slots = Arc::clone(&slots);
        tokio::spawn(async move {
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, "connection closed: {e}");
                    }
                }
                _ = evicted => tracing::debug!(%peer, "idle or stalled connection closed for a new one at the cap"),
            }
            slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(id);
        });
        // Let the new connection read what it was sent before the next accept: under a flood
        // the loop would otherwise outrun the connections, and at the cap cut ones that sent
        // a whole request (a health probe) before anyone read it.
        tokio::task::yield_now().await;
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Errors that concern one connection only (the next accept may succeed at once).
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}
