//! What monitoring costs, in one unattended run that prints (issue 13's benchmark):
//!
//! 1. **req/s** of the in-process request path (router → 64-row, 8-feature FP32 linear model
//!    → response) under full load (`--clients` concurrent requests on 2 worker threads),
//!    with monitoring off, with the drift capture at sample 1.0, and with the capture plus
//!    the inference log; the two ratios to "off" (the issue's goals: ≥ 0.9 and ≥ 0.85). The
//!    variants are measured in interleaved rounds so a neighbour's load hits all three alike;
//!    each measurement has a fresh capture whose backlog is drained outside the clock. The
//!    share of requests the monitor saw (queued, not dropped) is printed beside, with the
//!    process's CPU time per request (all threads; steadier than req/s on a machine shared
//!    with other jobs) and the capture worker's own share of a core.
//! 2. **ns per row per feature** of the window accumulation alone: as the capture worker
//!    does it (64-row request tensors, `VersionMonitor::observe_tensors`), and for 1024-row
//!    record batches (`VersionMonitor::push`, the batch mode's path); windows of 10 000 rows
//!    closed and compared as they fill, in the calling thread's rayon pool.
//! 3. **The capture's cost on the request path**, per request, in one thread: the sampling
//!    decision, the copy of the inputs, the channel send (what the server does for an
//!    observed request), with room in the queue; and a request shed at a full queue.
//! 4. **RSS over `--seconds`** (default 60) at full load with the capture and the inference
//!    log on: samples, minimum, maximum and growth.
//!
//! ```sh
//! cargo bench -p mlops-monitor --bench monitor                       # the lead's numbers
//! cargo bench -p mlops-monitor --bench monitor -- --seconds 120 --measure 3 --rounds 5
//! cargo bench -p mlops-monitor --bench monitor -- --parts window,request   # a short run
//! cargo test  -p mlops-monitor --bench monitor -- --seconds 3        # a debug smoke run
//! ```
//!
//! `--parts` takes any of `throughput`, `window`, `request`, `rss` (comma-separated; default
//! all); `MLOPS_MONITOR_BENCH_PARTS` is read when the flag is absent.
//!
//! Without `--bench` in its arguments (`cargo test --benches`) it runs a short smoke pass
//! unless `--seconds` is given. In-process requests leave out the HTTP stack, so the ratios
//! are conservative: over a socket each request costs more and monitoring the same.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use bytes::Bytes;
use mlops_core::{StoreUri, Timestamp};
use mlops_drift::arrow_array::{ArrayRef, Float64Array, RecordBatch};
use mlops_drift::arrow_schema::{DataType, Field, Schema};
use mlops_drift::{DriftOptions, ReferenceProfile};
use mlops_monitor::{
    Capture, CaptureOptions, CaptureWorker, FeatureMap, FixedReferences, LogOptions,
    MonitorMetrics, ReferenceSource, SignatureSchemas, VersionKey, VersionMonitor,
    VersionReference, WindowPolicy, start,
};
use mlops_serve::runtime::linear::{LinearFile, LinearModel};
use mlops_serve::{Model, ModelMetadata, Observation, Observer, Server, Tensor, TensorData};
use tower::ServiceExt;

const FEATURES: usize = 8;
const ROWS: usize = 64;

/// The knobs (see the module docs).
struct Knobs {
    /// The RSS run's length.
    seconds: f64,
    /// Seconds per variant and round of the throughput comparison.
    measure: f64,
    /// Rounds of the throughput comparison.
    rounds: u32,
    /// Concurrent in-process clients.
    clients: usize,
    /// Seconds of window accumulation timed.
    window_seconds: f64,
    /// The parts to run (see the module docs).
    parts: Vec<String>,
}

const PARTS: [&str; 4] = ["throughput", "window", "request", "rss"];

impl Knobs {
    fn runs(&self, part: &str) -> bool {
        self.parts.iter().any(|p| p == part)
    }
}

