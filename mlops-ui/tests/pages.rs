//! The UI's pages and safety checks, over plain HTTP (`oneshot` on the router): every page
//! renders the fixture's data, the runs table filters and pages, charts are downsampled, and
//! a decision passes only with the same origin, the CSRF token and a reviewer token.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use mlops_registry::{ApprovalState, RegistryExt};
use tower::ServiceExt;

use support::{ALICE_TOKEN, DIGEST, LONG, RUNS, fixture};

const HOST: &str = "127.0.0.1:5050";

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let answer = app.clone().oneshot(request).await.unwrap();
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

async fn get(app: &Router, path: &str) -> (StatusCode, HeaderMap, String) {
    let request = Request::get(path)
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap();
    send(app, request).await
}

async fn ok(app: &Router, path: &str) -> String {
    let (status, _, body) = get(app, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// The href of the column header link titled "sort" for `column`.
fn page_link(html: &str, column: &str) -> String {
    let end = html.find(&format!("title=\"sort\">{column}<")).unwrap();
    let start = html[..end].rfind("href=\"").unwrap() + 6;
    html[start..end]
        .trim_end()
        .trim_end_matches('"')
        .replace("&amp;", "&")
}

fn rows(html: &str, table: &str) -> usize {
    let start = html
        .find(&format!("<table id=\"{table}\""))
        .unwrap_or_else(|| panic!("no table {table}"));
    let end = start + html[start..].find("</table>").unwrap();
    html[start..end]
        .matches("<tr")
        .count()
        .saturating_sub(html[start..end].matches("<thead>").count())
}

#[tokio::test]
async fn experiments_runs_table_filter_and_paging() {
    let f = fixture().await;
    let app = f.ui().router();
    let (status, headers, _) = get(&app, "/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/experiments");
    assert!(ok(&app, "/experiments").await.contains("churn"));

    let runs = format!("/experiments/{}", f.experiment);
    let page = ok(&app, &runs).await;
    assert_eq!(rows(&page, "runs"), RUNS);
    assert!(page.contains("metrics.rmse") && page.contains("params.alpha"));

    // MLflow's filter syntax, through the store's engine: rmse = 0.2 + i/100 < 0.25 → 5 runs.
    let page = ok(
        &app,
        &format!("{runs}?filter=metrics.rmse+%3C+0.245&order=metrics.rmse+ASC"),
    )
    .await;
    assert_eq!(rows(&page, "runs"), 5);
    let first = page.find("run-00").unwrap();
    assert!(
        first < page.find("run-04").unwrap(),
        "ordered by rmse ascending"
    );
    let page = ok(
        &app,
        &format!("{runs}?filter=params.alpha+%3D+%270.2%27+and+tags.team+%3D+%27blue%27"),
    )
    .await;
    assert_eq!(rows(&page, "runs"), 5, "alpha 0.2 on odd runs 1,7,13,19,25");

    // A bad filter is shown with the form, not an error page.
    let page = ok(&app, &format!("{runs}?filter=metrics.rmse+%3C%3C+1")).await;
    assert!(page.contains("id=\"problem\""), "{page}");

    // Pages of 10: a next link carrying the store's token, then the rest.
    let page = ok(&app, &format!("{runs}?size=10")).await;
    assert_eq!(rows(&page, "runs"), 10);
    let next = page
        .split("id=\"next\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let page = ok(&app, &next).await;
    assert_eq!(rows(&page, "runs"), 10);

    // The column headers sort: their links carry a quoted order-by clause.
    let link = page_link(&ok(&app, &runs).await, "metrics.rmse");
    let page = ok(&app, &link).await;
    assert!(
        page.find("run-29").unwrap() < page.find("run-00").unwrap(),
        "rmse descending"
    );
    let page = ok(&app, &page_link(&page, "metrics.rmse")).await;
    assert!(
        page.find("run-00").unwrap() < page.find("run-29").unwrap(),
        "then ascending"
    );

    // The column picker: only the columns asked for.
    let page = ok(&app, &format!("{runs}?col=tags.team")).await;
    assert!(page.contains(">tags.team<"));
    assert!(!page.contains(">metrics.rmse<"));
    // The page size is capped.
    let page = ok(&app, &format!("{runs}?size=100000")).await;
    assert_eq!(rows(&page, "runs"), RUNS);
}

#[tokio::test]
async fn run_page_charts_artifacts_and_compare() {
    let f = fixture().await;
    let app = f.ui().router();
    let run = f.runs[0].as_str();
    let page = ok(&app, &format!("/runs/{run}")).await;
    for needle in [
        "run-00",
        "loss",
        "alpha",
        "team",
        DIGEST,
        "model/model.json",
        "uPlot.iife.min.js",
        "data-src=\"/api/runs/",
    ] {
        assert!(page.contains(needle), "run page lacks {needle}");
    }
    // The page reads no history: min, max and count come with the chart data.
    assert!(page.contains("data-stat=\"max\" data-key=\"loss\""));
    assert!(page.contains("Registered as"), "lineage to the registry");

    // The artifact by its number in the listing; other numbers are not found.
    let (status, headers, body) = get(&app, &format!("/runs/{run}/artifacts/0")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "{\"w\":[1,2]}");
    assert!(
        headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("model.json")
    );
    assert_eq!(
        get(&app, &format!("/runs/{run}/artifacts/1")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/runs/..%2F..%2Fetc/artifacts/0").await.0,
        StatusCode::BAD_REQUEST
    );

    // Chart data: at most 2,000 points of 50,000, the spike and the last point kept.
    let body = ok(&app, &format!("/api/runs/{run}/metrics/loss")).await;
    let series: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(series["total"], LONG);
    // The whole history's extremes: 1/(1+s) down to 1/LONG, and a spike of 99.
    assert_eq!(series["max"], 99.0);
    assert_eq!(series["min"].as_f64(), Some(1.0 / LONG as f64));
    let again = ok(&app, &format!("/api/runs/{run}/metrics/loss")).await;
    assert_eq!(again, body, "a finished run's series, from the cache");
    let values = series["value"].as_array().unwrap();
    assert!(
        values.len() <= 2_000 && values.len() > 1_000,
        "{}",
        values.len()
    );
    assert!(values.iter().any(|v| v.as_f64() == Some(99.0)));
    assert_eq!(series["step"].as_array().unwrap().last().unwrap(), LONG - 1);
    let body = ok(&app, &format!("/api/runs/{run}/metrics/loss?points=100")).await;
    let series: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(series["step"].as_array().unwrap().len() <= 100);
    assert_eq!(
        get(&app, &format!("/api/runs/{run}/metrics/nope")).await.0,
        StatusCode::NOT_FOUND
    );

    // Compare: every row, then only those that differ (layers = 4 everywhere).
    let compare = format!(
        "/compare?run={}&run={}",
        f.runs[0].as_str(),
        f.runs[1].as_str()
    );
    let page = ok(&app, &compare).await;
    assert!(page.contains("params.layers") && page.contains("params.alpha"));
    let page = ok(&app, &format!("{compare}&diff=1")).await;
    assert!(!page.contains("params.layers") && page.contains("params.alpha"));
    assert!(
        page.contains("data-labels=\"run-00|run-01\""),
        "overlay of both runs"
    );
    // Parallel coordinates of ten runs: one line each over the axes that vary.
    let ten: Vec<String> = f.runs[..10]
        .iter()
        .map(|r| format!("run={}", r.as_str()))
        .collect();
    let page = ok(&app, &format!("/compare?{}", ten.join("&"))).await;
    let svg = page
        .split("id=\"parallel\"")
        .nth(1)
        .unwrap()
        .split("</svg>")
        .next()
        .unwrap();
    assert_eq!(svg.matches("<g class=\"run\"").count(), 10);
    assert!(svg.contains(">params.alpha<") && svg.contains(">metrics.rmse<"));
    assert!(
        !svg.contains(">params.layers<"),
        "a constant axis is left out"
    );
    let many: Vec<String> = (0..25)
        .map(|i| format!("run={}", f.runs[i % RUNS].as_str()))
        .collect();
    let (status, _, _) = get(&app, &format!("/compare?{}", many.join("&"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "more than the cap of runs");
}

#[tokio::test]
async fn models_versions_history_and_lineage() {
    let f = fixture().await;
    let app = f.ui().router();
    let page = ok(&app, "/models").await;
    assert!(page.contains("churn") && page.contains("@champion"));
    let page = ok(&app, "/models/churn").await;
    assert_eq!(rows(&page, "versions"), 2);
    assert!(page.contains("rmse="), "metric snapshots");
    let page = ok(&app, "/models/churn/versions/2").await;
    assert!(
        page.contains("model.json") && page.contains("requested") && page.contains("better rmse")
    );
    // The registered reference profile, read back column by column.
    let profile = page.split("id=\"drift-profile\"").nth(1).unwrap();
    assert!(profile.contains(">age<") && profile.contains("exact: 500 values"));
    assert!(profile.contains(">plan<") && profile.contains("3 categories over 500 values"));
    let page = ok(&app, "/models/churn/history").await;
    assert!(page.contains("alias-history") && page.contains("registered v2"));
    assert_eq!(get(&app, "/models/nope").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&app, "/models/churn/versions/9").await.0,
        StatusCode::NOT_FOUND
    );

    let page = ok(&app, &format!("/lineage?digest={DIGEST}")).await;
    assert_eq!(rows(&page, "lineage-runs"), 1);
    assert_eq!(rows(&page, "lineage-versions"), 1);
    assert_eq!(
        get(&app, "/lineage?digest=x%27+or+1%3D1").await.0,
        StatusCode::BAD_REQUEST
    );
}

fn post(path: &str, origin: Option<&str>, form: &str) -> Request<Body> {
    let mut request = Request::post(path)
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    request.body(Body::from(form.to_owned())).unwrap()
}

#[tokio::test]
async fn approvals_need_origin_csrf_and_a_reviewer() {
    let f = fixture().await;
    let app = f.ui().router();
    let queue = ok(&app, "/approvals").await;
    assert_eq!(rows(&queue, "queue"), 1);
    let review = "/models/churn/versions/2/review";
    let page = ok(&app, &format!("{review}?alias=champion")).await;
    assert!(page.contains("evidence-metrics") && page.contains("holder v1"));
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let origin = Some("http://127.0.0.1:5050");
    let good = format!(
        "csrf={csrf}&alias=champion&token={ALICE_TOKEN}&comment=looks+good&decision=approve"
    );

    let refused = [
        (post(review, None, &good), StatusCode::FORBIDDEN),
        (
            post(review, Some("http://evil.example"), &good),
            StatusCode::FORBIDDEN,
        ),
        (
            post(review, origin, &good.replace(&csrf, "0000")),
            StatusCode::FORBIDDEN,
        ),
        (
            post(
                review,
                origin,
                &format!("alias=champion&token={ALICE_TOKEN}&decision=approve"),
            ),
            StatusCode::FORBIDDEN,
        ),
        (
            post(
                review,
                origin,
                &format!("csrf={csrf}&alias=champion&decision=approve"),
            ),
            StatusCode::UNAUTHORIZED,
        ),
        (
            post(
                review,
                origin,
                &format!("csrf={csrf}&alias=champion&token=not-a-reviewer-token&decision=approve"),
            ),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (request, expected) in refused {
        assert_eq!(send(&app, request).await.0, expected);
    }
    assert!(
        f.registry
            .approvals(&f.model)
            .await
            .unwrap()
            .iter()
            .all(|a| a.record.state == ApprovalState::Requested)
    );

    let (status, headers, _) = send(&app, post(review, origin, &good)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        headers[header::LOCATION]
            .to_str()
            .unwrap()
            .contains("done=approved")
    );
    let approvals = f.registry.approvals(&f.model).await.unwrap();
    let last = approvals.last().unwrap();
    assert_eq!(last.record.state, ApprovalState::Approved);
    assert_eq!(last.record.by, "alice");
    assert_eq!(last.record.comment.as_deref(), Some("looks good"));
    assert!(ok(&app, "/approvals").await.contains("id=\"empty\""));
}

#[tokio::test]
async fn safety_headers_and_hosts() {
    let f = fixture().await;
    let app = f.ui().router();
    let (status, headers, _) = get(&app, "/experiments").await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    // The handler's time, which benches/compare/ui_vs_mlflow.py reads.
    let timing = headers["server-timing"].to_str().unwrap();
    let ms: f64 = timing.strip_prefix("app;dur=").unwrap().parse().unwrap();
    assert!(ms >= 0.0, "{timing}");

    // DNS rebinding: the attacker's name in Host.
    for host in ["evil.example:5050", "127.0.0.1.evil.example", "attacker"] {
        let request = Request::get("/experiments")
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap();
        let (status, headers, _) = send(&app, request).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{host}");
        assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
    }
    let request = Request::get("/experiments").body(Body::empty()).unwrap();
    assert_eq!(
        send(&app, request).await.0,
        StatusCode::FORBIDDEN,
        "no Host"
    );
    let request = Request::get("/experiments")
        .header(header::HOST, "localhost:1")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, request).await.0, StatusCode::OK);

    // No CORS: a preflight is not answered with permissions.
    let request = Request::options("/experiments")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, "http://evil.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&app, request).await;
    assert!(!status.is_success());
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    // Assets are embedded and named exactly; nothing else is served from disk.
    let (status, headers, body) = get(&app, "/assets/vendor/uPlot.iife.min.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(body.contains("uPlot"));
    assert_eq!(
        get(&app, "/assets/../Cargo.toml").await.0,
        StatusCode::NOT_FOUND
    );
    // Escaping: a filter with markup comes back inert.
    let (_, _, body) = get(
        &app,
        &format!(
            "/experiments/{}?filter=%3Cscript%3Ealert(1)%3C/script%3E",
            f.experiment
        ),
    )
    .await;
    assert!(!body.contains("<script>alert(1)"));
}
