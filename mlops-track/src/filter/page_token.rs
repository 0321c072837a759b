//! Page tokens and page sizes.
//!
//! MLflow's token is the base64 of `{"offset": N}`: any token works with any query, so a
//! client that changes its filter between pages silently gets the wrong rows. Ours is
//! opaque and carries a fingerprint of the query, so a token used with a different filter,
//! order or scope is refused with [`FilterError::PageTokenMismatch`]:
//!
//! ```text
//! base64url( version:u8 = 1 | offset:u64 BE | query fingerprint:8 bytes | check:4 bytes )
//! ```
//!
//! The fingerprint is a 64-bit FNV-1a hash of the *parsed* query (so `metrics.x>1` and
//! `metrics.x > 1` are the same query, and `created` is `start_time`) and of the caller's
//! scope strings (experiment ids, view type); the check is FNV-1a over the bytes before
//! it, and catches truncated or edited tokens. Neither is a secret or a signature: like
//! MLflow's, a token grants nothing a new query could not.

use super::ast::{Field, Filter, Value};
use super::error::FilterError;
use super::order::OrderBy;

/// MLflow's default page size for run searches (`SEARCH_MAX_RESULTS_DEFAULT`).
pub const MAX_RESULTS_DEFAULT: usize = 1000;
/// MLflow's largest page size for run searches (`SEARCH_MAX_RESULTS_THRESHOLD`).
pub const MAX_RESULTS_LIMIT: usize = 50_000;

/// A page size MLflow accepts: 1 to [`MAX_RESULTS_LIMIT`]; [`MAX_RESULTS_DEFAULT`] by
/// default.
///
/// ```
/// use mlops_track::filter::MaxResults;
/// assert_eq!(MaxResults::new(50_000)?.get(), 50_000);
/// assert_eq!(MaxResults::default().get(), 1000);
/// assert!(MaxResults::new(0).is_err());
/// assert!(MaxResults::new(50_001).is_err());
/// # Ok::<(), mlops_track::filter::FilterError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MaxResults(usize);

impl MaxResults {
    /// Checks a page size.
    pub fn new(value: i64) -> Result<Self, FilterError> {
        match usize::try_from(value) {
            Ok(n) if (1..=MAX_RESULTS_LIMIT).contains(&n) => Ok(Self(n)),
            _ => Err(FilterError::MaxResults {
                value,
                limit: MAX_RESULTS_LIMIT,
            }),
        }
    }

    /// The page size.
    pub fn get(self) -> usize {
        self.0
    }
}

impl Default for MaxResults {
    fn default() -> Self {
        Self(MAX_RESULTS_DEFAULT)
    }
}

