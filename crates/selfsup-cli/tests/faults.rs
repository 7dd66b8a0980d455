//! Faults, signals and bad files (issue 18), end to end through the `selfsup` binary: wrong
//! backbone × data combinations are refused before training naming the field; nothing reaches a
//! libtorch panic.

#![allow(clippy::print_stderr)] // the suite reports what it injected and what it had to skip

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data"))
}

fn command(args: &[&str], cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_selfsup"));
    c.args(args)
        .current_dir(cwd)
        .env("SELFSUP_DATA", data_dir())
        .env("RUST_LOG", "warn");
    c
}

fn selfsup(args: &[&str], cwd: &Path) -> Output {
    command(args, cwd).output().expect("run selfsup")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// No Rust panic, no libtorch exception text, no signal death: a clean error exit.
fn assert_clean_failure(o: &Output, what: &str) {
    let (out, err) = text(o);
    assert!(!o.status.success(), "{what} was accepted: {out}{err}");
    assert_eq!(
        o.status.code(),
        Some(1),
        "{what}: exit {:?}: {err}",
        o.status
    );
    for bad in ["panicked", "Exception raised from", "RUST_BACKTRACE"] {
        assert!(!err.contains(bad), "{what}: `{bad}` in stderr: {err}");
    }
}

/// A tiny AudioFolder: two classes of a few vendored spoken digits each.
fn audio_folder(root: &Path) -> PathBuf {
    let dir = root.join("audio");
    for (class, digit) in [("zero", 0), ("one", 1)] {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        for i in 0..6 {
            let name = format!("{digit}_george_{i}.wav");
            std::fs::copy(
                data_dir().join("fsdd/recordings").join(&name),
                dir.join(class).join(&name),
            )
            .unwrap();
        }
    }
    dir
}

#[test]
fn backbone_and_data_mismatches_are_refused_before_training_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let audio = audio_folder(dir.path());
    let audio = audio.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--backbone", "vit"], "backbone.image_size"),
        (vec!["--backbone", "conv1d"], "backbone.kind"),
        (
            vec!["--dataset", "fsdd", "--backbone", "conv_net"],
            "backbone.kind",
        ),
        (
            vec!["--dataset", "fsdd", "--backbone", "resnet18"],
            "backbone.kind",
        ),
        (
            vec!["--dataset", "fsdd", "--backbone", "mlp"],
            "backbone.input_dim",
        ),
        (
            vec!["--dataset", "fsdd", "--backbone", "vit"],
            "backbone.kind",
        ),
        (
            vec![
                "--dataset",
                "audio-folder",
                "--data",
                audio,
                "--recipe",
                "contrastive",
                "--backbone",
                "conv_net",
            ],
            "backbone.kind",
        ),
    ];
    for (i, (flags, field)) in cases.iter().enumerate() {
        let out = format!("run{i}");
        let mut args = vec![
            "pretrain",
            "--max-samples",
            "48",
            "--batch-size",
            "16",
            "--epochs",
            "1",
            "--out",
            &out,
        ];
        args.extend(flags.iter().copied());
        let o = selfsup(&args, dir.path());
        let what = flags.join(" ");
        assert_clean_failure(&o, &what);
        let (stdout, err) = text(&o);
        assert!(
            err.contains(field),
            "{what}: the error does not name `{field}`: {err}"
        );
        assert!(
            !stdout.contains("before pretraining"),
            "{what}: evaluated before refusing: {stdout}"
        );
    }
    // The issue's audio-folder case without a backbone: the data-driven default (issue 17) now
    // chooses the audio CNN, so it trains instead of reaching a libtorch error.
    let args = [
        "pretrain",
        "--max-samples",
        "48",
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--out",
        "audio_default",
        "--dataset",
        "audio-folder",
        "--data",
        audio,
        "--recipe",
        "contrastive",
    ];
    let o = selfsup(&args, dir.path());
    let (stdout, err) = text(&o);
    assert!(o.status.success(), "audio-folder default: {stdout}{err}");
    assert!(
        stdout.contains("audio_cnn"),
        "audio-folder default: {stdout}"
    );
}

