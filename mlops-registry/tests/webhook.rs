//! Webhooks fire on promotion, rollback and approval requests, and are retried: a tiny
//! HTTP receiver on 127.0.0.1:0 answers 500 to every other request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use mlops_core::{AliasName, ArtifactPath, ModelName};
use mlops_registry::{
    Expect, ModelRegistry, NewVersion, Promoter, Webhook, WebhookEvent, WebhookKind, WebhookOptions,
};

use crate::util::folder_registry;

/// Accepts connections forever; answers 500 to odd-numbered requests (1st, 3rd, …) and 200
/// to the others, recording every body.
/// Every request the receiver saw: the status it answered and the body.
type Seen = Arc<Mutex<Vec<(u16, Vec<u8>)>>>;

fn receiver() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut log = log.lock().unwrap();
            let status = if log.len() % 2 == 0 { 500 } else { 200 };
            log.push((status, body));
            drop(log);
            let reason = if status == 200 {
                "OK"
            } else {
                "Internal Server Error"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_fire_on_promotion_rollback_and_approval_requests_with_retries() {
    let (url, seen) = receiver();
    let options = WebhookOptions::default()
        .with_backoff(std::time::Duration::from_millis(10))
        .allow_local();
    let hook = Webhook::new(&url, options).await.unwrap();
    let (registry, _dir) = folder_registry();
    let name = ModelName::parse("hooked").unwrap();
    registry.create_model(&name, None, &[]).await.unwrap();
    let mut versions = Vec::new();
    for i in 0..2 {
        let files = NewVersion::new().with_artifact(
            ArtifactPath::parse("m.bin").unwrap(),
            format!("{i}").into_bytes(),
        );
        versions.push(registry.create_version(&name, files).await.unwrap().version);
    }
    let promoter = Promoter::new(Arc::new(registry.clone()), "tests").with_webhook(hook);
    let champion = AliasName::parse("champion").unwrap();

    let first = promoter
        .promote(&name, versions[0], &champion, Expect::Absent, &[])
        .await
        .unwrap();
    assert_eq!(first.webhook, Some(Ok(2)), "one 500, then delivered");
    promoter
        .promote(
            &name,
            versions[1],
            &champion,
            Expect::Version(versions[0]),
            &[],
        )
        .await
        .unwrap();
    let back = promoter.rollback(&name, &champion).await.unwrap();
    assert_eq!(back.webhook, Some(Ok(2)));
    let (_, delivery) = promoter
        .request_approval(&name, versions[1], &champion, "ci-bot", Some("please"))
        .await
        .unwrap();
    assert_eq!(delivery, Some(Ok(2)));
    // A refused promotion sends nothing.
    let refused = promoter
        .promote(&name, versions[1], &champion, Expect::Absent, &[])
        .await
        .unwrap();
    assert!(!refused.promoted());
    assert_eq!(refused.webhook, None);

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 8, "4 events x (one 500 + one 200)");
    let delivered: Vec<WebhookEvent> = seen
        .iter()
        .filter(|(status, _)| *status == 200)
        .map(|(_, body)| serde_json::from_slice(body).unwrap())
        .collect();
    let kinds: Vec<WebhookKind> = delivered.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            WebhookKind::Promoted,
            WebhookKind::Promoted,
            WebhookKind::RolledBack,
            WebhookKind::ApprovalRequested
        ]
    );
    assert_eq!(delivered[0].version, versions[0]);
    assert_eq!(delivered[1].previous, Some(versions[0]));
    assert_eq!(delivered[2].version, versions[0]);
    assert_eq!(delivered[3].actor, "ci-bot");
    // Retries carry the same id, so receivers can de-duplicate.
    let first_try: WebhookEvent = serde_json::from_slice(&seen[0].1).unwrap();
    assert_eq!(first_try.id, delivered[0].id);
    assert_eq!(
        registry
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        versions[0]
    );
}

#[tokio::test]
async fn a_loopback_webhook_is_refused_unless_allowed() {
    let (url, seen) = receiver();
    let err = Webhook::new(&url, WebhookOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, mlops_registry::RegistryError::WebhookRefused { .. }),
        "{err}"
    );
    let https_loopback = url.replace("http://", "https://");
    assert!(
        Webhook::new(&https_loopback, WebhookOptions::default())
            .await
            .is_err()
    );
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
}