impl TryFrom<usize> for MaxResults {
    type Error = FilterError;
    fn try_from(value: usize) -> Result<Self, FilterError> {
        Self::new(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

/// A fingerprint of a search: its parsed filter, its order and the caller's scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QueryFingerprint([u8; 8]);

impl QueryFingerprint {
    /// The fingerprint of a query. `scope` is whatever else decides the result set and is
    /// not in the filter: the experiment ids and the view type, typically.
    ///
    /// ```
    /// use mlops_track::filter::{Filter, OrderBy, QueryFingerprint};
    /// let a = QueryFingerprint::of(&Filter::parse("metrics.x>1")?, &OrderBy::default(), &["1"]);
    /// let b = QueryFingerprint::of(&Filter::parse(" metrics.x  >  1 ")?, &OrderBy::default(), &["1"]);
    /// let c = QueryFingerprint::of(&Filter::parse("metrics.x>1")?, &OrderBy::default(), &["2"]);
    /// assert_eq!(a, b);
    /// assert_ne!(a, c);
    /// # Ok::<(), mlops_track::filter::FilterError>(())
    /// ```
    pub fn of(filter: &Filter, order_by: &OrderBy, scope: &[&str]) -> Self {
        let mut h = Fnv::new();
        h.str("mlops-track run search v1");
        h.usize(filter.clauses().len());
        for clause in filter.clauses() {
            field(&mut h, clause.field());
            h.str(clause.comparator().as_str());
            match clause.value() {
                None => h.bytes(&[0]),
                Some(Value::Number(n)) => {
                    h.bytes(&[1]);
                    // -0.0 and 0.0 filter alike.
                    h.bytes(
                        &(if *n == 0.0 { 0.0f64 } else { *n })
                            .to_bits()
                            .to_be_bytes(),
                    );
                }
                Some(Value::String(s)) => {
                    h.bytes(&[2]);
                    h.str(s);
                }
                Some(Value::List(items)) => {
                    h.bytes(&[3]);
                    h.usize(items.len());
                    for item in items {
                        h.str(item);
                    }
                }
            }
        }
        h.usize(order_by.keys().len());
        for key in order_by.keys() {
            field(&mut h, key.field());
            h.bytes(&[u8::from(key.ascending())]);
        }
        h.usize(scope.len());
        for part in scope {
            h.str(part);
        }
        Self(h.finish().to_be_bytes())
    }
}

fn field(h: &mut Fnv, field: &Field) {
    h.str(field.kind());
    h.str(field.key());
}

/// 64-bit FNV-1a, with length-prefixed strings so that concatenations cannot collide.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn usize(&mut self, n: usize) {
        self.bytes(&(n as u64).to_be_bytes());
    }

    fn str(&mut self, s: &str) {
        self.usize(s.len());
        self.bytes(s.as_bytes());
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

const VERSION: u8 = 1;
const TOKEN_BYTES: usize = 1 + 8 + 8 + 4;

/// Where the next page starts, bound to the query that made it.
///
/// ```
/// use mlops_track::filter::{Filter, FilterError, OrderBy, PageToken, QueryFingerprint};
/// let query = QueryFingerprint::of(&Filter::parse("params.x = 'a'")?, &OrderBy::default(), &[]);
/// let token = PageToken::new(100, query).encode();
/// assert_eq!(PageToken::decode(&token, query)?.offset(), 100);
///
/// let other = QueryFingerprint::of(&Filter::parse("params.x = 'b'")?, &OrderBy::default(), &[]);
/// assert_eq!(PageToken::decode(&token, other), Err(FilterError::PageTokenMismatch));
/// # Ok::<(), FilterError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageToken {
    offset: usize,
    query: QueryFingerprint,
}

impl PageToken {
    /// A token for the page starting at `offset` of the query `query`.
    pub fn new(offset: usize, query: QueryFingerprint) -> Self {
        Self { offset, query }
    }

    /// The offset of the page's first run in the full, sorted result.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The opaque text form: 28 characters of URL-safe base64.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(TOKEN_BYTES);
        bytes.push(VERSION);
        bytes.extend_from_slice(&(self.offset as u64).to_be_bytes());
        bytes.extend_from_slice(&self.query.0);
        let mut check = Fnv::new();
        check.bytes(&bytes);
        bytes.extend_from_slice(&check.finish().to_be_bytes()[..4]);
        base64url_encode(&bytes)
    }

    /// Reads a token, refusing one that is damaged or was made for another query.
    pub fn decode(token: &str, query: QueryFingerprint) -> Result<Self, FilterError> {
        let invalid = |reason| FilterError::InvalidPageToken { reason };
        let bytes = base64url_decode(token).ok_or(invalid("not URL-safe base64"))?;
        let [version, rest @ ..] = bytes.as_slice() else {
            return Err(invalid("empty"));
        };
        if *version != VERSION {
            return Err(invalid("unknown version (not made by this library?)"));
        }
        let (Ok(offset), Ok(fingerprint), Ok(check)) = (
            <[u8; 8]>::try_from(rest.get(0..8).unwrap_or_default()),
            <[u8; 8]>::try_from(rest.get(8..16).unwrap_or_default()),
            <[u8; 4]>::try_from(rest.get(16..).unwrap_or_default()),
        ) else {
            return Err(invalid("wrong length"));
        };
        let mut expected = Fnv::new();
        expected.bytes(bytes.get(..17).unwrap_or_default());
        if expected.finish().to_be_bytes().get(..4) != Some(check.as_slice()) {
            return Err(invalid("checksum mismatch (damaged or edited)"));
        }
        if fingerprint != query.0 {
            return Err(FilterError::PageTokenMismatch);
        }
        let offset = usize::try_from(u64::from_be_bytes(offset))
            .map_err(|_| invalid("offset out of range"))?;
        Ok(Self {
            offset,
            query: QueryFingerprint(fingerprint),
        })
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding (RFC 4648 §5).
fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            let sextet = (n >> (18 - 6 * i)) & 63;
            out.extend(ALPHABET.get(sextet as usize).map(|c| char::from(*c)));
        }
    }
    out
}