// ---------------------------------------------------------------------------------------------
// Fault injection: kills, signals, concurrent runs. Every run below is the same tiny SimCLR run on
// the vendored MNIST subset (one checkpoint per step), so that an interrupted-and-resumed run can
// be compared bit for bit with the uninterrupted one: the `train`/`epoch` rows of metrics.jsonl
// (without the wall-clock rate) and the bytes of encoder.safetensors.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const RUN_TOML: &str = r#"
[data]
max_samples = 192
batch_size = 16
val_fraction = 0.25
num_threads = 2
[backbone]
kind = "conv_net"
widths = [8, 16]
[method]
kind = "simclr"
hidden_dim = 32
output_dim = 16
[train]
epochs = 2
progress = "off"
log_every = 1
[train.checkpoint]
every_steps = 1
keep_last = 3
[eval]
before = false
[eval.knn]
k = 5
[eval.probe]
epochs = 5
"#;

/// Writes the run config (into `dir`) and returns its path.
fn run_config(dir: &Path) -> PathBuf {
    let p = dir.join("run.toml");
    std::fs::write(&p, RUN_TOML).unwrap();
    p
}

fn pretrain_cmd(cfg: &Path, out: &Path, resume: bool, cwd: &Path) -> Command {
    let mut args = vec![
        "pretrain".to_string(),
        "--config".into(),
        cfg.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    if resume {
        args.push("--resume".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = command(&args, cwd);
    // The same libtorch thread count in every run: results are bit-identical only for the same one.
    c.env("OMP_NUM_THREADS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs to the end (resuming when the folder has a checkpoint) and returns the output.
fn finish(cfg: &Path, out: &Path, cwd: &Path) -> Output {
    let resume = selfsup_has_checkpoint(out);
    let o = pretrain_cmd(cfg, out, resume, cwd).output().unwrap();
    let (so, se) = text(&o);
    assert!(o.status.success(), "finishing {}: {so}{se}", out.display());
    o
}

fn selfsup_has_checkpoint(out: &Path) -> bool {
    std::fs::read_dir(out.join("checkpoints")).is_ok_and(|rd| {
        rd.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("ckpt-step"))
    })
}

/// Temporary files of atomic writes anywhere in the run folder.
fn temp_files(out: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for d in [out.to_path_buf(), out.join("checkpoints")] {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().contains(".tmp-") {
                    v.push(e.path());
                }
            }
        }
    }
    v
}

/// The `train` and `epoch` rows of metrics.jsonl without the wall-clock `samples_per_sec`.
fn metric_rows(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("samples_per_sec");
            v
        })
        .collect()
}

/// The completed checkpoint files (`ckpt-step-*`) of a run folder.
fn checkpoint_names(out: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(out.join("checkpoints"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("ckpt-step"))
                .collect()
        })
        .unwrap_or_default()
}

/// True once `child` has completed a checkpoint that was not in `before`: it is training, with its
/// signal handler installed (an observable event, not a guess at how long the start takes).
fn new_checkpoint(out: &Path, before: &std::collections::BTreeSet<String>) -> bool {
    checkpoint_names(out).difference(before).next().is_some()
}

/// True while `child` is writing a temporary file of a checkpoint (its own: the name carries its
/// pid; a leftover of an earlier, killed run does not count).
fn writing_checkpoint(out: &Path, pid: u32) -> bool {
    let own = format!(".tmp-{pid}");
    std::fs::read_dir(out.join("checkpoints")).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.contains("safetensors.tmp-") && n.ends_with(&own)
        })
    })
}

/// A child whose stdout and stderr are read line by line on two threads, so that a test can wait
/// for a line (an event the program reports) and still get the whole output at the end.
struct Watched {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    readers: Vec<std::thread::JoinHandle<String>>,
}

