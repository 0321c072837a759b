//! In-process timings of `mlops-drift` on Parquet data, printed as one JSON object; used by
//! `benches/compare/drift_vs_python.py` (build with `cargo build --release --example
//! drift_timing`).
//!
//! ```text
//! drift_timing ks     --reference R.parquet --current C.parquet --column COL [--repeat N] [--presorted]
//! drift_timing psi    --reference R.parquet --current C.parquet --column COL [--repeat N] [--presorted]
//! drift_timing sort   --reference R.parquet --current C.parquet --column COL [--repeat N]
//! drift_timing report --reference R.parquet --current C.parquet [--repeat N] [--per-column]
//! ```
//!
//! * `ks`: `ks_2samp_unsorted` (sorted copies of both sides, then the test: what
//!   `scipy.stats.ks_2samp` does), or with `--presorted` `ks_2samp` on sorted input.
//! * `psi`: Evidently's PSI as the engine computes it: sorted copies of both sides (skipped
//!   with `--presorted`), `binned_percents` (Sturges bins, zero filling), `psi`.
//! * `sort`: `sorted_copy` of the reference column alone (one thread).
//! * `report`: the phases of `mlops drift` with default options, each timed: reading both
//!   files (as the CLI reads them: its own `data.rs`, string columns as dictionaries),
//!   building the reference profile, comparing, writing JSON; with `--per-column` also each
//!   column alone (profile and compare, run one after the other).
//!
//! Only the computation is timed for `ks` and `psi`: reading and cleaning the column happen
//! before the clock starts. Wall times are the median over the repeats, CPU times (user +
//! system of the whole process, every thread, from the process CPU clock) the mean. Linux
//! only for CPU and memory figures (`NaN` elsewhere).
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mlops::drift::arrow_array::RecordBatch;
use mlops::drift::stats::binning::binned_percents;
use mlops::drift::stats::ks::{KsMethod, ks_2samp, ks_2samp_unsorted, sorted_copy};
use mlops::drift::stats::psi::psi;
use mlops::drift::{DriftOptions, NumericSample, ReferenceProfile};
use serde_json::{Value, json};

/// The CLI's Parquet reading (string columns as dictionaries, 64 Ki-row batches), so that
/// the phases timed here are those of `mlops drift`.
#[allow(dead_code)]
#[path = "../mlops-cli/src/data.rs"]
mod data;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

struct Args {
    mode: String,
    reference: PathBuf,
    current: PathBuf,
    column: Option<String>,
    repeat: usize,
    presorted: bool,
    per_column: bool,
}

fn parse_args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let mode = it
        .next()
        .ok_or("usage: drift_timing ks|psi|report --reference R --current C")?;
    let mut args = Args {
        mode,
        reference: PathBuf::new(),
        current: PathBuf::new(),
        column: None,
        repeat: 5,
        presorted: false,
        per_column: false,
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--reference" => args.reference = value()?.into(),
            "--current" => args.current = value()?.into(),
            "--column" => args.column = Some(value()?),
            "--repeat" => args.repeat = value()?.parse::<usize>()?.max(1),
            "--presorted" => args.presorted = true,
            "--per-column" => args.per_column = true,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    Ok(args)
}

/// CPU seconds (user + system, all threads) of this process so far: the process CPU clock
/// (`CLOCK_PROCESS_CPUTIME_ID`, nanoseconds).
#[cfg(target_os = "linux")]
fn cpu_seconds() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Not measured off Linux.
#[cfg(not(target_os = "linux"))]
fn cpu_seconds() -> f64 {
    f64::NAN
}

