//! `mlops drift` and `mlops profile build`: data drift between Parquet files.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use mlops::drift::stats::ks::KsMethod;
use mlops::drift::{DriftOptions, DriftReport, ReferenceProfile, StatTest};

use crate::Result;
use crate::data::{read_parquet, read_profile, write_atomic};

/// Exit code when `--fail-on-drift` is given and the dataset drifted (1 is an error).
pub(crate) const EXIT_DRIFT: u8 = 3;

#[derive(Args, Debug)]
pub(crate) struct DriftArgs {
    /// The reference data (Parquet).
    #[arg(long, required_unless_present = "profile", conflicts_with = "profile")]
    reference: Option<PathBuf>,
    /// A reference profile built by `mlops profile build`, instead of --reference.
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
    /// Exit with code 3 when the dataset drifted.
    #[arg(long)]
    fail_on_drift: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum KsMethodArg {
    Auto,
    Exact,
    Asymp,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
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
        /// Where to write the profile (JSON).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs `mlops drift`; returns whether the dataset drifted.
pub(crate) fn run(args: DriftArgs) -> Result<bool> {
    let options = options(&args)?;
    let current = read_parquet(&args.current, args.columns.as_deref())?;
    let report = match (&args.profile, &args.reference) {
        (Some(path), _) => read_profile(path)?.compare(&current, &options)?,
        (None, Some(path)) => {
            let reference = read_parquet(path, args.columns.as_deref())?;
            mlops::drift::detect_drift(&reference, &current, &options)?
        }
        (None, None) => return Err("give --reference or --profile".into()),
    };
    let text = match args.format {
        Format::Json => report.to_json() + "\n",
        Format::Html => report.to_html(&format!("Drift: {}", args.current.display())),
        Format::Table => table(&report),
    };
    match &args.out {
        Some(path) => write_atomic(path, text.as_bytes())?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(args.fail_on_drift && report.dataset.dataset_drift)
}

/// Runs `mlops profile …`.
pub(crate) fn run_profile(command: ProfileCommand) -> Result<()> {
    match command {
        ProfileCommand::Build {
            reference,
            columns,
            out,
        } => {
            let mut options = DriftOptions::default();
            if let Some(columns) = &columns {
                options = options.with_columns(columns.iter().cloned());
            }
            let batches = read_parquet(&reference, columns.as_deref())?;
            let profile = ReferenceProfile::build(&batches, &options)?;
            write_atomic(&out, profile.to_json()?.as_bytes())?;
            println!(
                "profile of {} columns written to {}",
                profile.columns().len(),
                out.display()
            );
            Ok(())
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
            rows.push([
                column.column.clone(),
                kind.clone(),
                result.test.name().to_owned(),
                number(result.statistic),
                result.p_value.map_or("-".into(), number),
                number(result.threshold),
                if result.drifted { "DRIFT" } else { "ok" }.to_owned(),
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
    let d = &report.dataset;
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
