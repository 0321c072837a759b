//! The code-map check: ARCHITECTURE.md must place every source module of every workspace
//! package, and every path it names must exist.
//!
//! The map's convention, which this check enforces:
//! - each package has a section whose heading is `### `NAME`` (anything may follow the name);
//! - inside it, a module is named by its path in backticks: relative to the package's `src/`
//!   (`server/body.rs`, a folder module as `server/`), or relative to the package folder when
//!   it starts with `src/`, `tests/`, `benches/` or `examples/`;
//! - a test-only folder inside `src/` (`dataset/tests/`) is placed as a whole;
//! - a backticked document path (`docs/FORMAT.md`) is relative to the repository root;
//! - nothing points outside the repository (no `../`, no absolute paths).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// One workspace package as the check sees it.
#[derive(Debug, Clone)]
pub(crate) struct Package {
    /// The package name, as in its section heading.
    pub(crate) name: String,
    /// The package folder, relative to the repository root (`""` for the root package).
    pub(crate) dir: PathBuf,
}

/// Something the map gets wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Problem {
    /// A package has no `### `NAME`` section.
    MissingSection(String),
    /// A source module the map does not place: (package, module path relative to `src/`).
    Unplaced(String, String),
    /// The map names a path that does not exist: (section, path as written).
    Dangling(String, String),
    /// The map points outside the repository: (section, text).
    Outside(String, String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingSection(p) => write!(f, "ARCHITECTURE.md has no section `### `{p}``"),
            Self::Unplaced(p, m) => {
                write!(
                    f,
                    "module `{m}` of `{p}` is not on the map (ARCHITECTURE.md)"
                )
            }
            Self::Dangling(s, t) => write!(f, "section `{s}` names `{t}`, which does not exist"),
            Self::Outside(s, t) => {
                write!(f, "section `{s}` points outside the repository: `{t}`")
            }
        }
    }
}

/// The workspace packages named by the root manifest (`members = [...]`), plus the root
/// package itself when the manifest has a `[package]`.
pub(crate) fn packages(root: &Path) -> std::io::Result<Vec<Package>> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let mut out = Vec::new();
    let mut in_members = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with("members") {
            in_members = true;
        }
        if in_members {
            for dir in quoted(line) {
                let name = package_name(&root.join(&dir))?.unwrap_or_else(|| dir.clone());
                out.push(Package {
                    name,
                    dir: PathBuf::from(dir),
                });
            }
            if line.contains(']') {
                in_members = false;
            }
        }
    }
    if let Some(name) = package_name(root)? {
        out.push(Package {
            name,
            dir: PathBuf::new(),
        });
    }
    Ok(out)
}

/// The strings between double quotes on one line.
fn quoted(line: &str) -> Vec<String> {
    line.split('"')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_owned())
        .collect()
}

/// The `name` of a manifest's `[package]` table, if it has one.
fn package_name(dir: &Path) -> std::io::Result<Option<String>> {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))?;
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && line.starts_with("name") {
            return Ok(quoted(line).into_iter().next());
        }
    }
    Ok(None)
}

/// Every module file under `src/`, as the map names it: `a/b.rs`, or `a/` for `a/mod.rs`.
/// The crate roots (`lib.rs`, `main.rs`, `bin/NAME/main.rs`) are the section itself.
pub(crate) fn modules(src: &Path) -> std::io::Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if !dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path
                .strip_prefix(src)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            // A test-only folder inside `src/` is placed as a whole: tests are not architecture.
            if let Some(at) = rel.find("tests/")
                && (at == 0 || rel[..at].ends_with('/'))
            {
                out.insert(rel[..at + "tests/".len()].to_owned());
                continue;
            }
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let at_root = !rel.contains('/');
            if (at_root && (name == "lib.rs" || name == "main.rs"))
                || (rel.starts_with("bin/") && name == "main.rs")
            {
                continue;
            }
            if name == "mod.rs" {
                out.insert(rel.trim_end_matches("mod.rs").to_owned());
            } else {
                out.insert(rel);
            }
        }
    }
    Ok(out)
}

