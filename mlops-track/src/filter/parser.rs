//! The recursive-descent parser for filters and order-by keys.
//!
//! ```text
//! filter     := "" | ws* clause ( ws* AND ws* clause )* ws*
//! clause     := field ws* comparator [ ws* value ]
//! field      := entity "." key | name
//! entity     := word | `word`                       (metrics, params, tags, attributes, …)
//! key        := `text` | "text" | 'text' | word ( "." word )*
//! name       := word | `text` | "text"              (an attribute: status, run_id, …)
//! comparator := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN | IS NULL | IS NOT NULL
//! value      := number | 'text' | "text" | ( string ( , string )* [,] )
//! order_key  := field [ ws+ ( ASC | DESC ) ]        (no whitespace around it)
//! ```
//!
//! Keywords are case-insensitive; entity prefixes, keys and attribute names are not.

use super::ast::{Attribute, Clause, Comparator, DatasetField, Field, Value};
use super::error::FilterError;
use super::lexer::{Cursor, describe, is_word_char};

/// Words that MLflow's parser (sqlparse) always reads as SQL keywords, so they cannot be an
/// unquoted key or key segment (`params.from`); quoted, they can.
const RESERVED_IN_KEYS: [&str; 6] = ["CASE", "IN", "VALUES", "USING", "FROM", "AS"];

const FILTER_ATTRIBUTES: &str = "`run_id`, `run_name`, `status`, `user_id`, `artifact_uri`, \
     `start_time`, `end_time`, `created` (= `start_time`), `run name` (= `run_name`)";
const ORDER_BY_ATTRIBUTES: &str = "`run_id`, `run_name`, `status`, `user_id`, \
     `artifact_uri`, `start_time`, `end_time`, `created` (= `start_time`)";

/// Where an identifier is parsed: the attribute names differ a little.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    Filter,
    OrderBy,
}

/// A parsed identifier and the text it was written as.
pub(crate) struct Ident<'a> {
    pub(crate) field: Field,
    pub(crate) text: &'a str,
    pub(crate) at: usize,
}

pub(crate) fn parse_filter(text: &str) -> Result<Vec<Clause>, FilterError> {
    let mut cur = Cursor::new(text);
    let mut clauses = Vec::new();
    if text.is_empty() {
        return Ok(clauses);
    }
    cur.skip_ws();
    if cur.at_end() {
        // MLflow refuses a filter of whitespace only, though it takes the empty one.
        return Err(syntax(
            &cur,
            "a comparison (the filter matching every run is the empty string)",
        ));
    }
    loop {
        clauses.push(parse_clause(&mut cur)?);
        cur.skip_ws();
        if cur.at_end() {
            return Ok(clauses);
        }
        let at = cur.pos();
        if cur.keyword("AND") {
            cur.skip_ws();
            if cur.at_end() {
                return Err(syntax(&cur, "a comparison after `AND`"));
            }
            continue;
        }
        if cur.keyword("OR") {
            return Err(FilterError::Or { at });
        }
        let expected = match cur.peek() {
            Some('(' | ')') => "`AND` or the end of the filter (filters have no parentheses)",
            Some(';') => "`AND` or the end of the filter (one filter per search: no `;`)",
            _ => "`AND` or the end of the filter",
        };
        return Err(syntax(&cur, expected));
    }
}

/// A syntax error at the cursor.
fn syntax(cur: &Cursor<'_>, expected: impl Into<String>) -> FilterError {
    FilterError::Syntax {
        at: cur.pos(),
        expected: expected.into(),
        found: cur.describe_next(),
    }
}

