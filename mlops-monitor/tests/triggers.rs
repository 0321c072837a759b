//! Triggers: rules with debounce and cooldown, the outbox, signed deliveries, retries,
//! redelivery after a restart with the same delivery id, SSRF refusals, Slack and Airflow.

use std::sync::Arc;
use std::time::Duration;

use mlops_core::{Backoff, StoreUri, Timestamp};
use mlops_drift::{DriftOptions, ReferenceProfile};
use mlops_monitor::trigger::{Outbox, Rule, Rules, Target, TargetKind, Triggers};
use mlops_monitor::{History, VersionKey, VersionMonitor, WindowPolicy, WindowReport};

use crate::receiver::{Receiver, expected_signature};
use crate::util::{Shift, rows};

/// Windows of 1000 rows, one per entry of `shifts`, one minute apart.
fn windows(shifts: &[bool]) -> Vec<WindowReport> {
    let options = Arc::new(DriftOptions::default());
    let profile =
        Arc::new(ReferenceProfile::build(&[rows(1, 5000, Shift::default())], &options).unwrap());
    let key = VersionKey {
        model: "fraud".into(),
        version: "3".into(),
    };
    let mut monitor = VersionMonitor::new(key, profile, options, WindowPolicy::rows(1000).unwrap());
    let start = 1_767_225_600_000;
    let mut out = Vec::new();
    for (i, shifted) in shifts.iter().enumerate() {
        let shift = if *shifted {
            Shift {
                x: 2.0,
                country: true,
                ..Shift::default()
            }
        } else {
            Shift::default()
        };
        let time = Timestamp::from_millis(start + i as i64 * 60_000).unwrap();
        out.extend(
            monitor
                .push(&rows(10 + i as u64, 1000, shift), time)
                .unwrap(),
        );
    }
    out
}

fn quick() -> Backoff {
    Backoff::exponential(Duration::from_millis(5), Duration::from_millis(20))
}

#[test]
fn rules_parse_and_refuse_naming_the_rule() {
    for text in [
        "dataset_drift",
        "drift_share>=0.3",
        "feature=amount@3",
        "drift_share>=1@2",
    ] {
        assert_eq!(text.parse::<Rule>().unwrap().to_string(), text);
    }
    assert_eq!("feature=amount@3".parse::<Rule>().unwrap().windows(), 3);
    for bad in [
        "drift_share>=2",
        "feature=",
        "share>0.3",
        "dataset_drift@0",
        "dataset_drift@x",
    ] {
        let e = bad.parse::<Rule>().unwrap_err().to_string();
        assert!(e.contains(bad), "{e}");
    }
}

#[test]
fn a_rule_fires_once_per_streak_and_not_within_its_cooldown() {
    // Window i ends at minute i. Drifted: 1, 2, 3 (a streak), 5 (a new streak 4 minutes
    // after the first event), 7, 8 (a new streak 6 minutes after it).
    let w = windows(&[false, true, true, true, false, true, false, true, true]);
    let mut rules = Rules::new(vec![], Duration::from_secs(300));
    let fired: Vec<usize> = (0..w.len())
        .filter(|&i| !rules.evaluate(&w[i]).is_empty())
        .collect();
    // 1 fires; 2, 3 merely persist; 5 is within the 5-minute cooldown; 7 is past it.
    assert_eq!(fired, [1, 7]);
    let mut two = Rules::new(vec!["dataset_drift@2".parse().unwrap()], Duration::ZERO);
    let fired: Vec<usize> = (0..w.len())
        .filter(|&i| !two.evaluate(&w[i]).is_empty())
        .collect();
    assert_eq!(fired, [2, 8]);
    let mut feature = Rules::new(vec!["feature=y".parse().unwrap()], Duration::ZERO);
    assert!(w.iter().all(|w| feature.evaluate(w).is_empty()));
}

