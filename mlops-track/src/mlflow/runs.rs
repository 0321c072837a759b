//! The run calls of [`MlflowStore`]: `runs/*` and `metrics/get-history` (batches are in
//! `batch.rs`, artifacts in `artifacts.rs`).

use std::time::Duration;

use mlops_core::{
    ExperimentId, LifecycleStage, Metric, MetricKey, RunId, RunName, RunStatus, TagKey, Timestamp,
};
use mlops_mlflow::{Idempotency, MlflowError, RestError, Subject};

use super::MlflowStore;
use super::create::{request_id_filter, with_request_id};
use super::wire::{
    self, CLIENT_REQUEST_ID_TAG, KeyValue, MetricHistoryResponse, RunResponse, SearchRunsResponse,
    UpdateRunResponse, WireDatasetInputOut, WireRun,
};
use crate::entities::{DatasetInput, RUN_NAME_TAG, Run, RunInfo};
use crate::error::{Result, TrackError};
use crate::filter::{Filter, MaxResults, OrderBy};
use crate::store::{NewRun, Page, RunQuery, ViewType};

impl MlflowStore {
    /// `runs/create`, at most once per request id (see `create.rs`). Should a lost attempt
    /// be applied after the lookup found nothing, the run with the smallest id is kept and
    /// the other moved to the trash, so a retry never leaves two live runs.
    pub(super) async fn create_run_once(&self, run: NewRun) -> Result<Run> {
        if let (Some(name), Some(tag)) = (
            &run.run_name,
            run.tags.iter().find(|t| t.key().as_str() == RUN_NAME_TAG),
        ) && name.as_str() != tag.value()
        {
            return Err(TrackError::InvalidArgument(format!(
                "run name {:?} and tag {RUN_NAME_TAG} = {:?} disagree",
                name.as_str(),
                tag.value()
            )));
        }
        let (request_id, mut wire_tags) = with_request_id(&run.tags);
        wire_tags.push(KeyValue {
            key: CLIENT_REQUEST_ID_TAG,
            value: &request_id,
        });
        let body = wire::CreateRun {
            experiment_id: run.experiment_id.as_str(),
            user_id: &run.user_id,
            run_name: run.run_name.as_ref().map(RunName::as_str),
            start_time: run.start_time.as_millis(),
            tags: wire_tags,
        };
        let subject = Subject::new("experiment", run.experiment_id.as_str());
        let filter = request_id_filter(&request_id);
        let (body, subject, filter_ref, experiment) =
            (&body, &subject, filter.as_deref(), &run.experiment_id);
        let (created, retried) = self
            .create_once(
                |timeout| {
                    Box::pin(async move {
                        self.client()
                            .post_within::<_, RunResponse>(
                                "runs/create",
                                body,
                                Idempotency::NotIdempotent,
                                subject,
                                timeout,
                            )
                            .await
                            .map(|created| created.run)
                            // Without a request id to search for, a lost answer cannot be
                            // resolved: report it rather than risk a second run.
                            .map_err(|e| RestError {
                                maybe_applied: e.maybe_applied && filter_ref.is_some(),
                                error: e.error,
                            })
                    })
                },
                |timeout| {
                    Box::pin(async move {
                        let Some(filter) = filter_ref else {
                            return Ok(None);
                        };
                        let mut found = self
                            .search_runs_wire(experiment, filter, 10, timeout)
                            .await?;
                        // Should a late-applied attempt have made a second run, every
                        // caller agrees on the same one: the smallest id.
                        found.sort_by(|a, b| a.info.run_id.cmp(&b.info.run_id));
                        Ok(found.into_iter().next())
                    })
                },
            )
            .await?;
        let mut created = created.into_model()?;
        if retried && let Some(filter) = &filter {
            // An attempt whose answer was lost may still have been applied after the lookup
            // found nothing: keep one run per request id (the smallest id) and move any
            // other to the trash, where it stays restorable.
            let timeout = self.client().policy().timeout();
            let mut twins = self
                .search_runs_wire(&run.experiment_id, filter, 10, timeout)
                .await?;
            twins.sort_by(|a, b| a.info.run_id.cmp(&b.info.run_id));
            let mut twins = twins.into_iter();
            if let Some(keep) = twins.next() {
                for extra in twins {
                    let id = extra.info.into_model()?.run_id;
                    tracing::warn!(run = %id, "deleting a duplicate run left by a retried create");
                    self.move_run(&id, LifecycleStage::Deleted).await?;
                }
                let keep = keep.into_model()?;
                if keep.info.run_id != created.info.run_id {
                    self.move_run(&created.info.run_id, LifecycleStage::Deleted)
                        .await?;
                    created = keep;
                }
            }
        }
        self.remember_root(&created.info)?;
        Ok(created)
    }

    async fn search_runs_wire(
        &self,
        experiment_id: &ExperimentId,
        filter: &str,
        max_results: usize,
        timeout: Duration,
    ) -> Result<Vec<WireRun>> {
        let body = wire::SearchRuns {
            experiment_ids: vec![experiment_id.as_str()],
            filter: Some(filter),
            run_view_type: wire::view_type(ViewType::All),
            max_results: Some(max_results),
            order_by: &[],
            page_token: None,
        };
        let subject = Subject::new("experiment", experiment_id.as_str());
        let page: SearchRunsResponse = self
            .client()
            .post_within(
                "runs/search",
                &body,
                Idempotency::Idempotent,
                &subject,
                timeout,
            )
            .await?;
        Ok(page.runs)
    }

