//! `cargo xtask setup --python`: the Python reference environment that the parity-fixture
//! generators (`scripts/fixtures/*.py`, `crates/*/tests/fixtures/*.py`) and the PyTorch side of
//! `cargo xtask bench` run in.
//!
//! A virtual environment at `.venv-fixtures` (else `$SELFSUP_FIXTURES_VENV`, else `--venv DIR`
//! wins over both) made with `python3 -m venv`, holding exactly the pins of
//! `scripts/requirements-reference.txt`, installed with `pip install --no-deps` (the file is the
//! complete list; see its header for why torch's own dependency list is not followed). Idempotent:
//! when every pin that applies to the venv's Python is installed at its version, nothing is run.
//! Plain `cargo xtask setup` never comes here.

use crate::{setup, util};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned list, relative to the repository root.
pub const REQUIREMENTS: &str = "scripts/requirements-reference.txt";
/// Overrides the venv's location (the `--venv DIR` flag wins over it).
pub const VENV_ENV: &str = "SELFSUP_FIXTURES_VENV";
/// The oldest Python the pins have wheels for (numpy 2.4, scipy 1.17).
const MIN_PYTHON: (u32, u32) = (3, 11);
/// Free disk space the install needs: the venv (about 4.5 GB) plus pip's unpacking.
const NEEDED_MB: u64 = 6000;
/// Prints the Python version and the installed distributions as JSON (works in a bare venv).
const QUERY: &str = "import importlib.metadata as m, json, sys\n\
print(json.dumps({'python': list(sys.version_info[:2]), 'dists': \
{d.metadata['Name']: d.version for d in m.distributions() if d.metadata['Name']}}))";
/// Imports what the scripts use most and runs one op on the CPU.
const SMOKE: &str = "import torch, torchvision, torchaudio, lightly, numpy, scipy, skimage, PIL, librosa, tensorboard\n\
x = torch.ones(3)\nassert float(x @ x) == 3.0\n\
print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'torchaudio', torchaudio.__version__, 'CUDA', torch.cuda.is_available())";

/// A comparison in a `python_version` marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// One `name==version` line of the requirements file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The distribution's name, normalized (see [`normalize`]).
    pub name: String,
    /// The exact version.
    pub version: String,
    /// `; python_version <op> "X.Y"`: the pin applies only to such Pythons.
    pub python: Option<(Cmp, (u32, u32))>,
}

/// What a Python reports about itself: its `(major, minor)` and its distributions (normalized name → version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub python: (u32, u32),
    pub dists: BTreeMap<String, String>,
}

/// `cargo xtask setup --python [--venv DIR]`; `venv_flag` is DIR (see [`venv_flag`]).
pub fn setup(venv_flag: Option<PathBuf>) -> Result<()> {
    let venv = venv_dir(venv_flag);
    let file = util::root().join(REQUIREMENTS);
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let pins =
        parse_requirements(&text).with_context(|| format!("{} is malformed", file.display()))?;
    let python = venv.join("bin").join("python");
    if python.exists() {
        let have = query(&python).with_context(|| {
            format!(
                "{} does not run: delete {} and rerun `cargo xtask setup --python`",
                python.display(),
                venv.display()
            )
        })?;
        let missing = unsatisfied(&pins, &have);
        if missing.is_empty() {
            eprintln!(
                "xtask: Python reference environment ready at {} ({} pins of {REQUIREMENTS} satisfied)",
                venv.display(),
                pins.len()
            );
            return Ok(());
        }
        eprintln!(
            "xtask: {} lacks {} pin(s) of {REQUIREMENTS} (e.g. {}); installing",
            venv.display(),
            missing.len(),
            missing[0]
        );
    } else {
        create(&venv)?;
    }
    install(&python, &file)?;
    verify(&python, &pins)?;
    eprintln!(
        "xtask: Python reference environment ready at {}: run the scripts with {}",
        venv.display(),
        python.display()
    );
    Ok(())
}

/// The venv folder: `--venv DIR`, else `$SELFSUP_FIXTURES_VENV`, else `<root>/.venv-fixtures`.
pub fn venv_dir(flag: Option<PathBuf>) -> PathBuf {
    let dir = choose_venv(flag, std::env::var_os(VENV_ENV), &util::root());
    std::path::absolute(&dir).unwrap_or(dir)
}

