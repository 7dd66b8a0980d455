//! The distributed part of `cargo xtask bench`: all-reduce latency and bandwidth of
//! `selfsup-dist`'s c10d shim against `torch.distributed` (Gloo) from Python, in the same run, for
//! 1 KB – 100 MB, written into the "Distributed" section of `docs/benchmarks.md` (between its own
//! markers, so the generated section and the hand-written text around it are kept).
//!
//! Both sides run the same protocol (`crates/selfsup-dist/examples/allreduce_bench.rs` and
//! `scripts/dist/allreduce_gloo.py`: 2 local processes, TCP rendezvous on 127.0.0.1, Gloo on
//! loopback, one intra-op thread, float32 sum; per size a barrier, 3 warm-up all-reduces, then
//! timed ones with a barrier before each, at least 5 and about 1 s, median). The two are run
//! alternately `rounds` times (Rust, Python, Rust, …) so that a change of the machine's load hits
//! both; per size the table shows the median over rounds of each side's median, every round's
//! figure, and the ratio of the two (time, selfsup / PyTorch: below 1 is faster). The Rust side is
//! the release build with the `c10d` feature.

use crate::util;
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Start and end of the generated part of the "Distributed" section of `docs/benchmarks.md`.
pub const DIST_START: &str = "<!-- xtask bench: distributed all-reduce rows below -->";
const DIST_END: &str = "<!-- xtask bench: end of distributed all-reduce rows -->";
/// The hand-written heading the rows go under when the markers are not there yet.
const DIST_HEADING: &str = "## Distributed";

/// One size's result of one run of one side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Tensor size in bytes.
    pub bytes: u64,
    /// Median time of one all-reduce, µs.
    pub median_us: f64,
}

/// Parses the JSON lines both sides print (`{"bytes", "median_us", ...}`); other lines are
/// ignored.
pub fn parse(out: &str) -> Vec<Point> {
    out.lines()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l.trim()).ok()?;
            Some(Point {
                bytes: v.get("bytes")?.as_u64()?,
                median_us: v.get("median_us")?.as_f64()?,
            })
        })
        .collect()
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn size_label(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{} MB", b >> 20),
        b if b >= 1 << 10 => format!("{} KB", b >> 10),
        b => format!("{b} B"),
    }
}

