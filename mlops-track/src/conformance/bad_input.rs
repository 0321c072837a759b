//! Bad input, refused before it reaches a store or by the store, writing nothing.

use super::support::*;

/// Every artifact-path payload of the project's bad-input checklist (RELIABILITY §1.4).
pub const BAD_ARTIFACT_PATHS: &[&str] = &[
    "..",
    "a/../b",
    "../x",
    "a/..",
    "a/b/..",
    ".",
    "a/./b",
    "a//b",
    "/a",
    "a/",
    "",
    "/etc/passwd",
    "C:\\x",
    "C:/x",
    "\\\\server\\share",
    "//server/share",
    "a\\..\\b",
    "%2e%2e/",
    "%2E%2E%2F",
    "..%2f",
    "%252e%252e%252f",
    "..%5c",
    "%c0%ae%c0%ae/",
    "a%00b",
    "\u{ff0e}\u{ff0e}/x",
    "\u{2024}\u{2024}/x",
    "a\0b",
    "a\nb",
    "a\rb",
    "a\tb",
    "a\u{7f}b",
    "a\u{85}b",
    "a#1",
    "a?b",
    "a;b",
    "http:///#/../../etc/",
    "file://localhost/etc/passwd",
    "cafe\u{301}",
];

/// Bad input: every name, key, value and path beyond MLflow's limits or the checklist is
/// refused before it reaches a store (the types cannot hold it), and the store refuses what
/// only it can check, writing nothing.
pub async fn bad_input(store: &dyn TrackingStore) {
    for path in BAD_ARTIFACT_PATHS {
        assert!(
            ArtifactPath::parse(*path).is_err(),
            "artifact path {path:?} must be refused"
        );
    }
    let long_segment = "a".repeat(256);
    assert!(
        ArtifactPath::parse(long_segment.as_str()).is_err(),
        "a segment over 255 bytes"
    );
    let long_path = vec!["abcdefgh"; 130].join("/");
    assert!(
        ArtifactPath::parse(long_path).is_err(),
        "a path over 1024 bytes"
    );
    assert!(
        ExperimentName::parse("x".repeat(501)).is_err(),
        "experiment name over 500"
    );
    assert!(ExperimentName::parse("a/../b").is_err());
    assert!(ExperimentName::parse(" padded ").is_err());
    assert!(ParamKey::parse("k".repeat(251)).is_err(), "key over 250");
    assert!(MetricKey::parse("../loss").is_err());
    assert!(TagKey::parse("a\nb").is_err());
    assert!(
        Param::parse("k", "v".repeat(6001)).is_err(),
        "param value over 6000"
    );
    assert!(
        Tag::parse("k", "v".repeat(8001)).is_err(),
        "tag value over 8000"
    );
    assert!(Tag::parse("k", "a\0b").is_err());
    assert!(RunId::parse("../0123456789abcdef0123456789abcd").is_err());
    assert!(RunId::parse("0123456789ABCDEF0123456789ABCDEF").is_err());
    assert!(ExperimentId::parse("1/2").is_err());
    assert!(Timestamp::from_millis(-1).is_err());
    assert!(RunName::parse("a\nb").is_err());

    // What only the store can check: refused, and nothing written.
    let experiment = new_experiment(store, "bad").await;
    let id = new_run(store, &experiment).await.info.run_id;
    let before = get_run(store, &id).await;
    let metrics: Vec<Metric> = (0..1001).map(|i| point("m", 1.0, T0, i)).collect();
    assert!(matches!(
        store
            .log_batch(&id, &metrics, &[param("p", "1")], &[])
            .await,
        Err(TrackError::TooMany { .. })
    ));
    assert!(matches!(
        store
            .log_batch(
                &id,
                &metrics[..1],
                &[param("p", "1"), param("p", "2")],
                &[tag("t", "1")]
            )
            .await,
        Err(TrackError::DuplicateKey { .. })
    ));
    let after = get_run(store, &id).await;
    assert_eq!(
        before.data, after.data,
        "refused batches must write nothing"
    );
    assert!(
        store
            .list_artifacts(&id, None)
            .await
            .expect("list")
            .is_empty(),
        "no artifact was written"
    );
}
