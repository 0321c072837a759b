//! MLflow's run-search language: filters, order-by clauses and page tokens, parsed and
//! evaluated in Rust with MLflow 3.x's semantics, so a store can answer `search_runs`
//! exactly as an MLflow tracking server does.
//!
//! ```
//! use mlops_track::filter::{AttrValue, Attribute, RunSearch, Searchable};
//!
//! struct Row { id: &'static str, start: i64, rmse: f64, model: &'static str }
//!
//! impl Searchable for Row {
//!     fn metric(&self, key: &str) -> Option<f64> { (key == "rmse").then_some(self.rmse) }
//!     fn param(&self, key: &str) -> Option<&str> { (key == "model").then_some(self.model) }
//!     fn tag(&self, _: &str) -> Option<&str> { None }
//!     fn attribute(&self, a: Attribute) -> Option<AttrValue<'_>> {
//!         match a {
//!             Attribute::RunId => Some(AttrValue::Text(self.id)),
//!             Attribute::StartTime => Some(AttrValue::Millis(self.start)),
//!             _ => None,
//!         }
//!     }
//! }
//!
//! let runs = [
//!     Row { id: "a", start: 1, rmse: 0.30, model: "gbm" },
//!     Row { id: "b", start: 2, rmse: 0.20, model: "gbm" },
//!     Row { id: "c", start: 3, rmse: 0.25, model: "linear" },
//!     Row { id: "d", start: 4, rmse: 0.10, model: "gbm" },
//! ];
//! let search = RunSearch::parse(
//!     "params.model = 'gbm' AND metrics.rmse < 0.3",
//!     &["metrics.rmse DESC"],
//!     Some(1),   // max_results
//!     None,      // page_token
//!     &["experiment 0"], // what else decides the result set: experiments, view type
//! )?;
//! let page = search.apply(&runs);
//! assert_eq!(page.runs.iter().map(|r| r.id).collect::<Vec<_>>(), ["b"]);
//!
//! let token = page.next_page_token.expect("one more run");
//! let next = RunSearch::parse(
//!     "params.model = 'gbm' AND metrics.rmse < 0.3",
//!     &["metrics.rmse DESC"],
//!     Some(1),
//!     Some(&token),
//!     &["experiment 0"],
//! )?;
//! let page = next.apply(&runs);
//! assert_eq!(page.runs.iter().map(|r| r.id).collect::<Vec<_>>(), ["d"]);
//! assert!(page.next_page_token.is_none());
//! # Ok::<(), mlops_track::filter::FilterError>(())
//! ```
//!
//! # The filter language
//!
//! A filter is comparisons joined by `AND` (any case); there is no `OR`, `NOT` and no
//! parentheses. A comparison is a field, a comparator and a value:
//!
//! | field | comparators | value |
//! | --- | --- | --- |
//! | `metrics.<key>` | `=` `!=` `<` `<=` `>` `>=` | a number: `1`, `-0.5`, `.5`, `5.`, `1e-3` |
//! | `params.<key>`, `tags.<key>` | `=` `!=` `LIKE` `ILIKE`, `IS NULL`, `IS NOT NULL` | a string: `'…'` or `"…"` |
//! | `attributes.start_time`, `end_time`, `created` | `=` `!=` `<` `<=` `>` `>=` | a number (milliseconds) |
//! | `attributes.run_id` | `=` `!=` `LIKE` `ILIKE` `IN` `NOT IN` | a string, or a list `('a', 'b')` for `IN` |
//! | `attributes.status`, `run_name`, `user_id`, `artifact_uri` | `=` `!=` `LIKE` `ILIKE` | a string |
//! | `datasets.name`, `datasets.digest`, `datasets.context` | `=` `!=` `LIKE` `ILIKE` `IN` `NOT IN` | a string, or a list |
//!
//! - Prefixes, with MLflow's other spellings: `metric(s)`, `param(s)`/`parameter(s)`,
//!   `tag(s)`, `attribute(s)`/`attr`/`run`, `dataset(s)`; case-sensitive, optionally in
//!   backticks. Attributes may be written without a prefix (`status = 'FINISHED'`);
//!   `created`/`Created` mean `start_time`, and in filters `` `run name` `` (also `Run name`,
//!   `Run Name`) means `run_name`.
//! - Keys are words (letters, digits, `_`) joined by dots (`tags.mlflow.runName`), or any
//!   text in backticks, double or single quotes (``metrics.`val/loss` ``,
//!   `params."model type"`). As in MLflow, a key segment that reads as a number
//!   (`metrics.a.1`, `metrics.1e5`) and the words `case`, `in`, `values`, `using`, `from`,
//!   `as` must be quoted.
//! - Strings are kept **verbatim**, as MLflow keeps them: `'it''s'` is the four
//!   characters `it''s` and `'a\'b'` keeps its backslash (write `"it's"` instead). Inside
//!   an `IN` list, strings are Python literals, as MLflow reads them: `('it\'s')` is `it's`.
//! - Keywords and comparators are case-insensitive (`like`, `not in`, `is not null`).
//!
//! Every refusal is a typed [`FilterError`] with the byte offset of the problem, what was
//! expected there and what was found.
//!
//! # Semantics
//!
//! See [`Searchable`] for the evaluation rules (missing values never match, NaN satisfies
//! only `!=`, `LIKE` is case-sensitive, `datasets.` clauses match when any input does) and
//! [`OrderBy`] for the order (missing values and NaN last in both directions; then
//! `start_time` descending, then `run_id`). These are MLflow's SQL store's rules, checked
//! against MLflow 3.17 itself by this crate's fixture tests.
//!
//! # Where this is deliberately stricter than MLflow
//!
//! MLflow's parser is sqlparse plus post-processing, which accepts some text by accident.
//! This parser refuses, with an error, what MLflow would read in a surprising way; it
//! never reads a text MLflow accepts with a different meaning:
//!
//! - `AND` must separate every two comparisons: MLflow also accepts `a = 1 b = 2`,
//!   `AND a = 1` and `a = 1 AND`;
//! - keys cannot be empty (``tags.`` ``), start with whitespace (`metrics. x`) or have
//!   empty segments (`metrics.a..b`, `metrics.a.`), and a quoted key ends at its closing
//!   quote (MLflow keeps ``tags.`a``b` `` as ``a``b``);
//! - a list is only a value for `IN` and `NOT IN` (MLflow parses `run_id = ('a', 'b')`
//!   and then fails in the database), and list items cannot be nested parentheses or
//!   `r'…'`-style prefixed strings;
//! - in `ORDER BY`, a double-quoted prefix (`"metrics".x DESC`) is refused.
//!
//! and a little more lenient where sqlparse's tokenisation is an accident:
//! `IS NOT NULL` may have any whitespace between its words.
//!
//! Behaviour that differs from one MLflow store to another follows the SQL store: `LIKE`
//! lets `%` and `_` match newlines (MLflow's in-memory filter does not), and ±infinity
//! compare as infinities (MLflow's SQL store keeps them as ±1.797e308, which only shows
//! with literals of that size). `ILIKE` folds case with Unicode lower-casing, as MLflow's
//! in-memory filter and PostgreSQL do (SQLite's `lower()` folds ASCII only).

