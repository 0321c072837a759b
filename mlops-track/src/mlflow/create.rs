//! Creates that a lost answer never repeats blindly.
//!
//! MLflow does not de-duplicate creates, so this store makes them idempotent: each created
//! run and experiment carries a client request id in the tag [`CLIENT_REQUEST_ID_TAG`].
//! When a create's outcome is unknown, the store looks for what it may have created (by that
//! id) and returns it if found; only if nothing is found is the create sent again.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use mlops_core::{RunId, Tag};
use mlops_mlflow::RestError;

use super::MlflowStore;
use super::wire::{CLIENT_REQUEST_ID_TAG, KeyValue};
use crate::error::Result;

/// A boxed, sendable future, for the steps of [`MlflowStore::create_once`].
pub(super) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl MlflowStore {
    /// Runs a create that the server does not de-duplicate, so that an attempt whose
    /// answer was lost is never repeated blindly: after such an attempt, `lookup` searches
    /// for what it may have created (by this client's request id) and returns it if found;
    /// only if nothing is found is the create sent again. Returns what was created and
    /// whether a second round was needed.
    ///
    /// Both steps get the time left of one deadline, so the whole create ends within it.
    pub(super) async fn create_once<'a, T: Send + 'a>(
        &'a self,
        create: impl Fn(Duration) -> BoxFuture<'a, std::result::Result<T, RestError>> + Send,
        lookup: impl Fn(Duration) -> BoxFuture<'a, Result<Option<T>>> + Send,
    ) -> Result<(T, bool)> {
        let policy = *self.client().policy();
        let deadline = Instant::now() + policy.timeout();
        let left = || deadline.saturating_duration_since(Instant::now());
        let mut round: u32 = 0;
        loop {
            let error = match create(left()).await {
                Ok(created) => return Ok((created, round > 0)),
                Err(RestError {
                    error,
                    maybe_applied,
                }) if maybe_applied => error,
                Err(RestError { error, .. }) if round == 0 => return Err(error.into()),
                // A later round failed for good (for example "already exists"): the first
                // attempt may still have been applied late.
                Err(RestError { error, .. }) => {
                    return match lookup(left()).await? {
                        Some(found) => Ok((found, true)),
                        None => Err(error.into()),
                    };
                }
            };
            round += 1;
            if round > policy.max_retries() || Instant::now() >= deadline {
                return Err(error.into());
            }
            tracing::debug!(round, %error, "create may have been applied; looking it up");
            if let Some(found) = lookup(left()).await? {
                return Ok((found, true));
            }
            let delay = policy.backoff().delay(round + 1);
            if Instant::now() + delay >= deadline {
                return Err(error.into());
            }
            tokio::time::sleep(delay).await;
        }
    }
}

/// The request id of a create: the caller's own in [`CLIENT_REQUEST_ID_TAG`], else a fresh
/// one; and the tags to send, the request id last.
pub(super) fn with_request_id(tags: &[Tag]) -> (String, Vec<KeyValue<'_>>) {
    let request_id = tags
        .iter()
        .find(|t| t.key().as_str() == CLIENT_REQUEST_ID_TAG)
        .map_or_else(|| RunId::generate().into_string(), |t| t.value().to_owned());
    let wire_tags = tags
        .iter()
        .filter(|t| t.key().as_str() != CLIENT_REQUEST_ID_TAG)
        .map(KeyValue::tag)
        .collect();
    (request_id, wire_tags)
}

/// A filter that finds the runs created with one client request id, or `None` when the id
/// cannot be written in MLflow's filter syntax (it has both kinds of quotes).
pub(super) fn request_id_filter(request_id: &str) -> Option<String> {
    let quote = if !request_id.contains('\'') {
        '\''
    } else if !request_id.contains('"') {
        '"'
    } else {
        return None;
    };
    Some(format!(
        "tags.`{CLIENT_REQUEST_ID_TAG}` = {quote}{request_id}{quote}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Filter;

    #[test]
    fn request_id_filters_quote_safely() {
        assert_eq!(
            request_id_filter("abc").unwrap(),
            "tags.`mlops.client_request_id` = 'abc'"
        );
        assert_eq!(
            request_id_filter("it's").unwrap(),
            "tags.`mlops.client_request_id` = \"it's\""
        );
        assert!(request_id_filter("'\"").is_none());
        Filter::parse(&request_id_filter("abc").unwrap()).unwrap();
    }

    #[test]
    fn a_callers_request_id_is_kept_and_sent_once() {
        let tags = [
            Tag::parse("team", "a").unwrap(),
            Tag::parse(CLIENT_REQUEST_ID_TAG, "mine").unwrap(),
        ];
        let (id, sent) = with_request_id(&tags);
        assert_eq!(id, "mine");
        assert_eq!(sent.len(), 1);
        let (fresh, _) = with_request_id(&[]);
        assert_eq!(fresh.len(), 32);
    }
}
