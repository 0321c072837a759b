//! [`FileSource`]: model versions kept as local files or folders.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;

use super::{ModelFile, ModelSource, Resolved, Selector};
use crate::error::{Error, Result};

/// Folders deeper than this inside a version are not read (a loop of links, a wrong path).
const MAX_DEPTH: usize = 16;

#[derive(Debug, Default)]
struct Versions {
    paths: BTreeMap<String, PathBuf>,
    aliases: HashMap<String, (String, SystemTime)>,
}

/// Model versions kept on the local file system: each version is a file or a folder (read
/// whole, files at any depth), and aliases name versions. Aliases can be moved at any time
/// ([`FileSource::set_alias`]), which makes it a stand-in for a registry in tests.
///
/// Files carry the SHA-256 of what was read; there is no recorded digest to check them
/// against (a registry source checks its own).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use mlops_serve::runtime::linear::LinearFile;
/// use mlops_serve::source::{FileSource, ModelSource, Selector};
///
/// let dir = tempfile::tempdir()?;
/// LinearFile::linear(vec![vec![2.0]], vec![0.0]).write(&dir.path().join("model.json"))?;
/// let source = FileSource::new();
/// source.add_version("price", "1", dir.path());
/// source.set_alias("price", "champion", "1");
/// let resolved = source.resolve("price", &"champion".parse()?).await?;
/// assert_eq!(resolved.version, "1");
/// let files = source.fetch("price", "1").await?;
/// assert_eq!(files[0].path, "model.json");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct FileSource {
    models: RwLock<HashMap<String, Versions>>,
}

impl FileSource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or repoints) version `version` of `name`: a model file, or a folder of files.
    pub fn add_version(&self, name: &str, version: &str, path: impl Into<PathBuf>) {
        self.write()
            .entry(name.to_owned())
            .or_default()
            .paths
            .insert(version.to_owned(), path.into());
    }

    /// Points alias `alias` of `name` at `version`.
    pub fn set_alias(&self, name: &str, alias: &str, version: &str) {
        self.write()
            .entry(name.to_owned())
            .or_default()
            .aliases
            .insert(alias.to_owned(), (version.to_owned(), SystemTime::now()));
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Versions>> {
        self.models.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn path(&self, name: &str, version: &str) -> Result<PathBuf> {
        let models = self.models.read().unwrap_or_else(PoisonError::into_inner);
        models
            .get(name)
            .and_then(|m| m.paths.get(version))
            .cloned()
            .ok_or_else(|| Error::source(name, format!("no version {version:?} of {name:?}")))
    }
}

#[async_trait]
impl ModelSource for FileSource {
    async fn resolve(&self, name: &str, selector: &Selector) -> Result<Resolved> {
        let version = match selector {
            Selector::Version(v) => v.clone(),
            Selector::Alias(alias) => {
                let models = self.models.read().unwrap_or_else(PoisonError::into_inner);
                models
                    .get(name)
                    .and_then(|m| m.aliases.get(alias))
                    .map(|(version, _)| version.clone())
                    .ok_or_else(|| Error::source(name, format!("no alias {alias:?} of {name:?}")))?
            }
        };
        self.path(name, &version)?;
        Ok(Resolved::new(version))
    }

    async fn alias_moved_at(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<Option<SystemTime>> {
        let models = self.models.read().unwrap_or_else(PoisonError::into_inner);
        Ok(models
            .get(name)
            .and_then(|m| m.aliases.get(alias))
            .filter(|(v, _)| v == version)
            .map(|(_, moved)| *moved))
    }

    /// Moves the alias if it names `expected`; the reason is logged (there is no audit log).
    async fn move_alias(
        &self,
        name: &str,
        alias: &str,
        to: &str,
        expected: &str,
        reason: &str,
    ) -> Result<()> {
        self.path(name, to)?;
        let mut models = self.write();
        let slot = models
            .get_mut(name)
            .and_then(|m| m.aliases.get_mut(alias))
            .ok_or_else(|| Error::source(name, format!("no alias {alias:?} of {name:?}")))?;
        if slot.0 != expected {
            return Err(Error::source(
                name,
                format!("alias {alias:?} names version {}, not {expected}", slot.0),
            ));
        }
        *slot = (to.to_owned(), SystemTime::now());
        tracing::info!(
            model = name,
            alias,
            from = expected,
            to,
            reason,
            "alias moved back"
        );
        Ok(())
    }

    async fn fetch(&self, name: &str, version: &str) -> Result<Vec<ModelFile>> {
        let path = self.path(name, version)?;
        tokio::task::spawn_blocking(move || read_version(&path))
            .await
            .map_err(|_| Error::inference(name, "the file reader panicked"))?
    }
}

/// A file as one [`ModelFile`] named by its file name; a folder as every file below it,
/// named by its relative path, sorted.
fn read_version(path: &Path) -> Result<Vec<ModelFile>> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let meta = std::fs::metadata(path).map_err(io(path))?;
    if !meta.is_dir() {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let bytes = std::fs::read(path).map_err(io(path))?;
        return Ok(vec![ModelFile::new(name, bytes)]);
    }
    let mut files = Vec::new();
    let mut pending = vec![(path.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, prefix, depth)) = pending.pop() {
        for item in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let item = item.map_err(io(&dir))?;
            let child = item.path();
            let relative = format!("{prefix}{}", item.file_name().to_string_lossy());
            if std::fs::metadata(&child).map_err(io(&child))?.is_dir() {
                if depth + 1 < MAX_DEPTH {
                    pending.push((child, format!("{relative}/"), depth + 1));
                }
            } else {
                let bytes = std::fs::read(&child).map_err(io(&child))?;
                files.push(ModelFile::new(relative, bytes));
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}
