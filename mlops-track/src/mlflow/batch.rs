//! `runs/log-batch`: one batch within MLflow's limits as one request (the trait's
//! `log_batch`), or any batch split into requests ([`MlflowStore::log_batch_chunked`]).

use std::collections::HashMap;

use mlops_core::{Metric, Param, RunId, Tag};
use mlops_mlflow::{Idempotency, MlflowError, RestError, Subject};

use super::MlflowStore;
use super::wire::{self, KeyValue};
use crate::error::{Result, TrackError};
use crate::store::limits;

/// The most JSON one `log-batch` request carries: MLflow declares 1 MB
/// (`MAX_BATCH_LOG_REQUEST_SIZE`, though 3.17 does not enforce it) and reverse proxies
/// often stop at 1 MiB (nginx's default). The rest is left for the run id and punctuation.
const MAX_BATCH_BYTES: usize = 900_000;

impl MlflowStore {
    /// One batch is one request, so it is applied whole or not at all; over the limits it
    /// is refused before anything is sent (larger inputs go through `log_batch_chunked`).
    pub(super) async fn log_one_batch(
        &self,
        run: &RunId,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        for (what, count, limit) in [
            ("metrics", metrics.len(), limits::METRICS),
            ("params", params.len(), limits::PARAMS),
            ("tags", tags.len(), limits::TAGS),
            (
                "items",
                metrics.len() + params.len() + tags.len(),
                limits::TOTAL,
            ),
        ] {
            if count > limit {
                return Err(TrackError::TooMany { what, count, limit });
            }
        }
        self.log_batch_chunked(run, metrics, params, tags).await
    }

    /// Logs a batch of any size: split into as many `log-batch` requests as MLflow's
    /// limits (1000 metrics, 100 params, 100 tags, 1000 items per request) and a 900 kB
    /// body need, params first, then tags, then metrics. The trait's
    /// [`log_batch`](crate::TrackingStore::log_batch) refuses a batch over the limits
    /// instead.
    ///
    /// Params are checked for conflicts before anything is sent, so a conflict writes
    /// nothing; any other failure may leave the requests before it written (each request is
    /// atomic on the server, the batch is not). Retrying the whole call is safe.
    pub async fn log_batch_chunked(
        &self,
        run: &RunId,
        metrics: &[Metric],
        params: &[Param],
        tags: &[Tag],
    ) -> Result<()> {
        let params = unique_params(params)?;
        let tags = last_tags(tags);
        if metrics.is_empty() && params.is_empty() && tags.is_empty() {
            return Ok(());
        }
        let requests = plan_batches(metrics, &params, &tags);
        if requests.iter().filter(|r| !r.params.is_empty()).count() > 1 {
            // The params go out in several requests; find a conflict before the first one
            // writes anything.
            let current = self.run(run).await?;
            for p in &params {
                if let Some(existing) = current.data.param(p.key().as_str())
                    && existing != p.value()
                {
                    return Err(TrackError::ParamConflict {
                        run: run.to_string(),
                        key: p.key().to_string(),
                        existing: existing.to_owned(),
                        new: p.value().to_owned(),
                    });
                }
            }
        }
        let subject = Subject::new("run", run.as_str());
        for request in requests {
            let body = wire::LogBatch {
                run_id: run.as_str(),
                metrics: &metrics[request.metrics.clone()],
                params: request.params.iter().map(|p| KeyValue::param(p)).collect(),
                tags: request.tags.iter().map(|t| KeyValue::tag(t)).collect(),
            };
            // Safe to retry: metric points are de-duplicated on (key, value, timestamp,
            // step), the same param value again is a no-op, tags are last-write-wins.
            if let Err(RestError { error, .. }) = self
                .client()
                .post::<_, serde_json::Value>(
                    "runs/log-batch",
                    &body,
                    Idempotency::Idempotent,
                    &subject,
                )
                .await
            {
                let conflict = matches!(
                    &error,
                    MlflowError::Mlflow { code, message, .. }
                        if code == "INVALID_PARAMETER_VALUE"
                            && message.contains("Changing param values is not allowed")
                );
                return Err(if conflict {
                    self.param_conflict(run, &request.params, error.into())
                        .await
                } else {
                    error.into()
                });
            }
        }
        Ok(())
    }

