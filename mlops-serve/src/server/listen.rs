//! The accept loop of [`serve`](super::serve): a connection cap and a header-read timeout,
//! so that one client holding many half-open connections cannot hold the server down.
//!
//! Each connection is served by hyper's HTTP/1 connection with a timer. hyper starts the
//! header clock when it waits for a request head, so the same timeout also closes an idle
//! keep-alive connection (nothing arrives) and a slow one (half a request line). Connections
//! over the cap are accepted and closed at once (as nginx does when its workers are full):
//! queueing them would keep their sockets and buffers alive, which is what the cap prevents.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

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

/// Accepts connections on `listener` until `stop` completes, then stops accepting, asks each
/// connection to close after its current request, and returns when all have closed.
pub(crate) async fn run<F>(listener: TcpListener, app: Router, limits: ConnectionLimits, stop: F)
where
    F: Future<Output = ()>,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let mut stop = std::pin::pin!(stop);
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
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::debug!(%peer, cap = limits.max_connections, "connection cap reached: closed");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, "connection closed: {e}");
            }
            drop(permit);
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
