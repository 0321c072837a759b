//! Reading request bodies: the size limit (after decompression), gzip/deflate, and the
//! content type check.

use std::io::Read;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::{Error, Result};

/// Refuses a `Content-Type` other than none, JSON or `application/octet-stream`.
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<()> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
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

/// Reads the whole body, decompressing gzip or deflate, and refuses more than `limit` bytes
/// of (decompressed) content with 413.
pub(crate) async fn read(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes> {
    let too_large = Error::PayloadTooLarge { limit };
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
    let collected = Limited::new(body, limit).collect().await.map_err(|e| {
        if e.downcast_ref::<LengthLimitError>().is_some() {
            Error::PayloadTooLarge { limit }
        } else {
            Error::invalid(format!("cannot read the request body: {e}"))
        }
    })?;
    let raw = collected.to_bytes();
    let Some(encoding) = encoding else {
        return Ok(raw);
    };
    let mut out = Vec::with_capacity((raw.len() * 4).min(limit));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let result = match encoding {
        Encoding::Gzip => flate2::read::MultiGzDecoder::new(&raw[..])
            .take(cap)
            .read_to_end(&mut out),
        Encoding::Deflate => {
            // HTTP "deflate" is a zlib stream; some clients send raw deflate.
            let zlib = flate2::read::ZlibDecoder::new(&raw[..])
                .take(cap)
                .read_to_end(&mut out);
            if zlib.is_err() {
                out.clear();
                flate2::read::DeflateDecoder::new(&raw[..])
                    .take(cap)
                    .read_to_end(&mut out)
            } else {
                zlib
            }
        }
    };
    if out.len() > limit {
        return Err(too_large);
    }
    result.map_err(|e| Error::invalid(format!("cannot decompress the request body: {e}")))?;
    Ok(Bytes::from(out))
}

#[derive(Clone, Copy)]
enum Encoding {
    Gzip,
    Deflate,
}