    /// After a param conflict reported by the server, which param of `sent` differs from
    /// the value the run holds.
    async fn param_conflict(
        &self,
        run: &RunId,
        sent: &[&Param],
        original: TrackError,
    ) -> TrackError {
        let Ok(current) = self.run(run).await else {
            return original;
        };
        sent.iter()
            .find_map(|p| {
                let existing = current.data.param(p.key().as_str())?;
                (existing != p.value()).then(|| TrackError::ParamConflict {
                    run: run.to_string(),
                    key: p.key().to_string(),
                    existing: existing.to_owned(),
                    new: p.value().to_owned(),
                })
            })
            .unwrap_or(original)
    }
}

/// One `log-batch` request of a planned batch.
#[derive(Debug, Default)]
struct BatchRequest<'a> {
    metrics: std::ops::Range<usize>,
    params: Vec<&'a Param>,
    tags: Vec<&'a Tag>,
    bytes: usize,
}

impl BatchRequest<'_> {
    fn items(&self) -> usize {
        self.metrics.len() + self.params.len() + self.tags.len()
    }
}

/// The size of a param or tag in JSON, escapes included.
fn json_len(key: &str, value: &str) -> usize {
    serde_json::to_vec(&KeyValue { key, value }).map_or(usize::MAX / 2, |v| v.len() + 1)
}

/// Splits a batch into requests within MLflow's limits ([`limits`]: 1000 metrics, 100
/// params, 100 tags, 1000 items) and [`MAX_BATCH_BYTES`]. Params go first, so that a
/// conflict stops the batch before anything else is written, then tags, then metrics;
/// each request is filled before the next starts.
fn plan_batches<'a>(
    metrics: &[Metric],
    params: &[&'a Param],
    tags: &[&'a Tag],
) -> Vec<BatchRequest<'a>> {
    let mut requests = Vec::new();
    let mut current = BatchRequest::default();
    let mut flush_if = |current: &mut BatchRequest<'a>, full: bool| {
        if full {
            requests.push(std::mem::take(current));
        }
    };
    for param in params {
        let bytes = json_len(param.key().as_str(), param.value());
        let full = current.params.len() == limits::PARAMS
            || current.items() == limits::TOTAL
            || current.bytes + bytes > MAX_BATCH_BYTES;
        flush_if(&mut current, full);
        current.params.push(param);
        current.bytes += bytes;
    }
    for tag in tags {
        let bytes = json_len(tag.key().as_str(), tag.value());
        let full = current.tags.len() == limits::TAGS
            || current.items() == limits::TOTAL
            || current.bytes + bytes > MAX_BATCH_BYTES;
        flush_if(&mut current, full);
        current.tags.push(tag);
        current.bytes += bytes;
    }
    for (i, metric) in metrics.iter().enumerate() {
        // Key, value (at most 24 characters), timestamp and step (at most 20 each) and
        // the field names: keys need no escapes.
        let bytes = metric.key.as_str().len() + 100;
        let full = current.metrics.len() == limits::METRICS
            || current.items() == limits::TOTAL
            || current.bytes + bytes > MAX_BATCH_BYTES;
        flush_if(&mut current, full);
        if current.metrics.is_empty() {
            current.metrics = i..i;
        }
        current.metrics.end = i + 1;
        current.bytes += bytes;
    }
    let last = current.items() > 0;
    flush_if(&mut current, last);
    requests
}

/// The params of a batch, refusing a key given twice: MLflow refuses such a batch, even
/// when the values agree.
fn unique_params(params: &[Param]) -> Result<Vec<&Param>> {
    let mut seen = std::collections::HashSet::with_capacity(params.len());
    for param in params {
        if !seen.insert(param.key().as_str()) {
            return Err(TrackError::DuplicateKey {
                what: "param",
                key: param.key().to_string(),
            });
        }
    }
    Ok(params.iter().collect())
}

/// Tags without repeats: the last value of a key wins, as if they were sent one by one.
fn last_tags(tags: &[Tag]) -> Vec<&Tag> {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, tag) in tags.iter().enumerate() {
        last.insert(tag.key().as_str(), i);
    }
    tags.iter()
        .enumerate()
        .filter(|(i, tag)| last.get(tag.key().as_str()) == Some(i))
        .map(|(_, tag)| tag)
        .collect()
}

#[cfg(test)]
mod tests {
    use mlops_core::{MetricKey, Timestamp};

