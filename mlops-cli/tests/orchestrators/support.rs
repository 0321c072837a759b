//! What every orchestrator test needs: the binaries, the repository, commands that must
//! succeed, the step contract's last line, and the registry's audit log.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use mlops::registry::{ApprovalState, AuditAction, ModelName, ModelRegistry, RegistryError};
use serde_json::Value;

/// The model the taxi-fare template registers.
pub(crate) const MODEL: &str = "taxi-fare";

static TURN: Mutex<()> = Mutex::new(());

/// One orchestrator at a time (each is several processes on a 2-core machine).
pub(crate) fn take_turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The repository's root.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The `mlops` binary of this build.
pub(crate) fn mlops() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mlops"))
}

/// The `taxi_fare` example, built now in this test's profile (a no-op when it is fresh), so
/// the orchestrators always run the current code.
pub(crate) fn taxi_fare() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "-p", "mlops", "--example", "taxi_fare"]);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let status = build.current_dir(repo()).status().unwrap();
    assert!(status.success(), "cargo build --example taxi_fare failed");
    profile_dir.join("examples").join("taxi_fare")
}

/// Runs `command`, which must exit 0; its output.
pub(crate) fn ok(command: &mut Command) -> Output {
    let out = output(command);
    assert!(
        out.status.success(),
        "{command:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        tail(&out.stdout),
        tail(&out.stderr)
    );
    out
}

/// Runs `command`; its output, and how long it took on stderr (the report's wall times).
pub(crate) fn output(command: &mut Command) -> Output {
    let start = Instant::now();
    let out = command.output().unwrap();
    let program = command.get_program().to_string_lossy().into_owned();
    let first: Vec<String> = (command.get_args().take(3))
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    eprintln!(
        "[{:>6.1} s] {} {}",
        start.elapsed().as_secs_f64(),
        program.rsplit('/').next().unwrap_or(&program),
        first.join(" ")
    );
    out
}

/// The last 4 kB of a stream, for failure messages.
pub(crate) fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let start = text.len().saturating_sub(4_000);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    text[start..].to_owned()
}

/// The step contract: the last line of stdout is one JSON object.
pub(crate) fn last_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line {line:?} is not JSON: {e}"))
}

/// A `taxi_fare` step on `store` and `data`.
pub(crate) fn step(bin: &Path, store: &Path, data: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(bin);
    command
        .args(args)
        .env("MLOPS_STORE", store)
        .env("TAXI_FARE_DATA", data);
    command
}

/// A promotion decision in the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decided {
    /// Who decided.
    pub(crate) actor: String,
    /// The candidate.
    pub(crate) version: String,
    /// Whether the alias moved.
    pub(crate) promoted: bool,
}

/// The champion's version and the audit log's promotion decisions, oldest first.
pub(crate) async fn registry_state(store: &Path) -> (Option<String>, Vec<Decided>) {
    let registry = mlops::registry::open(store.to_str().unwrap()).unwrap();
    let model = ModelName::parse(MODEL).unwrap();
    let champion = mlops::registry::AliasName::parse("champion").unwrap();
    let holder = registry.list_aliases(&model).await.unwrap();
    let holder = holder.get(&champion).map(|v| v.to_string());
    let log = registry.audit_log(&model).await.unwrap();
    // A promotion is an alias change (with its gates); a refusal a decision entry.
    let decisions: Vec<Decided> = (log.iter())
        .filter_map(|e| {
            let (version, promoted) = match &e.action {
                AuditAction::AliasChanged { to: Some(v), .. } => (*v, true),
                AuditAction::Decision(d) => (d.version, d.promoted),
                _ => return None,
            };
            let actor = e.actor.clone();
            Some(Decided {
                actor,
                version: version.to_string(),
                promoted,
            })
        })
        .collect();
    (holder, decisions)
}

/// The audit log's approval records as (who recorded, who decided, state), oldest first.
/// Empty while the model is not registered yet.
pub(crate) async fn approvals(store: &Path) -> Vec<(String, String, ApprovalState)> {
    let registry = mlops::registry::open(store.to_str().unwrap()).unwrap();
    let model = ModelName::parse(MODEL).unwrap();
    let log = match registry.audit_log(&model).await {
        Ok(log) => log,
        Err(RegistryError::NotFound { .. }) => return Vec::new(),
        Err(e) => panic!("{e}"),
    };
    (log.iter())
        .filter_map(|e| match &e.action {
            AuditAction::Approval(r) => Some((e.actor.clone(), r.by.clone(), r.state)),
            _ => None,
        })
        .collect()
}