impl Watched {
    fn spawn(mut cmd: Command) -> Watched {
        let mut child = cmd.spawn().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let mut readers = Vec::new();
        let pipes: Vec<Box<dyn std::io::Read + Send>> = vec![
            Box::new(child.stdout.take().expect("piped stdout")),
            Box::new(child.stderr.take().expect("piped stderr")),
        ];
        for pipe in pipes {
            let tx = tx.clone();
            readers.push(std::thread::spawn(move || {
                use std::io::BufRead;
                let mut all = String::new();
                for line in std::io::BufReader::new(pipe).lines().map_while(|l| l.ok()) {
                    let _ = tx.send(line.clone());
                    all.push_str(&line);
                    all.push('\n');
                }
                all
            }));
        }
        Watched {
            child,
            lines,
            readers,
        }
    }

    /// Waits for an output line containing `pat`; false when the output ended (the process exited)
    /// first.
    fn wait_line(&self, pat: &str) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(300) {
            match self.lines.recv_timeout(Duration::from_millis(50)) {
                Ok(l) if l.contains(pat) => return true,
                Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return false,
            }
        }
        panic!("timed out waiting for a line with `{pat}`");
    }

    /// Waits for the exit (at most `limit`, else kills it and fails) and returns the output.
    fn finish(mut self, limit: Duration, what: &str) -> Output {
        let t = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            if t.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{what}: still running after {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = self.child.wait().unwrap();
        let mut texts = self.readers.into_iter().map(|r| r.join().unwrap());
        Output {
            status,
            stdout: texts.next().unwrap_or_default().into_bytes(),
            stderr: texts.next().unwrap_or_default().into_bytes(),
        }
    }
}

/// Waits (polling) until `cond` holds or the child ends; false when the child ended first.
fn wait_for(child: &mut Child, mut cond: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(300) {
        if cond() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for the run");
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} failed");
}

fn assert_no_crash(o: &Output, what: &str) {
    let (so, se) = text(o);
    assert!(
        o.status.signal().is_none(),
        "{what}: died by signal {:?}: {so}{se}",
        o.status.signal()
    );
    for bad in [
        "panicked",
        "Exception raised from",
        "SIGSEGV",
        "core dumped",
    ] {
        assert!(!se.contains(bad), "{what}: `{bad}`: {so}{se}");
    }
}

/// The uninterrupted reference: metric rows and encoder bytes.
fn reference(root: &Path, cfg: &Path) -> (Vec<serde_json::Value>, Vec<u8>) {
    let out = root.join("reference");
    finish(cfg, &out, root);
    (
        metric_rows(&out),
        std::fs::read(out.join("encoder.safetensors")).unwrap(),
    )
}

fn assert_same_as_reference(out: &Path, reference: &(Vec<serde_json::Value>, Vec<u8>), what: &str) {
    assert!(
        temp_files(out).is_empty(),
        "{what}: leaked {:?}",
        temp_files(out)
    );
    assert_eq!(
        metric_rows(out),
        reference.0,
        "{what}: metrics differ from the uninterrupted run"
    );
    assert!(
        std::fs::read(out.join("encoder.safetensors")).unwrap() == reference.1,
        "{what}: the encoder differs from the uninterrupted run"
    );
}

/// A tiny deterministic generator for the kill moments (so a failure replays).
fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

