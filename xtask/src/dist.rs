//! `cargo xtask setup --dist` and `cargo xtask test-dist`: what `selfsup-dist`'s `c10d` feature
//! needs beyond libtorch — Gloo's C++ headers (declarations only; the Gloo code itself is the copy
//! inside `libtorch_cpu.so`).
//!
//! Headers are looked for in `$SELFSUP_GLOO_INCLUDE`, then `/usr/include`; when missing and `apt-get`
//! exists, Debian/Ubuntu's `libgloo-dev` is installed (as root, or through `sudo`).

use crate::util;
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::process::Command;

fn headers_dir() -> PathBuf {
    std::env::var("SELFSUP_GLOO_INCLUDE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/usr/include"))
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn is_root() -> bool {
    util::output(Command::new("id").arg("-u"))
        .map(|s| s.trim() == "0")
        .unwrap_or(false)
}

/// Ensures Gloo's headers are installed.
pub fn setup() -> Result<()> {
    let dir = headers_dir();
    if dir.join("gloo/context.h").exists() {
        eprintln!("xtask: Gloo headers ready in {}", dir.display());
        return Ok(());
    }
    if !have("apt-get") {
        bail!(
            "Gloo headers not found in {} and no apt-get: install Gloo's headers (Debian/Ubuntu \
             package libgloo-dev, or a checkout of github.com/facebookincubator/gloo) and set \
             SELFSUP_GLOO_INCLUDE to the folder that holds gloo/",
            dir.display()
        );
    }
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| -> Result<()> {
        let all: Vec<&str> = sudo.iter().copied().chain(args.iter().copied()).collect();
        util::run(
            Command::new(all[0])
                .args(&all[1..])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    apt(&["apt-get", "update", "-q"])?;
    apt(&[
        "apt-get",
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "libgloo-dev",
    ])?;
    if !headers_dir().join("gloo/context.h").exists() {
        bail!("libgloo-dev installed but gloo/context.h is still missing");
    }
    eprintln!("xtask: Gloo headers installed (libgloo-dev)");
    Ok(())
}

/// Runs the c10d tests (2 and 3 local processes): the crate's own (collectives, equivalence,
/// the real trainer) and the CLI's data-parallel tests (`--nproc-per-node`, feature `dist`).
pub fn test(rest: &[String]) -> Result<()> {
    setup()?;
    util::cargo(
        &[
            &["test", "-p", "selfsup-dist", "--features", "c10d"][..],
            &util::strs(rest),
        ]
        .concat(),
    )?;
    util::cargo(
        &[
            &[
                "test",
                "-p",
                "selfsup-cli",
                "--features",
                "dist",
                "--test",
                "distributed",
            ][..],
            &util::strs(rest),
        ]
        .concat(),
    )
}
