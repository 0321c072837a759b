//! Evaluating a [`Filter`] against a run, through the [`Searchable`] trait.
//!
//! The rules are those of MLflow's SQL tracking store (and, where they agree, its
//! in-memory `SearchUtils.filter`):
//!
//! - a run without the metric, param, tag or attribute never matches a comparison on it,
//!   not even `!=`; only `IS NULL` matches a missing param or tag;
//! - metrics compare their latest value (the caller supplies it); a NaN value satisfies
//!   `!=` and nothing else, as in IEEE arithmetic and in MLflow's SQL store, which stores
//!   NaN with an `is_nan` flag for exactly this;
//! - strings compare exactly (case-sensitive, byte for byte); `LIKE` is case-sensitive,
//!   with `%` for any run of characters (newlines included) and `_` for exactly one
//!   character, and no escape character; `ILIKE` compares the Unicode lower-case forms;
//! - `start_time` and `end_time` compare as numbers of milliseconds;
//! - a `datasets.` clause matches when any one of the run's dataset inputs satisfies it
//!   (each clause on its own, so two clauses may be satisfied by two different inputs);
//!   an input without a context never satisfies a `datasets.context` clause.

use super::ast::{Attribute, Clause, Comparator, DatasetField, Field, Filter, Value};

/// What a filter and an order-by need to know about a run.
///
/// Implement it for whatever holds your runs; every method answers `None` when the run has
/// no such value.
///
/// ```
/// use mlops_track::filter::{AttrValue, Attribute, Filter, Searchable};
///
/// struct Row { id: &'static str, loss: f64, start: i64 }
///
/// impl Searchable for Row {
///     fn metric(&self, key: &str) -> Option<f64> { (key == "loss").then_some(self.loss) }
///     fn param(&self, _: &str) -> Option<&str> { None }
///     fn tag(&self, _: &str) -> Option<&str> { None }
///     fn attribute(&self, a: Attribute) -> Option<AttrValue<'_>> {
///         match a {
///             Attribute::RunId => Some(AttrValue::Text(self.id)),
///             Attribute::StartTime => Some(AttrValue::Millis(self.start)),
///             _ => None,
///         }
///     }
/// }
///
/// let f = Filter::parse("metrics.loss < 0.3 AND start_time >= 1000")?;
/// assert!(f.matches(&Row { id: "a", loss: 0.2, start: 1000 }));
/// assert!(!f.matches(&Row { id: "b", loss: f64::NAN, start: 1000 }));
/// # Ok::<(), mlops_track::filter::FilterError>(())
/// ```
pub trait Searchable {
    /// The latest value of metric `key` (MLflow's rule: highest step, then latest
    /// timestamp, then largest value).
    fn metric(&self, key: &str) -> Option<f64>;

    /// The value of param `key`.
    fn param(&self, key: &str) -> Option<&str>;

    /// The value of tag `key`.
    fn tag(&self, key: &str) -> Option<&str>;

    /// The value of an attribute: [`AttrValue::Millis`] for `start_time` and `end_time`,
    /// [`AttrValue::Text`] for the others (the status as MLflow writes it, `FINISHED`, and
    /// the run name as in its `mlflow.runName` tag, which is where MLflow's SQL store looks).
    fn attribute(&self, attribute: Attribute) -> Option<AttrValue<'_>>;

    /// The run's dataset inputs; none by default.
    fn datasets(&self) -> Vec<DatasetView<'_>> {
        Vec::new()
    }
}

impl<T: Searchable + ?Sized> Searchable for &T {
    fn metric(&self, key: &str) -> Option<f64> {
        (**self).metric(key)
    }
    fn param(&self, key: &str) -> Option<&str> {
        (**self).param(key)
    }
    fn tag(&self, key: &str) -> Option<&str> {
        (**self).tag(key)
    }
    fn attribute(&self, attribute: Attribute) -> Option<AttrValue<'_>> {
        (**self).attribute(attribute)
    }
    fn datasets(&self) -> Vec<DatasetView<'_>> {
        (**self).datasets()
    }
}

/// The value of a run attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrValue<'a> {
    /// A string attribute: `run_id`, `run_name`, `status`, `user_id`, `artifact_uri`.
    Text(&'a str),
    /// A time attribute, `start_time` or `end_time`, in milliseconds since the epoch.
    Millis(i64),
}

/// One dataset input of a run, as `datasets.` clauses see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatasetView<'a> {
    /// The dataset's name.
    pub name: &'a str,
    /// The dataset's digest.
    pub digest: &'a str,
    /// The input's `mlflow.data.context` tag (`training`, `eval`, …), if it has one.
    pub context: Option<&'a str>,
}

impl Filter {
    /// Whether `run` satisfies every clause.
    pub fn matches<R: Searchable + ?Sized>(&self, run: &R) -> bool {
        self.clauses.iter().all(|clause| clause.matches(run))
    }
}

