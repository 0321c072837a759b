//! What both backends check the same way: who acts (actors and approvers), description
//! sizes, and the SHA-256 digests that files are recorded and verified with.

use sha2::{Digest, Sha256};

use crate::error::{RegistryError, Result};

/// The longest description accepted (64 KiB).
pub(crate) const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;

/// Checks a person's or process's name as recorded in the log.
pub(crate) fn check_actor(kind: &'static str, actor: &str) -> Result<()> {
    let problem = if actor.trim().is_empty() {
        Some("must name someone")
    } else if actor.len() > 255 {
        Some("is longer than 255 bytes")
    } else if actor.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if actor.trim() != actor {
        Some("must not start or end with whitespace")
    } else {
        None
    };
    match problem {
        Some(why) => Err(RegistryError::InvalidArgument(format!(
            "{kind} {actor:?} {why}"
        ))),
        None => Ok(()),
    }
}

/// Refuses a description (or comment) longer than [`MAX_DESCRIPTION_BYTES`].
pub(crate) fn check_description(description: &str) -> Result<()> {
    if description.len() > MAX_DESCRIPTION_BYTES {
        return Err(RegistryError::InvalidArgument(format!(
            "a description is {} bytes long, the limit is {MAX_DESCRIPTION_BYTES}",
            description.len()
        )));
    }
    Ok(())
}

/// The actor a handle acts as by default: `$USER` when it is a valid actor, else `unknown`.
pub fn default_actor() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| check_actor("actor", u).is_ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest.iter() {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}
