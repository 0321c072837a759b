//! Reviewers and their tokens: who may approve or reject, so that the audit log names a
//! person, not "the UI".
//!
//! Tokens are kept only as SHA-256 digests and compared with `subtle::ConstantTimeEq`
//! against every reviewer (no early exit on the first match), so neither the comparison nor
//! the position of the matching reviewer leaks through timing. Hashing first also makes the
//! comparison independent of the presented token's length.

use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::error::{Result, UiError};

/// The longest reviewers file read (a list of names and tokens, never large).
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// The shortest token accepted: 16 characters (a guessable token defeats the point).
pub const MIN_TOKEN_CHARS: usize = 16;

/// The reviewers who may approve or reject, each with a secret token.
#[derive(Clone, Default)]
pub struct Reviewers {
    entries: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for Reviewers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: digests of tokens stay out of logs.
        let names: Vec<&str> = self.entries.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Reviewers").field("names", &names).finish()
    }
}

impl Reviewers {
    /// No reviewers: every approval is refused (read-only UI).
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds a reviewer. The name must be 1–64 printable characters without `:`; the token
    /// at least [`MIN_TOKEN_CHARS`] characters.
    ///
    /// # Errors
    ///
    /// [`UiError::Reviewers`] naming the reviewer when either is refused or the name is taken.
    pub fn add(&mut self, name: &str, token: &str) -> Result<()> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > 64
            || name.contains(':')
            || name.chars().any(char::is_control)
        {
            return Err(UiError::Reviewers(format!(
                "reviewer name {name:?} must be 1-64 printable characters without ':'"
            )));
        }
        if token.chars().count() < MIN_TOKEN_CHARS {
            return Err(UiError::Reviewers(format!(
                "the token of reviewer {name:?} is shorter than {MIN_TOKEN_CHARS} characters"
            )));
        }
        if self.entries.iter().any(|(n, _)| n == name) {
            return Err(UiError::Reviewers(format!(
                "reviewer {name:?} is listed twice"
            )));
        }
        self.entries.push((name.to_owned(), digest(token)));
        Ok(())
    }

    /// Parses `name:token` lines (blank lines and `#` comments skipped), the format of a
    /// reviewers file and of the `MLOPS_UI_REVIEWERS` variable (where `,` also separates).
    ///
    /// # Errors
    ///
    /// [`UiError::Reviewers`] naming the line.
    pub fn parse(text: &str) -> Result<Self> {
        let mut reviewers = Self::none();
        for (n, line) in text.split(['\n', ',']).enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, token)) = line.split_once(':') else {
                return Err(UiError::Reviewers(format!(
                    "entry {} is not `name:token`",
                    n + 1
                )));
            };
            reviewers.add(name, token.trim())?;
        }
        Ok(reviewers)
    }

    /// Reads a reviewers file (`name:token` lines, at most 64 KiB, a regular file).
    ///
    /// # Errors
    ///
    /// [`UiError::Reviewers`] naming the file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = mlops_core::read_local_file(path, MAX_FILE_BYTES)
            .map_err(|e| UiError::Reviewers(format!("{}: {e}", path.display())))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| UiError::Reviewers(format!("{} is not UTF-8", path.display())))?;
        Self::parse(&text)
    }

    /// How many reviewers there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The reviewer whose token this is, compared in constant time against every entry.
    pub fn identify(&self, token: &str) -> Option<&str> {
        let presented = digest(token.trim());
        let mut found: Option<&str> = None;
        for (name, expected) in &self.entries {
            let hit: Choice = presented.ct_eq(expected);
            if bool::from(hit) && found.is_none() {
                found = Some(name);
            }
        }
        found
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifies_by_token_and_refuses_weak_entries() {
        let r =
            Reviewers::parse("# team\nalice:aaaaaaaaaaaaaaaa1\n\nbob: bbbbbbbbbbbbbbbb2 ").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.identify("aaaaaaaaaaaaaaaa1"), Some("alice"));
        assert_eq!(r.identify("bbbbbbbbbbbbbbbb2"), Some("bob"));
        assert_eq!(r.identify("aaaaaaaaaaaaaaaa"), None);
        assert_eq!(r.identify(""), None);
        assert!(Reviewers::parse("carol:short").is_err());
        assert!(Reviewers::parse("no-colon").is_err());
        assert!(Reviewers::parse("a:aaaaaaaaaaaaaaaa1\na:bbbbbbbbbbbbbbbb2").is_err());
        assert!(!format!("{r:?}").contains("aaaa"));
    }
}
