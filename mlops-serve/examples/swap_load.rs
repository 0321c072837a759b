//! The hot-swap load program (issue 12): constant load on a model served by alias from an
//! object registry on a local folder, first without alias moves, then with every request
//! copied to a shadow (p50 latency with and without), then with MOVES moves back and forth
//! between two versions. Prints the throughput of both runs and their ratio, the
//! p50/p99 of alias move → serving time, and checks that no request failed and that every
//! request sent after a switch was answered by the new version (or a later one).
//!
//! ```text
//! cargo run --release -p mlops-serve --features registry,onnx --example swap_load -- \
//!     [--seconds 30] [--moves 20] [--poll-ms 1000] [--concurrency 32] [A.onnx B.onnx]
//! ```
//!
//! Without model files, two built-in linear models serve. With two files (ONNX needs the
//! `onnx` feature), each request is one all-zero row built from the model's metadata.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, StoreUri};
use mlops_registry::{AliasChange, ModelRegistry, NewVersion, ObjectRegistry, RegistryExt};
use mlops_serve::follow::{FollowOptions, Rollout, Served};
use mlops_serve::runtime::linear::LinearFile;
use mlops_serve::source::RegistrySource;
use mlops_serve::{ModelSource, Server};
use serde_json::{Value, json};

type Failure = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    seconds: u64,
    moves: usize,
    poll: Duration,
    concurrency: usize,
    files: Vec<std::path::PathBuf>,
}

fn args() -> Result<Args, Failure> {
    let mut args = Args {
        seconds: 30,
        moves: 20,
        poll: Duration::from_millis(1000),
        concurrency: 32,
        files: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => args.seconds = value()?.parse()?,
            "--moves" => args.moves = value()?.parse()?,
            "--poll-ms" => args.poll = Duration::from_millis(value()?.parse()?),
            "--concurrency" => args.concurrency = value()?.parse()?,
            _ => args.files.push(arg.into()),
        }
    }
    if !(args.files.is_empty() || args.files.len() == 2) {
        return Err("give two model files, or none".into());
    }
    Ok(args)
}

/// One request: when it was sent and answered, its status and the version that answered.
struct Record {
    sent: Instant,
    answered: Instant,
    status: u16,
    version: Option<String>,
}

/// An all-zero one-row request from the model's metadata (`GET /v2/models/NAME`).
async fn request_body(client: &reqwest::Client, base: &str) -> Result<Vec<u8>, Failure> {
    let meta: Value = client
        .get(format!("{base}/v2/models/m"))
        .send()
        .await?
        .json()
        .await?;
    let inputs: Vec<Value> = meta["inputs"]
        .as_array()
        .ok_or("metadata without inputs")?
        .iter()
        .map(|input| {
            let shape: Vec<u64> = input["shape"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| d.as_i64().and_then(|d| u64::try_from(d).ok()).unwrap_or(1))
                .collect();
            let count = shape.iter().product::<u64>();
            let data = vec![0; usize::try_from(count).unwrap_or(1)];
            json!({"name": input["name"], "datatype": input["datatype"], "shape": shape, "data": data})
        })
        .collect();
    Ok(serde_json::to_vec(&json!({ "inputs": inputs }))?)
}

