//! F1: `kill -9` during local logging.
//!
//! A child process (this test binary, re-run on the ignored test `crash::crash_child`) logs
//! continuously into a local folder: runs, metric batches (compacting every 4 segments),
//! params, tags, artifacts, finishes. After each call returns (durable), it appends what was
//! acknowledged to an fsynced journal. The parent SIGKILLs it after a uniformly random delay
//! in 0–200 ms, then opens the store and checks that every run reads, nothing damaged is
//! found, nothing the journal acknowledged is missing or duplicated, and the killed run is
//! detected as stale. `MLOPS_CRASH_ITERATIONS` sets the number of kills (60 by default).

// Tests report their figures and losses on stderr.
#![allow(clippy::print_stderr)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mlops_core::{
    ArtifactPath, ExperimentName, Metric, MetricKey, Param, RunId, RunStatus, StoreUri, Tag,
    Timestamp,
};
use mlops_track::local::LocalStoreOptions;
use mlops_track::{LocalStore, NewRun, TrackingStore, TrackingStoreExt};
use serde::{Deserialize, Serialize};

const CHILD_DIR: &str = "MLOPS_CRASH_CHILD_DIR";
const CHILD_JOURNAL: &str = "MLOPS_CRASH_CHILD_JOURNAL";
const EXPERIMENT: &str = "crash-test";
const T0: i64 = 1_700_000_000_000;
const POINTS_PER_BATCH: i64 = 100;
const BATCHES_PER_RUN: i64 = 12;

/// One acknowledged operation, as the child journals it.
#[derive(Serialize, Deserialize, Debug)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Ack {
    Run {
        run: String,
    },
    Batch {
        run: String,
        batch: i64,
        param: Option<(String, String)>,
        tag: Option<i64>,
    },
    Artifact {
        run: String,
        path: String,
        len: usize,
        byte: u8,
    },
    Finished {
        run: String,
    },
}

fn loss_point(step: i64) -> Metric {
    let value = if step % 97 == 13 {
        f64::NAN
    } else {
        step as f64 * 0.5
    };
    Metric::new(
        MetricKey::parse("loss").unwrap(),
        value,
        Timestamp::from_millis(T0 + step).unwrap(),
        step,
    )
}

fn store_uri(dir: &Path) -> StoreUri {
    StoreUri::parse(dir.to_str().unwrap()).unwrap()
}

async fn open(dir: &Path) -> LocalStore {
    let root = store_uri(dir).open().unwrap();
    LocalStore::open_with_options(
        root,
        LocalStoreOptions::default().with_compact_after_segments(4),
    )
    .await
    .unwrap()
}

/// The child: logs until killed (or for at most 10 s, should the parent be gone).
#[test]
#[ignore = "the child process of kill_nine_while_logging"]
fn crash_child() {
    let (Ok(dir), Ok(journal)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_JOURNAL)) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(child_main(PathBuf::from(dir), PathBuf::from(journal)));
}

async fn child_main(dir: PathBuf, journal: PathBuf) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut journal = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(journal)
        .unwrap();
    let mut ack = |ack: Ack| {
        let mut line = serde_json::to_vec(&ack).unwrap();
        line.push(b'\n');
        journal.write_all(&line).unwrap();
        journal.sync_data().unwrap();
    };
    let store = open(&dir).await;
    let name = ExperimentName::parse(EXPERIMENT).unwrap();
    // Several children race to create it: whoever wins, all get the one id.
    let experiment = store.get_or_create_experiment(&name).await.unwrap();
    while Instant::now() < deadline {
        let run = store
            .create_run(NewRun {
                experiment_id: experiment.clone(),
                run_name: None,
                user_id: "crash".into(),
                start_time: Timestamp::now(),
                tags: vec![Tag::parse("pid", std::process::id().to_string()).unwrap()],
            })
            .await
            .unwrap()
            .info
            .run_id;
        ack(Ack::Run {
            run: run.to_string(),
        });
        for batch in 0..BATCHES_PER_RUN {
            let points: Vec<Metric> = (0..POINTS_PER_BATCH)
                .map(|i| loss_point(batch * POINTS_PER_BATCH + i))
                .collect();
            let param = (batch % 3 == 0).then(|| (format!("p{batch}"), format!("v{batch}")));
            let params: Vec<Param> = param
                .iter()
                .map(|(k, v)| Param::parse(k, v.as_str()).unwrap())
                .collect();
            let tag = (batch % 2 == 0).then_some(batch);
            let tags: Vec<Tag> = tag
                .iter()
                .map(|b| Tag::parse("progress", b.to_string()).unwrap())
                .collect();
            store
                .log_batch(&run, &points, &params, &tags)
                .await
                .unwrap();
            ack(Ack::Batch {
                run: run.to_string(),
                batch,
                param,
                tag,
            });
            if batch % 5 == 2 {
                let path = format!("checkpoints/{batch}.bin");
                let byte = batch as u8;
                let len = 1000 + batch as usize;
                store
                    .log_artifact(
                        &run,
                        &ArtifactPath::parse(path.as_str()).unwrap(),
                        Bytes::from(vec![byte; len]),
                    )
                    .await
                    .unwrap();
                ack(Ack::Artifact {
                    run: run.to_string(),
                    path,
                    len,
                    byte,
                });
            }
        }
        store
            .update_run(
                &run,
                Some(RunStatus::Finished),
                Some(Timestamp::now()),
                None,
            )
            .await
            .unwrap();
        ack(Ack::Finished {
            run: run.to_string(),
        });
    }
}

