//! C2's harness: 8 processes × 25 promotions with preconditions on one alias, run on a local
//! folder by `multiprocess_folder` (the plain test target) and on moto and Azurite by
//! `cloud` (the `services` target). Both binaries hold this module, because the children
//! are the test binary itself, re-run on the ignored test
//! `multiprocess::promoter_child`. Each opens the registry, waits for the parent's `go`
//! file, then until it has 25 acknowledged promotions: reads the holder, picks another
//! version, and moves the alias on the precondition "still holds what I read". The parent
//! then checks, from the log alone: every acknowledged promotion is in the log exactly once
//! (0 lost updates), no entry was written under a false precondition, the log holds nothing
//! that was not acknowledged, and each entry starts from the holder left by the one before
//! (a linearizable history).

// Tests report their figures on stderr.
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, StoreRoot, StoreUri};
use mlops_registry::{
    AliasChange, AuditAction, Expect, ModelRegistry, NewVersion, ObjectRegistry, RegistryExt,
};
use serde::{Deserialize, Serialize};

const CHILD_DIR: &str = "MLOPS_REG_MP_DIR";
const CHILD_INDEX: &str = "MLOPS_REG_MP_INDEX";
const CHILD_STORE: &str = "MLOPS_REG_MP_STORE";
const PROCESSES: usize = 8;
const PROMOTIONS: usize = 25;
const VERSIONS: u64 = 4;
const MODEL: &str = "contended";

#[derive(Serialize, Deserialize, Debug)]
struct Acked {
    txn_id: String,
    from: Option<u64>,
    to: u64,
}

#[derive(Serialize, Deserialize, Debug)]
struct ChildReport {
    acked: Vec<Acked>,
    conflicts: usize,
    seconds: f64,
    latencies_ms: Vec<f64>,
}

/// Where the children's registry lives: `folder:<path>`, `s3:<prefix>` or `azure:<prefix>`.
fn open_store(spec: &str) -> StoreRoot {
    let (kind, rest) = spec.split_once(':').unwrap();
    match kind {
        "folder" => StoreUri::parse(rest).unwrap().open().unwrap(),
        #[cfg(feature = "cloud")]
        "s3" => emulators::s3_at(rest),
        #[cfg(feature = "cloud")]
        "azure" => emulators::azure_at(rest),
        other => panic!("unknown store kind {other}"),
    }
}

#[test]
#[ignore = "a child process of the multi-process promotion tests"]
fn promoter_child() {
    let (Ok(dir), Ok(index), Ok(store)) = (
        std::env::var(CHILD_DIR),
        std::env::var(CHILD_INDEX),
        std::env::var(CHILD_STORE),
    ) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let index: usize = index.parse().unwrap();
    let report = runtime.block_on(child_main(PathBuf::from(&dir), index, &store));
    std::fs::write(
        Path::new(&dir).join(format!("report-{index}.json")),
        serde_json::to_vec(&report).unwrap(),
    )
    .unwrap();
}

