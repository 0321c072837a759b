//! A ready server with graceful shutdown: readiness false, drain delay, stop accepting,
//! wait for in-flight requests (bounded), exit.

use std::future::Future;

use tokio::net::TcpListener;

use super::Server;
use crate::error::Result;

/// Serves `server` on `listener` until `shutdown` completes, then shuts down gracefully.
///
/// Connections are capped and each must send its request head within the header-read
/// timeout, idle keep-alive time included ([`max_connections`](super::ServerBuilder::max_connections),
/// [`header_read_timeout`](super::ServerBuilder::header_read_timeout)). Shutdown runs in four steps:
///
/// 1. readiness turns false (`/v2/health/ready` → 503), inference is still served;
/// 2. after the drain delay, new inference is refused with 503 and no new connection is
///    accepted; idle keep-alive connections are closed;
/// 3. requests in flight finish, for at most the shutdown timeout;
/// 4. the function returns, and the caller drops the models.
pub async fn serve<F>(listener: TcpListener, server: Server, shutdown: F) -> Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let drain = {
        let server = server.clone();
        async move {
            shutdown.await;
            server.start_draining();
            tracing::info!("shutdown requested: readiness is false, draining");
            tokio::time::sleep(server.inner.drain_delay).await;
            server.stop_accepting();
            let _ = stopped_tx.send(());
        }
    };
    let app = server.router();
    let timeout = server.inner.shutdown_timeout;
    let direct = super::handlers::DirectInfer::of(&server.inner);
    let running = super::listen::run(listener, app, direct, server.inner.connections, drain);
    tokio::select! {
        () = running => Ok(()),
        () = async {
            let _ = stopped_rx.await;
            tokio::time::sleep(timeout).await;
        } => {
            tracing::warn!("shutdown timeout reached with requests still in flight");
            Ok(())
        }
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
