//! Unit tests of the filter language: grammar, errors, evaluation, order and paging.
//! (`tests/filter_fixtures.rs` checks the same against MLflow itself.)

use std::collections::HashMap;

use super::*;

fn parse(text: &str) -> Filter {
    Filter::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn err(text: &str) -> FilterError {
    match Filter::parse(text) {
        Ok(f) => panic!("{text:?} parsed: {f:?}"),
        Err(e) => e,
    }
}

/// The single clause of `text` as (kind, key, comparator, value).
fn one(text: &str) -> (&'static str, String, Comparator, Option<Value>) {
    let f = parse(text);
    let [c] = f.clauses() else {
        panic!("{text:?}: {} clauses", f.clauses().len())
    };
    (
        c.field().kind(),
        c.field().key().to_owned(),
        c.comparator(),
        c.value().cloned(),
    )
}

fn s(text: &str) -> Option<Value> {
    Some(Value::String(text.to_owned()))
}

fn n(x: f64) -> Option<Value> {
    Some(Value::Number(x))
}

fn list(items: &[&str]) -> Option<Value> {
    Some(Value::List(items.iter().map(|i| (*i).to_owned()).collect()))
}

// ----------------------------------------------------------------------------- grammar

#[test]
fn prefixes_and_their_mlflow_spellings() {
    for (text, kind) in [
        ("metrics.m > 1", "metric"),
        ("metric.m > 1", "metric"),
        ("`metrics`.m > 1", "metric"),
        ("params.p = 'x'", "parameter"),
        ("param.p = 'x'", "parameter"),
        ("parameter.p = 'x'", "parameter"),
        ("parameters.p = 'x'", "parameter"),
        ("tags.t = 'x'", "tag"),
        ("tag.t = 'x'", "tag"),
        ("attributes.status = 'x'", "attribute"),
        ("attribute.status = 'x'", "attribute"),
        ("attr.status = 'x'", "attribute"),
        ("run.status = 'x'", "attribute"),
        ("status = 'x'", "attribute"),
        ("datasets.name = 'x'", "dataset"),
        ("dataset.name = 'x'", "dataset"),
    ] {
        assert_eq!(one(text).0, kind, "{text}");
    }
    for text in [
        "METRICS.m > 1",
        "Metrics.m > 1",
        "\"metrics\".m > 1",
        "foo.m > 1",
    ] {
        assert!(
            matches!(err(text), FilterError::UnknownEntity { at: 0, .. }),
            "{text}"
        );
    }
}

#[test]
fn attribute_names_and_aliases() {
    for (text, attribute) in [
        ("run_id = 'a'", Attribute::RunId),
        ("attributes.run_name = 'a'", Attribute::RunName),
        ("`Run name` = 'a'", Attribute::RunName),
        ("\"Run Name\" = 'a'", Attribute::RunName),
        ("attributes.`run name` = 'a'", Attribute::RunName),
        ("status = 'a'", Attribute::Status),
        ("user_id = 'a'", Attribute::UserId),
        ("artifact_uri = 'a'", Attribute::ArtifactUri),
        ("start_time > 1", Attribute::StartTime),
        ("created > 1", Attribute::StartTime),
        ("Created > 1", Attribute::StartTime),
        ("attributes.end_time > 1", Attribute::EndTime),
    ] {
        let f = parse(text);
        assert_eq!(
            f.clauses()[0].field(),
            &Field::Attribute(attribute),
            "{text}"
        );
    }
    for text in [
        "attributes.Status = 'a'",
        "START_TIME > 1",
        "lifecycle_stage = 'active'",
        "experiment_id = '1'",
        "attributes.timestamp > 1",
    ] {
        assert!(
            matches!(err(text), FilterError::UnknownAttribute { .. }),
            "{text}"
        );
    }
    // `run name` is a filter alias only.
    assert!(OrderKey::parse("`Run name`").is_err());
    assert!(OrderKey::parse("created").is_ok());
}

#[test]
fn keys_plain_dotted_quoted_and_unicode() {
    for (text, key) in [
        ("metrics.rmse > 1", "rmse"),
        ("metrics.val_loss_2 > 1", "val_loss_2"),
        ("metrics.1abc > 1", "1abc"),
        (
            "tags.mlflow.source.git.commit = 'x'",
            "mlflow.source.git.commit",
        ),
        ("tags.`mlflow.runName` = 'x'", "mlflow.runName"),
        ("metrics.`val/loss` < 1", "val/loss"),
        ("metrics.\"my metric\" < 1", "my metric"),
        ("metrics.'my metric' < 1", "my metric"),
        ("tags.Über = 'x'", "Über"),
        ("metrics.日本 > 1", "日本"),
        // Keywords are fine as keys, except the six sqlparse always reads as keywords.
        ("params.select = 'x'", "select"),
        ("params.and = 'x'", "and"),
        ("params.null = 'x'", "null"),
        ("params.like = 'x'", "like"),
        ("params.`from` = 'x'", "from"),
        ("params.fromage = 'x'", "fromage"),
    ] {
        assert_eq!(one(text).1, key, "{text}");
    }
    // MLflow's tokenizer reads these segments as numbers and then refuses the key.
    for (text, at) in [
        ("metrics.5 > 1", 8),
        ("metrics.a.1 > 1", 10),
        ("tags.v1.0 = 'x'", 8),
        ("metrics.1e5 > 1", 8),
        ("metrics.0x1f > 1", 8),
        ("metrics.a..b > 1", 10),
        ("metrics.rmse. > 1", 13),
    ] {
        assert!(
            matches!(err(text), FilterError::Syntax { at: a, .. } if a == at),
            "{text}: {}",
            err(text)
        );
    }
    for (text, key) in [
        ("metrics.a.1b > 1", "a.1b"),
        ("metrics.1_000 > 1", "1_000"),
        ("metrics.0xg > 1", "0xg"),
        ("metrics.`a.1` > 1", "a.1"),
    ] {
        assert_eq!(one(text).1, key, "{text}");
    }
    for word in ["case", "in", "values", "using", "from", "as", "IN", "From"] {
        let text = format!("params.{word} = 'x'");
        assert_eq!(
            err(&text),
            FilterError::ReservedKey {
                at: 7,
                word: word.to_owned()
            }
        );
        let text = format!("tags.a.{word} = 'x'");
        assert!(matches!(err(&text), FilterError::ReservedKey { at: 7, .. }));
    }
}

#[test]
fn numbers() {
    for (text, value) in [
        ("metrics.m > 0.5", 0.5),
        ("metrics.m > -1", -1.0),
        ("metrics.m > .5", 0.5),
        ("metrics.m > -.5", -0.5),
        ("metrics.m > 5.", 5.0),
        ("metrics.m > 01", 1.0),
        ("metrics.m > 1e-3", 1e-3),
        ("metrics.m > 1E5", 1e5),
        ("metrics.m > -1.5E-3", -1.5e-3),
        ("metrics.m > 1e400", f64::INFINITY),
        ("start_time >= 1700000000000", 1.7e12),
        ("end_time < 2.5", 2.5),
    ] {
        assert_eq!(one(text).3, n(value), "{text}");
    }
    for bad in [
        "- 1", "+1", "0x10", "1abc", "1_000", "NaN", "inf", "'1'", "\"1\"", "1e+5", "(1)",
    ] {
        let text = format!("metrics.m > {bad}");
        assert!(
            matches!(err(&text), FilterError::Value { at: 12, .. }),
            "{text}: {}",
            err(&text)
        );
    }
}

#[test]
fn strings_are_verbatim_as_in_mlflow() {
    for (text, value) in [
        ("params.p = 'gbm'", "gbm"),
        ("params.p = \"gbm\"", "gbm"),
        ("params.p = ''", ""),
        ("params.p = 'a b % _'", "a b % _"),
        ("params.p = \"it's\"", "it's"),
        ("params.p = 'say \"hi\"'", "say \"hi\""),
        ("params.p = 'it''s'", "it''s"),
        (r"params.p = 'a\'b'", r"a\'b"),
        ("params.p = 'line1\nline2'", "line1\nline2"),
        ("params.p = 'ünï'", "ünï"),
    ] {
        assert_eq!(one(text).3, s(value), "{text}");
    }
    assert_eq!(
        err("params.p = 'open"),
        FilterError::Unterminated {
            at: 11,
            what: "string"
        }
    );
    for bad in ["gbm", "1", "`gbm`", "params.q"] {
        let text = format!("params.p = {bad}");
        assert!(
            matches!(err(&text), FilterError::Value { at: 11, .. }),
            "{text}"
        );
    }
}

#[test]
fn comparators_are_case_insensitive_and_checked_per_field() {
    for (text, comparator) in [
        ("metrics.m = 1", Comparator::Eq),
        ("metrics.m != 1", Comparator::Ne),
        ("metrics.m < 1", Comparator::Lt),
        ("metrics.m <= 1", Comparator::Le),
        ("metrics.m > 1", Comparator::Gt),
        ("metrics.m >= 1", Comparator::Ge),
        ("metrics.m>=1", Comparator::Ge),
        ("params.p like 'x'", Comparator::Like),
        ("params.p LiKe 'x'", Comparator::Like),
        ("params.p ILIKE 'x'", Comparator::ILike),
        ("params.p LIKE'x'", Comparator::Like),
        ("tags.t is null", Comparator::IsNull),
        ("tags.t IS NOT NULL", Comparator::IsNotNull),
        ("tags.t is  not\tnull", Comparator::IsNotNull),
        ("run_id in ('a')", Comparator::In),
        ("run_id NOT  IN ('a')", Comparator::NotIn),
        ("datasets.name not in ('a')", Comparator::NotIn),
    ] {
        assert_eq!(one(text).2, comparator, "{text}");
    }
    for (text, at) in [
        ("metrics.m LIKE '1'", 10),
        ("metrics.m IS NULL", 10),
        ("metrics.m IN (1)", 10),
        ("params.p > 'a'", 9),
        ("params.p IN ('a')", 9),
        ("tags.t <= 'a'", 7),
        ("status IN ('a')", 7),
        ("status IS NULL", 7),
        ("status < 'a'", 7),
        ("start_time LIKE 1", 11),
        ("datasets.name > 'a'", 14),
        ("datasets.name IS NOT NULL", 14),
    ] {
        let e = err(text);
        assert!(
            matches!(e, FilterError::Comparator { at: a, .. } if a == at),
            "{text}: {e}"
        );
    }
    for text in [
        "metrics.m == 1",
        "metrics.m <> 1",
        "metrics.m => 1",
        "metrics.m =! 1",
        "metrics.m ~ 1",
        "params.p NOT LIKE 'x'",
        "params.p RLIKE 'x'",
        "tags.t ISNULL",
        "tags.t IS NULLS",
        "tags.t IS",
        "metrics.m",
    ] {
        assert!(matches!(err(text), FilterError::Syntax { .. }), "{text}");
    }
}

#[test]
fn in_lists_read_python_string_literals() {
    for (text, items) in [
        ("run_id IN ('a', 'b')", &["a", "b"][..]),
        ("run_id IN ('a')", &["a"]),
        ("run_id IN ('a',)", &["a"]),
        ("run_id IN ( 'a' , \"b\" , )", &["a", "b"]),
        ("run_id IN ('a' 'b')", &["ab"]),
        ("run_id IN ('it''s')", &["its"]),
        (
            r"run_id IN ('it\'s', 'a\\b', 'tab\there')",
            &["it's", r"a\b", "tab\there"],
        ),
        (r"run_id IN ('\x41\u00e9\101', '\d')", &["AéA", r"\d"]),
        ("run_id IN ('a)', 'b')", &["a)", "b"]),
        (
            "datasets.context IN ('training', 'eval')",
            &["training", "eval"],
        ),
    ] {
        assert_eq!(one(text).3, list(items), "{text}");
    }
    for (text, at) in [
        ("run_id IN ()", 10),
        ("run_id IN (1, 2)", 11),
        ("run_id IN ('a', 1)", 16),
        ("run_id IN 'a'", 10),
        ("run_id IN (('a'))", 11),
        ("run_id IN (,)", 11),
    ] {
        let e = err(text);
        assert_eq!(e.position(), Some(at), "{text}: {e}");
    }
    assert_eq!(
        err("run_id IN ('a', 'b'"),
        FilterError::Unterminated {
            at: 10,
            what: "list"
        }
    );
    assert!(matches!(
        err("run_id IN ('a' 'b' x)"),
        FilterError::Syntax { .. }
    ));
    // A list only follows IN / NOT IN.
    assert!(matches!(
        err("run_id = ('a', 'b')"),
        FilterError::Value { at: 9, .. }
    ));
}

#[test]
fn conjunctions() {
    let f = parse("metrics.m > 1 and params.p = 'x' AnD tags.t IS NULL");
    let kinds: Vec<_> = f.clauses().iter().map(|c| c.field().kind()).collect();
    assert_eq!(kinds, ["metric", "parameter", "tag"]);
    assert_eq!(parse("params.p='x'and params.q='y'").clauses().len(), 2);
    assert_eq!(parse("\n metrics.m > 1\t").clauses().len(), 1);
    assert!(parse("").is_empty());

    assert_eq!(
        err("metrics.m > 1 OR metrics.n > 1"),
        FilterError::Or { at: 14 }
    );
    assert_eq!(
        err("metrics.m > 1 or metrics.n > 1"),
        FilterError::Or { at: 14 }
    );
    assert_eq!(err("OR metrics.n > 1"), FilterError::Or { at: 0 });
    for (text, at) in [
        ("   ", 3),
        ("metrics.m > 1 AND", 17),
        ("metrics.m > 1 AND ", 18),
        ("AND metrics.m > 1", 0),
        ("metrics.m > 1 AND AND metrics.n > 1", 18),
        ("metrics.m > 1 metrics.n > 1", 14),
        ("metrics.m > 1 ANDmetrics.n > 1", 14),
        ("(metrics.m > 1)", 0),
        ("metrics.m > 1 AND (metrics.n > 1)", 18),
        ("metrics.m > 1;", 13),
        ("metrics.m > 1; metrics.n > 1", 13),
        ("metrics.m > 1 -- comment", 14),
    ] {
        let e = err(text);
        assert!(
            matches!(e, FilterError::Syntax { at: a, .. } if a == at),
            "{text}: {e}"
        );
    }
}

#[test]
fn errors_name_position_expectation_and_what_was_found() {
    for (text, message) in [
        (
            "metrics.rmse == 0.5",
            "at 13: expected a comparator after `metrics.rmse`, found `==`",
        ),
        (
            "params.lr = 0.1",
            "at 12: expected a quoted string ('…' or \"…\") for param `lr`, found `0.1`",
        ),
        (
            "metrics.rmse = 'low'",
            "at 15: expected a number for metric `rmse`, found `'low'`",
        ),
        (
            "tags.team LIKE 'v%' OR tags.team = 'x'",
            "at 20: `OR` is not supported: an MLflow filter is comparisons joined by `AND` \
             (run one search per alternative instead)",
        ),
        (
            "metrics.val/loss < 1",
            "at 11: expected a comparator after `metrics.val` (put a key with punctuation or \
             spaces in backticks, e.g. metrics.`val/loss`), found `/`",
        ),
        (
            "metrics .rmse < 1",
            "at 7: expected `.` right after `metrics` (no whitespace around the dot), found ` `",
        ),
        (
            "tags.team IS NULL AND",
            "at 21: expected a comparison after `AND`, found end of input",
        ),
        (
            "metrics.rmse LIKE '0.%'",
            "at 13: `LIKE` is not supported for metric `rmse`: use one of `=`, `!=`, `<`, \
             `<=`, `>`, `>=`",
        ),
        (
            "datasets.size = '1'",
            "at 9: unknown dataset field `size`: expected `name`, `digest` or `context`",
        ),
    ] {
        assert_eq!(err(text).to_string(), message, "{text}");
    }
    // Offsets are in bytes.
    let text = "tags.Über = 1";
    assert_eq!(err(text).position(), text.find('1'));
}

#[test]
fn clause_spans_cover_the_comparison() {
    let text = "metrics.m > 1 AND  tags.t IS NOT NULL ";
    let f = parse(text);
    let spans: Vec<&str> = f.clauses().iter().map(|c| &text[c.span()]).collect();
    assert_eq!(spans, ["metrics.m > 1", "tags.t IS NOT NULL"]);
    assert_eq!(f.as_str(), text);
    assert_eq!(f.to_string(), text);
    assert_eq!(text.parse::<Filter>().unwrap(), f);
}

// -------------------------------------------------------------------------- evaluation

#[derive(Default)]
struct TestRun {
    id: String,
    start: Option<i64>,
    end: Option<i64>,
    status: String,
    metrics: HashMap<String, f64>,
    params: HashMap<String, String>,
    tags: HashMap<String, String>,
    datasets: Vec<(String, String, Option<String>)>,
}

impl Searchable for TestRun {
    fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.get(key).copied()
    }
    fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }
    fn attribute(&self, attribute: Attribute) -> Option<AttrValue<'_>> {
        match attribute {
            Attribute::RunId => Some(AttrValue::Text(&self.id)),
            Attribute::Status => Some(AttrValue::Text(&self.status)),
            Attribute::StartTime => self.start.map(AttrValue::Millis),
            Attribute::EndTime => self.end.map(AttrValue::Millis),
            _ => None,
        }
    }
    fn datasets(&self) -> Vec<DatasetView<'_>> {
        self.datasets
            .iter()
            .map(|(name, digest, context)| DatasetView {
                name,
                digest,
                context: context.as_deref(),
            })
            .collect()
    }
}