async fn target(receiver: &Receiver, kind: TargetKind, secret: Option<&str>) -> Target {
    Target::new(
        &receiver.url("/hook"),
        kind,
        secret.map(|s| s.as_bytes().to_vec()),
        true,
        Duration::from_secs(5),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_is_signed_retried_acknowledged_and_names_its_report() {
    let receiver = Receiver::start().await;
    receiver.fail_next(&[503, 500]);
    let dir = tempfile::tempdir().unwrap();
    let root = StoreUri::parse(dir.path().to_str().unwrap())
        .unwrap()
        .open()
        .unwrap();
    let triggers = Triggers::new(
        Rules::new(vec![], Rules::DEFAULT_COOLDOWN),
        vec![target(&receiver, TargetKind::Generic, Some("s3cret")).await],
        Outbox::new(root.child(&"outbox".parse().unwrap())),
    )
    .await
    .unwrap()
    .with_history(History::new(root.child(&"history".parse().unwrap())))
    .with_retries(5, quick());
    let w = windows(&[false, true, true]);
    let mut events = Vec::new();
    for window in &w {
        events.extend(triggers.on_window(window).await.unwrap().events);
    }
    assert_eq!(events.len(), 1);
    let posts = receiver.posts();
    assert_eq!(
        posts.len(),
        3,
        "two failures, then the acknowledged delivery"
    );
    let ids: Vec<&str> = posts
        .iter()
        .map(|p| p.header("mlops-delivery-id"))
        .collect();
    assert!(ids.iter().all(|id| *id == events[0].id), "{ids:?}");
    let last = &posts[2];
    let expected = expected_signature(
        "s3cret",
        &events[0].id,
        last.header("mlops-timestamp"),
        &last.body,
    );
    assert_eq!(last.header("mlops-signature"), expected);
    let body = last.json();
    assert_eq!(body["model"], "fraud");
    assert_eq!(body["version"], "3");
    assert_eq!(body["window"]["id"], w[1].id.as_str());
    assert_eq!(body["window"]["rows"], 1000);
    assert_eq!(
        body["drifted_features"],
        serde_json::json!(["x", "country"])
    );
    let report = body["report"]["json"].as_str().unwrap();
    assert!(dir.path().join(report).is_file(), "{report}");
    let deliveries = Outbox::new(root.child(&"outbox".parse().unwrap()))
        .deliveries()
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    assert!(deliveries[0].1, "acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_event_is_resent_after_a_restart_with_the_same_id_and_no_new_event() {
    let receiver = Receiver::start().await;
    // Every attempt of the first process fails.
    receiver.fail_next(&[500, 500]);
    let dir = tempfile::tempdir().unwrap();
    let root = StoreUri::parse(dir.path().to_str().unwrap())
        .unwrap()
        .open()
        .unwrap();
    let make = || async {
        Triggers::new(
            Rules::new(vec![], Rules::DEFAULT_COOLDOWN),
            vec![target(&receiver, TargetKind::Generic, None).await],
            Outbox::new(root.child(&"outbox".parse().unwrap())),
        )
        .await
        .unwrap()
        .with_retries(2, quick())
    };
    let w = windows(&[true, false, true]);
    let first = make().await;
    let events = first.on_window(&w[0]).await.unwrap().events;
    assert_eq!(events.len(), 1);
    assert_eq!(receiver.posts().len(), 2);
    drop(first);
    // "Restart": the cooldown comes back from the outbox, the pending delivery is resent.
    let second = make().await;
    assert_eq!(second.redeliver().await.unwrap(), 1);
    for window in &w[1..] {
        assert!(
            second.on_window(window).await.unwrap().events.is_empty(),
            "within the cooldown"
        );
    }
    assert_eq!(second.redeliver().await.unwrap(), 0, "nothing left");
    let posts = receiver.posts();
    assert_eq!(posts.len(), 3);
    assert!(
        posts
            .iter()
            .all(|p| p.header("mlops-delivery-id") == events[0].id)
    );
}

#[tokio::test]
async fn private_and_plain_http_targets_are_refused_unless_allowed() {
    for url in [
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1:9/hook",
        "https://10.1.2.3/x",
        "https://[::1]/x",
        "https://user:pw@example.com/x",
        "ftp://example.com/",
    ] {
        let e = Target::new(
            url,
            TargetKind::Generic,
            None,
            false,
            Duration::from_secs(1),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(e.contains("refused"), "{url}: {e}");
    }
    assert!(
        Target::new(
            "http://127.0.0.1:9/hook",
            TargetKind::Generic,
            None,
            true,
            Duration::from_secs(1)
        )
        .await
        .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_and_airflow_payloads() {
    let receiver = Receiver::start().await;
    *receiver.shared.get_body.lock().unwrap() = serde_json::json!({
        "assets": [
            {"id": 3, "name": "other", "uri": "s3://other"},
            {"id": 7, "name": "retrain_fraud", "uri": "s3://models/fraud"}
        ],
        "total_entries": 2
    })
    .to_string();
    let dir = tempfile::tempdir().unwrap();
    let root = StoreUri::parse(dir.path().to_str().unwrap())
        .unwrap()
        .open()
        .unwrap();
    let slack = target(&receiver, TargetKind::Slack, None).await;
    let airflow = Target::new(
        &receiver.url("/airflow"),
        TargetKind::Airflow {
            asset: "retrain_fraud".into(),
            token: Some("tok".into()),
        },
        None,
        true,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let triggers = Triggers::new(
        Rules::new(vec![], Duration::ZERO),
        vec![slack, airflow],
        Outbox::new(root.child(&"outbox".parse().unwrap())),
    )
    .await
    .unwrap()
    .with_retries(1, quick());
    let events = triggers
        .on_window(&windows(&[true])[0])
        .await
        .unwrap()
        .events;
    assert_eq!(events.len(), 1);
    let received = receiver.received();
    let slack = received.iter().find(|r| r.uri == "/hook").unwrap();
    let body = slack.json();
    assert!(
        body["text"].as_str().unwrap().contains("fraud v3"),
        "{body}"
    );
    assert_eq!(body["blocks"][0]["type"], "section");
    let listing = received
        .iter()
        .find(|r| r.uri.starts_with("/airflow/api/v2/assets?"))
        .unwrap();
    assert!(
        listing.uri.contains("name_pattern=retrain_fraud"),
        "{}",
        listing.uri
    );
    assert_eq!(listing.header("authorization"), "Bearer tok");
    let post = received
        .iter()
        .find(|r| r.uri == "/airflow/api/v2/assets/events")
        .unwrap();
    assert_eq!(post.header("authorization"), "Bearer tok");
    let body = post.json();
    assert_eq!(body["asset_id"], 7);
    assert_eq!(body["extra"]["mlops_event"]["id"], events[0].id.as_str());
    let deliveries = Outbox::new(root.child(&"outbox".parse().unwrap()))
        .deliveries()
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries.iter().all(|(_, acked)| *acked));
}
