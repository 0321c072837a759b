//! ONNX files that must not load: garbage, a pickle renamed `.onnx`, a missing file. (Models
//! made by scikit-learn are tested in `onnx_sklearn.rs`, a service test: it needs the venv.)

use mlops_serve::Error;
use mlops_serve::runtime::{self, onnx};

#[test]
fn files_that_are_not_onnx_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Protobuf-looking garbage with the .onnx extension: a load error naming the file.
    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"\x08\x07\x12\xff\xff\xff not a model").unwrap();
    let Err(err) = runtime::load(&garbage, "g", None) else {
        panic!("garbage loaded")
    };
    assert!(matches!(err, Error::Load { .. }), "{err}");
    // A pickle renamed to .onnx is refused by its magic bytes before the ONNX parser sees it.
    let pickle = dir.path().join("model.onnx");
    std::fs::write(
        &pickle,
        b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.",
    )
    .unwrap();
    let Err(err) = runtime::load(&pickle, "p", None) else {
        panic!("a pickle loaded")
    };
    assert!(matches!(err, Error::UnsafeArtifact { .. }), "{err}");
    // A missing file is an I/O error.
    let Err(err) = onnx::load(&dir.path().join("missing.onnx"), "m", None) else {
        panic!("a missing file loaded")
    };
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

/// Issue 17: the ONNX loader read its file with `std::fs::read`, so a FIFO blocked it forever
/// and a device never ended. It reads through the bounded local read: refused with the reason.
#[test]
fn a_fifo_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("model.onnx");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let Err(err) = onnx::load(&fifo, "f", None) else {
        panic!("a FIFO loaded")
    };
    assert!(matches!(err, Error::Load { .. }), "{err}");
    assert!(err.to_string().contains("FIFO"), "{err}");
    let Err(err) = onnx::load(std::path::Path::new("/dev/zero"), "z", None) else {
        panic!("/dev/zero loaded")
    };
    assert!(matches!(err, Error::Load { .. }), "{err}");
}
