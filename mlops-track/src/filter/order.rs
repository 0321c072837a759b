//! MLflow's `order_by` for runs: parsing the clauses and comparing runs.
//!
//! The ordering is that of MLflow's SQL store (`_get_orderby_clauses`), which its in-memory
//! `SearchUtils.sort` agrees with:
//!
//! 1. each clause in turn: runs that have the value first, ordered by it ascending or
//!    descending; for metrics then the runs whose value is NaN; then the runs without the
//!    value, whatever the direction. Numbers compare as numbers, everything else
//!    (params too: `"10" < "9"`) as strings, byte for byte;
//! 2. then `start_time` descending, unless a clause already sorted on it;
//! 3. then `run_id` ascending.

use std::cmp::Ordering;

use super::ast::{Attribute, Field};
use super::error::FilterError;
use super::eval::{AttrValue, Searchable};
use super::parser::parse_order_key;

/// One order-by clause: a field and a direction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrderKey {
    field: Field,
    ascending: bool,
}

impl OrderKey {
    /// Parses one clause, MLflow's way: `metrics.rmse`, `metrics.rmse DESC`,
    /// ``params.`a b` asc``, `start_time`, … (ascending unless `DESC`; no whitespace around).
    ///
    /// ```
    /// use mlops_track::filter::{Attribute, Field, OrderKey};
    /// let key = OrderKey::parse("created DESC")?;
    /// assert_eq!(key.field(), &Field::Attribute(Attribute::StartTime));
    /// assert!(!key.ascending());
    /// assert!(OrderKey::parse("datasets.name").is_err());
    /// # Ok::<(), mlops_track::filter::FilterError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let (field, ascending) = parse_order_key(text)?;
        Ok(Self { field, ascending })
    }

    /// A key sorting on `field` (a metric, param, tag or attribute).
    pub fn new(field: Field, ascending: bool) -> Self {
        Self { field, ascending }
    }

    /// What it sorts on: a metric, param, tag or attribute.
    pub fn field(&self) -> &Field {
        &self.field
    }

    /// Whether smaller values come first.
    pub fn ascending(&self) -> bool {
        self.ascending
    }

    /// Compares two runs on this key alone (present values first, then NaN, then absent).
    pub fn compare<R: Searchable + ?Sized>(&self, a: &R, b: &R) -> Ordering {
        let (a, b) = (sort_value(a, &self.field), sort_value(b, &self.field));
        a.rank().cmp(&b.rank()).then_with(|| {
            let by_value = a.cmp_present(&b);
            if self.ascending {
                by_value
            } else {
                by_value.reverse()
            }
        })
    }
}

/// A run's value for one sort key.
enum SortValue<'a> {
    Number(f64),
    Text(&'a str),
    Nan,
    Absent,
}

impl SortValue<'_> {
    /// Present values first, then NaN, then absent, whatever the direction.
    fn rank(&self) -> u8 {
        match self {
            Self::Number(_) | Self::Text(_) => 0,
            Self::Nan => 1,
            Self::Absent => 2,
        }
    }

    fn cmp_present(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Number(a), Self::Number(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            (Self::Text(a), Self::Text(b)) => a.cmp(b),
            (Self::Number(_), Self::Text(_)) => Ordering::Less,
            (Self::Text(_), Self::Number(_)) => Ordering::Greater,
            _ => Ordering::Equal,
        }
    }
}

fn sort_value<'r, R: Searchable + ?Sized>(run: &'r R, field: &Field) -> SortValue<'r> {
    let text = |t: Option<&'r str>| t.map_or(SortValue::Absent, SortValue::Text);
    match field {
        Field::Metric(key) => match run.metric(key) {
            Some(v) if v.is_nan() => SortValue::Nan,
            Some(v) => SortValue::Number(v),
            None => SortValue::Absent,
        },
        Field::Param(key) => text(run.param(key)),
        Field::Tag(key) => text(run.tag(key)),
        Field::Attribute(attribute) => match run.attribute(*attribute) {
            Some(AttrValue::Text(t)) => SortValue::Text(t),
            #[allow(clippy::cast_precision_loss)] // Exact below 2^53 ms.
            Some(AttrValue::Millis(ms)) => SortValue::Number(ms as f64),
            None => SortValue::Absent,
        },
        // Refused by the parser; sorts as absent if built by hand.
        Field::Dataset(_) => SortValue::Absent,
    }
}

/// A run search's order: the clauses given, then MLflow's tie-breakers (`start_time`
/// descending unless already sorted on, then `run_id`).
///
/// ```
/// use mlops_track::filter::OrderBy;
/// let order = OrderBy::parse(&["metrics.rmse", "params.depth DESC"])?;
/// assert_eq!(order.keys().len(), 2);
/// assert!(OrderBy::parse(&["start_time", "created DESC"]).is_err()); // the same field twice
/// assert!(OrderBy::default().keys().is_empty()); // start_time DESC, run_id
/// # Ok::<(), mlops_track::filter::FilterError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct OrderBy {
    keys: Vec<OrderKey>,
}

impl OrderBy {
    /// Parses MLflow's `order_by` list. A field may appear only once (after aliases), as
    /// MLflow's SQL store requires.
    pub fn parse<S: AsRef<str>>(clauses: &[S]) -> Result<Self, FilterError> {
        let mut keys: Vec<OrderKey> = Vec::with_capacity(clauses.len());
        for (index, clause) in clauses.iter().enumerate() {
            let key =
                OrderKey::parse(clause.as_ref()).map_err(|source| FilterError::OrderByClause {
                    index,
                    source: Box::new(source),
                })?;
            if keys.iter().any(|k| k.field == key.field) {
                return Err(FilterError::DuplicateOrderBy {
                    field: key.field.to_string(),
                });
            }
            keys.push(key);
        }
        Ok(Self { keys })
    }

    /// An order from keys built by hand; fails like [`OrderBy::parse`] on a repeated field.
    pub fn from_keys(keys: Vec<OrderKey>) -> Result<Self, FilterError> {
        for (i, key) in keys.iter().enumerate() {
            if keys.iter().take(i).any(|k| k.field == key.field) {
                return Err(FilterError::DuplicateOrderBy {
                    field: key.field.to_string(),
                });
            }
        }
        Ok(Self { keys })
    }

    /// The clauses given, without the tie-breakers.
    pub fn keys(&self) -> &[OrderKey] {
        &self.keys
    }

    /// Compares two runs: the clauses, then `start_time` descending (unless a clause sorts
    /// on it), then `run_id` ascending.
    pub fn compare<R: Searchable + ?Sized>(&self, a: &R, b: &R) -> Ordering {
        let start_time = Field::Attribute(Attribute::StartTime);
        let mut ordering = Ordering::Equal;
        for key in &self.keys {
            ordering = ordering.then_with(|| key.compare(a, b));
        }
        if !self.keys.iter().any(|k| k.field == start_time) {
            ordering = ordering.then_with(|| OrderKey::new(start_time, false).compare(a, b));
        }
        ordering.then_with(|| OrderKey::new(Field::Attribute(Attribute::RunId), true).compare(a, b))
    }

    /// Sorts runs into this order.
    pub fn sort<R: Searchable + ?Sized>(&self, runs: &mut [&R]) {
        runs.sort_by(|a, b| self.compare(*a, *b));
    }
}
