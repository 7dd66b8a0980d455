//! Memory stays bounded (issue 18), measured on the `selfsup` binary through `/proc/<pid>/status`:
//! the evaluations stream their splits batch by batch (the peak resident memory does not grow with
//! the evaluation inputs' size), and a long run's resident memory stays flat from epoch to epoch.
//! Linux only (`/proc`); elsewhere the tests say they were skipped.

#![allow(clippy::print_stderr)] // the tests report what they measured

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data"))
}

/// A `kB` field (`VmRSS`, `VmHWM`) of `/proc/<pid>/status`, `None` once the process is gone.
fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Epochs finished so far (the `epoch` rows of metrics.jsonl).
fn epochs_done(out: &Path) -> usize {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .map(|t| {
            t.lines()
                .filter(|l| l.contains("\"kind\":\"epoch\""))
                .count()
        })
        .unwrap_or(0)
}

/// What a run measured: `(epochs done, VmRSS kB)` samples every 20 ms, and the last peak (`VmHWM`).
struct Trace {
    rss: Vec<(usize, u64)>,
    peak_kb: u64,
}

/// Runs `selfsup <args>` in `dir` and samples its memory until it exits (`out`: its run folder, for
/// the epoch count).
///
/// Large freed buffers are handed back to the system at once (`MALLOC_MMAP_THRESHOLD_`, and the runs'
/// `train.keep_freed_memory = false`, which would otherwise keep them): glibc's dynamic threshold
/// otherwise keeps freed batch buffers in its heaps, tens of MB whose amount depends on thread timing,
/// which would hide what the program itself holds.
fn traced(args: &[&str], dir: &Path, out: &Path) -> Trace {
    let mut child = Command::new(env!("CARGO_BIN_EXE_selfsup"))
        .args(args)
        .current_dir(dir)
        .env("SELFSUP_DATA", data_dir())
        .env("RUST_LOG", "warn")
        .env("OMP_NUM_THREADS", "1")
        .env("MALLOC_MMAP_THRESHOLD_", "1000000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (mut rss, mut peak_kb) = (Vec::new(), 0);
    let t = Instant::now();
    // Reading stdout/stderr at the end is fine: the runs print a few lines.
    while child.try_wait().unwrap().is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(900),
            "{args:?}: timed out"
        );
        if let (Some(r), Some(h)) = (status_kb(pid, "VmRSS:"), status_kb(pid, "VmHWM:")) {
            rss.push((epochs_done(out), r));
            peak_kb = peak_kb.max(h);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    Trace { rss, peak_kb }
}

/// `selfsup pretrain --config <toml> --out <dir>/<name>`, traced.
fn traced_run(toml: &str, dir: &Path, name: &str) -> Trace {
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(&cfg, toml).unwrap();
    let out = dir.join(name);
    let args = [
        "pretrain",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    traced(&args, dir, &out)
}

/// MNIST upscaled to 96 px (`9216` floats an image) through an MLP, 400 samples, one epoch.
const UPSCALED_MNIST: &str = r#"
[data]
max_samples = 400
batch_size = 64
val_fraction = 0.25
num_threads = 2
[augment]
recipe = "mnist"
image_size = 96
[backbone]
kind = "mlp"
input_dim = 9216
hidden = [32]
output_dim = 16
[method]
kind = "simclr"
hidden_dim = 16
output_dim = 8
[train]
keep_freed_memory = false
epochs = 1
progress = "off"
[eval]
before = false
online_probe = false
[eval.knn]
k = 5
[eval.probe]
epochs = 3
"#;

#[test]
fn evaluation_streams_its_inputs_peak_memory_does_not_grow_with_the_split() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc to read the resident memory from");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    traced_run(UPSCALED_MNIST, dir.path(), "run");
    // `selfsup eval linear` (kNN features and the probe) of the run on 1,200 and on 4,000 samples
    // (its config.toml edited; both split into full batches of 256, so the batches in flight are
    // alike). Stacked as arrays, the evaluation inputs take 4,000 × 9,216 × 4 B = 147 MB in the
    // larger and 44 MB in the smaller: 103 MB more (the code before streaming peaked about 200 MB
    // higher with 4,000 samples than with 400). Streamed, only the features (N × 16 floats) grow.
    let mut peaks = Vec::new();
    for n in [1200, 4000] {
        let run = dir.path().join(format!("run{n}"));
        std::fs::create_dir_all(run.join("checkpoints")).unwrap();
        for f in ["config.toml", "encoder.safetensors"] {
            std::fs::copy(dir.path().join("run").join(f), run.join(f)).unwrap();
        }
        for e in std::fs::read_dir(dir.path().join("run/checkpoints")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), run.join("checkpoints").join(e.file_name())).unwrap();
        }
        let toml = std::fs::read_to_string(run.join("config.toml")).unwrap();
        assert!(toml.contains("max_samples = 400\n"), "{toml}");
        let toml = toml.replace("max_samples = 400\n", &format!("max_samples = {n}\n"));
        std::fs::write(run.join("config.toml"), toml).unwrap();
        let args = ["eval", "linear", "--run", run.to_str().unwrap()];
        peaks.push(traced(&args, dir.path(), &run).peak_kb);
    }
    let stacked_extra_mb = (4000 - 1200) as f64 * 9216.0 * 4.0 / 1e6;
    let grew_mb = (peaks[1] as f64 - peaks[0] as f64) / 1e3;
    eprintln!(
        "peak resident memory of `selfsup eval linear`: {:.1} MB (1,200 samples), {:.1} MB (4,000 samples): {grew_mb:+.1} MB; stacked inputs would add {stacked_extra_mb:.0} MB",
        peaks[0] as f64 / 1e3,
        peaks[1] as f64 / 1e3
    );
    assert!(
        grew_mb < stacked_extra_mb / 3.0,
        "the peak grew by {grew_mb:.1} MB with the split (stacked inputs: {stacked_extra_mb:.0} MB): the evaluation holds its inputs"
    );
}