fn run(id: &str) -> TestRun {
    TestRun {
        id: id.to_owned(),
        start: Some(0),
        status: "FINISHED".to_owned(),
        ..TestRun::default()
    }
}

fn with_metric(mut r: TestRun, key: &str, value: f64) -> TestRun {
    r.metrics.insert(key.to_owned(), value);
    r
}

fn with_param(mut r: TestRun, key: &str, value: &str) -> TestRun {
    r.params.insert(key.to_owned(), value.to_owned());
    r
}

fn with_tag(mut r: TestRun, key: &str, value: &str) -> TestRun {
    r.tags.insert(key.to_owned(), value.to_owned());
    r
}

fn matches(filter: &str, r: &TestRun) -> bool {
    parse(filter).matches(r)
}

#[test]
fn a_missing_value_matches_nothing_but_is_null() {
    let bare = run("a");
    for filter in [
        "metrics.m = 1",
        "metrics.m != 1",
        "metrics.m < 1",
        "params.p = 'x'",
        "params.p != 'x'",
        "params.p LIKE '%'",
        "params.p IS NOT NULL",
        "tags.t != ''",
        "tags.t ILIKE '%'",
        "attributes.end_time != 5",
        "attributes.end_time > 0",
        "attributes.run_name != 'x'",
        "datasets.name != 'x'",
        "datasets.name NOT IN ('x')",
    ] {
        assert!(!matches(filter, &bare), "{filter}");
    }
    assert!(matches("params.p IS NULL", &bare));
    assert!(matches("tags.t IS NULL AND params.p IS NULL", &bare));
    let tagged = with_tag(run("b"), "t", "");
    assert!(matches("tags.t IS NOT NULL", &tagged));
    assert!(matches("tags.t = ''", &tagged));
    assert!(!matches("tags.t IS NULL", &tagged));
}