impl Clause {
    /// Whether `run` satisfies this clause.
    pub fn matches<R: Searchable + ?Sized>(&self, run: &R) -> bool {
        let value = self.value.as_ref();
        let comparator = self.comparator;
        match &self.field {
            Field::Metric(key) => run
                .metric(key)
                .is_some_and(|x| number_matches(x, comparator, value)),
            Field::Param(key) => text_field_matches(run.param(key), comparator, value),
            Field::Tag(key) => text_field_matches(run.tag(key), comparator, value),
            Field::Attribute(attribute) => match run.attribute(*attribute) {
                None => false,
                Some(AttrValue::Text(text)) => text_matches(text, comparator, value),
                #[allow(clippy::cast_precision_loss)] // Exact below 2^53 ms (285 000 years).
                Some(AttrValue::Millis(ms)) => number_matches(ms as f64, comparator, value),
            },
            Field::Dataset(field) => run.datasets().iter().any(|input| {
                let text = match field {
                    DatasetField::Name => Some(input.name),
                    DatasetField::Digest => Some(input.digest),
                    DatasetField::Context => input.context,
                };
                text.is_some_and(|text| text_matches(text, comparator, value))
            }),
        }
    }
}

/// IEEE comparisons, so NaN satisfies only `!=`.
fn number_matches(x: f64, comparator: Comparator, value: Option<&Value>) -> bool {
    let Some(Value::Number(v)) = value else {
        return false;
    };
    let v = *v;
    match comparator {
        Comparator::Eq => x == v,
        Comparator::Ne => x != v,
        Comparator::Lt => x < v,
        Comparator::Le => x <= v,
        Comparator::Gt => x > v,
        Comparator::Ge => x >= v,
        _ => false,
    }
}

fn text_field_matches(text: Option<&str>, comparator: Comparator, value: Option<&Value>) -> bool {
    match comparator {
        Comparator::IsNull => text.is_none(),
        Comparator::IsNotNull => text.is_some(),
        _ => text.is_some_and(|text| text_matches(text, comparator, value)),
    }
}

fn text_matches(text: &str, comparator: Comparator, value: Option<&Value>) -> bool {
    match (comparator, value) {
        (Comparator::Eq, Some(Value::String(s))) => text == s,
        (Comparator::Ne, Some(Value::String(s))) => text != s,
        (Comparator::Like, Some(Value::String(s))) => like(text, s),
        (Comparator::ILike, Some(Value::String(s))) => {
            like(&text.to_lowercase(), &s.to_lowercase())
        }
        (Comparator::In, Some(Value::List(items))) => items.iter().any(|item| item == text),
        (Comparator::NotIn, Some(Value::List(items))) => items.iter().all(|item| item != text),
        _ => false,
    }
}

/// SQL `LIKE` without an escape character: `%` is any run of characters, `_` exactly one.
///
/// Greedy matching that backtracks only to the last `%`: O(text × pattern) at worst.
pub(crate) fn like(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let pattern: Vec<char> = pattern.chars().collect();
    let (mut t, mut p) = (0, 0);
    // The position after the last `%` seen, and the text position it was tried at.
    let mut resume: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('%') => {
                p += 1;
                resume = Some((p, t));
            }
            Some(&c) if c == '_' || text.get(t) == Some(&c) => {
                t += 1;
                p += 1;
            }
            _ => match resume {
                Some((after, tried)) => {
                    p = after;
                    t = tried + 1;
                    resume = Some((after, tried + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '%'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards() {
        for (text, pattern, expected) in [
            ("abc", "abc", true),
            ("abc", "ABC", false),
            ("abc", "a%", true),
            ("abc", "%c", true),
            ("abc", "%b%", true),
            ("abc", "a_c", true),
            ("abc", "a__c", false),
            ("abc", "___", true),
            ("abc", "__", false),
            ("abc", "%", true),
            ("", "%", true),
            ("", "", true),
            ("", "_", false),
            ("a", "", false),
            ("aaab", "%ab", true),
            ("abab", "%ab%ab", true),
            ("abab", "%ab%ab%", true),
            ("ab", "%ab%ab", false),
            ("über", "_ber", true),
            ("a\nb", "a%b", true),
            ("a\nb", "a_b", true),
            ("a.c", "a.c", true),
            ("abc", "a.c", false),
            (r"a\%", r"a\%", true),
            ("a%", "a%", true),
            ("mississippi", "%iss%pi", true),
            ("mississippi", "m%ss%z%", false),
        ] {
            assert_eq!(like(text, pattern), expected, "{text:?} LIKE {pattern:?}");
        }
    }

    #[test]
    fn like_is_linear_enough_on_adversarial_patterns() {
        let text = "a".repeat(5000);
        let pattern = format!("{}b", "%a".repeat(50));
        assert!(!like(&text, &pattern));
    }
}
