//! `read_local_file` and `open_local_file`: what they refuse (FIFOs, devices, directories,
//! files over the limit) and that they refuse it without blocking or reading it all.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use mlops_core::{Error, open_local_file, read_local_file};

/// Runs `f` on a thread and fails the test if it has not returned within a few seconds: a
/// read that blocks (a FIFO without a writer) must fail the test, not hang it.
fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(f());
    });
    receive
        .recv_timeout(Duration::from_secs(10))
        .expect("the read blocked")
}

fn assert_not_a_file(err: &Error, path: &Path, what: &str) {
    match err {
        Error::NotAFile { path: p, what: w } => {
            assert_eq!(p, path);
            assert_eq!(*w, what);
        }
        other => panic!("expected NotAFile, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains(what), "{text}");
}

fn assert_too_large(err: &Error, path: &Path, limit: u64) {
    assert!(
        matches!(err, Error::FileTooLarge { path: p, limit: l } if p == path && *l == limit),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains(&format!("{limit} bytes")), "{text}");
}

#[test]
fn regular_files_are_read_up_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.json");
    std::fs::write(&path, b"0123456789").unwrap();
    assert_eq!(read_local_file(&path, 10).unwrap(), b"0123456789");
    assert_eq!(read_local_file(&path, u64::MAX).unwrap(), b"0123456789");
    assert_too_large(&read_local_file(&path, 9).unwrap_err(), &path, 9);
    assert_too_large(&read_local_file(&path, 0).unwrap_err(), &path, 0);

    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(read_local_file(&empty, 0).unwrap(), b"");
    assert!(open_local_file(&empty).is_ok());
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such.json");
    let err = read_local_file(&path, 100).unwrap_err();
    assert!(
        matches!(&err, Error::Io { path: p, .. } if p == &path),
        "{err:?}"
    );
    assert!(err.to_string().contains("no-such.json"), "{err}");
}

#[test]
fn directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_local_file(dir.path(), 100).unwrap_err();
    assert_not_a_file(&err, dir.path(), "a directory");
    let err = open_local_file(dir.path()).unwrap_err();
    assert_not_a_file(&err, dir.path(), "a directory");
}

#[cfg(unix)]
#[test]
fn dev_zero_is_refused_before_any_read() {
    let path = Path::new("/dev/zero");
    // Without the check this would fill memory: no limit could stop it in time to matter.
    let err = within_seconds(move || read_local_file(path, u64::MAX).unwrap_err());
    assert_not_a_file(&err, path, "a character device");
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("profile.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // No writer ever opens it: a plain open for reading would wait forever.
    let path = fifo.clone();
    let err = within_seconds(move || read_local_file(&path, 1 << 20).unwrap_err());
    assert_not_a_file(&err, &fifo, "a FIFO (named pipe)");
    let path = fifo.clone();
    let err = within_seconds(move || open_local_file(&path).unwrap_err());
    assert_not_a_file(&err, &fifo, "a FIFO (named pipe)");
}

#[cfg(unix)]
#[test]
fn a_link_to_a_regular_file_is_that_file_and_a_link_to_a_device_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("data");
    std::fs::write(&target, b"abc").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert_eq!(read_local_file(&link, 3).unwrap(), b"abc");
    let zero = dir.path().join("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let err = within_seconds({
        let zero = zero.clone();
        move || read_local_file(&zero, 1 << 20).unwrap_err()
    });
    assert_not_a_file(&err, &zero, "a character device");
}

/// Files under /proc report a size of 0 whatever they hold: the size check cannot catch
/// them, the bounded read must.
#[cfg(target_os = "linux")]
#[test]
fn a_file_larger_than_its_reported_size_is_cut_off_at_the_limit() {
    let path = Path::new("/proc/self/status");
    assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
    let whole = read_local_file(path, 1 << 20).unwrap();
    assert!(whole.len() > 64, "{}", whole.len());
    assert_too_large(&read_local_file(path, 64).unwrap_err(), path, 64);
}