/// The sections of the map: (package name, body text), one per `### `NAME`` heading.
fn sections(map: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in map.lines() {
        if let Some(rest) = line.strip_prefix("### `") {
            let name = rest.split('`').next().unwrap_or("").to_owned();
            out.push((name, String::new()));
        } else if line.starts_with("## ") || line.starts_with("# ") {
            // A higher heading ends the package sections.
            out.push((String::new(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out.retain(|(name, _)| !name.is_empty());
    out
}

/// The backticked spans of a text.
fn spans(text: &str) -> impl Iterator<Item = &str> {
    text.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
}

fn looks_like_path(t: &str) -> bool {
    !t.is_empty()
        && !t.contains(' ')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && (t.ends_with(".rs") || t.ends_with('/') || t.ends_with(".md"))
        && !t.starts_with("//")
}

/// Checks `map` (the text of ARCHITECTURE.md) against the tree at `root`.
pub(crate) fn check(root: &Path, map: &str, packages: &[Package]) -> std::io::Result<Vec<Problem>> {
    let sections = sections(map);
    let mut problems = BTreeSet::new();
    for text in [map] {
        for t in spans(text) {
            if t.contains("../") || (t.starts_with('/') && t.len() > 1 && looks_like_path(t)) {
                problems.insert(Problem::Outside("(map)".into(), t.to_owned()));
            }
        }
    }
    for package in packages {
        let Some((_, body)) = sections.iter().find(|(n, _)| *n == package.name) else {
            problems.insert(Problem::MissingSection(package.name.clone()));
            continue;
        };
        let dir = root.join(&package.dir);
        let mut placed = BTreeSet::new();
        for t in spans(body).filter(|t| looks_like_path(t)) {
            let (exists, module) = if t.ends_with(".md") {
                (root.join(t).exists(), None)
            } else if let Some(in_src) = t.strip_prefix("src/") {
                (dir.join(t).exists(), Some(in_src.to_owned()))
            } else if ["tests/", "benches/", "examples/"]
                .iter()
                .any(|p| t.starts_with(p))
            {
                (dir.join(t).exists(), None)
            } else {
                (dir.join("src").join(t).exists(), Some(t.to_owned()))
            };
            if !exists {
                problems.insert(Problem::Dangling(package.name.clone(), t.to_owned()));
            }
            if let Some(m) = module {
                placed.insert(m);
            }
        }
        for module in modules(&dir.join("src"))? {
            if !placed.contains(&module) {
                problems.insert(Problem::Unplaced(package.name.clone(), module));
            }
        }
    }
    Ok(problems.into_iter().collect())
}

/// Runs the check on the repository at `root`.
pub(crate) fn check_repo(root: &Path) -> std::io::Result<Vec<Problem>> {
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md"))?;
    check(root, &map, &packages(root)?)
}

#[cfg(test)]
// Test helpers outside `#[test]` functions fail loudly by design.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }

    #[test]
    fn architecture_map_places_every_module_and_names_only_real_paths() {
        let problems = check_repo(&repo_root()).unwrap();
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            list.is_empty(),
            "ARCHITECTURE.md is not true:\n{}",
            list.join("\n")
        );
    }

    /// A small tree: package `demo` with `a.rs`, `b/mod.rs`, `b/c.rs`.
    fn demo(dir: &Path) -> Vec<Package> {
        let src = dir.join("demo/src/b");
        std::fs::create_dir_all(&src).unwrap();
        for f in [
            "demo/src/lib.rs",
            "demo/src/a.rs",
            "demo/src/b/mod.rs",
            "demo/src/b/c.rs",
        ] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        std::fs::create_dir_all(dir.join("docs")).unwrap();
        std::fs::write(dir.join("docs/X.md"), "").unwrap();
        vec![Package {
            name: "demo".into(),
            dir: PathBuf::from("demo"),
        }]
    }

    fn tmp() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "mlops-tidy-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const MAP: &str = "# Map\n## Code map\n### `demo`\n`a.rs` one idea, `b/` two, `b/c.rs` three; see `docs/X.md`.\n## Rules\n";

    #[test]
    fn a_true_map_passes() {
        let dir = tmp();
        let packages = demo(&dir);
        assert_eq!(check(&dir, MAP, &packages).ok(), Some(vec![]));
    }

    #[test]
    fn a_new_module_not_on_the_map_fails() {
        let dir = tmp();
        let packages = demo(&dir);
        std::fs::write(dir.join("demo/src/b/new.rs"), "").unwrap();
        assert_eq!(
            check(&dir, MAP, &packages).ok(),
            Some(vec![Problem::Unplaced("demo".into(), "b/new.rs".into())])
        );
    }

    #[test]
    fn a_named_path_that_does_not_exist_fails() {
        let dir = tmp();
        let packages = demo(&dir);
        let map = MAP.replace(
            "`b/c.rs` three",
            "`b/c.rs` three, `gone.rs`, `docs/GONE.md`",
        );
        assert_eq!(
            check(&dir, &map, &packages).ok(),
            Some(vec![
                Problem::Dangling("demo".into(), "docs/GONE.md".into()),
                Problem::Dangling("demo".into(), "gone.rs".into()),
            ])
        );
    }

    #[test]
    fn a_missing_section_and_outside_references_fail() {
        let dir = tmp();
        let packages = demo(&dir);
        let map = MAP.replace("### `demo`", "### `other`") + "See `../shared/DESIGN.md`.\n";
        let problems = check(&dir, &map, &packages).unwrap_or_default();
        assert!(
            problems.contains(&Problem::MissingSection("demo".into())),
            "{problems:?}"
        );
        assert!(
            problems.contains(&Problem::Outside(
                "(map)".into(),
                "../shared/DESIGN.md".into()
            )),
            "{problems:?}"
        );
    }
}