    pub(super) async fn run(&self, id: &RunId) -> Result<Run> {
        let subject = Subject::new("run", id.as_str());
        let found: RunResponse = self
            .client()
            .get("runs/get", &[("run_id", id.as_str())], &subject)
            .await?;
        let run = found.run.into_model()?;
        // A run whose artifacts are not behind the proxy is still a run.
        let _ = self.remember_root(&run.info);
        Ok(run)
    }

    pub(super) async fn update(
        &self,
        id: &RunId,
        status: Option<RunStatus>,
        end_time: Option<Timestamp>,
        run_name: Option<&RunName>,
    ) -> Result<RunInfo> {
        let subject = Subject::new("run", id.as_str());
        let body = wire::UpdateRun {
            run_id: id.as_str(),
            status: status.map(RunStatus::as_str),
            end_time: end_time.map(Timestamp::as_millis),
            run_name: run_name.map(RunName::as_str),
        };
        let updated: UpdateRunResponse = self
            .client()
            .post("runs/update", &body, Idempotency::Idempotent, &subject)
            .await?;
        updated.run_info.into_model()
    }

    /// `runs/delete` or `runs/restore`; MLflow answers both with success when the run is
    /// already there.
    pub(super) async fn move_run(&self, id: &RunId, target: LifecycleStage) -> Result<()> {
        let endpoint = match target {
            LifecycleStage::Deleted => "runs/delete",
            LifecycleStage::Active => "runs/restore",
        };
        let subject = Subject::new("run", id.as_str());
        let body = wire::RunRef {
            run_id: id.as_str(),
        };
        self.client()
            .post::<_, serde_json::Value>(endpoint, &body, Idempotency::Idempotent, &subject)
            .await?;
        Ok(())
    }

    pub(super) async fn inputs(&self, run: &RunId, inputs: &[DatasetInput]) -> Result<()> {
        if inputs.is_empty() {
            return Ok(());
        }
        let subject = Subject::new("run", run.as_str());
        let body = wire::LogInputs {
            run_id: run.as_str(),
            datasets: inputs.iter().map(WireDatasetInputOut::new).collect(),
        };
        // MLflow de-duplicates datasets and inputs, so a retry adds nothing.
        self.client()
            .post::<_, serde_json::Value>(
                "runs/log-inputs",
                &body,
                Idempotency::Idempotent,
                &subject,
            )
            .await?;
        Ok(())
    }

    /// `metrics/get-history`, page after page.
    pub(super) async fn history(&self, run: &RunId, key: &MetricKey) -> Result<Vec<Metric>> {
        let subject = Subject::in_run("metric", key.as_str(), run.as_str());
        let entity = format!("run {run}");
        let page_size = self.history_page_size().to_string();
        let mut points = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![
                ("run_id", run.as_str()),
                ("metric_key", key.as_str()),
                ("max_results", page_size.as_str()),
            ];
            if let Some(token) = &token {
                query.push(("page_token", token.as_str()));
            }
            let page: MetricHistoryResponse = self
                .client()
                .get("metrics/get-history", &query, &subject)
                .await?;
            for point in page.metrics {
                points.push(point.into_model(&entity)?);
            }
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) if Some(&next) != token.as_ref() => token = Some(next),
                _ => break,
            }
        }
        if points.is_empty() {
            // The server answers an empty history for a run that does not exist, too.
            self.run(run).await?;
        }
        Ok(points)
    }

    pub(super) async fn remove_tag(&self, run: &RunId, key: &TagKey) -> Result<()> {
        let subject = Subject::in_run("tag", key.as_str(), run.as_str());
        let body = wire::DeleteTag {
            run_id: run.as_str(),
            key: key.as_str(),
        };
        match self
            .client()
            .post::<_, serde_json::Value>(
                "runs/delete-tag",
                &body,
                Idempotency::Idempotent,
                &subject,
            )
            .await
        {
            Ok(_) => Ok(()),
            // A retry of a delete whose answer was lost finds the tag gone.
            Err(RestError {
                error: MlflowError::NotFound { what: "tag", .. },
                maybe_applied: true,
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn runs_page(&self, query: &RunQuery) -> Result<Page<Run>> {
        // Checked here for an error that names the position; sent as written.
        let filter = query.filter.as_deref().filter(|f| !f.trim().is_empty());
        if let Some(filter) = filter {
            Filter::parse(filter)?;
        }
        OrderBy::parse(&query.order_by)?;
        if let Some(max) = query.max_results {
            MaxResults::try_from(max)?;
        }
        let body = wire::SearchRuns {
            experiment_ids: query
                .experiment_ids
                .iter()
                .map(ExperimentId::as_str)
                .collect(),
            filter,
            run_view_type: wire::view_type(query.view),
            max_results: query.max_results,
            order_by: &query.order_by,
            page_token: query.page_token.as_deref().filter(|t| !t.is_empty()),
        };
        let subject = Subject::new("runs", "search");
        let page: SearchRunsResponse = self
            .client()
            .post("runs/search", &body, Idempotency::Idempotent, &subject)
            .await?;
        Ok(Page {
            items: page
                .runs
                .into_iter()
                .map(WireRun::into_model)
                .collect::<Result<_>>()?,
            next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
        })
    }
}