/// A `VmHWM`/`VmRSS`-style line of `/proc/self/status`, in MiB.
fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Runs `f` `repeat` times: (median wall seconds, min wall seconds, mean CPU seconds, the
/// last result).
fn timed<T>(repeat: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, f64, f64, T)> {
    let mut walls = Vec::with_capacity(repeat);
    let cpu0 = cpu_seconds();
    let mut last = None;
    for _ in 0..repeat {
        let t = Instant::now();
        last = Some(f()?);
        walls.push(t.elapsed().as_secs_f64());
    }
    let cpu = (cpu_seconds() - cpu0) / repeat as f64;
    walls.sort_by(f64::total_cmp);
    let median = walls[walls.len() / 2];
    let min = walls[0];
    let last = last.ok_or("nothing ran")?;
    Ok((median, min, cpu, last))
}

/// Every batch of a Parquet file, optionally one column only, read as the CLI reads.
fn read_parquet(path: &Path, column: Option<&str>) -> Result<Vec<RecordBatch>> {
    let columns = column.map(|c| vec![c.to_owned()]);
    let (reader, _, _) = data::open_parquet(path, columns.as_deref(), true)?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}

/// The valid values of one numeric column (nulls, NaN and infinities dropped).
fn column_values(path: &Path, column: &str) -> Result<Vec<f64>> {
    let mut sample = NumericSample::new();
    for batch in read_parquet(path, Some(column))? {
        let array = batch
            .column_by_name(column)
            .ok_or_else(|| format!("column {column:?} missing"))?;
        sample.push(array.as_ref())?;
    }
    Ok(sample.values().to_vec())
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let out = match args.mode.as_str() {
        "ks" | "psi" | "sort" => stat(&args)?,
        "report" => report(&args)?,
        other => return Err(format!("unknown mode {other:?}").into()),
    };
    println!("{out}");
    Ok(())
}

fn stat(args: &Args) -> Result<Value> {
    let column = args.column.as_deref().ok_or("--column is required")?;
    let t = Instant::now();
    let mut reference = column_values(&args.reference, column)?;
    let mut current = column_values(&args.current, column)?;
    if args.presorted {
        reference = sorted_copy(&reference);
        current = sorted_copy(&current);
    }
    let load_s = t.elapsed().as_secs_f64();
    let rss_before = status_mib("VmRSS:");
    let (wall, wall_min, cpu, result) = if args.mode == "sort" {
        let (wall, wall_min, cpu, sorted) = timed(args.repeat, || Ok(sorted_copy(&reference)))?;
        (
            wall,
            wall_min,
            cpu,
            json!({"first": sorted.first(), "last": sorted.last()}),
        )
    } else if args.mode == "ks" {
        let (wall, wall_min, cpu, ks) = timed(args.repeat, || {
            Ok(if args.presorted {
                ks_2samp(&reference, &current, KsMethod::Auto)?
            } else {
                ks_2samp_unsorted(&reference, &current, KsMethod::Auto)?
            })
        })?;
        let result = json!({"statistic": ks.statistic, "p_value": ks.p_value,
                            "method": format!("{:?}", ks.method)});
        (wall, wall_min, cpu, result)
    } else {
        let (wall, wall_min, cpu, value) = timed(args.repeat, || {
            let shares = if args.presorted {
                binned_percents(&reference, &current, false, true)?
            } else {
                let (r, c) = rayon::join(|| sorted_copy(&reference), || sorted_copy(&current));
                binned_percents(&r, &c, false, true)?
            };
            Ok(psi(&shares.reference, &shares.current)?)
        })?;
        (wall, wall_min, cpu, json!({"statistic": value}))
    };
    Ok(json!({
        "mode": args.mode, "column": column, "presorted": args.presorted,
        "n_reference": reference.len(), "n_current": current.len(), "repeat": args.repeat,
        "load_s": load_s, "wall_s": wall, "wall_min_s": wall_min, "cpu_s": cpu,
        "rss_before_mib": rss_before, "peak_rss_mib": status_mib("VmHWM:"),
        "threads": rayon::current_num_threads(), "result": result,
    }))
}

fn report(args: &Args) -> Result<Value> {
    let options = DriftOptions::default();
    let mut phases: BTreeMap<&str, Value> = BTreeMap::new();
    let mut phase = |name: &'static str, wall: f64, cpu: f64| {
        phases.insert(name, json!({"wall_s": wall, "cpu_s": cpu}));
    };
    let (t, c) = (Instant::now(), cpu_seconds());
    let reference = read_parquet(&args.reference, None)?;
    phase(
        "read_reference",
        t.elapsed().as_secs_f64(),
        cpu_seconds() - c,
    );
    let (t, c) = (Instant::now(), cpu_seconds());
    let current = read_parquet(&args.current, None)?;
    phase("read_current", t.elapsed().as_secs_f64(), cpu_seconds() - c);
    let rss_data = status_mib("VmRSS:");

    let (wall, _, cpu, profile) = timed(args.repeat, || {
        Ok(ReferenceProfile::build(&reference, &options)?)
    })?;
    phase("build_profile", wall, cpu);
    let (wall, _, cpu, report) = timed(args.repeat, || Ok(profile.compare(&current, &options)?))?;
    phase("compare", wall, cpu);
    let (wall, _, cpu, text) = timed(args.repeat, || Ok(report.to_json()))?;
    phase("to_json", wall, cpu);

    let mut columns = Vec::new();
    if args.per_column {
        for column in profile.columns() {
            let name = column.name().to_owned();
            let one = DriftOptions::default().with_columns([name.clone()]);
            let (build_wall, _, build_cpu, p) = timed(args.repeat, || {
                Ok(ReferenceProfile::build(&reference, &one)?)
            })?;
            let (cmp_wall, _, cmp_cpu, r) = timed(args.repeat, || Ok(p.compare(&current, &one)?))?;
            let test = r
                .columns
                .first()
                .and_then(|c| c.results.first())
                .map(|t| t.test.name());
            columns.push(json!({
                "column": name, "kind": column.kind().map(|k| k.as_str()), "test": test,
                "build_wall_s": build_wall, "build_cpu_s": build_cpu,
                "compare_wall_s": cmp_wall, "compare_cpu_s": cmp_cpu,
            }));
        }
    }
    Ok(json!({
        "mode": "report", "repeat": args.repeat,
        "rows_reference": reference.iter().map(RecordBatch::num_rows).sum::<usize>(),
        "rows_current": current.iter().map(RecordBatch::num_rows).sum::<usize>(),
        "batches_reference": reference.len(),
        "phases": phases, "json_bytes": text.len(),
        "n_drifted": report.dataset.n_drifted, "dataset_drift": report.dataset.dataset_drift,
        "rss_after_read_mib": rss_data, "peak_rss_mib": status_mib("VmHWM:"),
        "threads": rayon::current_num_threads(), "columns": columns,
    }))
}
