//! Issue 17, finding 1: one client holding many slow or idle connections must not hold the
//! server down. Real sockets: the accept loop of `serve` is what is under test.

use std::time::Duration;

use mlops_serve::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Starts `server` on 127.0.0.1:0; returns its address and a sender that shuts it down.
async fn start(server: Server) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(mlops_serve::serve(listener, server, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// Reads until the server closes the connection (EOF or reset); fails the test after 30 s.
async fn closed_by_server(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    received
}

/// GET /v2/health/live on a fresh connection, with a generous bound.
async fn live(addr: std::net::SocketAddr) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    client
        .get(format!("http://{addr}/v2/health/live"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_request_lines_are_cut_after_the_header_timeout_and_health_answers_meanwhile() {
    let server = Server::builder()
        .header_read_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let (addr, _stop) = start(server).await;
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET /v2/hea").await.unwrap();
        slow.push(stream);
    }
    assert_eq!(
        live(addr).await,
        Ok(200),
        "health while 200 slow clients are open"
    );
    for stream in &mut slow {
        let received = closed_by_server(stream).await;
        assert!(
            !received.starts_with(b"HTTP/1.1 200"),
            "a half request was answered"
        );
    }
    // An idle keep-alive connection (one request answered, then nothing) is closed too.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let received = closed_by_server(&mut idle).await;
    assert!(received.starts_with(b"HTTP/1.1 200"), "{received:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_the_longest_idle_connection_makes_room_and_busy_ones_are_kept() {
    use std::sync::Arc;

    use mlops_serve::{Model, ModelOptions};
    // Three connections that never finish a request head fill a cap of 3: a fresh one (a
    // health probe) takes the slot of the oldest, which is closed.
    let server = Server::builder()
        .max_connections(3)
        .header_read_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let (addr, _stop) = start(server).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET /v2/hea").await.unwrap();
        held.push(stream);
    }
    for _ in 0..5 {
        assert_eq!(live(addr).await, Ok(200), "health at the cap");
    }
    // One of the held connections made room, closed unanswered. Which one is the server's
    // choice among equally idle connections: under load their accepts may be reordered.
    let evicted = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            for (i, stream) in held.iter_mut().enumerate() {
                let mut buf = [0u8; 64];
                match tokio::time::timeout(Duration::from_millis(50), stream.read(&mut buf)).await {
                    Ok(Ok(0) | Err(_)) => return i,
                    Ok(Ok(n)) => panic!("an evicted connection was answered: {:?}", &buf[..n]),
                    Err(_) => {}
                }
            }
        }
    })
    .await;
    assert!(
        evicted.is_ok(),
        "no held connection was closed to make room"
    );

    // Three connections with a request in flight are never evicted: a fourth is closed
    // unanswered, and is served once a slot frees.
    let (model, gate) = crate::util::Gated::new("gated");
    let server = Server::builder()
        .model_with(
            model as Arc<dyn Model>,
            ModelOptions::default().capacity(4, 16),
        )
        .max_connections(3)
        .build()
        .unwrap();
    let metrics = server.clone();
    let (addr, _stop) = start(server).await;
    let body = r#"{"inputs":[{"name":"x","shape":[1,1],"datatype":"FP64","data":[1]}]}"#;
    let request = format!(
        "POST /v2/models/gated/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut busy = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        busy.push(stream);
    }
    let in_flight = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let text = metrics.metrics_text();
            let line = text
                .lines()
                .find(|l| l.starts_with("mlops_serve_in_flight{") && l.contains("gated"));
            if line.is_some_and(|l| l.ends_with(" 3")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(in_flight.is_ok(), "three requests never were in flight");
    let mut over = TcpStream::connect(addr).await.unwrap();
    let _ = over
        .write_all(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    assert!(closed_by_server(&mut over).await.is_empty());
    drop(gate);
    for stream in &mut busy {
        let received = closed_by_server(stream).await;
        assert!(received.starts_with(b"HTTP/1.1 200"), "{received:?}");
    }
    let served = tokio::time::timeout(Duration::from_secs(30), async {
        while live(addr).await != Ok(200) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(served.is_ok(), "a freed slot never served health");
}

/// A request head declaring a 100-byte body to the linear model, and the first 10 bytes of
/// that body: a body that stalls (the stalled-bodies attack of issue 17).
const STALLED: &str = "POST /v2/models/lin/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                       Content-Length: 100\r\n\r\n{\"inputs\":";

/// Opens a connection and sends a stalled body.
async fn stalled(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may already have cut it (a reset): that is its choice to make.
    let _ = stream.write_all(STALLED.as_bytes()).await;
    stream
}

/// A whole inference request on a fresh connection (Connection: close); its status line.
async fn infer(addr: std::net::SocketAddr, body: &str) -> String {
    let head = format!(
        "POST /v2/models/lin/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    status_after(addr, &head, body.as_bytes()).await
}

/// How many of `streams` the server has not closed: each is read until it is seen closed or
/// 20 ms pass without news.
async fn still_open(streams: &mut [TcpStream]) -> usize {
    let mut open = 0;
    for stream in streams {
        let mut buf = [0u8; 256];
        loop {
            match tokio::time::timeout(Duration::from_millis(20), stream.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(_)) => {}
                Err(_) => {
                    open += 1;
                    break;
                }
            }
        }
    }
    open
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_stalled_bodies_at_the_cap_leaves_health_and_whole_requests_answered() {
    // Issue 17: connections that declare a body, send part of it and wait filled every slot
    // of the cap with requests "in flight", and 364 of 492 health probes failed. At a cap of
    // 32, stalled bodies may hold 28 slots; the other 4 only ever hold idle connections,
    // requests without a body and bodies over the 28 (cut first): so a probe always finds a
    // place, from the first stalled body on, without waiting for any timeout.
    let server = Server::builder()
        .model(crate::util::linear("lin", None))
        .max_connections(32)
        .body_timeout(Duration::from_secs(120))
        .header_read_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let (addr, _stop) = start(server).await;
    let body = crate::util::linear_request(&[[1.0, 2.0, 3.0]]).to_string();
    let mut held = Vec::new();
    for round in 0..10 {
        for _ in 0..20 {
            held.push(stalled(addr).await);
        }
        assert_eq!(
            live(addr).await,
            Ok(200),
            "health after {} stalled bodies",
            held.len()
        );
        // A whole request too: its body arrives at once, so it is being worked on before
        // anything could cut it.
        let status = infer(addr, &body).await;
        assert!(
            status.starts_with("HTTP/1.1 200"),
            "round {round}: {status}"
        );
    }
    // The cap held: the server closed all but at most 32 of the 200 stalled connections
    // (closes are asynchronous: wait for them).
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        while still_open(&mut held).await > 32 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "more connections than the cap stayed open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_a_body_that_keeps_arriving_is_never_cut_and_stalled_ones_make_room() {
    // Cap 16: 14 body units. A slow client takes one and sends its 10,000-byte body in 500-
    // byte steps every 100 ms (5,000 bytes/s, five times the minimum rate of 1,000) for two
    // seconds, while stalled bodies keep coming: past their grace of a second, each new one
    // takes the unit of the stalled body furthest behind. The slow body is never behind, so
    // it is answered; the stalled bodies that came first are cut.
    let server = Server::builder()
        .model(crate::util::linear("lin", None))
        .max_connections(16)
        .body_timeout(Duration::from_secs(120))
        .header_read_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let (addr, _stop) = start(server).await;
    let request = crate::util::linear_request(&[[1.0, 2.0, 3.0]]).to_string();
    let body = format!("{request}{}", " ".repeat(10_000 - request.len()));
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(
        format!(
            "POST /v2/models/lin/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let sender = tokio::spawn(async move {
        for chunk in body.as_bytes().chunks(500) {
            slow.write_all(chunk).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        closed_by_server(&mut slow).await
    });
    let mut first = Vec::new();
    for _ in 0..13 {
        first.push(stalled(addr).await);
    }
    let mut more = Vec::new();
    while !sender.is_finished() {
        for _ in 0..4 {
            more.push(stalled(addr).await);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let received = sender.await.unwrap();
    assert!(received.starts_with(b"HTTP/1.1 200"), "{received:?}");
    // Stalled bodies keep coming until the first ones are past their grace and cut.
    let cut = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            for _ in 0..4 {
                more.push(stalled(addr).await);
            }
            if still_open(&mut first).await < first.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(cut.is_ok(), "no stalled body made room");
}

/// Sends `head` (a request head) and `body`, then reads the status line; fails the test when
/// no answer comes within 30 s.
async fn status_after(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let received = closed_by_server(&mut stream).await;
    let text = String::from_utf8_lossy(&received);
    text.lines().next().unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_arrives() {
    let server = Server::builder()
        .model(crate::util::linear("lin", None))
        .body_limit(1024)
        .build()
        .unwrap();
    let (addr, _stop) = start(server).await;
    // 1 GiB declared, 10 bytes sent: the answer must not wait for the rest.
    let head = "POST /v2/models/lin/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 1073741824\r\n\r\n";
    let status = status_after(addr, head, b"{\"inputs\":").await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    // Compressed bodies are bounded before decompression too.
    let head = "POST /v2/models/lin/infer HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n\
                Content-Length: 1073741824\r\n\r\n";
    let status = status_after(addr, head, b"\x1f\x8b").await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_is_answered_408() {
    let server = Server::builder()
        .model(crate::util::linear("lin", None))
        .body_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let (addr, _stop) = start(server).await;
    let head = "POST /v2/models/lin/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 100\r\n\r\n";
    let status = status_after(addr, head, b"{\"inputs\":").await;
    assert!(status.starts_with("HTTP/1.1 408"), "{status}");
    // Chunked bodies too.
    let head = "POST /v2/models/lin/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    let status = status_after(addr, head, b"a\r\n{\"inputs\":\r\n").await;
    assert!(status.starts_with("HTTP/1.1 408"), "{status}");
    // A body that keeps arriving is not cut, however slow in total (15 gaps of 100 ms against
    // a 1 s timeout: progress, not total time, is what is bounded).
    let server = Server::builder()
        .model(crate::util::linear("lin", None))
        .body_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let (addr, _stop) = start(server).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = crate::util::linear_request(&[[1.0, 2.0, 3.0]]).to_string();
    let head = format!(
        "POST /v2/models/lin/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.as_bytes().chunks(body.len().div_ceil(15)) {
        stream.write_all(chunk).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let received = closed_by_server(&mut stream).await;
    assert!(received.starts_with(b"HTTP/1.1 200"), "{received:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_in_flight_share_a_memory_budget() {
    let server = Server::builder()
        .model(crate::util::linear("lin", None))
        .body_limit(64 * 1024)
        .body_budget(64 * 1024)
        .build()
        .unwrap();
    let (addr, _stop) = start(server).await;
    let head = "POST /v2/models/lin/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 40000\r\n\r\n";
    // A declares 40 000 bytes and sends 10: it holds its reservation while it trickles. B
    // cannot fit beside A: answered 503 with Retry-After instead of being buffered.
    //
    // Which of the two reserves first is the server's choice: a connection task spawned
    // later may run first (tokio's LIFO slot). If B wins, B waits for its body while A is
    // refused after a second, and no later B can ever be refused beside a holder that is
    // gone: so each attempt starts from a fresh A, and A and B are both dropped (releasing
    // what they hold) when B was not refused.
    let (holder, refused) = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let mut holder = TcpStream::connect(addr).await.unwrap();
            holder.write_all(head.as_bytes()).await.unwrap();
            holder.write_all(b"{\"inputs\":").await.unwrap();
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut buf = vec![0u8; 1024];
            let read = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf)).await;
            let n = match read {
                Ok(read) => read.unwrap_or(0),
                Err(_) => continue,
            };
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            if text.starts_with("HTTP/1.1 503") {
                break (holder, text);
            }
        }
    })
    .await
    .expect("a body over the budget was never refused");
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: 1"),
        "{refused}"
    );
    assert!(refused.contains("budget"), "{refused}");
    assert_eq!(
        live(addr).await,
        Ok(200),
        "health while the budget is taken"
    );
    // A gives up: its reservation is released, and a request that fits is served.
    drop(holder);
    let body = crate::util::linear_request(&[[1.0, 2.0, 3.0]]).to_string();
    let head = format!(
        "POST /v2/models/lin/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 60000\r\nConnection: close\r\n\r\n{body}{}",
        " ".repeat(60000 - body.len())
    );
    let served = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let status = status_after(addr, &head, b"").await;
            if status.starts_with("HTTP/1.1 200") {
                break;
            }
            assert!(status.starts_with("HTTP/1.1 503"), "{status}");
        }
    })
    .await;
    assert!(served.is_ok(), "the released budget never served a request");
}