#[test]
fn nan_satisfies_only_not_equal_and_infinity_is_infinite() {
    let nan = with_metric(run("a"), "m", f64::NAN);
    assert!(matches("metrics.m != 0", &nan));
    for filter in [
        "metrics.m = 0",
        "metrics.m < 0",
        "metrics.m <= 0",
        "metrics.m > 0",
        "metrics.m >= 0",
    ] {
        assert!(!matches(filter, &nan), "{filter}");
    }
    let inf = with_metric(run("b"), "m", f64::INFINITY);
    assert!(matches("metrics.m > 1e308", &inf));
    assert!(matches("metrics.m = 1e400", &inf));
    let zero = with_metric(run("c"), "m", -0.0);
    assert!(matches("metrics.m = 0", &zero));
    assert!(matches("metrics.m >= -0", &zero));
}

#[test]
fn string_comparisons() {
    let r = with_param(
        with_tag(run("a"), "team", "Vision Ünit"),
        "model",
        "lin_ear",
    );
    for (filter, expected) in [
        ("params.model = 'lin_ear'", true),
        ("params.model = 'LIN_EAR'", false),
        ("params.model != 'gbm'", true),
        ("params.model LIKE 'lin_ear'", true),
        ("params.model LIKE 'linXear'", false),
        ("params.model LIKE 'lin%'", true),
        ("params.model LIKE 'LIN%'", false),
        ("params.model ILIKE 'LIN%'", true),
        ("params.model LIKE '%ear'", true),
        ("params.model LIKE '%a%'", true),
        ("params.model LIKE '_in_ear'", true),
        ("params.model LIKE 'lin'", false),
        ("tags.team ILIKE '%üNIT'", true),
        ("tags.team LIKE '%üNIT'", false),
        ("tags.team = 'Vision Ünit'", true),
    ] {
        assert_eq!(matches(filter, &r), expected, "{filter}");
    }
}

