//! The tool itself: version, help, `store check`, how errors and closed pipes end a command.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Stdio;

use crate::util::{command, copy_tracking_part, fixture_store, mlops, mlops_in, ok, root, text};

#[test]
fn version_and_help() {
    let out = mlops(&["--version"]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).starts_with("mlops "),
        "{}",
        text(&out.stdout)
    );
    let out = mlops(&["--help"]);
    for command in ["store", "drift", "profile"] {
        assert!(text(&out.stdout).contains(command), "{}", text(&out.stdout));
    }
}

#[test]
fn store_check_works_on_a_new_folder() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("store");
    let out = mlops(&["store", "check", folder.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("the store works"));
    let bad = mlops(&["store", "check", "s3://bucket/../escape"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains(".."), "{}", text(&bad.stderr));
}

/// `mlops models show ... | head -0`: the reader is gone before anything is written. The
/// command ends quietly (no panic, no error) with its own exit code; so does `mlops drift`,
/// which writes its report in one piece.
#[test]
fn a_closed_stdout_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let store = fixture_store(dir.path(), "store");
    let store = store.to_str().unwrap();
    let commands: [&[&str]; 3] = [
        &[
            "models",
            "show",
            "--store",
            store,
            "--name",
            "income-regressor",
        ],
        &["runs", "list", "--store", store, "--format", "json"],
        &[
            "drift",
            "--reference",
            "examples/data/reference.parquet",
            "--current",
            "examples/data/current.parquet",
        ],
    ];
    for args in commands {
        let mut child = command(&root())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end at once, as `head -0` does.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// An error is one `error:` line naming the input; a cause the message already holds is not
/// printed again as `caused by:`.
#[test]
fn errors_name_the_input_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-model");
    let out = mlops_in(
        dir.path(),
        &[
            "models",
            "register",
            "--name",
            "m",
            "--path",
            missing.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains("no-such-model"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// Library warnings reach stderr by default; `-v` adds info lines naming their module;
/// RUST_LOG overrides both.
#[test]
fn logs_go_to_stderr_and_grow_with_verbose() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("mlops-runs");
    copy_tracking_part(&fixture_store(dir.path(), "fixture"), &old);
    let quiet = mlops_in(dir.path(), &["experiments", "list"], &[]);
    let stdout = ok(&quiet);
    assert!(stdout.starts_with("name"), "{stdout}");
    let stderr = text(&quiet.stderr);
    assert!(stderr.starts_with("warning: "), "{stderr}");
    assert!(
        !stderr.contains("mlops::"),
        "no module names without -v: {stderr}"
    );
    let verbose = mlops_in(dir.path(), &["-v", "experiments", "list"], &[]);
    assert!(text(&verbose.stderr).contains("warning: mlops::layout: "));
    let silenced = mlops_in(
        dir.path(),
        &["experiments", "list"],
        &[("RUST_LOG", "error")],
    );
    assert_eq!(text(&silenced.stdout), stdout);
    assert!(silenced.stderr.is_empty(), "{}", text(&silenced.stderr));
}