/// A small deterministic generator (splitmix64), seeded from the clock and reported, so a
/// failing sequence of delays can be replayed with `MLOPS_CRASH_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// What one kill left, checked against the journal.
#[derive(Default, Debug)]
struct Tally {
    acked_runs: usize,
    acked_batches: usize,
    acked_points: usize,
    acked_params: usize,
    acked_artifacts: usize,
    lost: usize,
    duplicated: usize,
}

fn read_journal(path: &Path) -> Vec<Ack> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut acks = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(ack) => acks.push(ack),
            // Only the very last line can be torn by the kill.
            Err(e) if i + 1 == lines.len() => eprintln!("ignoring a torn journal tail: {e}"),
            Err(e) => panic!("journal line {i} unreadable: {e}: {line}"),
        }
    }
    acks
}

async fn verify(store: &LocalStore, acks: &[Ack], tally: &mut Tally) {
    let mut batches: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut params: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut last_tag: HashMap<String, i64> = HashMap::new();
    let mut finished: HashSet<String> = HashSet::new();
    for ack in acks {
        match ack {
            Ack::Run { run } => {
                tally.acked_runs += 1;
                batches.entry(run.clone()).or_default();
            }
            Ack::Batch {
                run,
                batch,
                param,
                tag,
            } => {
                tally.acked_batches += 1;
                tally.acked_points += POINTS_PER_BATCH as usize;
                batches.entry(run.clone()).or_default().push(*batch);
                if let Some(p) = param {
                    tally.acked_params += 1;
                    params.entry(run.clone()).or_default().push(p.clone());
                }
                if let Some(t) = tag {
                    last_tag.insert(run.clone(), *t);
                }
            }
            Ack::Artifact {
                run,
                path,
                len,
                byte,
            } => {
                tally.acked_artifacts += 1;
                let id = RunId::parse(run.as_str()).unwrap();
                match store
                    .download_artifact(&id, &ArtifactPath::parse(path.as_str()).unwrap())
                    .await
                {
                    Ok(bytes) if bytes.len() == *len && bytes.iter().all(|b| b == byte) => {}
                    other => {
                        tally.lost += 1;
                        eprintln!("LOST artifact {path} of {run}: {other:?}");
                    }
                }
            }
            Ack::Finished { run } => {
                finished.insert(run.clone());
            }
        }
    }
    let loss = MetricKey::parse("loss").unwrap();
    for (run, acked) in &batches {
        let id = RunId::parse(run.as_str()).unwrap();
        let got = match store.get_run(&id).await {
            Ok(got) => got,
            Err(e) => {
                tally.lost += 1 + acked.len();
                eprintln!("LOST run {run}: {e}");
                continue;
            }
        };
        let history = store.get_metric_history(&id, &loss).await.unwrap();
        let mut steps: HashMap<i64, &Metric> = HashMap::new();
        for point in &history {
            if steps.insert(point.step, point).is_some() {
                tally.duplicated += 1;
            }
        }
        for batch in acked {
            for step in batch * POINTS_PER_BATCH..(batch + 1) * POINTS_PER_BATCH {
                match steps.get(&step) {
                    Some(point) if point.same_point(&loss_point(step)) => {}
                    other => {
                        tally.lost += 1;
                        eprintln!("LOST point {step} of {run}: {other:?}");
                    }
                }
            }
        }
        for (key, value) in params.get(run).into_iter().flatten() {
            if got.data.param(key) != Some(value.as_str()) {
                tally.lost += 1;
                eprintln!("LOST param {key} of {run}");
            }
        }
        if let Some(acked_tag) = last_tag.get(run) {
            // A later batch may have landed without its acknowledgement: at least as new.
            let value: Option<i64> = got.data.tag("progress").and_then(|v| v.parse().ok());
            if value.is_none_or(|v| v < *acked_tag) {
                tally.lost += 1;
                eprintln!("LOST tag progress={acked_tag} of {run}: {value:?}");
            }
        }
        if finished.contains(run) && got.info.status != RunStatus::Finished {
            tally.lost += 1;
            eprintln!("LOST the finish of {run}: {:?}", got.info.status);
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_while_logging() {
    let iterations: usize = std::env::var("MLOPS_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let seed = std::env::var("MLOPS_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let exe = std::env::current_exe().unwrap();
    let mut tally = Tally::default();
    let mut recoveries = Vec::new();
    let mut stale_marked = 0;
    let mut runs_seen = 0;
    let mut unfinished_after_kill = 0;
    for iteration in 0..iterations {
        let journal = dir.path().join(format!("journal-{iteration}.jsonl"));
        let delay = Duration::from_micros(rng.next() % 200_001);
        let mut child = Command::new(&exe)
            .args([
                "crash::crash_child",
                "--exact",
                "--ignored",
                "--test-threads",
                "1",
                "--quiet",
            ])
            .env(CHILD_DIR, &store_dir)
            .env(CHILD_JOURNAL, &journal)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(delay).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if !store_dir.join("FORMAT.json").exists() {
            continue; // killed before it opened the store
        }

        // Recovery: open the store and read every run.
        let started = Instant::now();
        let store = open(&store_dir).await;
        let report = store.check().await.unwrap();
        recoveries.push(started.elapsed());
        assert!(
            report.is_clean(),
            "iteration {iteration} (seed {seed}): damage after a kill: {report:?}"
        );
        runs_seen = report.runs;

        let acks = read_journal(&journal);
        verify(&store, &acks, &mut tally).await;
        assert_eq!(
            (tally.lost, tally.duplicated),
            (0, 0),
            "iteration {iteration} (seed {seed}, delay {delay:?}): acknowledged records lost \
             or duplicated"
        );

        // The killed writer's run is found stale and marked KILLED; its metrics stay whole.
        let stale = store.stale_runs(Duration::from_secs(3600)).await.unwrap();
        let marked = store
            .mark_stale_runs_killed(Duration::from_secs(3600))
            .await
            .unwrap();
        assert_eq!(marked.len(), stale.len());
        stale_marked += marked.len();
        let acked_runs: HashSet<String> = acks
            .iter()
            .filter_map(|a| match a {
                Ack::Run { run } => Some(run.clone()),
                _ => None,
            })
            .collect();
        let finished: HashSet<String> = acks
            .iter()
            .filter_map(|a| match a {
                Ack::Finished { run } => Some(run.clone()),
                _ => None,
            })
            .collect();
        unfinished_after_kill += acked_runs.difference(&finished).count();
        for run in acked_runs.difference(&finished) {
            let id = RunId::parse(run.as_str()).unwrap();
            let status = store.get_run(&id).await.unwrap().info.status;
            assert!(
                matches!(status, RunStatus::Killed | RunStatus::Finished),
                "run {run} left {status:?} after mark_stale_runs_killed"
            );
        }
        let mut after = Tally::default();
        verify(&open(&store_dir).await, &acks, &mut after).await;
        assert_eq!(
            (after.lost, after.duplicated),
            (0, 0),
            "iteration {iteration} (seed {seed}): lost after marking stale runs killed"
        );
    }
    recoveries.sort();
    assert!(
        recoveries.len() >= iterations * 3 / 4,
        "most children must get going"
    );
    eprintln!(
        "crash test: {iterations} SIGKILLs (seed {seed}); store reopened {} times; \
         {runs_seen} runs at the end, all readable, 0 damaged; acknowledged: {} runs, {} batches \
         ({} points), {} params, {} artifacts; lost {}, duplicated {}; stale runs marked \
         KILLED {stale_marked} (unfinished acknowledged runs {unfinished_after_kill}); \
         recovery (open + read every run) p50 {:?}, p99 {:?}, max {:?}",
        recoveries.len(),
        tally.acked_runs,
        tally.acked_batches,
        tally.acked_points,
        tally.acked_params,
        tally.acked_artifacts,
        tally.lost,
        tally.duplicated,
        percentile(&recoveries, 0.5),
        percentile(&recoveries, 0.99),
        recoveries.last().unwrap(),
    );
    assert_eq!(tally.lost, 0);
    assert_eq!(tally.duplicated, 0);
}
