//! Launch: the torchrun / SLURM environment ([`DistEnv`]), joining the group it describes
//! ([`init_process_group`]) and starting local workers ([`spawn_local`], what
//! `selfsup pretrain --nproc-per-node N` does).
//!
//! Variables read, in this order of precedence:
//! - torchrun: `RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`;
//! - SLURM (`srun`): `SLURM_PROCID` → rank, `SLURM_NTASKS` → world size, `SLURM_LOCALID` → local
//!   rank, `SLURM_NTASKS_PER_NODE` → local world size (its first number); `MASTER_ADDR` must still be
//!   exported by the job script (the first host of `scontrol show hostnames $SLURM_JOB_NODELIST`).
//!
//! `MASTER_PORT` defaults to torchrun's 29500; `MASTER_ADDR` to `127.0.0.1` when the whole world is on
//! this node.

use crate::{Error, GlooOptions, ProcessGroup, Result, Store};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// torchrun's default `MASTER_PORT`.
pub const DEFAULT_MASTER_PORT: u16 = 29500;

/// Where this process sits in a distributed run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistEnv {
    /// Global rank in `0..world_size`.
    pub rank: usize,
    /// Number of processes in the run.
    pub world_size: usize,
    /// Rank on this node (selects the GPU on CUDA machines).
    pub local_rank: usize,
    /// Processes on this node.
    pub local_world_size: usize,
    /// Address of rank 0's store server.
    pub master_addr: String,
    /// Port of rank 0's store server.
    pub master_port: u16,
}

fn parse<T: std::str::FromStr>(name: &str, value: &str) -> Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| Error::config(name, format!("not a non-negative integer: {value:?}")))
}

impl DistEnv {
    /// The environment of this process; `None` when it is not part of a distributed run (neither
    /// `WORLD_SIZE` nor `SLURM_NTASKS` set, or a world of 1).
    pub fn from_env() -> Result<Option<DistEnv>> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// As [`DistEnv::from_env`], reading variables through `get`.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Option<DistEnv>> {
        let (rank, world, local_rank, local_world) = if let Some(w) = get("WORLD_SIZE") {
            let world: usize = parse("WORLD_SIZE", &w)?;
            let rank: usize = match get("RANK") {
                Some(r) => parse("RANK", &r)?,
                None => return Err(Error::config("RANK", "WORLD_SIZE is set but RANK is not")),
            };
            let local_rank = match get("LOCAL_RANK") {
                Some(r) => parse("LOCAL_RANK", &r)?,
                None => rank,
            };
            let local_world = match get("LOCAL_WORLD_SIZE") {
                Some(r) => parse("LOCAL_WORLD_SIZE", &r)?,
                None => world,
            };
            (rank, world, local_rank, local_world)
        } else if let Some(w) = get("SLURM_NTASKS") {
            let world: usize = parse("SLURM_NTASKS", &w)?;
            let rank: usize = match get("SLURM_PROCID") {
                Some(r) => parse("SLURM_PROCID", &r)?,
                None => {
                    return Err(Error::config(
                        "SLURM_PROCID",
                        "SLURM_NTASKS is set but SLURM_PROCID is not",
                    ))
                }
            };
            let local_rank = match get("SLURM_LOCALID") {
                Some(r) => parse("SLURM_LOCALID", &r)?,
                None => 0,
            };
            // SLURM_NTASKS_PER_NODE looks like "4" or "4(x2)" or "4,2".
            let local_world = match get("SLURM_NTASKS_PER_NODE") {
                Some(s) => {
                    let head: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
                    parse("SLURM_NTASKS_PER_NODE", &head)?
                }
                None => 1,
            };
            (rank, world, local_rank, local_world)
        } else {
            return Ok(None);
        };
        if world == 0 {
            return Err(Error::config("WORLD_SIZE", "must be at least 1"));
        }
        if rank >= world {
            return Err(Error::config(
                "RANK",
                format!("must be < WORLD_SIZE ({world}), got {rank}"),
            ));
        }
        if local_world == 0 || local_rank >= local_world {
            return Err(Error::config(
                "LOCAL_RANK",
                format!("must be < LOCAL_WORLD_SIZE ({local_world}), got {local_rank}"),
            ));
        }
        if world == 1 {
            return Ok(None);
        }
        let master_addr = match get("MASTER_ADDR") {
            Some(a) if !a.trim().is_empty() => a.trim().to_string(),
            _ if local_world >= world => "127.0.0.1".to_string(),
            _ => {
                return Err(Error::config(
                    "MASTER_ADDR",
                    "must be set for a run across machines (the address of rank 0), e.g. \
                     `export MASTER_ADDR=$(scontrol show hostnames $SLURM_JOB_NODELIST | head -n1)`",
                ))
            }
        };
        let master_port = match get("MASTER_PORT") {
            Some(p) => parse::<u16>("MASTER_PORT", &p)?,
            None => DEFAULT_MASTER_PORT,
        };
        Ok(Some(DistEnv {
            rank,
            world_size: world,
            local_rank,
            local_world_size: local_world,
            master_addr,
            master_port,
        }))
    }

    /// The torchrun variables describing this process (what [`spawn_local`] sets).
    pub fn to_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("RANK", self.rank.to_string()),
            ("WORLD_SIZE", self.world_size.to_string()),
            ("LOCAL_RANK", self.local_rank.to_string()),
            ("LOCAL_WORLD_SIZE", self.local_world_size.to_string()),
            ("MASTER_ADDR", self.master_addr.clone()),
            ("MASTER_PORT", self.master_port.to_string()),
        ]
    }
}