fn knobs() -> Knobs {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benching = args.iter().any(|a| a == "--bench");
    // `cargo test --benches` runs this too: a smoke pass unless told otherwise.
    let mut k = if benching {
        Knobs {
            seconds: 60.0,
            measure: 2.0,
            rounds: 5,
            clients: 8,
            window_seconds: 3.0,
            parts: Vec::new(),
        }
    } else {
        Knobs {
            seconds: 2.0,
            measure: 0.3,
            rounds: 1,
            clients: 4,
            window_seconds: 0.3,
            parts: Vec::new(),
        }
    };
    let mut parts = std::env::var("MLOPS_MONITOR_BENCH_PARTS").ok();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> f64 {
            let v = it.next().and_then(|v| v.parse::<f64>().ok());
            match v {
                Some(v) if v.is_finite() && v > 0.0 => v,
                _ => usage(&format!("{name} needs a positive number")),
            }
        };
        match arg.as_str() {
            "--bench" => {}
            "--seconds" => k.seconds = value("--seconds"),
            "--measure" => k.measure = value("--measure"),
            "--rounds" => k.rounds = value("--rounds").ceil() as u32,
            "--clients" => k.clients = value("--clients").ceil() as usize,
            "--window-seconds" => k.window_seconds = value("--window-seconds"),
            "--parts" => parts = it.next().cloned(),
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    k.parts = match parts {
        None => PARTS.iter().map(|p| (*p).to_owned()).collect(),
        Some(list) => list.split(',').map(|p| p.trim().to_owned()).collect(),
    };
    if let Some(bad) = k.parts.iter().find(|p| !PARTS.contains(&p.as_str())) {
        usage(&format!(
            "unknown part {bad:?} (known: {})",
            PARTS.join(", ")
        ));
    }
    k
}

fn usage(why: &str) -> ! {
    eprintln!(
        "monitor bench: {why}\nusage: monitor [--seconds S] [--measure S] [--rounds N] \
         [--clients N] [--window-seconds S] [--parts throughput,window,request,rss]"
    );
    std::process::exit(2)
}

fn batch(rows: usize, seed: usize) -> RecordBatch {
    let fields: Vec<Field> = (0..FEATURES)
        .map(|j| Field::new(format!("f{j}"), DataType::Float64, true))
        .collect();
    let columns: Vec<ArrayRef> = (0..FEATURES)
        .map(|j| {
            let values: Vec<f64> = (0..rows)
                .map(|i| ((i * 7919 + j * 104_729 + seed) % 1000) as f64 / 10.0)
                .collect();
            Arc::new(Float64Array::from(values)) as ArrayRef
        })
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

fn router(observer: Option<Arc<dyn mlops_serve::Observer>>) -> axum::Router {
    let model = router_model();
    let mut builder = Server::builder().model(Arc::new(model));
    if let Some(observer) = observer {
        builder = builder.observer(observer);
    }
    builder.build().unwrap().router()
}

/// The three variants.
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Off,
    Capture,
    CaptureAndLog,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Off => "monitoring off",
            Variant::Capture => "capture, sample 1.0",
            Variant::CaptureAndLog => "capture + inference log",
        }
    }
}

/// A router for `variant`, with its capture and worker (none when off).
struct Setup {
    router: axum::Router,
    capture: Option<(Arc<Capture>, CaptureWorker)>,
}

fn setup(
    variant: Variant,
    profile: &Arc<ReferenceProfile>,
    log_dir: &std::path::Path,
    runtime: &tokio::runtime::Runtime,
) -> Setup {
    if variant == Variant::Off {
        return Setup {
            router: router(None),
            capture: None,
        };
    }
    let references = Arc::new(FixedReferences::new().with(
        "lin",
        VersionReference {
            profile: Arc::clone(profile),
            inputs: None,
            outputs: None,
        },
    ));
    let mut options = CaptureOptions::default();
    if variant == Variant::CaptureAndLog {
        let root = StoreUri::parse(log_dir.to_str().unwrap())
            .unwrap()
            .open()
            .unwrap();
        options = options.with_inference_log(root, LogOptions::default());
    }
    let (capture, worker) = start(
        options,
        references,
        Vec::new(),
        Arc::new(MonitorMetrics::new()),
        runtime.handle().clone(),
    )
    .unwrap();
    Setup {
        router: router(Some(capture.clone())),
        capture: Some((capture, worker)),
    }
}

