//! `mlops serve` as a user runs it: load under concurrent requests, SIGTERM, and no accepted
//! request lost.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A minimal HTTP/1.1 client on one keep-alive connection (std only).
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    /// Sends one request; returns (status, body), or an error if the connection failed.
    fn request(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.writer.write_all(head.as_bytes())?;
        self.writer.write_all(body)?;
        let mut status_line = String::new();
        if self.reader.read_line(&mut status_line)? == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok((status, String::from_utf8(body).unwrap()))
    }
}

fn spawn_server(model: &std::path::Path) -> (Child, String) {
    spawn_server_with(model, &[])
}

fn spawn_server_with(model: &std::path::Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--version",
            "1",
            "--drain-delay-ms",
            "1000",
        ])
        .arg("--model")
        .arg(format!("lin={}", model.display()))
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("mlops serve: listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
    });
    (child, addr)
}

#[test]
fn serve_drains_in_flight_requests_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("lin.json");
    std::fs::write(
        &model,
        r#"{"format":"mlops-linear/1","coefficients":[[1.0,2.0,3.0]],"intercept":[0.5]}"#,
    )
    .unwrap();
    let (mut child, addr) = spawn_server(&model);
    let pid = child.id();

    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..16 {
        let (addr, stop, started, answered) = (
            addr.clone(),
            stop.clone(),
            started.clone(),
            answered.clone(),
        );
        clients.push(std::thread::spawn(move || {
            let mut conn = Conn::open(&addr);
            let mut i = 0u32;
            let mut failures = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let x = f64::from(client * 100_000 + i);
                let body = format!(
                    r#"{{"id":"{client}-{i}","inputs":[{{"name":"input","shape":[1,3],"datatype":"FP32","data":[{x},0,0]}}]}}"#
                );
                started.fetch_add(1, Ordering::SeqCst);
                match conn.request("POST", "/v2/models/lin/versions/1/infer", body.as_bytes()) {
                    Ok((200, text)) => {
                        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                        assert_eq!(v["id"], format!("{client}-{i}"));
                        #[allow(clippy::cast_possible_truncation)]
                        let expected = (x as f32) + 0.5;
                        assert_eq!(v["outputs"][0]["data"][0].as_f64().unwrap() as f32, expected);
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    other => failures.push(format!("{other:?}")),
                }
                i += 1;
            }
            failures
        }));
    }
    // Let the load run, then SIGTERM the server while requests are in flight.
    let mut probe = Conn::open(&addr);
    while answered.load(Ordering::SeqCst) < 2_000 {
        std::thread::yield_now();
    }
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Readiness turns false while the server still serves.
    loop {
        let (code, _) = probe.request("GET", "/v2/health/ready", b"").unwrap();
        if code == 503 {
            break;
        }
        assert_eq!(code, 200);
    }
    let (code, _) = probe.request("GET", "/v2/health/live", b"").unwrap();
    assert_eq!(code, 200);
    // A load balancer stops sending once readiness is false: so do we.
    stop.store(true, Ordering::SeqCst);
    let failures: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert_eq!(
        answered.load(Ordering::SeqCst),
        started.load(Ordering::SeqCst)
    );
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    assert!(
        TcpStream::connect(&addr).is_err(),
        "the port is closed after exit"
    );
}

#[test]
fn serve_refuses_pickles_and_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let pickle = dir.path().join("model.pkl");
    std::fs::write(&pickle, b"\x80\x04\x95\x10\x00\x00").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(["serve", "--addr", "127.0.0.1:0", "--model"])
        .arg(format!("m={}", pickle.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pickle"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(["serve", "--model", "no-equals-sign"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NAME=PATH"));
}

/// Issue 17: `--header-timeout-ms` closes a connection that sends half a request line, and
/// `--max-connections` caps connections (at the cap, the one idle longest makes room).
#[test]
fn serve_flags_bound_slow_clients_and_connections() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("lin.json");
    std::fs::write(
        &model,
        r#"{"format":"mlops-linear/1","coefficients":[[1.0,2.0,3.0]],"intercept":[0.5]}"#,
    )
    .unwrap();
    let (mut child, addr) = spawn_server_with(
        &model,
        &["--header-timeout-ms", "300", "--max-connections", "1"],
    );
    let closed_by_server = |stream: &mut TcpStream| {
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut received = Vec::new();
        match stream.read_to_end(&mut received) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
        received
    };
    // At the cap of 1, a health probe takes the slot of a connection still sending its
    // request head, which is closed.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /v2/hea").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mut probe = TcpStream::connect(&addr).unwrap();
    probe
        .write_all(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(closed_by_server(&mut probe).starts_with(b"HTTP/1.1 200"));
    assert!(closed_by_server(&mut slow).is_empty());
    // Alone, a slow connection is cut by the header timeout.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /v2/hea").unwrap();
    assert!(!closed_by_server(&mut slow).starts_with(b"HTTP/1.1 200"));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Starts `mlops serve ARGS` on a free port (no store variables from the caller); returns
/// the child and its address, read from the first stdout line.
fn spawn_serve(cwd: &std::path::Path, args: &[&str]) -> (Child, String) {
    let mut child = crate::util::command(cwd)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("mlops serve: listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
    });
    (child, addr)
}

