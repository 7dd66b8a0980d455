//! `cargo xtask bench`: runs the criterion benches and, when a Python with torch is present, the PyTorch
//! side of each comparison (`scripts/bench/*.py`) in the same run, then writes `docs/benchmarks.md`.
//!
//! Pairing rule: a criterion bench whose full id (`group/function[/param]`) equals the `id` a Python script
//! prints is compared side by side; the ratio is selfsup's throughput over PyTorch's. Benches set
//! `Throughput::Elements(n)`, so throughput = n / mean time. Python scripts print one JSON object per line:
//! `{"id": ..., "per_sec": ..., "unit": ..., "what": ...}`.
//!
//! Arguments: `--no-python` skips the PyTorch side; `--python <exe>` chooses the interpreter; anything after
//! `--` goes to `cargo bench` (e.g. a criterion filter).

use crate::util;
use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Row {
    ours: Option<f64>,
    theirs: Option<f64>,
    unit: String,
    what: String,
}

/// Runs the benchmarks and writes `docs/benchmarks.md`.
pub fn run(args: &[String]) -> Result<()> {
    let root = util::root();
    let mut no_python = false;
    let mut python: Option<String> = None;
    let mut passthrough: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--no-python" => no_python = true,
            "--python" => python = it.next().cloned(),
            "--" => passthrough.extend(it.by_ref().cloned()),
            other => passthrough.push(other.to_string()),
        }
    }

    let criterion_dir = target_dir(&root).join("criterion");
    let mut cargo_args: Vec<String> = ["bench", "--workspace", "--bench", "*", "--", "--noplot"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    cargo_args.extend(passthrough.iter().cloned());
    util::cargo(&util::strs(&cargo_args))?;

    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for (id, per_sec) in read_criterion(&criterion_dir)? {
        rows.insert(
            id,
            Row {
                ours: Some(per_sec),
                theirs: None,
                unit: "items/s".into(),
                what: String::new(),
            },
        );
    }

    let python = if no_python {
        None
    } else {
        python.or_else(|| find_python(&root))
    };
    let mut python_note =
        "PyTorch side not run (no Python with torch found; `--python <exe>` to choose one)"
            .to_string();
    if let Some(py) = &python {
        python_note = format!("PyTorch side: `{py}`");
        let mut scripts: Vec<PathBuf> = std::fs::read_dir(root.join("scripts/bench"))
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "py"))
                    .collect()
            })
            .unwrap_or_default();
        scripts.sort();
        for script in scripts {
            eprintln!("xtask: bench: running {}", script.display());
            let out = match util::output(Command::new(py).arg(&script).current_dir(&root)) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!(
                        "xtask: bench: {} failed, its rows stay empty: {e:#}",
                        script.display()
                    );
                    continue;
                }
            };
            for line in out.lines().filter(|l| l.trim_start().starts_with('{')) {
                let Ok(v) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                let (Some(id), Some(per_sec)) = (v["id"].as_str(), v["per_sec"].as_f64()) else {
                    continue;
                };
                let row = rows.entry(id.to_string()).or_insert(Row {
                    ours: None,
                    theirs: None,
                    unit: String::new(),
                    what: String::new(),
                });
                row.theirs = Some(per_sec);
                if let Some(u) = v["unit"].as_str() {
                    row.unit = u.to_string();
                }
                if let Some(w) = v["what"].as_str() {
                    row.what = w.to_string();
                }
            }
        }
    }

    let report = render(&rows, &python_note, args);
    let path = root.join("docs/benchmarks.md");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let marker = "<!-- xtask bench: generated section below -->";
    let head = existing
        .split(marker)
        .next()
        .unwrap_or("")
        .trim_end()
        .to_string();
    let head = if head.is_empty() {
        "# Benchmarks\n".to_string()
    } else {
        head
    };
    std::fs::write(&path, format!("{head}\n\n{marker}\n\n{report}"))?;
    eprintln!("xtask: bench: wrote {}", path.display());
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Reads every `new/benchmark.json` + `new/estimates.json` pair under `target/criterion`.
fn read_criterion(dir: &Path) -> Result<Vec<(String, f64)>> {
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

fn read_one(new: &Path) -> Result<Option<(String, f64)>> {
    let bench: Value = match std::fs::read_to_string(new.join("benchmark.json")) {
        Ok(s) => serde_json::from_str(&s).context("criterion benchmark.json")?,
        Err(_) => return Ok(None),
    };
    let est: Value = serde_json::from_str(&std::fs::read_to_string(new.join("estimates.json"))?)?;
    let id = bench["full_id"].as_str().unwrap_or_default().to_string();
    let mean_ns = est["mean"]["point_estimate"].as_f64().unwrap_or(f64::NAN);
    let elements = bench["throughput"]["Elements"]
        .as_f64()
        .or_else(|| bench["throughput"]["Bytes"].as_f64())
        .unwrap_or(1.0);
    Ok(Some((id, elements / (mean_ns * 1e-9))))
}

fn find_python(root: &Path) -> Option<String> {
    let venv = root.join(".venv-fixtures/bin/python");
    let candidates = [venv.to_string_lossy().into_owned(), "python3".into()];
    candidates.into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import torch"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cpu}, {cores} cores available")
}

fn fmt(v: Option<f64>) -> String {
    match v {
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
        None => "—".into(),
    }
}

fn render(rows: &BTreeMap<String, Row>, python_note: &str, args: &[String]) -> String {
    let date =
        util::output(Command::new("date").arg("-u").arg("+%Y-%m-%d %H:%M UTC")).unwrap_or_default();
    let mut s = String::new();
    s.push_str("## Latest `cargo xtask bench` run\n\n");
    s.push_str(&format!(
        "- command: `cargo xtask bench{}`\n",
        if args.is_empty() {
            String::new()
        } else {
            format!(" {}", args.join(" "))
        }
    ));
    s.push_str(&format!(
        "- date: {}\n- machine: {}\n- {python_note}\n",
        date.trim(),
        machine()
    ));
    s.push_str("- throughput = elements per second (criterion mean); ratio = selfsup / PyTorch, measured in the same run\n\n");
    s.push_str("| bench id | selfsup /s | PyTorch /s | ratio | unit | PyTorch side |\n| --- | ---: | ---: | ---: | --- | --- |\n");
    for (id, r) in rows {
        let ratio = match (r.ours, r.theirs) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
            _ => "—".into(),
        };
        s.push_str(&format!(
            "| `{id}` | {} | {} | {ratio} | {} | {} |\n",
            fmt(r.ours),
            fmt(r.theirs),
            r.unit,
            r.what
        ));
    }
    s
}