fn choose_venv(flag: Option<PathBuf>, env: Option<OsString>, root: &Path) -> PathBuf {
    flag.or_else(|| env.filter(|e| !e.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| root.join(".venv-fixtures"))
}

/// The value of `--venv DIR` (or `--venv=DIR`) among `args`, if given.
pub fn venv_flag(args: &[String]) -> Result<Option<PathBuf>> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix("--venv=") {
            return non_empty(v).map(Some);
        }
        if a == "--venv" {
            let v = it.next().context("`--venv` needs a folder: `--venv DIR`")?;
            return non_empty(v).map(Some);
        }
    }
    Ok(None)
}

fn non_empty(v: &str) -> Result<PathBuf> {
    if v.is_empty() || v.starts_with("--") {
        bail!("`--venv` needs a folder: `--venv DIR`");
    }
    Ok(PathBuf::from(v))
}

/// Makes the venv with the first `python3`/`python` on the PATH, checking its version and the disk first.
fn create(venv: &Path) -> Result<()> {
    let base = setup::python().context(
        "no python3 on the PATH: install CPython >= 3.11 with its venv module \
         (Debian/Ubuntu: apt-get install python3 python3-venv)",
    )?;
    let have = query(Path::new(&base)).with_context(|| format!("cannot run {base}"))?;
    if have.python < MIN_PYTHON {
        bail!(
            "{base} is Python {}.{}; the pins of {REQUIREMENTS} need CPython >= {}.{}",
            have.python.0,
            have.python.1,
            MIN_PYTHON.0,
            MIN_PYTHON.1
        );
    }
    setup::check_disk(
        existing_ancestor(venv),
        NEEDED_MB,
        "the Python reference environment",
        &format!("Free some space, or choose another folder with --venv DIR or {VENV_ENV}"),
    )?;
    eprintln!(
        "xtask: creating the Python reference environment at {} (about 4.5 GB once installed)",
        venv.display()
    );
    util::run(Command::new(&base).args(["-m", "venv"]).arg(venv)).with_context(|| {
        format!(
            "`{base} -m venv` failed: Debian/Ubuntu need the venv module (apt-get install python3-venv); \
             delete {} before retrying",
            venv.display()
        )
    })
}

fn existing_ancestor(path: &Path) -> &Path {
    path.ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"))
}

fn install(python: &Path, file: &Path) -> Result<()> {
    util::run(
        Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--no-deps",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(file),
    )
    .with_context(|| {
        format!(
            "pip could not install {}: is the package index reachable (network, proxy, pip config)? \
             What was installed stays: rerun the same command to finish",
            file.display()
        )
    })
}

/// After an install: every pin is there at its version, and torch imports and computes on the CPU.
fn verify(python: &Path, pins: &[Pin]) -> Result<()> {
    let missing = unsatisfied(pins, &query(python)?);
    if !missing.is_empty() {
        bail!(
            "after `pip install`, {} still lacks: {}",
            python.display(),
            missing.join(", ")
        );
    }
    let out = util::output(Command::new(python).args(["-c", SMOKE]))
        .context("the reference environment installed, but importing it failed")?;
    eprintln!("xtask: smoke test: {}", out.trim());
    Ok(())
}

/// Runs [`QUERY`] with `python`.
fn query(python: &Path) -> Result<Installed> {
    let out = util::output(Command::new(python).args(["-c", QUERY]))?;
    parse_installed(&out)
}

/// Parses [`QUERY`]'s output.
pub fn parse_installed(json: &str) -> Result<Installed> {
    let v: serde_json::Value = serde_json::from_str(json.trim()).context("not JSON")?;
    let num = |i: usize| -> Result<u32> {
        let n = v["python"][i]
            .as_u64()
            .context("no `python` [major, minor]")?;
        Ok(u32::try_from(n)?)
    };
    let dists = v["dists"]
        .as_object()
        .context("no `dists` object")?
        .iter()
        .map(|(k, ver)| {
            let ver = ver.as_str().context("a version that is not a string")?;
            Ok((normalize(k), ver.to_string()))
        })
        .collect::<Result<_>>()?;
    Ok(Installed {
        python: (num(0)?, num(1)?),
        dists,
    })
}

