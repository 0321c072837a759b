//! Where each part of the data lives. One store root holds everything, like MLflow's single
//! tracking URI; each part can be pointed elsewhere. This is the one place that knows the
//! layout: later parts (datasets, monitoring history) are added here.
//!
//! | part | in the root | elsewhere with |
//! | --- | --- | --- |
//! | tracking (experiments, runs) | the root itself (`FORMAT.json`, `experiments/`, `runs/`) | `--tracking`, `MLOPS_TRACKING_URI` |
//! | registry | `registry/` (the object registry's own key prefix) | `--registry`, `MLOPS_REGISTRY` |
//! | datasets (reserved) | `datasets/` | |
//! | monitoring history (reserved) | `monitor/` | |
//!
//! The root is `--store URI` or `MLOPS_STORE`, default [`DEFAULT_ROOT`]. An `http(s)://`
//! root is an MLflow server, which holds both the runs and the registry.
//!
//! **Old defaults.** Before the one root, tracking defaulted to `./mlops-runs` and the
//! registry to `./mlops-registry` (also the name of a crate folder in this repository). When
//! no root is given and the default root does not hold a part, but its old default folder
//! holds a store of that kind, that store is used, with a warning that says how to move it.

use std::path::Path;

use clap::Args;

/// The store root when none is given: a name that collides with no crate folder and with
/// no other tool's default (MLflow's is `./mlruns`).
pub(crate) const DEFAULT_ROOT: &str = "./mlops-data";

/// The registry's folder in a root. The object registry adds it itself (its keys live under
/// `<root>/registry/`), so a registry is opened at the root URI.
const REGISTRY_DIR: &str = "registry";

/// `--store`: the root every part lives under.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct RootArgs {
    /// The store root every part lives under [default: ./mlops-data]: a folder, file://,
    /// memory://, s3://, az://, gs:// (the last three need the `cloud` feature), or
    /// http(s)://HOST:PORT, an MLflow server holding runs and registry (credentials from
    /// MLFLOW_TRACKING_TOKEN or _USERNAME/_PASSWORD).
    #[arg(long = "store", env = "MLOPS_STORE", value_name = "URI", global = true)]
    pub(crate) store: Option<String>,
}

/// The options of commands that read runs: the root, and where tracking is if elsewhere.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct TrackingArgs {
    #[command(flatten)]
    pub(crate) root: RootArgs,
    /// The tracking store, when it is not the root: a store URI or an MLflow server.
    #[arg(
        long = "tracking",
        env = "MLOPS_TRACKING_URI",
        value_name = "URI",
        global = true
    )]
    pub(crate) tracking: Option<String>,
}

/// The options of commands that use the registry (and runs, to link them).
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct RegistryArgs {
    #[command(flatten)]
    pub(crate) tracking: TrackingArgs,
    /// The registry, when it is not the root's: a store URI (the registry is in its
    /// `registry/` folder) or an MLflow server.
    #[arg(
        long = "registry",
        env = "MLOPS_REGISTRY",
        value_name = "URI",
        global = true
    )]
    pub(crate) registry: Option<String>,
}

/// A part of the data: what the layout places.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// Experiments and runs.
    Tracking,
    /// Models, versions, aliases and their audit log.
    Registry,
}

impl Part {
    /// How messages name it.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Part::Tracking => "tracking store",
            Part::Registry => "registry",
        }
    }

    /// The option that points it elsewhere.
    pub(crate) fn flag(self) -> &'static str {
        match self {
            Part::Tracking => "--tracking",
            Part::Registry => "--registry",
        }
    }

    /// Whether the local folder `root` (a root, or the URI given for this part) holds it.
    pub(crate) fn is_in(self, root: &Path) -> bool {
        match self {
            Part::Tracking => root.join("FORMAT.json").is_file(),
            Part::Registry => root.join(REGISTRY_DIR).is_dir(),
        }
    }

    /// Where it was kept by default before the one root.
    fn old_default(self) -> &'static str {
        match self {
            Part::Tracking => "./mlops-runs",
            Part::Registry => "./mlops-registry",
        }
    }

    /// Whether `folder` holds a store of this kind written with the old defaults. Strict on
    /// purpose: `./mlops-registry` is also the registry crate's source folder in this
    /// repository, which must never be read (or written) as a store.
    fn is_old_store(self, folder: &Path) -> bool {
        match self {
            Part::Tracking => std::fs::read_to_string(folder.join("FORMAT.json"))
                .is_ok_and(|text| text.contains("\"mlops-track\"")),
            Part::Registry => {
                let registry = folder.join(REGISTRY_DIR);
                !folder.join("Cargo.toml").exists()
                    && (registry.join("catalog").is_dir() || registry.join("models").is_dir())
            }
        }
    }
}

impl TrackingArgs {
    /// The tracking store's URI: `--tracking`, else the root.
    pub(crate) fn tracking_uri(&self) -> String {
        locate(Part::Tracking, self.tracking.as_deref(), &self.root)
    }
}

impl RegistryArgs {
    /// The registry's URI: `--registry`, else the root.
    pub(crate) fn registry_uri(&self) -> String {
        locate(
            Part::Registry,
            self.registry.as_deref(),
            &self.tracking.root,
        )
    }
}

