//! The whole-epoch stage of `cargo xtask bench` (issue 16): one SimCLR epoch on a JPEG image folder —
//! decode + augment + train, ConvNet-4 (32-64-128-256), batch 256, 32 px, lightly's SimCLR recipe
//! without blur, SGD 0.06 / 0.9 / 5e-4 — by `selfsup pretrain` against lightly with a
//! `torch.utils.data.DataLoader` of 1 and 2 workers, the same recipe, model and optimizer. Written as
//! the row [`ID`] of the generated section of `docs/benchmarks.md` (its own table: the columns differ
//! from the micro-benches') and as `simclr_epoch` in `docs/benchmarks.json`.
//!
//! One mechanism: xtask builds the release CLI (`cargo build --release -p selfsup-cli`), runs
//! `scripts/bench/simclr_epoch.sh` with `ROUNDS`, `IMAGES`, `WORKERS`, `PY`, `SELFSUP` and `OUT` set, and
//! reads the one JSON line per run the script writes to `<OUT>/results.jsonl` ([`parse_results`]). The
//! script alternates the sides within each round (selfsup, lightly with 1 worker, lightly with 2) and
//! makes the JPEG folders (`scripts/bench/make_jpeg_folder.py`) when absent.
//!
//! Statistic, the same on both sides: per run, views/s = 2 × images/s over the timed steps 4–S of the
//! epoch (S = images / 256; the first 3 steps are the warm-up: selfsup from its trainer's
//! `metrics.jsonl`, lightly from `perf_counter` in its loop); per side, the median [min–max] over the
//! rounds ([`Stats::of`]). The ratio is selfsup's median over the side's, with each round's own ratio
//! beside it. CPU s = user + sys of the whole run (`/usr/bin/time -v`; lightly: main process + loader
//! workers). Peak RSS = the largest single process (`/usr/bin/time -v`); for lightly also the peak of
//! the process tree's summed RSS and PSS (sampled by `simclr_epoch.py`). The 1-minute load average is
//! read before and after every run; a run above the core count flags its side (⚠) and the whole run.
//!
//! Selection ([`selected`]): the stage runs unless `--quick`, `--dist-only`, or a `--filter` that does not
//! match [`ID`] (the regex syntax of criterion's filter). When it cannot run — `--no-python` or no Python
//! with torch, lightly (or torchvision, Pillow, NumPy) not importable, no `/usr/bin/time`, the CLI's build
//! or the script failing — the row is written as skipped with the reason and the bench goes on.

use crate::bench::{overloaded, parse_loadavg, Stats};
use crate::util;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The row id.
pub const ID: &str = "simclr_epoch/jpeg_convnet4_b256";
/// The script that runs both sides.
const SCRIPT: &str = "scripts/bench/simclr_epoch.sh";
/// Where the script's runs and `results.jsonl` go (under the repository root; `runs/` is ignored by git).
const OUT: &str = "runs/simclr-epoch-xtask";
/// `--epoch-rounds` unless given.
pub const DEFAULT_ROUNDS: usize = 3;
/// `--epoch-images` unless given: 39 steps of 256.
pub const DEFAULT_IMAGES: usize = 10_000;
/// lightly's DataLoader workers, one run each per round.
const WORKERS: &str = "1 2";
/// Batch size of both sides.
const BATCH: usize = 256;
/// Untimed steps at the start of the epoch; also the trainer's `log_every` in `simclr_epoch.toml`.
const WARMUP_STEPS: usize = 3;
/// The issue's target: selfsup's views/s at least this many times lightly's.
const TARGET_RATIO: f64 = 1.5;

/// What one stage measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Rounds (each: selfsup once, lightly once per worker count).
    pub rounds: usize,
    /// Images in the JPEG folder (one epoch = images / 256 steps).
    pub images: usize,
}

impl Settings {
    /// Steps of one epoch (drop_last).
    pub fn steps(&self) -> usize {
        self.images / BATCH
    }

