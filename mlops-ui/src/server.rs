//! [`serve`]: the bounded accept loop for `mlops ui` (a connection cap, a header-read
//! timeout, a graceful stop). A service that mounts [`Ui::router`](crate::Ui::router) in its
//! own server keeps its own limits instead.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Connections served at once; a new one beyond it is closed at once (a UI has few users).
pub const MAX_CONNECTIONS: usize = 256;

/// How long a client may take to send a request head, idle keep-alive time included.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `stop` completes, then lets each connection finish its
/// current request and returns when all have closed.
///
/// # Errors
///
/// Never at present; accept errors are logged and retried (the `Result` leaves room for a
/// fatal one).
pub async fn serve<F>(listener: TcpListener, app: Router, stop: F) -> crate::Result<()>
where
    F: Future<Output = ()>,
{
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let mut stop = std::pin::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: a pause instead of a spin.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::debug!(%peer, "connection cap reached: closed");
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
            drop(permit);
        });
    }
    graceful.shutdown().await;
    Ok(())
}
