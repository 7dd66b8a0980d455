//! `cargo xtask bench`: runs the criterion benches and, when a Python with torch is present, the PyTorch
//! side of each comparison (`scripts/bench/*.py`) in the same run, then writes `docs/benchmarks.md` (the
//! generated section) and `docs/benchmarks.json` (every row).
//!
//! Pairing rule: a criterion bench whose full id (`group/function[/param]`) equals the `id` a Python script
//! prints is compared side by side; the ratio is selfsup's median throughput over PyTorch's. Two id suffixes
//! fill further columns of the same row (see [`split_variant`]): `<id>/tch` is the same work written with
//! libtorch tensor ops through tch (the "tch" column), `<id>/cpu` is the selfsup bench measured in process
//! CPU time instead of wall-clock time (the "per CPU-second" column); a Python line's `sample_cpu_s` fills
//! PyTorch's per-CPU-second column, and its `versions` are recorded with the run.
//!
//! One statistic on both sides: the median of N runs, with the min and max. On the selfsup side a run is one
//! criterion sample (`new/sample.json`: per-iteration time = sample time / iterations); on the PyTorch side
//! it is one timed repeat of `scripts/bench/_bench.py` (the script prints the per-call seconds,
//! `sample_s`). Both are reduced by [`Stats::of`] here, so the two columns are the same statistic of the same
//! quantity; throughput = elements / time. N is `--samples` (passed to criterion as `--sample-size`; a group
//! that sets its own sample size keeps it) and the PyTorch side repeats each paired case exactly as many
//! times as criterion sampled it (`BENCH_SAMPLES_JSON`).
//!
//! Each run starts by deleting `target/criterion`, so only benches of this run appear (a filtered or renamed
//! bench cannot leak old figures). The 1-minute load average and the core count are recorded at the start,
//! after the criterion benches, around each Python script and at the end; a run or row whose load exceeded
//! the core count is flagged.
//!
//! After the Python scripts comes the whole-epoch stage (`crate::bench_epoch`): one SimCLR epoch on a
//! JPEG folder, `selfsup pretrain` against lightly with a `DataLoader` of 1 and 2 workers
//! (`scripts/bench/simclr_epoch.sh`, `--epoch-rounds` rounds), row `simclr_epoch/jpeg_convnet4_b256` in
//! its own table of the generated section (views/s median [min–max] over rounds on both sides, CPU
//! seconds, peak RSS, load) and `simclr_epoch` in the JSON. Not run by `--quick`, `--dist-only` or a
//! `--filter` that does not match its id; a skipped row with the reason when the lightly side cannot run.
//!
//! Arguments: `--quick` (a subset at short measurement, see [`QUICK_FILTER`]); `--samples <N>`;
//! `--filter <regex>` (criterion's filter, the Python side's `BENCH_FILTER` and the whole-epoch row);
//! `--bench <target>` (repeatable: build and run only these bench targets); `--out <dir>` (write
//! `benchmarks.md` and `benchmarks.json` of this run into `<dir>` instead of `docs/`, e.g. for a
//! filtered run that must not replace the generated section); `--no-python`; `--python <exe>`;
//! `--epoch-rounds <N>` (default 3); `--epoch-images <N>` (the JPEG folder's size, default 10,000);
//! `--epoch-only` (only the whole-epoch stage, report into `--out`, default `target/bench-epoch`);
//! anything after `--` goes to the criterion binaries.

use crate::bench_epoch;
use crate::util;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The benches `--quick` runs: the single image transforms (selfsup wall and CPU time, tch), the 256-row
/// losses at 1 and 2 threads and the trainer's ops (short per-call times, no dataset generation, no worker
/// processes).
pub const QUICK_FILTER: &str =
    "^(image_transform_224/|ntxent/fwd_bwd_256x128|dcl/|negative_cosine/|barlow_twins/|vicreg/|train/)";
/// The bench targets that hold [`QUICK_FILTER`]'s ids (so `--quick` builds and starts only those).
const QUICK_BENCHES: &[&str] = &["image_pipeline", "tch_baselines", "losses", "train_ops"];
/// The statistic both columns show.
const STATISTIC: &str = "median";

/// Median, min and max of a set of per-call times (seconds), and how many there were.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Median (mean of the two middle values for an even count).
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Number of values.
    pub n: usize,
}

impl Stats {
    /// Median / min / max of the finite, positive values of `xs`; `None` when there are none.
    pub fn of(xs: &[f64]) -> Option<Stats> {
        let mut v: Vec<f64> = xs
            .iter()
            .copied()
            .filter(|x| x.is_finite() && *x > 0.0)
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        };
        Some(Stats {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }
}

/// One side of a row: throughput (elements per second) at the median, slowest and fastest run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// elements / median time.
    pub median: f64,
    /// elements / slowest run.
    pub min: f64,
    /// elements / fastest run.
    pub max: f64,
    /// Number of runs.
    pub n: usize,
}

impl Rate {
    /// Throughput of `elements` items per call from per-call times in seconds.
    pub fn from_times(elements: f64, secs: &[f64]) -> Option<Rate> {
        let s = Stats::of(secs)?;
        Some(Rate {
            median: elements / s.median,
            min: elements / s.max,
            max: elements / s.min,
            n: s.n,
        })
    }

    fn json(&self) -> Value {
        json!({ "median": self.median, "min": self.min, "max": self.max, "samples": self.n })
    }
}

/// One line of the table / one object of the JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// selfsup (criterion) side.
    pub ours: Option<Rate>,
    /// PyTorch side.
    pub theirs: Option<Rate>,
    /// The same work written with libtorch ops through tch (criterion id `<id>/tch`).
    pub tch: Option<Rate>,
    /// selfsup per CPU-second of the process (criterion id `<id>/cpu`, measured in CPU time).
    pub ours_cpu: Option<Rate>,
    /// The tch baseline per CPU-second (criterion id `<id>/tch/cpu`).
    pub tch_cpu: Option<Rate>,
    /// PyTorch per CPU-second of its process (`sample_cpu_s`).
    pub theirs_cpu: Option<Rate>,
    /// Unit of the throughput (`pairs/s`, …).
    pub unit: String,
    /// What the PyTorch side runs.
    pub what: String,
    /// Threads of the selfsup side, as the bench source configures them.
    pub threads_ours: Option<String>,
    /// Threads / processes of the PyTorch side, as its script reports them.
    pub threads_theirs: Option<String>,
    /// Highest 1-minute load average seen around the selfsup measurement.
    pub load_ours: Option<f64>,
    /// Highest 1-minute load average seen around the PyTorch script.
    pub load_theirs: Option<f64>,
    /// Fields of the PyTorch line not interpreted here (script-specific notes).
    pub extra: serde_json::Map<String, Value>,
}

impl Row {
    /// selfsup median / PyTorch median.
    pub fn ratio(&self) -> Option<f64> {
        median_ratio(self.ours, self.theirs)
    }

    /// selfsup median / tch median.
    pub fn ratio_tch(&self) -> Option<f64> {
        median_ratio(self.ours, self.tch)
    }

    /// selfsup per-CPU-second median / PyTorch per-CPU-second median.
    pub fn ratio_cpu(&self) -> Option<f64> {
        median_ratio(self.ours_cpu, self.theirs_cpu)
    }

    /// selfsup per-CPU-second median / tch per-CPU-second median.
    pub fn ratio_tch_cpu(&self) -> Option<f64> {
        median_ratio(self.ours_cpu, self.tch_cpu)
    }

    /// Whether either side was measured while the load exceeded `cores`.
    pub fn loaded(&self, cores: usize) -> bool {
        [self.load_ours, self.load_theirs]
            .into_iter()
            .flatten()
            .any(|l| overloaded(l, cores))
    }

    /// The row as a JSON object (see the module doc of `docs/benchmarks.json` in `docs/benchmarks.md`).
    pub fn json(&self, id: &str, cores: usize) -> Value {
        json!({
            "id": id,
            "unit": self.unit,
            "statistic": STATISTIC,
            "selfsup": self.ours.map(|r| r.json()),
            "tch": self.tch.map(|r| r.json()),
            "pytorch": self.theirs.map(|r| r.json()),
            "ratio": self.ratio(),
            "ratio_vs_tch": self.ratio_tch(),
            "per_cpu_second": {
                "selfsup": self.ours_cpu.map(|r| r.json()),
                "tch": self.tch_cpu.map(|r| r.json()),
                "pytorch": self.theirs_cpu.map(|r| r.json()),
                "ratio": self.ratio_cpu(),
                "ratio_vs_tch": self.ratio_tch_cpu(),
            },
            "threads": { "selfsup": self.threads_ours, "pytorch": self.threads_theirs },
            "load": { "selfsup": self.load_ours, "pytorch": self.load_theirs },
            "load_exceeds_cores": self.loaded(cores),
            "what": self.what,
            "pytorch_extra": Value::Object(self.extra.clone()),
        })
    }
}