/// `clients` request loops on `router` until `stop`; the requests answered.
async fn load(router: axum::Router, body: Bytes, clients: usize, stop: Arc<AtomicBool>) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (router, body, stop, done) = (
            router.clone(),
            body.clone(),
            Arc::clone(&stop),
            Arc::clone(&done),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let request = Request::post("/v2/models/lin/infer")
                    .body(Body::from(body.clone()))
                    .unwrap();
                let response = router.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), 200);
                axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed)
}

/// Runs the load for `seconds`; (requests, elapsed seconds, process CPU seconds).
fn run_for(
    runtime: &tokio::runtime::Runtime,
    router: &axum::Router,
    body: &Bytes,
    clients: usize,
    seconds: f64,
) -> (u64, f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(seconds));
            stop.store(true, Ordering::Relaxed);
        })
    };
    let (started, cpu) = (Instant::now(), cpu_time());
    let requests = runtime.block_on(load(router.clone(), body.clone(), clients, stop));
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = (cpu_time() - cpu).as_secs_f64();
    timer.join().unwrap();
    (requests, elapsed, cpu)
}

/// The process's CPU time so far (all threads; wall time where the clock is missing): on a
/// machine shared with other jobs, wall time counts their turns too.
fn cpu_time() -> Duration {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    }
    #[cfg(not(target_os = "linux"))]
    {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
    }
}

/// CPU seconds used so far by the live monitor threads (`mlops-monitor*`, from
/// `/proc/self/task`; Linux, else 0): the capture worker's share of the machine.
fn monitor_cpu() -> f64 {
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.starts_with("mlops-monitor") {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: utime and stime are the 12th and 13th.
        let after = stat.rsplit(')').next().unwrap_or_default();
        let fields: Vec<&str> = after.split_whitespace().collect();
        for i in [11, 12] {
            ticks += fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    // USER_HZ is 100 on Linux.
    ticks as f64 / 100.0
}

/// The process's resident set in MiB (Linux `/proc/self/status`).
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        total += if path.is_dir() {
            dir_bytes(&path)
        } else {
            entry.metadata().map_or(0, |m| m.len())
        };
    }
    total
}