fn parse_clause(cur: &mut Cursor<'_>) -> Result<Clause, FilterError> {
    let start = cur.pos();
    if cur.peek() == Some('(') {
        return Err(syntax(cur, "a comparison (filters have no parentheses)"));
    }
    if let Some(word) = cur.peek_word() {
        if word.eq_ignore_ascii_case("OR") {
            return Err(FilterError::Or { at: start });
        }
        if word.eq_ignore_ascii_case("AND") {
            return Err(syntax(
                cur,
                "a comparison (`AND` goes between two comparisons)",
            ));
        }
    }
    let ident = parse_ident(cur, Context::Filter)?;
    cur.skip_ws();
    let comparator_at = cur.pos();
    let comparator = parse_comparator(cur, ident.text)?;
    let written = cur.since(comparator_at);
    check_comparator(&ident.field, comparator, comparator_at, written)?;
    let value = match comparator {
        Comparator::IsNull | Comparator::IsNotNull => None,
        Comparator::In | Comparator::NotIn => {
            cur.skip_ws();
            Some(parse_list(cur, &ident.field)?)
        }
        _ => {
            cur.skip_ws();
            Some(parse_scalar(cur, &ident.field)?)
        }
    };
    Ok(Clause {
        field: ident.field,
        comparator,
        value,
        span: start..cur.pos(),
    })
}

/// `metrics.rmse`, ``tags.`a b` ``, `status`, …
pub(crate) fn parse_ident<'a>(
    cur: &mut Cursor<'a>,
    context: Context,
) -> Result<Ident<'a>, FilterError> {
    let at = cur.pos();
    let (first, quote) = if let Some(q) = cur.quoted_name("`\"")? {
        (q.text, Some(q.quote))
    } else if let Some(word) = cur.word() {
        (word, None)
    } else {
        let expected = match context {
            Context::Filter => {
                "a field such as `metrics.rmse`, `params.lr`, `tags.team` or `attributes.status`"
            }
            Context::OrderBy => "a field to sort on, such as `metrics.rmse` or `start_time`",
        };
        return Err(syntax(cur, expected));
    };

    if cur.peek() != Some('.') {
        if quote.is_none() && entity(first).is_some() {
            let mut probe = cur.clone();
            probe.skip_ws();
            let expected = if probe.peek() == Some('.') {
                format!("`.` right after `{first}` (no whitespace around the dot)")
            } else {
                format!("`.` and a key after `{first}`")
            };
            return Err(syntax(cur, expected));
        }
        let attribute =
            Attribute::from_name(first, context == Context::Filter).ok_or_else(|| {
                FilterError::UnknownAttribute {
                    at,
                    found: first.to_owned(),
                    expected: match context {
                        Context::Filter => FILTER_ATTRIBUTES,
                        Context::OrderBy => ORDER_BY_ATTRIBUTES,
                    },
                }
            })?;
        return Ok(Ident {
            field: Field::Attribute(attribute),
            text: cur.since(at),
            at,
        });
    }

    let entity = if quote == Some('"') {
        None
    } else {
        entity(first)
    };
    let Some(entity) = entity else {
        return Err(FilterError::UnknownEntity {
            at,
            found: cur.since(at).to_owned(),
        });
    };
    cur.eat('.');
    let key_at = cur.pos();
    let key = parse_key(cur)?;
    let field = match entity {
        Entity::Metric => Field::Metric(key.to_owned()),
        Entity::Param => Field::Param(key.to_owned()),
        Entity::Tag => Field::Tag(key.to_owned()),
        Entity::Attribute => Field::Attribute(
            Attribute::from_name(key, context == Context::Filter).ok_or_else(|| {
                FilterError::UnknownAttribute {
                    at: key_at,
                    found: key.to_owned(),
                    expected: match context {
                        Context::Filter => FILTER_ATTRIBUTES,
                        Context::OrderBy => ORDER_BY_ATTRIBUTES,
                    },
                }
            })?,
        ),
        Entity::Dataset => Field::Dataset(match key {
            "name" => DatasetField::Name,
            "digest" => DatasetField::Digest,
            "context" => DatasetField::Context,
            _ => {
                return Err(FilterError::UnknownDatasetField {
                    at: key_at,
                    found: key.to_owned(),
                });
            }
        }),
    };
    Ok(Ident {
        field,
        text: cur.since(at),
        at,
    })
}

