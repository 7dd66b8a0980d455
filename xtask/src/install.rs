//! `cargo xtask install [--prefix DIR]`: a `selfsup` on the PATH that finds libtorch and the vendored
//! data from any folder.
//!
//! A copied `target/release/selfsup` fails with a missing `libtorch_cpu.so`: its rpaths are relative to
//! the repository (`$ORIGIN/../../.libtorch/lib`, `.cargo/config.toml`). So the install mirrors that
//! layout under `<prefix>/lib/selfsup/` (default prefix `~/.local`):
//!
//! ```text
//! <prefix>/lib/selfsup/target/release/selfsup   the release binary (copied)
//! <prefix>/lib/selfsup/.libtorch -> <the real libtorch, e.g. ~/.cache/selfsup/libtorch-2.13.0-cpu>
//! <prefix>/lib/selfsup/data/                     a copy of the vendored data (29 MB)
//! <prefix>/bin/selfsup -> ../lib/selfsup/target/release/selfsup
//! ```
//!
//! The dynamic linker resolves `$ORIGIN` from the real path of the executable, so the binary's own
//! rpath reaches `<prefix>/lib/selfsup/.libtorch/lib` through the `bin/` link, and the binary's search
//! for `data/` next to the executable (`selfsup_cli::config::find_data_dir`) finds the copy. Nothing
//! is exported; re-running replaces the previous install.

use crate::{setup, util};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for e in std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type()?.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)
                .with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

fn replace_link(target: &Path, link: &Path) -> Result<()> {
    if link.symlink_metadata().is_ok() {
        std::fs::remove_file(link).with_context(|| format!("cannot replace {}", link.display()))?;
    }
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("cannot link {} -> {}", link.display(), target.display()))
}

/// Runs `cargo xtask install` with its arguments.
pub fn run(args: &[String]) -> Result<()> {
    let mut prefix: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--prefix" => {
                prefix = Some(PathBuf::from(it.next().context("--prefix needs a folder")?))
            }
            other => bail!("install: unknown argument `{other}` (allowed: --prefix DIR)"),
        }
    }
    let prefix = match prefix {
        Some(p) => std::path::absolute(p)?,
        None => PathBuf::from(std::env::var("HOME").context("HOME is not set; pass --prefix")?)
            .join(".local"),
    };
    let libtorch = setup::run()?;
    util::cargo(&[
        "build",
        "--release",
        "-p",
        "selfsup-cli",
        "--bin",
        "selfsup",
    ])?;
    let root = util::root();
    let home = prefix.join("lib").join("selfsup");
    let bin_dir = home.join("target").join("release");
    std::fs::create_dir_all(&bin_dir)?;
    std::fs::create_dir_all(prefix.join("bin"))?;
    let exe = bin_dir.join("selfsup");
    // Copy through a temporary name: a running old binary is not overwritten in place.
    let tmp = bin_dir.join(".selfsup.new");
    std::fs::copy(root.join("target/release/selfsup"), &tmp).context("cannot copy the binary")?;
    std::fs::rename(&tmp, &exe)?;
    replace_link(&libtorch, &home.join(".libtorch"))?;
    let data = home.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data)?;
    }
    copy_dir(&root.join("data"), &data)?;
    replace_link(&exe, &prefix.join("bin").join("selfsup"))?;
    eprintln!(
        "xtask: installed {} -> {} (libtorch {}, data {})",
        prefix.join("bin/selfsup").display(),
        exe.display(),
        libtorch.display(),
        data.display()
    );
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d == prefix.join("bin")));
    if !on_path {
        eprintln!(
            "xtask: {} is not on your PATH; add it (e.g. `export PATH={}:$PATH`)",
            prefix.join("bin").display(),
            prefix.join("bin").display()
        );
    }
    // The installed binary must start from elsewhere: `doctor` loads libtorch.
    util::run(
        std::process::Command::new(prefix.join("bin/selfsup"))
            .arg("doctor")
            .current_dir("/"),
    )
}
