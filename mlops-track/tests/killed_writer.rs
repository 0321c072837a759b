//! A writer that dies at an arbitrary instant, for the pure tests only (the service tests
//! never kill a child, so this is not in `support`, which both binaries build).

use std::time::Duration;

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
