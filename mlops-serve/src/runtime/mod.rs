//! Runtimes that turn a model file into a [`Model`]: [`load`] (a file on disk),
//! [`load_bytes`] (bytes in memory, such as a registry download) and [`load_files`] (every
//! file of a model version, picking the model among them). Each picks the runtime from the
//! file's extension and magic bytes.
//!
//! Loading never executes code from the artifact: pickle and joblib files (and gzip, bz2,
//! xz, lz4 or zlib files wrapping them) are refused by their magic bytes before anything
//! else is read.

pub mod linear;
#[cfg(feature = "onnx")]
pub mod onnx;
#[cfg(feature = "transform")]
pub mod transformed;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::Model;
use crate::source::ModelFile;

/// The formats [`load`] recognises from a file's first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// The built-in linear/logistic JSON file (see [`linear`]).
    LinearJson,
    /// An ONNX protobuf model (needs the `onnx` feature).
    Onnx,
}

/// How many leading bytes decide the format.
const HEAD: usize = 16;

/// Loads the model file at `path` and serves it as `name` (and `version`, if given).
///
/// `.json` files (or files starting with `{`) are the built-in [`linear`] format; `.onnx`
/// files (or protobuf files starting with the ONNX `ir_version` field) go to the ONNX runtime,
/// which needs the `onnx` feature. Pickle, joblib and compressed files are refused with
/// [`Error::UnsafeArtifact`] before they are parsed.
pub fn load(path: &Path, name: &str, version: Option<&str>) -> Result<Arc<dyn Model>> {
    let format = sniff(path)?;
    match format {
        Format::LinearJson => Ok(Arc::new(linear::LinearModel::load(path, name, version)?)),
        Format::Onnx => load_onnx(path, name, version),
    }
}

/// Loads a model from the bytes of a model file, as [`load`] does for a file: `hint` is the
/// file's name (its extension counts, as for [`load`]; errors name it). Nothing is written
/// to disk; an ONNX model with external tensor data cannot load this way (it has no folder).
///
/// ```
/// use mlops_serve::runtime::{self, linear::LinearFile};
///
/// let json = serde_json::to_vec(&LinearFile::linear(vec![vec![2.0]], vec![0.5]))?;
/// let model = runtime::load_bytes(&json, "model.json", "price", Some("3"))?;
/// assert_eq!(model.metadata().version.as_deref(), Some("3"));
/// // A pickle is refused by its first bytes, whatever its name says.
/// let pickle = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.";
/// assert!(runtime::load_bytes(pickle, "model.onnx", "price", None).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_bytes(
    bytes: &[u8],
    hint: &str,
    name: &str,
    version: Option<&str>,
) -> Result<Arc<dyn Model>> {
    match sniff_bytes(bytes, hint)? {
        Format::LinearJson => Ok(Arc::new(linear::LinearModel::from_bytes(
            bytes, hint, name, version,
        )?)),
        Format::Onnx => load_onnx_bytes(bytes, hint, name, version),
    }
}

/// Loads the model among the files of a model version (a registry version, a folder): the
/// one file if there is one; otherwise the one `.onnx` file, or else the one `.json` file in
/// the [`linear`] format. Other files (an MLflow `MLmodel`, requirements, a signature) are
/// ignored; a pickle is refused when it is the only candidate, and two candidates are an
/// error rather than a guess.
///
/// A fitted feature transform among the files (JSON with `"format": "mlops-transform/1"`,
/// usually `transform.json`) is put in front of the model (feature `transform`, see
/// [`transformed`]): clients then send raw columns. Without that feature such a version is
/// refused rather than served without the transform it was trained with.
pub fn load_files(
    files: &[ModelFile],
    name: &str,
    version: Option<&str>,
) -> Result<Arc<dyn Model>> {
    let transforms: Vec<&ModelFile> = files.iter().filter(|f| is_transform(f)).collect();
    let rest: Vec<ModelFile> = files.iter().filter(|f| !is_transform(f)).cloned().collect();
    let file = pick_model_file(&rest)?;
    let model = load_bytes(&file.bytes, &file.path, name, version)?;
    match transforms.as_slice() {
        [] => Ok(model),
        [one] => with_transform(model, one),
        several => Err(Error::Load {
            path: PathBuf::from(&several[1].path),
            reason: format!(
                "several feature transforms ({} and {}); keep one",
                several[0].path, several[1].path
            ),
        }),
    }
}

/// Whether a version's file is a fitted feature transform (by its `format`, not its name).
fn is_transform(file: &ModelFile) -> bool {
    extension(&file.path).as_deref() == Some("json")
        && file.bytes.first() == Some(&b'{')
        && serde_json::from_slice::<serde_json::Value>(&file.bytes)
            .is_ok_and(|v| v["format"] == "mlops-transform/1")
}