/// The pins that apply to `have.python` and are missing or at another version, as `name==version (why)`.
pub fn unsatisfied(pins: &[Pin], have: &Installed) -> Vec<String> {
    pins.iter()
        .filter(|p| applies(p, have.python))
        .filter_map(|p| match have.dists.get(&p.name) {
            None => Some(format!("{}=={} (missing)", p.name, p.version)),
            Some(v) if !v.eq_ignore_ascii_case(&p.version) => {
                Some(format!("{}=={} (have {v})", p.name, p.version))
            }
            Some(_) => None,
        })
        .collect()
}

/// Whether `pin`'s `python_version` marker (if any) holds for `python`.
pub fn applies(pin: &Pin, python: (u32, u32)) -> bool {
    match pin.python {
        None => true,
        Some((Cmp::Lt, v)) => python < v,
        Some((Cmp::Le, v)) => python <= v,
        Some((Cmp::Gt, v)) => python > v,
        Some((Cmp::Ge, v)) => python >= v,
        Some((Cmp::Eq, v)) => python == v,
        Some((Cmp::Ne, v)) => python != v,
    }
}

/// Parses the requirements file: `name==version` lines, each optionally followed by
/// `; python_version <op> "X.Y"`; `#` comments and blank lines. Anything else is an error, and so
/// is a name pinned twice for the same Pythons.
pub fn parse_requirements(text: &str) -> Result<Vec<Pin>> {
    let mut pins: Vec<Pin> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let pin = parse_line(raw).with_context(|| format!("line {}: `{}`", i + 1, raw.trim()))?;
        let Some(pin) = pin else { continue };
        if pins
            .iter()
            .any(|p| p.name == pin.name && p.python == pin.python)
        {
            bail!("line {}: `{}` is pinned twice", i + 1, pin.name);
        }
        pins.push(pin);
    }
    Ok(pins)
}

fn parse_line(raw: &str) -> Result<Option<Pin>> {
    let line = strip_comment(raw).trim();
    if line.is_empty() {
        return Ok(None);
    }
    let (req, marker) = match line.split_once(';') {
        Some((r, m)) => (r.trim(), Some(m.trim())),
        None => (line, None),
    };
    let (name, version) = req
        .split_once("==")
        .map(|(n, v)| (n.trim(), v.trim()))
        .context("expected `name==version`")?;
    let name_ok = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if name.is_empty() || !name.chars().all(name_ok) {
        bail!("`{name}` is not a plain distribution name (no extras, options or URLs)");
    }
    let version_ok = |c: char| c.is_ascii_alphanumeric() || ".+!-_".contains(c);
    if version.is_empty() || !version.chars().all(version_ok) {
        bail!("`{version}` is not one exact version");
    }
    Ok(Some(Pin {
        name: normalize(name),
        version: version.to_string(),
        python: marker.map(parse_marker).transpose()?,
    }))
}

