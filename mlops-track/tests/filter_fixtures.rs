//! The filter, order-by and paging of `mlops_track::filter`, checked against MLflow itself.
//!
//! `fixtures/filter.json` is written by `fixtures/gen_filter.py`, which runs each filter and
//! order-by list through MLflow's parser and as a real search in MLflow's SQL store (SQLite)
//! and its in-memory `SearchUtils.filter`/`sort`, over the synthetic runs it also records.
//! The SQL store is the reference. Where this crate deliberately differs, the case is listed
//! below with the reason.

use std::collections::BTreeMap;

use mlops_track::filter::{
    AttrValue, Attribute, DatasetView, Field, Filter, FilterError, OrderBy, RunSearch, Searchable,
    Value,
};
use serde::Deserialize;
use serde_json::Value as Json;

/// MLflow accepts these; we refuse them because MLflow reads them by accident of its
/// tokenizer (missing, leading, trailing or doubled `AND`; empty or space-led keys and
/// empty key segments; a doubled backtick kept inside a key; an order-by prefix in double
/// quotes that only works when followed by a direction; an empty metric key).
const STRICTER_FILTERS: &[&str] = &[
    "metrics.rmse > 1 AND",
    "AND metrics.rmse > 1",
    "metrics.rmse > 1 AND AND metrics.acc > 0",
    "metrics.rmse > 1 metrics.acc > 0",
    "metrics. rmse > 1",
    "tags.`` = 'x'",
    "tags.`a``b` = 'x'",
    "metrics.a..b > 1",
    "metrics.rmse. > 1",
];
const STRICTER_ORDER_BY: &[&[&str]] = &[&["metrics."], &["\"metrics\".rmse DESC"]];

/// MLflow refuses these only because sqlparse wants exactly one space in `NOT NULL`.
const LENIENT_FILTERS: &[&str] = &["tags.team IS  NOT   NULL"];

/// Where we follow MLflow's in-memory filter (and PostgreSQL) rather than SQLite: SQLite's
/// `lower()` folds ASCII only, so its `ILIKE` misses `Ü` = `ü`.
const FOLLOW_IN_MEMORY: &[&str] = &["tags.Über ILIKE 'Ü'"];

/// Where MLflow's two stores disagree with each other (we follow the SQL store except for
/// `FOLLOW_IN_MEMORY`): Python's regex `LIKE` does not let `_` match a newline, and SQLite's
/// ILIKE is ASCII-only; the in-memory filter returns nothing for a list compared with `=`
/// where SQLite fails.
const STORES_DISAGREE: &[&str] = &[
    "tags.Über ILIKE 'Ü'",
    "tags.multi LIKE 'line1_line2'",
    "attributes.run_id = ('a', 'b')",
];

#[derive(Deserialize)]
struct Fixture {
    mlflow_version: String,
    runs: Vec<Run>,
    filters: Vec<FilterCase>,
    order_by: Vec<OrderCase>,
}

#[derive(Deserialize)]
struct Run {
    name: String,
    run_id: String,
    run_name: String,
    status: String,
    user_id: String,
    artifact_uri: String,
    start_time: i64,
    end_time: Option<i64>,
    metrics: BTreeMap<String, Json>,
    params: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    datasets: Vec<Dataset>,
}

#[derive(Deserialize)]
struct Dataset {
    name: String,
    digest: String,
    context: Option<String>,
}

/// MLflow's outcome: `{"ok": …}` or `{"error": "…"}`.
#[derive(Deserialize)]
struct Outcome<T> {
    ok: Option<T>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct FilterCase {
    filter: String,
    parse: Outcome<Vec<ParsedClause>>,
    sql: Outcome<Vec<String>>,
    in_memory: Outcome<Vec<String>>,
}

#[derive(Deserialize, Debug)]
struct ParsedClause {
    #[serde(rename = "type")]
    kind: String,
    key: String,
    comparator: String,
    value: Json,
}

#[derive(Deserialize)]
struct OrderCase {
    order_by: Vec<String>,
    parse: Outcome<Vec<ParsedOrderKey>>,
    sql: Outcome<Vec<String>>,
    in_memory: Outcome<Vec<String>>,
}

#[derive(Deserialize, Debug)]
struct ParsedOrderKey {
    #[serde(rename = "type")]
    kind: String,
    key: String,
    ascending: bool,
}

fn fixture() -> Fixture {
    let text = include_str!("fixtures/filter.json");
    serde_json::from_str(text).expect("fixtures/filter.json")
}

fn number(value: &Json) -> f64 {
    match value {
        Json::Number(n) => n.as_f64().unwrap(),
        Json::String(s) if s == "NaN" => f64::NAN,
        Json::String(s) if s == "Infinity" => f64::INFINITY,
        Json::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
        other => panic!("not a number: {other}"),
    }
}

impl Searchable for Run {
    fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.get(key).map(number)
    }
    fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }
    fn attribute(&self, attribute: Attribute) -> Option<AttrValue<'_>> {
        Some(match attribute {
            Attribute::RunId => AttrValue::Text(&self.run_id),
            Attribute::RunName => AttrValue::Text(&self.run_name),
            Attribute::Status => AttrValue::Text(&self.status),
            Attribute::UserId => AttrValue::Text(&self.user_id),
            Attribute::ArtifactUri => AttrValue::Text(&self.artifact_uri),
            Attribute::StartTime => AttrValue::Millis(self.start_time),
            Attribute::EndTime => AttrValue::Millis(self.end_time?),
            _ => return None,
        })
    }
    fn datasets(&self) -> Vec<DatasetView<'_>> {
        self.datasets
            .iter()
            .map(|d| DatasetView {
                name: &d.name,
                digest: &d.digest,
                context: d.context.as_deref(),
            })
            .collect()
    }
}

