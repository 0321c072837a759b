//! `mlops drift` and `mlops profile build`: data drift between Parquet files.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use mlops::drift::stats::ks::KsMethod;
use mlops::drift::{
    DEFAULT_EXACT_CAP, DEFAULT_SKETCH_K, DriftOptions, DriftReport, GatePolicy, GateVerdict,
    ProfileOptions, ReferenceProfile, StatTest,
};

use mlops::drift::arrow_array::RecordBatch;
use mlops::drift::arrow_schema::ArrowError;
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;

use crate::Result;
use crate::data::{DEFAULT_MAX_PROFILE_BYTES, open_parquet, read_profile, write_atomic};
use crate::output::progress::Progress;

#[derive(Args, Debug)]
pub(crate) struct DriftArgs {
    /// The reference data (Parquet).
    #[arg(long, required_unless_present = "profile", conflicts_with = "profile")]
    reference: Option<PathBuf>,
    /// A reference profile built by `mlops profile build` (JSON or Parquet), instead of
    /// --reference.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// The current data (Parquet).
    #[arg(long)]
    current: PathBuf,
    /// Test only these columns (comma-separated).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// A test for every column (NAME), or for one (COL=NAME); repeat to run several.
    /// Names: ks, chisquare, psi, psi_quantile, kl_div, jensenshannon, hellinger,
    /// wasserstein, z, ed. Default: Evidently's choice per column.
    #[arg(long = "test")]
    tests: Vec<String>,
    /// A threshold for every column (X) or for one (COL=X).
    #[arg(long = "threshold")]
    thresholds: Vec<String>,
    /// How ks computes p-values.
    #[arg(long, value_enum, default_value_t = KsMethodArg::Auto)]
    ks_method: KsMethodArg,
    /// The share of drifted columns at which the dataset drifts.
    #[arg(long, default_value_t = 0.5)]
    drift_share: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the report here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Gate on the result: exit with code 3 when the dataset drifted, and with code 1 when
    /// the input cannot answer (no column could be tested, or a column could not be tested;
    /// the message names them). The report is written first either way.
    #[arg(long)]
    fail_on_drift: bool,
    /// With --fail-on-drift: columns that could not be tested do not fail the gate (they
    /// stay in the report); a run in which no column at all was tested still fails.
    #[arg(long, requires = "fail_on_drift")]
    allow_errors: bool,
    /// The largest --profile file read, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_PROFILE_BYTES)]
    max_profile_bytes: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum KsMethodArg {
    Auto,
    Exact,
    Asymp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A readable table.
    Table,
    /// The stable JSON report (docs/DRIFT-REPORT.md).
    Json,
    /// A self-contained HTML page.
    Html,
}

#[derive(Subcommand, Debug)]
pub(crate) enum ProfileCommand {
    /// Build a reference profile from Parquet data, to compare with later without the data.
    Build {
        /// The reference data (Parquet).
        #[arg(long)]
        reference: PathBuf,
        /// Profile only these columns (comma-separated).
        #[arg(long, value_delimiter = ',')]
        columns: Option<Vec<String>>,
        /// Where to write the profile: `.json` for JSON, `.parquet` (or `.pq`) for Parquet.
        #[arg(long)]
        out: PathBuf,
        /// Numerical columns keep their exact sorted values up to this many valid values, and
        /// a quantile sketch beyond (then the tests against them are approximate).
        #[arg(long, default_value_t = DEFAULT_EXACT_CAP)]
        exact_cap: usize,
        /// The KLL sketch parameter k beyond the cap: rank error about 2.3 / k^0.97
        /// (0.99% at 270, 0.23% at 1200).
        #[arg(long, default_value_t = DEFAULT_SKETCH_K)]
        sketch_k: u16,
        /// `table` prints a sentence; `json` one object (out, columns, sketched, exact, bytes).
        #[arg(long, value_enum, default_value_t)]
        format: crate::output::Format,
    },
}

/// The file format of a profile, from the path's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProfileFormat {
    Json,
    Parquet,
}

fn profile_format(path: &std::path::Path) -> Result<ProfileFormat> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("json") => Ok(ProfileFormat::Json),
        Some("parquet" | "pq") => Ok(ProfileFormat::Parquet),
        _ => Err(format!(
            "--out {}: give a .json or .parquet file name (the extension picks the format)",
            path.display()
        )
        .into()),
    }
}

