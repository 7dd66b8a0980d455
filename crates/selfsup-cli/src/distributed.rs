//! Data-parallel `selfsup pretrain`: launching and joining the process group.
//!
//! - `--nproc-per-node N` (N > 1) makes this process a launcher, as torchrun is: it starts N copies
//!   of this program on this machine with the same arguments (less `--nproc-per-node`) and the
//!   torchrun variables (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR`,
//!   `MASTER_PORT`: a free port unless `MASTER_PORT` is set) through `selfsup_dist::spawn_local`,
//!   waits for them and fails, naming the rank, when one fails (the others then fail on their own
//!   within the Gloo timeout, or are killed after a grace period).
//! - A worker (or a process started by torchrun, SLURM's `srun`, or by hand on several machines)
//!   reads those variables ([`join_from_env`]) and joins a c10d Gloo process group over a TCP store
//!   at `MASTER_ADDR:MASTER_PORT`; the trainer and the method then use it as
//!   `selfsup_nn::Collectives`.
//!
//! The backend needs the cargo feature `dist` (selfsup-dist's `c10d`, which needs Gloo's headers:
//! `cargo xtask setup --dist`). Without it, `--nproc-per-node` > 1 and a `WORLD_SIZE` > 1 in the
//! environment are errors that say how to build with it.

use anyhow::Result;
use selfsup_nn::Collectives;
use std::sync::Arc;

/// What to tell a user whose binary was built without the backend.
pub const BUILD_HINT: &str = "this selfsup was built without the distributed backend: run `cargo xtask setup --dist` (Gloo's headers) and build with `cargo build --release -p selfsup-cli --features dist`";

/// Whether this binary has the distributed backend (the cargo feature `dist`).
pub fn available() -> bool {
    cfg!(feature = "dist")
}

/// The arguments of this process less `--nproc-per-node N` / `--nproc-per-node=N` (what each
/// worker gets).
pub fn worker_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        if a == "--nproc-per-node" {
            skip = true;
            continue;
        }
        if a.starts_with("--nproc-per-node=") {
            continue;
        }
        out.push(a.clone());
    }
    out
}

/// Starts `nproc` local workers running this program with `args` (the process's own arguments
/// after the program name, `--nproc-per-node` removed) and waits for them.
pub fn launch_local(nproc: usize, args: &[String]) -> Result<()> {
    if nproc == 0 {
        anyhow::bail!("invalid value for `--nproc-per-node`: must be at least 1, got 0");
    }
    if !available() {
        anyhow::bail!("--nproc-per-node {nproc}: {BUILD_HINT}");
    }
    imp::launch_local(nproc, &worker_args(args))
}

/// The job's collectives when this process is one rank of a data-parallel job (the torchrun
/// variables say so, with `WORLD_SIZE` > 1); `None` for a single process.
pub fn join_from_env() -> Result<Option<Arc<dyn Collectives>>> {
    imp::join_from_env()
}

#[cfg(feature = "dist")]
mod imp {
    use super::*;
    use anyhow::Context;
    use selfsup_dist::{init_process_group, spawn_local, DistEnv, Distributed, GlooOptions};
    use std::time::Duration;

    pub fn launch_local(nproc: usize, args: &[String]) -> Result<()> {
        let exe = std::env::current_exe().context("cannot find this program to start workers")?;
        let mut cmd = std::process::Command::new(exe);
        cmd.args(args);
        let port = match std::env::var("MASTER_PORT") {
            Ok(p) => Some(p.parse::<u16>().map_err(|_| {
                anyhow::anyhow!(
                    "invalid value for `MASTER_PORT`: expected a TCP port (0..65535), got `{p}`"
                )
            })?),
            Err(_) => None,
        };
        let workers = spawn_local(nproc, &cmd, port)?;
        tracing::info!(nproc, pids = ?workers.pids(), "data-parallel workers started");
        workers
            .wait(Duration::from_secs(30))
            .context("data-parallel training failed")?;
        Ok(())
    }

    pub fn join_from_env() -> Result<Option<Arc<dyn Collectives>>> {
        let Some(env) = DistEnv::from_env()? else {
            return Ok(None);
        };
        if env.world_size < 2 {
            return Ok(None);
        }
        let mut opts = GlooOptions::default();
        if let Ok(t) = std::env::var("SELFSUP_DIST_TIMEOUT") {
            let s: f64 = t.parse().ok().filter(|s: &f64| *s > 0.0).ok_or_else(|| {
                anyhow::anyhow!(
                    "invalid value for `SELFSUP_DIST_TIMEOUT`: expected seconds > 0, got `{t}`"
                )
            })?;
            opts.timeout = Duration::from_secs_f64(s);
        }
        let (store, pg) = init_process_group(&env, &opts).with_context(|| {
            format!(
                "rank {} of {} cannot join the process group at {}:{}",
                env.rank, env.world_size, env.master_addr, env.master_port
            )
        })?;
        tracing::info!(
            rank = env.rank,
            world_size = env.world_size,
            "joined the data-parallel process group"
        );
        // Not `Sync` on purpose: a process group's collectives are issued in order from the
        // training thread; the `Arc` only shares it between the trainer and the method.
        #[allow(clippy::arc_with_non_send_sync)]
        let c: Arc<dyn Collectives> = Arc::new(Distributed::new(pg, Some(store)));
        Ok(Some(c))
    }
}

#[cfg(not(feature = "dist"))]
mod imp {
    use super::*;

    pub fn launch_local(_nproc: usize, _args: &[String]) -> Result<()> {
        anyhow::bail!(BUILD_HINT)
    }

    pub fn join_from_env() -> Result<Option<Arc<dyn Collectives>>> {
        let world = std::env::var("WORLD_SIZE").ok();
        match world.as_deref().map(str::parse::<usize>) {
            Some(Ok(w)) if w > 1 => anyhow::bail!(
                "WORLD_SIZE = {w} in the environment asks for data-parallel training, but {BUILD_HINT}"
            ),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_args_drop_the_launcher_flag() {
        let a: Vec<String> = ["pretrain", "--nproc-per-node", "2", "--epochs", "1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(worker_args(&a), ["pretrain", "--epochs", "1"]);
        let b: Vec<String> = ["pretrain", "--nproc-per-node=3", "--out", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(worker_args(&b), ["pretrain", "--out", "x"]);
    }
}