#[derive(Clone, Copy)]
enum Entity {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

/// The entity a prefix names, with MLflow's spellings (case-sensitive).
fn entity(prefix: &str) -> Option<Entity> {
    Some(match prefix {
        "metric" | "metrics" => Entity::Metric,
        "param" | "params" | "parameter" | "parameters" => Entity::Param,
        "tag" | "tags" => Entity::Tag,
        "attribute" | "attributes" | "attr" | "run" => Entity::Attribute,
        "dataset" | "datasets" => Entity::Dataset,
        _ => return None,
    })
}

/// The key after `entity.`: quoted, or words joined by dots.
fn parse_key<'a>(cur: &mut Cursor<'a>) -> Result<&'a str, FilterError> {
    let start = cur.pos();
    if let Some(q) = cur.quoted_name("`\"'")? {
        if q.text.is_empty() {
            return Err(FilterError::Syntax {
                at: start,
                expected: "a key".to_owned(),
                found: "an empty quoted key".to_owned(),
            });
        }
        return Ok(q.text);
    }
    loop {
        let segment_at = cur.pos();
        let Some(word) = cur.word() else {
            let expected = if segment_at == start {
                "a key (quote keys that contain spaces or punctuation with backticks)"
            } else {
                "more of the key after `.`"
            };
            return Err(syntax(cur, expected));
        };
        if RESERVED_IN_KEYS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(word))
        {
            return Err(FilterError::ReservedKey {
                at: segment_at,
                word: word.to_owned(),
            });
        }
        if reads_as_number(word) {
            return Err(FilterError::Syntax {
                at: segment_at,
                expected: "a key segment that is not a number (MLflow reads `.1` as a number: \
                           quote the key with backticks)"
                    .to_owned(),
                found: describe(word),
            });
        }
        if !cur.eat('.') {
            return Ok(cur.since(start));
        }
    }
}

/// Whether MLflow's tokenizer reads a key segment as a number literal (`5`, `1e5`, `0x1f`),
/// which breaks the key apart: MLflow refuses `metrics.5` and `metrics.a.1`, so do we.
fn reads_as_number(segment: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits(segment) {
        return true;
    }
    let lower = segment.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        return hex.starts_with(|c: char| c.is_ascii_hexdigit());
    }
    // `\d+e\d+` at the start (sqlparse's exponent form has no look-ahead).
    let mantissa = lower.bytes().take_while(u8::is_ascii_digit).count();
    mantissa > 0
        && lower
            .get(mantissa..)
            .and_then(|rest| rest.strip_prefix('e'))
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

fn parse_comparator(cur: &mut Cursor<'_>, ident: &str) -> Result<Comparator, FilterError> {
    let hint = punctuation_hint(ident, cur);
    let expected = || format!("a comparator after `{ident}`{hint}");
    let at = cur.pos();
    if let Some(op) = cur.operator() {
        return Ok(match op {
            "=" => Comparator::Eq,
            "!=" => Comparator::Ne,
            "<" => Comparator::Lt,
            "<=" => Comparator::Le,
            ">" => Comparator::Gt,
            ">=" => Comparator::Ge,
            _ => {
                return Err(FilterError::Syntax {
                    at,
                    expected: expected(),
                    found: describe(op),
                });
            }
        });
    }
    let Some(word) = cur.peek_word() else {
        return Err(syntax(cur, expected()));
    };
    let upper = word.to_ascii_uppercase();
    let simple = match upper.as_str() {
        "LIKE" => Some(Comparator::Like),
        "ILIKE" => Some(Comparator::ILike),
        "IN" => Some(Comparator::In),
        _ => None,
    };
    if let Some(comparator) = simple {
        cur.word();
        return Ok(comparator);
    }
    match upper.as_str() {
        "NOT" => {
            cur.word();
            cur.skip_ws();
            if cur.keyword("IN") {
                Ok(Comparator::NotIn)
            } else {
                Err(syntax(
                    cur,
                    "`IN` after `NOT` (`NOT IN` is the only negated comparator)",
                ))
            }
        }
        "IS" => {
            cur.word();
            cur.skip_ws();
            if cur.keyword("NULL") {
                return Ok(Comparator::IsNull);
            }
            if cur.keyword("NOT") {
                cur.skip_ws();
                if cur.keyword("NULL") {
                    return Ok(Comparator::IsNotNull);
                }
            }
            Err(syntax(cur, "`NULL` or `NOT NULL` after `IS`"))
        }
        _ => Err(syntax(cur, expected())),
    }
}

