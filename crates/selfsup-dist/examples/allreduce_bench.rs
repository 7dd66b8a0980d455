//! All-reduce latency and bandwidth of the c10d shim (Gloo, float32, sum) for 1 KB – 100 MB.
//!
//! ```sh
//! cargo run --release -p selfsup-dist --example allreduce_bench -- 2     # 2 local ranks
//! /work/main/.venv-fixtures/bin/python scripts/dist/allreduce_gloo.py 2   # the same with torch.distributed
//! ```
//!
//! Without `RANK`/`WORLD_SIZE` in the environment it starts `N` copies of itself with
//! `selfsup_dist::spawn_local`; each joins through a TCPStore on 127.0.0.1. For each size it runs a
//! barrier, warm-up all-reduces, then timed all-reduces (at least 5 and about 1 s), and rank 0
//! prints one JSON line with the median time, the algorithm bandwidth `bytes / t` and the bus
//! bandwidth `2(N−1)/N · bytes / t` (the nccl-tests convention; a ring moves that many bytes per
//! rank).
#![allow(clippy::print_stdout)]

use selfsup_dist::{init_process_group, spawn_local, DistEnv, GlooOptions, ReduceOp};
use std::process::Command;
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

const SIZES: &[usize] = &[1 << 10, 10 << 10, 100 << 10, 1 << 20, 10 << 20, 100 << 20];

fn main() -> anyhow::Result<()> {
    let Some(env) = DistEnv::from_env()? else {
        let n: usize = std::env::args().nth(1).map_or(Ok(2), |s| s.parse())?;
        let cmd = Command::new(std::env::current_exe()?);
        spawn_local(n, &cmd, None)?.wait(Duration::from_secs(30))?;
        return Ok(());
    };
    tch::set_num_threads(1);
    let opts = GlooOptions {
        timeout: Duration::from_secs(120),
        ..Default::default()
    };
    let (_store, pg) = init_process_group(&env, &opts)?;
    let w = pg.size() as f64;
    for &bytes in SIZES {
        let t = Tensor::ones([(bytes / 4) as i64], (Kind::Float, Device::Cpu));
        pg.barrier()?;
        for _ in 0..3 {
            pg.all_reduce(&t, ReduceOp::Sum)?;
        }
        let mut times = Vec::new();
        let start = Instant::now();
        // Every rank must run the same number of iterations: rank 0 decides and broadcasts.
        loop {
            pg.barrier()?;
            let t0 = Instant::now();
            pg.all_reduce(&t, ReduceOp::Sum)?;
            times.push(t0.elapsed().as_secs_f64());
            let more =
                times.len() < 5 || (start.elapsed().as_secs_f64() < 1.0 && times.len() < 1000);
            let flag = Tensor::from_slice(&[i64::from(more)]);
            pg.broadcast(&flag, 0)?;
            if flag.int64_value(&[0]) == 0 {
                break;
            }
        }
        times.sort_by(f64::total_cmp);
        let med = times[times.len() / 2];
        if pg.rank() == 0 {
            println!(
                "{{\"impl\":\"selfsup-dist\",\"world\":{},\"bytes\":{},\"iters\":{},\"median_us\":{:.1},\"algbw_GBps\":{:.4},\"busbw_GBps\":{:.4}}}",
                pg.size(),
                bytes,
                times.len(),
                med * 1e6,
                bytes as f64 / med / 1e9,
                2.0 * (w - 1.0) / w * bytes as f64 / med / 1e9
            );
        }
    }
    pg.barrier()?;
    Ok(())
}
