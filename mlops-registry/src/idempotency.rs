//! Idempotency keys for pipeline steps: a retried step (Airflow retries a task with the same
//! `run_id`) finds the first attempt's outcome instead of registering a second version or
//! notifying twice.
//!
//! One record per model, step and key, at
//! `<prefix>/registry/idempotency/<model, lower case>/<step>/<sha256 of the key>.json`.
//! The first attempt claims it with a create-if-absent write (the same atomic create the
//! registry's logs and aliases use), so of concurrent attempts exactly one wins; it runs the
//! step and then writes the outcome into its record. The others read the record: the
//! outcome when it is there, or "pending" while the winner works. A winner that fails
//! releases the claim (deletes its record) so that a retry runs the step again; one that
//! dies leaves it pending, and retries refuse rather than risk doing the step twice.
//!
//! Object-store registries only: an MLflow server offers no create-if-absent write.

use std::sync::Arc;

use mlops_core::{ModelName, StoreRoot, Timestamp, put_if_absent};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checks::sha256_hex;
use crate::error::{RegistryError, Result};

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 512;

/// The largest record read (the outcome of one step: a few kilobytes).
const MAX_RECORD_BYTES: usize = 4 << 20;

/// One step's record for one key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The key, as given.
    pub key: String,
    /// The step it is for, e.g. `register`.
    pub step: String,
    /// The attempt that claimed it (a random id).
    pub owner: String,
    /// Who ran it.
    pub actor: String,
    /// When it was claimed.
    pub started: Timestamp,
    /// When the outcome was written.
    #[serde(default)]
    pub finished: Option<Timestamp>,
    /// The step's outcome, once written (its shape is the caller's).
    #[serde(default)]
    pub outcome: Option<Value>,
}

/// What [`IdempotencyStore::claim`] found.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// This attempt claimed the key: run the step, then [`IdempotencyStore::complete`] (or
    /// [`IdempotencyStore::release`] on failure).
    Won(IdempotencyRecord),
    /// An earlier attempt finished: its outcome is in the record.
    Done(IdempotencyRecord),
    /// An earlier attempt claimed the key and has not finished (or died).
    Pending(IdempotencyRecord),
}

/// The idempotency records of a registry on an object store.
#[derive(Clone, Debug)]
pub struct IdempotencyStore {
    store: Arc<dyn ObjectStore>,
    base: Path,
}

impl IdempotencyStore {
    /// The records of the registry under `root` (no I/O).
    pub fn new(root: &StoreRoot) -> Self {
        let base = Path::from_iter(
            root.prefix()
                .parts()
                .chain(["registry".into(), "idempotency".into()]),
        );
        Self {
            store: Arc::clone(root.store()),
            base,
        }
    }