async fn child_main(dir: PathBuf, index: usize, store: &str) -> ChildReport {
    let registry = ObjectRegistry::new(open_store(store))
        .with_actor(&format!("process-{index}"))
        .unwrap();
    let name = ModelName::parse(MODEL).unwrap();
    let champion = AliasName::parse("champion").unwrap();
    while !dir.join("go").exists() {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let started = Instant::now();
    let (mut acked, mut conflicts, mut latencies) = (Vec::new(), 0, Vec::new());
    let mut round = 0u64;
    while acked.len() < PROMOTIONS {
        round += 1;
        let t = Instant::now();
        let current = registry.alias_holder(&name, &champion).await.unwrap();
        let mut target = ModelVersion::new((index as u64 + round) % VERSIONS + 1).unwrap();
        if Some(target) == current {
            target = ModelVersion::new(target.get() % VERSIONS + 1).unwrap();
        }
        match registry
            .set_alias(
                &name,
                &champion,
                target,
                &AliasChange::expecting(Expect::exactly(current)),
            )
            .await
        {
            Ok(event) => {
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                acked.push(Acked {
                    txn_id: event.txn_id,
                    from: event.from.map(ModelVersion::get),
                    to: target.get(),
                });
            }
            Err(e) if e.is_conflict() => conflicts += 1,
            Err(e) => panic!("process {index}: set_alias failed: {e}"),
        }
    }
    ChildReport {
        acked,
        conflicts,
        seconds: started.elapsed().as_secs_f64(),
        latencies_ms: latencies,
    }
}

pub(crate) async fn eight_processes_promote(store: &str, label: &str) {
    let dir = tempfile::tempdir().unwrap();
    let registry = ObjectRegistry::new(open_store(store));
    let name = ModelName::parse(MODEL).unwrap();
    registry.create_model(&name, None, &[]).await.unwrap();
    for i in 0..VERSIONS {
        let files = NewVersion::new().with_artifact(
            ArtifactPath::parse("m.bin").unwrap(),
            format!("{i}").into_bytes(),
        );
        registry.create_version(&name, files).await.unwrap();
    }
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<_> = (0..PROCESSES)
        .map(|index| {
            Command::new(&exe)
                .args([
                    "multiprocess::promoter_child",
                    "--exact",
                    "--ignored",
                    "--test-threads",
                    "1",
                    "--quiet",
                ])
                .env(CHILD_DIR, dir.path())
                .env(CHILD_INDEX, index.to_string())
                .env(CHILD_STORE, store)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(dir.path().join("go"), b"").unwrap();
    let started = Instant::now();
    for child in &mut children {
        assert!(child.wait().unwrap().success(), "a promoter failed");
    }
    let wall = started.elapsed().as_secs_f64();
    let reports: Vec<ChildReport> = (0..PROCESSES)
        .map(|i| {
            serde_json::from_slice(
                &std::fs::read(dir.path().join(format!("report-{i}.json"))).unwrap(),
            )
            .unwrap()
        })
        .collect();

    // From the log alone.
    let log = ObjectRegistry::new(open_store(store))
        .read_log(&name)
        .await
        .unwrap();
    let mut holder: Option<ModelVersion> = None;
    let mut moves: Vec<(String, Option<u64>, u64)> = Vec::new();
    let mut false_preconditions = 0;
    for entry in &log {
        if let AuditAction::AliasChanged {
            from, to, expected, ..
        } = &entry.action
        {
            assert_eq!(
                *from, holder,
                "entry {} does not start from the holder: not linearizable",
                entry.seq
            );
            if !expected.matches(holder) {
                false_preconditions += 1;
            }
            holder = *to;
            moves.push((
                entry.txn_id.clone(),
                from.map(ModelVersion::get),
                to.unwrap().get(),
            ));
        }
    }
    let acked: Vec<&Acked> = reports.iter().flat_map(|r| r.acked.iter()).collect();
    let mut lost = 0;
    for a in &acked {
        let found: Vec<_> = moves.iter().filter(|m| m.0 == a.txn_id).collect();
        match found.as_slice() {
            [one] => assert_eq!(
                (one.1, one.2),
                (a.from, a.to),
                "acknowledged move differs from its log entry"
            ),
            [] => lost += 1,
            _ => panic!("acknowledged move {a:?} appears {} times", found.len()),
        }
    }
    assert_eq!(lost, 0, "lost updates");
    assert_eq!(
        false_preconditions, 0,
        "promotions acknowledged under a false precondition"
    );
    assert_eq!(acked.len(), PROCESSES * PROMOTIONS);
    assert_eq!(
        moves.len(),
        acked.len(),
        "entries per acknowledged promotion must be 1.0"
    );
    let conflicts: usize = reports.iter().map(|r| r.conflicts).sum();
    let mut latencies: Vec<f64> = reports
        .iter()
        .flat_map(|r| r.latencies_ms.iter().copied())
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    eprintln!(
        "C2 {label}: {PROCESSES} processes x {PROMOTIONS} promotions in {wall:.2} s: {} acknowledged, \
         0 lost updates, 0 false preconditions, linearizable; {conflicts} conflicts returned; \
         {:.0} promotions/s; promote latency p50 {:.1} ms, p99 {:.1} ms; log entries per \
         acknowledged promotion {:.2}",
        acked.len(),
        acked.len() as f64 / wall,
        pct(50),
        pct(99),
        moves.len() as f64 / acked.len() as f64,
    );
}

/// The stores of the children on moto and Azurite (the services' addresses come from the
/// environment `scripts/test.sh` sets; a missing one fails the test loudly).
#[cfg(feature = "cloud")]
mod emulators {
    use mlops_core::testing::{AZURE_CONTAINER, S3_BUCKET, S3_ENDPOINT, require_env};
    use mlops_core::{StoreRoot, StoreUri};

    pub(super) fn s3_at(prefix: &str) -> StoreRoot {
        let endpoint = require_env(S3_ENDPOINT);
        let uri = format!("s3://{}/{prefix}", require_env(S3_BUCKET));
        StoreUri::parse(&uri)
            .unwrap()
            .open_with_options([
                ("aws_endpoint", endpoint.as_str()),
                ("aws_allow_http", "true"),
                ("aws_region", "us-east-1"),
                ("aws_access_key_id", "test"),
                ("aws_secret_access_key", "test"),
                ("aws_virtual_hosted_style_request", "false"),
            ])
            .unwrap()
    }

    pub(super) fn azure_at(prefix: &str) -> StoreRoot {
        let uri = format!("az://{}/{prefix}", require_env(AZURE_CONTAINER));
        StoreUri::parse(&uri)
            .unwrap()
            .open_with_options([("azure_storage_use_emulator", "true")])
            .unwrap()
    }
}