fn median_ratio(a: Option<Rate>, b: Option<Rate>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b.median > 0.0 => Some(a.median / b.median),
        _ => None,
    }
}

/// Which column of a row a criterion result fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// selfsup, wall-clock time (the plain id).
    Selfsup,
    /// The tch baseline (`<id>/tch`).
    Tch,
    /// selfsup in process CPU time (`<id>/cpu`).
    SelfsupCpu,
    /// The tch baseline in process CPU time (`<id>/tch/cpu`).
    TchCpu,
}

/// Id suffix of the tch baseline of a row.
pub const TCH_SUFFIX: &str = "/tch";
/// Id suffix of a selfsup bench measured in process CPU time.
pub const CPU_SUFFIX: &str = "/cpu";

/// The row id and column of a criterion full id: `a/b/tch` → (`a/b`, tch), `a/b/cpu` → (`a/b`, CPU),
/// `a/b/tch/cpu` → (`a/b`, tch CPU), else the id itself.
pub fn split_variant(id: &str) -> (&str, Column) {
    if let Some(base) = id
        .strip_suffix(CPU_SUFFIX)
        .and_then(|b| b.strip_suffix(TCH_SUFFIX))
    {
        (base, Column::TchCpu)
    } else if let Some(base) = id.strip_suffix(TCH_SUFFIX) {
        (base, Column::Tch)
    } else if let Some(base) = id.strip_suffix(CPU_SUFFIX) {
        (base, Column::SelfsupCpu)
    } else {
        (id, Column::Selfsup)
    }
}

/// Rows from criterion results: each result goes to the column its id's suffix names ([`split_variant`]);
/// `threads` names the selfsup side's threads of a row id; every row gets `load` as its selfsup load.
fn join_criterion(
    results: Vec<(String, Rate)>,
    threads: impl Fn(&str) -> Option<String>,
    load: Option<f64>,
) -> BTreeMap<String, Row> {
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for (id, rate) in results {
        let (base, col) = split_variant(&id);
        let row = rows.entry(base.to_string()).or_insert_with(|| Row {
            unit: "items/s".into(),
            threads_ours: threads(base),
            load_ours: load,
            ..Row::default()
        });
        match col {
            Column::Selfsup => row.ours = Some(rate),
            Column::Tch => row.tch = Some(rate),
            Column::SelfsupCpu => row.ours_cpu = Some(rate),
            Column::TchCpu => row.tch_cpu = Some(rate),
        }
    }
    rows
}

/// Whether a 1-minute load average exceeds the core count (the machine was oversubscribed).
pub fn overloaded(load: f64, cores: usize) -> bool {
    load > cores as f64
}

