//! Every object a local store parses is read with a size limit (issue 17, finding 2): a
//! record, segment or marker replaced by a 1 GiB file is refused before its bytes are read,
//! named with the limit, and the rest of the store reads as before.

use std::path::{Path, PathBuf};

use mlops_core::{ExperimentName, Metric, MetricKey, RunId, StoreUri, Timestamp};
use mlops_track::{LocalStore, NewRun, RunQuery, TrackError, TrackingStore};

const GIB: u64 = 1 << 30;

async fn open(dir: &Path) -> mlops_track::Result<LocalStore> {
    let uri = StoreUri::parse(dir.to_str().unwrap()).unwrap();
    LocalStore::open_uri(&uri).await
}

/// A store with one run that logged a param and a metric; returns the run.
async fn one_run(dir: &Path) -> RunId {
    let store = open(dir).await.unwrap();
    let experiment = store
        .create_experiment(&ExperimentName::parse("limits").unwrap(), &[])
        .await
        .unwrap();
    let run = store
        .create_run(NewRun {
            experiment_id: experiment,
            run_name: None,
            user_id: "ada".into(),
            start_time: Timestamp::now(),
            tags: vec![],
        })
        .await
        .unwrap();
    let key = MetricKey::parse("loss").unwrap();
    store
        .log_batch(
            &run.info.run_id,
            &[Metric::new(key, 0.5, Timestamp::now(), 0)],
            &[mlops_core::Param::new(mlops_core::ParamKey::parse("lr").unwrap(), "0.1").unwrap()],
            &[],
        )
        .await
        .unwrap();
    run.info.run_id
}

fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Replaces `path` with a sparse file of 1 GiB: no disk, and (read whole) a GiB of memory.
fn make_huge(path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    file.set_len(GIB).unwrap();
}

/// The peak resident memory of this process so far, in bytes (Linux: `VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap()
        .to_owned();
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

#[tokio::test]
async fn a_huge_run_record_is_damage_not_memory() {
    let dir = tempfile::tempdir().unwrap();
    let run = one_run(dir.path()).await;
    let meta = dir.path().join("runs").join(run.as_str()).join("meta");
    // The last record holds the param; the creation record stays readable.
    let last = sorted_files(&meta).pop().unwrap();
    make_huge(&last);

    let store = open(dir.path()).await.unwrap();
    for _ in 0..3 {
        let got = store.get_run(&run).await.unwrap();
        assert_eq!(got.data.param("lr"), None, "the huge record is not read");
        let page = store
            .search_runs(&RunQuery {
                experiment_ids: vec![got.info.experiment_id.clone()],
                ..RunQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
    }
    let damage = store.damage();
    let name = last.file_name().unwrap().to_str().unwrap();
    let reported = damage
        .iter()
        .find(|d| d.key.ends_with(name))
        .unwrap_or_else(|| panic!("{damage:?}"));
    assert!(
        reported.reason.contains("1073741824 bytes")
            && reported.reason.contains("16777216-byte limit"),
        "{reported:?}"
    );
    // Three reads of a 1 GiB record would have held at least 1 GiB at once.
    let peak = peak_rss();
    assert!(peak < GIB / 2, "peak RSS {peak} bytes");
}

#[tokio::test]
async fn a_huge_metric_segment_and_experiments_record_are_damage() {
    let dir = tempfile::tempdir().unwrap();
    let run = one_run(dir.path()).await;
    let metrics = dir.path().join("runs").join(run.as_str()).join("metrics");
    let segment = sorted_files(&metrics).pop().unwrap();
    make_huge(&segment);
    let store = open(dir.path()).await.unwrap();
    let got = store.get_run(&run).await.unwrap();
    assert_eq!(got.data.metric("loss"), None);
    assert_eq!(got.data.param("lr"), Some("0.1"));
    let damage = store.damage();
    assert!(
        damage
            .iter()
            .any(|d| d.key.contains("/metrics/") && d.reason.contains("limit")),
        "{damage:?}"
    );

    let log = sorted_files(&dir.path().join("experiments/log"));
    make_huge(log.last().unwrap());
    let store = open(dir.path()).await.unwrap();
    let name = ExperimentName::parse("limits").unwrap();
    assert!(store.get_experiment_by_name(&name).await.unwrap().is_none());
    let damage = store.damage();
    assert!(
        damage
            .iter()
            .any(|d| d.key.contains("experiments/log") && d.reason.contains("limit")),
        "{damage:?}"
    );
}

#[tokio::test]
async fn a_huge_format_marker_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    one_run(dir.path()).await;
    make_huge(&dir.path().join("FORMAT.json"));
    let err = open(dir.path()).await.err().unwrap();
    assert!(
        matches!(&err, TrackError::TooLarge { path, size: GIB, limit: 65536, .. } if path.ends_with("FORMAT.json")),
        "{err:?}"
    );
}