#[test]
fn attributes() {
    let mut r = run("0af3");
    r.start = Some(1000);
    r.end = Some(2000);
    for (filter, expected) in [
        ("attributes.run_id = '0af3'", true),
        ("run_id IN ('x', '0af3')", true),
        ("run_id NOT IN ('x', '0af3')", false),
        ("run_id NOT IN ('x')", true),
        ("run_id LIKE '0a%'", true),
        ("status = 'FINISHED'", true),
        ("status != 'FINISHED'", false),
        ("status ILIKE 'fin%'", true),
        ("start_time = 1000", true),
        ("created >= 1000", true),
        ("start_time > 999.5", true),
        ("start_time < 1000.5", true),
        ("end_time != 1000", true),
        ("end_time > 2000", false),
        ("user_id = ''", false), // not supplied
    ] {
        assert_eq!(matches(filter, &r), expected, "{filter}");
    }
}

#[test]
fn dataset_clauses_match_any_input_each_on_its_own() {
    let mut r = run("a");
    r.datasets = vec![
        ("train".into(), "d1".into(), Some("training".into())),
        ("eval".into(), "d2".into(), Some("eval".into())),
        ("raw".into(), "d3".into(), None),
    ];
    for (filter, expected) in [
        ("datasets.name = 'train'", true),
        ("datasets.name != 'train'", true),
        ("datasets.name NOT IN ('train', 'eval', 'raw')", false),
        ("datasets.digest IN ('d3')", true),
        ("datasets.context = 'eval'", true),
        ("datasets.context LIKE '%'", true),
        ("datasets.context NOT IN ('training', 'eval')", false),
        (
            "datasets.name = 'train' AND datasets.context = 'eval'",
            true,
        ),
        ("datasets.name ILIKE 'TRAIN'", true),
        ("datasets.name = 'test'", false),
    ] {
        assert_eq!(matches(filter, &r), expected, "{filter}");
    }
    let mut only_raw = run("b");
    only_raw.datasets = vec![("raw".into(), "d3".into(), None)];
    assert!(!matches("datasets.context != 'x'", &only_raw));
    assert!(!matches("datasets.context LIKE '%'", &only_raw));
}