/// Runs `mlops drift`; returns whether the gate (`--fail-on-drift`) saw drift, and fails
/// when the gate finds the input unusable.
///
/// Both files are streamed batch by batch: the reference into a profile (exact, as
/// `detect_drift`, unless a stored profile is given), the current data into an accumulator.
/// Only the valid numerical values are held, never the Arrow batches.
pub(crate) fn run(args: DriftArgs) -> Result<bool> {
    let options = options(&args)?;
    let DriftArgs {
        reference,
        profile,
        current: current_path,
        format,
        out,
        fail_on_drift,
        allow_errors,
        max_profile_bytes,
        ..
    } = args;
    let profile = match (&profile, &reference) {
        (Some(path), _) => read_profile(path, max_profile_bytes)?,
        (None, Some(path)) => build_profile(path, &options, &ProfileOptions::exact())?,
        (None, None) => return Err("give --reference or --profile".into()),
    };
    // Only the columns compared are read (`--columns` selects among the profile's).
    let names: Vec<String> = match options.columns() {
        Some(columns) => columns.to_vec(),
        None => profile
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect(),
    };
    let mut current = profile.accumulator();
    let (reader, _, rows) = open_parquet(&current_path, Some(&names), false)?;
    current.reserve(rows);
    let progress = Progress::rows(rows as u64, "current data");
    for batch in read_ahead(reader) {
        let batch = batch.map_err(|e| format!("reading {}: {e}", current_path.display()))?;
        current.push(&batch)?;
        progress.inc(batch.num_rows() as u64);
    }
    current.finish();
    let report = profile.compare_accumulated(&current, &options)?;
    let summary = summary(&report, out.as_deref());
    crate::step::report(step_report(&report, &current_path, fail_on_drift));
    match (&out, format) {
        (Some(path), _) => {
            let text = match format {
                Format::Json => report.to_json() + "\n",
                Format::Html => report.to_html(&format!("Drift: {}", current_path.display())),
                Format::Table => table(&report),
            };
            write_atomic(path, text.as_bytes())?;
            // The step's result on stdout, the report in the file.
            if format == Format::Json {
                crate::output::json(&summary)?;
            }
        }
        (None, Format::Json) => {
            // The whole report on one line; the step's `result` output is its summary.
            crate::output::line(&serde_json::to_string(&report)?)?;
            crate::step::result(&summary.to_string());
        }
        (None, Format::Html) => {
            let html = report.to_html(&format!("Drift: {}", current_path.display()));
            std::io::stdout().write_all(html.as_bytes())?;
        }
        (None, Format::Table) => std::io::stdout().write_all(table(&report).as_bytes())?,
    }
    gate(&report, fail_on_drift, allow_errors)
}

/// The names of the columns that drifted.
fn drifted_columns(report: &DriftReport) -> Vec<&str> {
    report
        .columns
        .iter()
        .filter(|c| c.drifted)
        .map(|c| c.column.as_str())
        .collect()
}

/// The dataset verdict in a few fields: the step's JSON result when the report goes to a
/// file, and its `result` output.
fn summary(report: &DriftReport, out: Option<&std::path::Path>) -> serde_json::Value {
    let d = &report.dataset;
    serde_json::json!({
        "dataset_drift": d.dataset_drift,
        "n_drifted": d.n_drifted,
        "n_columns": d.n_columns,
        "share_drifted": crate::output::json_number(d.share_drifted),
        "drift_share": crate::output::json_number(d.drift_share),
        "n_errors": d.n_errors,
        "drifted_columns": drifted_columns(report),
        "out": out.map(|p| p.display().to_string()),
    })
}

/// What `drift` tells an orchestrator: the verdict, the drifted columns, the drift check
/// (`mlops data diff` reports its drift with it too).
pub(crate) fn step_report(
    report: &DriftReport,
    current: &std::path::Path,
    fail_on_drift: bool,
) -> crate::step::StepReport {
    use crate::step::{Check, DriftedColumn, Level, StepReport};
    let d = &report.dataset;
    let drifted = drifted_columns(report);
    let outcome = format!(
        "{} of {} columns drifted (share {:.3}, threshold {}): {}",
        d.n_drifted,
        d.n_columns,
        d.share_drifted,
        d.drift_share,
        if d.dataset_drift {
            "dataset drift"
        } else {
            "no dataset drift"
        }
    );
    let mut step = StepReport::new(format!("drift {}", current.display()), outcome.clone())
        .output("dataset_drift", d.dataset_drift)
        .output("n_drifted", d.n_drifted)
        .output("n_columns", d.n_columns)
        .output("share_drifted", crate::output::json_number(d.share_drifted))
        .output("drifted_columns", drifted.join(","));
    if d.dataset_drift {
        let level = if fail_on_drift {
            Level::Error
        } else {
            Level::Warning
        };
        step = step.annotate(level, format!("{outcome}: {}", drifted.join(", ")));
    }
    step.drifted = report
        .columns
        .iter()
        .flat_map(|c| c.results.iter().map(move |r| (c, r)))
        .filter(|(_, r)| r.drifted)
        .map(|(c, r)| DriftedColumn {
            column: c.column.clone(),
            test: r.test.name().to_owned(),
            statistic: r.statistic,
            threshold: r.threshold,
        })
        .collect();
    step.check = Some(Check {
        name: "drift".into(),
        passed: !d.dataset_drift,
        blocking: fail_on_drift,
    });
    step
}

