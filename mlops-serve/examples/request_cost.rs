//! The cost of one request through the whole server, for callgrind: `serve` runs a model
//! file as `mlops serve --model m=PATH` does (same builder defaults, multi-thread runtime),
//! `drive` sends one fixed 1-row FP32 request N times over one keep-alive connection and
//! checks every answer is 200. Instruction counts are stable on a shared machine where
//! wall time is not:
//!
//! ```sh
//! cargo build --release -p mlops-serve --features onnx --example request_cost
//! B=target/release/examples/request_cost
//! valgrind --tool=callgrind --callgrind-out-file=cg.out $B serve mlops-serve/tests/fixtures/linear_regressor.onnx 127.0.0.1:8089 &
//! $B drive 127.0.0.1:8089 2000        # warm-up (callgrind starts slowly)
//! callgrind_control -z                # zero the counters
//! $B drive 127.0.0.1:8089 1000
//! callgrind_control -d                # dump: instructions / 1000 = per request
//! callgrind_annotate --inclusive=yes cg.out.2 | head -80
//! ```
//!
//! `serve MODEL ADDR [MAX_BATCH_SIZE]`; `drive ADDR N [FEATURES]` (default 4 features,
//! the fixture's input `[-1, 4]`).

#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use mlops_serve::{ModelOptions, Server};

/// The `mlops` binary's allocator, so the counts are those of `mlops serve`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve", model, addr, rest @ ..] => serve(model, addr, rest.first().copied()),
        ["drive", addr, n, rest @ ..] => drive(addr, n.parse()?, rest.first().copied()),
        _ => {
            Err("usage: request_cost serve MODEL ADDR [MAX_BATCH] | drive ADDR N [FEATURES]".into())
        }
    }
}

fn serve(model: &str, addr: &str, max_batch: Option<&str>) -> Result<(), Failure> {
    let max_batch: usize = max_batch.map_or(Ok(1), str::parse)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let options = ModelOptions::default().batching(max_batch, Duration::ZERO);
        let server = Server::builder()
            .default_options(options)
            .model_file(std::path::Path::new(model), "m", None)?
            .build()?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        mlops_serve::serve(listener, server, mlops_serve::shutdown_signal()).await?;
        Ok::<_, Failure>(())
    })?;
    Ok(())
}

fn drive(addr: &str, n: usize, features: Option<&str>) -> Result<(), Failure> {
    let features: usize = features.map_or(Ok(4), str::parse)?;
    // The body of benches/compare/serve_vs_mlserver.py (Python's json.dumps spacing).
    let data: Vec<String> = (0..features).map(|i| format!("{}.0", i + 1)).collect();
    let body = format!(
        r#"{{"inputs": [{{"name": "input", "shape": [1, {features}], "datatype": "FP32", "data": [{}]}}]}}"#,
        data.join(", ")
    );
    let request = Arc::new(format!(
        "POST /v2/models/m/infer HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut answer = Vec::new();
    for i in 0..n {
        writer.write_all(request.as_bytes())?;
        line.clear();
        reader.read_line(&mut line)?;
        if !line.starts_with("HTTP/1.1 200") {
            return Err(format!("request {i}: {}", line.trim_end()).into());
        }
        let mut length = 0usize;
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        answer.resize(length, 0);
        reader.read_exact(&mut answer)?;
    }
    println!(
        "{n} requests: 200; last answer {}",
        String::from_utf8_lossy(&answer)
    );
    Ok(())
}
