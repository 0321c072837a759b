//! A damaged store is said, never hidden behind a shorter answer: each object the reads
//! skipped is a warning on stderr (through `tracing`), JSON output carries a `damaged` list,
//! and `runs list`/`runs show`/`experiments list` exit 1 unless `--allow-damaged` is given.
//! The table and the JSON hold the same rows; only the exit code and stderr say "damaged".

use mlops::track::Damage;
use serde::Serialize;
use serde_json::json;

use crate::output::json;
use crate::{Result, exit};

/// A list as JSON: the bare array when nothing was skipped (what scripts read today), else
/// `{"<name>": [...], "damaged": [{"key", "reason"}, ...]}`.
pub(crate) fn json_list(name: &str, items: &impl Serialize, damaged: &[Damage]) -> Result<()> {
    if damaged.is_empty() {
        return json(items);
    }
    let mut object = serde_json::Map::new();
    object.insert(name.to_owned(), serde_json::to_value(items)?);
    object.insert("damaged".to_owned(), json!(damaged));
    json(&object)
}

/// The exit code of a read command: an error naming the damage unless `allow`.
pub(crate) fn verdict(damaged: &[Damage], allow: bool) -> Result<u8> {
    if damaged.is_empty() || allow {
        return Ok(exit::OK);
    }
    Err(format!(
        "the store is damaged: {} object(s) could not be read and were left out (first: {}); \
         pass --allow-damaged to accept a partial answer",
        damaged.len(),
        damaged[0]
    )
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damage_fails_unless_allowed() {
        assert_eq!(verdict(&[], false).unwrap(), exit::OK);
        let damaged = [Damage::new("runs/x/meta/0000000000.jsonl", "torn")];
        let err = verdict(&damaged, false).unwrap_err().to_string();
        assert!(err.contains("runs/x/meta/0000000000.jsonl"), "{err}");
        assert_eq!(verdict(&damaged, true).unwrap(), exit::OK);
    }
}
