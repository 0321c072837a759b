//! The scanner under the filter and order-by parsers: a cursor over the text with one
//! method per kind of token. The parser asks for the token kind the grammar expects next,
//! so the same characters can be a key in one place (`metrics.1abc`) and a number in
//! another (`> 1`).
//!
//! Token shapes follow what MLflow's parser (sqlparse) accepts:
//!
//! - words are runs of Unicode letters, digits and `_` (Python's `\w`);
//! - strings are `'…'` or `"…"`; a doubled quote (`''`) or a backslash-quote (`\'`) does
//!   not end the string, and the text between the outer quotes is kept **verbatim**, with no
//!   escape processing, exactly as MLflow keeps it;
//! - numbers are `-?digits`, `-?digits.digits*`, `-?.digits` and `-?digits(.digits)?e-?digits`
//!   (no `+`, no hexadecimal, no `inf`/`NaN`), and a number directly followed by a letter or
//!   `_` is not a number;
//! - comparators are the runs of `<>=~!`.

use super::error::FilterError;

/// Python's `\w`, near enough: Unicode letters and digits, and `_`.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A string literal: its verbatim content and where it starts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quoted<'a> {
    /// The text between the quotes, unprocessed.
    pub(crate) text: &'a str,
    /// The quote character.
    pub(crate) quote: char,
}