/// Issue 12: `mlops serve --model NAME@ALIAS` serves the alias's version from the registry
/// and follows `mlops models promote` without a restart while a client keeps sending
/// requests (none fails); `NAME@VERSION` pins a version next to it; a missing alias stops
/// the server before it listens.
#[test]
fn serve_follows_a_registry_alias() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let registry = d.join("root");
    let mlops = |args: &[&str]| {
        let out = crate::util::command(d)
            .args(args)
            .env("MLOPS_REGISTRY", &registry)
            .env("MLOPS_ACTOR", "cli-test")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for (name, slope) in [("price", 1), ("price", 2), ("fixed", 7)] {
        let file = d.join(format!("{name}{slope}"));
        std::fs::create_dir_all(&file).unwrap();
        std::fs::write(
            file.join("model.json"),
            format!(r#"{{"format":"mlops-linear/1","coefficients":[[{slope},0,0]]}}"#),
        )
        .unwrap();
        mlops(&[
            "models",
            "register",
            "--name",
            name,
            "--path",
            file.to_str().unwrap(),
        ]);
    }
    mlops(&[
        "models",
        "promote",
        "--name",
        "price",
        "--version",
        "1",
        "--alias",
        "champion",
    ]);
    let uri = registry.to_str().unwrap();

    // A missing alias: an error, before listening.
    let out = crate::util::command(d)
        .args(["serve", "--addr", "127.0.0.1:0", "--registry", uri])
        .args(["--model", "fixed@champion"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("champion"));

    let (mut child, addr) = spawn_serve(
        d,
        &[
            "--registry",
            uri,
            "--model",
            "price@champion",
            "--model",
            "fixed@1",
            "--poll-interval-ms",
            "50",
        ],
    );
    let body = br#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,0,0]}]}"#;
    let mut conn = Conn::open(&addr);
    let (status, answer) = conn
        .request("POST", "/v2/models/fixed/infer", body)
        .unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains(r#""model_version":"1""#), "{answer}");
    assert!(answer.contains("[7.0]"), "{answer}");

    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut conn = Conn::open(&addr);
            let mut answers = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                answers.push(
                    conn.request("POST", "/v2/models/price/infer", body)
                        .unwrap(),
                );
            }
            answers
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    mlops(&[
        "models",
        "promote",
        "--name",
        "price",
        "--version",
        "2",
        "--alias",
        "champion",
    ]);
    let mut swapped = false;
    for _ in 0..600 {
        let (status, answer) = conn
            .request("POST", "/v2/models/price/infer", body)
            .unwrap();
        assert_eq!(status, 200, "{answer}");
        if answer.contains(r#""model_version":"2""#) {
            assert!(answer.contains("[2.0]"), "{answer}");
            swapped = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(swapped, "the server never followed the promotion");
    std::thread::sleep(std::time::Duration::from_millis(100));
    stop.store(true, Ordering::SeqCst);
    let answers = client.join().unwrap();
    assert!(answers.iter().all(|(status, _)| *status == 200));
    assert!(
        answers
            .iter()
            .any(|(_, a)| a.contains(r#""model_version":"1""#))
    );
    assert!(
        answers
            .iter()
            .any(|(_, a)| a.contains(r#""model_version":"2""#))
    );
    let (_, metrics) = conn.request("GET", "/metrics", b"").unwrap();
    assert!(
        metrics.contains(r#"mlops_serve_model_swaps_total{model="price",outcome="success"} 1"#),
        "{metrics}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Issue 12: `--canary NAME@ALIAS:PERCENT` splits the unversioned requests (sticky by
/// `Mlops-Route-Key`) and `--shadow NAME@ALIAS` mirrors them, both from the registry.
#[test]
fn serve_canary_and_shadow_from_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let registry = d.join("root");
    let mlops = |args: &[&str]| {
        let out = crate::util::command(d)
            .args(args)
            .env("MLOPS_REGISTRY", &registry)
            .env("MLOPS_ACTOR", "cli-test")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for slope in [1, 2, 3] {
        let folder = d.join(format!("v{slope}"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join("model.json"),
            format!(r#"{{"format":"mlops-linear/1","coefficients":[[{slope},0,0]]}}"#),
        )
        .unwrap();
        let path = folder.to_str().unwrap();
        mlops(&["models", "register", "--name", "price", "--path", path]);
    }
    for (version, alias) in [("1", "champion"), ("2", "challenger"), ("3", "candidate")] {
        mlops(&[
            "models",
            "promote",
            "--name",
            "price",
            "--version",
            version,
            "--alias",
            alias,
        ]);
    }
    let uri = registry.to_str().unwrap();
    let (mut child, addr) = spawn_serve(
        d,
        &[
            "--registry",
            uri,
            "--model",
            "price@champion",
            "--canary",
            "price@challenger:30",
            "--shadow",
            "price@candidate",
            "--auto-rollback",
        ],
    );
    let mut conn = Conn::open(&addr);
    let mut canary_keys = 0;
    for key in 0..100 {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let head = format!(
                "POST /v2/models/price/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nMlops-Route-Key: k{key}\r\nContent-Length: "
            );
            let body =
                r#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,0,0]}]}"#;
            conn.writer
                .write_all(format!("{head}{}\r\n\r\n{body}", body.len()).as_bytes())
                .unwrap();
            let mut status = String::new();
            conn.reader.read_line(&mut status).unwrap();
            assert!(status.contains(" 200 "), "{status}");
            let mut length = 0;
            loop {
                let mut line = String::new();
                conn.reader.read_line(&mut line).unwrap();
                if line.trim_end().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut answer = vec![0; length];
            conn.reader.read_exact(&mut answer).unwrap();
            let answer = String::from_utf8(answer).unwrap();
            seen.push(answer.contains(r#""model_version":"2""#));
        }
        assert!(seen.iter().all(|&c| c == seen[0]), "key k{key} moved");
        canary_keys += usize::from(seen[0]);
    }
    assert!(
        (10..=60).contains(&canary_keys),
        "{canary_keys} of 100 keys on the canary"
    );
    let mut copies = 0.0;
    for _ in 0..200 {
        let (_, metrics) = conn.request("GET", "/metrics", b"").unwrap();
        copies = metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix(
                    r#"mlops_serve_shadow_requests_total{model="price",version="3",outcome="answered"} "#,
                )
            })
            .map_or(0.0, |v| v.trim().parse().unwrap());
        if copies > 0.0 {
            assert!(
                metrics.contains(r#"alias="challenger",role="canary"} 1"#),
                "{metrics}"
            );
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(copies > 0.0, "no shadow copy answered");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Issue 12: two `mlops serve` processes on one registry folder follow the same promotion.
#[test]
fn two_serve_processes_converge_on_a_promotion() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let registry = d.join("root");
    let mlops = |args: &[&str]| {
        let out = crate::util::command(d)
            .args(args)
            .env("MLOPS_REGISTRY", &registry)
            .env("MLOPS_ACTOR", "cli-test")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for slope in [1, 2] {
        let folder = d.join(format!("v{slope}"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join("model.json"),
            format!(r#"{{"format":"mlops-linear/1","coefficients":[[{slope},0,0]]}}"#),
        )
        .unwrap();
        mlops(&[
            "models",
            "register",
            "--name",
            "price",
            "--path",
            folder.to_str().unwrap(),
        ]);
    }
    mlops(&[
        "models",
        "promote",
        "--name",
        "price",
        "--version",
        "1",
        "--alias",
        "champion",
    ]);
    let uri = registry.to_str().unwrap();
    let args = [
        "--registry",
        uri,
        "--model",
        "price@champion",
        "--poll-interval-ms",
        "50",
    ];
    let mut replicas = vec![spawn_serve(d, &args), spawn_serve(d, &args)];
    let body = br#"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,0,0]}]}"#;
    let version = |addr: &str| {
        let (status, answer) = Conn::open(addr)
            .request("POST", "/v2/models/price/infer", body)
            .unwrap();
        assert_eq!(status, 200, "{answer}");
        answer
    };
    for (_, addr) in &replicas {
        assert!(version(addr).contains(r#""model_version":"1""#));
    }
    mlops(&[
        "models",
        "promote",
        "--name",
        "price",
        "--version",
        "2",
        "--alias",
        "champion",
    ]);
    for (_, addr) in &replicas {
        let mut followed = false;
        for _ in 0..600 {
            if version(addr).contains(r#""model_version":"2""#) {
                followed = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(followed, "a replica never followed the promotion");
    }
    for (child, _) in &mut replicas {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
