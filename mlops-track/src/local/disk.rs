//! Listing a store on a local disk without following links.
//!
//! object_store's `LocalFileSystem` follows symbolic links when it lists (and fails the
//! whole listing on a link loop), so a record symlinked to another run's record would be
//! read as this run's, and one loop would break every command. Nothing this store writes is
//! ever a link: on a local root the store lists its folders itself, never descending into or
//! returning a link, and reports every link it meets as damage.

use std::path::{Path as FsPath, PathBuf};

use object_store::ObjectMeta;
use object_store::path::Path;

/// What a listing of a local folder found.
#[derive(Debug, Default)]
pub(crate) struct DiskListing {
    /// The regular files, in no particular order.
    pub(crate) objects: Vec<ObjectMeta>,
    /// Links met (and not followed), as keys.
    pub(crate) links: Vec<String>,
}

/// Lists every regular file under `prefix` of the store rooted at `root` (a folder), as
/// object_store's `LocalFileSystem` would name them, without following links. A `prefix`
/// whose own path passes through a link lists nothing and reports the link.
pub(crate) fn list(root: &FsPath, prefix: &Path) -> std::io::Result<DiskListing> {
    let mut listing = DiskListing::default();
    let mut dir = root.to_path_buf();
    let mut key = Path::default();
    for part in prefix.parts() {
        dir.push(part.as_ref());
        key = key.clone().join(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.file_type().is_symlink() => {
                listing.links.push(key.to_string());
                return Ok(listing);
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Ok(listing),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(listing),
            Err(e) => return Err(e),
        }
    }
    walk(&dir, &key, &mut listing)?;
    Ok(listing)
}

/// The first symbolic link on the way from `root` to the object `key` (the object itself
/// included), as a key: for reads of keys no listing gave (a lease, `FORMAT.json`), which
/// object_store would follow.
pub(crate) fn link_on_path(root: &FsPath, key: &Path) -> std::io::Result<Option<String>> {
    let mut path = root.to_path_buf();
    let mut at = Path::default();
    for part in key.parts() {
        path.push(part.as_ref());
        at = at.clone().join(part);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => return Ok(Some(at.to_string())),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Adds the files under `dir` (named `key`) to `listing`, depth first.
fn walk(dir: &PathBuf, key: &Path, listing: &mut DiskListing) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // A folder removed while being listed holds nothing.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            // object_store cannot name it either; it is no part of the format.
            continue;
        };
        if Path::parse(name).is_err() {
            continue;
        }
        let child = key.clone().join(name);
        // `DirEntry::file_type` does not follow links.
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if file_type.is_symlink() {
            listing.links.push(child.to_string());
        } else if file_type.is_dir() {
            walk(&entry.path(), &child, listing)?;
        } else if file_type.is_file() && !is_staging(name) {
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            listing.objects.push(ObjectMeta {
                location: child,
                // Readers use only names and sizes.
                last_modified: Default::default(),
                size: meta.len(),
                e_tag: None,
                version: None,
            });
        }
    }
    Ok(())
}

/// object_store's staging files end in `#<digits>`; they are not objects.
fn is_staging(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(_, tail)| !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_reported_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path();
        std::fs::create_dir_all(base.join("a/b")).unwrap();
        std::fs::write(base.join("a/b/x.jsonl"), b"x").unwrap();
        std::fs::write(base.join("a/b/x.jsonl#12"), b"staging").unwrap();
        std::os::unix::fs::symlink(base.join("a/b/x.jsonl"), base.join("a/b/y.jsonl")).unwrap();
        // A loop: a/b/loop -> a.
        std::os::unix::fs::symlink(base.join("a"), base.join("a/b/loop")).unwrap();
        let listing = list(base, &Path::from("a")).unwrap();
        let names: Vec<String> = listing
            .objects
            .iter()
            .map(|m| m.location.to_string())
            .collect();
        assert_eq!(names, ["a/b/x.jsonl"]);
        let mut links = listing.links;
        links.sort();
        assert_eq!(links, ["a/b/loop", "a/b/y.jsonl"]);
        // A prefix reached through a link lists nothing.
        let through = list(base, &Path::from("a/b/loop/b")).unwrap();
        assert!(through.objects.is_empty());
        assert_eq!(through.links, ["a/b/loop"]);
        assert_eq!(
            link_on_path(base, &Path::from("a/b/y.jsonl")).unwrap(),
            Some("a/b/y.jsonl".to_owned())
        );
        assert_eq!(
            link_on_path(base, &Path::from("a/b/loop/b/x.jsonl")).unwrap(),
            Some("a/b/loop".to_owned())
        );
        assert_eq!(
            link_on_path(base, &Path::from("a/b/x.jsonl")).unwrap(),
            None
        );
        assert!(
            list(base, &Path::from("missing"))
                .unwrap()
                .objects
                .is_empty()
        );
    }
}