/// The inverse of [`base64url_encode`]; `None` on any other character, on padding, or on a
/// length no encoding produces.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let sextets: Vec<u32> = text
        .bytes()
        .map(|c| ALPHABET.iter().position(|a| *a == c).map(|p| p as u32))
        .collect::<Option<_>>()?;
    for chunk in sextets.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, s)| n | (s << (18 - 6 * i)));
        let [_, b0, b1, b2] = n.to_be_bytes();
        out.extend_from_slice([b0, b1, b2].get(..chunk.len() - 1)?);
    }
    // One text per byte string: refuse non-zero padding bits.
    (base64url_encode(&out) == text).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = base64url_encode(&bytes);
            assert!(!text.contains(['+', '/', '=']));
            assert_eq!(base64url_decode(&text).unwrap(), bytes, "{len}");
        }
        assert_eq!(base64url_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url_encode(b"fo"), "Zm8");
        assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url_decode("A"), None);
        assert_eq!(base64url_decode("Zm9v+mFy"), None);
        assert_eq!(base64url_decode("Zm8="), None);
    }

    fn fingerprint(filter: &str) -> QueryFingerprint {
        QueryFingerprint::of(&Filter::parse(filter).unwrap(), &OrderBy::default(), &[])
    }

    #[test]
    fn tokens_round_trip_and_bind_to_their_query() {
        let q = fingerprint("metrics.x > 1");
        for offset in [0, 1, 999, 50_000, usize::MAX >> 1] {
            let token = PageToken::new(offset, q).encode();
            assert_eq!(token.len(), 28);
            assert_eq!(PageToken::decode(&token, q).unwrap().offset(), offset);
        }
        let token = PageToken::new(10, q).encode();
        assert_eq!(
            PageToken::decode(&token, fingerprint("metrics.x > 2")),
            Err(FilterError::PageTokenMismatch)
        );
    }

    #[test]
    fn damaged_tokens_are_refused() {
        let q = fingerprint("");
        let token = PageToken::new(10, q).encode();
        for bad in [
            String::new(),
            "!!!!".to_owned(),
            token[..27].to_owned(),
            format!("{token}AA"),
            // MLflow's own token for offset 10: base64 of {"offset": 10}.
            "eyJvZmZzZXQiOiAxMH0=".to_owned(),
        ] {
            assert!(
                matches!(
                    PageToken::decode(&bad, q),
                    Err(FilterError::InvalidPageToken { .. })
                ),
                "{bad:?}"
            );
        }
        // Flip each character: always refused, never a different offset.
        for i in 0..token.len() {
            let mut chars: Vec<char> = token.chars().collect();
            chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
            let edited: String = chars.into_iter().collect();
            assert!(PageToken::decode(&edited, q).is_err(), "{edited}");
        }
    }

    #[test]
    fn fingerprint_ignores_spelling_but_not_meaning() {
        assert_eq!(
            fingerprint("attributes.created > 5 and tags.`a` = 'x'"),
            fingerprint("start_time>5 AND tag.a='x'")
        );
        assert_ne!(fingerprint("params.a = 'x'"), fingerprint("tags.a = 'x'"));
        assert_ne!(
            fingerprint("params.a = 'x'"),
            fingerprint("params.a != 'x'")
        );
        assert_ne!(
            fingerprint("params.a = 'xy'"),
            fingerprint("params.a = 'x'")
        );
        let f = Filter::default();
        let asc = OrderBy::parse(&["metrics.m"]).unwrap();
        let desc = OrderBy::parse(&["metrics.m DESC"]).unwrap();
        assert_ne!(
            QueryFingerprint::of(&f, &asc, &[]),
            QueryFingerprint::of(&f, &desc, &[])
        );
        assert_ne!(
            QueryFingerprint::of(&f, &asc, &["1", "2"]),
            QueryFingerprint::of(&f, &asc, &["12"])
        );
    }
}
