//! `templates/dagster/`: the definitions materialized by the real `dagster` package.

use std::path::Path;
use std::process::Command;

use mlops_core::testing::require_env;
use serde_json::Value;

use crate::support::{self, last_json, ok, registry_state, step, take_turn};

/// Materializes both assets once (tests/orchestrators/dagster_run.py); what happened.
fn materialize(venv: &str, taxi: &Path, store: &Path, data: &Path, home: &Path) -> Value {
    let script = support::repo().join("mlops-cli/tests/orchestrators/dagster_run.py");
    let definitions = support::repo().join("templates/dagster/taxi_fare_definitions.py");
    let out = ok(Command::new(Path::new(venv).join("bin/python"))
        .arg(script)
        .arg(definitions)
        .env("DAGSTER_HOME", home)
        .env("TAXI_FARE_BIN", taxi)
        .env("MLOPS_BIN", support::mlops())
        .env("MLOPS_STORE", store)
        .env("TAXI_FARE_DATA", data));
    last_json(&out)
}

fn gate_check(result: &Value) -> &Value {
    let checks = result["checks"].as_array().unwrap();
    let gates: Vec<&Value> = checks.iter().filter(|c| c["check"] == "gate").collect();
    assert_eq!(gates.len(), 1, "{result}");
    assert_eq!(gates[0]["asset"], "taxi_fare_champion", "{result}");
    gates[0]
}

/// The first materialization promotes (the `gate` check passes); after the fare increase the
/// candidate is worse and the `gate` asset check, reported by `mlops` through Pipes, fails.
#[tokio::test(flavor = "multi_thread")]
async fn dagster_pipes_gate_is_an_asset_check_that_fails_on_a_worse_model() {
    let venv = require_env("MLOPS_TEST_VENV_DAGSTER");
    let taxi = support::taxi_fare();
    let _turn = take_turn();
    let tmp = tempfile::tempdir().unwrap();
    let (store, data, home) = (
        tmp.path().join("store"),
        tmp.path().join("data"),
        tmp.path().join("dagster"),
    );
    std::fs::create_dir_all(&home).unwrap();
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

    let first = materialize(&venv, &taxi, &store, &data, &home);
    assert_eq!(first["success"], true, "{first}");
    assert_eq!(
        first["materializations"]["taxi_fare_candidate"]["version"], "1",
        "{first}"
    );
    assert!(
        first["materializations"]["taxi_fare_champion"].is_object(),
        "{first}"
    );
    assert_eq!(gate_check(&first)["passed"], true, "{first}");
    let (champion, decisions) = registry_state(&store).await;
    assert_eq!(champion.as_deref(), Some("1"));
    assert!(decisions[0].actor.starts_with("dagster:"), "{decisions:?}");

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
    let second = materialize(&venv, &taxi, &store, &data, &home);
    assert_eq!(
        second["materializations"]["taxi_fare_candidate"]["version"], "2",
        "{second}"
    );
    let gate = gate_check(&second);
    assert_eq!(gate["passed"], false, "{second}");
    assert_eq!(gate["severity"], "ERROR", "{second}");
    assert_eq!(registry_state(&store).await.0.as_deref(), Some("1"));
}