/// The 1-minute load average (first field of `/proc/loadavg`); `None` where unavailable.
pub fn load_average() -> Option<f64> {
    parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

/// The first field of a `/proc/loadavg` line.
pub fn parse_loadavg(s: &str) -> Option<f64> {
    s.split_whitespace().next()?.parse().ok()
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn max_load(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// Parsed command line.
#[derive(Debug, Default, PartialEq)]
struct Args {
    quick: bool,
    samples: usize,
    filter: Option<String>,
    no_python: bool,
    python: Option<String>,
    passthrough: Vec<String>,
    /// Skip the all-reduce comparison (`--no-dist`).
    no_dist: bool,
    /// Only the all-reduce comparison (`--dist-only`).
    dist_only: bool,
    /// Only these bench targets (`--bench`, repeatable).
    benches: Vec<String>,
    /// Where the report goes instead of `docs/` (`--out`).
    out: Option<String>,
    /// Rounds of the whole-epoch stage (`--epoch-rounds`).
    epoch_rounds: usize,
    /// Images in its JPEG folder (`--epoch-images`).
    epoch_images: usize,
    /// Only the whole-epoch stage (`--epoch-only`).
    epoch_only: bool,
}

impl Args {
    fn epoch_settings(&self) -> bench_epoch::Settings {
        bench_epoch::Settings {
            rounds: self.epoch_rounds,
            images: self.epoch_images,
        }
    }

    /// Whether the whole-epoch stage runs: never with `--dist-only`, else [`bench_epoch::selected`].
    fn runs_epoch(&self) -> Result<bool> {
        Ok(!self.dist_only && bench_epoch::selected(self.filter.as_deref(), self.quick)?)
    }
}

fn parse_args(args: &[String]) -> Result<Args> {
    let mut a = Args {
        samples: 10,
        epoch_rounds: bench_epoch::DEFAULT_ROUNDS,
        epoch_images: bench_epoch::DEFAULT_IMAGES,
        ..Args::default()
    };
    let mut it = args.iter();
    while let Some(s) = it.next() {
        match s.as_str() {
            "--quick" => a.quick = true,
            "--no-python" => a.no_python = true,
            "--no-dist" => a.no_dist = true,
            "--dist-only" => a.dist_only = true,
            "--epoch-only" => a.epoch_only = true,
            "--epoch-rounds" => {
                let v = it.next().context("--epoch-rounds needs a value")?;
                a.epoch_rounds =
                    v.parse().ok().filter(|n| *n >= 1).with_context(|| {
                        format!("--epoch-rounds must be an integer ≥ 1, got `{v}`")
                    })?;
            }
            "--epoch-images" => {
                let v = it.next().context("--epoch-images needs a value")?;
                a.epoch_images = bench_epoch::check_images(v)?;
            }
            "--python" => a.python = Some(it.next().context("--python needs a value")?.clone()),
            "--filter" => a.filter = Some(it.next().context("--filter needs a value")?.clone()),
            "--bench" => a.benches.push(
                it.next()
                    .context("--bench needs a bench target name")?
                    .clone(),
            ),
            "--out" => a.out = Some(it.next().context("--out needs a directory")?.clone()),
            "--samples" => {
                let v = it.next().context("--samples needs a value")?;
                a.samples = v.parse().ok().filter(|n| *n >= 10).with_context(|| {
                    format!("--samples must be an integer ≥ 10 (criterion's minimum), got `{v}`")
                })?;
            }
            "--" => a.passthrough.extend(it.by_ref().cloned()),
            other if other.starts_with("--") => {
                bail!("unknown `cargo xtask bench` option `{other}` (criterion options go after `--`)")
            }
            other => a.passthrough.push(other.to_string()),
        }
    }
    if a.epoch_only && (a.dist_only || a.quick) {
        bail!("--epoch-only runs only the whole-epoch stage: not with --dist-only or --quick");
    }
    if a.quick && a.filter.is_none() {
        a.filter = Some(QUICK_FILTER.to_string());
    }
    Ok(a)
}

/// `cargo bench` arguments for a run.
fn cargo_bench_args(a: &Args) -> Vec<String> {
    let mut v: Vec<String> = vec!["bench".into(), "--workspace".into()];
    if !a.benches.is_empty() {
        for b in &a.benches {
            v.push("--bench".into());
            v.push(b.clone());
        }
    } else if a.quick {
        for b in QUICK_BENCHES {
            v.push("--bench".into());
            v.push((*b).into());
        }
    } else {
        v.extend(["--bench".into(), "*".into()]);
    }
    v.extend(["--".into(), "--noplot".into()]);
    v.extend(["--sample-size".into(), a.samples.to_string()]);
    if a.quick {
        for s in [
            "--warm-up-time",
            "0.5",
            "--measurement-time",
            "1",
            "--nresamples",
            "1000",
        ] {
            v.push(s.into());
        }
    }
    v.extend(a.passthrough.iter().cloned());
    if let Some(f) = &a.filter {
        v.push(f.clone());
    }
    v
}

/// Deletes `dir` (criterion's results) so that only this run's benches are read back.
pub fn clear_stale(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => {
            Err(e).with_context(|| format!("cannot clear stale results in {}", dir.display()))
        }
    }
}

/// Threads the selfsup side of row `id` uses, as its bench source sets them. Like-for-like rows (`_1thread`,
/// `/1thread`) run on one thread; loss rows name their threads in the last id component (`/1thread`,
/// `/2threads`).
fn threads_ours(id: &str) -> Option<String> {
    const LOSSES: &[&str] = &[
        "ntxent/",
        "dcl/",
        "negative_cosine/",
        "barlow_twins/",
        "vicreg/",
        "supcon/",
    ];
    let one = id.ends_with("/1thread") || id.ends_with("_1thread") || id.contains("_1thread/");
    if LOSSES.iter().any(|p| id.starts_with(p)) {
        let last = id.rsplit('/').next().unwrap_or("");
        let n = last
            .strip_suffix("threads")
            .or_else(|| last.strip_suffix("thread"))?;
        n.parse::<usize>().ok().map(|n| format!("{n} (tch)"))
    } else if one {
        Some("1".into())
    } else if id.starts_with("audio_pipeline/")
        || id.starts_with("image_simclr/two_view_2threads/")
        || id.starts_with("loader/")
    {
        Some("2 (rayon pool)".into())
    } else if id.starts_with("image_transform_224/") {
        Some("1".into())
    } else if id.starts_with("train/") || id.starts_with("char_gpt/") {
        Some("1 (tch)".into())
    } else {
        None
    }
}

/// Runs the benchmarks and writes `docs/benchmarks.md` and `docs/benchmarks.json`.
pub fn run(args: &[String]) -> Result<()> {
    let root = util::root();
    let a = parse_args(args)?;
    if a.dist_only {
        return run_dist(&root, &a, args);
    }
    if a.epoch_only {
        return run_epoch_only(&root, &a, args);
    }
    // Before the long part: an invalid --filter fails here.
    let with_epoch = a.runs_epoch()?;
    let load_start = load_average();
    let bench_threads = std::env::var("BENCH_THREADS").unwrap_or_else(|_| "2".into());
    let mut rows = run_criterion(&root, &a, &bench_threads, load_start)?;
    let python = choose_python(&root, &a);
    let (python_note, mut libraries) = match &python {
        Some(py) => (
            format!("PyTorch side: `{py}`"),
            run_python_scripts(&root, &a, py, &bench_threads, &mut rows)?,
        ),
        None => (
            "PyTorch side not run (no Python with torch found; `cargo xtask setup --python` makes one, `--python <exe>` chooses one)"
                .to_string(),
            BTreeMap::new(),
        ),
    };
    let epoch =
        with_epoch.then(|| bench_epoch::measure(&root, python.as_deref(), a.epoch_settings()));
    if let Some(e) = &epoch {
        libraries.extend(e.versions());
    }
    let run = run_info(&root, &a, args, load_start, python_note, libraries, epoch);
    write_report(&root, a.out.as_deref(), &rows, &run)?;
    if !a.no_dist {
        run_dist(&root, &a, args)?;
    }
    Ok(())
}

/// `--epoch-only`: the whole-epoch stage alone, its report into `--out` (default
/// `target/bench-epoch`, so that the generated section in `docs/` keeps the full run's rows).
fn run_epoch_only(root: &Path, a: &Args, args: &[String]) -> Result<()> {
    if !a.runs_epoch()? {
        bail!(
            "--epoch-only: --filter does not match `{}`; nothing to run",
            bench_epoch::ID
        );
    }
    let load_start = load_average();
    let python = choose_python(root, a);
    let epoch = bench_epoch::measure(root, python.as_deref(), a.epoch_settings());
    let python_note = match &python {
        Some(py) => format!("PyTorch side: `{py}`"),
        None => "PyTorch side not run (no Python with torch found)".to_string(),
    };
    let run = run_info(
        root,
        a,
        args,
        load_start,
        python_note,
        epoch.versions(),
        Some(epoch),
    );
    let out = a.out.clone().unwrap_or_else(|| {
        target_dir(root)
            .join("bench-epoch")
            .to_string_lossy()
            .into_owned()
    });
    write_report(root, Some(&out), &BTreeMap::new(), &run)
}

/// Clears stale criterion results, runs `cargo bench` and reads its results into rows.
fn run_criterion(
    root: &Path,
    a: &Args,
    bench_threads: &str,
    load_start: Option<f64>,
) -> Result<BTreeMap<String, Row>> {
    let criterion_dir = target_dir(root).join("criterion");
    clear_stale(&criterion_dir)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    util::run(
        Command::new(cargo)
            .args(cargo_bench_args(a))
            .env("BENCH_THREADS", bench_threads)
            .current_dir(root),
    )?;
    let load_ours = max_load(load_start, load_average());
    Ok(join_criterion(
        read_criterion(&criterion_dir)?,
        threads_ours,
        load_ours,
    ))
}

/// The interpreter of the PyTorch side: `--python`, else one with torch, none with `--no-python`.
fn choose_python(root: &Path, a: &Args) -> Option<String> {
    if a.no_python {
        None
    } else {
        a.python.clone().or_else(|| find_python(root))
    }
}

/// Runs every `scripts/bench/*.py` with `py`, filling the PyTorch columns of `rows`; returns the
/// library versions the scripts report. A failing script leaves its rows empty.
fn run_python_scripts(
    root: &Path,
    a: &Args,
    py: &str,
    bench_threads: &str,
    rows: &mut BTreeMap<String, Row>,
) -> Result<BTreeMap<String, String>> {
    let samples_json: BTreeMap<&str, usize> = rows
        .iter()
        .filter_map(|(id, r)| Some((id.as_str(), r.ours?.n)))
        .collect();
    let samples_json = serde_json::to_string(&samples_json)?;
    let mut libraries = BTreeMap::new();
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(root.join("scripts/bench"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_bench_script(p))
                .collect()
        })
        .unwrap_or_default();
    scripts.sort();
    for script in scripts {
        eprintln!("xtask: bench: running {}", script.display());
        let before = load_average();
        let mut cmd = Command::new(py);
        cmd.arg(&script)
            .current_dir(root)
            .env("BENCH_THREADS", bench_threads)
            .env("BENCH_SAMPLES", a.samples.to_string())
            .env("BENCH_SAMPLES_JSON", &samples_json)
            .env("BENCH_MIN_TIME", if a.quick { "1.0" } else { "2.0" })
            .env("BENCH_FILTER", a.filter.clone().unwrap_or_default());
        let out = match util::output(&mut cmd) {
            Ok(o) => o,
            Err(e) => {
                eprintln!(
                    "xtask: bench: {} failed, its rows stay empty: {e:#}",
                    script.display()
                );
                continue;
            }
        };
        let load = max_load(before, load_average());
        for line in out.lines() {
            let Some(p) = parse_python_line(line) else {
                continue;
            };
            let row = rows.entry(p.id).or_default();
            row.theirs = Some(p.rate);
            row.theirs_cpu = p.cpu_rate;
            libraries.extend(p.versions);
            row.unit = p.unit.unwrap_or_else(|| row.unit.clone());
            row.what = p.what.unwrap_or_default();
            row.threads_theirs = p.threads;
            row.load_theirs = load;
            row.extra = p.extra;
        }
    }
    Ok(libraries)
}

/// What describes this run, its end load read now.
fn run_info(
    root: &Path,
    a: &Args,
    args: &[String],
    load_start: Option<f64>,
    python_note: String,
    libraries: BTreeMap<String, String>,
    epoch: Option<bench_epoch::Report>,
) -> RunInfo {
    let load_end = load_average();
    let cores = cores();
    let date = util::output(Command::new("date").arg("-u").arg("+%Y-%m-%d %H:%M UTC"))
        .unwrap_or_default()
        .trim()
        .to_string();
    RunInfo {
        command: format!("cargo xtask bench {}", args.join(" "))
            .trim_end()
            .to_string(),
        date,
        machine: machine(cores),
        cores,
        load_start,
        load_end,
        samples: a.samples,
        python_note,
        tch_note: tch_versions(root),
        libraries,
        epoch,
    }
}

/// Writes `benchmarks.md` and `benchmarks.json`: into `out` when given, else the generated section of
/// `docs/benchmarks.md` and `docs/benchmarks.json`.
fn write_report(
    root: &Path,
    out: Option<&str>,
    rows: &BTreeMap<String, Row>,
    run: &RunInfo,
) -> Result<()> {
    let report = render(rows, run);
    let (path, json_path) = match out {
        Some(dir) => {
            let dir = root.join(dir);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create --out {}", dir.display()))?;
            let path = dir.join("benchmarks.md");
            std::fs::write(&path, &report)?;
            (path, dir.join("benchmarks.json"))
        }
        None => {
            let path = root.join("docs/benchmarks.md");
            let existing = std::fs::read_to_string(&path).unwrap_or_default();
            std::fs::write(&path, splice_generated(&existing, &report))?;
            (path, root.join("docs/benchmarks.json"))
        }
    };
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&report_json(rows, run))? + "\n",
    )?;
    eprintln!(
        "xtask: bench: wrote {} and {}",
        path.display(),
        json_path.display()
    );
    if run.loaded() {
        eprintln!(
            "xtask: bench: warning: the load average exceeded the {} cores during this run; its figures measure the other load too",
            run.cores
        );
    }
    Ok(())
}

