#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The retry loop against a loopback server that answers from a script: which failures are
//! retried, for which calls, and what the error says when they are not. No MLflow needed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mlops_mlflow::{Idempotency, MlflowError, RestClient, RestMethod, Subject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server that answers its `n`-th request with `answers[n]` (the last one repeats), and
/// counts the requests.
async fn scripted(answers: Vec<(u16, &'static str)>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let (status, body) = answers[n.min(answers.len() - 1)];
            tokio::spawn(async move {
                let mut request = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut request).await;
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, seen)
}

fn client(url: &str) -> RestClient {
    RestClient::builder(url)
        .max_retries(3)
        .backoff(Duration::from_millis(1), Duration::from_millis(4))
        .build()
        .unwrap()
}

#[tokio::test]
async fn idempotent_calls_ride_out_server_errors() {
    let (url, seen) = scripted(vec![(503, "{}"), (500, "{}"), (200, r#"{"ok": 1}"#)]).await;
    let answer: serde_json::Value = client(&url)
        .get("ping", &[], &Subject::new("ping", "p"))
        .await
        .unwrap();
    assert_eq!(answer["ok"], 1);
    assert_eq!(seen.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn creates_are_not_repeated_when_their_outcome_is_unknown() {
    let (url, seen) = scripted(vec![(503, "{}"), (200, "{}")]).await;
    let err = client(&url)
        .post::<_, serde_json::Value>(
            "runs/create",
            &serde_json::json!({}),
            Idempotency::NotIdempotent,
            &Subject::new("run", "r"),
        )
        .await
        .unwrap_err();
    assert!(err.maybe_applied, "{err:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn too_many_requests_is_retried_for_every_call_and_errors_are_final() {
    let (url, seen) = scripted(vec![
        (429, "{}"),
        (
            404,
            r#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "nope"}"#,
        ),
    ])
    .await;
    let err = client(&url)
        .call::<_, serde_json::Value>(
            RestMethod::Post,
            "registered-models/create",
            &[],
            Some(&serde_json::json!({"name": "m"})),
            Idempotency::NotIdempotent,
            ("registered model", "m"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err.error, MlflowError::NotFound { what: "registered model", id } if id == "m"),
        "{err:?}"
    );
    assert!(!err.maybe_applied);
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_dead_server_is_a_transport_error_after_every_attempt() {
    // A port nobody listens on: bind, note it, close.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = client(&format!("http://127.0.0.1:{port}"))
        .get::<serde_json::Value>("ping", &[], &Subject::new("ping", "p"))
        .await
        .unwrap_err();
    let MlflowError::Transport { reason, .. } = &err.error else {
        panic!("{err:?}")
    };
    assert!(reason.contains("gave up after 4 attempts"), "{reason}");
    assert!(!err.maybe_applied);
}