    /// Images of the timed steps of one run.
    pub fn timed_images(&self) -> usize {
        self.steps().saturating_sub(WARMUP_STEPS) * BATCH
    }
}

/// `--epoch-images`: the epoch must have a multiple of 3 steps (selfsup's log rows cover 3 steps each)
/// and at least 6 (3 warm-up, 3 timed).
pub fn check_images(arg: &str) -> Result<usize> {
    let n: usize = arg
        .parse()
        .with_context(|| format!("--epoch-images must be an integer, got `{arg}`"))?;
    let steps = n / BATCH;
    if steps < 2 * WARMUP_STEPS || steps % WARMUP_STEPS != 0 {
        bail!("--epoch-images {n} gives {steps} steps of {BATCH}; the epoch needs a multiple of {WARMUP_STEPS} steps, at least {} (e.g. 3072 or 10000)", 2 * WARMUP_STEPS);
    }
    Ok(n)
}

/// Whether this run includes the stage: not with `--quick`, else when there is no `--filter` or it
/// matches [`ID`]. An invalid regex is an error (criterion would reject it too).
pub fn selected(filter: Option<&str>, quick: bool) -> Result<bool> {
    if quick {
        return Ok(false);
    }
    let Some(f) = filter else {
        return Ok(true);
    };
    let re = regex_automata::meta::Regex::new(f)
        .with_context(|| format!("--filter `{f}` is not a valid regex"))?;
    Ok(re.is_match(ID))
}

/// One run of one side: a line of `results.jsonl`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Run {
    /// `selfsup`, `lightly_w1`, `lightly_w2`.
    pub side: String,
    /// 1-based round.
    pub round: usize,
    /// 2 × images / s of the timed steps.
    pub views_per_s: f64,
    /// User + sys CPU seconds of the whole run.
    pub cpu_s: Option<f64>,
    /// Peak RSS of the largest single process, MiB.
    pub peak_rss_mib: Option<f64>,
    /// Peak summed RSS of the process tree, MiB (lightly).
    pub tree_rss_mib: Option<f64>,
    /// Peak summed PSS of the process tree, MiB (lightly).
    pub tree_pss_mib: Option<f64>,
    /// 1-minute load average before the run.
    pub load_before: Option<f64>,
    /// 1-minute load average after the run.
    pub load_after: Option<f64>,
    /// Library versions the lightly side reports.
    pub versions: BTreeMap<String, String>,
}

impl Run {
    fn loaded(&self, cores: usize) -> bool {
        [self.load_before, self.load_after]
            .into_iter()
            .flatten()
            .any(|l| overloaded(l, cores))
    }

    fn json(&self) -> Value {
        json!({
            "round": self.round,
            "views_per_s": self.views_per_s,
            "cpu_s": self.cpu_s,
            "peak_rss_mib": self.peak_rss_mib,
            "peak_rss_tree_mib": self.tree_rss_mib,
            "peak_pss_tree_mib": self.tree_pss_mib,
            "load_before": self.load_before,
            "load_after": self.load_after,
        })
    }
}

