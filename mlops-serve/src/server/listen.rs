//! The accept loop of [`serve`](super::serve): a connection cap and a header-read timeout,
//! so that one client holding many half-open connections cannot hold the server down.
//!
//! Each connection is served by hyper's HTTP/1 connection with a timer. hyper starts the
//! header clock when it waits for a request head, so the same timeout also closes an idle
//! keep-alive connection (nothing arrives) and a slow one (half a request line).
//!
//! At the connection cap, a new connection takes the slot of the connection idle longest
//! (none of its requests in the service): a flood of connections that never finish a request
//! head evicts its own oldest members instead of locking out every later client, health
//! probes included. Only when every connection has a request in flight is a new one closed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

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

/// A served connection, as the cap sees it.
struct Slot {
    /// Requests of this connection in the service now.
    busy: Arc<AtomicUsize>,
    /// When it last finished a request (or was accepted), in ms since the loop started.
    last_active: Arc<AtomicU64>,
    /// Closes it.
    evict: oneshot::Sender<()>,
}

/// The connections served, by id. At the cap, a new connection takes the slot of the one
/// idle longest (no request in the service: a keep-alive connection, or one still sending
/// its request head); when every connection has a request in flight, it is closed.
#[derive(Default)]
struct Slots {
    by_id: HashMap<u64, Slot>,
}

impl Slots {
    /// Makes room for one more connection; `false` when none can be made.
    fn make_room(&mut self, cap: usize) -> bool {
        if self.by_id.len() < cap {
            return true;
        }
        let idle = self
            .by_id
            .iter()
            .filter(|(_, slot)| slot.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, slot)| slot.last_active.load(Ordering::Acquire))
            .map(|(&id, _)| id);
        match idle.and_then(|id| self.by_id.remove(&id)) {
            Some(slot) => {
                let _ = slot.evict.send(());
                true
            }
            None => false,
        }
    }
}

/// Decrements a connection's busy count when its request leaves the service (answered or
/// cancelled), and stamps its last activity.
struct Busy {
    busy: Arc<AtomicUsize>,
    last_active: Arc<AtomicU64>,
    started: Instant,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.last_active
            .store(millis(self.started), Ordering::Release);
        self.busy.fetch_sub(1, Ordering::AcqRel);
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
    let slots = Arc::new(Mutex::new(Slots::default()));
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
        let last_active = Arc::new(AtomicU64::new(millis(started)));
        let (evict, evicted) = oneshot::channel::<()>();
        {
            let mut slots = slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !slots.make_room(limits.max_connections) {
                tracing::debug!(%peer, cap = limits.max_connections, "every connection busy: closed");
                continue;
            }
            slots.by_id.insert(
                id,
                Slot {
                    busy: Arc::clone(&busy),
                    last_active: Arc::clone(&last_active),
                    evict,
                },
            );
        }
        let _ = stream.set_nodelay(true);
        let inner = TowerToHyperService::new(app.clone());
        let service = hyper::service::service_fn(move |request| {
            busy.fetch_add(1, Ordering::AcqRel);
            let guard = Busy {
                busy: Arc::clone(&busy),
                last_active: Arc::clone(&last_active),
                started,
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
                _ = evicted => tracing::debug!(%peer, "idle connection closed for a new one at the cap"),
            }
            slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .by_id
                .remove(&id);
        });
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