    fn path(&self, model: &ModelName, step: &str, key: &str) -> Result<Path> {
        if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
            return Err(RegistryError::InvalidArgument(format!(
                "idempotency key {key:?}: give 1 to {MAX_KEY_LEN} characters without control \
                 characters"
            )));
        }
        if step.is_empty() || !step.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(RegistryError::InvalidArgument(format!(
                "idempotency step {step:?}: letters, digits and `-` only"
            )));
        }
        Ok(self
            .base
            .clone()
            .join(model.as_str().to_lowercase())
            .join(step)
            .join(format!("{}.json", sha256_hex(key.as_bytes()))))
    }

    /// Claims `key` for `step` of `model`, or finds the attempt that did.
    pub async fn claim(
        &self,
        model: &ModelName,
        step: &str,
        key: &str,
        actor: &str,
    ) -> Result<Claim> {
        let path = self.path(model, step, key)?;
        let record = IdempotencyRecord {
            key: key.to_owned(),
            step: step.to_owned(),
            owner: uuid::Uuid::now_v7().to_string(),
            actor: actor.to_owned(),
            started: Timestamp::now(),
            finished: None,
            outcome: None,
        };
        let body = encode(&path, &record)?;
        match put_if_absent(self.store.as_ref(), &path, body)
            .await
            .map_err(|e| storage(&path, e))?
        {
            mlops_core::Created::Won => Ok(Claim::Won(record)),
            mlops_core::Created::Taken => {
                let Some(found) = self.read(&path).await? else {
                    // Released between our create and our read: try once more.
                    return Box::pin(self.claim(model, step, key, actor)).await;
                };
                Ok(if found.outcome.is_some() {
                    Claim::Done(found)
                } else {
                    Claim::Pending(found)
                })
            }
        }
    }

    /// The record of `key` for `step` of `model`, if any.
    pub async fn get(
        &self,
        model: &ModelName,
        step: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        let path = self.path(model, step, key)?;
        self.read(&path).await
    }

    /// Writes the outcome into the record this attempt won.
    pub async fn complete(
        &self,
        model: &ModelName,
        won: &IdempotencyRecord,
        outcome: Value,
    ) -> Result<IdempotencyRecord> {
        let path = self.path(model, &won.step, &won.key)?;
        self.check_owner(&path, won).await?;
        let done = IdempotencyRecord {
            finished: Some(Timestamp::now()),
            outcome: Some(outcome),
            ..won.clone()
        };
        let body = encode(&path, &done)?;
        self.store
            .put(&path, body)
            .await
            .map_err(|e| storage(&path, e))?;
        Ok(done)
    }

    /// Deletes the record this attempt won (the step failed: a retry may run it again).
    pub async fn release(&self, model: &ModelName, won: &IdempotencyRecord) -> Result<()> {
        let path = self.path(model, &won.step, &won.key)?;
        self.check_owner(&path, won).await?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage(&path, e)),
        }
    }

    /// Only the attempt that won writes the record.
    async fn check_owner(&self, path: &Path, won: &IdempotencyRecord) -> Result<()> {
        match self.read(path).await? {
            Some(found) if found.owner == won.owner && found.outcome.is_none() => Ok(()),
            _ => Err(RegistryError::InvalidState(format!(
                "the idempotency record {path} is not this attempt's pending claim"
            ))),
        }
    }

    async fn read(&self, path: &Path) -> Result<Option<IdempotencyRecord>> {
        let bytes = match self.store.get(path).await {
            Ok(got) => {
                if got.meta.size > MAX_RECORD_BYTES as u64 {
                    return Err(corrupt(
                        path,
                        format!("larger than {MAX_RECORD_BYTES} bytes"),
                    ));
                }
                got.bytes().await.map_err(|e| storage(path, e))?
            }
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(storage(path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| corrupt(path, e.to_string()))
    }
}

fn encode(path: &Path, record: &IdempotencyRecord) -> Result<PutPayload> {
    let body = serde_json::to_vec(record).map_err(|e| corrupt(path, e.to_string()))?;
    if body.len() > MAX_RECORD_BYTES {
        return Err(RegistryError::InvalidArgument(format!(
            "the outcome for idempotency key {:?} is larger than {MAX_RECORD_BYTES} bytes",
            record.key
        )));
    }
    Ok(PutPayload::from(body))
}

fn storage(path: &Path, source: object_store::Error) -> RegistryError {
    RegistryError::Storage {
        path: path.to_string(),
        source,
    }
}

fn corrupt(path: &Path, reason: String) -> RegistryError {
    RegistryError::Corrupt {
        path: path.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn store() -> IdempotencyStore {
        let root = mlops_core::StoreUri::parse("memory://")
            .unwrap()
            .open()
            .unwrap();
        IdempotencyStore::new(&root)
    }

    #[tokio::test]
    async fn the_first_claim_wins_and_its_outcome_is_returned_after() {
        let s = store();
        let m = ModelName::parse("Churn").unwrap();
        let Claim::Won(won) = s.claim(&m, "register", "run-1", "ci").await.unwrap() else {
            panic!("the first claim wins");
        };
        let lower = ModelName::parse("churn").unwrap();
        assert!(matches!(
            s.claim(&lower, "register", "run-1", "ci").await.unwrap(),
            Claim::Pending(p) if p.owner == won.owner
        ));
        // Another step or key is another record.
        assert!(matches!(
            s.claim(&m, "promote", "run-1", "ci").await.unwrap(),
            Claim::Won(_)
        ));
        assert!(matches!(
            s.claim(&m, "register", "run-2", "ci").await.unwrap(),
            Claim::Won(_)
        ));
        s.complete(&m, &won, json!({"version": "3"})).await.unwrap();
        let Claim::Done(done) = s.claim(&m, "register", "run-1", "other").await.unwrap() else {
            panic!("done");
        };
        assert_eq!(done.outcome, Some(json!({"version": "3"})));
        assert_eq!(done.actor, "ci");
        // Only once, and only by the owner.
        assert!(s.complete(&m, &won, json!({})).await.is_err());
        assert!(s.release(&m, &won).await.is_err());
    }

    #[tokio::test]
    async fn a_released_claim_can_be_won_again() {
        let s = store();
        let m = ModelName::parse("churn").unwrap();
        let Claim::Won(won) = s.claim(&m, "approval-request", "k", "ci").await.unwrap() else {
            panic!("won");
        };
        s.release(&m, &won).await.unwrap();
        assert_eq!(s.get(&m, "approval-request", "k").await.unwrap(), None);
        assert!(matches!(
            s.claim(&m, "approval-request", "k", "ci").await.unwrap(),
            Claim::Won(_)
        ));
    }

    #[tokio::test]
    async fn bad_keys_and_steps_are_refused() {
        let s = store();
        let m = ModelName::parse("churn").unwrap();
        for (step, key) in [("register", ""), ("register", "a\nb"), ("reg/ister", "k")] {
            assert!(matches!(
                s.claim(&m, step, key, "ci").await,
                Err(RegistryError::InvalidArgument(_))
            ));
        }
        let long = "k".repeat(MAX_KEY_LEN + 1);
        assert!(s.claim(&m, "register", &long, "ci").await.is_err());
    }

    #[tokio::test]
    async fn of_concurrent_claims_exactly_one_wins() {
        let s = store();
        let m = ModelName::parse("churn").unwrap();
        let claims =
            futures::future::join_all((0..16).map(|_| s.claim(&m, "register", "same", "ci"))).await;
        let won = claims
            .iter()
            .filter(|c| matches!(c, Ok(Claim::Won(_))))
            .count();
        assert_eq!(won, 1);
        assert!(
            claims
                .iter()
                .all(|c| matches!(c, Ok(Claim::Won(_) | Claim::Pending(_))))
        );
    }
}
