//! The one validation engine behind every name, key and path type.
//!
//! Each type describes itself with a [`Spec`]; [`Spec::check`] applies the bad-input checklist
//! in a fixed order, so the same input always fails on the same, most telling rule. Nothing is
//! normalised or decoded: a value is accepted exactly as given, or refused.

use unicode_normalization::{IsNormalized, is_nfc_quick};

use crate::error::{Error, Result, Rule};

/// The longest `/`-separated segment: the common file-system limit for one name.
pub(crate) const MAX_SEGMENT_BYTES: usize = 255;

/// How one kind of value is validated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// What the value is, for messages: `"model name"`.
    pub(crate) kind: &'static str,
    /// Longest value, in bytes of UTF-8.
    pub(crate) max_bytes: usize,
    /// Whether `/` separates segments. When false, `/` is a forbidden character.
    pub(crate) segments: bool,
    /// ASCII punctuation allowed besides ASCII letters and digits.
    pub(crate) punctuation: &'static str,
    /// Whether non-ASCII letters and digits are allowed (the value must then be NFC).
    pub(crate) unicode: bool,
    /// The allowed characters, in words, for messages.
    pub(crate) allowed: &'static str,
}

impl Spec {
    /// Checks `value` against every rule; returns the first rule broken.
    pub(crate) fn check(&self, value: &str) -> Result<()> {
        self.first_broken(value)
            .map_or(Ok(()), |rule| Err(Error::invalid(self.kind, value, rule)))
    }

    fn first_broken(&self, value: &str) -> Option<Rule> {
        if value.is_empty() {
            return Some(Rule::Empty);
        }
        if value.len() > self.max_bytes {
            return Some(Rule::TooLong {
                max: self.max_bytes,
                len: value.len(),
                unit: "bytes",
            });
        }
        // Injection-class characters first, whatever else is wrong with the value.
        if let Some(ch) = value.chars().find(|c| c.is_control()) {
            return Some(Rule::ControlCharacter { ch });
        }
        if value.contains('%') {
            return Some(Rule::PercentEncoding);
        }
        if is_absolute(value, !self.punctuation.contains(':')) {
            return Some(Rule::Absolute);
        }
        if value.contains('\\') {
            return Some(Rule::Backslash);
        }
        if self.segments {
            for segment in value.split('/') {
                if let Some(rule) = segment_rule(segment) {
                    return Some(rule);
                }
            }
        } else if let Some(rule) = segment_rule(value).filter(|r| *r != Rule::EmptySegment) {
            return Some(rule);
        }
        if let Some(ch) = value.chars().find(|&c| !self.allows(c)) {
            return Some(Rule::ForbiddenCharacter {
                ch,
                allowed: self.allowed,
            });
        }
        if !value.is_ascii() && !is_nfc(value) {
            return Some(Rule::NotNfc);
        }
        None
    }

    fn allows(&self, c: char) -> bool {
        if c.is_ascii_alphanumeric() || (self.segments && c == '/') {
            return true;
        }
        if c.is_ascii() {
            return self.punctuation.contains(c);
        }
        self.unicode && c.is_alphanumeric()
    }
}

/// `/x`, `//server/share`, `\\server\share`, `\x`, `C:`, `C:/x` or `C:\x`: a value that
/// would leave any prefix it is joined to, on some platform. Drive prefixes count only where
/// `:` is not an allowed character anyway: `a:loss` is a fine MLflow metric key.
fn is_absolute(value: &str, drive_letters: bool) -> bool {
    let bytes = value.as_bytes();
    value.starts_with(['/', '\\'])
        || (drive_letters && bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
}

/// The rule a single segment breaks, if any.
fn segment_rule(segment: &str) -> Option<Rule> {
    if segment.is_empty() {
        return Some(Rule::EmptySegment);
    }
    if segment == "." || segment == ".." {
        return Some(Rule::DotSegment);
    }
    if segment.len() > MAX_SEGMENT_BYTES {
        return Some(Rule::SegmentTooLong {
            max: MAX_SEGMENT_BYTES,
            segment: segment.to_owned(),
        });
    }
    if segment.starts_with(char::is_whitespace) || segment.ends_with(char::is_whitespace) {
        return Some(Rule::SurroundingWhitespace);
    }
    None
}

fn is_nfc(value: &str) -> bool {
    match is_nfc_quick(value.chars()) {
        IsNormalized::Yes => true,
        IsNormalized::No => false,
        IsNormalized::Maybe => unicode_normalization::is_nfc(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec = Spec {
        kind: "thing",
        max_bytes: 64,
        segments: true,
        punctuation: "_-. ",
        unicode: true,
        allowed: "letters",
    };

    fn rule(value: &str) -> Option<Rule> {
        SPEC.first_broken(value)
    }

    #[test]
    fn the_most_telling_rule_wins() {
        // A traversal that also hides a NUL reports the NUL.
        assert_eq!(rule("../a\0"), Some(Rule::ControlCharacter { ch: '\0' }));
        // An encoded traversal reports the percent sign, never what it decodes to.
        assert_eq!(rule("%2e%2e/x"), Some(Rule::PercentEncoding));
        assert_eq!(rule("a/../b"), Some(Rule::DotSegment));
    }

    #[test]
    fn nfc_is_required_for_non_ascii() {
        assert_eq!(rule("caf\u{e9}"), None);
        // The NFD spelling has a combining mark, which is not alphanumeric.
        assert!(matches!(
            rule("cafe\u{301}"),
            Some(Rule::ForbiddenCharacter { ch: '\u{301}', .. })
        ));
        // A compatibility character NFC would keep but a composed pair it would change:
        // U+0041 U+030A (A + ring) is not NFC; U+00C5 is.
        assert_eq!(rule("\u{c5}"), None);
    }

    #[test]
    fn whole_value_rules_apply_without_segments() {
        let flat = Spec {
            segments: false,
            ..SPEC
        };
        assert_eq!(flat.first_broken(".."), Some(Rule::DotSegment));
        assert_eq!(flat.first_broken(" a"), Some(Rule::SurroundingWhitespace));
        assert!(matches!(
            flat.first_broken("a/b"),
            Some(Rule::ForbiddenCharacter { ch: '/', .. })
        ));
    }
}