fn main() {
    let k = knobs();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let data: Vec<String> = (0..ROWS * FEATURES)
        .map(|i| format!("{}.5", (i * 37) % 100))
        .collect();
    let body = Bytes::from(format!(
        r#"{{"inputs":[{{"name":"input","shape":[{ROWS},{FEATURES}],"datatype":"FP32","data":[{}]}}]}}"#,
        data.join(",")
    ));
    let profile =
        Arc::new(ReferenceProfile::build(&[batch(20_000, 1)], &DriftOptions::default()).unwrap());
    let profile_kind = if cfg!(debug_assertions) {
        "debug build: not the numbers to report"
    } else {
        "release build"
    };
    println!(
        "mlops-monitor bench ({profile_kind}): {ROWS}-row {FEATURES}-feature FP32 requests, \
         {} in-process clients, 2 worker threads",
        k.clients
    );

    let log_root = tempfile::tempdir().unwrap();
    if k.runs("throughput") {
        let variants = [Variant::Off, Variant::Capture, Variant::CaptureAndLog];
        let mut totals = [(0u64, 0f64, 0u64, 0u64, 0f64); 3];
        let mut worker_cpu = [0f64; 3];
        for round in 0..k.rounds {
            for (i, variant) in variants.iter().enumerate() {
                let log_dir = log_root.path().join(format!("r{round}-{i}"));
                std::fs::create_dir_all(&log_dir).unwrap();
                let _guard = runtime.enter();
                let s = setup(*variant, &profile, &log_dir, &runtime);
                let (requests, elapsed, cpu) =
                    run_for(&runtime, &s.router, &body, k.clients, k.measure);
                let t = &mut totals[i];
                t.0 += requests;
                t.1 += elapsed;
                t.4 += cpu;
                if let Some((capture, worker)) = s.capture {
                    t.2 += capture.queued();
                    t.3 += capture.dropped();
                    // The worker's CPU while the clients ran (it started with them).
                    worker_cpu[i] += monitor_cpu();
                    // Drains the backlog outside the clock, so it never slows the next variant.
                    worker.stop();
                }
            }
        }
        let rate = |i: usize| totals[i].0 as f64 / totals[i].1;
        // CPU per request (every thread of the process, the monitor's too): on a machine
        // shared with other jobs, where req/s follows the neighbours' load, the steadier
        // figure; its ratio is the throughput ratio of a dedicated CPU-bound machine.
        let cpu_us = |i: usize| 1e6 * totals[i].4 / totals[i].0.max(1) as f64;
        println!(
            "\nthroughput ({} round(s) x {:.1} s per variant, interleaved; CPU per request \
             over all threads):",
            k.rounds, k.measure
        );
        for (i, variant) in variants.iter().enumerate() {
            let (_, _, queued, dropped, _) = totals[i];
            let mut line = format!(
                "  {:<26} {:>10.0} req/s  {:>6.2} us CPU/req",
                variant.name(),
                rate(i),
                cpu_us(i)
            );
            if i > 0 {
                let goal = if *variant == Variant::Capture {
                    0.9
                } else {
                    0.85
                };
                let seen = queued as f64 / (queued + dropped).max(1) as f64;
                line += &format!(
                    "  ratio {:.3} (goal >= {goal}), CPU ratio {:.3}  monitor saw {:.1} % \
                     ({queued} queued, {dropped} dropped)",
                    rate(i) / rate(0),
                    cpu_us(0) / cpu_us(i),
                    100.0 * seen
                );
                line += &format!(
                    "\n    monitor worker: {:.1} % of a core ({:.2} us CPU per request)",
                    100.0 * worker_cpu[i] / totals[i].1,
                    1e6 * worker_cpu[i] / totals[i].0.max(1) as f64
                );
            }
            println!("{line}");
        }
    }

    if k.runs("window") {
        window_accumulation(&k, &profile);
    }
    if k.runs("request") {
        request_path(&runtime, &profile);
    }
    if k.runs("rss") {
        let log_dir = log_root.path().join("rss");
        std::fs::create_dir_all(&log_dir).unwrap();
        let _guard = runtime.enter();
        let s = setup(Variant::CaptureAndLog, &profile, &log_dir, &runtime);
        let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (samples, sampling) = (Arc::clone(&samples), Arc::clone(&sampling));
            let every = Duration::from_secs_f64((k.seconds / 60.0).max(0.25));
            std::thread::spawn(move || {
                let started = Instant::now();
                while sampling.load(Ordering::Relaxed) {
                    if let Some(rss) = rss_mib() {
                        samples
                            .lock()
                            .unwrap()
                            .push((started.elapsed().as_secs_f64(), rss));
                    }
                    std::thread::sleep(every);
                }
            })
        };
        let (requests, elapsed, _) = run_for(&runtime, &s.router, &body, k.clients, k.seconds);
        sampling.store(false, Ordering::Relaxed);
        sampler.join().unwrap();
        let (capture, worker) = s.capture.unwrap();
        let (queued, dropped) = (capture.queued(), capture.dropped());
        worker.stop();
        let samples = samples.lock().unwrap().clone();
        println!(
            "\nRSS over {elapsed:.0} s at full load, capture + inference log ({:.0} req/s, {queued} \
             observations queued, {dropped} dropped, {:.1} MiB of log written):",
            requests as f64 / elapsed,
            dir_bytes(&log_dir) as f64 / f64::from(1 << 20)
        );
        if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
            let min = samples.iter().map(|s| s.1).fold(f64::INFINITY, f64::min);
            let max = samples.iter().map(|s| s.1).fold(0.0, f64::max);
            // The second half against the first: flat memory has the same maximum in both.
            let half = samples.len() / 2;
            let max_of = |s: &[(f64, f64)]| s.iter().map(|s| s.1).fold(0.0, f64::max);
            println!(
                "  start {:.1} MiB, end {:.1} MiB, min {min:.1}, max {max:.1}; max of the first half \
                 {:.1}, of the second half {:.1} MiB",
                first.1,
                last.1,
                max_of(&samples[..half.max(1)]),
                max_of(&samples[half..])
            );
            let step = (samples.len() / 12).max(1);
            let series: Vec<String> = (samples.iter().step_by(step))
                .map(|(t, rss)| format!("{t:.0}s {rss:.1}"))
                .collect();
            println!("  samples (MiB): {}", series.join(", "));
        }
        println!(
            "\nKServe's payload logger for comparison (issue 13): unbounded, out of memory at a few \
             thousand events/s (kserve#6167), no sent/dropped metrics (#6181)."
        );
    }
}

