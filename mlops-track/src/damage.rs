//! [`Damage`]: what a store's readers skipped, so that a caller can say a listing is
//! incomplete instead of printing less as if nothing were wrong.

use serde::Serialize;

/// One damaged object a read skipped: the object's key and what was wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Damage {
    /// The object (or folder) that was skipped, as a key of the store.
    pub key: String,
    /// Why it was skipped.
    pub reason: String,
}

impl Damage {
    /// A damaged object.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}
