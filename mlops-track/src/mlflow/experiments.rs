//! The experiment calls of [`MlflowStore`]: `experiments/*`.

use std::time::Duration;

use mlops_core::{ExperimentId, ExperimentName, LifecycleStage, Tag};
use mlops_mlflow::{Idempotency, RestError, Subject};

use super::MlflowStore;
use super::create::with_request_id;
use super::wire::{
    self, CLIENT_REQUEST_ID_TAG, CreateExperimentResponse, ExperimentResponse, KeyValue,
    SearchExperimentsResponse, WireExperiment,
};
use crate::entities::Experiment;
use crate::error::{Result, TrackError};
use crate::filter::MAX_RESULTS_DEFAULT;
use crate::store::{ExperimentQuery, Page};

impl MlflowStore {
    /// `experiments/create`, at most once per request id (see `create.rs`).
    pub(super) async fn create_experiment_once(
        &self,
        name: &ExperimentName,
        tags: &[Tag],
    ) -> Result<ExperimentId> {
        let (request_id, mut wire_tags) = with_request_id(tags);
        wire_tags.push(KeyValue {
            key: CLIENT_REQUEST_ID_TAG,
            value: &request_id,
        });
        let body = wire::CreateExperiment {
            name: name.as_str(),
            tags: wire_tags,
        };
        let subject = Subject::new("experiment", name.as_str());
        let (body, subject, request_id) = (&body, &subject, request_id.as_str());
        let (id, _) = self
            .create_once(
                |timeout| {
                    Box::pin(async move {
                        self.client()
                            .post_within::<_, CreateExperimentResponse>(
                                "experiments/create",
                                body,
                                Idempotency::NotIdempotent,
                                subject,
                                timeout,
                            )
                            .await
                            .map(|r| r.experiment_id)
                    })
                },
                // Names are unique on the server, so the experiment that holds the name is
                // ours exactly when it carries our request id.
                |timeout| {
                    Box::pin(async move {
                        Ok(self
                            .experiment_by_name_wire(name.as_str(), timeout)
                            .await?
                            .filter(|e| wire::client_request_id(&e.tags) == Some(request_id))
                            .map(|e| e.experiment_id))
                    })
                },
            )
            .await?;
        ExperimentId::parse(&id).map_err(|e| TrackError::Corrupt {
            path: format!("MLflow experiment {name}"),
            reason: format!("the server returned an id this client cannot represent: {e}"),
        })
    }

    pub(super) async fn experiment_by_name_wire(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<Option<WireExperiment>> {
        let subject = Subject::new("experiment", name);
        match self
            .client()
            .get_within::<ExperimentResponse>(
                "experiments/get-by-name",
                &[("experiment_name", name)],
                &subject,
                timeout,
            )
            .await
        {
            Ok(found) => Ok(Some(found.experiment)),
            Err(RestError {
                error: mlops_mlflow::MlflowError::NotFound { .. },
                ..
            }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn experiment(&self, id: &ExperimentId) -> Result<Experiment> {
        let subject = Subject::new("experiment", id.as_str());
        let found: ExperimentResponse = self
            .client()
            .get(
                "experiments/get",
                &[("experiment_id", id.as_str())],
                &subject,
            )
            .await?;
        found.experiment.into_model()
    }

    pub(super) async fn experiment_by_name(
        &self,
        name: &ExperimentName,
    ) -> Result<Option<Experiment>> {
        self.experiment_by_name_wire(name.as_str(), self.client().policy().timeout())
            .await?
            .map(WireExperiment::into_model)
            .transpose()
    }

    pub(super) async fn experiments_page(
        &self,
        query: &ExperimentQuery,
    ) -> Result<Page<Experiment>> {
        let body = wire::SearchExperiments {
            // The server reads a missing `max_results` as 0 and refuses it; 1000 is the
            // default of MLflow's own client.
            max_results: Some(query.max_results.unwrap_or(MAX_RESULTS_DEFAULT)),
            page_token: query.page_token.as_deref().filter(|t| !t.is_empty()),
            filter: query.filter.as_deref().filter(|f| !f.trim().is_empty()),
            order_by: &query.order_by,
            view_type: wire::view_type(query.view),
        };
        let subject = Subject::new("experiments", "search");
        let page: SearchExperimentsResponse = self
            .client()
            .post(
                "experiments/search",
                &body,
                Idempotency::Idempotent,
                &subject,
            )
            .await?;
        Ok(Page {
            items: page
                .experiments
                .into_iter()
                .map(WireExperiment::into_model)
                .collect::<Result<_>>()?,
            next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
        })
    }

    pub(super) async fn rename(&self, id: &ExperimentId, name: &ExperimentName) -> Result<()> {
        let subject = Subject::new("experiment", id.as_str());
        let body = wire::UpdateExperiment {
            experiment_id: id.as_str(),
            new_name: name.as_str(),
        };
        match self
            .client()
            .post::<_, serde_json::Value>(
                "experiments/update",
                &body,
                Idempotency::Idempotent,
                &subject,
            )
            .await
        {
            Ok(_) => Ok(()),
            // A taken name surfaces as the database's unique-constraint error (BAD_REQUEST
            // with SQL in the message): look the name up to say so plainly.
            Err(RestError {
                error: error @ mlops_mlflow::MlflowError::Mlflow { .. },
                ..
            }) => match self
                .experiment_by_name_wire(name.as_str(), self.client().policy().timeout())
                .await
            {
                Ok(Some(holder)) if holder.experiment_id != id.as_str() => {
                    Err(TrackError::AlreadyExists {
                        what: "experiment",
                        name: name.to_string(),
                    })
                }
                _ => Err(error.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Moves an experiment between live and deleted. MLflow answers "does not exist" when
    /// it is already where it should go (and when a retried request had already moved
    /// it); that is success here.
    pub(super) async fn move_experiment(
        &self,
        id: &ExperimentId,
        target: LifecycleStage,
    ) -> Result<()> {
        let endpoint = match target {
            LifecycleStage::Deleted => "experiments/delete",
            LifecycleStage::Active => "experiments/restore",
        };
        let subject = Subject::new("experiment", id.as_str());
        let body = wire::ExperimentRef {
            experiment_id: id.as_str(),
        };
        match self
            .client()
            .post::<_, serde_json::Value>(endpoint, &body, Idempotency::Idempotent, &subject)
            .await
        {
            Ok(_) => Ok(()),
            Err(RestError {
                error: error @ mlops_mlflow::MlflowError::NotFound { .. },
                ..
            }) => match self.experiment(id).await {
                Ok(experiment) if experiment.lifecycle_stage == target => Ok(()),
                Ok(_) => Err(error.into()),
                Err(e) => Err(e),
            },
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn experiment_tag(&self, id: &ExperimentId, tag: &Tag) -> Result<()> {
        let subject = Subject::new("experiment", id.as_str());
        let body = wire::SetExperimentTag {
            experiment_id: id.as_str(),
            key: tag.key().as_str(),
            value: tag.value(),
        };
        self.client()
            .post::<_, serde_json::Value>(
                "experiments/set-experiment-tag",
                &body,
                Idempotency::Idempotent,
                &subject,
            )
            .await?;
        Ok(())
    }
}