/// The model's metadata as the server reports it (`[-1, 8]` FP32 in, `[-1, 1]` out).
fn metadata() -> Arc<ModelMetadata> {
    let mut m = router_model().metadata().clone();
    m.version = Some("1".into());
    Arc::new(m)
}

fn router_model() -> LinearModel {
    let file = LinearFile::linear(vec![vec![0.5; FEATURES]], vec![0.0]);
    LinearModel::from_file(file, "lin", Some("1")).unwrap()
}

/// `count` distinct 64-row requests: (inputs, outputs).
fn requests(count: usize) -> Vec<(Vec<Tensor>, Vec<Tensor>)> {
    (0..count)
        .map(|r| {
            let values: Vec<f32> = (0..ROWS * FEATURES)
                .map(|i| ((i * 7919 + r * 104_729) % 1000) as f32 / 10.0)
                .collect();
            let scores: Vec<f32> = (0..ROWS).map(|i| i as f32).collect();
            (
                vec![Tensor::new(
                    "input",
                    TensorData::from_vec(&[ROWS, FEATURES], values).unwrap(),
                )],
                vec![Tensor::new(
                    "output",
                    TensorData::from_vec(&[ROWS, 1], scores).unwrap(),
                )],
            )
        })
        .collect()
}

/// Part 2: the window accumulation alone, per row and feature, as the capture worker runs
/// it (a one-thread rayon pool).
fn window_accumulation(k: &Knobs, profile: &Arc<ReferenceProfile>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let key = VersionKey {
        model: "lin".into(),
        version: "1".into(),
    };
    let monitor = || {
        VersionMonitor::new(
            key.clone(),
            Arc::clone(profile),
            Arc::new(DriftOptions::default()),
            WindowPolicy::rows(10_000).unwrap(),
        )
    };
    // As the capture worker: one request's tensors at a time.
    let metadata = metadata();
    let features = FeatureMap::new(&metadata, SignatureSchemas::default(), profile).unwrap();
    let requests = requests(16);
    let run = || {
        let mut monitor = monitor().with_features(features.clone());
        let (mut pushed, mut windows, started, cpu) = (0u64, 0usize, Instant::now(), cpu_time());
        while started.elapsed().as_secs_f64() < k.window_seconds {
            for (inputs, outputs) in &requests {
                windows += monitor
                    .observe_tensors(inputs, outputs, Timestamp::now())
                    .unwrap()
                    .len();
                pushed += ROWS as u64;
            }
        }
        (pushed, cpu_time() - cpu, windows)
    };
    println!(
        "\nwindow accumulation, 10 000-row windows closed and compared as they fill \
         (process CPU time, all threads):"
    );
    let (pushed, elapsed, windows) = pool.install(run);
    let ns = elapsed.as_nanos() as f64 / (pushed as f64 * FEATURES as f64);
    println!(
        "  {ns:>6.1} ns per row per feature from {ROWS}-row request tensors, in a one-thread \
         pool (the capture worker's path: {pushed} rows, {windows} windows)"
    );
    let (pushed, elapsed, windows) = run();
    let ns = elapsed.as_nanos() as f64 / (pushed as f64 * FEATURES as f64);
    println!(
        "  {ns:>6.1} ns per row per feature, the same on the global rayon pool ({pushed} \
         rows, {windows} windows)"
    );
    // The batch mode's path: 1024-row record batches.
    let rows = batch(1024, 2);
    let (pushed, elapsed) = pool.install(|| {
        let mut monitor = monitor();
        let (mut pushed, started, cpu) = (0u64, Instant::now(), cpu_time());
        while started.elapsed().as_secs_f64() < k.window_seconds {
            monitor.push(&rows, Timestamp::now()).unwrap();
            pushed += 1024;
        }
        (pushed, cpu_time() - cpu)
    });
    let ns = elapsed.as_nanos() as f64 / (pushed as f64 * FEATURES as f64);
    println!(
        "  {ns:>6.1} ns per row per feature from 1024-row record batches, in a one-thread \
         pool ({pushed} rows)"
    );
}

