//! Credentials: MLflow's bearer token or basic authentication, sent as an `Authorization`
//! header marked sensitive, and never shown by `Debug`.

use reqwest::header::HeaderValue;

use crate::error::{MlflowError, Result};

/// Credentials sent with every request.
#[derive(Clone)]
pub(crate) enum Credentials {
    /// `Authorization: Bearer <token>` (MLflow's `MLFLOW_TRACKING_TOKEN`).
    Bearer(String),
    /// HTTP basic authentication (`MLFLOW_TRACKING_USERNAME` and `_PASSWORD`).
    Basic(String, String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Credentials {
    /// MLflow's variables, when set: `MLFLOW_TRACKING_TOKEN`, else `MLFLOW_TRACKING_USERNAME`
    /// with `MLFLOW_TRACKING_PASSWORD`.
    pub(crate) fn from_env() -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(token) = var("MLFLOW_TRACKING_TOKEN") {
            Some(Self::Bearer(token))
        } else if let (Some(user), Some(password)) = (
            var("MLFLOW_TRACKING_USERNAME"),
            var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            Some(Self::Basic(user, password))
        } else {
            None
        }
    }

    /// The `Authorization` header's value, hidden from debug output.
    pub(crate) fn header(&self) -> Result<HeaderValue> {
        match self {
            Self::Bearer(token) => sensitive(&format!("Bearer {token}")),
            Self::Basic(user, password) => sensitive(&format!(
                "Basic {}",
                base64_encode(format!("{user}:{password}").as_bytes())
            )),
        }
    }
}

fn sensitive(value: &str) -> Result<HeaderValue> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        MlflowError::Invalid(mlops_core::Error::Invalid {
            kind: "MLflow credentials",
            value: "<redacted>".to_owned(),
            rule: mlops_core::Rule::Format {
                expected: "visible ASCII (no control characters or line breaks)",
            },
        })
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// Standard base64 with padding (RFC 4648), for basic authentication.
fn base64_encode(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("user:pass", "dXNlcjpwYXNz"),
        ] {
            assert_eq!(base64_encode(input.as_bytes()), expected);
        }
    }

    #[test]
    fn headers_are_sensitive_and_refuse_line_breaks() {
        let basic = Credentials::Basic("user".into(), "pass".into())
            .header()
            .unwrap();
        assert_eq!(basic.to_str().unwrap(), "Basic dXNlcjpwYXNz");
        assert!(basic.is_sensitive());
        let bad = Credentials::Bearer("a\nb".into()).header().unwrap_err();
        assert!(matches!(bad, MlflowError::Invalid(_)));
        assert!(!bad.to_string().contains("a\nb"));
        assert_eq!(
            format!("{:?}", Credentials::Bearer("s3cret".into())),
            "<redacted>"
        );
    }
}
