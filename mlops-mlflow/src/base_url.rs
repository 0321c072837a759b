//! The server's base URL: checked once, so that every call builds on a URL that is
//! `http(s)://`, has a host, carries no credentials, query or fragment, and ends in `/`.

use url::Url;

use crate::error::{MlflowError, Result};

/// Checks and normalises a tracking server's base URL. A path prefix (a server behind a
/// reverse proxy at `/mlflow`) is kept.
pub(crate) fn parse(text: &str) -> Result<Url> {
    let invalid = |expected: &'static str| {
        MlflowError::Invalid(mlops_core::Error::Invalid {
            kind: "MLflow tracking URL",
            value: text.to_owned(),
            rule: mlops_core::Rule::Format { expected },
        })
    };
    let mut url = Url::parse(text.trim())
        .map_err(|_| invalid("an absolute http:// or https:// URL, e.g. http://127.0.0.1:5000"))?;
    match url.scheme() {
        "http" => {}
        "https" if cfg!(feature = "tls") => {}
        "https" => {
            return Err(invalid(
                "an http:// URL: https:// needs the `tls` feature (of mlops-mlflow, or of \
                 mlops-track / mlops-registry, which turn it on)",
            ));
        }
        _ => return Err(invalid("an http:// or https:// URL")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("a URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "a URL without user info: pass credentials with `basic_auth` or `token`",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a URL without a query or fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The URL of a REST endpoint under `base`: `api/2.0/<api>/` then `endpoint`'s segments.
pub(crate) fn endpoint<'s>(
    base: &Url,
    api: &'static str,
    segments: impl IntoIterator<Item = &'s str>,
) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty()
            .extend(["api", "2.0", api])
            .extend(segments);
    }
    url
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn base_urls_are_checked_and_normalised() {
        for (given, expected) in [
            ("http://127.0.0.1:5000", "http://127.0.0.1:5000/"),
            (
                "http://localhost:5000/mlflow",
                "http://localhost:5000/mlflow/",
            ),
            ("http://[::1]:5000/", "http://[::1]:5000/"),
        ] {
            assert_eq!(parse(given).unwrap().as_str(), expected);
        }
        for refused in [
            "ftp://h/",
            "file:///tmp/mlruns",
            "127.0.0.1:5000",
            "http://user:pw@h:5000/",
            "http://user@h:5000/",
            "http://h:5000/?x=1",
            "http://h:5000/#f",
            "sqlite:///mlflow.db",
            "",
        ] {
            let err = parse(refused).unwrap_err();
            assert!(matches!(err, MlflowError::Invalid(_)), "{refused}: {err}");
        }
        assert_eq!(
            parse("https://mlflow.example.com").is_ok(),
            cfg!(feature = "tls")
        );
    }

    #[test]
    fn endpoints_keep_the_base_path_and_encode_segments() {
        let base = parse("http://h:1/prefix").unwrap();
        assert_eq!(
            endpoint(&base, "mlflow", "runs/log-batch".split('/')).as_str(),
            "http://h:1/prefix/api/2.0/mlflow/runs/log-batch"
        );
        assert_eq!(
            endpoint(
                &base,
                "mlflow-artifacts",
                ["artifacts", "0", "r", "artifacts", "a b", "c+d?.txt"]
            )
            .as_str(),
            "http://h:1/prefix/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/a%20b/c+d%3F.txt"
        );
    }
}
