//! The steps after training: `evaluate` (a registered version on a week), `predict` (the
//! training code's fares for a week's first trips: what `mlops serve` must answer for the
//! same raw columns), `promote` (gated move of an alias) and `drift` (a week against the
//! alias holder's reference profile, with an optional Airflow asset event when it drifted).

use std::path::Path;

use mlops::core::ArtifactPath;
use mlops::drift::ReferenceProfile;
use mlops::drift::arrow_array::RecordBatch;
use mlops::registry::gates::parse_gate;
use mlops::registry::{
    AliasName, Expect, ModelName, ModelRegistry, ModelVersion, OpenOptions, RegistryExt,
};
use serde_json::{Value, json};

use crate::features;
use crate::model::{MODEL_FILE, Predictor, TRANSFORM_FILE};
use crate::train;
use crate::{Error, Verdict};

/// A version number, or an alias naming one.
pub(crate) async fn resolve(
    registry: &dyn ModelRegistry,
    model: &ModelName,
    version: &str,
) -> Result<ModelVersion, Error> {
    if version.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(version.parse()?);
    }
    let alias = AliasName::parse(version)?;
    Ok(registry.resolve_alias(model, &alias).await?.version)
}

/// The week file named `week` (`latest` or `YYYY-MM-DD`) under `data`.
pub(crate) fn week_file(data: &Path, week: &str) -> Result<std::path::PathBuf, Error> {
    let weeks = features::partitions(data)?;
    let found = match week {
        "latest" => weeks.last().cloned(),
        date => weeks.into_iter().find(|w| features::week_of(w) == date),
    };
    found.ok_or_else(|| format!("no week {week:?} in {}", data.display()).into())
}

/// A registered version as training code predicts with it: its model file behind its fitted
/// transform, both digest-checked on the way out of the registry.
pub(crate) async fn predictor(
    registry: &dyn ModelRegistry,
    model: &ModelName,
    version: ModelVersion,
) -> Result<Predictor, Error> {
    let file = |name: &'static str| async move {
        let path = ArtifactPath::parse(name)?;
        let bytes = registry.download_artifact(model, version, &path).await;
        bytes.map_err(|e| -> Error { format!("{model} v{version}: {name}: {e}").into() })
    };
    let (model_file, transform_file) = (file(MODEL_FILE).await?, file(TRANSFORM_FILE).await?);
    Predictor::from_files(&model_file, &transform_file)
}

/// `evaluate`: a registered version's MAE, RMSE and MAPE on a whole week.
pub(crate) async fn evaluate(
    root: &str,
    model: &str,
    version: &str,
    data: &Path,
    week: &str,
) -> Result<Value, Error> {
    let registry = mlops::registry::open(root)?;
    let name = ModelName::parse(model)?;
    let version = resolve(&*registry, &name, version).await?;
    let predictor = predictor(&*registry, &name, version).await?;
    let file = week_file(data, week)?;
    let trips = features::read_trips(&file, 0..7)?;
    let s = train::scores(&predictor.predict(&trips)?, &features::target(&trips)?);
    let rows: usize = trips.iter().map(RecordBatch::num_rows).sum();
    Ok(json!({
        "model": model, "version": version.to_string(), "week": features::week_of(&file),
        "rows": rows, "mae": s.mae, "rmse": s.rmse, "mape": s.mape,
    }))
}

/// The most rows `predict` answers for (its result is one JSON line).
pub(crate) const MAX_PREDICT_ROWS: usize = 10_000;

/// `predict`: the fares a registered version predicts for the first `limit` trips of a week,
/// in file order, from their raw columns (every trip, whatever its fare: the fare is not an
/// input). The training code's answer, to compare with what `mlops serve` answers.
pub(crate) async fn predict(
    root: &str,
    model: &str,
    version: &str,
    data: &Path,
    week: &str,
    limit: usize,
) -> Result<Value, Error> {
    if !(1..=MAX_PREDICT_ROWS).contains(&limit) {
        return Err(format!("--limit {limit} is not in 1..={MAX_PREDICT_ROWS}").into());
    }
    let registry = mlops::registry::open(root)?;
    let name = ModelName::parse(model)?;
    let version = resolve(&*registry, &name, version).await?;
    let predictor = predictor(&*registry, &name, version).await?;
    let file = week_file(data, week)?;
    let mut rows = Vec::new();
    let mut left = limit;
    for batch in features::read_parquet(&file)? {
        if left == 0 {
            break;
        }
        let take = left.min(batch.num_rows());
        rows.push(batch.slice(0, take));
        left -= take;
    }
    let fares = predictor.predict(&rows)?;
    Ok(json!({
        "model": model, "version": version.to_string(), "week": features::week_of(&file),
        "rows": fares.len(), "predictions": fares.to_vec(),
    }))
}