impl RootArgs {
    /// The root: `--store`, else [`DEFAULT_ROOT`].
    pub(crate) fn root_uri(&self) -> String {
        self.store
            .clone()
            .unwrap_or_else(|| DEFAULT_ROOT.to_owned())
    }
}

/// The URI a part is opened at: its own option, else inside the given root, else inside
/// the default root (or, failing that, the part's old default folder).
fn locate(part: Part, own: Option<&str>, root: &RootArgs) -> String {
    if let Some(uri) = own {
        return uri.to_owned();
    }
    if let Some(root) = &root.store {
        return root.clone();
    }
    let default = Path::new(DEFAULT_ROOT);
    let old = Path::new(part.old_default());
    if !part.is_in(default) && part.is_old_store(old) {
        tracing::warn!("{}", move_hint(part, default, old));
        return part.old_default().to_owned();
    }
    DEFAULT_ROOT.to_owned()
}

/// The warning for a store found at its old default: what is used, and the exact commands
/// that move it into the default root.
fn move_hint(part: Part, root: &Path, old: &Path) -> String {
    let (from, to) = (old.display(), root.display());
    let commands = match part {
        Part::Tracking if !root.exists() => format!("mv {from} {to}"),
        Part::Tracking => {
            let moves: Vec<String> = entries(old)
                .iter()
                .map(|name| shell_word(&format!("{from}/{name}")))
                .collect();
            format!("mv {} {to}/ && rmdir {from}", moves.join(" "))
        }
        Part::Registry => {
            let only_registry = entries(old) == [REGISTRY_DIR];
            format!(
                "mkdir -p {to} && mv {from}/{REGISTRY_DIR} {to}/{}",
                if only_registry {
                    format!(" && rmdir {from}")
                } else {
                    String::new()
                }
            )
        }
    };
    let inside = match part {
        Part::Tracking => format!("{to}"),
        Part::Registry => format!("{to}/{REGISTRY_DIR}"),
    };
    format!(
        "using the {noun} in {from}, the old default; the default is now the store root {to} \
         (the {noun} in {inside}). Move it there with: `{commands}` (or keep it with {flag} {from})",
        noun = part.noun(),
        flag = part.flag(),
    )
}

/// The names in a folder, sorted (nothing when it cannot be read).
fn entries(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .map(|listing| {
            listing
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A path as one shell word: single-quoted unless it is plainly safe.
fn shell_word(text: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "./_-".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn an_old_registry_is_one_only_with_a_registry_inside() {
        let dir = tempfile::tempdir().unwrap();
        let crate_folder = dir.path().join("crate");
        write(&crate_folder.join("Cargo.toml"), "[package]");
        write(&crate_folder.join("src/registry.rs"), "//!");
        assert!(!Part::Registry.is_old_store(&crate_folder));
        // Even a crate folder that happens to hold registry-looking folders.
        std::fs::create_dir_all(crate_folder.join("registry/catalog")).unwrap();
        assert!(!Part::Registry.is_old_store(&crate_folder));
        let store = dir.path().join("store");
        std::fs::create_dir_all(store.join("registry/catalog/log")).unwrap();
        assert!(Part::Registry.is_old_store(&store));
    }

    #[test]
    fn an_old_tracking_store_has_its_format_marker() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!Part::Tracking.is_old_store(dir.path()));
        write(&dir.path().join("FORMAT.json"), r#"{"format":"other"}"#);
        assert!(!Part::Tracking.is_old_store(dir.path()));
        write(
            &dir.path().join("FORMAT.json"),
            r#"{"format":"mlops-track","version":1}"#,
        );
        assert!(Part::Tracking.is_old_store(dir.path()));
    }

    #[test]
    fn the_hint_moves_each_part_into_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mlops-data");
        let runs = dir.path().join("mlops-runs");
        write(&runs.join("FORMAT.json"), "{}");
        std::fs::create_dir_all(runs.join("runs")).unwrap();
        let hint = move_hint(Part::Tracking, &root, &runs);
        assert!(
            hint.contains(&format!("`mv {} {}`", runs.display(), root.display())),
            "{hint}"
        );
        // The root exists (it holds a registry): the store's entries move into it.
        std::fs::create_dir_all(root.join("registry")).unwrap();
        let hint = move_hint(Part::Tracking, &root, &runs);
        let expected = format!(
            "`mv {r}/FORMAT.json {r}/runs {d}/ && rmdir {r}`",
            r = runs.display(),
            d = root.display()
        );
        assert!(hint.contains(&expected), "{hint}");

        let old = dir.path().join("mlops-registry");
        std::fs::create_dir_all(old.join("registry/catalog")).unwrap();
        let hint = move_hint(Part::Registry, &root, &old);
        let expected = format!(
            "`mkdir -p {d} && mv {o}/registry {d}/ && rmdir {o}`",
            o = old.display(),
            d = root.display()
        );
        assert!(hint.contains(&expected), "{hint}");
        assert!(hint.contains("--registry"), "{hint}");
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(
            shell_word("./mlops-runs/FORMAT.json"),
            "./mlops-runs/FORMAT.json"
        );
        assert_eq!(shell_word("./a b"), "'./a b'");
        assert_eq!(shell_word("./it's"), r"'./it'\''s'");
    }
}
