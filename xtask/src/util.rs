//! Small helpers shared by the xtask commands: the repository root, running cargo and other programs.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// The repository root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repository root")
        .to_path_buf()
}

/// `&[String]` → `Vec<&str>`.
pub fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Runs `cargo <args>` in the repository root, failing when it fails.
pub fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo).args(args).current_dir(root()))
}

/// Runs `cargo test <args>` with `<root>/.libtorch/lib` first on `LD_LIBRARY_PATH`.
///
/// Test and example binaries find libtorch through the `$ORIGIN`-relative rpaths of
/// `.cargo/config.toml`, but doc-tests do not: rustdoc links each one into a temporary folder,
/// without the target's `rustflags`, so the tch crates' doc-tests need the library path to run.
pub fn cargo_test(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let lib = root().join(".libtorch").join("lib");
    let path = match std::env::var_os("LD_LIBRARY_PATH") {
        Some(old) if !old.is_empty() => {
            let mut p = lib.into_os_string();
            p.push(":");
            p.push(old);
            p
        }
        _ => lib.into_os_string(),
    };
    run(Command::new(cargo)
        .arg("test")
        .args(args)
        .env("LD_LIBRARY_PATH", path)
        .current_dir(root()))
}

/// Runs a command, echoing it, failing with its exit status.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: $ {}", describe(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{}`", describe(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(cmd));
    }
    Ok(())
}

/// Runs a command and returns its stdout (stderr passes through), failing when it fails.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start `{}`", describe(cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}
