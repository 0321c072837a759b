//! The checks every backend applies to a `log_batch` before it writes anything.

use std::collections::HashSet;

use mlops_core::{Metric, Param, Tag};

use crate::error::{Result, TrackError};
use crate::store::limits;

/// Checks a `log_batch` request as MLflow does, before anything is written: at most
/// [`limits::METRICS`] metrics, [`limits::PARAMS`] params, [`limits::TAGS`] tags and
/// [`limits::TOTAL`] items in all ([`TrackError::TooMany`], checked in that order), and no
/// param key twice ([`TrackError::DuplicateKey`]). Names, keys, values and timestamps are
/// already valid by construction of their types. Repeated tag keys are allowed, as in MLflow:
/// the last one wins.
///
/// ```
/// use mlops_track::{Param, TrackError, check_batch};
/// let twice = [Param::parse("lr", "0.1")?, Param::parse("lr", "0.1")?];
/// assert!(matches!(check_batch(&[], &twice, &[]), Err(TrackError::DuplicateKey { .. })));
/// assert!(check_batch(&[], &twice[..1], &[]).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_batch(metrics: &[Metric], params: &[Param], tags: &[Tag]) -> Result<()> {
    let too_many = |what: &'static str, count: usize, limit: usize| {
        if count > limit {
            Err(TrackError::TooMany { what, count, limit })
        } else {
            Ok(())
        }
    };
    too_many("metrics", metrics.len(), limits::METRICS)?;
    too_many("params", params.len(), limits::PARAMS)?;
    too_many("tags", tags.len(), limits::TAGS)?;
    too_many(
        "metrics, params and tags",
        metrics.len() + params.len() + tags.len(),
        limits::TOTAL,
    )?;
    let mut seen = HashSet::with_capacity(params.len());
    for param in params {
        if !seen.insert(param.key().as_str()) {
            return Err(TrackError::DuplicateKey {
                what: "param",
                key: param.key().as_str().to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use mlops_core::{MetricKey, Timestamp};

    use super::*;

    #[test]
    fn limits_are_mlflows() {
        let m = Metric::new(MetricKey::parse("m").unwrap(), 1.0, Timestamp::EPOCH, 0);
        let metrics = vec![m; 1001];
        let err = check_batch(&metrics, &[], &[]).unwrap_err();
        assert!(matches!(
            err,
            TrackError::TooMany {
                what: "metrics",
                count: 1001,
                limit: 1000
            }
        ));
        assert!(check_batch(&metrics[..1000], &[], &[]).is_ok());
        let params: Vec<Param> = (0..101)
            .map(|i| Param::parse(&format!("p{i}"), "v").unwrap())
            .collect();
        assert!(matches!(
            check_batch(&[], &params, &[]),
            Err(TrackError::TooMany { what: "params", .. })
        ));
        let tags: Vec<Tag> = (0..100)
            .map(|i| Tag::parse(&format!("t{i}"), "v").unwrap())
            .collect();
        assert!(matches!(
            check_batch(&metrics[..901], &[], &tags),
            Err(TrackError::TooMany { limit: 1000, .. })
        ));
        assert!(check_batch(&metrics[..900], &params[..0], &tags).is_ok());
    }
}