#[test]
fn the_empty_filter_matches_everything_and_clauses_are_anded() {
    let r = with_metric(with_param(run("a"), "p", "x"), "m", 1.0);
    assert!(Filter::default().matches(&r));
    assert!(parse("").matches(&r));
    assert!(matches("metrics.m = 1 AND params.p = 'x'", &r));
    assert!(!matches("metrics.m = 1 AND params.p = 'y'", &r));
    // Through references and trait objects too.
    let dynamic: &dyn Searchable = &r;
    assert!(parse("metrics.m = 1").matches(dynamic));
    assert!(parse("metrics.m = 1").matches(&&r));
}

// ------------------------------------------------------------------------------- order

fn order(clauses: &[&str], runs: &[TestRun]) -> Vec<String> {
    let order = OrderBy::parse(clauses).unwrap();
    let mut refs: Vec<&TestRun> = runs.iter().collect();
    order.sort(&mut refs);
    refs.into_iter().map(|r| r.id.clone()).collect()
}

#[test]
fn metrics_sort_values_then_nan_then_missing_in_both_directions() {
    let runs = vec![
        with_metric(run("nan"), "m", f64::NAN),
        with_metric(run("two"), "m", 2.0),
        run("none"),
        with_metric(run("neg"), "m", -1.0),
        with_metric(run("inf"), "m", f64::INFINITY),
    ];
    assert_eq!(
        order(&["metrics.m"], &runs),
        ["neg", "two", "inf", "nan", "none"]
    );
    assert_eq!(
        order(&["metrics.m DESC"], &runs),
        ["inf", "two", "neg", "nan", "none"]
    );
}