#[cfg(feature = "transform")]
fn with_transform(model: Arc<dyn Model>, file: &ModelFile) -> Result<Arc<dyn Model>> {
    let fitted =
        mlops_transform::FittedTransform::from_json(&file.bytes).map_err(|e| Error::Load {
            path: PathBuf::from(&file.path),
            reason: e.to_string(),
        })?;
    Ok(Arc::new(transformed::Transformed::new(model, fitted)?))
}

#[cfg(not(feature = "transform"))]
fn with_transform(_model: Arc<dyn Model>, file: &ModelFile) -> Result<Arc<dyn Model>> {
    Err(Error::Load {
        path: PathBuf::from(&file.path),
        reason: "this version ships a feature transform; build mlops-serve with the `transform` feature to serve it".into(),
    })
}

fn pick_model_file(files: &[ModelFile]) -> Result<&ModelFile> {
    let listed = || {
        files
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let [only] = files {
        return Ok(only);
    }
    let onnx: Vec<&ModelFile> = files
        .iter()
        .filter(|f| extension(&f.path).as_deref() == Some("onnx"))
        .collect();
    let candidates = if onnx.is_empty() {
        files
            .iter()
            .filter(|f| {
                extension(&f.path).as_deref() == Some("json")
                    && serde_json::from_slice::<serde_json::Value>(&f.bytes)
                        .is_ok_and(|v| v["format"] == linear::FORMAT)
            })
            .collect()
    } else {
        onnx
    };
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => {
            if let Some(pickle) = files.iter().find(|f| {
                matches!(
                    sniff_bytes(&f.bytes, &f.path),
                    Err(Error::UnsafeArtifact { .. })
                )
            }) {
                return sniff_bytes(&pickle.bytes, &pickle.path).map(|_| pickle);
            }
            Err(Error::Load {
                path: PathBuf::new(),
                reason: format!(
                    "no model file among [{}]: expected an .onnx file or a linear .json file",
                    listed()
                ),
            })
        }
        _ => Err(Error::Load {
            path: PathBuf::new(),
            reason: format!("several model files among [{}]; keep one", listed()),
        }),
    }
}

#[cfg(feature = "onnx")]
fn load_onnx(path: &Path, name: &str, version: Option<&str>) -> Result<Arc<dyn Model>> {
    onnx::load(path, name, version)
}

#[cfg(not(feature = "onnx"))]
fn load_onnx(path: &Path, _name: &str, _version: Option<&str>) -> Result<Arc<dyn Model>> {
    Err(no_onnx(path))
}

#[cfg(feature = "onnx")]
fn load_onnx_bytes(
    bytes: &[u8],
    hint: &str,
    name: &str,
    version: Option<&str>,
) -> Result<Arc<dyn Model>> {
    onnx::load_bytes(bytes, hint, name, version)
}

#[cfg(not(feature = "onnx"))]
fn load_onnx_bytes(
    _bytes: &[u8],
    hint: &str,
    _name: &str,
    _version: Option<&str>,
) -> Result<Arc<dyn Model>> {
    Err(no_onnx(Path::new(hint)))
}

#[cfg(not(feature = "onnx"))]
fn no_onnx(path: &Path) -> Error {
    Error::Load {
        path: path.to_path_buf(),
        reason: "ONNX models need the `onnx` feature of mlops-serve".into(),
    }
}

/// Decides the format of the file at `path` from its first bytes and extension, refusing
/// formats that execute code when loaded.
pub fn sniff(path: &Path) -> Result<Format> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut head = Vec::with_capacity(HEAD);
    open_model_file(path)?
        .take(HEAD as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    let gzip_head = || {
        open_model_file(path)
            .ok()
            .and_then(|file| gunzip_head(flate2::read::GzDecoder::new(file)))
    };
    detect(&head, gzip_head, path)
}

/// Opens a model file, refusing anything but a regular file (a FIFO would block the loader
/// forever, a device never ends) with [`Error::Load`], whose reason names no path; an
/// I/O failure is [`Error::Io`].
pub(crate) fn open_model_file(path: &Path) -> Result<std::fs::File> {
    mlops_core::open_local_file(path).map_err(|e| load_error(path, e))
}

/// Reads a whole model file of at most `limit` bytes, as [`open_model_file`] opens it.
pub(crate) fn read_model_file(path: &Path, limit: u64) -> Result<Vec<u8>> {
    mlops_core::read_local_file(path, limit).map_err(|e| load_error(path, e))
}

