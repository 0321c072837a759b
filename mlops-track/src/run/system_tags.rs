//! The tags a run handle records at start, under MLflow's names where MLflow has one, so that
//! runs look right in MLflow's UI.
//!
//! | Tag | Value |
//! |---|---|
//! | [`USER`] `mlflow.user` | `LOGNAME`, `USER`, `LNAME` or `USERNAME` (Python's `getpass` order) |
//! | [`SOURCE_NAME`] `mlflow.source.name` | the program (`argv[0]`) |
//! | [`SOURCE_TYPE`] `mlflow.source.type` | `LOCAL` |
//! | [`GIT_COMMIT`] `mlflow.source.git.commit` | the commit `HEAD` points at |
//! | [`GIT_BRANCH`] `mlflow.source.git.branch` | the branch `HEAD` points at, unless detached |
//! | [`GIT_DIRTY`] `mlops.source.git.dirty` | `true` when tracked files differ from `HEAD` |
//! | [`HOST`] `mlops.host` | the host name (MLflow has no tag for it) |
//! | [`VERSION`] `mlops.version` | this crate's version |
//! | [`RUSTC`](super::environment::RUSTC) `mlops.rustc.version` | `rustc -V` of the compiler that built the program |
//! | [`TARGET`](super::environment::TARGET) `mlops.target` | the target triple it was built for |
//!
//! The git tags come from the repository containing the current directory: the commit and
//! branch are read from `.git` directly (`HEAD`, the ref file or `packed-refs`; worktrees
//! too), without spawning anything. The dirty flag needs the index, so it runs
//! `git --no-optional-locks status --porcelain --untracked-files=no` (no shell, and no index
//! lock taken); when git is missing or fails the tag is left out. Every tag that cannot be
//! determined is left out rather than guessed. [`RunOptions`](crate::RunOptions) can turn
//! them all off, drop single ones, or override values.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mlops_core::Tag;

/// `mlflow.user`: who ran the program.
pub const USER: &str = "mlflow.user";
/// `mlflow.source.name`: the program that logged the run.
pub const SOURCE_NAME: &str = "mlflow.source.name";
/// `mlflow.source.type`: `LOCAL` for a program run on this machine.
pub const SOURCE_TYPE: &str = "mlflow.source.type";
/// `mlflow.source.git.commit`: the commit the program was built from (the current
/// directory's repository).
pub const GIT_COMMIT: &str = "mlflow.source.git.commit";
/// `mlflow.source.git.branch`: the branch checked out, unless `HEAD` is detached.
pub const GIT_BRANCH: &str = "mlflow.source.git.branch";
/// `mlops.source.git.dirty`: `true` when tracked files differ from the commit (MLflow has no
/// tag for it).
pub const GIT_DIRTY: &str = "mlops.source.git.dirty";
/// `mlops.host`: the machine's host name (MLflow has no tag for it).
pub const HOST: &str = "mlops.host";
/// `mlops.version`: the version of `mlops-track` that logged the run.
pub const VERSION: &str = "mlops.version";

/// The user name, as Python's `getpass.getuser` finds it, or `None`.
pub(crate) fn user_name() -> Option<String> {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
}

/// Every system tag that can be determined here (blocking: reads files, may run git).
pub(crate) fn collect(user: &str, git_dirty_check: bool) -> Vec<Tag> {
    let mut tags: Vec<(&str, String)> = vec![
        (USER, user.to_owned()),
        (SOURCE_TYPE, "LOCAL".to_owned()),
        (VERSION, env!("CARGO_PKG_VERSION").to_owned()),
    ];
    tags.extend(super::environment::build_tags());
    if let Some(program) = std::env::args_os().next() {
        tags.push((SOURCE_NAME, program.to_string_lossy().into_owned()));
    }
    if let Some(host) = host_name() {
        tags.push((HOST, host));
    }
    if let Some(git) = std::env::current_dir().ok().and_then(|d| GitHead::find(&d)) {
        if let Some(commit) = git.commit {
            tags.push((GIT_COMMIT, commit));
        }
        if let Some(branch) = git.branch {
            tags.push((GIT_BRANCH, branch));
        }
        if git_dirty_check && let Some(dirty) = git_dirty(&git.workdir) {
            tags.push((GIT_DIRTY, dirty.to_string()));
        }
    }
    tags.into_iter()
        .filter_map(|(key, value)| match Tag::parse(key, value) {
            Ok(tag) => Some(tag),
            Err(e) => {
                tracing::debug!(key, error = %e, "system tag left out");
                None
            }
        })
        .collect()
}

fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// What `HEAD` of a repository says.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct GitHead {
    /// The work tree's root.
    pub(crate) workdir: PathBuf,
    /// The commit, when it could be resolved.
    pub(crate) commit: Option<String>,
    /// The branch, unless detached.
    pub(crate) branch: Option<String>,
}

impl GitHead {
    /// Reads `HEAD` of the repository containing `start` (searching upwards).
    pub(crate) fn find(start: &Path) -> Option<Self> {
        for dir in start.ancestors() {
            let dot_git = dir.join(".git");
            let git_dir = if dot_git.is_dir() {
                dot_git
            } else if dot_git.is_file() {
                // A worktree or submodule: `gitdir: <path>`.
                let text = std::fs::read_to_string(&dot_git).ok()?;
                let target = text.trim().strip_prefix("gitdir:")?.trim();
                dir.join(target)
            } else {
                continue;
            };
            return Some(Self::read(dir, &git_dir));
        }
        None
    }

    fn read(workdir: &Path, git_dir: &Path) -> Self {
        let common = std::fs::read_to_string(git_dir.join("commondir"))
            .map(|c| git_dir.join(c.trim()))
            .unwrap_or_else(|_| git_dir.to_owned());
        let mut head = Self {
            workdir: workdir.to_owned(),
            ..Self::default()
        };
        let Ok(text) = std::fs::read_to_string(git_dir.join("HEAD")) else {
            return head;
        };
        let text = text.trim();
        match text.strip_prefix("ref:") {
            Some(name) => {
                let name = name.trim();
                head.branch = name.strip_prefix("refs/heads/").map(str::to_owned);
                head.commit = resolve_ref(git_dir, &common, name);
            }
            None => head.commit = is_object_id(text).then(|| text.to_owned()),
        }
        head
    }
}

/// The object id a ref names: its loose file (in the worktree's or the common git folder),
/// else its line in `packed-refs`.
fn resolve_ref(git_dir: &Path, common: &Path, name: &str) -> Option<String> {
    for dir in [git_dir, common] {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            let id = text.trim();
            if is_object_id(id) {
                return Some(id.to_owned());
            }
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (id, ref_name) = line.split_once(' ')?;
        (ref_name.trim() == name && is_object_id(id)).then(|| id.to_owned())
    })
}

/// A SHA-1 or SHA-256 object id in hex.
fn is_object_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether tracked files differ from `HEAD`, or `None` when git cannot tell.
fn git_dirty(workdir: &Path) -> Option<bool> {
    let output = Command::new("git")
        .args([
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ])
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| !output.stdout.trim_ascii().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_head_loose_packed_and_detached() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        std::fs::create_dir_all(git.join("refs/heads")).unwrap();
        let id = "0123456789abcdef0123456789abcdef01234567";
        std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(git.join("refs/heads/main"), format!("{id}\n")).unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        let head = GitHead::find(&nested).unwrap();
        assert_eq!(head.commit.as_deref(), Some(id));
        assert_eq!(head.branch.as_deref(), Some("main"));
        assert_eq!(head.workdir, dir.path());

        std::fs::remove_file(git.join("refs/heads/main")).unwrap();
        std::fs::write(
            git.join("packed-refs"),
            format!("# pack-refs with: peeled\n{id} refs/heads/main\n"),
        )
        .unwrap();
        assert_eq!(GitHead::find(&nested).unwrap().commit.as_deref(), Some(id));

        std::fs::write(git.join("HEAD"), format!("{id}\n")).unwrap();
        let head = GitHead::find(&nested).unwrap();
        assert_eq!(head.commit.as_deref(), Some(id));
        assert_eq!(head.branch, None);
    }
}