/// A reference source that holds the worker on its first observation until released, so
/// the queue fills (or is kept full) for the request-path measurement.
struct Held(tokio::sync::Notify, FixedReferences);

#[async_trait::async_trait]
impl ReferenceSource for Held {
    async fn reference(
        &self,
        model: &str,
        version: &str,
    ) -> mlops_monitor::Result<Option<VersionReference>> {
        self.0.notified().await;
        self.1.reference(model, version).await
    }
}

/// Part 3: the capture's work on the request path, per request, in one thread: each call
/// timed alone and the median kept (a neighbour's turn on the core lands in a few calls,
/// not in the median).
fn request_path(runtime: &tokio::runtime::Runtime, profile: &Arc<ReferenceProfile>) {
    const CALLS: usize = 200_000;
    let fixed = FixedReferences::new().with(
        "lin",
        VersionReference {
            profile: Arc::clone(profile),
            inputs: None,
            outputs: None,
        },
    );
    let metadata = metadata();
    let (inputs, _) = requests(1).remove(0);
    // What the server does for each request (handlers.rs): sample, then for an observed
    // request copy the inputs and hand them over with the outputs (moved, not copied: none
    // here, the profile has no output column). True when observed.
    let one = |capture: &Capture| {
        if !capture.sample(&metadata) {
            return false;
        }
        let observation = Observation::new(
            Arc::clone(&metadata),
            None,
            std::time::SystemTime::now(),
            Duration::from_micros(50),
            inputs.clone(),
            Vec::new(),
        );
        capture.observe(observation);
        true
    };
    let median = |mut ns: Vec<u64>| -> f64 {
        ns.sort_unstable();
        ns.get(ns.len() / 2).map_or(f64::NAN, |&n| n as f64)
    };
    // Observed: a running worker drains the default queue, as in the server.
    let (capture, worker) = start(
        CaptureOptions::default(),
        Arc::new(fixed.clone()),
        Vec::new(),
        Arc::new(MonitorMetrics::new()),
        runtime.handle().clone(),
    )
    .unwrap();
    let (mut observed, mut shed) = (Vec::with_capacity(CALLS), Vec::with_capacity(CALLS));
    for _ in 0..CALLS {
        let started = Instant::now();
        let seen = one(&capture);
        let ns = started.elapsed().as_nanos() as u64;
        if seen { &mut observed } else { &mut shed }.push(ns);
    }
    let (queued, dropped) = (capture.queued(), capture.dropped());
    worker.stop();
    let observed_ns = median(observed);
    // Shed: a worker held on its first observation, and a queue of one, full.
    let held = Arc::new(Held(tokio::sync::Notify::new(), fixed));
    let (capture, worker) = start(
        CaptureOptions::default().with_queue(1),
        held.clone(),
        Vec::new(),
        Arc::new(MonitorMetrics::new()),
        runtime.handle().clone(),
    )
    .unwrap();
    one(&capture);
    while capture.queued() < 1 {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    one(&capture);
    let mut full = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        one(&capture);
        full.push(started.elapsed().as_nanos() as u64);
    }
    let shed_count = capture.dropped();
    held.0.notify_one();
    worker.stop();
    println!(
        "\ncapture on the request path, one thread, median of {CALLS} calls timed one by one \
         ({ROWS}x{FEATURES} FP32 inputs, timer included):\n  {observed_ns:>6.0} ns per \
         observed request (sample, copy of the inputs, send), a worker draining the queue \
         ({queued} queued, {dropped} dropped)\n  {:>6.0} ns per request shed at a full queue \
         ({shed_count} shed)",
        median(full)
    );
}