fn load_error(path: &Path, e: mlops_core::Error) -> Error {
    let reason = match e {
        mlops_core::Error::NotAFile { what, .. } => {
            format!("the model file is {what}, not a regular file")
        }
        mlops_core::Error::FileTooLarge { limit, .. } => {
            format!("the model file is larger than the limit of {limit} bytes")
        }
        mlops_core::Error::Io { source, .. } => {
            return Error::Io {
                path: path.to_path_buf(),
                source,
            };
        }
        other => other.to_string(),
    };
    Error::Load {
        path: path.to_path_buf(),
        reason,
    }
}

/// [`sniff`] for bytes in memory; `hint` is the file name (its extension counts).
pub fn sniff_bytes(bytes: &[u8], hint: &str) -> Result<Format> {
    let head = &bytes[..bytes.len().min(HEAD)];
    let gzip_head = || gunzip_head(flate2::read::GzDecoder::new(bytes));
    detect(head, gzip_head, Path::new(hint))
}

/// The first decompressed bytes of a gzip stream (enough to recognise a pickle), `None` when
/// it does not decompress.
fn gunzip_head(decoder: impl Read) -> Option<Vec<u8>> {
    let mut inner = Vec::with_capacity(4);
    decoder.take(4).read_to_end(&mut inner).ok().map(|_| inner)
}

fn extension(path: &str) -> Option<String> {
    Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// The format from the first bytes (`head`), the start of a gzip payload (read only for gzip
/// files) and the extension of `path`.
fn detect(head: &[u8], gzip_head: impl FnOnce() -> Option<Vec<u8>>, path: &Path) -> Result<Format> {
    let unsafe_artifact = |format| Error::UnsafeArtifact {
        path: path.to_path_buf(),
        format,
    };
    if let Some(format) = dangerous_format(head) {
        return Err(unsafe_artifact(format));
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        // gzip: look inside, so the message says what it wraps.
        if gzip_head().is_some_and(|inner| dangerous_format(&inner).is_some()) {
            return Err(unsafe_artifact("gzip-compressed pickle (joblib)"));
        }
        return Err(unsafe_artifact("gzip-compressed (possibly joblib)"));
    }
    for (magic, format) in COMPRESSED {
        if head.starts_with(magic) {
            return Err(unsafe_artifact(format));
        }
    }
    match extension(&path.to_string_lossy()).as_deref() {
        Some("pkl" | "pickle" | "joblib" | "pt" | "pth" | "sav") => {
            return Err(unsafe_artifact("pickle-based (by extension)"));
        }
        Some("onnx") => return Ok(Format::Onnx),
        Some("json") => return Ok(Format::LinearJson),
        _ => {}
    }
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') => Ok(Format::LinearJson),
        Some(0x08) => Ok(Format::Onnx),
        _ => Err(Error::Load {
            path: path.to_path_buf(),
            reason: "unknown model format: expected a .json linear model or an .onnx file".into(),
        }),
    }
}

/// Compressed containers that joblib writes around pickles.
const COMPRESSED: [(&[u8], &str); 5] = [
    (b"BZh", "bz2-compressed (possibly joblib)"),
    (
        &[0xfd, b'7', b'z', b'X', b'Z', 0x00],
        "xz-compressed (possibly joblib)",
    ),
    (
        &[0x04, 0x22, 0x4d, 0x18],
        "lz4-compressed (possibly joblib)",
    ),
    (b"ZF", "joblib zlib"),
    (&[0x5d, 0x00, 0x00], "lzma-compressed (possibly joblib)"),
];

/// Pickle by its opcodes: protocol 2+ starts with PROTO (0x80) and the protocol number;
/// protocols 0 and 1 start with MARK `(`, EMPTY_LIST `]`, EMPTY_DICT `}`, or GLOBAL `c`
/// followed by a module name. A zlib stream (joblib's `compress=True`) starts with 0x78.
fn dangerous_format(head: &[u8]) -> Option<&'static str> {
    match head {
        [0x80, 2..=5, ..] => Some("pickle"),
        [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..] => Some("zlib-compressed (possibly joblib)"),
        [
            b'(' | b']' | b'}',
            b'd' | b'l' | b'(' | b'q' | b'c' | b'I' | b'S' | b'V' | b'F',
            ..,
        ] => Some("pickle (protocol 0/1)"),
        [b'c', rest @ ..] if is_global_opcode(rest) => Some("pickle (protocol 0/1)"),
        _ => None,
    }
}

/// After a protocol 0/1 GLOBAL opcode `c`: a dotted module name up to a newline (or to the
/// end of the sniffed bytes).
fn is_global_opcode(rest: &[u8]) -> bool {
    let module: Vec<u8> = rest.iter().copied().take_while(|&b| b != b'\n').collect();
    module.len() >= 2
        && module[0].is_ascii_alphabetic()
        && module
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
}
