//! A request's query string or form body as ordered pairs: repeated keys (`col=a&col=b`)
//! are kept, which the column picker and the comparison need.

/// Decoded `key=value` pairs, in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pairs(Vec<(String, String)>);

/// The longest query string or form body parsed (a filter is short; this bounds the work).
pub(crate) const MAX_LEN: usize = 16 * 1024;

impl Pairs {
    /// Parses an `application/x-www-form-urlencoded` text (a query string or a form body).
    pub(crate) fn parse(text: Option<&str>) -> crate::Result<Self> {
        let text = text.unwrap_or_default();
        if text.len() > MAX_LEN {
            return Err(crate::UiError::BadRequest(format!(
                "query longer than {MAX_LEN} bytes"
            )));
        }
        Ok(Self(
            url::form_urlencoded::parse(text.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }

    /// The first value of `key`, if not empty.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// Every non-empty value of `key`.
    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect()
    }

    /// A number, or `default` when absent; a bad one is a 400 naming it.
    pub(crate) fn number(&self, key: &str, default: usize) -> crate::Result<usize> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| crate::UiError::BadRequest(format!("{key}={v:?} is not a number"))),
        }
    }
}

/// A query string from pairs, percent-encoded.
pub(crate) fn encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}

/// One path segment, percent-encoded (model names and metric keys may hold `/` or spaces).
pub(crate) fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
