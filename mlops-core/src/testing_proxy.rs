//! A loopback TCP proxy that loses answers, drops requests or stalls: how the retry tests
//! of the MLflow clients make the failures a network makes, in front of a real server.

#![allow(clippy::expect_used)] // Test support: failing loudly is the point.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a [`LossyProxy`] does to the requests that contain its marker.
#[derive(Clone, Copy, Debug)]
pub enum ProxyMode {
    /// Forward everything, but drop the answers to the first `times` marked requests after
    /// the server sent them: the server applied the request, the client never hears so.
    LoseAnswers {
        /// How many answers to lose.
        times: usize,
    },
    /// Close the connection of the first `times` marked requests without forwarding them:
    /// the client cannot tell this from a lost answer, but nothing was applied.
    DropRequests {
        /// How many requests to drop.
        times: usize,
    },
    /// Accept connections and read requests, never answer.
    Stall,
}

/// A proxy on a free 127.0.0.1 port in front of `upstream`; stopped when dropped.
#[derive(Debug)]
pub struct LossyProxy {
    addr: SocketAddr,
    seen: Arc<AtomicUsize>,
    lost: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LossyProxy {
    /// Starts a proxy to `upstream` (`http://HOST:PORT`, the form `scripts/test.sh`
    /// exports) that treats requests whose bytes contain `marker` (for example
    /// `"POST /api/2.0/mlflow/runs/create"`) as `mode` says.
    ///
    /// # Panics
    ///
    /// When `upstream` is not `http://` and a socket address, or no loopback port is free.
    pub async fn start(upstream: &str, mode: ProxyMode, marker: &'static str) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("the upstream is http://HOST:PORT");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let seen = Arc::new(AtomicUsize::new(0));
        let lost = Arc::new(AtomicUsize::new(0));
        let budget = Arc::new(AtomicUsize::new(match mode {
            ProxyMode::LoseAnswers { times } | ProxyMode::DropRequests { times } => times,
            ProxyMode::Stall => 0,
        }));
        let counters = Counters {
            seen: Arc::clone(&seen),
            lost: Arc::clone(&lost),
            budget,
        };
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counters = counters.clone();
                tokio::spawn(async move {
                    match mode {
                        ProxyMode::Stall => stall(client, marker, &counters.seen).await,
                        ProxyMode::LoseAnswers { .. } => {
                            relay(client, upstream, marker, &counters, false).await;
                        }
                        ProxyMode::DropRequests { .. } => {
                            relay(client, upstream, marker, &counters, true).await;
                        }
                    }
                });
            }
        });
        Self {
            addr,
            seen,
            lost,
            task,
        }
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Marked requests received so far.
    pub fn seen(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }

    /// Answers lost and requests dropped so far.
    pub fn lost(&self) -> usize {
        self.lost.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct Counters {
    seen: Arc<AtomicUsize>,
    lost: Arc<AtomicUsize>,
    /// Marked requests still to lose or drop.
    budget: Arc<AtomicUsize>,
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn stall(mut client: TcpStream, marker: &str, seen: &AtomicUsize) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if contains(&buf[..n], marker) {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    marker: &str,
    counters: &Counters,
    drop_requests: bool,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let lose_next = AtomicBool::new(false);
    let requests = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if contains(&buf[..n], marker) {
                counters.seen.fetch_add(1, Ordering::SeqCst);
                let take = counters
                    .budget
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1));
                if take.is_ok() {
                    if drop_requests {
                        counters.lost.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    lose_next.store(true, Ordering::SeqCst);
                }
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let answers = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            // The server answered, so it applied the request: lose the answer by closing
            // the client's connection without it.
            if lose_next.load(Ordering::SeqCst) {
                counters.lost.fetch_add(1, Ordering::SeqCst);
                return;
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = requests => {}
        () = answers => {}
    }
}