#[test]
fn kills_signals_and_concurrent_runs_never_corrupt_a_run_and_resume_bit_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let cfg = run_config(root);
    let refr = reference(root, &cfg);
    let total_steps = refr.0.iter().filter(|r| r["kind"] == "train").count();
    assert!(total_steps >= 10, "{total_steps} steps");

    // 1. kill -9 during checkpoint writes (every write pauses half-way), the first write included:
    //    the folder must never be stuck, and the leftover temporary file is removed on the next start.
    let out = root.join("killed_in_write");
    let mut kills = 0;
    for round in 0..3 {
        let resume = selfsup_has_checkpoint(&out);
        let mut child = pretrain_cmd(&cfg, &out, resume, root)
            .env("SELFSUP_FAULT_WRITE_DELAY_MS", "400")
            .spawn()
            .unwrap();
        // Its own temporary file: a leftover of the previous kill (removed by this run's start)
        // must not trigger the kill before this run writes anything.
        let pid = child.id();
        let mid_write = wait_for(&mut child, || writing_checkpoint(&out, pid));
        assert!(
            mid_write,
            "round {round}: the run ended before a checkpoint write"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        assert!(
            !temp_files(&out).is_empty(),
            "the kill left no temporary file to clean"
        );
    }
    finish(&cfg, &out, root);
    assert_same_as_reference(&out, &refr, "kill -9 during checkpoint writes");

    // 2. kill -9 at random moments: while loading, training, checkpointing or evaluating.
    let out = root.join("killed_randomly");
    let mut state = 18;
    for _ in 0..4 {
        let resume = selfsup_has_checkpoint(&out);
        // Slowed writes (250 ms each, one checkpoint per step) keep a run longer than the longest
        // wait on an idle machine too, so the kills land.
        let mut child = pretrain_cmd(&cfg, &out, resume, root)
            .env("SELFSUP_FAULT_WRITE_DELAY_MS", "250")
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300 + lcg(&mut state) % 2700));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    finish(&cfg, &out, root);
    assert_same_as_reference(&out, &refr, "kill -9 at random moments");

    // 3. Two SIGINTs in a row: exit status 130, no crash; then SIGTERM: a checkpoint and a clean stop.
    //    Every signal waits for an event the run shows: a new checkpoint (it trains, its handler is
    //    installed) and, for the second SIGINT, the handler's own line (the first one arrived).
    let out = root.join("signals");
    let (mut sigints, mut sigterms) = (0, 0);
    for round in 0..3 {
        let resume = selfsup_has_checkpoint(&out);
        // Slow checkpoint writes (one a step): after the first SIGINT the run still writes for at
        // least a second, so the second lands while it checkpoints (the case that crashed), never
        // after it ended.
        let before = checkpoint_names(&out);
        let mut w = Watched::spawn({
            let mut c = pretrain_cmd(&cfg, &out, resume, root);
            c.env("SELFSUP_FAULT_WRITE_DELAY_MS", "1000");
            c
        });
        assert!(
            wait_for(&mut w.child, || new_checkpoint(&out, &before)),
            "round {round}: the run ended before its first checkpoint"
        );
        // Vary the moment: at once, or a little into the next step or write.
        std::thread::sleep(Duration::from_millis(150 * round));
        signal(&w.child, "-INT");
        assert!(
            w.wait_line("interrupted (Ctrl-C or SIGTERM)"),
            "round {round}: the run ended without reporting the first SIGINT"
        );
        signal(&w.child, "-INT");
        sigints += 2;
        let o = w.finish(Duration::from_secs(120), "double SIGINT");
        assert_no_crash(&o, "double SIGINT");
        assert_eq!(o.status.code(), Some(130), "double SIGINT: {:?}", text(&o));
    }
    // SIGTERM once the run trains (slowed writes: it cannot finish before the signal lands).
    let before = checkpoint_names(&out);
    let mut child = pretrain_cmd(&cfg, &out, selfsup_has_checkpoint(&out), root)
        .env("SELFSUP_FAULT_WRITE_DELAY_MS", "300")
        .spawn()
        .unwrap();
    assert!(
        wait_for(&mut child, || new_checkpoint(&out, &before)),
        "the SIGTERM run ended before its first checkpoint"
    );
    signal(&child, "-TERM");
    sigterms += 1;
    let o = child.wait_with_output().unwrap();
    assert_no_crash(&o, "SIGTERM");
    let (so, se) = text(&o);
    assert!(o.status.success(), "SIGTERM: {so}{se}");
    assert!(
        so.contains("interrupted at step"),
        "SIGTERM did not checkpoint: {so}{se}"
    );
    finish(&cfg, &out, root);
    assert_same_as_reference(&out, &refr, "SIGINT, SIGINT and SIGTERM");

    // 4. Two runs into one folder: the second is refused while the first runs (slowed writes keep
    //    it running while the second starts), and the first finishes exactly as the reference.
    let out = root.join("concurrent");
    let mut first = pretrain_cmd(&cfg, &out, false, root)
        .env("SELFSUP_FAULT_WRITE_DELAY_MS", "500")
        .spawn()
        .unwrap();
    let none = std::collections::BTreeSet::new();
    assert!(wait_for(&mut first, || new_checkpoint(&out, &none)));
    let second = pretrain_cmd(&cfg, &out, true, root).output().unwrap();
    assert_clean_failure(&second, "a second run into a busy folder");
    let (_, se) = text(&second);
    assert!(se.contains("in use by another selfsup process"), "{se}");
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run ended before the second tried: the test proves nothing"
    );
    let o = first.wait_with_output().unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    assert_same_as_reference(&out, &refr, "the run that held the folder");
    assert!(
        kills >= 4 && sigints >= 2 && sigterms == 1,
        "{kills} kills, {sigints} SIGINTs"
    );
    eprintln!(
        "fault injection: {kills} kill -9s, {sigints} SIGINTs, {sigterms} SIGTERM, 1 concurrent run"
    );
}

