//! C2 on a local folder: 8 processes × 25 promotions (see `multiprocess.rs`; moto and
//! Azurite run it in the `services` target).

use crate::multiprocess::eight_processes_promote;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_promote_on_a_local_folder() {
    let dir = tempfile::tempdir().unwrap();
    eight_processes_promote(&format!("folder:{}", dir.path().display()), "local folder").await;
}
