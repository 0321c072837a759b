//! The drift pages over HTTP, on a monitoring history written by mlops-monitor's own windows
//! (reference-like rows, then rows whose ages and plans drift): the windows table, the
//! charts' data equal to the windows' reports, each window's HTML report served through the
//! history, refused names, and the note shown when no history is configured.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::http::{StatusCode, header};
use serde_json::Value;

use support::fixture;
use support::http::{get, links, ok, rows};

#[tokio::test]
async fn drift_page_charts_and_reports_from_the_history() {
    let f = fixture().await;
    let app = f.ui().router();

    // The nav's page lists the model; the model page links its drift page.
    let page = ok(&app, "/drift").await;
    assert_eq!(rows(&page, "drift-models"), 1);
    assert!(page.contains("href=\"/models/churn/drift\""));
    assert!(
        ok(&app, "/models/churn")
            .await
            .contains("id=\"drift-link\"")
    );

    // One table row per window, newest first, each linking its report.
    let page = ok(&app, "/models/churn/drift").await;
    assert_eq!(rows(&page, "windows"), f.windows.len());
    assert!(page.contains("id=\"drift-share\"") && page.contains("id=\"drift-features\""));
    let reports = links(&page, "report");
    assert_eq!(reports.len(), f.windows.len());
    let newest = f.windows.last().unwrap();
    assert_eq!(
        reports[0],
        format!("/models/churn/drift/2/{}", newest.id),
        "newest first"
    );

    // The charts' data: the windows in time order, the reports' own numbers.
    let (status, _, body) = get(&app, "/api/models/churn/drift").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = data["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let expected: Vec<&str> = f.windows.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, expected);
    let versions: Vec<&str> = data["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1", "1", "2", "2", "2", "2", "2", "2"]);
    for (i, w) in f.windows.iter().enumerate() {
        assert_eq!(data["time"][i].as_i64().unwrap(), w.end.as_millis());
        assert_eq!(
            data["share"][i].as_f64().unwrap(),
            w.report.dataset.share_drifted
        );
    }
    assert_eq!(
        data["drift_share"].as_f64().unwrap(),
        newest.report.dataset.drift_share
    );
    let features = data["features"].as_array().unwrap();
    let names: Vec<&str> = features
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["age", "plan"]);
    for feature in features {
        let name = feature["name"].as_str().unwrap();
        for (i, w) in f.windows.iter().enumerate() {
            let column = w.report.columns.iter().find(|c| c.column == name).unwrap();
            let deciding = &column.results[0];
            assert_eq!(feature["scores"][i].as_f64().unwrap(), deciding.score);
            if i + 1 == f.windows.len() {
                assert_eq!(feature["test"], deciding.test.name());
                assert_eq!(feature["threshold"].as_f64().unwrap(), deciding.threshold);
                let kind = if deciding.p_value.is_some() {
                    "p-value"
                } else {
                    "distance"
                };
                assert_eq!(feature["score"], kind);
            }
        }
    }
    // The data drifts as it was built to: nothing at first, both features at the end.
    assert_eq!(f.windows[0].report.dataset.share_drifted, 0.0);
    assert_eq!(newest.drifted_features(), ["age", "plan"]);
    assert!(page.contains("<span class=\"badge\">plan</span>"));

    // Each window's report, served through the history as a sandboxed page.
    for (link, w) in reports.iter().rev().zip(&f.windows) {
        let (status, headers, html) = get(&app, link).await;
        assert_eq!(status, StatusCode::OK, "{link}: {html}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.starts_with("default-src 'none'") && csp.ends_with("sandbox"),
            "{csp}"
        );
        assert!(html.contains(&format!("window {}", w.id)), "{link}");
    }
    // The model pages keep the strict policy.
    let (_, headers, _) = get(&app, "/models/churn/drift").await;
    assert_eq!(headers[header::CONTENT_SECURITY_POLICY], mlops_ui::CSP);

    // A window is named by model, version and id: a known id under another version, an
    // unknown id, path tricks and a bad model name are refused.
    let v1 = &f.windows[0].id;
    for (path, expected) in [
        (format!("/models/churn/drift/2/{v1}"), StatusCode::NOT_FOUND),
        (
            format!("/models/churn/drift/1/{v1}x"),
            StatusCode::NOT_FOUND,
        ),
        (format!("/models/other/drift/1/{v1}"), StatusCode::NOT_FOUND),
        (
            "/models/churn/drift/1/..%2F..%2Fsecret".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/models/churn/drift/..%2Frows/x".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/models/churn/drift/1/.hidden".into(),
            StatusCode::BAD_REQUEST,
        ),
        ("/models/%2E%2E/drift".into(), StatusCode::BAD_REQUEST),
    ] {
        assert_eq!(get(&app, &path).await.0, expected, "{path}");
    }

    // A model without windows says so.
    let page = ok(&app, "/models/fraud/drift").await;
    assert!(page.contains("id=\"no-windows\""));
}

