//! Model files: the linear format, format sniffing, and refusing pickle/joblib.

use std::io::Write;

use mlops_serve::runtime::linear::{LinearFile, LinearModel};
use mlops_serve::runtime::{Format, load, sniff};
use mlops_serve::{Error, Model, Tensor, TensorData};

use crate::util::tensor;

#[test]
fn linear_file_round_trips_and_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    LinearFile::linear(vec![vec![1.0, -2.0], vec![0.5, 0.5]], vec![0.25, -1.0])
        .write(&path)
        .unwrap();
    assert_eq!(sniff(&path).unwrap(), Format::LinearJson);
    let model = load(&path, "two", Some("1")).unwrap();
    let metadata = model.metadata();
    assert_eq!(metadata.name, "two");
    assert_eq!(metadata.version.as_deref(), Some("1"));
    assert_eq!(metadata.inputs[0].shape, vec![-1, 2]);
    assert_eq!(metadata.outputs[0].shape, vec![-1, 2]);
    let out = model
        .infer(vec![Tensor::new(
            "input",
            tensor(&[2, 2], vec![1.0f32, 1.0, 2.0, 0.0]),
        )])
        .unwrap();
    assert_eq!(out[0].name, "output");
    assert_eq!(out[0].data, tensor(&[2, 2], vec![-0.75f32, 0.0, 2.25, 0.0]));
}

#[test]
fn logistic_and_fp64_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logit");
    std::fs::write(
        &path,
        r#" {"format":"mlops-linear/1","kind":"logistic","datatype":"FP64","input":"features","output":"proba","coefficients":[2.0, 0.0],"intercept":0.0}"#,
    )
    .unwrap();
    let model = load(&path, "logit", None).unwrap();
    assert_eq!(model.metadata().inputs[0].name, "features");
    let out = model
        .infer(vec![Tensor::new(
            "features",
            tensor(&[2, 2], vec![0.0f64, 5.0, 1.0, 0.0]),
        )])
        .unwrap();
    let TensorData::Fp64(p) = &out[0].data else {
        panic!("FP64 out")
    };
    assert_eq!(p[[0, 0]], 0.5);
    assert!((p[[1, 0]] - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-15);
}

#[test]
fn bad_linear_files_are_load_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (i, text) in [
        r#"{"format":"other","coefficients":[1]}"#,
        r#"{"format":"mlops-linear/1","coefficients":[]}"#,
        r#"{"format":"mlops-linear/1","coefficients":[[1,2],[3]]}"#,
        r#"{"format":"mlops-linear/1","coefficients":[1,2],"intercept":[1,2]}"#,
        r#"{"format":"mlops-linear/1","datatype":"INT8","coefficients":[1]}"#,
        r#"{"format":"mlops-linear/1","coefficients":[1],"surprise":1}"#,
        r#"{"format":"mlops-linear/1""#,
    ]
    .iter()
    .enumerate()
    {
        let path = dir.path().join(format!("bad{i}.json"));
        std::fs::write(&path, text).unwrap();
        let err = load(&path, "m", None).err().unwrap();
        assert!(matches!(err, Error::Load { .. }), "{text}: {err}");
    }
    let path = dir.path().join("ok.json");
    std::fs::write(&path, r#"{"format":"mlops-linear/1","coefficients":[1]}"#).unwrap();
    assert!(load(&path, "../escape", None).is_err());
    assert!(matches!(
        load(&dir.path().join("missing.json"), "m", None),
        Err(Error::Io { .. })
    ));
}

#[test]
fn linear_model_refuses_wrong_inputs() {
    let model = LinearModel::from_file(
        LinearFile::linear(vec![vec![1.0, 2.0]], vec![0.0]),
        "m",
        None,
    )
    .unwrap();
    let wrong_width = model.infer(vec![Tensor::new(
        "input",
        tensor(&[1, 3], vec![1.0f32, 2.0, 3.0]),
    )]);
    assert!(matches!(wrong_width, Err(Error::InvalidRequest(_))));
    let wrong_type = model.infer(vec![Tensor::new("input", tensor(&[1, 2], vec![1i64, 2]))]);
    assert!(matches!(wrong_type, Err(Error::InvalidRequest(_))));
}

/// A protocol-2 pickle of `{"a": 1}` as Python writes it, and the same gzip-wrapped
/// (what `joblib.dump(obj, "x.joblib", compress=("gzip", 3))` produces).
const PICKLE: &[u8] = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.";

#[test]
fn pickle_and_joblib_files_are_refused_by_magic_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(PICKLE).unwrap();
    let gzipped = gz.finish().unwrap();
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(PICKLE).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        // Extensions that lie: the bytes decide.
        ("model.json", PICKLE.to_vec(), "pickle"),
        ("model.onnx", b"\x80\x04\x95\x10\x00".to_vec(), "pickle"),
        ("model.bin", gzipped.clone(), "gzip-compressed pickle"),
        ("model.json", gzipped, "gzip-compressed pickle"),
        ("model.joblib", zlib.finish().unwrap(), "zlib"),
        (
            "model",
            b"(dp0\nS'a'\np1\nI1\ns.".to_vec(),
            "pickle (protocol 0/1)",
        ),
        (
            "model",
            b"cnumpy.core.multiarray\n_reconstruct\n".to_vec(),
            "pickle (protocol 0/1)",
        ),
        ("model", b"BZh91AY&SY".to_vec(), "bz2"),
        ("model", b"\xfd7zXZ\x00\x00".to_vec(), "xz"),
        ("model", b"\x04\x22\x4d\x18".to_vec(), "lz4"),
        (
            "model.pkl",
            b"{\"format\":\"mlops-linear/1\"}".to_vec(),
            "by extension",
        ),
    ];
    for (name, bytes, needle) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let err = load(&path, "m", None).err().unwrap();
        match &err {
            Error::UnsafeArtifact { format, .. } => {
                assert!(format.contains(needle), "{name}: {format}");
            }
            other => panic!("{name}: expected UnsafeArtifact, got {other}"),
        }
        assert!(err.to_string().contains("can execute code"));
    }
}

#[test]
fn unknown_formats_and_onnx_without_the_feature_are_load_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.xyz");
    std::fs::write(&path, b"GIF89a").unwrap();
    assert!(matches!(load(&path, "m", None), Err(Error::Load { .. })));
    let onnx = dir.path().join("model.onnx");
    std::fs::write(&onnx, b"\x08\x07\x12\x04test").unwrap();
    assert_eq!(sniff(&onnx).unwrap(), Format::Onnx);
    if cfg!(not(feature = "onnx")) {
        let err = load(&onnx, "m", None).err().unwrap();
        assert!(err.to_string().contains("`onnx` feature"), "{err}");
    } else {
        assert!(
            load(&onnx, "m", None).is_err(),
            "garbage is not an ONNX model"
        );
    }
}