#[test]
fn strings_sort_bytewise_with_missing_last() {
    let runs = vec![
        with_param(run("nine"), "depth", "9"),
        with_param(run("ten"), "depth", "10"),
        run("none"),
        with_param(run("upper"), "depth", "Z"),
        with_param(run("lower"), "depth", "a"),
    ];
    assert_eq!(
        order(&["params.depth"], &runs),
        ["ten", "nine", "upper", "lower", "none"]
    );
    assert_eq!(
        order(&["params.depth DESC"], &runs),
        ["lower", "upper", "nine", "ten", "none"]
    );
}

#[test]
fn ties_fall_back_to_start_time_desc_then_run_id() {
    let mut runs = Vec::new();
    for (id, start) in [("b", Some(5)), ("a", Some(5)), ("c", Some(9)), ("d", None)] {
        let mut r = with_param(run(id), "p", "same");
        r.start = start;
        runs.push(r);
    }
    assert_eq!(order(&[], &runs), ["c", "a", "b", "d"]);
    assert_eq!(order(&["params.p"], &runs), ["c", "a", "b", "d"]);
    // Sorting on start_time replaces the start_time tie-breaker.
    assert_eq!(order(&["start_time"], &runs), ["a", "b", "c", "d"]);
    assert_eq!(order(&["created DESC"], &runs), ["c", "a", "b", "d"]);
}