mod ast;
mod error;
mod eval;
mod lexer;
mod order;
mod page_token;
mod parser;

pub use ast::{Attribute, Clause, Comparator, DatasetField, Field, Filter, Value};
pub use error::FilterError;
pub use eval::{AttrValue, DatasetView, Searchable};
pub use order::{OrderBy, OrderKey};
pub use page_token::{
    MAX_RESULTS_DEFAULT, MAX_RESULTS_LIMIT, MaxResults, PageToken, QueryFingerprint,
};

/// A parsed, validated run search: filter, order, page size and the page to return.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSearch {
    filter: Filter,
    order_by: OrderBy,
    max_results: MaxResults,
    offset: usize,
    fingerprint: QueryFingerprint,
}

/// One page of a search's result.
#[derive(Debug)]
pub struct SearchPage<'r, R: ?Sized> {
    /// The runs of this page, in order.
    pub runs: Vec<&'r R>,
    /// The token for the next page, or `None` when this page is the last.
    pub next_page_token: Option<String>,
}

impl RunSearch {
    /// Parses and checks everything a `search_runs` request carries.
    ///
    /// - `filter`: MLflow's filter syntax; empty for all runs;
    /// - `order_by`: MLflow's order-by clauses;
    /// - `max_results`: the page size, 1 to 50 000 ([`MAX_RESULTS_DEFAULT`] when `None`);
    /// - `page_token`: the previous page's `next_page_token` (`None` or empty for the
    ///   first page); refused if it was made for a different filter, order or `scope`;
    /// - `scope`: whatever else decides the result set and must not change between pages,
    ///   such as the experiment ids and the view type.
    pub fn parse<S: AsRef<str>>(
        filter: &str,
        order_by: &[S],
        max_results: Option<usize>,
        page_token: Option<&str>,
        scope: &[&str],
    ) -> Result<Self, FilterError> {
        let filter = Filter::parse(filter)?;
        let order_by = OrderBy::parse(order_by)?;
        let max_results = max_results.map_or(Ok(MaxResults::default()), MaxResults::try_from)?;
        let fingerprint = QueryFingerprint::of(&filter, &order_by, scope);
        let offset = match page_token {
            None | Some("") => 0,
            Some(token) => PageToken::decode(token, fingerprint)?.offset(),
        };
        Ok(Self {
            filter,
            order_by,
            max_results,
            offset,
            fingerprint,
        })
    }

    /// The filter.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The order.
    pub fn order_by(&self) -> &OrderBy {
        &self.order_by
    }

    /// The page size.
    pub fn max_results(&self) -> MaxResults {
        self.max_results
    }

    /// Where this page starts in the full, sorted result.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The query's fingerprint, which its page tokens carry.
    pub fn fingerprint(&self) -> QueryFingerprint {
        self.fingerprint
    }

    /// Filters, sorts and pages `runs` (all candidate runs: the search's experiments and
    /// view type, every page): returns this page and the token for the next.
    pub fn apply<'r, R, I>(&self, runs: I) -> SearchPage<'r, R>
    where
        R: Searchable + ?Sized + 'r,
        I: IntoIterator<Item = &'r R>,
    {
        let mut matching: Vec<&'r R> = runs
            .into_iter()
            .filter(|run| self.filter.matches(*run))
            .collect();
        let total = matching.len();
        let end = self.offset.saturating_add(self.max_results.get());
        // Only the runs up to the end of this page need sorting: the order is total (it ends
        // on the run id), so partitioning first and sorting the head gives the same page.
        if end < total {
            matching.select_nth_unstable_by(end, |a, b| self.order_by.compare(*a, *b));
            matching.truncate(end);
        }
        self.order_by.sort(&mut matching);
        let runs = matching
            .into_iter()
            .skip(self.offset)
            .take(self.max_results.get())
            .collect();
        let next_page_token = (end < total).then(|| PageToken::new(end, self.fingerprint).encode());
        SearchPage {
            runs,
            next_page_token,
        }
    }
}

#[cfg(test)]
mod tests;
