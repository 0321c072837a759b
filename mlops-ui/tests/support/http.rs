//! Requests to a router without a socket (`oneshot`), as a browser on loopback sends them.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub const HOST: &str = "127.0.0.1:5050";

pub async fn send(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let answer = app.clone().oneshot(request).await.unwrap();
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

pub async fn get(app: &Router, path: &str) -> (StatusCode, HeaderMap, String) {
    let request = Request::get(path)
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap();
    send(app, request).await
}

/// The body of a 200 answer (anything else fails the test, naming the path).
pub async fn ok(app: &Router, path: &str) -> String {
    let (status, _, body) = get(app, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// The body rows of the table with id `table`.
pub fn rows(html: &str, table: &str) -> usize {
    let start = html
        .find(&format!("<table id=\"{table}\""))
        .unwrap_or_else(|| panic!("no table {table}"));
    let end = start + html[start..].find("</table>").unwrap();
    html[start..end]
        .matches("<tr")
        .count()
        .saturating_sub(html[start..end].matches("<thead>").count())
}

/// Every `href` in `html` whose element has class `class`, unescaped.
pub fn links(html: &str, class: &str) -> Vec<String> {
    html.split(&format!("<a class=\"{class}\" href=\""))
        .skip(1)
        .map(|s| s.split('"').next().unwrap().replace("&amp;", "&"))
        .collect()
}
