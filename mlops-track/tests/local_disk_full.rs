//! The disk fills up while a run logs (issue 17, "disk full"): the write that does not fit
//! fails with an error that says so, everything acknowledged before it reads back from a
//! fresh store, and once there is room again the same handle goes on and the store checks
//! clean.
//!
//! Two disks: `DiskBudget` (mlops_core::testing), a store wrapper that refuses writes past a
//! byte budget with the out-of-space error, always; and, when the tests run as root (as in
//! CI's container), a real 256 KiB tmpfs mounted for the test and grown with
//! `mount -o remount` to make room. Not root: only the wrapper runs, and the tmpfs test
//! says so on stderr and checks nothing else.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use mlops_core::testing::DiskBudget;
use mlops_core::{
    ExperimentName, Metric, MetricKey, Param, ParamKey, RunStatus, StoreRoot, StoreUri, Timestamp,
};
use mlops_track::{LocalStore, NewRun, TrackError, TrackingStore};

type Open<'a> = &'a dyn Fn() -> Pin<Box<dyn Future<Output = LocalStore> + Send>>;

fn is_full(e: &TrackError) -> bool {
    DiskBudget::is_no_space(e)
        || std::error::Error::source(e)
            .is_some_and(|s| s.to_string().contains("No space left on device"))
}

/// Logs until the disk is full, checks what was acknowledged, makes room, goes on.
async fn fill_then_recover(open: Open<'_>, make_room: &dyn Fn()) {
    let store = open().await;
    let experiment = store
        .create_experiment(&ExperimentName::parse("full").unwrap(), &[])
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
        .unwrap()
        .info
        .run_id;
    let loss = MetricKey::parse("loss").unwrap();
    let step = |i: i64| {
        let metric = Metric::new(loss.clone(), i as f64, Timestamp::now(), i);
        let param =
            Param::new(ParamKey::parse(format!("p{i}")).unwrap(), "x".repeat(2000)).unwrap();
        (metric, param)
    };
    let mut acknowledged = 0;
    let error = loop {
        assert!(acknowledged < 10_000, "the disk never filled");
        let (metric, param) = step(acknowledged);
        match store.log_batch(&run, &[metric], &[param], &[]).await {
            Ok(()) => acknowledged += 1,
            Err(e) => break e,
        }
    };
    assert!(acknowledged > 0);
    assert!(is_full(&error), "not an out-of-space error: {error:?}");
    let message = error.to_string();
    assert!(message.contains("storage error at"), "{message}");

    // A fresh store (another process) reads exactly what was acknowledged.
    let fresh = open().await;
    let got = fresh.get_run(&run).await.unwrap();
    let history = fresh.get_metric_history(&run, &loss).await.unwrap();
    let steps: Vec<i64> = history.iter().map(|m| m.step).collect();
    assert_eq!(steps, (0..acknowledged).collect::<Vec<_>>());
    for i in 0..acknowledged {
        assert!(
            got.data.param(&format!("p{i}")).is_some(),
            "param p{i} lost"
        );
    }
    assert_eq!(fresh.damage(), vec![]);

    // Room again: the same handle goes on, and the store reads clean.
    make_room();
    let (metric, param) = step(acknowledged);
    store
        .log_batch(&run, &[metric], &[param], &[])
        .await
        .unwrap();
    store
        .update_run(
            &run,
            Some(RunStatus::Finished),
            Some(Timestamp::now()),
            None,
        )
        .await
        .unwrap();
    let fresh = open().await;
    let got = fresh.get_run(&run).await.unwrap();
    assert_eq!(got.info.status, RunStatus::Finished);
    let history = fresh.get_metric_history(&run, &loss).await.unwrap();
    assert_eq!(history.len() as i64, acknowledged + 1);
    assert_eq!(fresh.damage(), vec![]);
    let report = fresh.check().await.unwrap();
    assert!(report.is_clean(), "{report:?}");
}

#[tokio::test]
async fn a_full_store_fails_clearly_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn object_store::ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let disk = DiskBudget::from_arc(Arc::clone(&inner), 64 << 10);
    let writer_root = StoreRoot::from_parts(Arc::new(disk.clone()), None);
    let opened = Arc::new(tokio::sync::Mutex::new(false));
    let open = move || {
        let writer_root = writer_root.clone();
        let reader_root = StoreRoot::from_parts(Arc::clone(&inner), None);
        let opened = Arc::clone(&opened);
        Box::pin(async move {
            // The first store is the writer (through the budget); later ones read what
            // reached the disk.
            let mut first = opened.lock().await;
            let root = if *first { reader_root } else { writer_root };
            *first = true;
            LocalStore::open(root).await.unwrap()
        }) as Pin<Box<dyn Future<Output = LocalStore> + Send>>
    };
    let budget = disk.clone();
    fill_then_recover(&open, &move || budget.set_budget(u64::MAX)).await;
    assert!(disk.refused() >= 1);
}

#[tokio::test]
async fn a_full_tmpfs_fails_clearly_and_loses_nothing_acknowledged() {
    if !is_root() {
        eprintln!("not root: no tmpfs to mount; the DiskBudget test covers a full disk");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("disk");
    std::fs::create_dir(&mount).unwrap();
    let _mounted = Tmpfs::mount(&mount, "256k");
    let path = mount.clone();
    let open = move || {
        let uri = StoreUri::parse(path.to_str().unwrap()).unwrap();
        Box::pin(async move { LocalStore::open_uri(&uri).await.unwrap() })
            as Pin<Box<dyn Future<Output = LocalStore> + Send>>
    };
    let target = mount.clone();
    fill_then_recover(&open, &move || Tmpfs::resize(&target, "16m")).await;
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0")
}

/// A tmpfs mounted for one test, unmounted when dropped.
pub(crate) struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    pub(crate) fn mount(at: &std::path::Path, size: &str) -> Self {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .unwrap();
        assert!(status.success(), "running as root, but mount failed");
        Self(at.to_path_buf())
    }

    pub(crate) fn resize(at: &std::path::Path, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(at)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}
