//! The disk fills up while versions are registered and promoted (issue 17, "disk full"):
//! the write that does not fit fails at once with an error that says so (no retry storm, no
//! "unknown outcome"), every acknowledged version and promotion reads back from a fresh
//! registry with its bytes intact and no hole in the log, and once there is room again the
//! same handle goes on at the next slot.
//!
//! Two disks: `DiskBudget` (mlops_core::testing), a store wrapper that refuses writes past a
//! byte budget with the out-of-space error, always; and, when the tests run as root, a real
//! 256 KiB tmpfs grown with `mount -o remount` to make room. Not root: only the wrapper runs,
//! and the tmpfs test says so on stderr and checks nothing else.

use std::path::Path;
use std::sync::Arc;

use mlops_core::testing::DiskBudget;
use mlops_core::{AliasName, ArtifactPath, ModelName, ModelVersion, StoreRoot, StoreUri};
use mlops_registry::{
    AliasChange, Expect, ModelRegistry, NewVersion, ObjectRegistry, RegistryError, RegistryExt,
};

fn artifact(i: usize) -> Vec<u8> {
    format!("{{\"weights\": {i}}}").into_bytes().repeat(200)
}

/// Registers and promotes until the disk is full, checks what was acknowledged through
/// `fresh`, makes room, goes on.
async fn fill_then_recover(
    writer: ObjectRegistry,
    fresh: &dyn Fn() -> ObjectRegistry,
    make_room: &dyn Fn(),
) {
    let name = ModelName::parse("full").unwrap();
    let champion = AliasName::parse("champion").unwrap();
    let path = ArtifactPath::parse("model.json").unwrap();
    writer.create_model(&name, None, &[]).await.unwrap();
    let mut acknowledged: Vec<ModelVersion> = Vec::new();
    let mut promoted = None;
    let error = loop {
        assert!(acknowledged.len() < 10_000, "the disk never filled");
        let new = NewVersion::new().with_artifact(path.clone(), artifact(acknowledged.len()));
        let version = match writer.create_version(&name, new).await {
            Ok(info) => info.version,
            Err(e) => break e,
        };
        acknowledged.push(version);
        let any = AliasChange::expecting(Expect::Any);
        match writer.set_alias(&name, &champion, version, &any).await {
            Ok(_) => promoted = Some(version),
            Err(e) => break e,
        }
    };
    assert!(!acknowledged.is_empty());
    match &error {
        RegistryError::Storage { source, .. } => {
            assert!(
                DiskBudget::is_no_space(source) || is_enospc(source),
                "{error:?}"
            );
        }
        other => panic!("not a storage error: {other:?}"),
    }

    let reader = fresh();
    for (i, &version) in acknowledged.iter().enumerate() {
        let bytes = reader
            .download_artifact(&name, version, &path)
            .await
            .unwrap();
        assert_eq!(bytes.as_ref(), artifact(i).as_slice());
    }
    if let Some(version) = promoted {
        let resolved = reader.resolve_alias(&name, &champion).await.unwrap();
        assert_eq!(resolved.version, version);
    }
    reader.read_log(&name).await.unwrap();

    make_room();
    let new = NewVersion::new().with_artifact(path.clone(), artifact(acknowledged.len()));
    let next = writer.create_version(&name, new).await.unwrap().version;
    assert!(next > *acknowledged.last().unwrap());
    let any = AliasChange::expecting(Expect::Any);
    writer
        .set_alias(&name, &champion, next, &any)
        .await
        .unwrap();
    let reader = fresh();
    assert_eq!(
        reader
            .resolve_alias(&name, &champion)
            .await
            .unwrap()
            .version,
        next
    );
    let log = reader.read_log(&name).await.unwrap();
    assert!(!log.is_empty());
}

fn is_enospc(e: &object_store::Error) -> bool {
    e.to_string().contains("No space left on device")
        || std::error::Error::source(e)
            .is_some_and(|s| s.to_string().contains("No space left on device"))
}

#[tokio::test]
async fn a_full_store_fails_at_once_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn object_store::ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let disk = DiskBudget::from_arc(Arc::clone(&inner), 48 << 10);
    let writer = ObjectRegistry::new(StoreRoot::from_parts(Arc::new(disk.clone()), None))
        .with_actor("tests")
        .unwrap();
    let fresh = move || ObjectRegistry::new(StoreRoot::from_parts(Arc::clone(&inner), None));
    let budget = disk.clone();
    fill_then_recover(writer, &fresh, &move || budget.set_budget(u64::MAX)).await;
    // Refused once per failed write: neither retried nor read back as an unknown outcome.
    assert_eq!(disk.refused(), 1);
}

#[tokio::test]
async fn a_full_tmpfs_fails_at_once_and_loses_nothing_acknowledged() {
    if !is_root() {
        eprintln!("not root: no tmpfs to mount; the DiskBudget test covers a full disk");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("disk");
    std::fs::create_dir(&mount).unwrap();
    let _mounted = Tmpfs::mount(&mount, "256k");
    let open = {
        let mount = mount.clone();
        move || {
            let uri = StoreUri::parse(mount.to_str().unwrap()).unwrap();
            ObjectRegistry::open_uri(&uri)
                .unwrap()
                .with_actor("tests")
                .unwrap()
        }
    };
    let target = mount.clone();
    fill_then_recover(open(), &open, &move || Tmpfs::resize(&target, "16m")).await;
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
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Self {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .unwrap();
        assert!(status.success(), "running as root, but mount failed");
        Self(at.to_path_buf())
    }

    fn resize(at: &Path, size: &str) {
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
