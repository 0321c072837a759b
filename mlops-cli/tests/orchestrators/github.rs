//! `templates/github/`: the workflow run by `act` in host mode (no containers).

use std::path::Path;
use std::process::Command;

use mlops_core::testing::require_env;

use crate::support::{self, ok, registry_state, step, take_turn};

/// `act workflow_dispatch` on the template's workflow with the freshly built binaries; its
/// log (act prints each step's outputs and summary).
fn act(venv: &str, tmp: &Path, taxi: &Path, store: &Path, data: &Path) -> String {
    let workflow = support::repo().join("templates/github/workflows/taxi-fare.yml");
    let var = |name: &str, value: &Path| format!("{name}={}", value.display());
    let out = ok(Command::new(Path::new(venv).join("bin/act"))
        .arg("workflow_dispatch")
        .arg("-W")
        .arg(&workflow)
        .args(["-P", "ubuntu-latest=-self-hosted"])
        .args(["--var", &var("MLOPS_STORE", store)])
        .args(["--var", &var("TAXI_FARE_DATA", data)])
        .args(["--var", &var("TAXI_FARE_BIN", taxi)])
        .args(["--var", &var("MLOPS_BIN", &support::mlops())])
        .current_dir(tmp.join("repo"))
        // act keeps its host-mode work folders under $HOME/.cache.
        .env("HOME", tmp.join("home")));
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The lines a job printed (act prefixes each with `[workflow/job]`).
fn job<'a>(log: &'a str, name: &str) -> Vec<&'a str> {
    let prefix = format!("[taxi-fare/{name}");
    log.lines().filter(|l| l.starts_with(&prefix)).collect()
}

fn has(lines: &[&str], text: &str) -> bool {
    lines.iter().any(|l| l.contains(text))
}

/// train -> gate -> deploy: the first run deploys v1; after the fare increase the gate
/// refuses v2 (its outputs say so, its summary shows the failed gate, a warning annotation
/// is raised) and the deploy job, guarded by `if: needs.gate.outputs.passed == 'true'`,
/// does not run.
#[tokio::test(flavor = "multi_thread")]
async fn github_workflow_under_act_deploys_then_skips_the_deploy_on_a_refused_gate() {
    let venv = require_env("MLOPS_TEST_VENV_ACT");
    let taxi = support::taxi_fare();
    let _turn = take_turn();
    let tmp = tempfile::tempdir().unwrap();
    let (store, data) = (tmp.path().join("store"), tmp.path().join("data"));
    // act reads the repository's git metadata (the workflow's github.sha and ref).
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::create_dir_all(tmp.path().join("home")).unwrap();
    ok(Command::new("git").args(["init", "-q"]).current_dir(&repo));
    let commit = [
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "init",
    ];
    ok(Command::new("git").args(commit).current_dir(&repo));
    ok(&mut step(
        &taxi,
        &store,
        &data,
        &[
            "generate",
            "--weeks",
            "4",
            "--rows",
            "3000",
            "--shift-from",
            "5",
        ],
    ));

    let log = act(&venv, tmp.path(), &taxi, &store, &data);
    let (train, gate, deploy) = (job(&log, "train"), job(&log, "gate"), job(&log, "deploy"));
    assert!(has(&train, "::set-output:: version=1"), "{log}");
    assert!(has(&train, "Summary - ### Trained taxi-fare v1"), "{log}");
    assert!(has(&gate, "::set-output:: passed=true"), "{log}");
    assert!(has(&gate, "::set-output:: current="), "{log}");
    assert!(has(&deploy, "::set-output:: promoted=true"), "{log}");
    assert!(
        has(
            &deploy,
            "Summary - ### mlops models promote taxi-fare v1 to champion"
        ),
        "{log}"
    );
    assert!(has(&deploy, "Job succeeded"), "{log}");
    let (champion, decisions) = registry_state(&store).await;
    assert_eq!(champion.as_deref(), Some("1"));
    assert!(
        decisions[0].actor.starts_with("github:") && decisions[0].promoted,
        "{decisions:?}"
    );

    ok(&mut step(
        &taxi,
        &store,
        &data,
        &[
            "generate",
            "--weeks",
            "5",
            "--rows",
            "3000",
            "--shift-from",
            "5",
        ],
    ));
    let log = act(&venv, tmp.path(), &taxi, &store, &data);
    let (train, gate, deploy) = (job(&log, "train"), job(&log, "gate"), job(&log, "deploy"));
    assert!(has(&train, "::set-output:: version=2"), "{log}");
    assert!(has(&gate, "::set-output:: passed=false"), "{log}");
    assert!(has(&gate, "::set-output:: outcome=rejected"), "{log}");
    assert!(has(&gate, "::set-output:: current=1"), "{log}");
    assert!(
        has(
            &gate,
            "::warning title=mlops models gate taxi-fare v2 for champion::refused"
        ),
        "{log}"
    );
    // A summary's later lines carry no job prefix.
    assert!(log.contains("| metric(mape) | ❌ fail |"), "{log}");
    assert!(
        has(&gate, "Job succeeded"),
        "a refusal is an answer, not a failed job: {log}"
    );
    assert!(
        deploy.is_empty(),
        "the deploy job must not run: {deploy:#?}"
    );
    assert_eq!(registry_state(&store).await.0.as_deref(), Some("1"));
}
