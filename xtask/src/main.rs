//! `cargo xtask <command>`: the project's automation, one file per command.
//!
//! - `setup`  — make libtorch 2.13.0 available at `.libtorch/` (see `setup.rs`); `--python` also the
//!   Python reference environment `.venv-fixtures` (see `pyenv.rs`)
//! - `test`   — setup if needed, then the whole workspace's tests
//! - `check`  — fmt, clippy -D warnings, rustdoc -D warnings, and the no-tch invariant
//! - `ci`     — check + test (what `.github/workflows/ci.yml` runs)
//! - `doctor` — where libtorch is, its version, threads, CUDA
//! - `pretrain` — setup if needed, then the main job (`selfsup pretrain`, release build)
//! - `test-dist` — setup with `--dist`, then `selfsup-dist`'s multi-process c10d tests
//! - `install` — a `selfsup` on the PATH that finds libtorch and the vendored data (see `install.rs`)
//! - `bench`  — criterion benches side by side with PyTorch, and a whole SimCLR epoch against lightly,
//!   written to `docs/benchmarks.md`

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod bench_dist;
mod bench_epoch;
mod check;
mod dist;
mod doctor;
mod install;
mod pyenv;
mod setup;
mod util;

use anyhow::{bail, Result};

const USAGE: &str = "usage: cargo xtask <setup|test|test-dist|check|ci|doctor|pretrain|install|bench> [args...]

  setup     make libtorch 2.13.0 available at .libtorch/ (honours LIBTORCH, then a Python with
            torch 2.13, else assembles a CPU libtorch from the PyPI wheel in a cache);
            `setup --dist` also installs Gloo's headers for selfsup-dist (libgloo-dev);
            `setup --python [--venv DIR]` also makes the Python reference environment of the fixture
            scripts and the bench's PyTorch side: a venv at .venv-fixtures (or $SELFSUP_FIXTURES_VENV,
            or DIR) holding scripts/requirements-reference.txt (~4.5 GB; nothing done when satisfied)
  test      setup if needed, then `cargo test --workspace` (extra args go to cargo test), then test-dist
  test-dist setup --dist, then selfsup-dist's c10d tests (2 and 3 local processes)
  check     cargo fmt --check, clippy -D warnings, rustdoc -D warnings, no-tch invariant
  ci        check, then test
  doctor    report libtorch location, version, threads and CUDA availability
  pretrain  setup if needed, then run the main job: `selfsup pretrain` (extra args passed on)
  install   release build, then <prefix>/bin/selfsup (default prefix ~/.local) that finds libtorch
            and the vendored data from any folder: `install --prefix DIR`
  bench     run the benchmarks (criterion + PyTorch side by side when available), write
            docs/benchmarks.md and docs/benchmarks.json; clears target/criterion first, records the
            load average (runs/rows above the core count are flagged); both sides: median [min-max]
            of N runs
              --quick          a subset (single image transforms, 256-row losses, trainer ops) at
                               0.5 s warm-up + 1 s measurement, meant to finish in under 2 minutes
                               on an idle 2-core machine (plus build time)
              --samples <N>    runs per bench on both sides (criterion --sample-size; default 10, >= 10)
              --filter <re>    only ids matching the regex (criterion, the Python scripts and the
                               whole-epoch row simclr_epoch/jpeg_convnet4_b256)
              --bench <name>   only this bench target (repeatable; e.g. loader, tch_baselines)
              --out <dir>      write benchmarks.md/.json of this run into <dir>, not docs/
              --no-python      skip the PyTorch side;  --python <exe>  choose the interpreter
              --no-dist        skip the all-reduce comparison (c10d shim vs torch.distributed,
                               2 processes, 1 KB-100 MB, release; written to the Distributed
                               section);  --dist-only  run only that comparison
              --epoch-rounds <N>  rounds of the whole SimCLR epoch on a JPEG folder, selfsup vs
                               lightly with 1 and 2 DataLoader workers (scripts/bench/simclr_epoch.sh;
                               default 3; not run by --quick)
              --epoch-images <N>  images in its JPEG folder (default 10000; N/256 a multiple of 3)
              --epoch-only     run only that stage; report into --out (default target/bench-epoch)
              -- <args>        passed on to the criterion binaries";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    match cmd.as_str() {
        "setup" => {
            let python = rest.iter().any(|a| a == "--python");
            let venv = pyenv::venv_flag(&rest)?;
            if venv.is_some() && !python {
                bail!("`--venv DIR` goes with `setup --python`");
            }
            setup::run()?;
            if rest.iter().any(|a| a == "--dist") {
                dist::setup()?;
            }
            if python {
                pyenv::setup(venv)?;
            }
            Ok(())
        }
        "test-dist" => {
            setup::run()?;
            dist::test(&rest)
        }
        "test" => {
            setup::run()?;
            // Doc-tests included: the tch crates' find libtorch through LD_LIBRARY_PATH.
            util::cargo_test(&[&["--workspace"][..], &util::strs(&rest)].concat())?;
            // The c10d shim's multi-process tests (installs Gloo's headers on first use).
            dist::test(&[])
        }
        "check" => {
            setup::run()?;
            check::run()
        }
        "ci" => {
            setup::run()?;
            check::run()?;
            util::cargo_test(&["--workspace"])?;
            dist::test(&[])
        }
        "doctor" => doctor::run(),
        "pretrain" => {
            setup::run()?;
            util::cargo(
                &[
                    &["run", "--release", "-p", "selfsup-cli", "--", "pretrain"][..],
                    &util::strs(&rest),
                ]
                .concat(),
            )
        }
        "install" => install::run(&rest),
        "bench" => {
            setup::run()?;
            bench::run(&rest)
        }
        "" | "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}