    use super::*;

    fn metrics(n: usize) -> Vec<Metric> {
        (0..n)
            .map(|i| {
                Metric::new(
                    MetricKey::parse("m").unwrap(),
                    i as f64,
                    Timestamp::EPOCH,
                    i as i64,
                )
            })
            .collect()
    }

    #[test]
    fn batches_respect_every_limit() {
        let metrics = metrics(2800);
        let params: Vec<Param> = (0..250)
            .map(|i| Param::parse(&format!("p{i}"), "v").unwrap())
            .collect();
        let tags: Vec<Tag> = (0..150)
            .map(|i| Tag::parse(&format!("t{i}"), "v").unwrap())
            .collect();
        let params: Vec<&Param> = params.iter().collect();
        let tags: Vec<&Tag> = tags.iter().collect();
        let plan = plan_batches(&metrics, &params, &tags);
        let (mut nm, mut np, mut nt) = (0, 0, 0);
        let mut next_metric = 0;
        for r in &plan {
            assert!(r.metrics.len() <= limits::METRICS && r.params.len() <= limits::PARAMS);
            assert!(r.tags.len() <= limits::TAGS);
            assert!(r.items() <= limits::TOTAL && r.items() > 0);
            assert!(r.bytes <= MAX_BATCH_BYTES);
            if !r.metrics.is_empty() {
                assert_eq!(r.metrics.start, next_metric);
                next_metric = r.metrics.end;
            }
            (nm, np, nt) = (nm + r.metrics.len(), np + r.params.len(), nt + r.tags.len());
        }
        assert_eq!((nm, np, nt), (2800, 250, 150));
        // Params all go out before anything else.
        assert_eq!(plan[0].params.len(), 100);
        assert!(plan[0].tags.is_empty() && plan[0].metrics.is_empty());
        assert_eq!(plan.len(), 6);
        assert_eq!(plan_batches(&metrics[..1000], &[], &[]).len(), 1);
        assert_eq!(plan_batches(&metrics[..1001], &[], &[]).len(), 2);
        assert!(plan_batches(&[], &[], &[]).is_empty());
    }

    #[test]
    fn batches_stay_under_the_byte_limit() {
        let params: Vec<Param> = (0..100)
            .map(|i| Param::parse(&format!("p{i}"), "x".repeat(6000)).unwrap())
            .collect();
        // Quotes and control characters take two to six bytes each in JSON.
        let tags: Vec<Tag> = (0..100)
            .map(|i| Tag::parse(&format!("t{i}"), "\u{1}\"".repeat(4000)).unwrap())
            .collect();
        let params: Vec<&Param> = params.iter().collect();
        let tags: Vec<&Tag> = tags.iter().collect();
        let plan = plan_batches(&[], &params, &tags);
        assert!(plan.len() >= 4, "{} requests", plan.len());
        for r in &plan {
            let body = wire::LogBatch {
                run_id: "0123456789abcdef0123456789abcdef",
                metrics: &[],
                params: r.params.iter().map(|p| KeyValue::param(p)).collect(),
                tags: r.tags.iter().map(|t| KeyValue::tag(t)).collect(),
            };
            let len = serde_json::to_vec(&body).unwrap().len();
            assert!(len <= 1_000_000, "{len} bytes");
        }
    }

    #[test]
    fn a_param_key_twice_in_one_batch_is_refused() {
        let params = [
            Param::parse("a", "1").unwrap(),
            Param::parse("b", "1").unwrap(),
        ];
        assert_eq!(unique_params(&params).unwrap().len(), 2);
        for second in ["1", "2"] {
            let twice = [
                Param::parse("a", "1").unwrap(),
                Param::parse("a", second).unwrap(),
            ];
            assert!(matches!(
                unique_params(&twice),
                Err(TrackError::DuplicateKey { what: "param", key }) if key == "a"
            ));
        }
        let tags = [
            Tag::parse("t", "1").unwrap(),
            Tag::parse("u", "x").unwrap(),
            Tag::parse("t", "2").unwrap(),
        ];
        let kept: Vec<(&str, &str)> = last_tags(&tags)
            .iter()
            .map(|t| (t.key().as_str(), t.value()))
            .collect();
        assert_eq!(kept, [("u", "x"), ("t", "2")]);
    }
}