#[test]
fn a_long_run_keeps_its_resident_memory_flat() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc to read the resident memory from");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 30 epochs of 8 steps, each with a kNN evaluation, metrics, plots and a checkpoint.
    let toml = r#"
[data]
max_samples = 320
batch_size = 32
val_fraction = 0.2
num_threads = 2
[backbone]
kind = "mlp"
input_dim = 784
hidden = [32]
output_dim = 16
[method]
kind = "simclr"
hidden_dim = 16
output_dim = 8
[train]
keep_freed_memory = false
epochs = 30
progress = "off"
log_every = 1
[train.checkpoint]
every_epochs = 1
keep_last = 2
[eval]
before = false
every_epochs = 1
[eval.knn]
k = 5
[eval.probe]
epochs = 3
"#;
    let tr = traced_run(toml, dir.path(), "long");
    let max_in = |lo: usize, hi: usize| {
        tr.rss
            .iter()
            .filter(|(e, _)| (lo..hi).contains(e))
            .map(|(_, r)| *r)
            .max()
            .unwrap_or_else(|| panic!("no memory sample in epochs {lo}..{hi}"))
    };
    // Warm (allocator pools, libtorch's caches, the plots drawn once) after 5 epochs.
    let warm = max_in(5, 12);
    let late = max_in(22, 30);
    let grew_mb = (late as f64 - warm as f64) / 1e3;
    eprintln!(
        "resident memory: {:.1} MB (epochs 5-11), {:.1} MB (epochs 22-29): {grew_mb:+.1} MB; {} samples",
        warm as f64 / 1e3,
        late as f64 / 1e3,
        tr.rss.len()
    );
    // Tolerance: 8 MB (allocator noise); a leak of one evaluation's features per epoch, or of the
    // inputs, would add far more over 18 epochs.
    assert!(
        grew_mb < 8.0,
        "resident memory grew by {grew_mb:.1} MB from epochs 5-11 to epochs 22-29"
    );
}