/// The all-reduce comparison (`crate::bench_dist`): both sides alternately, three rounds each,
/// written into the "Distributed" section of `docs/benchmarks.md`.
fn run_dist(root: &Path, a: &Args, args: &[String]) -> Result<()> {
    crate::dist::setup()?;
    let python = choose_python(root, a);
    let load_start = load_average();
    let (ours, theirs) = crate::bench_dist::measure(root, python.as_deref(), 2, 3)?;
    let load_end = load_average();
    let torch = python
        .as_deref()
        .and_then(|py| {
            util::output(Command::new(py).args(["-c", "import torch; print(torch.__version__)"]))
                .ok()
        })
        .map(|v| v.trim().to_string());
    let python_note = match (&python, torch) {
        (Some(py), Some(v)) => format!("`{py}`, torch {v}"),
        (Some(py), None) => format!("`{py}` (torch version unknown)"),
        (None, _) => "not run (no Python with torch found)".to_string(),
    };
    let date = util::output(Command::new("date").arg("-u").arg("+%Y-%m-%d %H:%M UTC"))
        .unwrap_or_default()
        .trim()
        .to_string();
    let command = format!("cargo xtask bench {}", args.join(" "))
        .trim_end()
        .to_string();
    let machine = machine(cores());
    let rows = crate::bench_dist::render(
        &ours,
        &theirs,
        &crate::bench_dist::DistRun {
            command: &command,
            date: &date,
            machine: &machine,
            python: &python_note,
            load: (load_start, load_end),
            world: 2,
        },
    );
    let path = root.join("docs/benchmarks.md");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, crate::bench_dist::splice(&existing, &rows))?;
    eprintln!(
        "xtask: bench: wrote the all-reduce rows into {}",
        path.display()
    );
    Ok(())
}

/// `scripts/bench/*.py` except helper modules (`_*.py`).
fn is_bench_script(p: &Path) -> bool {
    p.extension().is_some_and(|x| x == "py")
        && p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.starts_with('_'))
}

/// What describes a whole run.
#[derive(Debug, Clone, PartialEq)]
struct RunInfo {
    command: String,
    date: String,
    machine: String,
    cores: usize,
    load_start: Option<f64>,
    load_end: Option<f64>,
    samples: usize,
    python_note: String,
    /// tch and libtorch versions of the selfsup and tch columns.
    tch_note: String,
    /// Python library versions the scripts reported (`versions` of their lines).
    libraries: BTreeMap<String, String>,
    /// The whole-epoch stage, when this run included it.
    epoch: Option<bench_epoch::Report>,
}

impl RunInfo {
    /// Whether the load exceeded the cores at the start, the end or around a whole-epoch run.
    fn loaded(&self) -> bool {
        [self.load_start, self.load_end]
            .into_iter()
            .flatten()
            .any(|l| overloaded(l, self.cores))
            || self.epoch.as_ref().is_some_and(|e| e.loaded(self.cores))
    }
}

fn report_json(rows: &BTreeMap<String, Row>, run: &RunInfo) -> Value {
    json!({
        "command": run.command,
        "date": run.date,
        "machine": run.machine,
        "cores": run.cores,
        "load_average_1min": { "start": run.load_start, "end": run.load_end },
        "load_exceeds_cores": run.loaded() || rows.values().any(|r| r.loaded(run.cores)),
        "statistic": STATISTIC,
        "samples_default": run.samples,
        "pytorch_side": run.python_note,
        "tch_side": run.tch_note,
        "libraries": run.libraries,
        "rows": rows.iter().map(|(id, r)| r.json(id, run.cores)).collect::<Vec<_>>(),
        "simclr_epoch": run.epoch.as_ref().map(|e| e.json(run.cores)),
    })
}

/// One parsed line of a `scripts/bench/*.py` script.
#[derive(Debug, PartialEq)]
struct PythonLine {
    id: String,
    rate: Rate,
    /// Per CPU-second of the script's process, from `sample_cpu_s`.
    cpu_rate: Option<Rate>,
    /// `versions`: library name → version.
    versions: BTreeMap<String, String>,
    unit: Option<String>,
    what: Option<String>,
    threads: Option<String>,
    extra: serde_json::Map<String, Value>,
}