/// pip's rule: `#` starts a comment at the start of a line or after white space.
fn strip_comment(line: &str) -> &str {
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_space {
            return &line[..i];
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// `python_version <op> "X.Y"`.
fn parse_marker(m: &str) -> Result<(Cmp, (u32, u32))> {
    let rest = m
        .strip_prefix("python_version")
        .with_context(|| format!("unsupported marker `{m}`: only `python_version <op> \"X.Y\"`"))?
        .trim_start();
    let ops = [
        ("<=", Cmp::Le),
        (">=", Cmp::Ge),
        ("==", Cmp::Eq),
        ("!=", Cmp::Ne),
        ("<", Cmp::Lt),
        (">", Cmp::Gt),
    ];
    let (cmp, value) = ops
        .iter()
        .find_map(|(s, c)| rest.strip_prefix(s).map(|v| (*c, v.trim())))
        .with_context(|| format!("no comparison in marker `{m}`"))?;
    let unquoted = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .with_context(|| format!("the version in `{m}` is not quoted"))?;
    let (major, minor) = unquoted
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .with_context(|| format!("`{unquoted}` is not `X.Y`"))?;
    Ok((cmp, (major, minor)))
}

/// PEP 503: lower case, each run of `-`, `_` and `.` as one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if "-_.".contains(c) {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(name: &str, version: &str) -> Pin {
        Pin {
            name: name.into(),
            version: version.into(),
            python: None,
        }
    }

    fn installed(python: (u32, u32), dists: &[(&str, &str)]) -> Installed {
        Installed {
            python,
            dists: dists
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn names_are_normalized() {
        assert_eq!(normalize("Open_CLIP__torch"), "open-clip-torch");
        assert_eq!(normalize("zope.interface"), "zope-interface");
        assert_eq!(normalize("PyYAML"), "pyyaml");
        assert_eq!(normalize("a-_.b"), "a-b");
    }

    #[test]
    fn lines_comments_and_markers() {
        let text = "# header\n\ntorch==2.13.0   # everything\nOpen_Clip_Torch==3.3.0\n\
                    soxr==0.5.0.post1\n\
                    audioop-lts==0.2.2; python_version >= \"3.13\"  # 3.13+\n\
                    exceptiongroup == 1.3.2 ; python_version<'3.11'\n";
        let pins = parse_requirements(text).unwrap();
        assert_eq!(pins.len(), 5);
        assert_eq!(pins[0], pin("torch", "2.13.0"));
        assert_eq!(pins[1], pin("open-clip-torch", "3.3.0"));
        // `#` not after white space belongs to the version, which is then rejected.
        assert!(parse_requirements("soxr==0.5#x").is_err());
        assert_eq!(pins[2], pin("soxr", "0.5.0.post1"));
        assert_eq!(pins[3].python, Some((Cmp::Ge, (3, 13))));
        assert_eq!(pins[4].name, "exceptiongroup");
        assert_eq!(pins[4].version, "1.3.2");
        assert_eq!(pins[4].python, Some((Cmp::Lt, (3, 11))));
    }

    #[test]
    fn malformed_lines_are_errors_with_their_number() {
        for bad in [
            "torch>=2.13",
            "torch",
            "torch==",
            "==2.13.0",
            "torch[cuda]==2.13.0",
            "-r other.txt",
            "--index-url x",
            "torch==2.13.*",
            "torch==2.13.0,<3",
            "torch==2.13.0; sys_platform == \"linux\"",
            "torch==2.13.0; python_version >= 3.13",
            "torch==2.13.0; python_version ~= \"3.13\"",
            "torch==2.13.0; python_version >= \"3\"",
        ] {
            let err = parse_requirements(&format!("# ok\n{bad}\n")).unwrap_err();
            assert!(format!("{err:#}").starts_with("line 2:"), "{bad}: {err:#}");
        }
    }

    #[test]
    fn a_name_pinned_twice_is_an_error() {
        assert!(parse_requirements("numpy==2.4.6\nNumPy==2.4.5\n").is_err());
        // The same name under different markers is fine.
        let ok =
            "numpy==2.4.6; python_version < \"3.13\"\nnumpy==2.5.0; python_version >= \"3.13\"\n";
        assert_eq!(parse_requirements(ok).unwrap().len(), 2);
    }

    #[test]
    fn markers_select_by_python_version() {
        let p = |m: &str| parse_requirements(&format!("x==1; {m}")).unwrap().remove(0);
        let v311 = (3, 11);
        assert!(applies(&pin("x", "1"), v311));
        assert!(!applies(&p("python_version >= \"3.13\""), v311));
        assert!(applies(&p("python_version >= \"3.13\""), (3, 13)));
        assert!(applies(&p("python_version >= \"3.13\""), (4, 0)));
        assert!(applies(&p("python_version < \"3.12\""), v311));
        assert!(!applies(&p("python_version < \"3.11\""), v311));
        assert!(applies(&p("python_version <= \"3.11\""), v311));
        assert!(!applies(&p("python_version > \"3.11\""), v311));
        assert!(applies(&p("python_version == \"3.11\""), v311));
        assert!(!applies(&p("python_version != \"3.11\""), v311));
        // 3.9 < 3.13 numerically, not as text.
        assert!(!applies(&p("python_version >= \"3.13\""), (3, 9)));
    }

    #[test]
    fn unsatisfied_lists_missing_and_other_versions() {
        let pins = parse_requirements(
            "torch==2.13.0\nnumpy==2.4.6\nPyYAML==6.0.4\naudioop-lts==0.2.2; python_version >= \"3.13\"\n",
        )
        .unwrap();
        let have = installed((3, 11), &[("torch", "2.13.0"), ("pyyaml", "6.0.4")]);
        assert_eq!(unsatisfied(&pins, &have), ["numpy==2.4.6 (missing)"]);
        let have = installed(
            (3, 11),
            &[("torch", "2.12.0"), ("numpy", "2.4.6"), ("pyyaml", "6.0.4")],
        );
        assert_eq!(unsatisfied(&pins, &have), ["torch==2.13.0 (have 2.12.0)"]);
        let all = [("torch", "2.13.0"), ("numpy", "2.4.6"), ("pyyaml", "6.0.4")];
        assert!(unsatisfied(&pins, &installed((3, 11), &all)).is_empty());
        // On 3.13 the marker line applies too.
        assert_eq!(
            unsatisfied(&pins, &installed((3, 13), &all)),
            ["audioop-lts==0.2.2 (missing)"]
        );
    }

    #[test]
    fn query_output_is_parsed_and_names_normalized() {
        let have = parse_installed(
            "{\"python\": [3, 11], \"dists\": {\"PyYAML\": \"6.0.4\", \"typing_extensions\": \"4.16.0\"}}\n",
        )
        .unwrap();
        assert_eq!(have.python, (3, 11));
        assert_eq!(have.dists["pyyaml"], "6.0.4");
        assert_eq!(have.dists["typing-extensions"], "4.16.0");
        assert!(parse_installed("Traceback (most recent call last)").is_err());
        assert!(parse_installed("{\"dists\": {}}").is_err());
        assert!(parse_installed("{\"python\": [3, 11], \"dists\": {\"x\": 1}}").is_err());
    }

    #[test]
    fn venv_flag_and_location() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(venv_flag(&args(&["--python"])).unwrap(), None);
        assert_eq!(
            venv_flag(&args(&["--python", "--venv", "/tmp/v"])).unwrap(),
            Some(PathBuf::from("/tmp/v"))
        );
        assert_eq!(
            venv_flag(&args(&["--venv=/tmp/w", "--python"])).unwrap(),
            Some(PathBuf::from("/tmp/w"))
        );
        assert!(venv_flag(&args(&["--python", "--venv"])).is_err());
        assert!(venv_flag(&args(&["--venv", "--python"])).is_err());
        assert!(venv_flag(&args(&["--venv="])).is_err());
        let root = Path::new("/repo");
        assert_eq!(
            choose_venv(None, None, root),
            PathBuf::from("/repo/.venv-fixtures")
        );
        assert_eq!(
            choose_venv(None, Some("".into()), root),
            PathBuf::from("/repo/.venv-fixtures")
        );
        assert_eq!(
            choose_venv(None, Some("/e".into()), root),
            PathBuf::from("/e")
        );
        assert_eq!(
            choose_venv(Some("/f".into()), Some("/e".into()), root),
            PathBuf::from("/f")
        );
    }

    #[test]
    fn the_committed_file_parses_and_pins_the_recorded_versions() {
        let text = std::fs::read_to_string(util::root().join(REQUIREMENTS)).unwrap();
        let pins = parse_requirements(&text).unwrap();
        let version = |n: &str| {
            pins.iter()
                .find(|p| p.name == n)
                .map(|p| p.version.as_str())
        };
        assert_eq!(version("torch"), Some(setup::TORCH_VERSION));
        for (name, v) in [
            ("torchvision", "0.28.0"),
            ("lightly", "1.6.0"),
            ("numpy", "2.4.6"),
            ("scikit-image", "0.26.0"),
            ("pillow", "13.0.0"),
            ("librosa", "0.11.0"),
        ] {
            assert_eq!(version(name), Some(v), "{name}");
        }
        // torch's GPU-only packages stay out (see the file's header).
        for gpu_only in ["triton", "nvidia-cusolver", "cuda-toolkit", "cuda-bindings"] {
            assert_eq!(version(gpu_only), None, "{gpu_only}");
        }
    }
}
