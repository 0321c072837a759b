//! The monitor's exposition passes `promtool check metrics`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use mlops_core::Timestamp;
use mlops_core::testing::require_env;
use mlops_drift::DriftOptions;
use mlops_monitor::{MonitorMetrics, VersionKey, VersionMonitor, WindowPolicy};

use crate::util::{Shift, rows};

#[test]
fn the_monitor_metrics_pass_promtool() {
    let promtool = require_env("MLOPS_TEST_PROMTOOL");
    let options = Arc::new(DriftOptions::default());
    let profile = Arc::new(
        mlops_drift::ReferenceProfile::build(&[rows(1, 800, Shift::default())], &options).unwrap(),
    );
    let key = VersionKey {
        model: "fraud".into(),
        version: "3".into(),
    };
    let mut monitor = VersionMonitor::new(
        key.clone(),
        profile,
        options,
        WindowPolicy::rows(500).unwrap(),
    );
    let metrics = MonitorMetrics::new();
    let shift = Shift {
        x: 2.0,
        ..Shift::default()
    };
    for window in monitor
        .push(&rows(2, 1000, shift), Timestamp::now())
        .unwrap()
    {
        metrics.rows(&key, window.rows);
        metrics.window(&window);
    }
    metrics.dropped(&key, 3);
    let text = metrics.encode_prometheus();
    assert!(text.contains("mlops_drift_p_value{"), "{text}");
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool: {said}\n{text}");
    assert!(said.trim().is_empty(), "promtool warned: {said}\n{text}");
}