/// A position in the text and the scanning primitives.
#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    /// The byte offset of the next character.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    /// The text from `start` to the current position.
    pub(crate) fn since(&self, start: usize) -> &'a str {
        self.src.get(start..self.pos).unwrap_or("")
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Moves `bytes` forward (to a character boundary the caller found in [`Cursor::rest`]).
    pub(crate) fn advance(&mut self, bytes: usize) {
        self.pos = (self.pos + bytes).min(self.src.len());
    }

    /// Consumes `c` if it is next.
    pub(crate) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// Skips whitespace; whether there was any.
    pub(crate) fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
        self.pos > start
    }

    /// A run of word characters.
    pub(crate) fn word(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(is_word_char) {
            self.bump();
        }
        (self.pos > start).then(|| self.since(start))
    }

    /// The next word, case-insensitively equal to `keyword`, if it is one; the cursor moves
    /// only when it is.
    pub(crate) fn keyword(&mut self, keyword: &str) -> bool {
        let mut probe = self.clone();
        match probe.word() {
            Some(w) if w.eq_ignore_ascii_case(keyword) => {
                *self = probe;
                true
            }
            _ => false,
        }
    }

    /// The next word without consuming it.
    pub(crate) fn peek_word(&self) -> Option<&'a str> {
        self.clone().word()
    }

    /// A run of comparison characters, `<>=~!`.
    pub(crate) fn operator(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(|c| "<>=~!".contains(c)) {
            self.bump();
        }
        (self.pos > start).then(|| self.since(start))
    }

    /// A `'…'` or `"…"` literal with MLflow's (sqlparse's) rules: `''` and `\'` do not end
    /// it, and its content is kept verbatim. `None` if no quote is next.
    pub(crate) fn sql_string(&mut self) -> Result<Option<Quoted<'a>>, FilterError> {
        let Some(quote) = self.peek().filter(|c| *c == '\'' || *c == '"') else {
            return Ok(None);
        };
        let open = self.pos;
        self.bump();
        let content_start = self.pos;
        loop {
            match self.bump() {
                None => {
                    return Err(FilterError::Unterminated {
                        at: open,
                        what: "string",
                    });
                }
                Some('\\') if self.peek() == Some(quote) => {
                    self.bump();
                }
                Some(c) if c == quote => {
                    if self.peek() == Some(quote) {
                        self.bump();
                    } else {
                        let end = self.pos - c.len_utf8();
                        let text = self.src.get(content_start..end).unwrap_or("");
                        return Ok(Some(Quoted { text, quote }));
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// A key or name in backticks, double or single quotes: the text up to the next quote of
    /// the same kind (keys cannot contain quotes). `None` if `quotes` has none next.
    pub(crate) fn quoted_name(&mut self, quotes: &str) -> Result<Option<Quoted<'a>>, FilterError> {
        let Some(quote) = self.peek().filter(|c| quotes.contains(*c)) else {
            return Ok(None);
        };
        let open = self.pos;
        self.bump();
        let start = self.pos;
        match self.rest().find(quote) {
            Some(len) => {
                self.pos += len;
                let text = self.since(start);
                self.bump();
                Ok(Some(Quoted { text, quote }))
            }
            None => Err(FilterError::Unterminated {
                at: open,
                what: "quoted name",
            }),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        self.pos - start
    }

    /// A number in MLflow's literal forms, as its text and value. `None` (and the cursor
    /// unmoved) if what follows is not a number.
    pub(crate) fn number(&mut self) -> Option<(&'a str, f64)> {
        let start = self.pos;
        let mut probe = self.clone();
        probe.eat('-');
        let int_digits = probe.digits();
        let mut exponent_form = false;
        if int_digits > 0 {
            let mut with_fraction = probe.clone();
            let fraction_digits = if with_fraction.eat('.') {
                with_fraction.digits()
            } else {
                0
            };
            // `digits(.digits)?e-?digits`
            let mut exp = if fraction_digits > 0 {
                with_fraction.clone()
            } else {
                probe.clone()
            };
            if exp.peek().is_some_and(|c| c == 'e' || c == 'E') {
                exp.bump();
                exp.eat('-');
                if exp.digits() > 0 {
                    probe = exp;
                    exponent_form = true;
                }
            }
            if !exponent_form && with_fraction.pos > probe.pos {
                probe = with_fraction;
            }
        } else if probe.eat('.') {
            if probe.digits() == 0 {
                return None;
            }
        } else {
            return None;
        }
        // sqlparse refuses a plain or decimal number glued to a letter or `_` (`1abc`,
        // `1_000`); the exponent form has no such rule, but what follows it is then an
        // error anyway.
        if !exponent_form && probe.peek().is_some_and(is_word_char) {
            return None;
        }
        let text = probe.since(start);
        let value = text.parse::<f64>().ok()?;
        *self = probe;
        Some((text, value))
    }

    /// A short description of what comes next, for error messages: `` `==` ``, `` `'abc'` ``,
    /// `end of input`, …
    pub(crate) fn describe_next(&self) -> String {
        let mut probe = self.clone();
        if probe.at_end() {
            return "end of input".to_owned();
        }
        let start = probe.pos;
        if probe.number().is_none()
            && probe.word().is_none()
            && probe.operator().is_none()
            && !matches!(probe.sql_string(), Ok(Some(_)))
        {
            probe = self.clone();
            probe.bump();
        }
        describe(probe.since(start))
    }
}

/// `text` in backticks, shortened if long.
pub(crate) fn describe(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() > MAX {
        let short: String = text.chars().take(MAX).collect();
        format!("`{short}…`")
    } else {
        format!("`{text}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str) -> Option<(String, f64)> {
        let mut c = Cursor::new(text);
        c.number().map(|(t, v)| (t.to_owned(), v))
    }

    #[test]
    fn numbers_take_mlflows_forms() {
        for (text, lexeme, value) in [
            ("1", "1", 1.0),
            ("-1", "-1", -1.0),
            ("0.5", "0.5", 0.5),
            (".5", ".5", 0.5),
            ("-.5", "-.5", -0.5),
            ("5.", "5.", 5.0),
            ("01", "01", 1.0),
            ("1e-3", "1e-3", 1e-3),
            ("1E5", "1E5", 1e5),
            ("-1.5E-3", "-1.5E-3", -1.5e-3),
            ("2 AND", "2", 2.0),
            ("3)", "3", 3.0),
            ("1e5x", "1e5", 1e5),
        ] {
            assert_eq!(number(text), Some((lexeme.to_owned(), value)), "{text}");
        }
        for text in [
            "-", "- 1", "+1", "abc", "1abc", "1_000", "1.e5", ".", "-.", "1e+5",
        ] {
            assert_eq!(number(text), None, "{text}");
        }
    }

    #[test]
    fn strings_keep_their_text_verbatim() {
        for (text, content) in [
            ("'abc'", "abc"),
            ("''", ""),
            ("'it''s'", "it''s"),
            (r"'a\'b'", r"a\'b"),
            (r#""a""b""#, r#"a""b"#),
            (r#""it's""#, "it's"),
            ("'a\nb' rest", "a\nb"),
        ] {
            let mut c = Cursor::new(text);
            let q = c.sql_string().unwrap().unwrap();
            assert_eq!(q.text, content, "{text}");
        }
        let mut c = Cursor::new("'open");
        assert_eq!(
            c.sql_string().unwrap_err(),
            FilterError::Unterminated {
                at: 0,
                what: "string"
            }
        );
    }

    #[test]
    fn words_and_operators() {
        let mut c = Cursor::new("über_1.x>=!");
        assert_eq!(c.word(), Some("über_1"));
        assert!(c.eat('.'));
        assert_eq!(c.word(), Some("x"));
        assert_eq!(c.operator(), Some(">=!"));
        assert!(c.at_end());
        assert_eq!(Cursor::new("").describe_next(), "end of input");
        assert_eq!(Cursor::new("== 1").describe_next(), "`==`");
        assert_eq!(Cursor::new("'a b' x").describe_next(), "`'a b'`");
        assert_eq!(Cursor::new("(x").describe_next(), "`(`");
    }
}