/// Joins the group `env` describes through a c10d `TCPStore` at `MASTER_ADDR:MASTER_PORT` (rank 0
/// hosts it). When every rank is on this node and `opts.hostname` is unset, Gloo binds to
/// `127.0.0.1`.
pub fn init_process_group(env: &DistEnv, opts: &GlooOptions) -> Result<(Store, ProcessGroup)> {
    let store = Store::tcp(
        &env.master_addr,
        env.master_port,
        env.world_size,
        env.rank == 0,
        opts.timeout,
    )?;
    let mut opts = opts.clone();
    if opts.hostname.is_none() && env.local_world_size >= env.world_size {
        opts.hostname = Some("127.0.0.1".into());
    }
    let pg = ProcessGroup::gloo(&store, env.rank, env.world_size, &opts)?;
    Ok((store, pg))
}

/// A free TCP port on `127.0.0.1` (bound, then released: another process may take it in between,
/// as with torchrun's `--master-port 0`).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error::Io {
        path: "127.0.0.1:0".into(),
        source: e,
    })?;
    Ok(l.local_addr()
        .map_err(|e| Error::Io {
            path: "127.0.0.1:0".into(),
            source: e,
        })?
        .port())
}

/// `nproc` local workers started by [`spawn_local`].
pub struct LocalWorkers {
    children: Vec<Child>,
}

impl LocalWorkers {
    /// The workers' process ids, by rank.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(|c| c.id()).collect()
    }

    /// Waits for every worker. If one fails, the others get `grace` to fail on their own (a dead
    /// peer makes their collectives return an error) and are then killed, like torchrun; the error
    /// names the first rank that failed.
    pub fn wait(mut self, grace: Duration) -> Result<()> {
        let n = self.children.len();
        let mut status: Vec<Option<ExitStatus>> = vec![None; n];
        let mut first_failure: Option<(usize, ExitStatus, Instant)> = None;
        loop {
            for (r, c) in self.children.iter_mut().enumerate() {
                if status[r].is_none() {
                    if let Some(s) = c.try_wait().map_err(|e| Error::Worker {
                        rank: r,
                        message: e.to_string(),
                    })? {
                        status[r] = Some(s);
                        if !s.success() && first_failure.is_none() {
                            tracing::error!(rank = r, %s, "worker failed");
                            first_failure = Some((r, s, Instant::now()));
                        }
                    }
                }
            }
            if status.iter().all(Option::is_some) {
                break;
            }
            if let Some((_, _, t)) = first_failure {
                if t.elapsed() >= grace {
                    for (r, c) in self.children.iter_mut().enumerate() {
                        if status[r].is_none() {
                            tracing::warn!(rank = r, "killing worker after a peer failed");
                            let _ = c.kill();
                            status[r] = c.wait().ok();
                        }
                    }
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        match first_failure {
            Some((rank, s, _)) => Err(Error::Worker {
                rank,
                message: format!("exited with {s}"),
            }),
            None => Ok(()),
        }
    }
}

/// Starts `nproc` copies of `cmd` on this machine with the torchrun variables set (`RANK`,
/// `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR=127.0.0.1`, and `MASTER_PORT`: the
/// given one, else a free port). Each worker then calls [`DistEnv::from_env`] and
/// [`init_process_group`].
pub fn spawn_local(nproc: usize, cmd: &Command, master_port: Option<u16>) -> Result<LocalWorkers> {
    if nproc == 0 {
        return Err(Error::config("nproc_per_node", "must be at least 1"));
    }
    let port = match master_port {
        Some(p) => p,
        None => free_port()?,
    };
    let mut children = Vec::with_capacity(nproc);
    for rank in 0..nproc {
        let env = DistEnv {
            rank,
            world_size: nproc,
            local_rank: rank,
            local_world_size: nproc,
            master_addr: "127.0.0.1".into(),
            master_port: port,
        };
        let mut c = Command::new(cmd.get_program());
        c.args(cmd.get_args());
        if let Some(d) = cmd.get_current_dir() {
            c.current_dir(d);
        }
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        for (k, v) in env.to_vars() {
            c.env(k, v);
        }
        match c.spawn() {
            Ok(child) => children.push(child),
            Err(e) => {
                for mut ch in children {
                    let _ = ch.kill();
                    let _ = ch.wait();
                }
                return Err(Error::Worker {
                    rank,
                    message: format!("cannot start {:?}: {e}", cmd.get_program()),
                });
            }
        }
    }
    tracing::info!(nproc, port, "started local workers");
    Ok(LocalWorkers { children })
}