/// Runs the load for `seconds`, moving the alias `moves` times (0: none) evenly spaced.
async fn run(
    args: &Args,
    base: &str,
    body: &[u8],
    mut mover: impl FnMut(usize) -> tokio::task::JoinHandle<Result<Instant, Failure>>,
    moves: usize,
) -> Result<(Vec<Record>, Vec<Instant>), Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..args.concurrency {
        // A request that hangs is a failed request, not a run that never ends.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let (url, body, stop) = (
            format!("{base}/v2/models/m/infer"),
            body.to_vec(),
            Arc::clone(&stop),
        );
        clients.push(tokio::spawn(async move {
            let mut records = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let reply = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                let (status, version) = match reply {
                    Ok(reply) => {
                        let status = reply.status().as_u16();
                        let value: Value = reply.json().await.unwrap_or(Value::Null);
                        (status, value["model_version"].as_str().map(str::to_owned))
                    }
                    Err(_) => (0, None),
                };
                records.push(Record {
                    sent,
                    answered: Instant::now(),
                    status,
                    version,
                });
            }
            records
        }));
    }
    let total = Duration::from_secs(args.seconds);
    let mut moved = Vec::new();
    for step in 0..moves {
        tokio::time::sleep(total / u32::try_from(moves + 1)?).await;
        moved.push(mover(step).await??);
    }
    tokio::time::sleep(total / u32::try_from(moves + 1)?).await;
    stop.store(true, Ordering::Relaxed);
    let mut records = Vec::new();
    for client in clients {
        records.extend(client.await?);
    }
    Ok((records, moved))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

