//! `cargo xtask check`: formatting, lints, docs, and the architecture invariant that the torch-free
//! crates do not reach `tch`/`torch-sys`.

use crate::util;
use anyhow::{bail, Result};
use std::process::Command;

/// Crates that must stay importable without libtorch (with default features).
pub const TORCH_FREE: [&str; 4] = [
    "selfsup-core",
    "selfsup-augment",
    "selfsup-data",
    "selfsup-pretext",
];

/// Runs every check, stopping at the first failure.
pub fn run() -> Result<()> {
    util::cargo(&["fmt", "--all", "--", "--check"])?;
    util::cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    util::run(
        Command::new(&cargo)
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings")
            .current_dir(util::root()),
    )?;
    no_tch_invariant(&cargo)?;
    eprintln!("xtask: check passed");
    Ok(())
}

/// Fails when any torch-free crate has `tch` or `torch-sys` among its normal dependencies.
fn no_tch_invariant(cargo: &str) -> Result<()> {
    for krate in TORCH_FREE {
        let tree = util::output(
            Command::new(cargo)
                .args(["tree", "-p", krate, "-e", "normal", "--prefix", "none"])
                .current_dir(util::root()),
        )?;
        let offenders: Vec<&str> = tree
            .lines()
            .filter(|l| l.starts_with("tch ") || l.starts_with("torch-sys "))
            .collect();
        if !offenders.is_empty() {
            bail!("architecture invariant broken: {krate} depends on {offenders:?}; it must build without libtorch");
        }
        eprintln!("xtask: {krate}: no tch/torch-sys in its dependency tree");
    }
    Ok(())
}
