//! Shared by the multi-process tests: each test re-executes its own test binary as `W` workers
//! (running only the `worker` test, which does nothing unless `SSD_SCENARIO` is set) through
//! `spawn_local`, so the launch path the CLI will use is the one tested.

#![allow(dead_code)]

use selfsup_dist::{DistEnv, GlooOptions, ProcessGroup, Store};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Starts `world` workers of this test binary running `scenario`, with `SSD_DIR` a fresh folder
/// (rendezvous file and outputs), and returns that folder and the workers.
pub fn launch(
    scenario: &str,
    world: usize,
    extra: &[(&str, String)],
) -> (tempfile::TempDir, selfsup_dist::LocalWorkers) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.args(["--exact", "worker", "--nocapture", "--test-threads=1"]);
    cmd.env("SSD_SCENARIO", scenario);
    cmd.env("SSD_DIR", dir.path());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let workers = selfsup_dist::spawn_local(world, &cmd, None).expect("spawn workers");
    (dir, workers)
}

/// In a worker: the scenario to run, if this process is one.
pub fn scenario() -> Option<String> {
    std::env::var("SSD_SCENARIO").ok()
}

/// In a worker: the shared folder.
pub fn dir() -> PathBuf {
    PathBuf::from(std::env::var("SSD_DIR").expect("SSD_DIR"))
}

/// In a worker: this worker's environment, as set by `spawn_local`.
pub fn env() -> DistEnv {
    DistEnv::from_env()
        .expect("valid env")
        .expect("launched by spawn_local")
}

/// In a worker: joins the group through a `FileStore` in the shared folder (or, with
/// `SSD_STORE=tcp`, the TCPStore at MASTER_ADDR:MASTER_PORT), with the given timeout.
pub fn join(timeout: Duration) -> (Store, ProcessGroup) {
    let env = env();
    let opts = GlooOptions {
        timeout,
        hostname: Some("127.0.0.1".into()),
        threads: 2,
    };
    if std::env::var("SSD_STORE").as_deref() == Ok("tcp") {
        return selfsup_dist::init_process_group(&env, &opts).expect("init_process_group");
    }
    let store = Store::file(dir().join("store"), env.world_size, timeout).expect("FileStore");
    let pg = ProcessGroup::gloo(&store, env.rank, env.world_size, &opts).expect("ProcessGroupGloo");
    (store, pg)
}

/// Path of a file in the shared folder.
pub fn out(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