/// `promote`: moves `alias` to `version` if the alias still holds what it held when we
/// looked and every gate passes; the decision (and its actor) goes to the audit log.
pub(crate) async fn promote(
    root: &str,
    model: &str,
    version: &str,
    alias: &str,
    gates: &[String],
    actor: &str,
) -> Result<(Value, Verdict), Error> {
    let registry = mlops::registry::open_with(root, &OpenOptions::new().actor(actor))?;
    let name = ModelName::parse(model)?;
    let version = resolve(&*registry, &name, version).await?;
    let alias_name = AliasName::parse(alias)?;
    let gates = (gates.iter().map(|g| parse_gate(g))).collect::<Result<Vec<_>, _>>()?;
    let holder = registry.alias_holder(&name, &alias_name).await?;
    let expect = Expect::exactly(holder);
    let promotion = (registry.promote(&name, version, &alias_name, expect, &gates)).await?;
    let reports: Vec<Value> = (promotion.decision.gates.iter())
        .map(|g| json!({"gate": g.gate, "passed": g.passed, "reason": g.reason}))
        .collect();
    let promoted = promotion.promoted();
    let value = json!({
        "model": model,
        "version": version.to_string(),
        "alias": alias,
        "previous": holder.map(|v| v.to_string()),
        "promoted": promoted,
        "outcome": format!("{:?}", promotion.outcome),
        "actor": actor,
        "gates": reports,
    });
    Ok((value, if promoted { Verdict::Yes } else { Verdict::No }))
}

/// Where a drift step posts its Airflow asset event.
#[derive(Clone, Debug)]
pub(crate) struct AirflowTarget {
    /// The API server, e.g. `http://127.0.0.1:8080`.
    pub(crate) url: String,
    /// The asset's URI, as the DAG declares it.
    pub(crate) asset: String,
    /// A bearer token (Airflow 3's `POST /auth/token`), if the server needs one.
    pub(crate) token: Option<String>,
}

/// `drift`: the week against the reference profile of the version `alias` holds. When it
/// drifted and `airflow` is set, an asset event is posted so the DAG scheduled on that
/// asset starts.
pub(crate) async fn drift(
    root: &str,
    model: &str,
    alias: &str,
    data: &Path,
    week: &str,
    airflow: Option<&AirflowTarget>,
) -> Result<(Value, Verdict), Error> {
    let registry = mlops::registry::open(root)?;
    let name = ModelName::parse(model)?;
    let version = resolve(&*registry, &name, alias).await?;
    let stored = registry.download_drift_profile(&name, version).await?;
    let stored = stored.ok_or_else(|| format!("{model} v{version} has no drift profile"))?;
    let profile = ReferenceProfile::from_json(std::str::from_utf8(&stored)?)?;
    let file = week_file(data, week)?;
    let trips = features::monitored(&features::read_trips(&file, 0..7)?)?;
    let report = profile.compare(&trips, &train::drift_options())?;
    let drifted: Vec<&str> = (report.columns.iter().filter(|c| c.drifted))
        .map(|c| c.column.as_str())
        .collect();
    let d = &report.dataset;
    let week = features::week_of(&file);
    let mut value = json!({
        "model": model, "version": version.to_string(), "week": week,
        "dataset_drift": d.dataset_drift, "share_drifted": d.share_drifted,
        "drifted_columns": drifted,
    });
    if let (true, Some(target)) = (d.dataset_drift, airflow) {
        let extra = json!({"model": model, "version": version.to_string(), "week": week,
            "drifted_columns": drifted, "share_drifted": d.share_drifted});
        let event = post_asset_event(target, extra).await?;
        value["airflow_event"] = event;
    }
    Ok((
        value,
        if d.dataset_drift {
            Verdict::No
        } else {
            Verdict::Yes
        },
    ))
}

/// Airflow 3's REST API: finds the asset's id by URI (`GET /api/v2/assets`), then
/// `POST /api/v2/assets/events` with `extra` (the DAG run sees it as the triggering event).
async fn post_asset_event(target: &AirflowTarget, extra: Value) -> Result<Value, Error> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let base = target.url.trim_end_matches('/');
    let auth = |r: reqwest::RequestBuilder| match &target.token {
        Some(token) => r.bearer_auth(token),
        None => r,
    };
    let query = [("uri_pattern", target.asset.as_str()), ("limit", "100")];
    let url = reqwest::Url::parse_with_params(&format!("{base}/api/v2/assets"), query)?;
    let list: Value = auth(client.get(url))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let assets = list["assets"].as_array().cloned().unwrap_or_default();
    let id = (assets.iter())
        .find(|a| a["uri"].as_str() == Some(target.asset.as_str()))
        .and_then(|a| a["id"].as_i64())
        .ok_or_else(|| {
            format!(
                "Airflow at {base} has no asset {:?} (is the DAG parsed?)",
                target.asset
            )
        })?;
    let body = json!({"asset_id": id, "extra": extra});
    let event: Value = auth(client.post(format!("{base}/api/v2/assets/events")))
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(json!({"asset_id": id, "event_id": event["id"], "uri": target.asset}))
}