/// The gate on a written report: fails closed with `--fail-on-drift` (an unusable input is
/// an error: exit 1, naming the columns; drift is exit 3), only warns without it.
fn gate(report: &DriftReport, fail_on_drift: bool, allow_errors: bool) -> Result<bool> {
    let verdict = report.gate(GatePolicy::new().with_allow_errors(allow_errors));
    match verdict {
        GateVerdict::Unusable(reason) if fail_on_drift => {
            Err(format!("drift gate: unusable input: {reason}").into())
        }
        GateVerdict::Unusable(reason) => {
            tracing::warn!("{reason}");
            Ok(false)
        }
        GateVerdict::Drift { .. } if fail_on_drift => {
            tracing::warn!("drift gate: {verdict}");
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The batches of `reader`, decoded on a thread of their own a few batches ahead of the
/// consumer: decoding (one thread) then overlaps with the profile or accumulator work on
/// each batch (the rayon threads), at the cost of holding [`READ_AHEAD`] more batches.
fn read_ahead(
    reader: ParquetRecordBatchReader,
) -> impl Iterator<Item = std::result::Result<RecordBatch, ArrowError>> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(READ_AHEAD);
    std::thread::spawn(move || {
        let mut reader = reader;
        loop {
            // A decoder panic (parquet can panic on some corrupt files) must reach the
            // consumer as an error: a silently shorter stream would be a wrong report.
            let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.next()))
                .unwrap_or_else(|_| {
                    Some(Err(ArrowError::ParquetError(
                        "the Parquet decoder panicked on this file".to_owned(),
                    )))
                });
            let Some(batch) = next else { break };
            let failed = batch.is_err();
            // The consumer stopped (an error of its own): stop decoding.
            if sender.send(batch).is_err() || failed {
                break;
            }
        }
    });
    receiver.into_iter()
}

/// Batches decoded ahead of the consumer by [`read_ahead`].
const READ_AHEAD: usize = 2;

/// Streams a Parquet file into a reference profile.
fn build_profile(
    path: &std::path::Path,
    options: &DriftOptions,
    profile: &ProfileOptions,
) -> Result<ReferenceProfile> {
    // The file's schema: string columns read as dictionaries are still `Utf8` in the profile.
    let (reader, schema, rows) = open_parquet(path, options.columns(), true)?;
    let mut builder = ReferenceProfile::builder(&schema, options, profile)?;
    builder.reserve_rows(rows);
    let progress = Progress::rows(rows as u64, "reference profile");
    for batch in read_ahead(reader) {
        let batch = batch.map_err(|e| format!("reading {}: {e}", path.display()))?;
        builder.push(&batch)?;
        progress.inc(batch.num_rows() as u64);
    }
    Ok(builder.finish())
}

/// Runs `mlops profile …`.
pub(crate) fn run_profile(command: ProfileCommand) -> Result<()> {
    match command {
        ProfileCommand::Build {
            reference,
            columns,
            out,
            exact_cap,
            sketch_k,
            format: print,
        } => {
            let format = profile_format(&out)?;
            let mut options = DriftOptions::default();
            if let Some(columns) = &columns {
                options = options.with_columns(columns.iter().cloned());
            }
            let profile_options = ProfileOptions::default()
                .with_exact_cap(exact_cap)
                .with_sketch_k(sketch_k);
            let profile = build_profile(&reference, &options, &profile_options)?;
            let bytes = match format {
                ProfileFormat::Json => profile.to_json()?.into_bytes(),
                ProfileFormat::Parquet => profile.to_parquet()?,
            };
            write_atomic(&out, &bytes)?;
            let sketched = profile
                .columns()
                .iter()
                .filter(|c| matches!(c.data(), mlops::drift::ProfileData::NumericalSketch(_)))
                .count();
            let sentence = format!(
                "profile of {} columns ({sketched} sketched beyond {exact_cap} values{}) \
                 written to {} ({} bytes)",
                profile.columns().len(),
                if profile.is_exact() {
                    ", all exact"
                } else {
                    ", approximate"
                },
                out.display(),
                bytes.len()
            );
            let step = crate::step::StepReport::new(
                format!("profile build {}", reference.display()),
                sentence.clone(),
            )
            .output("out", out.display().to_string())
            .output("columns", profile.columns().len())
            .output("exact", profile.is_exact());
            crate::step::report(step);
            match print {
                crate::output::Format::Table => crate::output::line(&sentence),
                crate::output::Format::Json => crate::output::json(&serde_json::json!({
                    "out": out.display().to_string(),
                    "columns": profile.columns().len(),
                    "sketched": sketched,
                    "exact": profile.is_exact(),
                    "bytes": bytes.len(),
                })),
            }
        }
    }
}

