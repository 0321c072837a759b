//! The run pages against runs synced to a real MLflow server (MLOPS_TEST_MLFLOW_URI, from
//! scripts/test.sh) through the MLflow tracking backend: the UI only uses the
//! `TrackingStore` trait, so the same pages work there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use mlops_core::testing::{MLFLOW_URI, require_env};
use mlops_track::sync::{SyncOptions, sync};
use mlops_track::{ExperimentName, RunQuery, TrackingStore};
use mlops_ui::{Ui, UiOptions};
use tower::ServiceExt;

use support::{LONG, RUNS, fixture_in};

async fn get(app: &axum::Router, path: &str) -> (StatusCode, String) {
    let request = Request::get(path)
        .header(header::HOST, "127.0.0.1:5050")
        .body(Body::empty())
        .unwrap();
    let answer = app.clone().oneshot(request).await.unwrap();
    let status = answer.status();
    let body = answer.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_on_runs_synced_to_mlflow() {
    let uri = require_env(MLFLOW_URI);
    let name = format!("ui-{}", uuid::Uuid::now_v7().simple());
    let f = fixture_in(&name).await;
    let mlflow: Arc<dyn TrackingStore> = mlops_track::open(&uri).await.unwrap();
    let report = sync(
        f.tracking.as_ref(),
        mlflow.as_ref(),
        &SyncOptions::default().with_experiment(ExperimentName::parse(&name).unwrap()),
    )
    .await
    .unwrap();
    assert!(report.is_complete(), "{report:?}");
    let experiment = mlflow
        .get_experiment_by_name(&ExperimentName::parse(&name).unwrap())
        .await
        .unwrap()
        .unwrap();
    let app = Ui::new(Arc::clone(&mlflow), None, UiOptions::default()).router();

    assert!(get(&app, "/experiments").await.1.contains(&name));
    let runs = format!("/experiments/{}", experiment.experiment_id.as_str());
    let (status, page) = get(&app, &runs).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page.matches("name=\"run\" value=").count(), RUNS);
    let (_, page) = get(&app, &format!("{runs}?filter=metrics.rmse+%3C+0.245")).await;
    assert_eq!(
        page.matches("name=\"run\" value=").count(),
        5,
        "MLflow's own search answers the filter"
    );

    let found = mlflow
        .search_runs(&RunQuery {
            experiment_ids: vec![experiment.experiment_id.clone()],
            filter: Some("attributes.run_name = 'run-00'".into()),
            ..RunQuery::default()
        })
        .await
        .unwrap();
    let run = found.items[0].info.run_id.as_str().to_owned();
    let (status, page) = get(&app, &format!("/runs/{run}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(support::DIGEST), "dataset input synced");
    let (status, body) = get(&app, &format!("/api/runs/{run}/metrics/loss")).await;
    assert_eq!(status, StatusCode::OK);
    let series: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(series["total"], LONG);
    assert_eq!(series["max"], 99.0, "the spike, from MLflow's history");
    assert!(series["step"].as_array().unwrap().len() <= 2_000);
    let other = found.items[0].info.run_id.as_str();
    let (status, _) = get(&app, &format!("/compare?run={other}&run={run}")).await;
    assert_eq!(status, StatusCode::OK);
    // No registry: the model pages say so, the rest works.
    assert_eq!(get(&app, "/models").await.0, StatusCode::NOT_FOUND);
}