/// One line of `results.jsonl` (`{"side", "round", "views_per_s", "cpu_s", "peak_rss_mib",
/// "peak_rss_tree_mib", "peak_pss_tree_mib", "load_before": "<loadavg>", "load_after", "versions"}`);
/// `None` for other lines or without side, round or views/s.
fn parse_run(line: &str) -> Option<Run> {
    let v: Value = serde_json::from_str(line.trim()).ok()?;
    let num = |k: &str| v.get(k).and_then(Value::as_f64);
    let load = |k: &str| v.get(k).and_then(Value::as_str).and_then(parse_loadavg);
    let versions = v
        .get("versions")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, x)| Some((k.clone(), x.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Some(Run {
        side: v.get("side")?.as_str()?.to_string(),
        round: usize::try_from(v.get("round")?.as_u64()?).ok()?,
        views_per_s: num("views_per_s")?,
        cpu_s: num("cpu_s"),
        peak_rss_mib: num("peak_rss_mib"),
        tree_rss_mib: num("peak_rss_tree_mib"),
        tree_pss_mib: num("peak_pss_tree_mib"),
        load_before: load("load_before"),
        load_after: load("load_after"),
        versions,
    })
}

/// Every run in the text of `results.jsonl`, in order.
pub fn parse_results(text: &str) -> Vec<Run> {
    text.lines().filter_map(parse_run).collect()
}

/// The sides a complete stage has, in the script's order.
fn expected_sides() -> Vec<String> {
    std::iter::once("selfsup".to_string())
        .chain(WORKERS.split(' ').map(|w| format!("lightly_w{w}")))
        .collect()
}

/// Fails unless every side has a run in every round (a script that stopped early leaves fewer).
pub fn check_complete(runs: &[Run], rounds: usize) -> Result<()> {
    for side in expected_sides() {
        for round in 1..=rounds {
            if !runs.iter().any(|r| r.side == side && r.round == round) {
                bail!("results.jsonl has no {side} run for round {round}");
            }
        }
    }
    Ok(())
}

/// What the stage gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every run of every side.
    Measured(Vec<Run>),
    /// Why the stage did not run (or did not finish).
    Skipped(String),
}

/// The stage's result, as written into the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Rounds and folder size.
    pub settings: Settings,
    /// The runs, or why there are none.
    pub outcome: Outcome,
}

/// The runs of one side, in round order.
fn side_runs<'a>(runs: &'a [Run], side: &str) -> Vec<&'a Run> {
    let mut v: Vec<&Run> = runs.iter().filter(|r| r.side == side).collect();
    v.sort_by_key(|r| r.round);
    v
}

/// Median [min–max] of one field over a side's runs.
fn stat(runs: &[&Run], field: impl Fn(&Run) -> Option<f64>) -> Option<Stats> {
    Stats::of(&runs.iter().filter_map(|r| field(r)).collect::<Vec<_>>())
}

fn views(r: &Run) -> Option<f64> {
    Some(r.views_per_s)
}

/// selfsup's views/s over the side's, round by round (rounds where both ran).
fn round_ratios(ours: &[&Run], theirs: &[&Run]) -> Vec<f64> {
    theirs
        .iter()
        .filter(|t| t.views_per_s > 0.0)
        .filter_map(|t| {
            let o = ours.iter().find(|o| o.round == t.round)?;
            Some(o.views_per_s / t.views_per_s)
        })
        .collect()
}

/// selfsup's median over the side's median.
fn median_ratio(ours: &[&Run], theirs: &[&Run]) -> Option<f64> {
    let (o, t) = (stat(ours, views)?, stat(theirs, views)?);
    Some(o.median / t.median)
}

/// `lightly_w2` → `lightly, 2 workers`.
fn side_label(side: &str) -> String {
    match side.strip_prefix("lightly_w") {
        Some("1") => "lightly, 1 worker".into(),
        Some(w) => format!("lightly, {w} workers"),
        None => side.to_string(),
    }
}

/// `median [min–max]` with `prec` decimals, or `—`.
fn stat_cell(s: Option<Stats>, prec: usize) -> String {
    s.map_or("—".into(), |s| {
        format!("{:.p$} [{:.p$}–{:.p$}]", s.median, s.min, s.max, p = prec)
    })
}

fn stat_json(s: Option<Stats>) -> Value {
    s.map_or(
        Value::Null,
        |s| json!({ "median": s.median, "min": s.min, "max": s.max, "samples": s.n }),
    )
}

fn fmt_load(l: Option<f64>) -> String {
    l.map_or("?".into(), |l| format!("{l:.2}"))
}

/// Each run's `before → after`, `; `-separated, with ⚠ when a run exceeded the cores.
fn load_cell(runs: &[&Run], cores: usize) -> String {
    let s = runs
        .iter()
        .map(|r| format!("{} → {}", fmt_load(r.load_before), fmt_load(r.load_after)))
        .collect::<Vec<_>>()
        .join("; ");
    if runs.iter().any(|r| r.loaded(cores)) {
        s + " ⚠"
    } else {
        s
    }
}

