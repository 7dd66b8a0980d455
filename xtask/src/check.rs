//! `cargo xtask check`: formatting, lints, docs, the declared minimum Rust version, and the
//! architecture invariant that the torch-free crates do not reach `tch`/`torch-sys`.
//!
//! ## The minimum Rust version
//! Every workspace member must declare `rust-version` (the workspace's, 1.85): [`msrv_declared`] reads
//! `cargo metadata`. Clippy's `incompatible_msrv` lint, denied in `[workspace.lints.clippy]`, then
//! flags any use of a standard-library item stabilised after that version (it reads each item's
//! `#[stable(since)]` against `rust-version`). What it cannot see without a 1.85 toolchain: language
//! features and syntax newer than 1.85 (e.g. let-chains), newer Cargo features, the dependencies' own
//! minimum versions, and changed inference or lint behaviour — only building with 1.85 proves those.

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
    msrv_declared(&cargo)?;
    no_tch_invariant(&cargo)?;
    eprintln!("xtask: check passed");
    Ok(())
}

/// Fails when a workspace member does not declare the workspace's `rust-version`, which is what
/// clippy's `incompatible_msrv` lint checks the code against (see the module docs).
fn msrv_declared(cargo: &str) -> Result<()> {
    let meta = util::output(
        Command::new(cargo)
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .current_dir(util::root()),
    )?;
    let meta: serde_json::Value = serde_json::from_str(&meta)?;
    let members = meta["workspace_members"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut missing = Vec::new();
    let mut versions = std::collections::BTreeSet::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        if !members.contains(&p["id"]) {
            continue;
        }
        match p["rust_version"].as_str() {
            Some(v) => {
                versions.insert(v.to_string());
            }
            None => missing.push(p["name"].as_str().unwrap_or("?").to_string()),
        }
    }
    if !missing.is_empty() {
        bail!(
            "these workspace members declare no `rust-version` (add `rust-version.workspace = true`): {}",
            missing.join(", ")
        );
    }
    if versions.len() > 1 {
        bail!("workspace members declare different `rust-version`s: {versions:?}");
    }
    eprintln!(
        "xtask: every member declares rust-version {versions:?}; clippy denies incompatible_msrv"
    );
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