#[test]
fn a_run_folder_inside_the_dataset_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    for c in ["a", "b"] {
        std::fs::create_dir_all(images.join(c)).unwrap();
        image::RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]))
            .save(images.join(c).join("x.png"))
            .unwrap();
    }
    let o = selfsup(
        &[
            "pretrain",
            "--dataset",
            "image-folder",
            "--data",
            images.to_str().unwrap(),
            "--out",
            images.join("run").to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_clean_failure(&o, "--out inside --data");
    let (_, se) = text(&o);
    assert!(
        se.contains("out_dir") && se.contains("inside the dataset folder"),
        "{se}"
    );
    assert!(
        !images.join("run").exists(),
        "the run folder was created inside the data"
    );
}

/// An image folder as real ones are: RGB, greyscale, 16-bit, RGBA, 1×1, very thin and odd-sized
/// images, plus a JPEG cut in half and an empty file.
fn bad_file_corpus(root: &Path) -> PathBuf {
    let dir = root.join("corpus");
    for (c, k) in [("cat", 40u8), ("dog", 200u8)] {
        let d = dir.join(c);
        std::fs::create_dir_all(&d).unwrap();
        let px = |x: u32, y: u32| k.wrapping_add((x * 7 + y * 13) as u8);
        image::RgbImage::from_fn(20, 30, |x, y| image::Rgb([px(x, y), k, 255 - k]))
            .save(d.join("rgb_odd.png"))
            .unwrap();
        image::GrayImage::from_fn(16, 16, |x, y| image::Luma([px(x, y)]))
            .save(d.join("grey.png"))
            .unwrap();
        image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(12, 9, |x, y| {
            image::Luma([u16::from(px(x, y)) * 257])
        })
        .save(d.join("grey16.png"))
        .unwrap();
        image::RgbaImage::from_fn(17, 11, |x, y| image::Rgba([px(x, y), k, 9, 128]))
            .save(d.join("rgba.png"))
            .unwrap();
        image::RgbImage::from_pixel(1, 1, image::Rgb([k, k, k]))
            .save(d.join("one_pixel.png"))
            .unwrap();
        image::RgbImage::from_fn(1, 40, |x, y| image::Rgb([px(x, y), k, k]))
            .save(d.join("thin.png"))
            .unwrap();
        for i in 0..4u32 {
            image::RgbImage::from_fn(24 + i, 24, |x, y| image::Rgb([px(x + i, y), k, 0]))
                .save(d.join(format!("plain{i}.png")))
                .unwrap();
        }
    }
    let big = image::RgbImage::from_fn(64, 64, |x, y| {
        image::Rgb([
            (x * 37 % 251) as u8,
            (y * 91 % 251) as u8,
            ((x ^ y) * 5) as u8,
        ])
    });
    let mut jpeg = Vec::new();
    big.write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    std::fs::write(dir.join("cat/truncated.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    std::fs::write(dir.join("dog/empty.png"), b"").unwrap();
    dir
}

#[test]
fn a_folder_of_odd_and_bad_image_files_trains_with_skip_and_fails_naming_the_file_without() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = bad_file_corpus(dir.path());
    let base = [
        "pretrain",
        "--dataset",
        "image-folder",
        "--data",
        corpus.to_str().unwrap(),
        "--recipe",
        "simclr",
        "--backbone",
        "conv_net",
        "--batch-size",
        "4",
        "--epochs",
        "1",
    ];
    let run = |extra: &[&str], out: &str| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(&["--out", out]);
        a.extend_from_slice(extra);
        let mut c = command(&a, dir.path());
        c.output().unwrap()
    };
    // Default policy: the first bad file stops the run with its name, cleanly.
    let o = run(&[], "strict");
    assert_clean_failure(&o, "a bad file with data.bad_files = fail");
    let (_, se) = text(&o);
    assert!(
        se.contains("truncated.jpg") || se.contains("empty.png"),
        "the error does not name the bad file: {se}"
    );
    assert!(
        temp_files(&dir.path().join("strict")).is_empty(),
        "temporary files left after the error"
    );
    // skip: every odd-sized, grey, 16-bit, RGBA, 1×1 and thin image trains and evaluates; the two
    // bad files are listed at the end.
    let o = run(&["--bad-files", "skip"], "lenient");
    let (so, se) = text(&o);
    assert!(o.status.success(), "{so}{se}");
    assert!(so.contains("after pretraining"), "{so}");
    assert!(
        so.contains("truncated.jpg") && so.contains("empty.png") && so.contains("skipped"),
        "the skipped files are not reported: {so}"
    );
    let (_, bad_flag) = text(&run(&["--bad-files", "ignore"], "x"));
    assert!(bad_flag.contains("data.bad_files"), "{bad_flag}");
}

#[test]
fn an_image_size_of_zero_is_reported_under_its_own_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("run.toml");
    std::fs::write(&p, "[augment]\nrecipe = \"simclr\"\nimage_size = 0\n").unwrap();
    let o = selfsup(&["pretrain", "--config", p.to_str().unwrap()], dir.path());
    assert_clean_failure(&o, "image_size = 0");
    let (_, se) = text(&o);
    assert!(se.contains("augment.image_size"), "{se}");
    assert!(!se.contains("sim_clr.input_size"), "{se}");
}

