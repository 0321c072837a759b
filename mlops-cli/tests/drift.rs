//! `mlops drift` and `mlops profile build`, run as a user runs them on the sample data.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use crate::util::{mlops, root, text};

// Relative to the workspace root, where `mlops` runs.
const REFERENCE: &str = "examples/data/reference.parquet";
const CURRENT: &str = "examples/data/current.parquet";

#[test]
fn drift_prints_a_table_by_default() {
    let out = mlops(&["drift", "--reference", REFERENCE, "--current", CURRENT]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("column"), "{table}");
    for column in [
        "age",
        "income",
        "tenure_months",
        "plan",
        "country",
        "is_active",
    ] {
        assert!(table.contains(column), "{table}");
    }
    assert!(table.contains("2 of 6 columns drifted"), "{table}");
}

#[test]
fn drift_writes_json_and_html_reports() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("report.json");
    let out = mlops(&[
        "drift",
        "--reference",
        REFERENCE,
        "--current",
        CURRENT,
        "--test",
        "ks",
        "--test",
        "country=chisquare",
        "--test",
        "plan=psi",
        "--test",
        "is_active=z",
        "--threshold",
        "age=0.01",
        "--format",
        "json",
        "--out",
        json_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let columns = report["columns"].as_array().unwrap();
    let age = &columns[0];
    assert_eq!(age["results"][0]["test"], "ks");
    assert_eq!(age["results"][0]["threshold"], 0.01);
    assert_eq!(age["results"][0]["method"], "exact"); // 5000 per side: scipy's auto is exact
    assert_eq!(columns[4]["results"][0]["test"], "chisquare");
    assert_eq!(columns[4]["results"][0]["statistic"], "inf"); // PL is new in current
    assert!(report["dataset"]["share_drifted"].is_number());

    let html_path = dir.path().join("report.html");
    let out = mlops(&[
        "drift",
        "--reference",
        REFERENCE,
        "--current",
        CURRENT,
        "--format",
        "html",
        "--out",
        html_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
    assert!(html.contains("<svg") && html.contains("country"));
    // Written atomically: no temporary file is left beside it.
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn fail_on_drift_sets_the_exit_code() {
    let ok = mlops(&[
        "drift",
        "--reference",
        REFERENCE,
        "--current",
        CURRENT,
        "--fail-on-drift",
    ]);
    assert_eq!(ok.status.code(), Some(0), "2 of 6 is below the share");
    let drifted = mlops(&[
        "drift",
        "--reference",
        REFERENCE,
        "--current",
        CURRENT,
        "--drift-share",
        "0.3",
        "--fail-on-drift",
    ]);
    assert_eq!(drifted.status.code(), Some(3), "{}", text(&drifted.stderr));
}

#[test]
fn a_stored_profile_gives_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.json");
    let out = mlops(&[
        "profile",
        "build",
        "--reference",
        REFERENCE,
        "--out",
        profile.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let from_data = mlops(&[
        "drift",
        "--reference",
        REFERENCE,
        "--current",
        CURRENT,
        "--format",
        "json",
    ]);
    let from_profile = mlops(&[
        "drift",
        "--profile",
        profile.to_str().unwrap(),
        "--current",
        CURRENT,
        "--format",
        "json",
    ]);
    assert!(
        from_profile.status.success(),
        "{}",
        text(&from_profile.stderr)
    );
    assert_eq!(text(&from_data.stdout), text(&from_profile.stdout));
}

#[test]
fn bad_input_is_a_clear_error() {
    let missing = mlops(&[
        "drift",
        "--reference",
        "no/such.parquet",
        "--current",
        CURRENT,
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("no/such.parquet"),
        "{}",
        text(&missing.stderr)
    );

    let not_parquet = mlops(&["drift", "--reference", "README.md", "--current", CURRENT]);
    assert_eq!(not_parquet.status.code(), Some(1));
    assert!(text(&not_parquet.stderr).contains("README.md"));

    let bad_test = mlops(&[
        "drift",
        "--reference",
        REFERENCE,
        "--current",
        CURRENT,
        "--test",
        "kz",
    ]);
    assert_eq!(bad_test.status.code(), Some(1));
    assert!(
        text(&bad_test.stderr).contains("\"kz\""),
        "{}",
        text(&bad_test.stderr)
    );

    let bad_threshold = mlops(&[
        "drift",
        "--reference",
        REFERENCE,
        "--current",
        CURRENT,
        "--threshold",
        "age=x",
    ]);
    assert_eq!(bad_threshold.status.code(), Some(1));
    assert!(root().join(Path::new(REFERENCE)).exists());
}

/// A file whose footer reads but whose data pages are damaged fails the run with an error
/// that names the file, on either side, also with the pages decoded on a thread of their own
/// ahead of the profile: never a report over fewer rows.
#[test]
fn damaged_data_pages_are_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(root().join(CURRENT)).unwrap();
    for b in &mut bytes[2000..2064] {
        *b ^= 0x5A;
    }
    let damaged = dir.path().join("damaged.parquet");
    std::fs::write(&damaged, &bytes).unwrap();
    let damaged = damaged.to_str().unwrap();
    for (reference, current) in [(REFERENCE, damaged), (damaged, CURRENT)] {
        let out = mlops(&[
            "drift",
            "--reference",
            reference,
            "--current",
            current,
            "--format",
            "json",
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "no report on stdout");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(&format!("reading {damaged}")), "{stderr}");
    }
}

/// Issue 17: `--fail-on-drift` fails closed, and the files drift reads are bounded.
mod drift_gate {
    use std::process::{Command, Output, Stdio};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use mlops::drift::arrow_array::{RecordBatch, new_null_array};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    /// [`mlops`], failing the test (and killing the process) if it has not finished within
    /// 60 s: a read that blocks on a FIFO must fail the test, not hang the suite.
    fn mlops_bounded(args: &[&str]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mlops"))
            .args(args)
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap();
                panic!("mlops {args:?} did not finish within 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    }

    /// The batches of a Parquet file.
    fn read(path: &str) -> Vec<RecordBatch> {
        let file = std::fs::File::open(root().join(path)).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        reader.map(Result::unwrap).collect()
    }

    fn write(
        path: &Path,
        schema: Arc<mlops::drift::arrow_schema::Schema>,
        batches: &[RecordBatch],
    ) {
        let file = std::fs::File::create(path).unwrap();
        let mut writer = ArrowWriter::try_new(file, schema, None).unwrap();
        for batch in batches {
            writer.write(batch).unwrap();
        }
        writer.close().unwrap();
    }

    /// `mlops drift --fail-on-drift` against REFERENCE (or a `--profile`).
    fn gate(reference: &[&str], current: &str, extra: &[&str]) -> Output {
        let mut args = vec!["drift"];
        args.extend_from_slice(reference);
        args.extend_from_slice(&["--current", current, "--fail-on-drift"]);
        args.extend_from_slice(extra);
        mlops_bounded(&args)
    }

    const EXAMPLE_COLUMNS: [&str; 6] = [
        "age",
        "income",
        "tenure_months",
        "plan",
        "country",
        "is_active",
    ];

    #[test]
    fn a_current_file_without_rows_fails_the_gate() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.parquet");
        write(&empty, read(CURRENT)[0].schema(), &[]);
        let empty = empty.to_str().unwrap();

        let out = gate(&["--reference", REFERENCE], empty, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(stderr.contains("no column could be tested"), "{stderr}");
        for column in EXAMPLE_COLUMNS {
            assert!(stderr.contains(&format!("{column:?}")), "{stderr}");
        }
        // --allow-errors does not make "nothing tested" a pass.
        let out = gate(&["--reference", REFERENCE], empty, &["--allow-errors"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

        // Without the gate: the report, which no longer reads as "no dataset drift", and a
        // warning.
        let out = mlops_bounded(&["drift", "--reference", REFERENCE, "--current", empty]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let table = text(&out.stdout);
        assert!(!table.contains("no dataset drift"), "{table}");
        assert!(table.contains("no column could be tested"), "{table}");
        assert!(
            text(&out.stderr).contains("warning"),
            "{}",
            text(&out.stderr)
        );
    }

    #[test]
    fn a_current_file_without_the_reference_columns_fails_the_gate() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.parquet");
        let batch = RecordBatch::try_from_iter([(
            "something_else",
            Arc::new(mlops::drift::arrow_array::Float64Array::from(vec![
                1.0, 2.0,
            ])) as mlops::drift::arrow_array::ArrayRef,
        )])
        .unwrap();
        write(&other, batch.schema(), &[batch]);
        let out = gate(&["--reference", REFERENCE], other.to_str().unwrap(), &[]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(stderr.contains("not in the current data"), "{stderr}");
        assert!(stderr.contains("\"country\""), "{stderr}");
        assert!(!stderr.contains("column \"\""), "{stderr}");
    }

    #[test]
    fn a_profile_without_columns_fails_the_gate() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("empty-profile.json");
        std::fs::write(&profile, r#"{"version":1,"columns":[]}"#).unwrap();
        let profile = profile.to_str().unwrap();
        let out = gate(&["--profile", profile], CURRENT, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("no column to test"),
            "{}",
            text(&out.stderr)
        );
        let out = mlops_bounded(&["drift", "--profile", profile, "--current", CURRENT]);
        assert_eq!(out.status.code(), Some(0));
        assert!(
            !text(&out.stdout).contains("no dataset drift"),
            "{}",
            text(&out.stdout)
        );
    }

    #[test]
    fn a_column_that_became_all_null_fails_the_gate_unless_errors_are_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let nulls = dir.path().join("null-country.parquet");
        let batches: Vec<RecordBatch> = read(CURRENT)
            .into_iter()
            .map(|batch| {
                let at = batch.schema().index_of("country").unwrap();
                let mut columns = batch.columns().to_vec();
                columns[at] = new_null_array(columns[at].data_type(), batch.num_rows());
                RecordBatch::try_new(batch.schema(), columns).unwrap()
            })
            .collect();
        write(&nulls, batches[0].schema(), &batches);
        let nulls = nulls.to_str().unwrap();

        let out = gate(&["--reference", REFERENCE], nulls, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("1 of 6 columns could not be tested"),
            "{stderr}"
        );
        assert!(stderr.contains("\"country\""), "{stderr}");
        // Opted out: the five other columns decide (1 of 5 drifted: below the share).
        let out = gate(&["--reference", REFERENCE], nulls, &["--allow-errors"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let out = gate(
            &["--reference", REFERENCE],
            nulls,
            &["--allow-errors", "--drift-share", "0.2"],
        );
        assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("\"age\""),
            "{}",
            text(&out.stderr)
        );
    }

    #[test]
    fn profiles_that_are_not_bounded_regular_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        // /dev/zero used to grow without bound (8.7 GB in 20 s).
        let out = gate(&["--profile", "/dev/zero"], CURRENT, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("/dev/zero") && stderr.contains("not a regular file"),
            "{stderr}"
        );

        // A FIFO without a writer used to hang the command.
        let fifo = dir.path().join("profile.json");
        assert!(
            Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let out = gate(&["--profile", fifo.to_str().unwrap()], CURRENT, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("FIFO"), "{}", text(&out.stderr));
        // ... and as the current data.
        let out = gate(&["--reference", REFERENCE], fifo.to_str().unwrap(), &[]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("FIFO"), "{}", text(&out.stderr));

        // Over the limit: refused naming the file and the limit.
        let profile = dir.path().join("profile-real.json");
        let built = mlops(&[
            "profile",
            "build",
            "--reference",
            REFERENCE,
            "--out",
            profile.to_str().unwrap(),
        ]);
        assert!(built.status.success(), "{}", text(&built.stderr));
        let profile = profile.to_str().unwrap();
        let out = gate(
            &["--profile", profile],
            CURRENT,
            &["--max-profile-bytes", "1000"],
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(profile) && stderr.contains("1000 bytes"),
            "{stderr}"
        );
        assert_eq!(
            gate(&["--profile", profile], CURRENT, &[]).status.code(),
            Some(0)
        );
    }

    #[test]
    fn a_parquet_footer_over_the_limit_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge-footer.parquet");
        // A sparse 100 MiB file whose footer claims 96 MiB of metadata.
        let claimed: u32 = 96 << 20;
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(100 << 20).unwrap();
        drop(file);
        let mut tail = claimed.to_le_bytes().to_vec();
        tail.extend_from_slice(b"PAR1");
        {
            use std::io::{Seek, SeekFrom, Write};
            let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            file.write_all(b"PAR1").unwrap();
            file.seek(SeekFrom::End(-8)).unwrap();
            file.write_all(&tail).unwrap();
        }
        let path = path.to_str().unwrap();
        for args in [
            ["--reference", path, "--current", CURRENT],
            ["--reference", REFERENCE, "--current", path],
        ] {
            let mut all = vec!["drift"];
            all.extend_from_slice(&args);
            let out = mlops_bounded(&all);
            assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
            let stderr = text(&out.stderr);
            assert!(stderr.contains(path), "{stderr}");
            assert!(
                stderr.contains("footer") && stderr.contains(&format!("{}", 64 << 20)),
                "{stderr}"
            );
        }
    }
}

/// Issue 17, "disk full": `profile build --out` on a full disk fails naming the output and
/// the cause, leaves neither the profile nor its temporary file, and works once there is
/// room. The disk is a real 8 KiB tmpfs, so the test needs root (as in CI's container); not
/// root, it says so on stderr and checks nothing (the tracking and registry disk-full tests
/// also run on a store wrapper that needs no root).
#[test]
fn a_full_disk_fails_profile_build_cleanly() {
    let uid = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned));
    if uid.as_deref() != Some("0") {
        eprintln!("not root: no tmpfs to mount; nothing checked");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let mount = |options: &str| {
        let mut command = std::process::Command::new("mount");
        if options.starts_with("remount") {
            command.args(["-o", options]).arg(&disk);
        } else {
            command
                .args(["-t", "tmpfs", "-o", options, "tmpfs"])
                .arg(&disk);
        }
        assert!(command.status().unwrap().success(), "mount {options}");
    };
    mount("size=8k");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&disk);
    // Fill the disk but for a page, less than a profile needs.
    let filler = disk.join("filler");
    let mut filled = Vec::new();
    for chunk in 0.. {
        filled.extend_from_slice(&[b'x'; 1024]);
        if std::fs::write(&filler, &filled).is_err() || chunk > 64 {
            break;
        }
    }
    std::fs::write(&filler, &filled[..filled.len().saturating_sub(4096)]).unwrap();

    let profile = disk.join("profile.json");
    let build = [
        "profile",
        "build",
        "--reference",
        REFERENCE,
        "--out",
        profile.to_str().unwrap(),
    ];
    let out = mlops(&build);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(profile.to_str().unwrap()) && stderr.contains("No space left"),
        "{stderr}"
    );
    let left: Vec<String> = std::fs::read_dir(&disk)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["filler"], "a partial output was left");

    mount("remount,size=4m");
    let out = mlops(&build);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::metadata(&profile).unwrap().len() > 0);
}
