//! A writer that dies at an arbitrary instant, both sides: the parent test that starts and
//! kills it, and the child's set-up. For the pure tests only (the service tests never kill a
//! child, so this is not in `support`, which both binaries build).

use std::future::Future;
use std::time::Duration;

use mlops_core::{StoreRoot, StoreUri};

/// Runs the ignored test `name` of this test binary as a child process with `var` set to
/// `dir`, and kills it (SIGKILL) after `delay`: a writer that dies at an arbitrary instant.
pub(crate) async fn kill_child_after(
    name: &str,
    var: &str,
    dir: &std::path::Path,
    delay: Duration,
) {
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(&exe)
        .args([
            name,
            "--exact",
            "--ignored",
            "--test-threads",
            "1",
            "--quiet",
        ])
        .env(var, dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(delay).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// The child side of [`kill_child_after`]: when `var` names a folder, runs `body` on the store
/// there on a two-thread runtime until it returns or the parent kills the process; without
/// `var` (the ignored test run on its own) does nothing.
pub(crate) fn run_as_child<F, Fut>(var: &str, body: F)
where
    F: FnOnce(StoreRoot) -> Fut,
    Fut: Future<Output = ()>,
{
    let Ok(dir) = std::env::var(var) else {
        return;
    };
    let root = StoreUri::parse(&dir).unwrap().open().unwrap();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(body(root));
}