#[test]
fn order_keys_parse_like_mlflow() {
    for (text, kind, key, ascending) in [
        ("metrics.rmse", "metric", "rmse", true),
        ("metrics.rmse DESC", "metric", "rmse", false),
        ("metrics.rmse desc", "metric", "rmse", false),
        ("metrics.rmse Asc", "metric", "rmse", true),
        ("metrics.rmse \t DESC", "metric", "rmse", false),
        ("metrics.`a b` DESC", "metric", "a b", false),
        ("params.\"a b\"", "parameter", "a b", true),
        ("tag.mlflow.runName", "tag", "mlflow.runName", true),
        ("Created DESC", "attribute", "start_time", false),
        ("attr.end_time", "attribute", "end_time", true),
    ] {
        let k = OrderKey::parse(text).unwrap();
        assert_eq!(
            (k.field().kind(), k.field().key(), k.ascending()),
            (kind, key, ascending),
            "{text}"
        );
    }
    for text in [
        "",
        " metrics.m",
        "metrics.m ",
        "metrics.m DESC ",
        "metrics.m DESCENDING",
        "metrics.m DESC NULLS LAST",
        "metrics.m ASC DESC",
        "metrics.m, params.p",
        "metrics.m = 1",
        "datasets.name",
        "metrics.",
        "params.from",
        "timestamp",
    ] {
        assert!(OrderKey::parse(text).is_err(), "{text:?}");
    }
}

#[test]
fn order_by_lists_refuse_repeated_fields_and_name_the_bad_clause() {
    assert!(OrderBy::parse(&["metrics.m", "params.m", "tags.m"]).is_ok());
    for clauses in [
        &["metrics.m", "metric.m DESC"][..],
        &["start_time", "created DESC"],
        &["params.p", "parameters.p"],
    ] {
        assert!(
            matches!(
                OrderBy::parse(clauses),
                Err(FilterError::DuplicateOrderBy { .. })
            ),
            "{clauses:?}"
        );
    }
    let e = OrderBy::parse(&["metrics.m", "params.from"]).unwrap_err();
    assert!(matches!(e, FilterError::OrderByClause { index: 1, .. }));
    assert_eq!(e.position(), Some(7));
    assert_eq!(
        e.to_string(),
        "order_by clause 1: at 7: `from` is a reserved word in a key: quote the key with \
         backticks"
    );
    let key = OrderKey::new(Field::Metric("m".into()), true);
    assert!(OrderBy::from_keys(vec![key.clone(), key]).is_err());
}

// ------------------------------------------------------------------------------ paging

