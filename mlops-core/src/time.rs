//! [`Timestamp`]: UTC milliseconds since the Unix epoch, as MLflow stores every time.

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result, Rule};

/// A point in time: UTC milliseconds since 1970-01-01, never negative (MLflow's rule).
///
/// It serialises as the bare integer, the form MLflow's REST API uses.
///
/// ```
/// use mlops_core::Timestamp;
/// let t = Timestamp::from_millis(1_700_000_000_123)?;
/// assert_eq!(t.to_string(), "2023-11-14T22:13:20.123Z");
/// assert!(Timestamp::from_millis(-1).is_err());
/// assert!(Timestamp::now() > t);
/// # Ok::<(), mlops_core::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// The current time, truncated to the millisecond.
    pub fn now() -> Self {
        // The system clock before 1970 is a misconfiguration; clamp rather than fail.
        Self(Utc::now().timestamp_millis().max(0))
    }

    /// A timestamp from milliseconds since the epoch; negative values and values beyond
    /// chrono's range (about the year 262143) are refused.
    pub fn from_millis(millis: i64) -> Result<Self> {
        if millis < 0 || Utc.timestamp_millis_opt(millis).single().is_none() {
            return Err(Error::invalid(
                "timestamp",
                millis.to_string(),
                Rule::OutOfRange {
                    allowed: "0 to about 8.2e15 milliseconds since 1970-01-01 UTC",
                },
            ));
        }
        Ok(Self(millis))
    }

    /// A timestamp from a chrono date-time, truncated to the millisecond.
    pub fn from_datetime(time: DateTime<Utc>) -> Result<Self> {
        Self::from_millis(time.timestamp_millis())
    }

    /// Milliseconds since the epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// The same instant as a chrono date-time.
    pub fn to_datetime(self) -> DateTime<Utc> {
        // Every constructed value was checked to be in range.
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            self.to_datetime()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    }
}

impl TryFrom<i64> for Timestamp {
    type Error = Error;
    fn try_from(millis: i64) -> Result<Self> {
        Self::from_millis(millis)
    }
}

impl From<Timestamp> for i64 {
    fn from(t: Timestamp) -> i64 {
        t.0
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_millis(i64::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_chrono_and_json() {
        let t = Timestamp::from_millis(1_234_567).unwrap();
        assert_eq!(Timestamp::from_datetime(t.to_datetime()).unwrap(), t);
        assert_eq!(serde_json::to_string(&t).unwrap(), "1234567");
        assert_eq!(serde_json::from_str::<Timestamp>("1234567").unwrap(), t);
        assert!(serde_json::from_str::<Timestamp>("-5").is_err());
    }

    #[test]
    fn refuses_out_of_range() {
        for bad in [-1, i64::MIN, i64::MAX] {
            let err = Timestamp::from_millis(bad).unwrap_err();
            assert!(matches!(err.rule(), Some(Rule::OutOfRange { .. })), "{bad}");
        }
    }
}
