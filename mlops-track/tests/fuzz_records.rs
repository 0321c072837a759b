//! Fuzzing the tracking store's record readers (issue 17): in a folder store with a run
//! that has params, tags and metrics, one stored file at a time is replaced by a mutation
//! of itself (or random bytes), and a fresh store reads through the public API: no panic,
//! an error or a value, and nothing read back larger than what is stored.
//! `scripts/fuzz.sh` runs it for millions of cases (`PROPTEST_CASES`).

use std::path::{Path, PathBuf};

use mlops_core::testing::{FuzzRng, mutate, run_fuzz_with};
use mlops_core::{ExperimentName, Param, StoreUri, Tag, Timestamp};
use mlops_track::{ExperimentQuery, LocalStore, NewRun, RunQuery, TrackingStore, ViewType};

use crate::support::point;

const DICT: &[&[u8]] = &[
    b"\"run_id\"",
    b"\"experiment_id\"",
    b"\"key\"",
    b"\"value\"",
    b"\"step\"",
    b"\"crc\"",
    b"null",
    b"-1",
    b"18446744073709551615",
    b"1e309",
    b"\n",
    b"{}",
];

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A framed object's kind and body (`None` if it is not one: a lease, `FORMAT.json`).
fn unframe(bytes: &[u8]) -> Option<(String, &[u8])> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    let header: serde_json::Value = serde_json::from_slice(&bytes[..end]).ok()?;
    let kind = header
        .get("crc32c")
        .and(header.get("mlops"))?
        .as_str()?
        .to_owned();
    Some((kind, &bytes[end + 1..]))
}

/// `body` framed as the store frames it: a header with its kind, length and CRC-32C.
fn reframe(kind: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "{{\"mlops\":{},\"v\":1,\"len\":{},\"crc32c\":\"{:08x}\"}}",
        serde_json::Value::from(kind),
        body.len(),
        crc32c(body)
    )
    .into_bytes();
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

/// CRC-32C (Castagnoli), bit by bit: the test's own, independent of the store's tables.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn the_reframed_objects_are_what_the_store_writes() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    let dir = tempfile::tempdir().unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store = open(dir.path()).await.unwrap();
            store
                .create_experiment(&ExperimentName::parse("frames").unwrap(), &[])
                .await
                .unwrap();
        });
    let mut framed = 0;
    for path in files_under(dir.path()) {
        let bytes = std::fs::read(&path).unwrap();
        if let Some((kind, body)) = unframe(&bytes) {
            assert_eq!(reframe(&kind, body), bytes, "{path:?}");
            framed += 1;
        }
    }
    assert!(framed >= 1);
}

async fn open(dir: &Path) -> mlops_track::Result<LocalStore> {
    LocalStore::open_uri(&StoreUri::parse(dir.to_str().unwrap()).unwrap()).await
}

#[test]
fn run_records() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = rt.block_on(async {
        let store = open(dir.path()).await.unwrap();
        let experiment = store
            .create_experiment(&ExperimentName::parse("fuzz").unwrap(), &[])
            .await
            .unwrap();
        let run = store
            .create_run(NewRun {
                experiment_id: experiment,
                run_name: Some(mlops_core::RunName::parse("fuzzed").unwrap()),
                user_id: "fuzz".into(),
                start_time: Timestamp::now(),
                tags: vec![Tag::parse("team", "a").unwrap()],
            })
            .await
            .unwrap()
            .info
            .run_id;
        for step in 0..3 {
            store
                .log_batch(
                    &run,
                    &[point("rmse", 0.5, step), point("acc", 0.9, step)],
                    &[Param::parse(&format!("p{step}"), "1").unwrap()],
                    &[Tag::parse("t", step.to_string()).unwrap()],
                )
                .await
                .unwrap();
        }
        run
    });
    let files: Vec<(PathBuf, Vec<u8>)> = files_under(dir.path())
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    assert!(files.len() >= 4, "{files:?}");
    let stored: usize = files.iter().map(|(_, b)| b.len()).sum();

    // An input is the index of the file to replace, then its new bytes.
    run_fuzz_with(
        "track run records",
        |rng: &mut FuzzRng| {
            let index = rng.below(files.len());
            let original = &files[index].1;
            let bytes = if rng.one_in(4) {
                let n = rng.below(512);
                rng.bytes(n)
            } else if rng.one_in(3) {
                mutate(original, DICT, rng)
            } else {
                // Checksum-aware: mutate the body of a framed object and frame it again, so
                // the mutation passes the CRC check and reaches the record decoders.
                match unframe(original) {
                    Some((kind, body)) => reframe(&kind, &mutate(body, DICT, rng)),
                    None => mutate(original, DICT, rng),
                }
            };
            [&[index as u8][..], &bytes].concat()
        },
        |input| {
            let Some((index, bytes)) = input.split_first() else {
                return;
            };
            let (path, original) = &files[usize::from(*index) % files.len()];
            std::fs::write(path, bytes).unwrap();
            rt.block_on(async {
                // A damaged format marker refuses the whole store: an error, fine.
                let Ok(store) = open(dir.path()).await else {
                    return;
                };
                let budget = 4 * (stored + bytes.len()) + 4096;
                if let Ok(got) = store.get_run(&run).await {
                    assert!(format!("{got:?}").len() <= budget);
                }
                if let Ok(points) = store
                    .get_metric_history(&run, &mlops_core::MetricKey::parse("rmse").unwrap())
                    .await
                {
                    assert!(points.len() <= budget);
                }
                if let Ok(page) = store
                    .search_runs(&RunQuery {
                        experiment_ids: vec![],
                        view: ViewType::All,
                        ..RunQuery::default()
                    })
                    .await
                {
                    assert!(page.items.len() <= 1);
                }
                if let Ok(page) = store.search_experiments(&ExperimentQuery::default()).await {
                    assert!(page.items.len() <= 2);
                }
                let _ = store.check().await;
            });
            std::fs::write(path, original).unwrap();
        },
    );
}
