//! MLflow's answers to failed requests, mapped onto [`MlflowError`] by meaning; and the
//! start of any body, for messages about answers that are not MLflow's.

use reqwest::StatusCode;
use serde::Deserialize;
use url::Url;

use crate::error::{MlflowError, transport};
use crate::subject::Subject;

/// MLflow's error body: `{"error_code": "...", "message": "..."}`. Some handlers (FastAPI
/// routes of the artifact proxy) answer `{"detail": "..."}` instead.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    detail: Option<serde_json::Value>,
}

/// MLflow's answer to a failed request as an [`MlflowError`].
pub(crate) fn http_error(
    url: &Url,
    base: &Url,
    status: StatusCode,
    content_type: &str,
    body: &[u8],
    subject: &Subject,
) -> MlflowError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let Some(ErrorBody {
        error_code,
        message,
        detail,
    }) = parsed
    else {
        let hint = match status {
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => format!(
                " ; MLflow answers unknown paths this way: is {base} the base URL of an MLflow \
                 3.x tracking server (with its path prefix, if any)?"
            ),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                " ; check the credentials (token or basic auth)".to_owned()
            }
            _ => String::new(),
        };
        return transport(
            url,
            &format!(
                "HTTP {status} with an answer that is not MLflow's error JSON ({content_type}): \
                 {}{hint}",
                snippet(body)
            ),
        );
    };
    let message = message
        .or_else(|| {
            detail.map(|d| match d {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
        })
        .unwrap_or_default();
    let code = error_code.unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("UNKNOWN")
            .to_ascii_uppercase()
            .replace(' ', "_")
    });
    match code.as_str() {
        "RESOURCE_DOES_NOT_EXIST" => match subject.run() {
            Some(run) if message.starts_with("Run with id=") || message.starts_with("Run '") => {
                MlflowError::NotFound {
                    what: "run",
                    id: run.to_owned(),
                }
            }
            _ => MlflowError::NotFound {
                what: subject.what(),
                id: subject.id().to_owned(),
            },
        },
        "RESOURCE_ALREADY_EXISTS" => MlflowError::AlreadyExists {
            what: subject.what(),
            name: subject.id().to_owned(),
        },
        "INVALID_STATE" => MlflowError::InvalidState(message),
        "INVALID_PARAMETER_VALUE" if message.contains("must be in the 'active' state") => {
            MlflowError::InvalidState(message)
        }
        _ => MlflowError::Mlflow {
            code,
            status: status.as_u16(),
            message,
        },
    }
}

/// The start of a body, on one line, for error messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return "(empty)".to_owned();
    }
    match one_line.char_indices().nth(MAX) {
        None => format!("{one_line:?}"),
        Some((cut, _)) => format!("{:?}…", &one_line[..cut]),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn subject() -> Subject {
        Subject::in_run("tag", "k", "0123")
    }

    fn url() -> Url {
        Url::parse("http://127.0.0.1:5000/api/2.0/mlflow/runs/get").unwrap()
    }

    fn base() -> Url {
        Url::parse("http://127.0.0.1:5000/").unwrap()
    }

    #[test]
    fn mlflow_errors_map_to_typed_errors() {
        type Check = fn(&MlflowError) -> bool;
        let cases: [(u16, &str, Check); 6] = [
            (
                404,
                r#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run with id=0123 not found"}"#,
                |e| matches!(e, MlflowError::NotFound { what: "run", id } if id == "0123"),
            ),
            (
                404,
                r#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "No tag with name: k"}"#,
                |e| matches!(e, MlflowError::NotFound { what: "tag", id } if id == "k"),
            ),
            (
                400,
                r#"{"error_code": "RESOURCE_ALREADY_EXISTS", "message": "exists"}"#,
                |e| matches!(e, MlflowError::AlreadyExists { what: "tag", .. }),
            ),
            (
                400,
                r#"{"error_code": "INVALID_PARAMETER_VALUE", "message": "The run 0123 must be in the 'active' state. Current state is deleted."}"#,
                |e| matches!(e, MlflowError::InvalidState(_)),
            ),
            (
                500,
                r#"{"error_code": "INTERNAL_ERROR", "message": "boom"}"#,
                |e| matches!(e, MlflowError::Mlflow { code, status: 500, message } if code == "INTERNAL_ERROR" && message == "boom"),
            ),
            (
                400,
                r#"{"detail": "Artifact path refers to a directory"}"#,
                |e| matches!(e, MlflowError::Mlflow { code, status: 400, .. } if code == "BAD_REQUEST"),
            ),
        ];
        for (status, body, check) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            let e = http_error(
                &url(),
                &base(),
                status,
                "application/json",
                body.as_bytes(),
                &subject(),
            );
            assert!(check(&e), "{body} -> {e:?}");
        }
    }

    #[test]
    fn html_answers_are_transport_errors_with_a_hint() {
        let e = http_error(
            &url(),
            &base(),
            StatusCode::NOT_FOUND,
            "text/html",
            b"<!doctype html>\n<title>404 Not Found</title>",
            &subject(),
        );
        let MlflowError::Transport { reason, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(reason.contains("HTTP 404"), "{reason}");
        assert!(reason.contains("<title>404 Not Found</title>"), "{reason}");
        assert!(reason.contains("base URL"), "{reason}");
    }

    #[test]
    fn snippets_are_one_short_line() {
        assert_eq!(snippet(b"  \n "), "(empty)");
        assert_eq!(snippet(b"a\n  b"), "\"a b\"");
        let long = "x".repeat(500);
        let cut = snippet(long.as_bytes());
        assert!(cut.ends_with('…') && cut.len() < 220, "{cut}");
    }
}
