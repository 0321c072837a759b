//! Runtimes that turn a model file into a [`Model`], and [`load`], which picks one from the
//! file's extension and magic bytes.
//!
//! Loading never executes code from the artifact: pickle and joblib files (and gzip, bz2,
//! xz, lz4 or zlib files wrapping them) are refused by their magic bytes before anything
//! else is read.

pub mod linear;
#[cfg(feature = "onnx")]
pub mod onnx;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::Model;

/// The formats [`load`] recognises from a file's first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// The built-in linear/logistic JSON file (see [`linear`]).
    LinearJson,
    /// An ONNX protobuf model (needs the `onnx` feature).
    Onnx,
}

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

#[cfg(feature = "onnx")]
fn load_onnx(path: &Path, name: &str, version: Option<&str>) -> Result<Arc<dyn Model>> {
    onnx::load(path, name, version)
}

#[cfg(not(feature = "onnx"))]
fn load_onnx(path: &Path, _name: &str, _version: Option<&str>) -> Result<Arc<dyn Model>> {
    Err(Error::Load {
        path: path.to_path_buf(),
        reason: "ONNX models need the `onnx` feature of mlops-serve".into(),
    })
}

/// Decides the format of the file at `path` from its first bytes and extension, refusing
/// formats that execute code when loaded.
pub fn sniff(path: &Path) -> Result<Format> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(path)
        .map_err(io)?
        .take(16)
        .read_to_end(&mut head)
        .map_err(io)?;
    let unsafe_artifact = |format| Error::UnsafeArtifact {
        path: path.to_path_buf(),
        format,
    };
    if let Some(format) = dangerous_format(&head) {
        return Err(unsafe_artifact(format));
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        // gzip: look inside, so the message says what it wraps.
        let mut inner = Vec::with_capacity(4);
        let file = std::fs::File::open(path).map_err(io)?;
        let decoded = flate2::read::GzDecoder::new(file)
            .take(4)
            .read_to_end(&mut inner);
        if decoded.is_ok() && dangerous_format(&inner).is_some() {
            return Err(unsafe_artifact("gzip-compressed pickle (joblib)"));
        }
        return Err(unsafe_artifact("gzip-compressed (possibly joblib)"));
    }
    for (magic, format) in COMPRESSED {
        if head.starts_with(magic) {
            return Err(unsafe_artifact(format));
        }
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
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
