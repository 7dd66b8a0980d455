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
//!
//! The install ends with a check ([`check`]): the installed `selfsup doctor`, started from `/` with
//! `LIBTORCH`, `LD_LIBRARY_PATH` and `SELFSUP_DATA` removed, must load libtorch, compute with it and
//! report the installed `data/`; a bare copy of the binary in a temporary folder is started as a
//! control (it should not find `libtorch_cpu.so`).

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
    check(&prefix, &home)
}

/// Runs `<prefix>/bin/selfsup doctor` from `/` with nothing exported (no `LIBTORCH`,
/// `LD_LIBRARY_PATH` or `SELFSUP_DATA`) and fails unless it loads libtorch, computes with it, and
/// finds the installed copy of the vendored data. As a control, a bare copy of the binary in a
/// temporary folder is started too: it should fail to find `libtorch_cpu.so`; when it does not (an
/// absolute rpath), a note says that the check does not depend on the install's layout.
fn check(prefix: &Path, home: &Path) -> Result<()> {
    let clean = |cmd: &mut std::process::Command| {
        cmd.current_dir("/")
            .env_remove("LIBTORCH")
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("SELFSUP_DATA");
    };
    let mut cmd = std::process::Command::new(prefix.join("bin/selfsup"));
    cmd.arg("doctor");
    clean(&mut cmd);
    let out = cmd.output().context("cannot start the installed selfsup")?;
    let text = String::from_utf8_lossy(&out.stdout);
    eprint!("{text}");
    if !out.status.success() {
        bail!(
            "the installed selfsup failed from /: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let data_line = text
        .lines()
        .find(|l| l.starts_with("vendored data"))
        .unwrap_or("");
    if !text.contains("tensor check     : ok")
        || !data_line.contains(&*home.join("data").to_string_lossy())
    {
        bail!("the installed selfsup does not find its libtorch and its data from /:\n{text}");
    }
    let bare_dir = std::env::temp_dir().join(format!("selfsup-bare-{}", std::process::id()));
    std::fs::create_dir_all(&bare_dir)?;
    let bare = bare_dir.join("selfsup");
    std::fs::copy(home.join("target/release/selfsup"), &bare)?;
    let mut cmd = std::process::Command::new(&bare);
    cmd.arg("doctor");
    clean(&mut cmd);
    let control = cmd.output();
    let _ = std::fs::remove_dir_all(&bare_dir);
    match control {
        Ok(o) if o.status.success() => eprintln!(
            "xtask: note: a bare copy of the binary also starts (absolute rpath?), so the check above does not depend on the install's layout"
        ),
        _ => eprintln!(
            "xtask: check passed: the installed selfsup runs from / with nothing exported, and a bare copy of the binary does not (no libtorch_cpu.so)"
        ),
    }
    Ok(())
}
