//! Decompressing request bodies (gzip, deflate) on the blocking pool, within the body limit
//! and a gzip member budget.
//!
//! Inflating is CPU work proportional to the input: done on an async worker, a few large
//! compressed bodies at once stall every other request on that worker, health included.
//! A gzip body may be many concatenated members, and each member costs a header parse and a
//! fresh inflater however small it is: 786k empty members fit in 16 MiB. Real clients send
//! one member (or a few, when streams were concatenated), so past [`MAX_GZIP_MEMBERS`] the
//! body is refused before most of that work is done.

use std::io::Read;

use bytes::Bytes;

use crate::error::{Error, Result};

/// Gzip members accepted in one body.
pub(crate) const MAX_GZIP_MEMBERS: usize = 64;

/// A `Content-Encoding` the server decodes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Encoding {
    Gzip,
    Deflate,
}

/// Decompresses `raw` on the blocking pool, refusing more than `limit` bytes of output with
/// 413 and more than [`MAX_GZIP_MEMBERS`] gzip members with 400.
pub(crate) async fn inflate(raw: Bytes, encoding: Encoding, limit: usize) -> Result<Bytes> {
    tokio::task::spawn_blocking(move || match encoding {
        Encoding::Gzip => gunzip(&raw, limit),
        Encoding::Deflate => inflate_deflate(&raw, limit),
    })
    .await
    .map_err(|e| Error::invalid(format!("cannot decompress the request body: {e}")))?
    .map(Bytes::from)
}

/// Gzip, member by member (RFC 1952 allows several), with the member budget.
fn gunzip(raw: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(limit));
    let mut rest = raw;
    let mut members = 0;
    loop {
        members += 1;
        if members > MAX_GZIP_MEMBERS {
            return Err(Error::invalid(format!(
                "the gzip body has more than {MAX_GZIP_MEMBERS} members"
            )));
        }
        let mut decoder = flate2::bufread::GzDecoder::new(rest);
        let result = decoder
            .by_ref()
            .take(room(limit, out.len()))
            .read_to_end(&mut out);
        finish(result, out.len(), limit)?;
        rest = decoder.into_inner();
        if rest.is_empty() {
            return Ok(out);
        }
    }
}

/// HTTP "deflate" is a zlib stream; some clients send raw deflate.
fn inflate_deflate(raw: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(limit));
    let zlib = flate2::read::ZlibDecoder::new(raw)
        .take(room(limit, 0))
        .read_to_end(&mut out);
    if zlib.is_ok() || out.len() > limit {
        finish(zlib, out.len(), limit)?;
        return Ok(out);
    }
    out.clear();
    let result = flate2::read::DeflateDecoder::new(raw)
        .take(room(limit, 0))
        .read_to_end(&mut out);
    finish(result, out.len(), limit)?;
    Ok(out)
}

/// How many more bytes to read: one past what the limit leaves, to tell "at the limit" from
/// "over it".
fn room(limit: usize, written: usize) -> u64 {
    u64::try_from(limit.saturating_sub(written))
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

/// 413 past the limit (checked first: a truncated read past it is not a format error),
/// else 400 on a decoding error.
fn finish(result: std::io::Result<usize>, written: usize, limit: usize) -> Result<()> {
    if written > limit {
        return Err(Error::PayloadTooLarge { limit });
    }
    result
        .map(drop)
        .map_err(|e| Error::invalid(format!("cannot decompress the request body: {e}")))
}
