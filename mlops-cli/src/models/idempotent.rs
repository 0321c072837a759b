//! `--idempotency-key`: a `models` step runs at most once per key. The first attempt claims
//! the key in the registry (`mlops_registry::idempotency`), runs, and stores what it printed,
//! its step report and its exit code; a retry prints and reports the same and exits with the
//! same code, doing nothing. An attempt that fails releases the key (a retry runs again); a
//! retry that finds another attempt still running waits for it.

use std::time::{Duration, Instant};

use mlops::core::{Backoff, ModelName, StoreUri};
use mlops::registry::idempotency::{Claim, IdempotencyRecord, IdempotencyStore};
use mlops::registry::is_mlflow_url;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::models::ModelsArgs;
use crate::output;
use crate::step::{self, StepReport};
use crate::stores::Registry;

/// How long a retry waits for an attempt that holds the key to finish.
const WAIT_FOR_OWNER: Duration = Duration::from_secs(120);

/// What an attempt leaves for its retries.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    /// The exit code (before `--on-reject`).
    code: u8,
    /// The lines it printed on stdout.
    stdout: Vec<String>,
    /// Its JSON result, when it printed one.
    result: Option<String>,
    /// Its step report.
    report: Option<StepReport>,
}

/// Runs `args` once for `key` on the registry at `uri`.
pub(crate) async fn run(uri: &str, registry: &Registry, key: &str, args: ModelsArgs) -> Result<u8> {
    let Some((model, step_name)) = args.command.idempotent_step() else {
        return Err(
            "--idempotency-key applies to models register, promote, rollback, approve and \
             approval request"
                .into(),
        );
    };
    if is_mlflow_url(uri) {
        return Err(format!(
            "--idempotency-key needs a registry on an object store; {uri} is an MLflow server \
             (no create-if-absent write to claim the key with)"
        )
        .into());
    }
    let model = ModelName::parse(model)?;
    let store = IdempotencyStore::new(&StoreUri::parse(uri)?.open()?);
    let started = Instant::now();
    let pauses = Backoff::exponential(Duration::from_millis(200), Duration::from_secs(5));
    let mut look = 0;
    let record = loop {
        match store.claim(&model, step_name, key, &registry.actor).await? {
            Claim::Won(won) => return first_attempt(&store, &model, &won, args, registry).await,
            Claim::Done(done) => break done,
            Claim::Pending(pending) if started.elapsed() < WAIT_FOR_OWNER => {
                look += 1;
                tracing::info!(
                    "idempotency key {key:?}: an attempt by {} started at {} is running; waiting",
                    pending.actor,
                    pending.started
                );
                tokio::time::sleep(pauses.delay(look)).await;
            }
            Claim::Pending(pending) => {
                return Err(format!(
                    "idempotency key {key:?} for {step_name} of {model}: the attempt by {} \
                     started at {} has not finished after {}s; if it died, check the registry \
                     (models history) and run again with a new key",
                    pending.actor,
                    pending.started,
                    WAIT_FOR_OWNER.as_secs()
                )
                .into());
            }
        }
    };
    replay(&record)
}

/// Runs the step, keeping what it prints, and stores the outcome (or releases the key).
async fn first_attempt(
    store: &IdempotencyStore,
    model: &ModelName,
    won: &IdempotencyRecord,
    args: ModelsArgs,
    registry: &Registry,
) -> Result<u8> {
    output::capture();
    let result = super::execute(args, registry).await;
    let stdout = output::take_captured();
    match result {
        Ok(code) => {
            let (mut report, result) = step::snapshot();
            if let Some(report) = report.as_mut() {
                // NaN does not survive JSON; the metric table shows finite values.
                report.metrics.retain(|(_, v)| v.is_finite());
            }
            let outcome = Outcome {
                code,
                stdout,
                result,
                report,
            };
            store
                .complete(model, won, serde_json::to_value(&outcome)?)
                .await?;
            Ok(code)
        }
        Err(e) => {
            if let Err(release) = store.release(model, won).await {
                tracing::warn!("cannot release idempotency key {:?}: {release}", won.key);
            }
            Err(e)
        }
    }
}

/// Prints and reports what the first attempt did; its exit code.
fn replay(record: &IdempotencyRecord) -> Result<u8> {
    let outcome: Outcome = serde_json::from_value(record.outcome.clone().unwrap_or_default())
        .map_err(|e| format!("the idempotency record of key {:?}: {e}", record.key))?;
    tracing::info!(
        "idempotency key {:?}: {} already ran (by {}, at {}); its outcome follows",
        record.key,
        record.step,
        record.actor,
        record.started
    );
    for line in &outcome.stdout {
        output::line(line)?;
    }
    if let Some(report) = outcome.report {
        step::report(report.output("replayed", true));
    }
    if let Some(result) = &outcome.result {
        step::result(result);
    }
    Ok(outcome.code)
}