fn names(runs: &[&Run]) -> Vec<String> {
    runs.iter().map(|r| r.name.clone()).collect()
}

/// The runs `filter` selects, in MLflow's default order.
fn select<'r>(runs: &'r [Run], filter: &Filter) -> Vec<&'r Run> {
    let mut selected: Vec<&Run> = runs.iter().filter(|r| filter.matches(*r)).collect();
    OrderBy::default().sort(&mut selected);
    selected
}

fn value_matches(ours: Option<&Value>, theirs: &Json) -> bool {
    match (ours, theirs) {
        (None, Json::Null) => true,
        (Some(Value::Number(a)), b) => {
            let b = number(b);
            *a == b || (a.is_nan() && b.is_nan())
        }
        (Some(Value::String(a)), Json::String(b)) => a == b,
        (Some(Value::List(a)), Json::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| y.as_str() == Some(x.as_str()))
        }
        _ => false,
    }
}

#[test]
fn fixture_is_from_mlflow_3_17_and_covers_enough() {
    let f = fixture();
    assert!(f.mlflow_version.starts_with("3.17"), "{}", f.mlflow_version);
    assert!(f.filters.len() >= 100, "{}", f.filters.len());
    assert!(f.order_by.len() >= 40, "{}", f.order_by.len());
    let accepted = f.filters.iter().filter(|c| c.sql.ok.is_some()).count();
    let refused = f.filters.len() - accepted;
    assert!(
        accepted >= 60 && refused >= 40,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn filters_are_accepted_and_refused_as_mlflow_does() {
    let f = fixture();
    let mut failures = Vec::new();
    for case in &f.filters {
        let text = case.filter.as_str();
        let ours = Filter::parse(text);
        let theirs = case.sql.ok.is_some();
        let expected = if STRICTER_FILTERS.contains(&text) {
            assert!(
                theirs,
                "{text:?} is listed as stricter but MLflow refuses it"
            );
            false
        } else if LENIENT_FILTERS.contains(&text) {
            assert!(
                !theirs,
                "{text:?} is listed as lenient but MLflow accepts it"
            );
            true
        } else {
            theirs
        };
        if ours.is_ok() != expected {
            failures.push(format!(
                "{text:?}: ours {ours:?}, MLflow {:?}",
                case.sql.error
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn filters_parse_to_mlflows_clauses() {
    let f = fixture();
    let mut compared = 0;
    for case in &f.filters {
        let (Ok(ours), Some(theirs)) = (Filter::parse(&case.filter), &case.parse.ok) else {
            continue;
        };
        assert_eq!(
            ours.clauses().len(),
            theirs.len(),
            "{:?}: {ours:?} vs {theirs:?}",
            case.filter
        );
        for (a, b) in ours.clauses().iter().zip(theirs) {
            let same = a.field().kind() == b.kind
                && a.field().key() == b.key
                && a.comparator().as_str() == b.comparator
                && value_matches(a.value(), &b.value);
            assert!(same, "{:?}: {a:?} vs {b:?}", case.filter);
        }
        compared += 1;
    }
    assert!(compared >= 60, "{compared}");
}

#[test]
fn filters_select_the_runs_mlflows_sql_store_selects_in_its_order() {
    let f = fixture();
    let mut failures = Vec::new();
    for case in &f.filters {
        let Ok(filter) = Filter::parse(&case.filter) else {
            continue;
        };
        let reference = if FOLLOW_IN_MEMORY.contains(&case.filter.as_str()) {
            &case.in_memory
        } else {
            &case.sql
        };
        let Some(expected) = &reference.ok else {
            continue;
        };
        let ours = names(&select(&f.runs, &filter));
        if &ours != expected {
            failures.push(format!(
                "{:?}: ours {ours:?}, MLflow {expected:?}",
                case.filter
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn mlflows_stores_disagree_only_where_documented() {
    let f = fixture();
    for case in &f.filters {
        let agree = case.sql.ok == case.in_memory.ok
            && case.sql.error.is_some() == case.in_memory.error.is_some();
        assert_eq!(
            !agree,
            STORES_DISAGREE.contains(&case.filter.as_str()),
            "{:?}: SQL {:?} {:?}, in-memory {:?} {:?}",
            case.filter,
            case.sql.ok,
            case.sql.error,
            case.in_memory.ok,
            case.in_memory.error
        );
    }
}

#[test]
fn order_by_is_accepted_refused_and_parsed_as_mlflow_does() {
    let f = fixture();
    for case in &f.order_by {
        let ours = OrderBy::parse(&case.order_by);
        let theirs = case.sql.ok.is_some();
        let stricter = STRICTER_ORDER_BY
            .iter()
            .any(|s| s.iter().eq(case.order_by.iter()));
        let expected = theirs && !stricter;
        assert_eq!(
            ours.is_ok(),
            expected,
            "{:?}: ours {ours:?}, MLflow {:?}",
            case.order_by,
            case.sql.error
        );
        if let (Ok(ours), Some(parsed)) = (&ours, &case.parse.ok) {
            assert_eq!(ours.keys().len(), parsed.len());
            for (a, b) in ours.keys().iter().zip(parsed) {
                assert_eq!(
                    (a.field().kind(), a.field().key(), a.ascending()),
                    (b.kind.as_str(), b.key.as_str(), b.ascending),
                    "{:?}",
                    case.order_by
                );
            }
        }
    }
}

#[test]
fn order_by_sorts_as_mlflows_sql_store_does() {
    let f = fixture();
    let mut compared = 0;
    for case in &f.order_by {
        let (Ok(order), Some(expected)) = (OrderBy::parse(&case.order_by), &case.sql.ok) else {
            continue;
        };
        let mut runs: Vec<&Run> = f.runs.iter().collect();
        order.sort(&mut runs);
        assert_eq!(&names(&runs), expected, "{:?}", case.order_by);
        // MLflow's in-memory sort agrees wherever the SQL store answers.
        assert_eq!(
            case.in_memory.ok.as_ref(),
            Some(expected),
            "{:?}",
            case.order_by
        );
        compared += 1;
    }
    assert!(compared >= 30, "{compared}");
}

#[test]
fn paging_walks_mlflows_order_page_by_page() {
    let f = fixture();
    for case in &f.order_by {
        let (Ok(_), Some(expected)) = (OrderBy::parse(&case.order_by), &case.sql.ok) else {
            continue;
        };
        for page_size in [1, 3, 8, 50] {
            let mut token: Option<String> = None;
            let mut seen = Vec::new();
            loop {
                let search = RunSearch::parse(
                    "",
                    &case.order_by,
                    Some(page_size),
                    token.as_deref(),
                    &["0"],
                )
                .unwrap();
                let page = search.apply(&f.runs);
                assert!(page.runs.len() <= page_size);
                seen.extend(names(&page.runs));
                match page.next_page_token {
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
            assert_eq!(&seen, expected, "{:?} by {page_size}", case.order_by);
        }
    }
}

#[test]
fn a_token_from_another_search_is_refused() {
    let f = fixture();
    let first = RunSearch::parse("metrics.rmse > 0", &["metrics.rmse"], Some(2), None, &["0"])
        .unwrap()
        .apply(&f.runs);
    let token = first.next_page_token.unwrap();
    for (filter, order, scope) in [
        ("metrics.rmse > 1", "metrics.rmse", "0"),
        ("metrics.rmse > 0", "metrics.rmse DESC", "0"),
        ("metrics.rmse > 0", "metrics.rmse", "1"),
    ] {
        let err = RunSearch::parse(filter, &[order], Some(2), Some(&token), &[scope]).unwrap_err();
        assert_eq!(err, FilterError::PageTokenMismatch);
    }
    // The same search written differently is the same search.
    let again = RunSearch::parse(
        "metric.rmse>0",
        &["metrics.rmse ASC"],
        Some(2),
        Some(&token),
        &["0"],
    )
    .unwrap();
    assert_eq!(again.offset(), 2);
    let field = again.order_by().keys()[0].field().clone();
    assert_eq!(field, Field::Metric("rmse".into()));
}