/// A hint for an unquoted key cut short by punctuation (`metrics.val/loss`).
fn punctuation_hint(ident: &str, cur: &Cursor<'_>) -> &'static str {
    let glued = ident.ends_with(is_word_char)
        && cur
            .rest()
            .starts_with(['/', '-', ':', '.', '@', '#', '$', '%', '&', '+', '*', '?']);
    if glued {
        " (put a key with punctuation or spaces in backticks, e.g. metrics.`val/loss`)"
    } else {
        ""
    }
}

/// Refuses a comparator the field does not support, as MLflow's search does.
fn check_comparator(
    field: &Field,
    comparator: Comparator,
    at: usize,
    written: &str,
) -> Result<(), FilterError> {
    use Comparator::*;
    let (ok, allowed) = match field {
        Field::Metric(_) => (
            matches!(comparator, Eq | Ne | Lt | Le | Gt | Ge),
            "`=`, `!=`, `<`, `<=`, `>`, `>=`",
        ),
        Field::Attribute(a) if a.is_numeric() => (
            matches!(comparator, Eq | Ne | Lt | Le | Gt | Ge),
            "`=`, `!=`, `<`, `<=`, `>`, `>=`",
        ),
        Field::Param(_) | Field::Tag(_) => (
            matches!(comparator, Eq | Ne | Like | ILike | IsNull | IsNotNull),
            "`=`, `!=`, `LIKE`, `ILIKE`, `IS NULL`, `IS NOT NULL`",
        ),
        Field::Attribute(Attribute::RunId) => (
            matches!(comparator, Eq | Ne | Like | ILike | In | NotIn),
            "`=`, `!=`, `LIKE`, `ILIKE`, `IN`, `NOT IN`",
        ),
        Field::Attribute(_) => (
            matches!(comparator, Eq | Ne | Like | ILike),
            "`=`, `!=`, `LIKE`, `ILIKE` (`IN` and `NOT IN` only for `run_id`)",
        ),
        Field::Dataset(_) => (
            matches!(comparator, Eq | Ne | Like | ILike | In | NotIn),
            "`=`, `!=`, `LIKE`, `ILIKE`, `IN`, `NOT IN`",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(FilterError::Comparator {
            at,
            comparator: written.to_owned(),
            field: field.to_string(),
            allowed,
        })
    }
}

/// A number or a quoted string, whichever the field takes.
fn parse_scalar(cur: &mut Cursor<'_>, field: &Field) -> Result<Value, FilterError> {
    let at = cur.pos();
    let wrong = |cur: &Cursor<'_>, expected| FilterError::Value {
        at,
        field: field.to_string(),
        expected,
        found: cur.describe_next(),
    };
    if field.is_numeric() {
        match cur.number() {
            Some((_, value)) => Ok(Value::Number(value)),
            None => Err(wrong(cur, "a number")),
        }
    } else {
        match cur.sql_string()? {
            Some(q) => Ok(Value::String(q.text.to_owned())),
            None => Err(wrong(cur, "a quoted string ('…' or \"…\")")),
        }
    }
}

/// `('a', "b", …)`: Python string literals, as MLflow reads the list (with
/// `ast.literal_eval`): escapes are processed and adjacent literals concatenate.
fn parse_list(cur: &mut Cursor<'_>, field: &Field) -> Result<Value, FilterError> {
    let open = cur.pos();
    if !cur.eat('(') {
        return Err(FilterError::Value {
            at: open,
            field: field.to_string(),
            expected: "a list of quoted strings in parentheses",
            found: cur.describe_next(),
        });
    }
    let mut items = Vec::new();
    loop {
        cur.skip_ws();
        if cur.eat(')') {
            break;
        }
        let Some(mut item) = python_string(cur)? else {
            if cur.at_end() {
                return Err(FilterError::Unterminated {
                    at: open,
                    what: "list",
                });
            }
            return Err(FilterError::Value {
                at: cur.pos(),
                field: field.to_string(),
                expected: "a quoted string in the list",
                found: cur.describe_next(),
            });
        };
        loop {
            cur.skip_ws();
            match python_string(cur)? {
                Some(more) => item.push_str(&more),
                None => break,
            }
        }
        items.push(item);
        if cur.eat(',') {
            continue;
        }
        if cur.eat(')') {
            break;
        }
        if cur.at_end() {
            return Err(FilterError::Unterminated {
                at: open,
                what: "list",
            });
        }
        return Err(syntax(cur, "`,` or `)` in the list"));
    }
    if items.is_empty() {
        return Err(FilterError::Value {
            at: open,
            field: field.to_string(),
            expected: "a non-empty list of quoted strings",
            found: "`()`".to_owned(),
        });
    }
    Ok(Value::List(items))
}

/// One Python string literal, `'…'` or `"…"`, with its escapes processed. `None` if no
/// quote is next.
fn python_string(cur: &mut Cursor<'_>) -> Result<Option<String>, FilterError> {
    let Some(quote) = cur.peek().filter(|c| *c == '\'' || *c == '"') else {
        return Ok(None);
    };
    let open = cur.pos();
    let unterminated = FilterError::Unterminated {
        at: open,
        what: "string",
    };
    let mut chars = cur.rest().char_indices().skip(1).peekable();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => {
                cur.advance(i + c.len_utf8());
                return Ok(Some(out));
            }
            '\n' | '\r' => return Err(unterminated),
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    return Err(unterminated);
                };
                match e {
                    '\n' => {}
                    '\\' | '\'' | '"' => out.push(e),
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    '0'..='7' => {
                        let mut code = e.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            match chars.peek().and_then(|(_, d)| d.to_digit(8)) {
                                Some(d) => {
                                    code = code * 8 + d;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        out.extend(char::from_u32(code));
                    }
                    'x' | 'u' | 'U' => {
                        let len = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut code = 0u32;
                        for _ in 0..len {
                            let digit = chars.next().and_then(|(_, d)| d.to_digit(16));
                            let Some(d) = digit else {
                                return Err(FilterError::Syntax {
                                    at: open + i,
                                    expected: format!("{len} hex digits after `\\{e}`"),
                                    found: "something else".to_owned(),
                                });
                            };
                            code = code * 16 + d;
                        }
                        match char::from_u32(code) {
                            Some(ch) => out.push(ch),
                            None => {
                                return Err(FilterError::Syntax {
                                    at: open + i,
                                    expected: "a Unicode scalar value".to_owned(),
                                    found: format!("`\\{e}{code:x}`"),
                                });
                            }
                        }
                    }
                    other => {
                        // Python keeps unknown escapes as written.
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            c => out.push(c),
        }
    }
    Err(unterminated)
}

/// `metrics.rmse DESC`, `start_time`, …: a field and an optional direction, nothing around.
pub(crate) fn parse_order_key(text: &str) -> Result<(Field, bool), FilterError> {
    let mut cur = Cursor::new(text);
    if cur.peek().is_some_and(char::is_whitespace) {
        return Err(FilterError::Syntax {
            at: 0,
            expected: "a field to sort on (MLflow allows no leading whitespace)".to_owned(),
            found: "whitespace".to_owned(),
        });
    }
    let ident = parse_ident(&mut cur, Context::OrderBy)?;
    if let Field::Dataset(_) = ident.field {
        return Err(FilterError::Syntax {
            at: ident.at,
            expected: "a metric, param, tag or attribute to sort on".to_owned(),
            found: describe(ident.text),
        });
    }
    if cur.at_end() {
        return Ok((ident.field, true));
    }
    if !cur.skip_ws() {
        let hint = punctuation_hint(ident.text, &cur);
        return Err(syntax(
            &cur,
            format!(
                "whitespace and `ASC` or `DESC` after `{}`{hint}",
                ident.text
            ),
        ));
    }
    let ascending = if cur.keyword("ASC") {
        true
    } else if cur.keyword("DESC") {
        false
    } else {
        let expected = if cur.at_end() {
            "`ASC` or `DESC` (MLflow allows no trailing whitespace)"
        } else {
            "`ASC` or `DESC`"
        };
        return Err(syntax(&cur, expected));
    };
    if !cur.at_end() {
        let at_space = cur.clone();
        cur.skip_ws();
        return Err(if cur.at_end() {
            syntax(
                &at_space,
                "the end of the clause (MLflow allows no trailing whitespace)",
            )
        } else {
            syntax(
                &cur,
                "the end of the clause (one field and direction per clause)",
            )
        });
    }
    Ok((ident.field, ascending))
}