fn list(xs: &[f64]) -> String {
    xs.iter()
        .map(|x| format!("{x:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the run was: for the section's header.
pub struct DistRun<'a> {
    /// The command line.
    pub command: &'a str,
    /// `date -u`.
    pub date: &'a str,
    /// CPU model and cores.
    pub machine: &'a str,
    /// The Python interpreter and its torch version.
    pub python: &'a str,
    /// 1-minute load average before and after.
    pub load: (Option<f64>, Option<f64>),
    /// World size.
    pub world: usize,
}

/// The markdown rows of the section from every round of both sides.
pub fn render(ours: &[Vec<Point>], theirs: &[Vec<Point>], run: &DistRun<'_>) -> String {
    let mut by_size: BTreeMap<u64, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for p in ours.iter().flatten() {
        by_size.entry(p.bytes).or_default().0.push(p.median_us);
    }
    for p in theirs.iter().flatten() {
        by_size.entry(p.bytes).or_default().1.push(p.median_us);
    }
    let load = |l: Option<f64>| l.map_or("?".into(), |l| format!("{l:.2}"));
    let mut s = format!(
        "### All-reduce: c10d shim vs `torch.distributed` (Gloo), written by `cargo xtask bench`\n\n\
         - command: `{}`\n- date: {}\n- machine: {}\n- PyTorch side: {}\n\
         - 1-minute load average: {} at the start, {} at the end\n\
         - {} local processes, float32 sum, Gloo on loopback, 1 intra-op thread; per size and run the \
         median of ≥ 5 timed all-reduces (about 1 s); {} alternating runs per side; the table shows \
         the median over runs and every run; ratio = selfsup time / PyTorch time (target ≤ 1.05); \
         bus bandwidth = 2(N−1)/N · bytes / time\n\n\
         | size | selfsup-dist, µs (runs) | torch.distributed, µs (runs) | ratio | bus bandwidth selfsup / PyTorch |\n\
         | ---: | ---: | ---: | ---: | ---: |\n",
        run.command,
        run.date,
        run.machine,
        run.python,
        load(run.load.0),
        load(run.load.1),
        run.world,
        ours.len().max(theirs.len()),
    );
    let w = run.world as f64;
    for (bytes, (a, b)) in &by_size {
        let bw = |us: f64| 2.0 * (w - 1.0) / w * *bytes as f64 / (us * 1e-6) / 1e9;
        let (ma, mb) = (
            (!a.is_empty()).then(|| median(a)),
            (!b.is_empty()).then(|| median(b)),
        );
        let cell = |m: Option<f64>, xs: &[f64]| {
            m.map_or("—".into(), |m| format!("{m:.0} ({})", list(xs)))
        };
        let ratio = match (ma, mb) {
            (Some(x), Some(y)) => format!("{:.2}", x / y),
            _ => "—".into(),
        };
        let bws = format!(
            "{} / {} GB/s",
            ma.map_or("—".into(), |m| format!("{:.3}", bw(m))),
            mb.map_or("—".into(), |m| format!("{:.3}", bw(m)))
        );
        s.push_str(&format!(
            "| {} | {} | {} | {ratio} | {bws} |\n",
            size_label(*bytes),
            cell(ma, a),
            cell(mb, b)
        ));
    }
    s
}

/// `existing` with the rows between the markers replaced by `rows`; without markers they are
/// inserted at the end of the "Distributed" section (before the next `## ` heading), or appended
/// under a new such heading.
pub fn splice(existing: &str, rows: &str) -> String {
    let block = format!("{DIST_START}\n\n{}\n\n{DIST_END}", rows.trim_end());
    if let Some((head, rest)) = existing.split_once(DIST_START) {
        let tail = rest.split_once(DIST_END).map_or("", |(_, t)| t);
        return format!("{head}{block}{tail}");
    }
    if let Some(i) = existing.find(&format!("\n{DIST_HEADING}\n")) {
        let start = i + 1 + DIST_HEADING.len() + 1;
        let end = existing[start..]
            .find("\n## ")
            .map_or(existing.len(), |j| start + j + 1);
        let (a, b) = existing.split_at(end);
        return format!("{}\n\n{block}\n\n{}", a.trim_end(), b.trim_start())
            .trim_end()
            .to_string()
            + "\n";
    }
    format!("{}\n\n{DIST_HEADING}\n\n{block}\n", existing.trim_end())
}

/// `.libtorch/lib` before any `LD_LIBRARY_PATH` (the example's rpath is relative to the repository
/// root from `target/<profile>/`, one level above `examples/`).
fn library_path(root: &Path) -> String {
    let lib = root.join(".libtorch/lib").display().to_string();
    match std::env::var("LD_LIBRARY_PATH") {
        Ok(p) if !p.is_empty() => format!("{lib}:{p}"),
        _ => lib,
    }
}

/// Builds the release example, runs both sides `rounds` times alternately and returns their
/// points (selfsup, PyTorch). Without a Python the PyTorch side stays empty.
pub fn measure(
    root: &Path,
    python: Option<&str>,
    world: usize,
    rounds: usize,
) -> Result<(Vec<Vec<Point>>, Vec<Vec<Point>>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = [
        "build",
        "--release",
        "-p",
        "selfsup-dist",
        "--features",
        "c10d",
        "--example",
        "allreduce_bench",
    ];
    util::run(Command::new(&cargo).args(build).current_dir(root))?;
    let exe = crate::bench::target_dir(root).join("release/examples/allreduce_bench");
    if !exe.exists() {
        bail!("{} was not built", exe.display());
    }
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        eprintln!(
            "xtask: bench: all-reduce round {}/{rounds} (selfsup-dist)",
            r + 1
        );
        let out = util::output(
            Command::new(&exe)
                .arg(world.to_string())
                .env("LD_LIBRARY_PATH", library_path(root))
                .current_dir(root),
        )
        .context("the selfsup-dist all-reduce bench")?;
        ours.push(parse(&out));
        if let Some(py) = python {
            eprintln!(
                "xtask: bench: all-reduce round {}/{rounds} (torch.distributed)",
                r + 1
            );
            match util::output(
                Command::new(py)
                    .arg("scripts/dist/allreduce_gloo.py")
                    .arg(world.to_string())
                    .current_dir(root),
            ) {
                Ok(out) => theirs.push(parse(&out)),
                Err(e) => eprintln!("xtask: bench: the torch.distributed side failed: {e:#}"),
            }
        }
    }
    Ok((ours, theirs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_sides_lines() {
        let out = "noise\n{\"impl\":\"selfsup-dist\",\"world\":2,\"bytes\":1024,\"iters\":9,\"median_us\":158.5}\n\
                   {\"impl\": \"torch.distributed\", \"bytes\": 10240, \"median_us\": 283.0}\n";
        assert_eq!(
            parse(out),
            vec![
                Point {
                    bytes: 1024,
                    median_us: 158.5
                },
                Point {
                    bytes: 10240,
                    median_us: 283.0
                }
            ]
        );
    }

    #[test]
    fn rows_show_medians_runs_and_ratio() {
        let p = |b, t| Point {
            bytes: b,
            median_us: t,
        };
        let ours = vec![
            vec![p(1024, 100.0)],
            vec![p(1024, 300.0)],
            vec![p(1024, 200.0)],
        ];
        let theirs = vec![vec![p(1024, 400.0)], vec![p(1024, 400.0)]];
        let run = DistRun {
            command: "cargo xtask bench --dist-only",
            date: "d",
            machine: "m",
            python: "py",
            load: (Some(1.0), None),
            world: 2,
        };
        let s = render(&ours, &theirs, &run);
        // median 200 µs vs 400 µs: ratio 0.50; 1 KB in 200 µs = 0.005 GB/s at N = 2.
        assert!(
            s.contains(
                "| 1 KB | 200 (100, 300, 200) | 400 (400, 400) | 0.50 | 0.005 / 0.003 GB/s |"
            ),
            "{s}"
        );
        assert!(
            s.contains("load average: 1.00 at the start, ? at the end"),
            "{s}"
        );
    }

    #[test]
    fn splice_inserts_into_the_section_then_replaces_between_markers() {
        let doc = "# B\n\n## Distributed\n\nhand text\n\n## Next\n\nmore\n";
        let once = splice(doc, "ROWS 1");
        assert!(
            once.contains(
                "hand text\n\n<!-- xtask bench: distributed all-reduce rows below -->\n\nROWS 1\n"
            ),
            "{once}"
        );
        assert!(
            once.contains(
                "<!-- xtask bench: end of distributed all-reduce rows -->\n\n## Next\n\nmore\n"
            ),
            "{once}"
        );
        let twice = splice(&once, "ROWS 2");
        assert!(
            !twice.contains("ROWS 1") && twice.contains("ROWS 2"),
            "{twice}"
        );
        assert_eq!(twice.matches(DIST_START).count(), 1);
        assert!(twice.contains("## Next\n\nmore\n"));
        let fresh = splice("# B\n", "R");
        assert!(
            fresh.contains("## Distributed\n\n<!-- xtask bench"),
            "{fresh}"
        );
    }
}