#[test]
fn max_results_follow_mlflow_limits() {
    assert_eq!(MaxResults::default().get(), MAX_RESULTS_DEFAULT);
    assert_eq!(MaxResults::new(1).unwrap().get(), 1);
    assert_eq!(MaxResults::new(50_000).unwrap().get(), MAX_RESULTS_LIMIT);
    for bad in [0, -1, 50_001, i64::MAX, i64::MIN] {
        assert_eq!(
            MaxResults::new(bad),
            Err(FilterError::MaxResults {
                value: bad,
                limit: 50_000
            })
        );
    }
    assert_eq!(
        MaxResults::new(0).unwrap_err().to_string(),
        "max_results must be between 1 and 50000, got 0"
    );
    assert!(MaxResults::try_from(usize::MAX).is_err());
    let none: &[&str] = &[];
    assert_eq!(
        RunSearch::parse("", none, None, None, &[])
            .unwrap()
            .max_results()
            .get(),
        1000
    );
    assert!(RunSearch::parse("", none, Some(0), None, &[]).is_err());
}

#[test]
fn run_search_pages_through_the_sorted_result() {
    let runs: Vec<TestRun> = (0..7)
        .map(|i| {
            let mut r = with_metric(run(&format!("r{i}")), "m", f64::from(i));
            r.start = Some(i64::from(i));
            r
        })
        .collect();
    let filter = "metrics.m >= 1";
    let order = ["metrics.m DESC"];
    let mut token: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let search = RunSearch::parse(filter, &order, Some(4), token.as_deref(), &["e1"]).unwrap();
        let page = search.apply(&runs);
        pages.push(page.runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(pages, [vec!["r6", "r5", "r4", "r3"], vec!["r2", "r1"]]);

    // An empty token is the first page; an offset past the end is an empty last page.
    let first = RunSearch::parse(filter, &order, Some(4), Some(""), &["e1"]).unwrap();
    assert_eq!(first.offset(), 0);
    let far = PageToken::new(100, first.fingerprint()).encode();
    let past = RunSearch::parse(filter, &order, Some(4), Some(&far), &["e1"]).unwrap();
    let page = past.apply(&runs);
    assert!(page.runs.is_empty() && page.next_page_token.is_none());

    // Exactly one full page: no token.
    let exact = RunSearch::parse(filter, &order, Some(6), None, &["e1"]).unwrap();
    assert!(exact.apply(&runs).next_page_token.is_none());
}

#[test]
fn pages_of_every_size_concatenate_to_the_fully_sorted_result() {
    // Ties on the metric and on start_time, in a scrambled input order: only the page's
    // head is sorted, so every page size must still give the full sort's slices.
    let n = 23;
    let runs: Vec<TestRun> = (0..n)
        .map(|i| {
            let j = (i * 7) % n;
            let mut r = with_metric(run(&format!("r{j:02}")), "m", f64::from(j % 3));
            r.start = Some(i64::from(j % 5));
            r
        })
        .collect();
    let order = ["metrics.m DESC"];
    let full = OrderBy::parse(&order).unwrap();
    let mut expected: Vec<&TestRun> = runs.iter().collect();
    full.sort(&mut expected);
    let expected: Vec<String> = expected.iter().map(|r| r.id.clone()).collect();
    for size in 1..=25 {
        let mut token: Option<String> = None;
        let mut all = Vec::new();
        loop {
            let search = RunSearch::parse("", &order, Some(size), token.as_deref(), &[]).unwrap();
            let page = search.apply(&runs);
            assert!(page.runs.len() <= size);
            all.extend(page.runs.iter().map(|r| r.id.clone()));
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(all, expected, "page size {size}");
    }
}

#[test]
fn run_search_refuses_foreign_and_damaged_tokens() {
    let order = ["metrics.m"];
    let search = RunSearch::parse("metrics.m > 0", &order, Some(1), None, &["e1"]).unwrap();
    let token = PageToken::new(1, search.fingerprint()).encode();
    assert_eq!(
        RunSearch::parse("metrics.m > 1", &order, Some(1), Some(&token), &["e1"]),
        Err(FilterError::PageTokenMismatch)
    );
    assert_eq!(
        RunSearch::parse("metrics.m > 0", &order, Some(1), Some(&token), &["e2"]),
        Err(FilterError::PageTokenMismatch)
    );
    // The page size may change between pages, as in MLflow.
    assert!(RunSearch::parse("metrics.m > 0", &order, Some(9), Some(&token), &["e1"]).is_ok());
    assert!(matches!(
        RunSearch::parse(
            "metrics.m > 0",
            &order,
            Some(1),
            Some("eyJvZmZzZXQiOiAxfQ=="),
            &["e1"]
        ),
        Err(FilterError::InvalidPageToken { .. })
    ));
}