fn throughput(records: &[Record]) -> f64 {
    let (Some(first), Some(last)) = (
        records.iter().map(|r| r.sent).min(),
        records.iter().map(|r| r.answered).max(),
    ) else {
        return 0.0;
    };
    #[allow(clippy::cast_precision_loss)]
    let count = records.len() as f64;
    count / (last - first).as_secs_f64()
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args = args()?;
    let dir = tempfile::tempdir()?;
    let registry = Arc::new(ObjectRegistry::open_uri(&StoreUri::parse(
        dir.path().to_str().ok_or("a non-UTF-8 temporary folder")?,
    )?)?);
    let (name, champion) = (ModelName::parse("m")?, AliasName::parse("champion")?);
    registry.create_model(&name, None, &[]).await?;
    for index in 0..2 {
        let (file, bytes) = match args.files.get(index) {
            Some(path) => (
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("model.onnx")
                    .to_owned(),
                std::fs::read(path)?,
            ),
            None => (
                "model.json".to_owned(),
                serde_json::to_vec(&LinearFile::linear(
                    vec![vec![1.0 + f64::from(u8::try_from(index)?), 2.0, 3.0]],
                    vec![0.5],
                ))?,
            ),
        };
        let files = NewVersion::new().with_artifact(ArtifactPath::parse(file)?, bytes);
        registry.create_version(&name, files).await?;
    }
    registry
        .set_alias(
            &name,
            &champion,
            ModelVersion::new(1)?,
            &AliasChange::default(),
        )
        .await?;

    let server = Server::builder().build()?;
    let source: Arc<dyn ModelSource> = Arc::new(RegistrySource::new(registry.clone()));
    let follower = server
        .models()
        .follow(
            source,
            "m",
            "champion".parse()?,
            FollowOptions::default().poll_interval(args.poll),
        )
        .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(mlops_serve::serve(
        listener,
        server.clone(),
        std::future::pending(),
    ));
    let body = request_body(&reqwest::Client::new(), &base).await?;

    // The switches as the follower publishes them.
    let mut switches: Vec<Served> = vec![follower.served()];
    let mut watch = follower.subscribe();
    let watcher = tokio::spawn(async move {
        let mut seen = Vec::new();
        while watch.changed().await.is_ok() {
            seen.push(watch.borrow_and_update().clone());
        }
        seen
    });

    let no_move = |_| tokio::spawn(async { Ok(Instant::now()) });
    let (quiet, _) = run(&args, &base, &body, no_move, 0).await?;
    eprintln!("run without moves: {} requests", quiet.len());

    // The same load with a shadow: every request copied to version 2 (then stopped).
    registry
        .set_alias(
            &name,
            &AliasName::parse("shadow")?,
            ModelVersion::new(2)?,
            &AliasChange::default(),
        )
        .await?;
    let shadow = server
        .models()
        .follow(
            Arc::new(RegistrySource::new(registry.clone())) as Arc<dyn ModelSource>,
            "m",
            "shadow".parse()?,
            FollowOptions::default()
                .poll_interval(args.poll)
                .rollout(Rollout::Shadow(100.0)),
        )
        .await?;
    let no_move = |_| tokio::spawn(async { Ok(Instant::now()) });
    let (shadowed, _) = run(&args, &base, &body, no_move, 0).await?;
    shadow.stop();
    server.models().edit(|table| table.set_shadow("m", None))?;
    eprintln!("run with a shadow: {} requests", shadowed.len());

    let poll = args.poll;
    let mover = |step: usize| {
        let (registry, name, champion, follower_rx) = (
            Arc::clone(&registry),
            name.clone(),
            champion.clone(),
            follower.subscribe(),
        );
        tokio::spawn(async move {
            let target = if step.is_multiple_of(2) { 2 } else { 1 };
            let moved = Instant::now();
            registry
                .set_alias(
                    &name,
                    &champion,
                    ModelVersion::new(target)?,
                    &AliasChange::default(),
                )
                .await?;
            let mut rx = follower_rx;
            let wanted = target.to_string();
            // A move that is never served (the new version failed) ends the run with an
            // error instead of waiting forever.
            let limit = poll * 20 + Duration::from_secs(30);
            tokio::time::timeout(limit, rx.wait_for(|s| s.version == wanted))
                .await
                .map_err(|_| {
                    format!("the move to version {wanted} was not served within {limit:?}")
                })??;
            Ok(moved)
        })
    };
    let (busy, moved) = run(&args, &base, &body, mover, args.moves).await?;
    drop(follower);
    switches.extend(watcher.await?);

    // Correctness: no failures; every answer from a version in force while it was in flight.
    let failed = quiet
        .iter()
        .chain(&busy)
        .filter(|r| r.status != 200)
        .count();
    let mut wrong = 0;
    for record in &busy {
        let Some(first) = switches.iter().rposition(|s| s.since <= record.sent) else {
            continue;
        };
        // `since` is taken just after a switch is published: the first switch recorded
        // after the answer may have been published before it.
        let later = switches[first + 1..]
            .iter()
            .position(|s| s.since > record.answered)
            .map_or(switches.len(), |i| first + 1 + i + 1);
        let possible = switches[first..later]
            .iter()
            .any(|s| Some(s.version.as_str()) == record.version.as_deref());
        if !possible {
            wrong += 1;
        }
    }
    let mut move_to_serving: Vec<f64> = moved
        .iter()
        .filter_map(|m| switches.iter().find(|s| s.since >= *m))
        .zip(&moved)
        .map(|(s, m)| (s.since - *m).as_secs_f64())
        .collect();
    move_to_serving.sort_by(f64::total_cmp);
    let (quiet_rps, busy_rps) = (throughput(&quiet), throughput(&busy));
    let p50 = |records: &[Record]| {
        let mut latencies: Vec<f64> = records
            .iter()
            .map(|r| (r.answered - r.sent).as_secs_f64() * 1000.0)
            .collect();
        latencies.sort_by(f64::total_cmp);
        percentile(&latencies, 0.5)
    };
    println!(
        "shadow (100 % copied to version 2): p50 {:.3} ms without, {:.3} ms with; {:.0} vs {:.0} req/s",
        p50(&quiet),
        p50(&shadowed),
        quiet_rps,
        throughput(&shadowed)
    );
    println!(
        "requests: {} without moves, {} with {} moves; failed or non-200: {failed}; answered by a version not in force: {wrong}",
        quiet.len(),
        busy.len(),
        moved.len()
    );
    println!(
        "throughput: {quiet_rps:.0} req/s without moves, {busy_rps:.0} req/s with moves (ratio {:.3})",
        busy_rps / quiet_rps
    );
    println!(
        "alias move -> serving: p50 {:.3} s, p99 {:.3} s (poll interval {:.3} s)",
        percentile(&move_to_serving, 0.5),
        percentile(&move_to_serving, 0.99),
        args.poll.as_secs_f64()
    );
    if failed > 0 || wrong > 0 {
        return Err("requests failed or came from the wrong version".into());
    }
    Ok(())
}