fn options(args: &DriftArgs) -> Result<DriftOptions> {
    let mut options = DriftOptions::default()
        .with_drift_share(args.drift_share)
        .with_ks_method(match args.ks_method {
            KsMethodArg::Auto => KsMethod::Auto,
            KsMethodArg::Exact => KsMethod::Exact,
            KsMethodArg::Asymp => KsMethod::Asymp,
        });
    if let Some(columns) = &args.columns {
        options = options.with_columns(columns.iter().cloned());
    }
    for spec in &args.tests {
        options = match spec.split_once('=') {
            Some((column, name)) => options.with_column_test(column, name.parse::<StatTest>()?),
            None => options.with_test(spec.parse::<StatTest>()?),
        };
    }
    for spec in &args.thresholds {
        let (column, value) = match spec.split_once('=') {
            Some((column, value)) => (Some(column), value),
            None => (None, spec.as_str()),
        };
        let threshold: f64 = value
            .parse()
            .map_err(|_| format!("--threshold {spec:?}: {value:?} is not a number"))?;
        options = match column {
            Some(column) => options.with_column_threshold(column, threshold),
            None => options.with_threshold(threshold),
        };
    }
    options.validate()?;
    Ok(options)
}

/// The report as a terminal table: one line per column and test.
fn table(report: &DriftReport) -> String {
    let mut rows = vec![
        [
            "column",
            "kind",
            "test",
            "statistic",
            "p-value",
            "threshold",
            "drift",
            "valid ref/cur",
        ]
        .map(String::from),
    ];
    let mut approximations = false;
    for column in &report.columns {
        let kind = column.kind.map_or("-", |k| k.as_str()).to_owned();
        let valid = format!("{}/{}", column.reference.valid, column.current.valid);
        if let Some(error) = &column.error {
            rows.push([
                column.column.clone(),
                kind,
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                format!("ERROR: {error}"),
                valid,
            ]);
            continue;
        }
        for result in &column.results {
            let approximate = result.details.get("approximate") == Some(&true.into());
            let uncertain = result.details.get("verdict_certain") == Some(&false.into());
            approximations |= approximate;
            rows.push([
                column.column.clone(),
                kind.clone(),
                result.test.name().to_owned(),
                format!(
                    "{}{}",
                    if approximate { "~" } else { "" },
                    number(result.statistic)
                ),
                result.p_value.map_or("-".into(), number),
                number(result.threshold),
                format!(
                    "{}{}",
                    if result.drifted { "DRIFT" } else { "ok" },
                    if uncertain { "?" } else { "" }
                ),
                valid.clone(),
            ]);
        }
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if approximations {
        out.push_str(
            "\n~: approximate (the profile sketched this column beyond its exact cap); \
             ?: the verdict may change within the error bound\n",
        );
    }
    let d = &report.dataset;
    // "0 of 0 columns drifted: no dataset drift" would read as a pass.
    if report.columns.is_empty() {
        out.push_str("\nthe profile has no columns: nothing to test, no verdict\n");
        return out;
    }
    if report.nothing_tested() {
        out.push_str(&format!(
            "\nno column could be tested ({} columns with errors): no verdict\n",
            d.n_errors
        ));
        return out;
    }
    out.push_str(&format!(
        "\n{} of {} columns drifted (share {:.3}, threshold {}): {}{}\n",
        d.n_drifted,
        d.n_columns,
        d.share_drifted,
        d.drift_share,
        if d.dataset_drift {
            "DATASET DRIFT"
        } else {
            "no dataset drift"
        },
        if d.n_errors > 0 {
            format!("; {} columns could not be tested", d.n_errors)
        } else {
            String::new()
        }
    ));
    out
}

fn number(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value != 0.0 && value.abs() < 1e-3 {
        format!("{value:.3e}")
    } else {
        format!("{value:.4}")
    }
}
