//! Where everything lives under the datasets root (`<store root>/datasets/`):
//!
//! ```text
//! objects/sha256/ab/abcdef…            file contents and profiles, by SHA-256 (shared by all datasets)
//! sets/NAME/versions/0000000001.json   a version's manifest, created once, never rewritten
//! sets/NAME/content/CONTENT_ID         the claim of a content (one version per content)
//! sets/NAME/content/CONTENT_ID.version the version that content became
//! sets/NAME/aliases/ALIAS/0000000001.json  an alias's log: each move is a new entry
//! ```

use object_store::path::Path;

use crate::names::{DatasetAlias, DatasetName};

/// The keys of one datasets root.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    base: Path,
}

/// Version numbers and log slots as fixed-width decimal, so keys sort by number.
pub(crate) fn slot(n: u64) -> String {
    format!("{n:010}")
}

/// The number of a `0000000042.json` key's last segment.
pub(crate) fn parse_slot(key: &Path) -> Option<u64> {
    let file = key.filename()?;
    let digits = file.strip_suffix(".json")?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

impl Keys {
    pub(crate) fn new(base: Path) -> Self {
        Self { base }
    }

    pub(crate) fn object(&self, sha256: &str) -> Path {
        let fan = sha256.get(..2).unwrap_or("00");
        self.base
            .clone()
            .join("objects")
            .join("sha256")
            .join(fan)
            .join(sha256)
    }

    pub(crate) fn sets(&self) -> Path {
        self.base.clone().join("sets")
    }

    fn set(&self, name: &DatasetName) -> Path {
        self.sets().join(name.as_str())
    }

    pub(crate) fn versions(&self, name: &DatasetName) -> Path {
        self.set(name).join("versions")
    }

    pub(crate) fn version(&self, name: &DatasetName, version: u64) -> Path {
        self.versions(name).join(format!("{}.json", slot(version)))
    }

    pub(crate) fn content_claim(&self, name: &DatasetName, content_id: &str) -> Path {
        self.set(name).join("content").join(content_id)
    }

    pub(crate) fn content_version(&self, name: &DatasetName, content_id: &str) -> Path {
        self.set(name)
            .join("content")
            .join(format!("{content_id}.version"))
    }

    pub(crate) fn aliases(&self, name: &DatasetName) -> Path {
        self.set(name).join("aliases")
    }

    pub(crate) fn alias_log(&self, name: &DatasetName, alias: &DatasetAlias) -> Path {
        self.aliases(name).join(alias.as_str())
    }

    pub(crate) fn alias_entry(&self, name: &DatasetName, alias: &DatasetAlias, seq: u64) -> Path {
        self.alias_log(name, alias)
            .join(format!("{}.json", slot(seq)))
    }
}
