//! Reading request bodies: the size limit (after decompression), gzip/deflate, and the
//! content type check.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::budget::Received;
use super::inflate::{self, Encoding};
use super::{Inner, bound};
use crate::error::{Error, Result};

/// Refuses a `Content-Type` other than none, JSON or `application/octet-stream`.
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<()> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    // What nearly every client sends, checked without parsing.
    if value.as_bytes().eq_ignore_ascii_case(b"application/json") {
        return Ok(());
    }
    let text = value.to_str().unwrap_or("");
    let essence = text.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json")
        || essence.eq_ignore_ascii_case("application/octet-stream")
        || (essence.len() > 5
            && essence[..essence.len() - 5]
                .to_ascii_lowercase()
                .starts_with("application/")
            && essence.to_ascii_lowercase().ends_with("+json"))
    {
        Ok(())
    } else {
        Err(Error::UnsupportedMediaType {
            content_type: text.chars().take(100).collect(),
        })
    }
}

/// Reads the whole body, decompressing gzip or deflate, and refuses more than the body limit
/// of (decompressed) content with 413: at once when `Content-Length` already says so, before
/// any byte is read. A body that stops arriving for the body timeout is answered 408.
///
/// What the body may hold in memory is reserved from the server's body budget first
/// (see [`super::budget`]); the reservation lives as long as the returned [`Received`].
pub(crate) async fn read(body: Body, headers: &HeaderMap, inner: &Inner) -> Result<Received> {
    let limit = inner.body_limit;
    let encoding = match headers.get(header::CONTENT_ENCODING) {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
            match text.as_str() {
                "" | "identity" => None,
                "gzip" | "x-gzip" => Some(Encoding::Gzip),
                "deflate" => Some(Encoding::Deflate),
                _ => {
                    return Err(Error::UnsupportedEncoding {
                        encoding: text.chars().take(100).collect(),
                    });
                }
            }
        }
    };
    // The raw body is bounded by the limit too, compressed or not: a declared length above
    // it can never succeed, so waiting for (or reading) the body would only cost time.
    let declared = declared_length(headers);
    if declared.is_some_and(|length| length > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(Error::PayloadTooLarge { limit });
    }
    let declared = declared.map_or(limit, |length| usize::try_from(length).unwrap_or(limit));
    let wanted = match encoding {
        None => declared,
        Some(_) => declared.saturating_add(limit),
    };
    let reservation = inner.body_budget.reserve(wanted).await?;
    let raw = collect(body, limit, inner.body_timeout).await?;
    let bytes = match encoding {
        None => raw,
        Some(encoding) => inflate::inflate(raw, encoding, limit).await?,
    };
    Ok(Received {
        bytes,
        _reservation: reservation,
    })
}

/// The `Content-Length` header as a number, if present and well formed (hyper has already
/// refused a malformed or conflicting one).
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(header::CONTENT_LENGTH)?;
    // Plain digits (what hyper lets through), read without a string check.
    let digits = value.as_bytes();
    if (1..=19).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) {
        return Some(
            digits
                .iter()
                .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
        );
    }
    value.to_str().ok()?.trim().parse().ok()
}

/// Collects the body's data frames, at most `limit` bytes, each frame within `timeout` of
/// the previous one.
async fn collect(body: Body, limit: usize, timeout: Duration) -> Result<Bytes> {
    let mut body = Limited::new(body, limit);
    // One chunk (the common case for a small body) is returned as it came: no list, no copy.
    let mut first: Option<Bytes> = None;
    let mut more: Vec<Bytes> = Vec::new();
    loop {
        let frame = match bound::within(timeout, body.frame()).await {
            Err(_) => return Err(Error::BodyTimeout { timeout }),
            Ok(None) => break,
            Ok(Some(frame)) => frame.map_err(|e| {
                if e.downcast_ref::<LengthLimitError>().is_some() {
                    Error::PayloadTooLarge { limit }
                } else {
                    Error::invalid(format!("cannot read the request body: {e}"))
                }
            })?,
        };
        if let Ok(data) = frame.into_data() {
            match first {
                None => first = Some(data),
                Some(_) => more.push(data),
            }
        }
    }
    let Some(first) = first else {
        return Ok(Bytes::new());
    };
    if more.is_empty() {
        return Ok(first);
    }
    let mut all = Vec::with_capacity(first.len() + more.iter().map(Bytes::len).sum::<usize>());
    all.extend_from_slice(&first);
    for chunk in &more {
        all.extend_from_slice(chunk);
    }
    Ok(Bytes::from(all))
}
