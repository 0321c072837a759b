//! The optional bearer token and Host allowlist, as one middleware (added only when one of
//! them is configured, so an open server pays nothing).
//!
//! The token is compared in constant time: both the expected and the presented token are
//! hashed with SHA-256 and the digests compared with `subtle::ConstantTimeEq`. Hashing first
//! makes the comparison independent of the token's length too (a plain `ct_eq` on slices
//! returns early when lengths differ). `subtle` is the dalek-cryptography crate that rustls
//! and most Rust crypto rely on, so no hand-written comparison the optimiser could undo.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Inner;
use crate::error::Error;

/// SHA-256 of a token.
pub(crate) fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Checks Host, then the token (health routes are exempt from the token: probes carry none).
pub(crate) async fn guard(
    State(inner): State<Arc<Inner>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(allowed) = &inner.allowed_hosts
        && let Err(refused) = check_host(&request, allowed)
    {
        return refused.into_response();
    }
    if let Some(expected) = &inner.token_digest {
        let exempt = request.uri().path().starts_with("/v2/health/");
        if !exempt {
            let presented = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.strip_prefix("Bearer "))
                .map(|t| digest(t.trim()));
            let ok = presented.is_some_and(|p| bool::from(p.ct_eq(expected)));
            if !ok {
                return Error::Unauthorized.into_response();
            }
        }
    }
    next.run(request).await
}

/// Every name the request carries must be allowed: the `Host` header (exactly one) and, for
/// an absolute-form target (`GET http://name/...`), the target's host, since a proxy or a
/// router in front may route by either. A request with neither is refused too.
fn check_host(request: &Request, allowed: &[String]) -> Result<(), Error> {
    let mut headers = request.headers().get_all(header::HOST).iter();
    let header = headers.next();
    if headers.next().is_some() {
        return Err(Error::invalid("the request has more than one Host header"));
    }
    // A Host that is not visible ASCII matches no allowed name.
    let header = header.map(|h| h.to_str().unwrap_or("\u{fffd}"));
    let target = request.uri().host();
    if header.is_none() && target.is_none() {
        return Err(Error::HostNotAllowed {
            host: String::new(),
        });
    }
    for host in header.into_iter().chain(target) {
        let name = strip_port(host).to_ascii_lowercase();
        if !allowed.contains(&name) {
            return Err(Error::HostNotAllowed {
                host: name.chars().take(255).collect(),
            });
        }
    }
    Ok(())
}

/// `example.com:8080` → `example.com`; `[::1]:8080` → `[::1]`.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}
