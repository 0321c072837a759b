//! Bounded reads of the local files that mlops-rs parses: profiles, records, log entries,
//! model files.
//!
//! # Why
//!
//! A path given on a command line or found in a folder can name something that is not a
//! file: `/dev/zero` never ends (`std::fs::read` grows its buffer until memory runs out), a
//! FIFO blocks the reader until a writer appears (forever, in a script), a directory is an
//! error only after it was opened. A regular file can still be far larger than anything its
//! parser should hold. So every such read goes through this module, which
//!
//! * refuses anything but a regular file **before opening it for reading** (symbolic links are
//!   followed: a link to a regular file is that file), and checks again what was opened, so
//!   a path swapped for a FIFO between the check and the open is refused too (on Unix the
//!   open does not block: it asks for non-blocking mode, which regular files ignore);
//! * never holds more than `limit + 1` bytes: a file whose size is over the limit is refused
//!   before any byte is read, and a file that grows while read (or reports no size, as files
//!   under `/proc` do) is cut off one byte past the limit and refused;
//! * names the file and the limit in its errors ([`Error::NotAFile`], [`Error::FileTooLarge`]).

use std::fs::{File, FileType, OpenOptions};
use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// Opens a local file for reading after checking that it is a regular file.
///
/// For readers that stream a file rather than hold it (a Parquet reader reads a footer and
/// then row groups): they bound what they read themselves. [`read_local_file`] is the
/// whole-file read.
///
/// # Errors
///
/// [`Error::NotAFile`] for a directory, FIFO, socket or device (checked before the open, and
/// again on the opened handle); [`Error::Io`] naming the path when it cannot be inspected or
/// opened.
pub fn open_local_file(path: impl AsRef<Path>) -> Result<File> {
    let path = path.as_ref();
    let metadata = std::fs::metadata(path).map_err(|e| io(path, e))?;
    check_regular(path, metadata.file_type())?;
    let file = open_nonblocking(path).map_err(|e| io(path, e))?;
    // The path may have been replaced between the check and the open.
    let opened = file.metadata().map_err(|e| io(path, e))?;
    check_regular(path, opened.file_type())?;
    Ok(file)
}

/// Reads a whole local file of at most `limit` bytes.
///
/// ```
/// use mlops_core::{Error, read_local_file};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("profile.json");
/// std::fs::write(&path, b"{}")?;
/// assert_eq!(read_local_file(&path, 2)?, b"{}");
/// assert!(matches!(read_local_file(&path, 1), Err(Error::FileTooLarge { limit: 1, .. })));
/// # #[cfg(unix)]
/// assert!(matches!(read_local_file("/dev/zero", 1 << 20), Err(Error::NotAFile { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`open_local_file`]; [`Error::FileTooLarge`] naming the path and the limit when the file
/// is (or becomes, while read) larger than `limit`; [`Error::Io`] when reading fails.
pub fn read_local_file(path: impl AsRef<Path>, limit: u64) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let file = open_local_file(path)?;
    let size = file.metadata().map_err(|e| io(path, e))?.len();
    let too_large = || Error::FileTooLarge {
        path: path.to_owned(),
        limit,
    };
    if size > limit {
        return Err(too_large());
    }
    // The size is a hint (the file may change): the `take` is the bound.
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// [`Error::NotAFile`] unless `file_type` is a regular file.
fn check_regular(path: &Path, file_type: FileType) -> Result<()> {
    if file_type.is_file() {
        return Ok(());
    }
    Err(Error::NotAFile {
        path: path.to_owned(),
        what: describe(file_type),
    })
}

/// What a non-regular file is, for the error message.
fn describe(file_type: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Opens for reading; on Unix without blocking, so that a FIFO swapped in after the check
/// is opened (and then refused) instead of waiting for a writer.
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}