/// Unmounts the test's tmpfs however the test ends.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_cleanly_naming_the_file_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small_disk");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=96k", "tmpfs"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN)");
        return;
    }
    let _unmount = Unmount(mnt.clone());
    let cfg = run_config(dir.path());
    let out = mnt.join("run");
    let o = pretrain_cmd(&cfg, &out, false, dir.path())
        .output()
        .unwrap();
    assert_clean_failure(&o, "a run on a full disk");
    let (_, se) = text(&o);
    assert!(
        se.contains("No space left") || se.contains("os error 28"),
        "not reported as a full disk: {se}"
    );
    assert!(
        se.contains(&out.display().to_string()),
        "the error names no file of the run: {se}"
    );
    assert!(temp_files(&out).is_empty(), "leaked {:?}", temp_files(&out));
}

// ---------------------------------------------------------------------------------------------
// The leftovers of issue 18: the best checkpoint of the last epoch, a resumed finished run's
// online-probe summary, Ctrl-C during the final evaluation, bad held-out files.

/// The step recorded in a checkpoint's run state (read from the safetensors header, independently
/// of the library's reader).
fn checkpoint_step(path: &Path) -> u64 {
    let b = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
    let state = header["__metadata__"]["selfsup.run_state"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no run state in {header}", path.display()));
    let state: serde_json::Value = serde_json::from_str(state).unwrap();
    state["step"].as_u64().unwrap()
}

/// What a checkpoint holds apart from where its run folder is: the tensor table and bytes, and the
/// run state without the caller's run config (which names the run folder).
fn checkpoint_content(path: &Path) -> (serde_json::Value, serde_json::Value, Vec<u8>) {
    let b = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
    let meta = header
        .as_object_mut()
        .unwrap()
        .remove("__metadata__")
        .unwrap();
    let mut state: serde_json::Value =
        serde_json::from_str(meta["selfsup.run_state"].as_str().unwrap()).unwrap();
    let trainer = state["extra"]["_trainer"].clone();
    state
        .as_object_mut()
        .unwrap()
        .insert("extra".into(), trainer);
    (header, state, b[8 + n..].to_vec())
}

/// `eval.json`'s online-probe summary of the last epoch.
fn online_summary(out: &Path) -> serde_json::Value {
    let t = std::fs::read_to_string(out.join("eval.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&t).unwrap()["online_probe_last_epoch"].clone()
}

#[test]
fn a_kill_during_the_last_best_write_is_redone_and_a_finished_resume_keeps_the_online_probe() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // No epoch evaluation: the best checkpoint follows the epoch loss, which falls, so the best is
    // rewritten at the end of the last epoch.
    let cfg = root.join("run.toml");
    std::fs::write(
        &cfg,
        RUN_TOML.replace("before = false", "before = false\nevery_epochs = 0"),
    )
    .unwrap();
    let refr = reference(root, &cfg);
    let reference_dir = root.join("reference");
    let total = refr.0.iter().filter(|r| r["kind"] == "train").count() as u64;
    let best = |out: &Path| out.join("checkpoints/best.safetensors");
    assert_eq!(
        checkpoint_step(&best(&reference_dir)),
        total,
        "the reference's best is not from the last epoch: this test would prove nothing"
    );
    let ref_online = online_summary(&reference_dir);
    assert!(ref_online["train_batch_acc"].is_f64(), "{ref_online}");

    // kill -9 while best.safetensors of the last epoch is being written (slowed writes): the
    // epoch's rows are logged, the temporary best file is this process's.
    let out = root.join("killed_in_best");
    let mut child = pretrain_cmd(&cfg, &out, false, root)
        .env("SELFSUP_FAULT_WRITE_DELAY_MS", "400")
        .spawn()
        .unwrap();
    let pid = child.id();
    let epochs_logged = |out: &Path| {
        std::fs::read_to_string(out.join("metrics.jsonl"))
            .map(|t| {
                t.lines()
                    .filter(|l| l.contains("\"kind\":\"epoch\""))
                    .count()
            })
            .unwrap_or(0)
    };
    let own_best_tmp = format!(".best.safetensors.tmp-{pid}");
    let hit = wait_for(&mut child, || {
        epochs_logged(&out) == 2 && out.join("checkpoints").join(&own_best_tmp).exists()
    });
    assert!(hit, "the run ended before writing the last best checkpoint");
    child.kill().unwrap();
    child.wait().unwrap();
    finish(&cfg, &out, root);
    assert_same_as_reference(&out, &refr, "kill -9 during the last best write");
    assert_eq!(
        checkpoint_step(&best(&out)),
        total,
        "the resumed run's best is not the last epoch's"
    );
    assert!(
        checkpoint_content(&best(&out)) == checkpoint_content(&best(&reference_dir)),
        "best.safetensors differs from the uninterrupted run's"
    );
    assert_eq!(
        online_summary(&out),
        ref_online,
        "the resumed run's online-probe summary differs from the uninterrupted run's"
    );

    // Resuming the finished run again (as after a kill during its final evaluation): it only
    // evaluates, and eval.json keeps the online probe's summary of the last epoch.
    let o = pretrain_cmd(&cfg, &out, true, root).output().unwrap();
    let (so, se) = text(&o);
    assert!(o.status.success(), "{so}{se}");
    assert_eq!(
        online_summary(&out),
        ref_online,
        "a resumed finished run lost the online-probe summary: {so}"
    );
    assert_same_as_reference(&out, &refr, "a resumed finished run");
}

#[test]
fn ctrl_c_during_the_final_evaluation_stops_it_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A final linear probe of a million epochs: it runs until stopped.
    let cfg = root.join("run.toml");
    std::fs::write(
        &cfg,
        RUN_TOML
            .replace("before = false", "before = false\nevery_epochs = 0")
            .replace("[eval.probe]\nepochs = 5", "[eval.probe]\nepochs = 1000000"),
    )
    .unwrap();
    let out = root.join("run");
    let w = Watched::spawn(pretrain_cmd(&cfg, &out, false, root));
    // Printed once the training returned, just before the final evaluation.
    assert!(
        w.wait_line("online linear probe (training batches of the last epoch)"),
        "the run ended before its final evaluation"
    );
    let t = Instant::now();
    signal(&w.child, "-INT");
    let o = w.finish(
        Duration::from_secs(120),
        "Ctrl-C during the final evaluation",
    );
    assert_no_crash(&o, "Ctrl-C during the final evaluation");
    let (so, se) = text(&o);
    assert!(o.status.success(), "{so}{se}");
    assert!(
        so.contains("interrupted during the final evaluation") && so.contains("--resume"),
        "it does not say it stopped: {so}{se}"
    );
    assert!(
        !out.join("eval.json").exists(),
        "an interrupted evaluation wrote eval.json"
    );
    assert!(temp_files(&out).is_empty(), "leaked {:?}", temp_files(&out));
    eprintln!(
        "the final evaluation stopped {:.1} s after SIGINT",
        t.elapsed().as_secs_f64()
    );
}

#[test]
fn bad_files_skipped_by_the_evaluation_loaders_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    // train/ and val/ class folders; a truncated JPEG only in val/: pretraining never reads it.
    let data = dir.path().join("data");
    for split in ["train", "val"] {
        for (c, k) in [("cat", 40u8), ("dog", 200u8)] {
            let d = data.join(split).join(c);
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..6u32 {
                image::RgbImage::from_fn(12, 12, |x, y| {
                    image::Rgb([k.wrapping_add((x * 7 + y * 13 + i) as u8), k, 9])
                })
                .save(d.join(format!("{i}.png")))
                .unwrap();
            }
        }
    }
    let big =
        image::RgbImage::from_fn(48, 48, |x, y| image::Rgb([(x * 5) as u8, (y * 3) as u8, 7]));
    let mut jpeg = Vec::new();
    big.write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    std::fs::write(
        data.join("val/cat/held_out_truncated.jpg"),
        &jpeg[..jpeg.len() / 2],
    )
    .unwrap();
    let o = selfsup(
        &[
            "pretrain",
            "--dataset",
            "image-folder",
            "--data",
            data.to_str().unwrap(),
            "--recipe",
            "simclr",
            "--backbone",
            "conv_net",
            "--batch-size",
            "4",
            "--epochs",
            "1",
            "--bad-files",
            "skip",
            "--out",
            "run",
        ],
        dir.path(),
    );
    let (so, se) = text(&o);
    assert!(o.status.success(), "{so}{se}");
    assert!(
        so.contains("the evaluations skipped 1 bad file(s)")
            && so.contains("held_out_truncated.jpg"),
        "the held-out bad file is not reported at the end: {so}"
    );
    assert!(
        !so.contains("skipped 1 reads"),
        "the training loader read a held-out file: {so}"
    );
}