/// Parses `{"id", "elements", "sample_s": [...], "sample_cpu_s": [...], "versions": {...}, "unit", "what",
/// "threads", ...}`; a line without `sample_s` (an older script printing one `per_sec`) is read as a single
/// run. `sample_cpu_s` holds the process CPU seconds per call of the same repeats.
fn parse_python_line(line: &str) -> Option<PythonLine> {
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    let Value::Object(mut v) = serde_json::from_str::<Value>(line).ok()? else {
        return None;
    };
    let id = v.remove("id")?.as_str()?.to_string();
    let secs = |x: &Value| -> Vec<f64> {
        x.as_array()
            .map(|xs| xs.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let elements = v.get("elements").and_then(Value::as_f64);
    let rate = match v.remove("sample_s") {
        Some(xs @ Value::Array(_)) => Rate::from_times(elements?, &secs(&xs))?,
        _ => {
            let r = v.remove("per_sec")?.as_f64()?;
            Rate::from_times(r, &[1.0])?
        }
    };
    let cpu_rate = v
        .remove("sample_cpu_s")
        .and_then(|xs| Rate::from_times(elements?, &secs(&xs)));
    let versions = match v.remove("versions") {
        Some(Value::Object(m)) => m
            .into_iter()
            .map(|(k, x)| {
                let x = match x {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, x)
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    let mut take = |k: &str| {
        v.remove(k).map(|x| match x {
            Value::String(s) => s,
            other => other.to_string(),
        })
    };
    let unit = take("unit");
    let what = take("what");
    let threads = take("threads");
    v.remove("elements");
    v.remove("per_sec");
    Some(PythonLine {
        id,
        rate,
        cpu_rate,
        versions,
        unit,
        what,
        threads,
        extra: v,
    })
}

pub(crate) fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Reads every `new/` result (benchmark.json + sample.json) under `target/criterion`, sorted by id.
fn read_criterion(dir: &Path) -> Result<Vec<(String, Rate)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if !p.is_dir() {
                continue;
            }
            if p.file_name().is_some_and(|n| n == "new") {
                if let Some(r) = read_one(&p)? {
                    out.push(r);
                }
            } else if p.file_name().is_some_and(|n| n != "base" && n != "report") {
                stack.push(p);
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn read_one(new: &Path) -> Result<Option<(String, Rate)>> {
    let bench = match std::fs::read_to_string(new.join("benchmark.json")) {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    let sample = std::fs::read_to_string(new.join("sample.json"))
        .with_context(|| format!("criterion sample.json in {}", new.display()))?;
    parse_criterion(&bench, &sample)
        .with_context(|| format!("criterion results in {}", new.display()))
}

/// `(full_id, throughput)` from criterion's `benchmark.json` and `sample.json`: per-sample time per
/// iteration (`times[i] / iters[i]`, nanoseconds), elements from `throughput` (`Elements` or `Bytes`,
/// else 1).
fn parse_criterion(benchmark_json: &str, sample_json: &str) -> Result<Option<(String, Rate)>> {
    let bench: Value = serde_json::from_str(benchmark_json).context("benchmark.json")?;
    let sample: Value = serde_json::from_str(sample_json).context("sample.json")?;
    let Some(id) = bench["full_id"].as_str() else {
        return Ok(None);
    };
    let elements = bench["throughput"]["Elements"]
        .as_f64()
        .or_else(|| bench["throughput"]["Bytes"].as_f64())
        .unwrap_or(1.0);
    let (Some(iters), Some(times)) = (sample["iters"].as_array(), sample["times"].as_array())
    else {
        bail!("sample.json without `iters` and `times`");
    };
    if iters.len() != times.len() {
        bail!(
            "sample.json: {} iteration counts for {} times",
            iters.len(),
            times.len()
        );
    }
    let secs: Vec<f64> = iters
        .iter()
        .zip(times)
        .filter_map(|(i, t)| Some(t.as_f64()? * 1e-9 / i.as_f64()?))
        .collect();
    Ok(Rate::from_times(elements, &secs).map(|r| (id.to_string(), r)))
}

/// `tch <version>, libtorch <version>` from `Cargo.lock` and the libtorch in use (`LIBTORCH`, else
/// `.libtorch`), as far as they are known.
fn tch_versions(root: &Path) -> String {
    let tch = std::fs::read_to_string(root.join("Cargo.lock"))
        .ok()
        .and_then(|l| lock_version(&l, "tch"))
        .unwrap_or_else(|| "?".into());
    let libtorch_dir = std::env::var_os("LIBTORCH")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".libtorch"));
    let libtorch = std::fs::read_to_string(libtorch_dir.join("build-version"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    format!("tch {tch}, libtorch {libtorch}")
}

/// The version of package `name` in a `Cargo.lock` (the first entry of that name).
fn lock_version(lock: &str, name: &str) -> Option<String> {
    let want = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l.trim() == want {
            let v = lines.next()?.trim();
            return Some(
                v.strip_prefix("version = \"")?
                    .strip_suffix('"')?
                    .to_string(),
            );
        }
    }
    None
}

/// The reference venv's Python (`cargo xtask setup --python`), else `python3`: the first that imports torch.
fn find_python(_root: &Path) -> Option<String> {
    let venv = crate::pyenv::venv_dir(None).join("bin/python");
    let candidates = [venv.to_string_lossy().into_owned(), "python3".into()];
    candidates.into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import torch"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn machine(cores: usize) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpu}, {cores} cores available")
}

fn fmt(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// `median [min–max]`, or `—`.
fn fmt_rate(r: Option<Rate>) -> String {
    match r {
        Some(r) => format!("{} [{}–{}]", fmt(r.median), fmt(r.min), fmt(r.max)),
        None => "—".into(),
    }
}

fn fmt_load(l: Option<f64>) -> String {
    l.map_or("?".into(), |l| format!("{l:.2}"))
}

/// Start and end of the generated section of `docs/benchmarks.md`.
const GENERATED_START: &str = "<!-- xtask bench: generated section below -->";
const GENERATED_END: &str = "<!-- xtask bench: end of generated section -->";

/// `existing` with its generated section replaced by `report`: what precedes the start marker and
/// what follows the end marker (hand-written sections) is kept; without an end marker, everything
/// after the start marker is the old generated section.
fn splice_generated(existing: &str, report: &str) -> String {
    let (head, rest) = match existing.split_once(GENERATED_START) {
        Some((h, r)) => (h.trim_end(), Some(r)),
        None => (existing.trim_end(), None),
    };
    let head = if head.is_empty() {
        "# Benchmarks"
    } else {
        head
    };
    let tail = rest
        .and_then(|r| r.split_once(GENERATED_END))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
        .map(|t| format!("\n{t}\n"))
        .unwrap_or_default();
    format!(
        "{head}\n\n{GENERATED_START}\n\n{}\n\n{GENERATED_END}\n{tail}",
        report.trim_end()
    )
}

/// The generated section: the run's header, the table of the micro-bench rows (when there are any) and
/// the whole-epoch stage's table (when the run included it).
fn render(rows: &BTreeMap<String, Row>, run: &RunInfo) -> String {
    let mut s = render_header(rows, run);
    if !rows.is_empty() {
        s.push_str(&render_rows(rows, run));
    }
    if let Some(e) = &run.epoch {
        s.push('\n');
        s.push_str(&e.render(run.cores));
    }
    s
}

/// Title, loaded-machine warning, command, date, machine, versions and load of the run.
fn render_header(rows: &BTreeMap<String, Row>, run: &RunInfo) -> String {
    let mut s = String::new();
    s.push_str("## Latest `cargo xtask bench` run\n\n");
    if run.loaded() || rows.values().any(|r| r.loaded(run.cores)) {
        s.push_str(&format!(
            "> **Loaded machine**: the 1-minute load average exceeded the {} cores during this run (rows marked ⚠); \
             its figures measure the other load as much as the code.\n\n",
            run.cores
        ));
    }
    s.push_str(&format!("- command: `{}`\n", run.command));
    s.push_str(&format!(
        "- date: {}\n- machine: {}\n- {}\n- selfsup and tch columns: {}\n",
        run.date, run.machine, run.python_note, run.tch_note
    ));
    if !run.libraries.is_empty() {
        let libs: Vec<String> = run
            .libraries
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        s.push_str(&format!(
            "- Python libraries (as the scripts report them): {}\n",
            libs.join(", ")
        ));
    }
    s.push_str(&format!(
        "- 1-minute load average: {} at the start, {} at the end ({} cores)\n",
        fmt_load(run.load_start),
        fmt_load(run.load_end),
        run.cores
    ));
    s
}

/// The statistic's description and one table line per micro-bench row.
fn render_rows(rows: &BTreeMap<String, Row>, run: &RunInfo) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "- statistic: throughput at the median of N runs [slowest–fastest run], the same on both sides \
         (selfsup: criterion samples; PyTorch: timed repeats); N = {} unless the bench sets its own; \
         ratio = selfsup median / PyTorch median, measured in the same run; every row also in `docs/benchmarks.json`\n\
         - tch = the same work written with libtorch tensor ops through tch, 1 thread (bench id `<id>/tch`); \
         vs tch = selfsup median / tch median\n\
         - per CPU-second = items per second of process CPU time, the same statistic (selfsup: the bench id \
         `<id>/cpu` measured in CPU time, tch: `<id>/tch/cpu`; PyTorch: `time.process_time` of the same repeats); \
         rows on one thread against 0 workers compare like with like\n\n",
        run.samples
    ));
    s.push_str(
        "| bench id | selfsup /s | tch /s | PyTorch /s | ratio | vs tch | selfsup /CPU-s | tch /CPU-s | PyTorch /CPU-s | CPU ratio | CPU vs tch | N | unit | threads (selfsup / PyTorch) | load | PyTorch side |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- |\n",
    );
    for (id, r) in rows {
        let times = |x: Option<f64>| x.map_or("—".into(), |x| format!("{x:.2}×"));
        let ratio = times(r.ratio());
        let n = format!(
            "{}/{}",
            r.ours.map_or("—".into(), |x| x.n.to_string()),
            r.theirs.map_or("—".into(), |x| x.n.to_string())
        );
        let threads = format!(
            "{} / {}",
            r.threads_ours.as_deref().unwrap_or("—"),
            r.threads_theirs.as_deref().unwrap_or("—")
        );
        let load = format!(
            "{}{}",
            fmt_load(max_load(r.load_ours, r.load_theirs)),
            if r.loaded(run.cores) { " ⚠" } else { "" }
        );
        s.push_str(&format!(
            "| `{id}` | {} | {} | {} | {ratio} | {} | {} | {} | {} | {} | {} | {n} | {} | {threads} | {load} | {} |\n",
            fmt_rate(r.ours),
            fmt_rate(r.tch),
            fmt_rate(r.theirs),
            times(r.ratio_tch()),
            fmt_rate(r.ours_cpu),
            fmt_rate(r.tch_cpu),
            fmt_rate(r.theirs_cpu),
            times(r.ratio_cpu()),
            times(r.ratio_tch_cpu()),
            r.unit,
            r.what
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn generated_section_is_replaced_and_hand_written_sections_kept() {
        let doc = format!(
            "# B\n\nintro\n\n{GENERATED_START}\n\nold table\n\n{GENERATED_END}\n\n## Mine\nkept\n"
        );
        let out = splice_generated(&doc, "new table\n");
        assert!(out.starts_with("# B\n\nintro\n\n"));
        assert!(out.contains("new table") && !out.contains("old table"));
        assert!(out.ends_with("## Mine\nkept\n"), "{out}");
        // Run twice: stable.
        assert_eq!(splice_generated(&out, "new table\n"), out);
        // An old file without the end marker: everything after the start marker was generated.
        let old = format!("# B\n\n{GENERATED_START}\n\nold table\n");
        let out = splice_generated(&old, "t");
        assert!(!out.contains("old table") && out.contains(GENERATED_END));
        // No marker at all: the report is appended.
        assert!(splice_generated("# B\n\nx\n", "t").starts_with("# B\n\nx\n\n"));
    }

    #[test]
    fn stats_odd_even_and_filtering() {
        let s = Stats::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        let s = Stats::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.5, 1.0, 4.0, 4));
        // Non-finite and non-positive values are dropped, not counted.
        let s = Stats::of(&[f64::NAN, 5.0, 0.0, -1.0, f64::INFINITY]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (5.0, 5.0, 5.0, 1));
        assert!(Stats::of(&[]).is_none());
        assert!(Stats::of(&[f64::NAN]).is_none());
    }

    #[test]
    fn rate_inverts_times() {
        // 100 elements in 0.5 / 1 / 2 s: 200 / 100 / 50 per second.
        let r = Rate::from_times(100.0, &[1.0, 2.0, 0.5]).unwrap();
        assert_eq!((r.median, r.min, r.max, r.n), (100.0, 50.0, 200.0, 3));
    }

    #[test]
    fn criterion_sample_json_is_per_iteration_time() {
        let bench = r#"{"group_id":"g","function_id":"f","value_str":null,
            "throughput":{"Elements":256},"full_id":"g/f","directory_name":"g/f","title":"g/f"}"#;
        // Linear sampling: sample i runs i*k iterations. Per-iteration times 2 ms, 1 ms, 4 ms.
        let sample = r#"{"sampling_mode":"Linear","iters":[1.0,2.0,3.0],"times":[2e6,2e6,12e6]}"#;
        let (id, r) = parse_criterion(bench, sample).unwrap().unwrap();
        assert_eq!(id, "g/f");
        assert_eq!(r.n, 3);
        assert!((r.median - 256.0 / 2e-3).abs() < 1e-6, "{r:?}");
        assert!((r.min - 256.0 / 4e-3).abs() < 1e-6);
        assert!((r.max - 256.0 / 1e-3).abs() < 1e-6);
        // Bytes throughput counts like elements; none means 1 per iteration.
        let bytes = bench.replace("Elements", "Bytes");
        assert!(
            (parse_criterion(&bytes, sample).unwrap().unwrap().1.median - 128_000.0).abs() < 1e-6
        );
        let none = r#"{"full_id":"g/f","throughput":null}"#;
        assert!((parse_criterion(none, sample).unwrap().unwrap().1.median - 500.0).abs() < 1e-9);
        // Malformed sample files are errors, not silent zeros.
        assert!(parse_criterion(bench, r#"{"iters":[1.0],"times":[]}"#).is_err());
        assert!(parse_criterion(bench, r#"{"times":[1.0]}"#).is_err());
    }

    #[test]
    fn read_criterion_walks_new_dirs_only() {
        let dir = temp_dir("read");
        let new = dir.join("grp/fn/new");
        let base = dir.join("grp/fn/base");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::create_dir_all(&base).unwrap();
        let bench = r#"{"full_id":"grp/fn","throughput":{"Elements":10}}"#;
        std::fs::write(new.join("benchmark.json"), bench).unwrap();
        std::fs::write(new.join("sample.json"), r#"{"iters":[1.0],"times":[1e9]}"#).unwrap();
        std::fs::write(base.join("benchmark.json"), r#"{"full_id":"old/base"}"#).unwrap();
        std::fs::write(base.join("sample.json"), r#"{"iters":[1.0],"times":[1e9]}"#).unwrap();
        let rows = read_criterion(&dir).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, "grp/fn");
        assert!((rows[0].1.median - 10.0).abs() < 1e-9);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "xtask-bench-test-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn clearing_removes_stale_results() {
        let dir = temp_dir("clear");
        let stale = dir.join("criterion/renamed_bench/new");
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::write(
            stale.join("benchmark.json"),
            r#"{"full_id":"renamed_bench","throughput":null}"#,
        )
        .unwrap();
        std::fs::write(
            stale.join("sample.json"),
            r#"{"iters":[1.0],"times":[1.0]}"#,
        )
        .unwrap();
        let crit = dir.join("criterion");
        assert_eq!(read_criterion(&crit).unwrap().len(), 1);
        clear_stale(&crit).unwrap();
        assert!(!crit.exists());
        assert!(read_criterion(&crit).unwrap().is_empty());
        // Clearing a directory that does not exist is fine (first run).
        clear_stale(&crit).unwrap();
        // The parent (the target dir) stays.
        assert!(dir.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_flag() {
        assert_eq!(parse_loadavg("1.52 0.80 0.41 2/300 1234\n"), Some(1.52));
        assert_eq!(parse_loadavg(""), None);
        assert_eq!(parse_loadavg("x y"), None);
        assert!(!overloaded(2.0, 2));
        assert!(overloaded(2.01, 2));
        let row = Row {
            load_ours: Some(1.0),
            load_theirs: Some(3.5),
            ..Row::default()
        };
        assert!(row.loaded(2));
        assert!(!row.loaded(4));
        assert!(!Row::default().loaded(1));
        let run = RunInfo {
            command: String::new(),
            date: String::new(),
            machine: String::new(),
            cores: 2,
            load_start: Some(0.5),
            load_end: Some(6.0),
            samples: 10,
            python_note: String::new(),
            tch_note: String::new(),
            libraries: BTreeMap::new(),
            epoch: None,
        };
        assert!(run.loaded());
        let mut rows = BTreeMap::new();
        rows.insert("a/b".to_string(), row);
        let md = render(&rows, &run);
        assert!(md.contains("**Loaded machine**"), "{md}");
        assert!(md.contains("| 3.50 ⚠ |"), "{md}");
        assert!(
            md.contains("0.50 at the start, 6.00 at the end (2 cores)"),
            "{md}"
        );
        let quiet = RunInfo {
            load_end: Some(1.0),
            ..run
        };
        let mut calm = BTreeMap::new();
        calm.insert(
            "a/b".to_string(),
            Row {
                load_ours: Some(1.0),
                ..Row::default()
            },
        );
        assert!(!render(&calm, &quiet).contains("Loaded machine"));
    }

    #[test]
    fn python_lines_new_and_legacy() {
        let l = parse_python_line(
            r#"{"id": "x/y", "elements": 10, "sample_s": [0.1, 0.2, 0.05], "unit": "img/s", "what": "w", "threads": "torch 1 thread", "per_cpu_sec": 7.0}"#,
        )
        .unwrap();
        assert_eq!(l.id, "x/y");
        assert_eq!(
            (l.rate.median, l.rate.min, l.rate.max, l.rate.n),
            (100.0, 50.0, 200.0, 3)
        );
        assert_eq!(l.unit.as_deref(), Some("img/s"));
        assert_eq!(l.threads.as_deref(), Some("torch 1 thread"));
        assert_eq!(l.extra.get("per_cpu_sec"), Some(&json!(7.0)));
        assert!(!l.extra.contains_key("elements"));
        let legacy = parse_python_line(r#"{"id": "x/z", "per_sec": 42.0}"#).unwrap();
        assert_eq!((legacy.rate.median, legacy.rate.n), (42.0, 1));
        assert!(parse_python_line("xtask noise").is_none());
        assert!(parse_python_line(r#"{"id": "x", "sample_s": [0.1]}"#).is_none());
        assert!(parse_python_line(r#"{"id": "x", "elements": 1, "sample_s": []}"#).is_none());
    }

    #[test]
    fn json_rows_carry_both_statistics() {
        let row = Row {
            ours: Rate::from_times(10.0, &[1.0, 2.0, 0.5]),
            theirs: Rate::from_times(10.0, &[2.0, 4.0, 3.0, 1.0]),
            unit: "pairs/s".into(),
            what: "lightly".into(),
            threads_ours: Some("2 (tch)".into()),
            threads_theirs: Some("torch 2 thread(s)".into()),
            load_ours: Some(1.0),
            load_theirs: Some(1.5),
            extra: serde_json::Map::new(),
            ..Row::default()
        };
        let v = row.json("ntxent/fwd_bwd_256x128", 2);
        assert_eq!(v["id"], "ntxent/fwd_bwd_256x128");
        assert_eq!(v["statistic"], "median");
        assert_eq!(v["unit"], "pairs/s");
        assert_eq!(v["selfsup"]["median"], 10.0);
        assert_eq!(v["selfsup"]["min"], 5.0);
        assert_eq!(v["selfsup"]["max"], 20.0);
        assert_eq!(v["selfsup"]["samples"], 3);
        // PyTorch: median time 2.5 s → 4 /s; slowest 4 s → 2.5; fastest 1 s → 10.
        assert_eq!(v["pytorch"]["median"], 4.0);
        assert_eq!(v["pytorch"]["min"], 2.5);
        assert_eq!(v["pytorch"]["max"], 10.0);
        assert_eq!(v["pytorch"]["samples"], 4);
        assert_eq!(v["ratio"], 2.5);
        assert_eq!(v["threads"]["selfsup"], "2 (tch)");
        assert_eq!(v["threads"]["pytorch"], "torch 2 thread(s)");
        assert_eq!(v["load_exceeds_cores"], false);
        let lone = Row::default().json("a", 2);
        assert!(lone["ratio"].is_null() && lone["pytorch"].is_null() && lone["selfsup"].is_null());
        let md = render(
            &BTreeMap::from([("ntxent/fwd_bwd_256x128".to_string(), row)]),
            &RunInfo {
                command: "cargo xtask bench".into(),
                date: "d".into(),
                machine: "m".into(),
                cores: 2,
                load_start: Some(1.0),
                load_end: Some(1.0),
                samples: 10,
                python_note: "p".into(),
                tch_note: "tch 0.26.0, libtorch 2.13.0+cpu".into(),
                libraries: BTreeMap::from([("torch".to_string(), "2.13.0".to_string())]),
                epoch: None,
            },
        );
        assert!(
            md.contains("| `ntxent/fwd_bwd_256x128` | 10.00 [5.00–20.00] | — | 4.00 [2.50–10.00] | 2.50× | — | — | — | — | — | — | 3/4 | pairs/s | 2 (tch) / torch 2 thread(s) | 1.50 | lightly |"),
            "{md}"
        );
        assert!(
            md.contains("- selfsup and tch columns: tch 0.26.0, libtorch 2.13.0+cpu\n"),
            "{md}"
        );
        assert!(
            md.contains("- Python libraries (as the scripts report them): torch 2.13.0\n"),
            "{md}"
        );
    }

    #[test]
    fn report_json_has_run_and_rows() {
        let run = RunInfo {
            command: "cargo xtask bench --quick".into(),
            date: "d".into(),
            machine: "m".into(),
            cores: 2,
            load_start: Some(0.4),
            load_end: Some(1.9),
            samples: 10,
            python_note: "p".into(),
            tch_note: "t".into(),
            libraries: BTreeMap::from([("lightly".to_string(), "1.6.0".to_string())]),
            epoch: None,
        };
        let mut rows = BTreeMap::new();
        rows.insert(
            "b/x".to_string(),
            Row {
                ours: Rate::from_times(1.0, &[0.5]),
                load_ours: Some(2.5),
                ..Row::default()
            },
        );
        rows.insert("a/x".to_string(), Row::default());
        let v: Value = serde_json::from_str(&report_json(&rows, &run).to_string()).unwrap();
        assert_eq!(v["cores"], 2);
        assert_eq!(v["load_average_1min"]["start"], 0.4);
        assert_eq!(v["load_average_1min"]["end"], 1.9);
        assert_eq!(v["statistic"], "median");
        assert_eq!(v["samples_default"], 10);
        assert_eq!(v["tch_side"], "t");
        assert_eq!(v["libraries"]["lightly"], "1.6.0");
        // Start and end were under the cores, but one row was measured above them.
        assert_eq!(v["load_exceeds_cores"], true);
        let ids: Vec<&str> = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["a/x", "b/x"]);
        assert_eq!(v["rows"][1]["load_exceeds_cores"], true);
        assert_eq!(v["rows"][1]["selfsup"]["median"], 2.0);
    }

    #[test]
    fn args_quick_samples_filter() {
        let a = parse_args(&strings(&["--quick"])).unwrap();
        assert!(a.quick);
        assert_eq!(a.filter.as_deref(), Some(QUICK_FILTER));
        let v = cargo_bench_args(&a);
        assert!(v.windows(2).any(|w| w == ["--bench", "losses"]));
        assert!(!v.contains(&"*".to_string()));
        assert!(v.windows(2).any(|w| w == ["--sample-size", "10"]));
        assert!(v.windows(2).any(|w| w == ["--measurement-time", "1"]));
        assert_eq!(v.last().map(String::as_str), Some(QUICK_FILTER));
        let a = parse_args(&strings(&[
            "--samples",
            "20",
            "--filter",
            "^ntxent/",
            "--",
            "--verbose",
        ]))
        .unwrap();
        let v = cargo_bench_args(&a);
        assert!(v.windows(2).any(|w| w == ["--bench", "*"]));
        assert!(v.windows(2).any(|w| w == ["--sample-size", "20"]));
        assert_eq!(&v[v.len() - 2..], ["--verbose", "^ntxent/"]);
        assert!(a.out.is_none() && a.benches.is_empty());
        let a = parse_args(&strings(&[
            "--bench",
            "loader",
            "--bench",
            "tch_baselines",
            "--out",
            "target/x",
            "--quick",
        ]))
        .unwrap();
        assert_eq!(a.out.as_deref(), Some("target/x"));
        let v = cargo_bench_args(&a);
        // Named targets replace both `*` and the quick set.
        assert!(v.windows(2).any(|w| w == ["--bench", "loader"]));
        assert!(v.windows(2).any(|w| w == ["--bench", "tch_baselines"]));
        assert!(!v.contains(&"*".to_string()) && !v.contains(&"losses".to_string()));
        assert!(parse_args(&strings(&["--bench"])).is_err());
        assert!(parse_args(&strings(&["--out"])).is_err());
        assert!(parse_args(&strings(&["--samples", "3"])).is_err());
        assert!(parse_args(&strings(&["--samples"])).is_err());
        assert!(parse_args(&strings(&["--bogus"])).is_err());
    }

    #[test]
    fn args_of_the_epoch_stage() {
        let a = parse_args(&[]).unwrap();
        assert_eq!(
            (a.epoch_rounds, a.epoch_images, a.epoch_only),
            (3, 10_000, false)
        );
        assert!(a.runs_epoch().unwrap());
        let a = parse_args(&strings(&[
            "--epoch-rounds",
            "1",
            "--epoch-images",
            "3072",
            "--epoch-only",
        ]))
        .unwrap();
        assert_eq!(
            a.epoch_settings(),
            bench_epoch::Settings {
                rounds: 1,
                images: 3072
            }
        );
        assert!(a.epoch_only);
        // --quick, --dist-only and a filter that misses the id leave the stage out.
        assert!(!parse_args(&strings(&["--quick"]))
            .unwrap()
            .runs_epoch()
            .unwrap());
        assert!(!parse_args(&strings(&["--dist-only"]))
            .unwrap()
            .runs_epoch()
            .unwrap());
        assert!(!parse_args(&strings(&["--filter", "^ntxent/"]))
            .unwrap()
            .runs_epoch()
            .unwrap());
        assert!(parse_args(&strings(&["--filter", "^simclr_epoch/"]))
            .unwrap()
            .runs_epoch()
            .unwrap());
        assert!(parse_args(&strings(&["--filter", "("]))
            .unwrap()
            .runs_epoch()
            .is_err());
        for bad in [
            &["--epoch-rounds", "0"][..],
            &["--epoch-rounds"],
            &["--epoch-images", "1000"],
            &["--epoch-only", "--quick"],
            &["--epoch-only", "--dist-only"],
        ] {
            assert!(parse_args(&strings(bad)).is_err(), "{bad:?}");
        }
    }

    fn epoch_run(side: &str, views: f64, load: f64) -> bench_epoch::Run {
        bench_epoch::Run {
            side: side.into(),
            round: 1,
            views_per_s: views,
            load_before: Some(load),
            load_after: Some(load),
            versions: BTreeMap::from([("lightly".to_string(), "1.6.0".to_string())]),
            ..bench_epoch::Run::default()
        }
    }

    #[test]
    fn epoch_stage_in_report_and_json() {
        let epoch = bench_epoch::Report {
            settings: bench_epoch::Settings {
                rounds: 1,
                images: 10_000,
            },
            outcome: bench_epoch::Outcome::Measured(vec![
                epoch_run("selfsup", 400.0, 1.0),
                epoch_run("lightly_w1", 200.0, 3.0),
            ]),
        };
        let run = RunInfo {
            command: "cargo xtask bench --epoch-only".into(),
            date: "d".into(),
            machine: "m".into(),
            cores: 2,
            load_start: Some(0.5),
            load_end: Some(0.5),
            samples: 10,
            python_note: "p".into(),
            tch_note: "t".into(),
            libraries: BTreeMap::new(),
            epoch: Some(epoch),
        };
        // The start and end were quiet; the lightly run was not: the whole run is flagged.
        assert!(run.loaded());
        let md = render(&BTreeMap::new(), &run);
        assert!(md.contains("**Loaded machine**"), "{md}");
        assert!(md.contains("### Whole SimCLR epoch"), "{md}");
        assert!(
            md.contains("| lightly, 1 worker | 200 [200–200] | 1 | **2.00×** | 2.00 |"),
            "{md}"
        );
        // No micro-bench rows: no empty micro-bench table.
        assert!(!md.contains("| bench id |"), "{md}");
        let v = report_json(&BTreeMap::new(), &run);
        assert_eq!(v["simclr_epoch"]["id"], bench_epoch::ID);
        assert_eq!(v["simclr_epoch"]["sides"][1]["ratio"], 2.0);
        assert_eq!(v["load_exceeds_cores"], true);
        let without = RunInfo { epoch: None, ..run };
        assert!(report_json(&BTreeMap::new(), &without)["simclr_epoch"].is_null());
        assert!(!render(&BTreeMap::new(), &without).contains("Whole SimCLR epoch"));
    }

    #[test]
    fn quick_filter_selects_the_quick_ids() {
        // The ids are those of the benches and scripts today; a rename that drops out of --quick fails here.
        let re_ids = [
            "image_transform_224/normalize",
            "image_transform_224/normalize/cpu",
            "image_transform_224/color_jitter/tch",
            "ntxent/fwd_bwd_256x128/1thread",
            "ntxent/fwd_bwd_256x128/2threads",
            "dcl/fwd_bwd_256x128/1thread",
            "vicreg/fwd_bwd_256x128/2threads",
            "train/adamw_step_1m_params",
        ];
        let out = [
            "ntxent/fwd_bwd_1024x128/1thread",
            "image_simclr/two_view_2threads/32px",
            "image_simclr/two_view_1thread/32px/tch",
            "audio_pipeline/mel_spectrogram_n256_h80_m40/1thread/tch",
            "loader/x",
        ];
        // A tiny matcher for the filter's shape: ^(alt|alt|...)
        let inner = QUICK_FILTER
            .strip_prefix("^(")
            .and_then(|s| s.strip_suffix(')'))
            .unwrap();
        let matches = |id: &str| inner.split('|').any(|p| id.starts_with(p));
        for id in re_ids {
            assert!(matches(id), "{id}");
        }
        for id in out {
            assert!(!matches(id), "{id}");
        }
    }

    #[test]
    fn helper_modules_are_not_run() {
        assert!(is_bench_script(Path::new("scripts/bench/losses.py")));
        assert!(!is_bench_script(Path::new("scripts/bench/_bench.py")));
        assert!(!is_bench_script(Path::new("scripts/bench/README.md")));
    }

    #[test]
    fn threads_of_known_groups() {
        assert_eq!(threads_ours("train/knn").as_deref(), Some("1 (tch)"));
        assert_eq!(
            threads_ours("ntxent/fwd_bwd_256x128/1thread").as_deref(),
            Some("1 (tch)")
        );
        assert_eq!(
            threads_ours("vicreg/fwd_bwd_256x128/2threads").as_deref(),
            Some("2 (tch)")
        );
        // A loss id that does not name its threads is not guessed.
        assert_eq!(threads_ours("ntxent/fwd_bwd_256x128"), None);
        assert_eq!(
            threads_ours("loader/imagefolder_jpeg_simclr32").as_deref(),
            Some("2 (rayon pool)")
        );
        for one in [
            "loader/imagefolder_jpeg_simclr32_1thread",
            "image_simclr/two_view_1thread/32px",
            "audio_pipeline/noise_shift_gain/1thread",
            "image_transform_224/normalize",
        ] {
            assert_eq!(threads_ours(one).as_deref(), Some("1"), "{one}");
        }
        assert_eq!(
            threads_ours("image_simclr/two_view_2threads/96px").as_deref(),
            Some("2 (rayon pool)")
        );
        assert_eq!(threads_ours("unknown/x"), None);
    }

    #[test]
    fn variants_join_as_columns() {
        assert_eq!(
            split_variant("image_transform_224/normalize/tch"),
            ("image_transform_224/normalize", Column::Tch)
        );
        assert_eq!(
            split_variant("audio_pipeline/noise_shift_gain/1thread/cpu"),
            (
                "audio_pipeline/noise_shift_gain/1thread",
                Column::SelfsupCpu
            )
        );
        assert_eq!(
            split_variant("image_simclr/two_view_1thread/32px/tch/cpu"),
            ("image_simclr/two_view_1thread/32px", Column::TchCpu)
        );
        assert_eq!(split_variant("train/knn"), ("train/knn", Column::Selfsup));
        // Only a whole last component counts.
        assert_eq!(split_variant("x/notch").1, Column::Selfsup);
        let r = |t: f64| Rate::from_times(1.0, &[t]).unwrap();
        let rows = join_criterion(
            vec![
                ("a/b".into(), r(0.5)),
                ("a/b/cpu".into(), r(0.25)),
                ("a/b/tch".into(), r(1.0)),
                ("a/b/tch/cpu".into(), r(0.5)),
                ("c/d/tch".into(), r(2.0)),
            ],
            |id| Some(format!("threads of {id}")),
            Some(0.7),
        );
        assert_eq!(rows.len(), 2);
        let ab = &rows["a/b"];
        assert_eq!(ab.ours.unwrap().median, 2.0);
        assert_eq!(ab.ours_cpu.unwrap().median, 4.0);
        assert_eq!(ab.tch.unwrap().median, 1.0);
        assert_eq!(ab.ratio_tch(), Some(2.0));
        assert_eq!(ab.tch_cpu.unwrap().median, 2.0);
        assert_eq!(ab.ratio_tch_cpu(), Some(2.0));
        assert_eq!(ab.threads_ours.as_deref(), Some("threads of a/b"));
        assert_eq!(ab.load_ours, Some(0.7));
        // A row with only a tch result has no selfsup figure and no ratio.
        let cd = &rows["c/d"];
        assert!(cd.ours.is_none() && cd.ratio_tch().is_none());
        assert_eq!(cd.tch.unwrap().median, 0.5);
    }

    #[test]
    fn three_columns_and_cpu_ratio_in_table_and_json() {
        let mut row = Row {
            ours: Rate::from_times(1.0, &[0.01, 0.02, 0.01]),
            tch: Rate::from_times(1.0, &[0.04, 0.05, 0.03]),
            ours_cpu: Rate::from_times(1.0, &[0.01]),
            tch_cpu: Rate::from_times(1.0, &[0.02]),
            unit: "img/s".into(),
            what: "tv".into(),
            ..Row::default()
        };
        let p = parse_python_line(
            r#"{"id": "image_transform_224/normalize", "elements": 1, "sample_s": [0.1, 0.1], "sample_cpu_s": [0.05, 0.04], "versions": {"torch": "2.13.0", "torchvision": "0.28.0"}}"#,
        )
        .unwrap();
        row.theirs = Some(p.rate);
        row.theirs_cpu = p.cpu_rate;
        let close = |x: Option<f64>, y: f64| x.is_some_and(|x| (x - y).abs() < 1e-9 * y);
        assert!(close(row.ratio_cpu(), 4.5), "{:?}", row.ratio_cpu());
        let v = row.json("image_transform_224/normalize", 2);
        assert!(close(v["tch"]["median"].as_f64(), 25.0));
        assert!(close(v["ratio_vs_tch"].as_f64(), 4.0));
        assert!(close(
            v["per_cpu_second"]["selfsup"]["median"].as_f64(),
            100.0
        ));
        assert!(close(
            v["per_cpu_second"]["pytorch"]["median"].as_f64(),
            1.0 / 0.045
        ));
        assert!(close(v["per_cpu_second"]["ratio"].as_f64(), 4.5));
        assert!(close(v["per_cpu_second"]["tch"]["median"].as_f64(), 50.0));
        assert!(close(v["per_cpu_second"]["ratio_vs_tch"].as_f64(), 2.0));
        let run = RunInfo {
            command: "c".into(),
            date: "d".into(),
            machine: "m".into(),
            cores: 2,
            load_start: None,
            load_end: None,
            samples: 10,
            python_note: "p".into(),
            tch_note: "t".into(),
            libraries: p.versions,
            epoch: None,
        };
        let md = render(
            &BTreeMap::from([("image_transform_224/normalize".to_string(), row)]),
            &run,
        );
        assert!(
            md.contains("| `image_transform_224/normalize` | 100 [50.00–100] | 25.00 [20.00–33.33] | 10.00 [10.00–10.00] | 10.00× | 4.00× | 100 [100–100] | 50.00 [50.00–50.00] | 22.22 [20.00–25.00] | 4.50× | 2.00× |"),
            "{md}"
        );
        assert!(md.contains("torch 2.13.0, torchvision 0.28.0"), "{md}");
    }

    #[test]
    fn python_line_without_cpu_or_versions() {
        let p = parse_python_line(
            r#"{"id": "x", "elements": 2, "sample_s": [1.0], "sample_cpu_s": []}"#,
        )
        .unwrap();
        assert!(p.cpu_rate.is_none() && p.versions.is_empty());
        // Legacy `per_sec` lines carry no element count, so no CPU rate either.
        let p = parse_python_line(r#"{"id": "x", "per_sec": 3.0, "sample_cpu_s": [1.0]}"#).unwrap();
        assert!(p.cpu_rate.is_none());
    }

    #[test]
    fn versions_from_cargo_lock() {
        let lock = "[[package]]\nname = \"tch\"\nversion = \"0.26.0\"\nsource = \"x\"\n\n[[package]]\nname = \"tch-extra\"\nversion = \"9\"\n";
        assert_eq!(lock_version(lock, "tch").as_deref(), Some("0.26.0"));
        assert_eq!(lock_version(lock, "tch-extra").as_deref(), Some("9"));
        assert_eq!(lock_version(lock, "torch-sys"), None);
    }
}
