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
//!
//! At shutdown each connection is asked, through a oneshot of its own, to close after its
//! current request, and the loop returns once every connection task has ended. Nothing of
//! this is shared between connections while they serve: a per-request cost on a line every
//! worker writes shows up in every request's time.

mod slots;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulConnection;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use slots::{BodyState, Slot, Slots, Units};

use super::handlers::DirectInfer;

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

/// What a connection's requests report to: its slot's counters, the body units, the clock.
/// One `Arc` per connection, cloned per request (the slot's own `Arc`s and the server-wide
/// units would be four clones, two of them on a count every worker shares).
struct Connection {
    busy: Arc<AtomicUsize>,
    last_active: Arc<AtomicU64>,
    body: Arc<BodyState>,
    units: Arc<Units>,
    started: Instant,
}

/// Decrements a connection's busy count when its request leaves the service (answered or
/// cancelled), stamps when it counts as idle (one grace later: its answer may not be
/// written yet), and ends its body's state (a handler may answer without reading the body).
struct Busy(Arc<Connection>);

impl Drop for Busy {
    fn drop(&mut self) {
        let connection = &*self.0;
        connection.body.finish(&connection.units);
        connection.last_active.store(
            millis(connection.started).saturating_add(slots::STALL_GRACE_MS),
            Ordering::Release,
        );
        connection.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A request body that reports its progress to its connection's body state: each data frame
/// moves its deadline; its end, an error or dropping it ends the state.
struct WatchedBody {
    inner: hyper::body::Incoming,
    connection: Arc<Connection>,
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
                    self.connection.body.finish(&self.connection.units);
                } else if let Some(data) = frame.data_ref() {
                    let received = self.received.saturating_add(data.len() as u64);
                    self.received = received;
                    let connection = &*self.connection;
                    connection
                        .body
                        .progress(&connection.units, self.since, received);
                }
            }
            Poll::Ready(None | Some(Err(_))) => {
                self.connection.body.finish(&self.connection.units);
            }
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
        self.connection.body.finish(&self.connection.units);
    }
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Accepts connections on `listener` until `stop` completes, then stops accepting, asks each
/// connection to close after its current request, and returns when all have closed.
pub(crate) async fn run<F>(
    listener: TcpListener,
    app: Router,
    direct: Option<DirectInfer>,
    limits: ConnectionLimits,
    stop: F,
) where
    F: Future<Output = ()>,
{
    let started = Instant::now();
    let direct = direct.map(Arc::new);
    let slots = Arc::new(Mutex::new(Slots::new(limits.max_connections)));
    let units = slots
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .units();
    // Draining: each connection gets a oneshot that asks it to close after its current
    // request, and holds a sender of `alive` until it ends. hyper-util's `GracefulShutdown`
    // did the same with one watch channel: every poll of every connection then locked the
    // channel's one waiter list, a lock both workers took several times per request.
    let mut drains: Vec<oneshot::Sender<()>> = Vec::new();
    let (alive, mut all_closed) = mpsc::channel::<()>(1);
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
        let service_slots = Arc::clone(&slots);
        let direct = direct.clone();
        let shared = Arc::new(Connection {
            busy,
            last_active,
            body,
            units: Arc::clone(&units),
            started,
        });
        let service =
            hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                shared.busy.fetch_add(1, Ordering::AcqRel);
                let guard = Busy(Arc::clone(&shared));
                let request = if hyper::body::Body::is_end_stream(request.body()) {
                    request.map(axum::body::Body::new)
                } else {
                    let since = millis(started);
                    slots::start_body(&service_slots, &shared.units, &shared.body, since);
                    let connection = Arc::clone(&shared);
                    request.map(|inner| {
                        axum::body::Body::new(WatchedBody {
                            inner,
                            connection,
                            since,
                            received: 0,
                        })
                    })
                };
                let call = match direct.as_ref().filter(|d| d.accepts(&request)) {
                    Some(direct) => Call::Direct(Arc::clone(direct), request),
                    None => Call::Router(hyper::service::Service::call(&inner, request)),
                };
                async move {
                    let response = match call {
                        Call::Direct(direct, request) => Ok(direct.call(request).await),
                        Call::Router(call) => call.await,
                    };
                    drop(guard);
                    response
                }
            });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let (drain, drained) = oneshot::channel::<()>();
        // Senders of closed connections are dropped in batches: at most `2 × cap` are kept.
        if drains.len() >= 2 * limits.max_connections.max(32) {
            drains.retain(|drain| !drain.is_closed());
        }
        drains.push(drain);
        let (slots, alive) = (Arc::clone(&slots), alive.clone());
        tokio::spawn(async move {
            match drive(connection, drained, evicted).await {
                Some(Ok(())) => {}
                Some(Err(e)) => tracing::debug!(%peer, "connection closed: {e}"),
                None => {
                    tracing::debug!(%peer, "idle or stalled connection closed for a new one at the cap");
                }
            }
            slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(id);
            drop(alive);
        });
        // Let the new connection read what it was sent before the next accept: under a flood
        // the loop would otherwise outrun the connections, and at the cap cut ones that sent
        // a whole request (a health probe) before anyone read it.
        tokio::task::yield_now().await;
    }
    drop(listener);
    for drain in drains {
        let _ = drain.send(());
    }
    drop(alive);
    // `None` once every connection task has dropped its sender: all closed.
    let _ = all_closed.recv().await;
}

/// Where a request goes: the direct inference route, or the router's call already made.
// Moved into the request's future either way; boxing the request would allocate per request.
#[allow(clippy::large_enum_variant)]
enum Call<F> {
    Direct(Arc<DirectInfer>, axum::extract::Request),
    Router(F),
}

/// Serves `connection` until it closes (`Some`, its result) or is evicted for a new one at
/// the cap (`None`); once `drain` fires, asks it to close after its current request.
async fn drive<C: GracefulConnection>(
    connection: C,
    mut drain: oneshot::Receiver<()>,
    mut evicted: oneshot::Receiver<()>,
) -> Option<Result<(), C::Error>> {
    let mut connection = std::pin::pin!(connection);
    // A oneshot must not be polled once it has answered.
    let mut drain_seen = false;
    std::future::poll_fn(|cx| {
        if Pin::new(&mut evicted).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        // Sent at shutdown, or dropped with the accept loop (the server future was dropped):
        // either way the connection closes after its current request. Pruning drops only
        // the senders of connections already gone.
        if !drain_seen && Pin::new(&mut drain).poll(cx).is_ready() {
            drain_seen = true;
            connection.as_mut().graceful_shutdown();
        }
        connection.as_mut().poll(cx).map(Some)
    })
    .await
}

/// Errors that concern one connection only (the next accept may succeed at once).
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}