/// A skip reason fit for one table cell.
fn cell_text(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

const TABLE_HEAD: &str = "| row | side | views/s, median [min–max] over rounds | rounds | selfsup / side (medians) | per round | CPU s (whole run) | peak RSS MiB, largest process | tree RSS / PSS MiB | 1-min load before → after, per run |\n\
     | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |\n";

impl Report {
    fn runs(&self) -> &[Run] {
        match &self.outcome {
            Outcome::Measured(r) => r,
            Outcome::Skipped(_) => &[],
        }
    }

    /// The sides present, selfsup first, then in the script's order.
    fn sides(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for r in self.runs() {
            if !v.contains(&r.side) {
                v.push(r.side.clone());
            }
        }
        v.sort_by_key(|s| s != "selfsup");
        v
    }

    /// Whether any run was measured while the load exceeded `cores`.
    pub fn loaded(&self, cores: usize) -> bool {
        self.runs().iter().any(|r| r.loaded(cores))
    }

    /// The library versions the lightly side reported.
    pub fn versions(&self) -> BTreeMap<String, String> {
        self.runs()
            .iter()
            .flat_map(|r| r.versions.clone())
            .collect()
    }

    fn header(&self, cores: usize) -> String {
        let s = self.settings;
        format!(
            "### Whole SimCLR epoch on a JPEG folder vs lightly (issue 16, target ≥ {TARGET_RATIO}×)\n\n\
             - row `{ID}`: decode + augment + train one epoch of {} 32×32 colour JPEGs \
             (`scripts/bench/make_jpeg_folder.py`), ConvNet-4 (32-64-128-256) + projection head 2048 → 128, \
             NT-Xent τ 0.5, SGD 0.06 / 0.9 / 5e-4, batch {BATCH}, lightly's SimCLR recipe without blur; selfsup \
             `pretrain --config scripts/bench/simclr_epoch.toml` (one process, loader on all cores, libtorch's \
             default threads) against lightly (`scripts/bench/simclr_epoch.py`: `LightlyDataset` + `DataLoader` \
             with 1 and 2 workers, torch's default threads); run by `{SCRIPT}`, {} round(s), the sides \
             alternating within each round\n\
             - statistic, the same on both sides: views/s = 2 × images/s over the timed steps {}–{} ({} images; \
             the first {WARMUP_STEPS} are the warm-up), one figure per run; median [min–max] over the rounds; \
             selfsup / side = ratio of the medians, per round = each round's own ratio\n\
             - CPU s = user + sys of the whole run (start-up and warm-up included; lightly: main process + \
             workers), from `/usr/bin/time -v`; peak RSS = the largest single process (`/usr/bin/time -v`); tree = \
             lightly's process tree (main + workers), peak of the summed RSS / PSS sampled every 0.25 s; \
             load ⚠ = above the {cores} cores\n\n",
            s.images,
            s.rounds,
            WARMUP_STEPS + 1,
            s.steps(),
            s.timed_images(),
        )
    }

    fn side_line(&self, side: &str, cores: usize) -> String {
        let ours = side_runs(self.runs(), "selfsup");
        let runs = side_runs(self.runs(), side);
        let (ratio, per_round) = if side == "selfsup" {
            ("—".to_string(), "—".to_string())
        } else {
            let per: Vec<String> = round_ratios(&ours, &runs)
                .iter()
                .map(|x| format!("{x:.2}"))
                .collect();
            (
                median_ratio(&ours, &runs).map_or("—".into(), |x| format!("**{x:.2}×**")),
                per.join(" / "),
            )
        };
        let tree = match (
            stat(&runs, |r| r.tree_rss_mib),
            stat(&runs, |r| r.tree_pss_mib),
        ) {
            (None, None) => "—".to_string(),
            (a, b) => format!("{} / {}", stat_cell(a, 0), stat_cell(b, 0)),
        };
        format!(
            "| `{ID}` | {} | {} | {} | {ratio} | {per_round} | {} | {} | {tree} | {} |\n",
            side_label(side),
            stat_cell(stat(&runs, views), 0),
            runs.len(),
            stat_cell(stat(&runs, |r| r.cpu_s), 1),
            stat_cell(stat(&runs, |r| r.peak_rss_mib), 0),
            load_cell(&runs, cores),
        )
    }

    /// The stage's part of the generated section: a description and one table line per side (or one
    /// skipped line).
    pub fn render(&self, cores: usize) -> String {
        let mut s = self.header(cores);
        s.push_str(TABLE_HEAD);
        match &self.outcome {
            Outcome::Skipped(why) => s.push_str(&format!(
                "| `{ID}` | skipped: {} | — | — | — | — | — | — | — | — |\n",
                cell_text(why)
            )),
            Outcome::Measured(_) => {
                for side in self.sides() {
                    s.push_str(&self.side_line(&side, cores));
                }
            }
        }
        s
    }

    fn side_json(&self, side: &str, cores: usize) -> Value {
        let ours = side_runs(self.runs(), "selfsup");
        let runs = side_runs(self.runs(), side);
        let theirs = side != "selfsup";
        json!({
            "side": side,
            "views_per_s": stat_json(stat(&runs, views)),
            "ratio": if theirs { median_ratio(&ours, &runs) } else { None },
            "ratio_per_round": if theirs { round_ratios(&ours, &runs) } else { Vec::new() },
            "cpu_s": stat_json(stat(&runs, |r| r.cpu_s)),
            "peak_rss_mib": stat_json(stat(&runs, |r| r.peak_rss_mib)),
            "peak_rss_tree_mib": stat_json(stat(&runs, |r| r.tree_rss_mib)),
            "peak_pss_tree_mib": stat_json(stat(&runs, |r| r.tree_pss_mib)),
            "load_exceeds_cores": runs.iter().any(|r| r.loaded(cores)),
            "runs": runs.iter().map(|r| r.json()).collect::<Vec<_>>(),
        })
    }

    /// The stage as the `simclr_epoch` object of `docs/benchmarks.json`.
    pub fn json(&self, cores: usize) -> Value {
        let s = self.settings;
        json!({
            "id": ID,
            "unit": "views/s",
            "statistic": "median over rounds (one figure per run: views/s of the timed steps)",
            "rounds": s.rounds,
            "images": s.images,
            "steps": s.steps(),
            "timed_steps": [WARMUP_STEPS + 1, s.steps()],
            "timed_images": s.timed_images(),
            "target_ratio": TARGET_RATIO,
            "skipped": match &self.outcome {
                Outcome::Skipped(why) => Some(why.clone()),
                Outcome::Measured(_) => None,
            },
            "load_exceeds_cores": self.loaded(cores),
            "versions": self.versions(),
            "sides": self.sides().iter().map(|side| self.side_json(side, cores)).collect::<Vec<_>>(),
        })
    }
}

/// Runs the stage; never fails: what goes wrong becomes the skipped row's reason.
pub fn measure(root: &Path, python: Option<&str>, settings: Settings) -> Report {
    eprintln!(
        "xtask: bench: whole-epoch stage {ID} ({} round(s), {} images)",
        settings.rounds, settings.images
    );
    let outcome = match try_measure(root, python, settings) {
        Ok(runs) => Outcome::Measured(runs),
        Err(e) => {
            eprintln!("xtask: bench: {ID} skipped: {e:#}");
            Outcome::Skipped(format!("{e:#}"))
        }
    };
    Report { settings, outcome }
}

fn try_measure(root: &Path, python: Option<&str>, settings: Settings) -> Result<Vec<Run>> {
    let py = python.context(
        "no Python side (`--no-python`, or no Python with torch found; `--python <exe>` to choose one)",
    )?;
    check_python(py)?;
    if !Path::new("/usr/bin/time").exists() {
        bail!("/usr/bin/time is missing (the `time` package), needed for CPU time and peak RSS");
    }
    let selfsup = build_cli(root)?;
    let out = root.join(OUT);
    util::run(
        Command::new("bash")
            .arg(SCRIPT)
            .env("ROUNDS", settings.rounds.to_string())
            .env("IMAGES", settings.images.to_string())
            .env("WORKERS", WORKERS)
            .env("PY", py)
            .env("SELFSUP", &selfsup)
            .env("OUT", &out)
            .env_remove("DATA")
            .env_remove("VAL")
            .current_dir(root),
    )
    .with_context(|| format!("{SCRIPT} failed (its logs are in {OUT}/)"))?;
    let text = std::fs::read_to_string(out.join("results.jsonl"))
        .with_context(|| format!("{OUT}/results.jsonl"))?;
    let runs = parse_results(&text);
    check_complete(&runs, settings.rounds)?;
    Ok(runs)
}

/// Fails with the import error when `py` lacks a library the lightly side needs.
fn check_python(py: &str) -> Result<()> {
    let out = Command::new(py)
        .args(["-c", "import torch, torchvision, lightly, PIL, numpy"])
        .output()
        .with_context(|| format!("cannot start `{py}`"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("").trim();
        bail!("the lightly side cannot run: `{py}` cannot import torch, torchvision, lightly, PIL and numpy ({last}); `pip install lightly` into it, or `--python <exe>`");
    }
    Ok(())
}

/// `cargo build --release -p selfsup-cli`; the binary's path.
fn build_cli(root: &Path) -> Result<std::path::PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    util::run(
        Command::new(cargo)
            .args(["build", "--release", "-p", "selfsup-cli"])
            .current_dir(root),
    )
    .context("building the selfsup CLI")?;
    let exe = crate::bench::target_dir(root).join("release/selfsup");
    if !exe.exists() {
        bail!("{} was not built", exe.display());
    }
    Ok(exe)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two rounds as `simclr_epoch.sh` writes them (the fields it prints, `versions` abridged).
    const RESULTS: &str = r#"{"side": "selfsup", "round": 1, "timed_images": 9216, "seconds": 42.0, "views_per_s": 440.0, "load_before": "0.65 0.40 0.20", "load_after": "2.30 0.90 0.40", "peak_rss_mib": 800.0, "cpu_s": 90.5}
{"side": "lightly_w1", "round": 1, "timed_images": 9216, "seconds": 80.0, "views_per_s": 220.0, "load_before": "2.30 0.90 0.40", "load_after": "2.50 1.20 0.50", "peak_rss_mib": 1240.0, "cpu_s": 160.0, "peak_rss_tree_mib": 1630.0, "peak_pss_tree_mib": 1320.0, "versions": {"torch": "2.13.0", "lightly": "1.6.0"}}
{"side": "lightly_w2", "round": 1, "timed_images": 9216, "seconds": 90.0, "views_per_s": 200.0, "load_before": "2.50 1.20 0.50", "load_after": "2.60 1.50 0.60", "peak_rss_mib": 1250.0, "cpu_s": 180.0, "peak_rss_tree_mib": 2050.0, "peak_pss_tree_mib": 1430.0, "versions": {"torch": "2.13.0", "lightly": "1.6.0"}}
{"side": "selfsup", "round": 2, "timed_images": 9216, "seconds": 44.0, "views_per_s": 420.0, "load_before": "1.00 1.00 1.00", "load_after": "1.50 1.00 1.00", "peak_rss_mib": 820.0, "cpu_s": 92.5}
{"side": "lightly_w1", "round": 2, "timed_images": 9216, "seconds": 80.0, "views_per_s": 240.0, "load_before": "1.50 1.00 1.00", "load_after": "1.80 1.00 1.00", "peak_rss_mib": 1260.0, "cpu_s": 170.0, "peak_rss_tree_mib": 1640.0, "peak_pss_tree_mib": 1330.0, "versions": {"torch": "2.13.0", "lightly": "1.6.0"}}
{"side": "lightly_w2", "round": 2, "timed_images": 9216, "seconds": 90.0, "views_per_s": 210.0, "load_before": "1.80 1.00 1.00", "load_after": "1.90 1.00 1.00", "peak_rss_mib": 1270.0, "cpu_s": 190.0, "peak_rss_tree_mib": 2070.0, "peak_pss_tree_mib": 1450.0, "versions": {"torch": "2.13.0", "lightly": "1.6.0"}}
"#;

    fn report() -> Report {
        Report {
            settings: Settings {
                rounds: 2,
                images: DEFAULT_IMAGES,
            },
            outcome: Outcome::Measured(parse_results(RESULTS)),
        }
    }

    #[test]
    fn parses_the_scripts_lines() {
        let runs = parse_results(&format!(
            "{RESULTS}| side | a table line |\nnoise\n{{\"side\": \"x\"}}\n"
        ));
        assert_eq!(runs.len(), 6);
        let w1 = &runs[1];
        assert_eq!((w1.side.as_str(), w1.round), ("lightly_w1", 1));
        assert_eq!(w1.views_per_s, 220.0);
        assert_eq!(w1.cpu_s, Some(160.0));
        assert_eq!(w1.peak_rss_mib, Some(1240.0));
        assert_eq!(
            (w1.tree_rss_mib, w1.tree_pss_mib),
            (Some(1630.0), Some(1320.0))
        );
        // The load fields are whole `/proc/loadavg` prefixes: the 1-minute figure is the first.
        assert_eq!((w1.load_before, w1.load_after), (Some(2.3), Some(2.5)));
        assert_eq!(
            w1.versions.get("lightly").map(String::as_str),
            Some("1.6.0")
        );
        let ours = &runs[0];
        assert!(ours.tree_rss_mib.is_none() && ours.versions.is_empty());
        // A line of an older script without `cpu_s` still parses; one without views/s does not.
        let old = parse_run(r#"{"side": "selfsup", "round": 1, "views_per_s": 1.0}"#).unwrap();
        assert!(old.cpu_s.is_none() && old.load_before.is_none());
        assert!(parse_run(r#"{"side": "selfsup", "round": 1}"#).is_none());
    }

    #[test]
    fn completeness_needs_every_side_every_round() {
        let runs = parse_results(RESULTS);
        check_complete(&runs, 2).unwrap();
        let err = check_complete(&runs, 3).unwrap_err().to_string();
        assert!(err.contains("selfsup run for round 3"), "{err}");
        let err = check_complete(&runs[..5], 2).unwrap_err().to_string();
        assert!(err.contains("lightly_w2 run for round 2"), "{err}");
    }

    #[test]
    fn table_is_median_over_rounds_with_ratios() {
        let md = report().render(2);
        // selfsup 440 / 420 → median 430; lightly w1 220 / 240 → 230 (ratio 1.87), rounds 2.00 / 1.75.
        assert!(
            md.contains("| `simclr_epoch/jpeg_convnet4_b256` | selfsup | 430 [420–440] | 2 | — | — | 91.5 [90.5–92.5] | 810 [800–820] | — | 0.65 → 2.30; 1.00 → 1.50 ⚠ |"),
            "{md}"
        );
        assert!(
            md.contains("| lightly, 1 worker | 230 [220–240] | 2 | **1.87×** | 2.00 / 1.75 | 165.0 [160.0–170.0] | 1250 [1240–1260] | 1635 [1630–1640] / 1325 [1320–1330] | 2.30 → 2.50; 1.50 → 1.80 ⚠ |"),
            "{md}"
        );
        // w2: 200 / 210 → 205; 430 / 205 = 2.10; rounds 2.20 / 2.00.
        assert!(
            md.contains("| lightly, 2 workers | 205 [200–210] | 2 | **2.10×** | 2.20 / 2.00 |"),
            "{md}"
        );
        assert!(md.contains("timed steps 4–39 (9216 images"), "{md}");
        assert!(md.contains("2 round(s)"), "{md}");
        // On 4 cores no run was overloaded.
        assert!(!report().render(4).contains(" ⚠ |"));
        // selfsup's line comes first, then the workers in the script's order.
        let i = |s: &str| md.find(s).unwrap();
        let (w1, w2) = (i("| lightly, 1 worker |"), i("| lightly, 2 workers |"));
        assert!(i("| selfsup |") < w1 && w1 < w2);
    }

    #[test]
    fn json_has_sides_ratios_and_runs() {
        let r = report();
        let v = r.json(2);
        assert_eq!(v["id"], ID);
        assert_eq!(v["rounds"], 2);
        assert_eq!(v["steps"], 39);
        assert_eq!(v["timed_images"], 9216);
        assert!(v["skipped"].is_null());
        assert_eq!(v["load_exceeds_cores"], true);
        assert_eq!(r.json(4)["load_exceeds_cores"], false);
        assert_eq!(v["versions"]["lightly"], "1.6.0");
        let sides = v["sides"].as_array().unwrap();
        assert_eq!(sides.len(), 3);
        assert_eq!(sides[0]["side"], "selfsup");
        assert_eq!(sides[0]["views_per_s"]["median"], 430.0);
        assert_eq!(sides[0]["views_per_s"]["samples"], 2);
        assert!(sides[0]["ratio"].is_null() && sides[0]["peak_rss_tree_mib"].is_null());
        assert_eq!(sides[2]["side"], "lightly_w2");
        let ratio = sides[2]["ratio"].as_f64().unwrap();
        assert!((ratio - 430.0 / 205.0).abs() < 1e-12, "{ratio}");
        assert_eq!(sides[2]["ratio_per_round"], json!([2.2, 2.0]));
        assert_eq!(sides[2]["peak_pss_tree_mib"]["max"], 1450.0);
        assert_eq!(sides[2]["cpu_s"]["median"], 185.0);
        assert_eq!(sides[2]["runs"][1]["load_before"], 1.8);
        assert_eq!(sides[1]["load_exceeds_cores"], true);
    }

    #[test]
    fn skipped_row_keeps_the_reason_in_one_cell() {
        let r = Report {
            settings: Settings {
                rounds: 3,
                images: DEFAULT_IMAGES,
            },
            outcome: Outcome::Skipped("cannot import\nlightly | x".into()),
        };
        let md = r.render(2);
        assert!(
            md.contains(
                "| `simclr_epoch/jpeg_convnet4_b256` | skipped: cannot import lightly \\| x | — |"
            ),
            "{md}"
        );
        let v = r.json(2);
        assert_eq!(v["skipped"], "cannot import\nlightly | x");
        assert!(v["sides"].as_array().unwrap().is_empty());
        assert_eq!(v["load_exceeds_cores"], false);
        assert!(!r.loaded(1));
    }

    #[test]
    fn selection_follows_quick_and_filter() {
        assert!(selected(None, false).unwrap());
        assert!(!selected(None, true).unwrap());
        assert!(!selected(Some("simclr_epoch"), true).unwrap());
        assert!(selected(Some("^simclr_epoch/"), false).unwrap());
        assert!(selected(Some("jpeg_convnet4_b\\d+$"), false).unwrap());
        assert!(!selected(Some("^ntxent/"), false).unwrap());
        assert!(!selected(Some(crate::bench::QUICK_FILTER), false).unwrap());
        assert!(selected(Some("(unclosed"), false).is_err());
    }

    #[test]
    fn images_must_give_whole_log_windows() {
        assert_eq!(check_images("10000").unwrap(), 10_000);
        assert_eq!(check_images("3072").unwrap(), 3072);
        let s = Settings {
            rounds: 1,
            images: 3072,
        };
        assert_eq!((s.steps(), s.timed_images()), (12, 2304));
        // 1536 images: 6 steps; 1280: 5 steps (not a multiple of 3); 768: 3 steps (no timed window).
        assert!(check_images("1536").is_ok());
        assert!(check_images("1280").is_err());
        assert!(check_images("768").is_err());
        assert!(check_images("many").is_err());
    }
}