#[tokio::test]
async fn the_time_range_bounds_what_is_read() {
    use mlops_monitor::{History, VersionKey, VersionMonitor, WindowPolicy};
    use mlops_track::Timestamp;
    use std::sync::Arc;

    let f = fixture().await;
    // One more window, 40 days old.
    let mut monitor = VersionMonitor::new(
        VersionKey {
            model: "churn".into(),
            version: "1".into(),
        },
        Arc::new(support::reference()),
        Arc::new(mlops_drift::DriftOptions::default()),
        WindowPolicy::rows(300).unwrap(),
    );
    let at = Timestamp::from_millis(Timestamp::now().as_millis() - 40 * 86_400_000).unwrap();
    let old = monitor
        .push(&support::rows(300, 0.0, false), at)
        .unwrap()
        .pop()
        .unwrap();
    History::new(f.history.clone()).append(&old).await.unwrap();
    let app = f.ui().router();

    // The default range (30 days) leaves it out; a year or everything shows it, first.
    let page = ok(&app, "/models/churn/drift").await;
    assert_eq!(rows(&page, "windows"), f.windows.len());
    assert!(page.contains("<strong>30 days</strong>") && !page.contains(&old.id));
    assert!(page.contains("data-drift=\"/api/models/churn/drift?days=30\""));
    for range in ["365", "all"] {
        let page = ok(&app, &format!("/models/churn/drift?days={range}")).await;
        assert_eq!(rows(&page, "windows"), f.windows.len() + 1, "{range}");
        assert_eq!(
            links(&page, "report").last().unwrap(),
            &format!("/models/churn/drift/1/{}", old.id)
        );
        let (_, _, body) = get(&app, &format!("/api/models/churn/drift?days={range}")).await;
        let data: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(data["windows"][0], old.id.as_str());
        assert_eq!(
            data["windows"].as_array().unwrap().len(),
            f.windows.len() + 1
        );
    }
    let (_, _, body) = get(&app, "/api/models/churn/drift").await;
    let data: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(data["windows"].as_array().unwrap().len(), f.windows.len());
    // Its report is served whatever the range.
    let (status, _, html) = get(&app, &format!("/models/churn/drift/1/{}", old.id)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&old.id));
    for bad in ["days=2", "days=-1", "days=forever"] {
        assert_eq!(
            get(&app, &format!("/models/churn/drift?{bad}")).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
        assert_eq!(
            get(&app, &format!("/api/models/churn/drift?{bad}")).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn without_a_history_the_pages_say_how_to_enable_it() {
    let f = fixture().await;
    let app = f.ui_with(None).router();
    for path in ["/drift", "/models/churn/drift"] {
        let page = ok(&app, path).await;
        assert!(
            page.contains("id=\"drift-off\"") && page.contains("mlops ui --monitor-history URI"),
            "{path}: {page}"
        );
    }
    let id = &f.windows[0].id;
    assert_eq!(
        get(&app, &format!("/models/churn/drift/1/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/api/models/churn/drift").await.0,
        StatusCode::NOT_FOUND
    );
}
