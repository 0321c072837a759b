//! The safety layer every request passes: the Host allowlist (DNS rebinding), security
//! headers (CSP `default-src 'self'`, `frame-ancestors 'none'`, no CORS headers ever), a
//! deadline per request, the handler's time (`Server-Timing`), and for state-changing
//! methods the same-origin check. The CSRF token itself is checked by the handler that
//! reads the form ([`check_csrf`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::UiError;
use crate::state::Inner;

/// The Content-Security-Policy of every answer: our own scripts, styles and images only, no
/// inline code, no framing, forms posting only to us.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; \
                              base-uri 'none'; form-action 'self'; object-src 'none'";

/// Host check, deadline, same-origin check on writes, then the security headers.
pub(crate) async fn guard(
    State(inner): State<Arc<Inner>>,
    request: Request,
    next: Next,
) -> Response {
    if let Err(refused) = check_host(request.headers(), &inner.allowed_hosts) {
        return with_headers(refused.into_response());
    }
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if writes && let Err(refused) = check_same_origin(request.headers()) {
        return with_headers(refused.into_response());
    }
    let started = Instant::now();
    let mut answer = match tokio::time::timeout(inner.request_timeout, next.run(request)).await {
        Ok(answer) => answer,
        Err(_) => timed_out(inner.request_timeout),
    };
    // The handler's time (pages are built whole before they are sent), for benchmarks and
    // the browser's network panel: `Server-Timing: app;dur=<ms>`.
    let ms = started.elapsed().as_secs_f64() * 1e3;
    if let Ok(value) = HeaderValue::from_str(&format!("app;dur={ms:.2}")) {
        answer.headers_mut().insert("server-timing", value);
    }
    with_headers(answer)
}

fn timed_out(after: Duration) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the page took longer than {} s", after.as_secs()),
    )
        .into_response()
}

fn with_headers(mut answer: Response) -> Response {
    let headers = answer.headers_mut();
    // A handler may only set a stricter policy of its own: the one that does is the drift
    // report's (no script at all, sandboxed; inline styles for the drift crate's page).
    if headers
        .get(header::CONTENT_SECURITY_POLICY)
        .map(HeaderValue::as_bytes)
        != Some(crate::pages::drift::REPORT_CSP.as_bytes())
    {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    answer
}

/// The host name of a `Host` value, without its port, lower-cased (`[::1]:5050` → `[::1]`).
pub(crate) fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.to_ascii_lowercase()
}

/// Exactly one Host header whose name (port aside) is on the allowlist; DNS rebinding sends
/// the attacker's name, which is not.
fn check_host(headers: &HeaderMap, allowed: &[String]) -> Result<(), UiError> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let (Some(host), None) = (hosts.next(), hosts.next()) else {
        return Err(UiError::ForbiddenHost("<missing or repeated>".to_owned()));
    };
    let host = host
        .to_str()
        .map_err(|_| UiError::ForbiddenHost("<not ASCII>".to_owned()))?;
    let name = host_name(host);
    if allowed.contains(&name) {
        Ok(())
    } else {
        Err(UiError::ForbiddenHost(host.to_owned()))
    }
}

/// A write must come from one of our own pages: its `Origin` (or, when a browser sends
/// none, its `Referer`) is `http(s)://<the Host it was sent to>`. Requests with neither
/// are refused: browsers send `Origin` on every cross-site POST, and a non-browser client
/// can send it too.
fn check_same_origin(headers: &HeaderMap) -> Result<(), UiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|h| h.to_str().ok())
        .filter(|o| *o != "null")
        .map(str::to_owned)
        .or_else(|| {
            let referer = headers.get(header::REFERER)?.to_str().ok()?;
            let url = url::Url::parse(referer).ok()?;
            Some(url.origin().ascii_serialization())
        });
    let Some(origin) = origin else {
        return Err(UiError::Forbidden(
            "a state-changing request needs an Origin or Referer header".to_owned(),
        ));
    };
    let same = [format!("http://{host}"), format!("https://{host}")]
        .iter()
        .any(|o| o.eq_ignore_ascii_case(&origin));
    if same {
        Ok(())
    } else {
        Err(UiError::Forbidden(format!(
            "cross-origin request from {origin} refused"
        )))
    }
}

/// The form's CSRF token equals this server's, compared in constant time.
pub(crate) fn check_csrf(inner: &Inner, presented: Option<&str>) -> Result<(), UiError> {
    let presented = presented.unwrap_or_default().as_bytes();
    let expected = inner.csrf_token.as_bytes();
    if presented.len() == expected.len() && bool::from(presented.ct_eq(expected)) {
        Ok(())
    } else {
        Err(UiError::Forbidden("missing or wrong CSRF token".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_drop_ports() {
        assert_eq!(host_name("127.0.0.1:5050"), "127.0.0.1");
        assert_eq!(host_name("LocalHost"), "localhost");
        assert_eq!(host_name("[::1]:80"), "[::1]");
        assert_eq!(host_name("evil.example:5050"), "evil.example");
    }

    #[test]
    fn writes_need_our_origin() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:5050"));
        assert!(check_same_origin(&h).is_err());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(check_same_origin(&h).is_err());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:5050"),
        );
        assert!(check_same_origin(&h).is_ok());
        h.remove(header::ORIGIN);
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://127.0.0.1:5050/approvals"),
        );
        assert!(check_same_origin(&h).is_ok());
    }
}
